import { describe, expect, test } from "bun:test";
import { Bus } from "./bus.ts";
import { type FinishRequest, SifiveTest } from "./sifive-test.ts";

function make() {
  const finishes: FinishRequest[] = [];
  const dev = new SifiveTest({ onFinish: (r) => finishes.push(r) });
  return { dev, finishes };
}

describe("sifive,test finisher", () => {
  test("0x5555 is pass, 0x3333 | code << 16 is fail with the code, 0x7777 is reset", () => {
    const { dev, finishes } = make();
    dev.write(0, 4, 0x5555);
    dev.write(0, 4, (42 << 16) | 0x3333);
    dev.write(0, 4, (0xffff << 16) | 0x3333);
    dev.write(0, 4, 0x7777);
    expect(finishes).toEqual([
      { action: "pass", code: 0 },
      { action: "fail", code: 42 },
      { action: "fail", code: 0xffff },
      { action: "reset", code: 0 },
    ]);
    expect(dev.stats.finishes).toBe(4);
    expect(dev.lastRequest).toEqual({ action: "reset", code: 0 });
  });

  test("a 16-bit store of the status works with code 0; other values and offsets are ignored and counted", () => {
    const { dev, finishes } = make();
    dev.write(0, 2, 0x3333);
    dev.write(0, 4, 0x1234);
    dev.write(4, 4, 0x5555);
    dev.write(0, 1, 0x55);
    expect(finishes).toEqual([{ action: "fail", code: 0 }]);
    expect(dev.stats.badAccesses).toBe(3);
    expect(dev.read(0, 4)).toBe(0);
  });

  test("through the bus: an 8-byte store acts on its low word", () => {
    const { dev, finishes } = make();
    const bus = new Bus("mmio");
    bus.insert(0x10_0000, dev.windowSize, dev);
    bus.write(0x10_0000, 8, (7n << 16n) | 0x3333n);
    expect(finishes).toEqual([{ action: "fail", code: 7 }]);
  });

  test("snapshot keeps the last request", () => {
    const { dev } = make();
    dev.write(0, 4, 0x5555);
    const other = make().dev;
    other.restore(JSON.parse(JSON.stringify(dev.snapshot())));
    expect(other.lastRequest).toEqual({ action: "pass", code: 0 });
  });
});
