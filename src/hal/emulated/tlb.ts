/**
 * The software TLB. Direct-mapped, 4 KiB granularity, with separate read, write and execute arrays so a hit is
 * one tag compare that already implies the permission (the notes' "read/write/exec tags").
 *
 * An entry maps a virtual page to host storage: `view` is the RAM block's DataView and `delta` is added to the
 * virtual address to get the offset in that view. Tags are page-aligned virtual addresses as doubles (exact for
 * every canonical Sv39/Sv48 address); an empty entry holds NaN, which compares unequal to everything.
 *
 * The hart keeps one TlbSet per translation context (see `contextIndex` in hart.ts: privilege, V and SUM), so
 * traps and SUM toggles switch sets instead of flushing. A set is flushed when what it caches can change:
 * satp/vsatp/hgatp writes, SFENCE.VMA, HFENCE.*, MXR changes, memory-map changes.
 *
 * Write entries are only filled for pages whose PTE already has D set (the walk sets it for a store) and that
 * hold no decoded code, so a fast-path store never needs to check either.
 */

import type { CodePage, MemBlock } from "./phys-memory.ts";

export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

const EMPTY_VIEW = new DataView(new ArrayBuffer(8));

export class TlbSet {
  readonly rtag = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly rdelta = new Float64Array(TLB_SIZE);
  readonly rview: DataView[] = new Array<DataView>(TLB_SIZE).fill(EMPTY_VIEW);
  /** Physical page of each read entry (LR's reservation is physical). */
  readonly rpage = new Float64Array(TLB_SIZE);

  readonly wtag = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly wdelta = new Float64Array(TLB_SIZE);
  readonly wview: DataView[] = new Array<DataView>(TLB_SIZE).fill(EMPTY_VIEW);
  /** Physical page of each write entry (to drop it when the page becomes code). */
  readonly wpage = new Float64Array(TLB_SIZE);

  readonly xtag = new Float64Array(TLB_SIZE).fill(Number.NaN);
  readonly xdelta = new Float64Array(TLB_SIZE);
  readonly xview: DataView[] = new Array<DataView>(TLB_SIZE).fill(EMPTY_VIEW);
  /** Physical page of each execute entry. */
  readonly xpage = new Float64Array(TLB_SIZE);
  readonly xblock: (MemBlock | undefined)[] = new Array<MemBlock | undefined>(TLB_SIZE).fill(undefined);
  readonly xcode: (CodePage | undefined)[] = new Array<CodePage | undefined>(TLB_SIZE).fill(undefined);

  /** Size of the leaf page behind each entry (0 for 4 KiB leaves), for address-selective flushes. */
  readonly rspan = new Float64Array(TLB_SIZE);
  readonly wspan = new Float64Array(TLB_SIZE);
  readonly xspan = new Float64Array(TLB_SIZE);
  /** Whether an entry from a superpage may be present (then a selective flush must look at `superSlots`). */
  superpages = false;
  /** Indices that have held a superpage entry since the last full flush (each once), so SFENCE.VMA with an
   * address looks at those instead of scanning the whole TLB. */
  readonly superSlots: number[] = [];
  readonly #inSuperSlots = new Uint8Array(TLB_SIZE);

  /** Entry `i` (read, write or execute) now comes from a superpage. */
  noteSuperpage(i: number): void {
    this.superpages = true;
    if (this.#inSuperSlots[i] === 0) {
      this.#inSuperSlots[i] = 1;
      this.superSlots.push(i);
    }
  }

  flush(): void {
    this.superpages = false;
    for (const i of this.superSlots) this.#inSuperSlots[i] = 0;
    this.superSlots.length = 0;
    this.rtag.fill(Number.NaN);
    this.wtag.fill(Number.NaN);
    this.xtag.fill(Number.NaN);
    this.xcode.fill(undefined);
    this.xblock.fill(undefined);
  }

  /**
   * SFENCE.VMA / HFENCE.VVMA with an address: drop the entries that translate `va`, including every 4 KiB piece
   * of a superpage that contains it.
   */
  flushVa(va: number): void {
    const page = va - (va - Math.floor(va / 4096) * 4096);
    const i = (va >>> 12) & TLB_MASK;
    if (this.rtag[i] === page) this.rtag[i] = Number.NaN;
    if (this.wtag[i] === page) this.wtag[i] = Number.NaN;
    if (this.xtag[i] === page) this.xtag[i] = Number.NaN;
    if (!this.superpages) return;
    for (const j of this.superSlots) {
      dropCovering(this.rtag, this.rspan, j, va);
      dropCovering(this.wtag, this.wspan, j, va);
      dropCovering(this.xtag, this.xspan, j, va);
    }
  }

  flushRead(): void {
    this.rtag.fill(Number.NaN);
  }

  /** Drop write entries that map physical page `physPage`. */
  dropWritablePage(physPage: number): void {
    const wpage = this.wpage;
    const wtag = this.wtag;
    for (let i = 0; i < TLB_SIZE; i++) {
      if (wpage[i] === physPage) wtag[i] = Number.NaN;
    }
  }
}

/** Drop entry `i` if it comes from a superpage (span > 4 KiB) that contains `va`. */
function dropCovering(tags: Float64Array, spans: Float64Array, i: number, va: number): void {
  const span = spans[i] ?? 0;
  if (span === 0) return;
  const tag = tags[i] ?? Number.NaN;
  if (Math.floor(tag / span) === Math.floor(va / span)) tags[i] = Number.NaN;
}

export function tlbIndex(va: number): number {
  return (va >>> 12) & TLB_MASK;
}
