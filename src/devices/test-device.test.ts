import { describe, expect, test } from "bun:test";
import { Bus } from "./bus.ts";
import { DeviceError } from "./errors.ts";
import { TEST_DEVICE_SCRATCH_BASE, TestDevice, testPatternByte, testPatternValue } from "./test-device.ts";

const BASE = 0x4000_0000;

function make() {
  const dev = new TestDevice();
  const bus = new Bus("mmio");
  bus.insert(BASE, dev.windowSize, dev);
  const read = (off: number, width: 1 | 2 | 4 | 8) => {
    const r = bus.read(BASE + off, width);
    if (r.kind !== "ok") throw new Error(`read at ${off} failed: ${r.kind}`);
    return r.value;
  };
  return { dev, bus, read };
}

describe("axvisor test device", () => {
  test("the pattern is the documented formula", () => {
    expect([0, 1, 2, 0x7f, 0x7ff].map(testPatternByte)).toEqual([
      0x81,
      0x88,
      0x8f,
      (0x7f * 7 + 0x81) & 0xff,
      (0x7ff * 7 + 0x81) & 0xff,
    ]);
    expect(testPatternValue(0, 4)).toBe(0x968f_8881n);
  });

  test("pattern reads at each width, aligned and not, through the bus", () => {
    const { dev, read } = make();
    expect(read(0, 1)).toBe(0x81n);
    expect(read(0, 2)).toBe(0x8881n);
    expect(read(0, 4)).toBe(0x968f_8881n);
    expect(read(0, 8)).toBe(0xb2ab_a49d_968f_8881n);
    for (const off of [1, 3, 5, 0x100, 0x7f8]) {
      for (const w of [1, 2, 4, 8] as const) expect(read(off, w)).toBe(testPatternValue(off, w));
    }
    // 8-byte reads arrive whole (read64), never split.
    expect(dev.stats.reads[8]).toBe(6);
    expect(dev.stats.reads[4]).toBe(6);
  });

  test("scratch stores and returns any width, and writes never touch the pattern", () => {
    const { dev, bus, read } = make();
    const s = TEST_DEVICE_SCRATCH_BASE;
    bus.write(BASE + s, 8, 0x0123_4567_89ab_cdefn);
    expect(read(s, 8)).toBe(0x0123_4567_89ab_cdefn);
    expect(read(s + 1, 2)).toBe(0xabcdn);
    bus.write(BASE + s + 3, 1, 0xffn);
    expect(read(s, 4)).toBe(0xffab_cdefn);
    bus.write(BASE + s + 0x7fe, 2, 0xbeefn);
    expect(read(s + 0x7fe, 2)).toBe(0xbeefn);
    bus.write(BASE + 0x10, 4, 0n);
    expect(read(0x10, 4)).toBe(testPatternValue(0x10, 4));
    // Spanning the boundary: the scratch half of the store lands, the pattern half is dropped.
    bus.write(BASE + s - 2, 4, 0x1122_3344n);
    expect(read(s - 2, 4)).toBe((0x1122n << 16n) | testPatternValue(s - 2, 2));
    expect(dev.stats.badAccesses).toBe(2);
    expect(dev.stats.writes).toEqual({ 1: 1, 2: 1, 4: 2, 8: 1 });
  });

  test("snapshot round-trips the scratch half", () => {
    const { dev, bus } = make();
    bus.write(BASE + TEST_DEVICE_SCRATCH_BASE, 4, 0xdead_beefn);
    const other = new TestDevice();
    other.restore(dev.snapshot());
    expect(other.read(TEST_DEVICE_SCRATCH_BASE, 4)).toBe(0xdead_beef);
    expect(() => other.restore({ ...dev.snapshot(), scratch: new Uint8Array(4) })).toThrow(DeviceError);
  });
});
