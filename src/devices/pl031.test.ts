import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import {
  PL031_CR,
  PL031_DR,
  PL031_ICR,
  PL031_IMSC,
  PL031_LR,
  PL031_MIS,
  PL031_MR,
  PL031_PERIPH_ID0,
  PL031_RIS,
  Pl031,
} from "./pl031.ts";

function make(startMs = 1_700_000_000_500) {
  let now = startMs;
  const irq = new RecordingIrqLine();
  const rtc = new Pl031({ irq, clock: () => now });
  return {
    rtc,
    irq,
    advance: (ms: number) => {
      now += ms;
    },
    r: (reg: number) => rtc.read(reg, 4),
    w: (reg: number, value: number) => rtc.write(reg, 4, value),
  };
}

describe("PL031", () => {
  test("reads the clock in seconds, runs from reset, and has the AMBA ids of part 0x031", () => {
    const { r, advance } = make();
    expect(r(PL031_DR)).toBe(1_700_000_000);
    advance(1500);
    expect(r(PL031_DR)).toBe(1_700_000_002);
    expect(r(PL031_CR)).toBe(1);
    expect(Array.from({ length: 8 }, (_, i) => r(PL031_PERIPH_ID0 + 4 * i))).toEqual([
      0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1,
    ]);
  });

  test("a load sets the counter, which then keeps running from there", () => {
    const { r, w, advance } = make();
    w(PL031_LR, 1000);
    expect(r(PL031_DR)).toBe(1000);
    advance(2000);
    expect(r(PL031_DR)).toBe(1002);
  });

  test("the match raises RIS once it is reached; the line follows the mask; ICR clears it", () => {
    const { rtc, r, w, irq, advance } = make();
    w(PL031_LR, 100);
    w(PL031_MR, 103);
    w(PL031_IMSC, 1);
    expect(rtc.nextMatchMs()).toBeDefined();
    advance(2000);
    rtc.tick();
    expect(r(PL031_RIS)).toBe(0);
    advance(1500);
    rtc.tick();
    expect(r(PL031_RIS)).toBe(1);
    expect(r(PL031_MIS)).toBe(1);
    expect(irq.level).toBe(true);
    expect(rtc.nextMatchMs()).toBeUndefined();
    w(PL031_ICR, 1);
    expect(irq.level).toBe(false);
    // Passing the match is one event: it does not come back while the counter stays past it.
    advance(5000);
    rtc.tick();
    expect(r(PL031_RIS)).toBe(0);
  });

  test("sub-word and out-of-window accesses are counted and ignored", () => {
    const { rtc } = make();
    expect(rtc.read(PL031_DR, 1)).toBe(0);
    rtc.write(PL031_MR + 2, 4, 5);
    expect(rtc.read(0x2000, 4)).toBe(0);
    expect(rtc.stats.badAccesses).toBe(3);
  });

  test("snapshot and restore keep the offset, match and interrupt state", () => {
    const a = make();
    a.w(PL031_LR, 42);
    a.w(PL031_MR, 7);
    a.w(PL031_IMSC, 1);
    const b = make();
    b.rtc.restore({ ...a.rtc.snapshot(), ris: 1 });
    expect(b.r(PL031_DR)).toBe(42);
    expect(b.r(PL031_MR)).toBe(7);
    expect(b.irq.level).toBe(true);
  });
});
