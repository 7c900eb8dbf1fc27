/**
 * A VM's guest-physical address space (axaddrspace's `AddrSpace`): the memory regions, the host memory behind
 * them, the stage-2 translation (a nested page table we build, or the backend's memory slots) and the
 * `GuestMemory` through which the VMM, loaders and devices reach guest RAM.
 *
 * Mapping types (axvisor's `VmMemMappingType`):
 * - "alloc": fresh host memory backs the region (the usual case).
 * - "identical": the guest-physical address equals the host-physical one. The emulated backend places the host
 *   block at that address; backends that cannot choose host placement (KVM, HVF) back it with ordinary host
 *   memory, which the guest cannot tell apart.
 * - "reserved": mapped like "identical", but the region is not general-purpose RAM for the guest: machines
 *   describe it as reserved (device tree /reserved-memory, e820 reserved) so the kernel leaves it alone.
 */

import { hex, hexRange } from "../common/format.ts";
import { isAligned, rangeFits, rangesOverlap } from "../common/ranges.ts";
import type {
  GuestPhysAddr,
  HalVm,
  HostMemory,
  HostPhysAddr,
  MappingFlagBits,
  Stage2Mode,
  Stage2Table,
} from "../hal/types.ts";
import { HalError, MAX_HOST_MEMORY_BLOCK } from "../hal/types.ts";
import { PAGE_SIZE_4K } from "./addr.ts";
import { GuestMemory, type GuestMemoryRegion } from "./guest-memory.ts";
import { NestedPageTable } from "./nested-page-table.ts";

export type MapType = "alloc" | "identical" | "reserved";

export interface MemoryRegionSpec {
  readonly name: string;
  readonly gpa: GuestPhysAddr;
  readonly size: number;
  readonly flags: MappingFlagBits;
  readonly mapType: MapType;
}

export interface MappedRegion extends MemoryRegionSpec {
  readonly host: HostMemory;
}

export type AddrSpaceErrorKind = "invalid-region" | "overlap" | "backend";

export class AddrSpaceError extends Error {
  override readonly name = "AddrSpaceError";
  readonly kind: AddrSpaceErrorKind;
  readonly region: string;
  constructor(kind: AddrSpaceErrorKind, region: string, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.kind = kind;
    this.region = region;
  }
}

export interface AddrSpaceOptions {
  /** G-stage format when the VMM builds the nested page table. Default "sv39x4". */
  readonly gstageMode?: Stage2Mode;
  /**
   * Register the regions as the backend's physical map too (bare-machine VMs, where the hart itself runs in M-mode
   * over guest-physical addresses). Always done for "memory-slots" backends.
   */
  readonly physicalMap?: boolean;
}

/** Check a region list: page-aligned, non-empty, no overflow, no overlap. Returns the regions sorted. */
function validateRegions(regions: readonly MemoryRegionSpec[]): MemoryRegionSpec[] {
  const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
  for (const [i, region] of sorted.entries()) {
    if (region.size === 0 || !rangeFits(region.gpa, region.size)) {
      throw new AddrSpaceError(
        "invalid-region",
        region.name,
        `Cannot map region "${region.name}" at ${hex(region.gpa)}: size ${hex(region.size)} is empty or overflows`,
      );
    }
    if (!isAligned(region.gpa, PAGE_SIZE_4K) || !isAligned(region.size, PAGE_SIZE_4K)) {
      throw new AddrSpaceError(
        "invalid-region",
        region.name,
        `Cannot map region "${region.name}" ${hexRange(region.gpa, region.size)}: start and size must be 4 KiB aligned`,
      );
    }
    const previous = sorted[i - 1];
    if (previous !== undefined && rangesOverlap(previous.gpa, previous.size, region.gpa, region.size)) {
      throw new AddrSpaceError(
        "overlap",
        region.name,
        `Cannot map region "${region.name}" at ${hex(region.gpa)}: overlaps "${previous.name}" (${hexRange(previous.gpa, previous.size)})`,
      );
    }
  }
  return sorted;
}

export class AddrSpace {
  readonly regions: readonly MappedRegion[];
  readonly guestMemory: GuestMemory;
  /** The nested page table, for "nested-page-table" backends. */
  readonly pageTable: NestedPageTable | undefined;

  private constructor(regions: MappedRegion[], pageTable: NestedPageTable | undefined) {
    this.regions = regions;
    this.pageTable = pageTable;
    this.guestMemory = new GuestMemory(
      regions.map(
        (r): GuestMemoryRegion => ({ name: r.name, gpa: r.gpa, bytes: r.host.bytes, host: r.host, hostOffset: 0 }),
      ),
    );
  }

  /** Allocate host memory for every region and install the stage-2 translation. */
  static create(vm: HalVm, specs: readonly MemoryRegionSpec[], options: AddrSpaceOptions = {}): AddrSpace {
    const sorted = validateRegions(specs).flatMap(splitIntoBlocks);
    const pageTable =
      vm.stage2 === "nested-page-table"
        ? wrapBackend(
            "page-table",
            () => new NestedPageTable(options.gstageMode ?? "sv39x4", (size, o) => vm.allocateMemory(size, o)),
          )
        : undefined;
    const mapped: MappedRegion[] = [];
    for (const spec of sorted) {
      const host = wrapBackend(spec.name, () => allocateFor(vm, spec));
      if (pageTable !== undefined) {
        wrapBackend(spec.name, () => pageTable.map(spec.gpa, host.hostPhysAddr, spec.size, spec.flags));
      }
      if (vm.stage2 === "memory-slots" || options.physicalMap === true) {
        wrapBackend(spec.name, () => vm.mapGuestMemory(spec.gpa, host, spec.flags));
      }
      mapped.push({ ...spec, host });
    }
    return new AddrSpace(mapped, pageTable);
  }

  /**
   * The nested page table (hgatp root and mode) for the vCPUs, or undefined when the backend translates itself:
   * one value, so the mode the table was built in is the mode the vCPUs walk it in.
   */
  stage2(): Stage2Table | undefined {
    const table = this.pageTable;
    return table === undefined ? undefined : { root: table.root, mode: table.mode };
  }

  /** The region containing `gpa`, or undefined. */
  regionOf(gpa: GuestPhysAddr): MappedRegion | undefined {
    return this.regions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }

  /** Guest-physical to host-physical translation (axaddrspace `translate`). */
  translate(gpa: GuestPhysAddr): HostPhysAddr | undefined {
    const region = this.regionOf(gpa);
    return region === undefined ? undefined : region.host.hostPhysAddr + (gpa - region.gpa);
  }

  /**
   * Host views covering [gpa, gpa + size), one per region crossed (axvm's `get_image_load_region`: a scatter
   * list a loader copies an image into). Throws when any byte is not guest memory.
   */
  getImageLoadRegion(gpa: GuestPhysAddr, size: number): Uint8Array[] {
    if (!this.guestMemory.contains(gpa, size)) {
      throw new AddrSpaceError(
        "invalid-region",
        "image",
        `Cannot load ${size} bytes at ${hex(gpa)}: ${hexRange(gpa, size)} is not entirely guest memory`,
      );
    }
    const views: Uint8Array[] = [];
    let at = gpa;
    while (at < gpa + size) {
      const region = this.regionOf(at);
      if (region === undefined) break;
      const offset = at - region.gpa;
      const chunk = Math.min(gpa + size - at, region.size - offset);
      views.push(region.host.bytes.subarray(offset, offset + chunk));
      at += chunk;
    }
    return views;
  }
}

/**
 * A region larger than one host memory block (`MAX_HOST_MEMORY_BLOCK`) becomes consecutive regions of at most a
 * block each ("ram0.0", "ram0.1", ...): guest memory accesses may cross regions, so the guest sees one RAM.
 */
export function splitIntoBlocks(spec: MemoryRegionSpec): MemoryRegionSpec[] {
  if (spec.size <= MAX_HOST_MEMORY_BLOCK) return [spec];
  const parts: MemoryRegionSpec[] = [];
  for (let offset = 0; offset < spec.size; offset += MAX_HOST_MEMORY_BLOCK) {
    parts.push({
      ...spec,
      name: `${spec.name}.${parts.length}`,
      gpa: spec.gpa + offset,
      size: Math.min(MAX_HOST_MEMORY_BLOCK, spec.size - offset),
    });
  }
  return parts;
}

function allocateFor(vm: HalVm, spec: MemoryRegionSpec): HostMemory {
  if (spec.mapType === "alloc") return vm.allocateMemory(spec.size);
  try {
    return vm.allocateMemory(spec.size, { hostPhysAddr: spec.gpa });
  } catch (error) {
    // Backends that cannot place host memory at a chosen address still give the guest the same view.
    if (error instanceof HalError && error.kind === "unsupported") return vm.allocateMemory(spec.size);
    throw error;
  }
}

function wrapBackend<T>(region: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof AddrSpaceError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new AddrSpaceError("backend", region, `Cannot map region "${region}": ${detail}`, { cause: error });
  }
}
