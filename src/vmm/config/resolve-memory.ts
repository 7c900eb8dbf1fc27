/**
 * `kernel.memory_regions`: each region checked on its own (size, page alignment, range), then against the others
 * (overlaps); and the guest RAM they make, which the boot files and the devices are checked against.
 */

import { PAGE_SIZE_4K } from "../../addrspace/addr.ts";
import { formatSize, hex, hexRange } from "../../common/format.ts";
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
  for (const [a, b] of overlappingPairs(regions, (r) => ({ start: r.gpa, size: r.size, order: r.index }))) {
    issues.list.push({
      path: `kernel.memory_regions[${a.index}]`,
      value: hexRange(a.gpa, a.size),
      problem: `overlaps kernel.memory_regions[${b.index}] (${hexRange(b.gpa, b.size)})`,
    });
  }
  const memoryRegions: MemoryRegionConfig[] = regions
    .map(({ gpa, size, flags, mapType }) => ({ gpa, size, flags, mapType }))
    .sort((a, b) => a.gpa - b.gpa);
  return { regions, memoryRegions, ram: new GuestRam(memoryRegions) };
}

/**
 * Overlapping ranges in O(n log n) (50,000 memory regions took 6.8 s pairwise): sort by start, sweep, and compare
 * each range with the one reaching furthest among those that start before it (if it overlaps any of them, it
 * overlaps that one). So every range that overlaps another is in at least one pair, with at most one pair per
 * range swept (n at most, however the ranges pile up); a pair is `[later, earlier]` in config order (`order`),
 * the pairs sorted by the later one.
 */
export function overlappingPairs<T>(
  items: readonly T[],
  range: (item: T) => { readonly start: number; readonly size: number; readonly order: number },
): Array<[T, T]> {
  const sorted = items.map((item) => ({ item, ...range(item) })).sort((a, b) => a.start - b.start || a.order - b.order);
  const pairs: Array<{ later: (typeof sorted)[number]; earlier: (typeof sorted)[number] }> = [];
  let reach: (typeof sorted)[number] | undefined;
  for (const current of sorted) {
    if (reach !== undefined && current.start < reach.start + reach.size) {
      const [later, earlier] = current.order > reach.order ? [current, reach] : [reach, current];
      pairs.push({ later, earlier });
    }
    if (reach === undefined || current.start + current.size > reach.start + reach.size) reach = current;
  }
  return pairs
    .sort((a, b) => a.later.order - b.later.order || a.earlier.order - b.earlier.order)
    .map(({ later, earlier }) => [later.item, earlier.item]);
}

/** How many RAM spans a message lists before it just counts the rest. */
const MAX_SPANS_SHOWN = 8;

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
    // The spans are sorted and disjoint: the only candidate is the last one starting at or below `start`.
    let low = 0;
    let high = this.#spans.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const span = this.#spans[mid];
      if (span === undefined) return false;
      if (span.start <= start) low = mid + 1;
      else high = mid - 1;
    }
    const span = this.#spans[high];
    return span !== undefined && start + length <= span.start + span.size;
  }

  /** "RAM is 0x80000000..0x87ffffff" for messages (the first few spans of a long list, and how many there are). */
  describe(): string {
    if (this.#spans.length === 0) return "no RAM is configured";
    const shown = this.#spans.slice(0, MAX_SPANS_SHOWN).map((r) => hexRange(r.start, r.size));
    const more = this.#spans.length - shown.length;
    return `RAM is ${shown.join(", ")}${more > 0 ? ` and ${more} more spans` : ""}`;
  }

  /** A problem at `key` unless `what` ([addr, addr + size)) lies in RAM. */
  check(issues: Issues, key: string, addr: number, size: number | undefined, what: string): void {
    if (!this.contains(addr, size ?? 0)) {
      const extent = size === undefined || size === 0 ? "" : ` (${what} ${hexRange(addr, size)}, ${formatSize(size)})`;
      issues.add(key, addr, `outside RAM${extent}: ${this.describe()}`);
    }
  }
}
