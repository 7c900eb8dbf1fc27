/**
 * A RISC-V G-stage (nested) page table, Sv39x4 or Sv48x4, built in host memory allocated from the backend.
 *
 * This is what axaddrspace's `NestedPageTable` is on RISC-V: the VMM builds it, the hart (our emulated backend,
 * or real hardware) walks it from hgatp. Format (privileged spec, "Two-Stage Address Translation"):
 * - Sv39x4: 41-bit guest-physical addresses; the root table is 16 KiB (2048 entries, indexed by GPA[40:30]) and
 *   16 KiB aligned; then GPA[29:21] and GPA[20:12]. Leaves may sit at every level (1 GiB, 2 MiB, 4 KiB).
 * - Sv48x4: 50-bit GPAs; root indexed by GPA[49:39] (2048 entries), then [38:30], [29:21], [20:12].
 * - PTE bits: V R W X U G A D, PPN at bit 10. G-stage leaves must have U = 1 (every guest access counts as a
 *   user access for this stage). We set A and D up front so the hart never needs to update or fault on them.
 */

import {
  ATP_ID_SHIFT,
  ATP_MODE_SHIFT,
  GSTAGE_ROOT_ENTRIES,
  GSTAGE_ROOT_SIZE,
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  PTE_A,
  PTE_D,
  PTE_PPN_SHIFT,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
  PTES_PER_TABLE,
  SV39_LEVELS,
  SV39X4_GPA_BITS,
  SV48_LEVELS,
  SV48X4_GPA_BITS,
  VMID_BITS,
} from "../arch/riscv64/paging.ts";
import { hex, hexRange } from "../common/format.ts";
import { isAligned, rangeFits } from "../common/ranges.ts";
import { TWO_POW_32 } from "../common/u64.ts";
import type { HostMemory, HostPhysAddr, MappingFlagBits, Stage2Mode } from "../hal/types.ts";
import { MappingFlags } from "../hal/types.ts";
import { PAGE_SIZE_4K } from "./addr.ts";

const LEVELS: Record<Stage2Mode, number> = { sv39x4: SV39_LEVELS, sv48x4: SV48_LEVELS };
/** GPA width in bits. */
export const GSTAGE_GPA_BITS: Record<Stage2Mode, number> = { sv39x4: SV39X4_GPA_BITS, sv48x4: SV48X4_GPA_BITS };

export type PageTableErrorKind = "invalid-argument" | "already-mapped" | "not-mapped" | "out-of-memory";

export class PageTableError extends Error {
  override readonly name = "PageTableError";
  readonly kind: PageTableErrorKind;
  readonly gpa: number;
  constructor(kind: PageTableErrorKind, message: string, gpa: number) {
    super(message);
    this.kind = kind;
    this.gpa = gpa;
  }
}

/** Supplies host memory for table pages (the HAL VM's `allocateMemory`). */
export type HostMemoryAllocator = (size: number, options: { alignment: number }) => HostMemory;

export interface WalkResult {
  readonly hpa: HostPhysAddr;
  /** Size of the leaf page that maps the address. */
  readonly pageSize: number;
  readonly flags: MappingFlagBits;
  /** Level of the leaf (0 = 4 KiB). */
  readonly level: number;
}

/** Size of one leaf at each level: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
function levelPageSize(level: number): number {
  return 2 ** (12 + 9 * level);
}

function mappingFlagsToPte(flags: MappingFlagBits): number {
  let pte = PTE_V | PTE_U | PTE_A | PTE_D;
  if (flags & MappingFlags.READ) pte |= PTE_R;
  if (flags & MappingFlags.WRITE) pte |= PTE_W;
  if (flags & MappingFlags.EXECUTE) pte |= PTE_X;
  return pte;
}

function pteToMappingFlags(pte: number): MappingFlagBits {
  let flags = 0;
  if (pte & PTE_R) flags |= MappingFlags.READ;
  if (pte & PTE_W) flags |= MappingFlags.WRITE;
  if (pte & PTE_X) flags |= MappingFlags.EXECUTE;
  if (pte & PTE_U) flags |= MappingFlags.USER;
  return flags;
}

/** Pool of 4 KiB table frames carved out of larger host-memory blocks. */
class FramePool {
  readonly #allocate: HostMemoryAllocator;
  readonly #frames = new Map<HostPhysAddr, DataView>();
  #current: HostMemory | undefined;
  #used = 0;
  static readonly BLOCK_SIZE = 64 * PAGE_SIZE_4K;

  constructor(allocate: HostMemoryAllocator) {
    this.#allocate = allocate;
  }

  /** A zeroed, dedicated block (the 16 KiB root). */
  allocateBlock(size: number, alignment: number): HostPhysAddr {
    const block = this.#allocate(size, { alignment });
    this.#register(block, 0, size);
    return block.hostPhysAddr;
  }

  allocateFrame(): HostPhysAddr {
    if (this.#current === undefined || this.#used + PAGE_SIZE_4K > this.#current.bytes.length) {
      this.#current = this.#allocate(FramePool.BLOCK_SIZE, { alignment: PAGE_SIZE_4K });
      this.#used = 0;
    }
    const offset = this.#used;
    this.#used += PAGE_SIZE_4K;
    this.#register(this.#current, offset, PAGE_SIZE_4K);
    return this.#current.hostPhysAddr + offset;
  }

  #register(block: HostMemory, offset: number, size: number): void {
    for (let at = offset; at < offset + size; at += PAGE_SIZE_4K) {
      this.#frames.set(
        block.hostPhysAddr + at,
        new DataView(block.bytes.buffer, block.bytes.byteOffset + at, PAGE_SIZE_4K),
      );
    }
  }

  frame(hpa: HostPhysAddr): DataView | undefined {
    return this.#frames.get(hpa);
  }

  get frameCount(): number {
    return this.#frames.size;
  }
}

export class NestedPageTable {
  readonly mode: Stage2Mode;
  readonly #pool: FramePool;
  readonly #root: HostPhysAddr;
  readonly #levels: number;

  constructor(mode: Stage2Mode, allocate: HostMemoryAllocator) {
    this.mode = mode;
    this.#levels = LEVELS[mode];
    this.#pool = new FramePool(allocate);
    this.#root = this.#pool.allocateBlock(GSTAGE_ROOT_SIZE, GSTAGE_ROOT_SIZE);
    if (!isAligned(this.#root, GSTAGE_ROOT_SIZE)) {
      throw new PageTableError(
        "invalid-argument",
        `Cannot create ${mode} table: root ${hex(this.#root)} is not 16 KiB aligned`,
        0,
      );
    }
  }

  /** Host-physical address of the root table (what hgatp.PPN points at). */
  get root(): HostPhysAddr {
    return this.#root;
  }

  /** The hgatp value for this table with the given VMID. */
  hgatp(vmid: number): bigint {
    const mode = this.mode === "sv39x4" ? HGATP_MODE_SV39X4 : HGATP_MODE_SV48X4;
    const vmidField = BigInt(vmid & ((1 << VMID_BITS) - 1));
    return (
      (BigInt(mode) << BigInt(ATP_MODE_SHIFT)) | (vmidField << BigInt(ATP_ID_SHIFT)) | BigInt(this.#root / PAGE_SIZE_4K)
    );
  }

  /** Number of 4 KiB frames used by the table (root counts as 4). */
  get frameCount(): number {
    return this.#pool.frameCount;
  }

  /**
   * Map [gpa, gpa + size) to [hpa, hpa + size) with the largest leaves alignment allows. Fails without changing
   * anything visible if any page in the range is already mapped.
   */
  map(gpa: number, hpa: HostPhysAddr, size: number, flags: MappingFlagBits): void {
    this.#checkRange("map", gpa, size);
    if (!isAligned(hpa, PAGE_SIZE_4K) || !rangeFits(hpa, size)) {
      throw new PageTableError(
        "invalid-argument",
        `Cannot map ${hexRange(gpa, size)}: host address ${hex(hpa)} is not 4 KiB aligned or overflows`,
        gpa,
      );
    }
    if ((flags & (MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE)) === 0) {
      throw new PageTableError(
        "invalid-argument",
        `Cannot map ${hexRange(gpa, size)}: no access permission in flags ${hex(flags)}`,
        gpa,
      );
    }
    if ((flags & MappingFlags.WRITE) !== 0 && (flags & MappingFlags.READ) === 0) {
      throw new PageTableError(
        "invalid-argument",
        `Cannot map ${hexRange(gpa, size)}: write without read is a reserved PTE encoding`,
        gpa,
      );
    }
    for (let at = gpa; at < gpa + size; ) {
      const probe = this.#probe(at);
      if (probe.mapped) {
        throw new PageTableError(
          "already-mapped",
          `Cannot map ${hexRange(gpa, size)}: ${hex(at)} is already mapped to ${hex(probe.hpa)}`,
          at,
        );
      }
      at = probe.holeEnd;
    }
    const pteFlags = mappingFlagsToPte(flags);
    let offset = 0;
    while (offset < size) {
      const g = gpa + offset;
      const h = hpa + offset;
      const remaining = size - offset;
      let level = 0;
      for (const candidate of [2, 1]) {
        const pageSize = levelPageSize(candidate);
        if (isAligned(g, pageSize) && isAligned(h, pageSize) && remaining >= pageSize) {
          level = candidate;
          break;
        }
      }
      this.#setLeaf(g, h, level, pteFlags);
      offset += levelPageSize(level);
    }
  }

  /** Remove the mappings of [gpa, gpa + size); superpages partly inside are split first. */
  unmap(gpa: number, size: number): void {
    this.#checkRange("unmap", gpa, size);
    for (let at = gpa; at < gpa + size; ) {
      const probe = this.#probe(at);
      if (!probe.mapped)
        throw new PageTableError("not-mapped", `Cannot unmap ${hexRange(gpa, size)}: ${hex(at)} is not mapped`, at);
      at = probe.leafEnd;
    }
    let at = gpa;
    while (at < gpa + size) {
      const leaf = this.#findLeaf(at);
      if (leaf === undefined) throw new PageTableError("not-mapped", `Cannot unmap ${hex(at)}: not mapped`, at);
      const pageSize = levelPageSize(leaf.level);
      const pageStart = at - (at % pageSize);
      if (pageStart === at && at + pageSize <= gpa + size) {
        writePte(leaf.table, leaf.index, 0);
        at += pageSize;
      } else {
        this.#split(leaf.table, leaf.index, leaf.level);
      }
    }
  }

  /** Translate `gpa` by walking the table in host memory, as the hart does. */
  walk(gpa: number): WalkResult | undefined {
    const leaf = this.#findLeaf(gpa);
    if (leaf === undefined) return undefined;
    const pte = readPte(leaf.table, leaf.index);
    const pageSize = levelPageSize(leaf.level);
    const base = Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K;
    return { hpa: base + (gpa % pageSize), pageSize, flags: pteToMappingFlags(pte), level: leaf.level };
  }

  #checkRange(action: string, gpa: number, size: number): void {
    const limit = 2 ** GSTAGE_GPA_BITS[this.mode];
    if (
      !isAligned(gpa, PAGE_SIZE_4K) ||
      !isAligned(size, PAGE_SIZE_4K) ||
      size === 0 ||
      !rangeFits(gpa, size) ||
      gpa + size > limit
    ) {
      throw new PageTableError(
        "invalid-argument",
        `Cannot ${action} ${hexRange(gpa, size)}: must be 4 KiB aligned, non-empty and below ${hex(limit)} (${this.mode})`,
        gpa,
      );
    }
  }

  /** Index into the table at `level` for `gpa`. */
  #index(gpa: number, level: number): number {
    const entries = level === this.#levels - 1 ? GSTAGE_ROOT_ENTRIES : PTES_PER_TABLE;
    return Math.floor(gpa / 2 ** (12 + 9 * level)) % entries;
  }

  #table(hpa: HostPhysAddr, level: number): DataView {
    const frame = this.#pool.frame(hpa);
    if (frame === undefined)
      throw new PageTableError("invalid-argument", `Page table frame ${hex(hpa)} is not ours`, 0);
    if (level === this.#levels - 1) {
      // The root spans four frames; view all 16 KiB.
      return new DataView(frame.buffer, frame.byteOffset, GSTAGE_ROOT_SIZE);
    }
    return frame;
  }

  /**
   * What covers `gpa`: a leaf (with the end of its page) or a hole (with the end of the largest unmapped range the
   * walk proved empty), so range checks step by whole tables instead of by 4 KiB pages.
   */
  #probe(gpa: number): { mapped: true; hpa: HostPhysAddr; leafEnd: number } | { mapped: false; holeEnd: number } {
    let tableHpa = this.#root;
    for (let level = this.#levels - 1; level >= 0; level--) {
      const table = this.#table(tableHpa, level);
      const pte = readPte(table, this.#index(gpa, level));
      const span = levelPageSize(level);
      const end = gpa - (gpa % span) + span;
      if ((pte & PTE_V) === 0) return { mapped: false, holeEnd: end };
      if ((pte & (PTE_R | PTE_W | PTE_X)) !== 0) {
        return { mapped: true, hpa: Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K + (gpa % span), leafEnd: end };
      }
      tableHpa = Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K;
    }
    return { mapped: false, holeEnd: gpa - (gpa % PAGE_SIZE_4K) + PAGE_SIZE_4K };
  }

  #findLeaf(gpa: number): { table: DataView; index: number; level: number } | undefined {
    if (gpa < 0 || gpa >= 2 ** GSTAGE_GPA_BITS[this.mode]) return undefined;
    let tableHpa = this.#root;
    for (let level = this.#levels - 1; level >= 0; level--) {
      const table = this.#table(tableHpa, level);
      const index = this.#index(gpa, level);
      const pte = readPte(table, index);
      if ((pte & PTE_V) === 0) return undefined;
      if ((pte & (PTE_R | PTE_W | PTE_X)) !== 0) return { table, index, level };
      tableHpa = Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K;
    }
    return undefined;
  }

  #setLeaf(gpa: number, hpa: HostPhysAddr, leafLevel: number, pteFlags: number): void {
    let tableHpa = this.#root;
    for (let level = this.#levels - 1; level > leafLevel; level--) {
      const table = this.#table(tableHpa, level);
      const index = this.#index(gpa, level);
      const pte = readPte(table, index);
      if ((pte & PTE_V) === 0) {
        const next = this.#pool.allocateFrame();
        writePte(table, index, (next / PAGE_SIZE_4K) * 2 ** PTE_PPN_SHIFT + PTE_V);
        tableHpa = next;
      } else {
        tableHpa = Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K;
      }
    }
    const table = this.#table(tableHpa, leafLevel);
    writePte(table, this.#index(gpa, leafLevel), (hpa / PAGE_SIZE_4K) * 2 ** PTE_PPN_SHIFT + pteFlags);
  }

  /** Replace a superpage leaf by a table of 512 next-level leaves with the same translation. */
  #split(table: DataView, index: number, level: number): void {
    const pte = readPte(table, index);
    const flags = pte % 2 ** PTE_PPN_SHIFT;
    const base = Math.floor(pte / 2 ** PTE_PPN_SHIFT) * PAGE_SIZE_4K;
    const child = this.#pool.allocateFrame();
    const childTable = this.#table(child, level - 1);
    const childSize = levelPageSize(level - 1);
    for (let i = 0; i < PTES_PER_TABLE; i++) {
      writePte(childTable, i, ((base + i * childSize) / PAGE_SIZE_4K) * 2 ** PTE_PPN_SHIFT + flags);
    }
    writePte(table, index, (child / PAGE_SIZE_4K) * 2 ** PTE_PPN_SHIFT + PTE_V);
  }
}

function readPte(table: DataView, index: number): number {
  return table.getUint32(index * 8 + 4, true) * TWO_POW_32 + table.getUint32(index * 8, true);
}

function writePte(table: DataView, index: number, value: number): void {
  table.setUint32(index * 8, value % TWO_POW_32, true);
  table.setUint32(index * 8 + 4, Math.floor(value / TWO_POW_32), true);
}
