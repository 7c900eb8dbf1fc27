import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { DeviceError } from "./errors.ts";
import {
  CR_LBE,
  FR_RXFE,
  FR_RXFF,
  FR_TXFE,
  FR_TXFF,
  INT_OE,
  INT_RT,
  INT_RX,
  INT_TX,
  LCR_H_FEN,
  PL011_CR,
  PL011_DR,
  PL011_FR,
  PL011_ICR,
  PL011_IFLS,
  PL011_IMSC,
  PL011_LCR_H,
  PL011_MIS,
  PL011_PERIPH_ID0,
  PL011_RIS,
  PL011_RSR,
  Pl011,
} from "./pl011.ts";

function make() {
  const out: number[] = [];
  const irq = new RecordingIrqLine();
  let spaceCalls = 0;
  const uart = new Pl011({ sink: (b) => out.push(...b), irq, onInputSpace: () => spaceCalls++ });
  const r = (reg: number) => uart.read(reg, 4);
  const w = (reg: number, value: number) => uart.write(reg, 4, value);
  return { uart, irq, out, r, w, spaceCalls: () => spaceCalls };
}

const text = (s: string) => new TextEncoder().encode(s);

describe("PL011", () => {
  test("the AMBA ids read as part 0x011 by Arm, PrimeCell 0xb105f00d", () => {
    const { r } = make();
    const ids = Array.from({ length: 8 }, (_, i) => r(PL011_PERIPH_ID0 + 4 * i));
    expect(ids).toEqual([0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
  });

  test("reset: TX FIFO empty, RX empty, no interrupt; DR writes reach the sink and raise TXRIS", () => {
    const { r, w, out, irq, uart } = make();
    expect(r(PL011_FR) & (FR_TXFE | FR_RXFE | FR_TXFF | FR_RXFF)).toBe(FR_TXFE | FR_RXFE);
    expect(r(PL011_RIS)).toBe(0);
    for (const b of text("ok\n")) w(PL011_DR, b);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("ok\n");
    expect(uart.stats.txBytes).toBe(3);
    expect(r(PL011_RIS) & INT_TX).toBe(INT_TX);
    // Masked: the line stays low until TXIM is set; ICR clears the latched TX status.
    expect(irq.level).toBe(false);
    w(PL011_IMSC, INT_TX);
    expect(irq.level).toBe(true);
    expect(r(PL011_MIS)).toBe(INT_TX);
    w(PL011_ICR, INT_TX);
    expect(irq.level).toBe(false);
    expect(irq.changes()).toEqual([true, false]);
  });

  test("RX without FIFO: one character, RXRIS while it waits, RXFF then; reading it drains and asks for more", () => {
    const { r, w, uart, irq, spaceCalls } = make();
    w(PL011_IMSC, INT_RX | INT_RT);
    expect(uart.enqueueInput(text("ab"))).toBe(1);
    expect(r(PL011_FR) & (FR_RXFF | FR_RXFE)).toBe(FR_RXFF);
    expect(r(PL011_RIS) & (INT_RX | INT_RT)).toBe(INT_RX);
    expect(irq.level).toBe(true);
    expect(r(PL011_DR)).toBe(0x61);
    expect(spaceCalls()).toBe(1);
    expect(irq.level).toBe(false);
    expect(r(PL011_FR) & FR_RXFE).toBe(FR_RXFE);
    expect(r(PL011_DR)).toBe(0);
  });

  test("RX with the FIFO: RXRIS at the IFLS level, the receive timeout below it", () => {
    const { r, w, uart } = make();
    w(PL011_LCR_H, LCR_H_FEN);
    w(PL011_IFLS, 0); // RX level 1/8 = 4 characters
    expect(uart.enqueueInput(text("abc"))).toBe(3);
    expect(r(PL011_RIS) & (INT_RX | INT_RT)).toBe(INT_RT);
    uart.enqueueInput(text("d"));
    expect(r(PL011_RIS) & (INT_RX | INT_RT)).toBe(INT_RX);
    expect(uart.enqueueInput(new Uint8Array(40))).toBe(28);
    expect(r(PL011_FR) & FR_RXFF).toBe(FR_RXFF);
    let drained = 0;
    while ((r(PL011_FR) & FR_RXFE) === 0) {
      r(PL011_DR);
      drained++;
    }
    expect(drained).toBe(32);
    expect(r(PL011_RIS) & (INT_RX | INT_RT)).toBe(0);
  });

  test("loopback: transmitted bytes are received; a full receiver overruns (OE in RIS, DR and RSR)", () => {
    const { r, w, out, uart } = make();
    w(PL011_CR, r(PL011_CR) | CR_LBE);
    expect(uart.enqueueInput(text("x"))).toBe(0); // the serial input is disconnected in loopback
    w(PL011_DR, 0x41);
    w(PL011_DR, 0x42); // no FIFO: overrun
    expect(out).toEqual([]);
    expect(uart.stats.overruns).toBe(1);
    expect(r(PL011_RIS) & INT_OE).toBe(INT_OE);
    expect(r(PL011_DR)).toBe(0x41 | (1 << 11));
    expect(r(PL011_RSR)).toBe(1 << 3);
    w(PL011_RSR, 0);
    expect(r(PL011_RSR)).toBe(0);
  });

  test("bad accesses are counted and harmless; byte reads see the low bits", () => {
    const { uart, r } = make();
    expect(uart.read(PL011_FR + 1, 1)).toBe(0);
    expect(uart.read(0x1000, 4)).toBe(0);
    uart.write(PL011_FR, 4, 0xff);
    expect(r(0x900)).toBe(0);
    expect(uart.stats.badAccesses).toBe(4);
    expect(uart.read(PL011_FR, 1)).toBe(r(PL011_FR) & 0xff);
  });

  test("snapshot and restore keep the FIFO and the line level; a bad state is refused", () => {
    const a = make();
    a.w(PL011_LCR_H, LCR_H_FEN);
    a.w(PL011_IMSC, INT_RT);
    a.uart.enqueueInput(text("hi"));
    const state = a.uart.snapshot();
    const b = make();
    b.uart.restore(state);
    expect(b.irq.level).toBe(true);
    expect(b.r(PL011_DR)).toBe(0x68);
    expect(b.r(PL011_DR)).toBe(0x69);
    expect(() => b.uart.restore({ ...state, lcrH: 0 })).toThrow(DeviceError);
  });
});
