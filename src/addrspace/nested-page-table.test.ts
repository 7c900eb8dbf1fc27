import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FakeHostMemoryAllocator } from "../../test/support/fake-host-memory.ts";
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "../arch/riscv64/paging.ts";
import { MappingFlags } from "../hal/types.ts";
import { NestedPageTable, PageTableError } from "./nested-page-table.ts";

const RWX = MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE;

/** Independent walker over raw bytes, written from the spec, to check the builder's output format. */
function specWalk(
  alloc: FakeHostMemoryAllocator,
  root: number,
  levels: number,
  gpa: number,
): { hpa: number; pte: number; level: number } | undefined {
  const readU64 = (hpa: number): number => {
    const block = alloc.blocks.find((b) => hpa >= b.hostPhysAddr && hpa < b.hostPhysAddr + b.bytes.length);
    if (block === undefined) throw new Error(`walk left table memory at ${hpa.toString(16)}`);
    const view = new DataView(block.bytes.buffer, block.bytes.byteOffset);
    const off = hpa - block.hostPhysAddr;
    return view.getUint32(off + 4, true) * 2 ** 32 + view.getUint32(off, true);
  };
  let table = root;
  for (let level = levels - 1; level >= 0; level--) {
    const bits = level === levels - 1 ? 11 : 9;
    const index = Math.floor(gpa / 2 ** (12 + 9 * level)) % 2 ** bits;
    const pte = readU64(table + index * 8);
    if ((pte & PTE_V) === 0) return undefined;
    const ppnBase = Math.floor(pte / 1024) * 4096;
    if ((pte & (PTE_R | PTE_W | PTE_X)) !== 0) {
      const size = 2 ** (12 + 9 * level);
      expect(ppnBase % size).toBe(0); // no misaligned superpages
      return { hpa: ppnBase + (gpa % size), pte, level };
    }
    table = ppnBase;
  }
  return undefined;
}

describe("NestedPageTable", () => {
  test("root is a 16 KiB aligned 16 KiB table and hgatp encodes mode, VMID and PPN", () => {
    const alloc = new FakeHostMemoryAllocator(0x10_0000_1000);
    const table = new NestedPageTable("sv39x4", alloc.allocate);
    expect(table.root % 0x4000).toBe(0);
    expect(table.hgatp(5)).toBe((8n << 60n) | (5n << 44n) | BigInt(table.root / 4096));
    const table48 = new NestedPageTable("sv48x4", alloc.allocate);
    expect(table48.hgatp(0) >> 60n).toBe(9n);
  });

  test("maps RAM with the largest leaves and G-stage leaf bits (U, A, D)", () => {
    const alloc = new FakeHostMemoryAllocator();
    const table = new NestedPageTable("sv39x4", alloc.allocate);
    const host = alloc.allocate(0x4000_0000 + 0x20_0000 + 0x3000, { alignment: 0x4000_0000 });
    table.map(0x8000_0000, host.hostPhysAddr, host.bytes.length, RWX);
    const gig = specWalk(alloc, table.root, 3, 0x8000_0123);
    expect(gig?.level).toBe(2);
    expect(gig?.hpa).toBe(host.hostPhysAddr + 0x123);
    expect(specWalk(alloc, table.root, 3, 0xc000_0000 + 0x10)?.level).toBe(1);
    expect(specWalk(alloc, table.root, 3, 0xc020_2fff)?.level).toBe(0);
    expect(specWalk(alloc, table.root, 3, 0xc020_3000)).toBeUndefined();
    const pte = gig?.pte ?? 0;
    for (const bit of [PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D]) expect(pte & bit).toBe(bit);
  });

  test("read-only and execute-only mappings keep their permissions; bad flags are rejected", () => {
    const alloc = new FakeHostMemoryAllocator();
    const table = new NestedPageTable("sv48x4", alloc.allocate);
    const host = alloc.allocate(0x2000);
    table.map(0x1000, host.hostPhysAddr, 0x1000, MappingFlags.READ);
    table.map(0x2000, host.hostPhysAddr + 0x1000, 0x1000, MappingFlags.EXECUTE);
    expect(table.walk(0x1000)?.flags).toBe(MappingFlags.READ | MappingFlags.USER);
    expect(table.walk(0x2abc)?.flags).toBe(MappingFlags.EXECUTE | MappingFlags.USER);
    expect(() => table.map(0x3000, host.hostPhysAddr, 0x1000, MappingFlags.WRITE)).toThrow("write without read");
    expect(() => table.map(0x3000, host.hostPhysAddr, 0x1000, 0)).toThrow("no access permission");
  });

  test("rejects overlap, misalignment and addresses beyond the GPA width", () => {
    const alloc = new FakeHostMemoryAllocator();
    const table = new NestedPageTable("sv39x4", alloc.allocate);
    const host = alloc.allocate(0x10000);
    table.map(0x8000_0000, host.hostPhysAddr, 0x10000, RWX);
    expect(() => table.map(0x8000_f000, host.hostPhysAddr, 0x2000, RWX)).toThrow("0x8000f000 is already mapped");
    expect(() => table.map(0x123, host.hostPhysAddr, 0x1000, RWX)).toThrow(PageTableError);
    expect(() => table.map(2 ** 41, host.hostPhysAddr, 0x1000, RWX)).toThrow("below 0x20000000000 (sv39x4)");
  });

  test("overlap checks find a single mapped page inside a large, mostly empty range", () => {
    const alloc = new FakeHostMemoryAllocator();
    const table = new NestedPageTable("sv48x4", alloc.allocate);
    const host = alloc.allocate(0x1000);
    table.map(0x1_4050_3000, host.hostPhysAddr, 0x1000, RWX);
    expect(() => table.map(0x1_0000_0000, 0x40_0000_0000, 0x1_0000_0000, RWX)).toThrow("0x140503000 is already mapped");
    expect(() => table.unmap(0x1_4050_2000, 0x2000)).toThrow("0x140502000 is not mapped");
    table.unmap(0x1_4050_3000, 0x1000);
    table.map(0x1_0000_0000, 0x40_0000_0000, 0x1_0000_0000, RWX);
    expect(table.walk(0x1_4050_3000)?.hpa).toBe(0x40_4050_3000);
  });

  test("unmap splits superpages and leaves the rest mapped", () => {
    const alloc = new FakeHostMemoryAllocator();
    const table = new NestedPageTable("sv39x4", alloc.allocate);
    const host = alloc.allocate(0x4000_0000, { alignment: 0x4000_0000 });
    table.map(0x4000_0000, host.hostPhysAddr, 0x4000_0000, RWX);
    table.unmap(0x4020_1000, 0x1000);
    expect(table.walk(0x4020_1000)).toBeUndefined();
    expect(table.walk(0x4020_0fff)?.hpa).toBe(host.hostPhysAddr + 0x20_0fff);
    expect(table.walk(0x4020_2000)?.hpa).toBe(host.hostPhysAddr + 0x20_2000);
    expect(table.walk(0x4000_0000)?.level).toBe(1);
    expect(table.walk(0x7fff_f000)?.hpa).toBe(host.hostPhysAddr + 0x3fff_f000);
    expect(() => table.unmap(0x4020_1000, 0x1000)).toThrow("is not mapped");
  });

  test("property: every page of random non-overlapping mappings walks to its host address (both modes)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("sv39x4" as const, "sv48x4" as const),
        fc.array(
          fc.record({
            slot: fc.integer({ min: 0, max: 63 }),
            pages: fc.integer({ min: 1, max: 600 }),
            hostPages: fc.integer({ min: 0, max: 1000 }),
          }),
          { maxLength: 6 },
        ),
        (mode, requests) => {
          const alloc = new FakeHostMemoryAllocator();
          const table = new NestedPageTable(mode, alloc.allocate);
          const levels = mode === "sv39x4" ? 3 : 4;
          const maps: Array<{ gpa: number; hpa: number; size: number }> = [];
          const used = new Set<number>();
          for (const { slot, pages, hostPages } of requests) {
            if (used.has(slot)) continue;
            used.add(slot);
            const gpa =
              slot * 0x20_0000 * 4 + (mode === "sv48x4" ? 2 ** 45 : 2 ** 40) - 0x8000_0000 + 0x1000 * (hostPages % 3);
            const size = pages * 0x1000;
            const hpa = 0x40_0000_0000 + hostPages * 0x20_0000;
            table.map(gpa, hpa, size, RWX);
            maps.push({ gpa, hpa, size });
          }
          for (const { gpa, hpa, size } of maps) {
            for (const off of [0, size - 1, Math.floor(size / 2)]) {
              expect(specWalk(alloc, table.root, levels, gpa + off)?.hpa).toBe(hpa + off);
              expect(table.walk(gpa + off)?.hpa).toBe(hpa + off);
            }
            // Slots are 8 MiB apart and mappings at most ~2.4 MiB, so the page after each mapping is a hole.
            expect(table.walk(gpa + size)).toBeUndefined();
            expect(specWalk(alloc, table.root, levels, gpa + size)).toBeUndefined();
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
