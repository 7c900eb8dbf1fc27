import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import {
  PL061_AFSEL,
  PL061_DIR,
  PL061_IBE,
  PL061_IC,
  PL061_IE,
  PL061_IEV,
  PL061_IS,
  PL061_MIS,
  PL061_PERIPH_ID0,
  PL061_RIS,
  Pl061,
} from "./pl061.ts";

function make() {
  const irq = new RecordingIrqLine();
  const gpio = new Pl061({ irq });
  return {
    gpio,
    irq,
    r: (reg: number, width: 1 | 2 | 4 = 1) => gpio.read(reg, width),
    w: (reg: number, value: number, width: 1 | 2 | 4 = 1) => gpio.write(reg, width, value),
  };
}
/** The GPIODATA address whose bits [9:2] select `mask`. */
const data = (mask: number): number => mask << 2;

describe("PL061 GPIO", () => {
  test("ids are the PrimeCell's (AMBA id 0x00041061, as Linux's gpio-pl061 probes)", () => {
    const { r } = make();
    const ids = Array.from({ length: 8 }, (_, i) => r(PL061_PERIPH_ID0 + i * 4));
    expect(ids).toEqual([0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
  });

  test("GPIODATA: reads are masked by the address; writes change only masked output lines", () => {
    const { gpio, r, w } = make();
    w(PL061_DIR, 0x0f);
    w(data(0xff), 0xff);
    expect(r(data(0xff))).toBe(0x0f);
    w(data(0x03), 0x00);
    expect(r(data(0xff))).toBe(0x0c);
    // Inputs read the outside world; driving an output line from outside changes nothing.
    gpio.setInput(5, true);
    gpio.setInput(2, false);
    expect(r(data(0xff))).toBe(0x2c);
    expect(r(data(0x20))).toBe(0x20);
    expect(r(data(0x10))).toBe(0);
    expect(gpio.levels).toBe(0x2c);
    expect(() => gpio.setInput(8, true)).toThrow("lines 0..7");
  });

  test("observed: a changed line is unobserved until a GPIODATA read that covers it", () => {
    const { gpio, r } = make();
    expect(gpio.observed(3)).toBe(true);
    gpio.setInput(3, true);
    expect(gpio.observed(3)).toBe(false);
    r(data(0x04));
    expect(gpio.observed(3)).toBe(false);
    expect(r(data(0x08))).toBe(0x08);
    expect(gpio.observed(3)).toBe(true);
    gpio.setInput(3, true);
    expect(gpio.observed(3)).toBe(true);
  });

  test("a rising-edge interrupt latches until GPIOIC clears it; the line follows MIS", () => {
    const { gpio, irq, r, w } = make();
    w(PL061_IEV, 0x08);
    w(PL061_IE, 0x08);
    gpio.setInput(3, true);
    expect(r(PL061_RIS)).toBe(0x08);
    expect(r(PL061_MIS)).toBe(0x08);
    expect(irq.level).toBe(true);
    // The falling edge is not the enabled one; the latch stays until cleared.
    gpio.setInput(3, false);
    expect(irq.level).toBe(true);
    w(PL061_IC, 0x08);
    expect(r(PL061_RIS)).toBe(0);
    expect(irq.level).toBe(false);
    expect(irq.changes()).toEqual([true, false]);
  });

  test("both edges (what Linux's gpio-keys asks for): press and release each raise the interrupt", () => {
    const { gpio, irq, r, w } = make();
    w(PL061_IBE, 0x08);
    w(PL061_IE, 0x08);
    gpio.setInput(3, true);
    expect(irq.level).toBe(true);
    expect(r(data(0x08))).toBe(0x08);
    w(PL061_IC, 0x08);
    expect(irq.level).toBe(false);
    gpio.setInput(3, false);
    expect(irq.level).toBe(true);
    expect(r(data(0x08))).toBe(0);
    w(PL061_IC, 0xff);
    expect(irq.level).toBe(false);
  });

  test("a masked interrupt shows in RIS, not MIS, and does not raise the line until enabled", () => {
    const { gpio, irq, r, w } = make();
    w(PL061_IEV, 0x01);
    gpio.setInput(0, true);
    expect(r(PL061_RIS)).toBe(0x01);
    expect(r(PL061_MIS)).toBe(0);
    expect(irq.level).toBe(false);
    w(PL061_IE, 0x01);
    expect(irq.level).toBe(true);
  });

  test("level interrupts follow the line and cannot be cleared while it stays at the level", () => {
    const { gpio, irq, r, w } = make();
    w(PL061_IS, 0x02);
    w(PL061_IEV, 0x02);
    w(PL061_IE, 0x02);
    expect(irq.level).toBe(false);
    gpio.setInput(1, true);
    expect(irq.level).toBe(true);
    w(PL061_IC, 0x02);
    expect(r(PL061_RIS)).toBe(0x02);
    gpio.setInput(1, false);
    expect(irq.level).toBe(false);
    // Low-level sense (IEV 0): pending while low.
    w(PL061_IEV, 0);
    expect(irq.level).toBe(true);
  });

  test("registers read back; bad offsets and read-only writes are counted, never thrown", () => {
    const { gpio, r, w } = make();
    for (const [reg, value] of [
      [PL061_DIR, 0xa5],
      [PL061_IS, 0x5a],
      [PL061_IBE, 0x33],
      [PL061_IEV, 0xcc],
      [PL061_IE, 0x0f],
      [PL061_AFSEL, 0xf0],
    ] as const) {
      w(reg, value | 0x100, 4);
      expect(r(reg, 4)).toBe(value);
    }
    w(PL061_RIS, 0xff);
    w(PL061_MIS, 0xff);
    expect(r(0x401)).toBe(0);
    w(0x500, 1);
    expect(r(0x500)).toBe(0);
    expect(gpio.stats.badAccesses).toBe(5);
  });

  test("snapshot and restore keep the lines, the latches and the interrupt", () => {
    const first = make();
    first.w(PL061_IBE, 0x08);
    first.w(PL061_IE, 0x08);
    first.gpio.setInput(3, true);
    const state = first.gpio.snapshot();
    const second = make();
    second.gpio.restore(state);
    expect(second.irq.level).toBe(true);
    expect(second.r(PL061_MIS)).toBe(0x08);
    expect(second.r(data(0xff))).toBe(0x08);
    // An edge against the restored level: releasing the key latches again after a clear.
    second.w(PL061_IC, 0x08);
    second.gpio.setInput(3, false);
    expect(second.r(PL061_RIS)).toBe(0x08);
  });
});
