import { describe, expect, test } from "bun:test";
import { BootTimer, MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE } from "./boot-timer.ts";

describe("boot timer", () => {
  test("the byte 123 at offset 0 signals boot complete; anything else is counted and ignored", () => {
    let signals = 0;
    const dev = new BootTimer({ onBootComplete: () => signals++ });
    dev.write(0, 1, 122);
    dev.write(1, 1, MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE);
    dev.write(0, 4, 0x100 | MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE);
    expect(signals).toBe(0);
    dev.write(0, 1, 123);
    expect(signals).toBe(1);
    expect(dev.read(0, 1)).toBe(0);
    expect(dev.read(8, 4)).toBe(0);
    expect(dev.stats).toEqual({ badAccesses: 0, bootSignals: 1, ignoredWrites: 3, reads: 2 });
  });

  test("snapshot keeps the signal count", () => {
    const dev = new BootTimer({ onBootComplete: () => {} });
    dev.write(0, 1, 123);
    const other = new BootTimer({ onBootComplete: () => {} });
    other.restore(JSON.parse(JSON.stringify(dev.snapshot())));
    expect(other.stats.bootSignals).toBe(1);
  });
});
