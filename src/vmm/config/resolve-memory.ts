/**
 * `kernel.memory_regions`: each region checked on its own (size, page alignment, range), then against the others
 * (overlaps); and the guest RAM they make, which the boot files and the devices are checked against.
 */

import { PAGE_SIZE_4K } from "../../addrspace/addr.ts";
import { formatSize, hex, hexRange } from "../../common/format.ts";
import { rangesOverlap } from "../../common/ranges.ts";
import type { Issues } from "./resolve-context.ts";
import type { RawVmConfig } from "./schema.ts";
import { GUEST_PHYS_LIMIT, type MemoryRegionConfig } from "./types.ts";

/** A valid region with its position in `kernel.memory_regions`, for messages. */
export interface IndexedRegion extends MemoryRegionConfig {
  readonly index: number;
}

export interface ResolvedMemory {
  /** The valid regions, in config order. */
  readonly regions: readonly IndexedRegion[];
  /** The valid regions sorted by address (`VmConfig.memoryRegions`). */
  readonly memoryRegions: MemoryRegionConfig[];
  readonly ram: GuestRam;
}

export function resolveMemoryRegions(raw: RawVmConfig["kernel"]["memory_regions"], issues: Issues): ResolvedMemory {
  const regions: IndexedRegion[] = [];
  if (raw.length === 0) issues.add("kernel.memory_regions", undefined, "at least one memory region is needed");
  raw.forEach((r, index) => {
    const path = `kernel.memory_regions[${index}]`;
    let ok = true;
    if (r.size === 0) {
      issues.add(`${path}`, r.gpa, "has size 0");
      ok = false;
    }
    if (r.gpa % PAGE_SIZE_4K !== 0 || r.size % PAGE_SIZE_4K !== 0) {
      issues.list.push({
        path,
        value: `[${hex(r.gpa)}, ${hex(r.size)}]`,
        problem: `gpa and size must be multiples of the 4 KiB page size (${hex(PAGE_SIZE_4K)})`,
      });
      ok = false;
    }
    if (r.gpa + r.size > GUEST_PHYS_LIMIT) {
      issues.list.push({ path, value: `[${hex(r.gpa)}, ${hex(r.size)}]`, problem: "ends beyond 2^53" });
      ok = false;
    }
    if (ok) regions.push({ gpa: r.gpa, size: r.size, flags: r.flags, mapType: r.map_type, index });
  });
  for (let i = 0; i < regions.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = regions[i];
      const b = regions[j];
      if (a === undefined || b === undefined) continue;
      if (rangesOverlap(a.gpa, a.size, b.gpa, b.size)) {
        issues.list.push({
          path: `kernel.memory_regions[${a.index}]`,
          value: hexRange(a.gpa, a.size),
          problem: `overlaps kernel.memory_regions[${b.index}] (${hexRange(b.gpa, b.size)})`,
        });
      }
    }
  }
  const memoryRegions: MemoryRegionConfig[] = regions
    .map(({ gpa, size, flags, mapType }) => ({ gpa, size, flags, mapType }))
    .sort((a, b) => a.gpa - b.gpa);
  return { regions, memoryRegions, ram: new GuestRam(memoryRegions) };
}

/** The RAM the guest has: memory regions merged where they touch, so an image may span adjacent regions. */
export class GuestRam {
  readonly #spans: { start: number; size: number }[] = [];

  constructor(regions: readonly MemoryRegionConfig[]) {
    for (const region of [...regions].sort((a, b) => a.gpa - b.gpa)) {
      const last = this.#spans[this.#spans.length - 1];
      if (last !== undefined && region.gpa <= last.start + last.size) {
        last.size = Math.max(last.size, region.gpa + region.size - last.start);
      } else this.#spans.push({ start: region.gpa, size: region.size });
    }
  }

  /** Whether [start, start + size) lies inside one RAM span (size 0 checks just the address). */
  contains(start: number, size: number): boolean {
    const length = Math.max(size, 1);
    return this.#spans.some((r) => start >= r.start && start + length <= r.start + r.size);
  }

  /** "RAM is 0x80000000..0x87ffffff" for messages. */
  describe(): string {
    if (this.#spans.length === 0) return "no RAM is configured";
    return `RAM is ${this.#spans.map((r) => hexRange(r.start, r.size)).join(", ")}`;
  }

  /** A problem at `key` unless `what` ([addr, addr + size)) lies in RAM. */
  check(issues: Issues, key: string, addr: number, size: number | undefined, what: string): void {
    if (!this.contains(addr, size ?? 0)) {
      const extent = size === undefined || size === 0 ? "" : ` (${what} ${hexRange(addr, size)}, ${formatSize(size)})`;
      issues.add(key, addr, `outside RAM${extent}: ${this.describe()}`);
    }
  }
}
