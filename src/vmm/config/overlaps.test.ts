/**
 * The config's overlap checks are a sort and a sweep (issue 9, item 18: 50,000 regions took 6.8 s pairwise).
 * Against the pairwise definition: every reported pair overlaps, and every range that overlaps another is part of
 * a reported pair; and for the config as a whole, the same regions and device windows are named as before.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { rangesOverlap } from "../../common/ranges.ts";
import { ConfigError } from "./errors.ts";
import { parseVmConfig } from "./parse.ts";
import { type DeviceWindow, overlappingWindows } from "./resolve-devices.ts";
import { overlappingPairs } from "./resolve-memory.ts";

interface Range {
  readonly start: number;
  readonly size: number;
  readonly order: number;
}

const ranges = fc
  .array(fc.record({ start: fc.integer({ min: 0, max: 64 }), size: fc.integer({ min: 1, max: 16 }) }), {
    maxLength: 40,
  })
  .map((list) => list.map((r, order): Range => ({ ...r, order })));

describe("overlappingPairs (sort and sweep)", () => {
  test("reports exactly the ranges that overlap another, each pair really overlapping, later one first", () => {
    fc.assert(
      fc.property(ranges, (list) => {
        const pairs = overlappingPairs(list, (r) => r);
        for (const [later, earlier] of pairs) {
          expect(rangesOverlap(later.start, later.size, earlier.start, earlier.size)).toBe(true);
          expect(later.order).toBeGreaterThan(earlier.order);
        }
        const reported = new Set(pairs.flat().map((r) => r.order));
        const overlapping = new Set(
          list
            .filter((a) => list.some((b) => a !== b && rangesOverlap(a.start, a.size, b.start, b.size)))
            .map((r) => r.order),
        );
        expect(reported).toEqual(overlapping);
        // One pair at most per range swept: the output stays linear however the ranges pile up.
        expect(pairs.length).toBeLessThanOrEqual(list.length);
      }),
    );
  });
});

describe("overlappingWindows (devices: passthrough windows may repeat each other)", () => {
  const windows = fc
    .array(
      fc.record({
        start: fc.integer({ min: 0, max: 64 }),
        size: fc.integer({ min: 1, max: 16 }),
        emulated: fc.boolean(),
      }),
      { maxLength: 40 },
    )
    .map((list) => list.map((w, order): DeviceWindow => ({ ...w, order, path: `w${order}` })));

  test("every pair has an emulated window and overlaps; every emulated window in a conflict is named", () => {
    fc.assert(
      fc.property(windows, (list) => {
        const pairs = overlappingWindows(list);
        for (const [later, earlier] of pairs) {
          expect(rangesOverlap(later.start, later.size, earlier.start, earlier.size)).toBe(true);
          expect(later.emulated || earlier.emulated).toBe(true);
          expect(later.order).toBeGreaterThan(earlier.order);
        }
        const named = new Set(pairs.flat().map((w) => w.order));
        const conflicts = (a: DeviceWindow): boolean =>
          list.some((b) => a !== b && (a.emulated || b.emulated) && rangesOverlap(a.start, a.size, b.start, b.size));
        for (const w of list) if (w.emulated && conflicts(w)) expect(named.has(w.order)).toBe(true);
        // And a config with a conflict never passes.
        expect(pairs.length > 0).toBe(list.some(conflicts));
      }),
    );
  });
});

function problems(text: string): string[] {
  try {
    parseVmConfig(text, { baseDir: "/", sourceName: "t.toml", checkFiles: false });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.path}: ${i.problem}`);
  }
}

const config = (regions: string, devices = ""): string =>
  [
    "[base]",
    'id = 1\nname = "t"\ncpu_num = 1\narch = "riscv64"',
    "[kernel]",
    'kernel_path = "k.bin"\nkernel_load_addr = 0x8000_0000',
    `memory_regions = [${regions}]`,
    "[devices]",
    devices,
  ].join("\n");

describe("overlaps in a config", () => {
  test("a region overlapping several is reported; so is each later region that overlaps one before it", () => {
    const found = problems(
      config(
        "[0x8000_0000, 0x100_0000, 7, 0], [0x8080_0000, 0x1000, 7, 0], [0x8090_0000, 0x1000, 7, 0], [0x9000_0000, 0x1000, 7, 0]",
      ),
    );
    expect(found).toEqual([
      "kernel.memory_regions[1]: overlaps kernel.memory_regions[0] (0x80000000..0x80ffffff)",
      "kernel.memory_regions[2]: overlaps kernel.memory_regions[0] (0x80000000..0x80ffffff)",
    ]);
  });

  test("passthrough windows may repeat one another; an emulated device may overlap neither", () => {
    const found = problems(
      config(
        "[0x8000_0000, 0x100_0000, 7, 0]",
        [
          'emu_devices = [["uart", 0x1000_0000, 0x100, 1, 2, []]]',
          "passthrough_addresses = [[0x2000_0000, 0x1000], [0x1000_0080, 0x10]]",
          'passthrough_devices = [["dev", 0x2000_0000, 0x2000_0000, 0x1000, 3]]',
        ].join("\n"),
      ),
    );
    expect(found).toEqual([
      "devices.passthrough_addresses[1]: 0x10000080..0x1000008f overlaps devices.emu_devices[0] (0x10000000..0x100000ff)",
    ]);
  });
});
