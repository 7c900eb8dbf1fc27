/**
 * The software TLB. Direct-mapped, 4 KiB granularity, with separate read, write and execute arrays so a hit is
 * one tag compare that already implies the permission (the notes' "read/write/exec tags").
 *
 * An entry maps a virtual page to host storage: `view` is the RAM block's DataView, plus what turns the virtual
 * address into the offset in that view (see `TlbSet` for the two tag formats).
 *
 * The hart keeps one TlbSet per translation context (see `contextIndex` in hart.ts: privilege, V and SUM), so
 * traps and SUM toggles switch sets instead of flushing. A set is flushed when what it caches can change:
 * satp/vsatp/hgatp writes, SFENCE.VMA, HFENCE.*, MXR changes, memory-map changes.
 *
 * Write entries are only filled for pages whose PTE already has D set (the walk sets it for a store) and that
 * hold no decoded code, so a fast-path store never needs to check either.
 */

import { LEVEL_BITS, PAGE_SHIFT } from "../../arch/riscv64/paging.ts";
import type { Arena } from "./arena.ts";
import type { CodePage, MemBlock } from "./phys-memory.ts";
import { TWO_POW_32 } from "./split64.ts";

/**
 * 2048 entries per context. With 1024, a Linux boot's data accesses conflicted (kernel data 4 MiB apart):
 * 12.1k read and 4.8k write misses, 21k walks; with 2048: 2.8k, 3.2k and 7.9k (4096 gives the same).
 */
export const TLB_BITS = 11;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

const EMPTY_VIEW = new DataView(new ArrayBuffer(8));

/**
 * The WebAssembly tier's copy of a set's read and write entries, in the arena (byte offsets from `wasmBase`):
 * per entry an i64 tag (the page's virtual address; TAG_EMPTY in the low word when empty) and an i32 that turns
 * the address's low word into the arena address (`wrap(va) + add`). Only entries whose RAM is in the arena are
 * filled here; the compiled code's probe is the interpreter's (`va & (-4096 | (width - 1))` against the tag).
 */
export const WASM_TLB_READ_TAG = 0;
export const WASM_TLB_READ_ADD = TLB_SIZE * 8;
export const WASM_TLB_WRITE_TAG = TLB_SIZE * 12;
export const WASM_TLB_WRITE_ADD = TLB_SIZE * 20;
/**
 * The execute entries' copy, for regions that chain to the next region inside WebAssembly (wasm/compile.ts):
 * per entry an i64 tag (the page's virtual address; TAG_EMPTY when empty) and an i32, the arena offset of the
 * physical page's region record (its entry map and region slot, wasm/compile.ts), 0 when it has none yet.
 */
export const WASM_TLB_EXEC_TAG = TLB_SIZE * 24;
export const WASM_TLB_EXEC_RECORD = TLB_SIZE * 32;
/**
 * And per execute entry an i32, the arena offset of the physical page's decode cache (`CodePage.arenaBase`), 0
 * when it is not in the arena: how the WebAssembly interpreter (wasm/interp-module.ts) goes on into the next page.
 */
export const WASM_TLB_EXEC_CODE = TLB_SIZE * 36;
/**
 * And the physical page of each read and write entry (f64): `rpage` and `wpage` themselves, where the WebAssembly
 * interpreter finds LR's and SC's physical address (the reservation is physical).
 */
export const WASM_TLB_READ_PAGE = TLB_SIZE * 40;
export const WASM_TLB_WRITE_PAGE = TLB_SIZE * 48;
export const WASM_TLB_BYTES = TLB_SIZE * 56;
/** Int32 indexes of the four arrays in `TlbSet.wasm`. */
const W_RTAG = WASM_TLB_READ_TAG / 4;
const W_RADD = WASM_TLB_READ_ADD / 4;
const W_WTAG = WASM_TLB_WRITE_TAG / 4;
const W_WADD = WASM_TLB_WRITE_ADD / 4;
const W_XTAG = WASM_TLB_EXEC_TAG / 4;
const W_XREC = WASM_TLB_EXEC_RECORD / 4;
const W_XCODE = WASM_TLB_EXEC_CODE / 4;

/**
 * The low-word tag of an empty read/write entry. A probe masks the address's low word with
 * `-4096 | (width - 1)`, which clears bits 3..11, so a tag with bit 11 set matches nothing.
 */
export const TAG_EMPTY = 0x800;

/**
 * One translation context's TLB.
 *
 * Read and write entries are tagged by the page's virtual address as two int32 words (`rlo`/`rhi`,
 * `wlo`/`whi`), and `roff`/`woff` turn the address's low word into the offset in the RAM view
 * (`(lo + roff[i]) | 0`), so the interpreter's hit path is int32 arithmetic only. A probe for an access of
 * `width` bytes compares `lo & (-4096 | (width - 1))` with the low tag, which also requires natural alignment
 * (misaligned accesses take the slow path, which performs them). Execute entries are tagged with the page
 * address as a double (`xtag`, NaN when empty): the pc is a double anyway.
 */
export class TlbSet {
  /** Arena offset of this set's WebAssembly copy (WASM_TLB_*), or -1 when the hart has no arena. */
  readonly wasmBase: number;
  /** That copy as int32 words (an empty array when there is none). */
  readonly wasm: Int32Array;

  constructor(arena?: Arena) {
    const base = arena?.allocate(WASM_TLB_BYTES, 64);
    if (arena === undefined || base === undefined) {
      this.wasmBase = -1;
      this.wasm = new Int32Array(0);
      this.rpage = new Float64Array(TLB_SIZE);
      this.wpage = new Float64Array(TLB_SIZE);
    } else {
      this.wasmBase = base;
      this.wasm = new Int32Array(arena.buffer, base, WASM_TLB_BYTES / 4);
      this.rpage = new Float64Array(arena.buffer, base + WASM_TLB_READ_PAGE, TLB_SIZE);
      this.wpage = new Float64Array(arena.buffer, base + WASM_TLB_WRITE_PAGE, TLB_SIZE);
      this.#emptyWasm();
    }
  }

  readonly rlo = new Int32Array(TLB_SIZE).fill(TAG_EMPTY);
  readonly rhi = new Int32Array(TLB_SIZE);
  readonly roff = new Int32Array(TLB_SIZE);
  readonly rview: DataView[] = new Array<DataView>(TLB_SIZE).fill(EMPTY_VIEW);
  /** Physical page of each read entry (LR's reservation is physical); in the arena when the set has a copy there. */
  readonly rpage: Float64Array;

  readonly wlo = new Int32Array(TLB_SIZE).fill(TAG_EMPTY);
  readonly whi = new Int32Array(TLB_SIZE);
  readonly woff = new Int32Array(TLB_SIZE);
  readonly wview: DataView[] = new Array<DataView>(TLB_SIZE).fill(EMPTY_VIEW);
  /** Physical page of each write entry (to drop it when the page becomes code, and SC's address), as `rpage`. */
  readonly wpage: Float64Array;

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
  /** Whether an entry from a superpage may be present (then a selective flush must look them up). */
  superpages = false;
  /**
   * Slots filled from each superpage (by the superpage's base address), so SFENCE.VMA with an address finds
   * the entries of the superpages containing it without scanning the TLB.
   */
  readonly #superSlots = new SlotIndex();
  /** Write slots by physical page, so a page that becomes code loses its write entries without a scan. */
  readonly #writeSlots = new SlotIndex();

  /** Fill the read entry for the page of `va` (page offset `pageOff`) at offset `viewOff` of `view`. */
  fillRead(
    va: number,
    pageOff: number,
    view: DataView,
    viewOff: number,
    physPage: number,
    span: number,
    arenaBase = -1,
  ): void {
    const i = (va >>> 12) & TLB_MASK;
    const vpage = va - pageOff;
    this.rlo[i] = vpage | 0;
    this.rhi[i] = Math.floor(vpage / TWO_POW_32) | 0;
    if (this.wasmBase >= 0) {
      const w = this.wasm;
      if (arenaBase >= 0) {
        w[W_RTAG + 2 * i] = vpage | 0;
        w[W_RTAG + 2 * i + 1] = Math.floor(vpage / TWO_POW_32) | 0;
        w[W_RADD + i] = (arenaBase + viewOff - pageOff - vpage) | 0;
      } else w[W_RTAG + 2 * i] = TAG_EMPTY;
    }
    this.roff[i] = (viewOff - pageOff - vpage) | 0;
    this.rview[i] = view;
    this.rpage[i] = physPage;
    this.rspan[i] = span > 4096 ? span : 0;
    if (span > 4096) this.noteSuperpage(i, va, span);
  }

  /** Fill the write entry for the page of `va`, as `fillRead`. */
  fillWrite(
    va: number,
    pageOff: number,
    view: DataView,
    viewOff: number,
    physPage: number,
    span: number,
    arenaBase = -1,
  ): void {
    const i = (va >>> 12) & TLB_MASK;
    const vpage = va - pageOff;
    this.wlo[i] = vpage | 0;
    this.whi[i] = Math.floor(vpage / TWO_POW_32) | 0;
    if (this.wasmBase >= 0) {
      const w = this.wasm;
      if (arenaBase >= 0) {
        w[W_WTAG + 2 * i] = vpage | 0;
        w[W_WTAG + 2 * i + 1] = Math.floor(vpage / TWO_POW_32) | 0;
        w[W_WADD + i] = (arenaBase + viewOff - pageOff - vpage) | 0;
      } else w[W_WTAG + 2 * i] = TAG_EMPTY;
    }
    this.woff[i] = (viewOff - pageOff - vpage) | 0;
    this.wview[i] = view;
    this.wpage[i] = physPage;
    this.wspan[i] = span > 4096 ? span : 0;
    if (span > 4096) this.noteSuperpage(i, va, span);
    if (this.#writeSlots.add(physPage, i)) this.#rebuildWriteSlots();
  }

  /** Entry `i` (read, write or execute) now comes from the superpage of `span` bytes that contains `va`. */
  noteSuperpage(i: number, va: number, span: number): void {
    this.superpages = true;
    if (this.#superSlots.add(Math.floor(va / span) * span, i)) this.#rebuildSuperSlots();
  }

  flush(): void {
    this.superpages = false;
    this.#superSlots.clear();
    this.#writeSlots.clear();
    this.rlo.fill(TAG_EMPTY);
    this.wlo.fill(TAG_EMPTY);
    this.xtag.fill(Number.NaN);
    this.xcode.fill(undefined);
    this.xblock.fill(undefined);
    if (this.wasmBase >= 0) this.#emptyWasm();
  }

  #emptyWasm(): void {
    const w = this.wasm;
    for (let i = 0; i < TLB_SIZE; i++) {
      w[W_RTAG + 2 * i] = TAG_EMPTY;
      w[W_WTAG + 2 * i] = TAG_EMPTY;
      w[W_XTAG + 2 * i] = TAG_EMPTY;
    }
  }

  /**
   * Set the WebAssembly copy of execute entry `i` (which maps the page at `vpage`) to the page's region record
   * (`code.entryMapBase`, none yet when -1) and decode cache. Only call it with what `xtag[i]`/`xcode[i]` hold.
   */
  setWasmExec(i: number, vpage: number, code: CodePage): void {
    if (this.wasmBase < 0) return;
    const w = this.wasm;
    w[W_XTAG + 2 * i] = vpage | 0;
    w[W_XTAG + 2 * i + 1] = Math.floor(vpage / TWO_POW_32) | 0;
    w[W_XREC + i] = code.entryMapBase < 0 ? 0 : code.entryMapBase;
    w[W_XCODE + i] = code.arenaBase < 0 ? 0 : code.arenaBase;
  }

  /** The region record offset execute entry `i`'s WebAssembly copy holds (0 when none). */
  wasmExecRecord(i: number): number {
    return this.wasmBase < 0 ? 0 : (this.wasm[W_XREC + i] ?? 0);
  }

  /** Empty execute entry `i` (and its WebAssembly copy). */
  dropExec(i: number): void {
    this.xtag[i] = Number.NaN;
    if (this.wasmBase >= 0) this.wasm[W_XTAG + 2 * i] = TAG_EMPTY;
  }

  /** Empty read entry `i` (and its WebAssembly copy). */
  dropRead(i: number): void {
    this.rlo[i] = TAG_EMPTY;
    if (this.wasmBase >= 0) this.wasm[W_RTAG + 2 * i] = TAG_EMPTY;
  }

  /** Empty write entry `i` (and its WebAssembly copy). */
  dropWrite(i: number): void {
    this.wlo[i] = TAG_EMPTY;
    if (this.wasmBase >= 0) this.wasm[W_WTAG + 2 * i] = TAG_EMPTY;
  }

  /**
   * SFENCE.VMA / HFENCE.VVMA with an address: drop the entries that translate `va`, including every 4 KiB piece
   * of a superpage that contains it.
   */
  flushVa(va: number): void {
    const page = va - (va - Math.floor(va / 4096) * 4096);
    const lo = page | 0;
    const hi = Math.floor(page / TWO_POW_32) | 0;
    const i = (va >>> 12) & TLB_MASK;
    if (this.rlo[i] === lo && this.rhi[i] === hi) this.dropRead(i);
    if (this.wlo[i] === lo && this.whi[i] === hi) this.dropWrite(i);
    if (this.xtag[i] === page) this.dropExec(i);
    if (!this.superpages) return;
    for (const span of SUPERPAGE_SPANS) {
      const slots = this.#superSlots.get(Math.floor(va / span) * span);
      if (slots === undefined) continue;
      // A slot may have been refilled since: the checks look at the entry itself.
      for (const j of slots) {
        if (coversSplit(this.rlo, this.rhi, this.rspan, j, va)) this.dropRead(j);
        if (coversSplit(this.wlo, this.whi, this.wspan, j, va)) this.dropWrite(j);
        if (covers(this.xtag, this.xspan, j, va)) this.dropExec(j);
      }
    }
  }

  flushRead(): void {
    this.rlo.fill(TAG_EMPTY);
    if (this.wasmBase >= 0) for (let i = 0; i < TLB_SIZE; i++) this.wasm[W_RTAG + 2 * i] = TAG_EMPTY;
  }

  /** Drop write entries that map physical page `physPage`. */
  dropWritablePage(physPage: number): void {
    const slots = this.#writeSlots.get(physPage);
    if (slots === undefined) return;
    for (const i of slots) if (this.wpage[i] === physPage) this.dropWrite(i);
    this.#writeSlots.delete(physPage);
  }

  /** Re-index the superpage entries present (the index only grows between flushes). */
  #rebuildSuperSlots(): void {
    const index = this.#superSlots;
    index.clear();
    for (let i = 0; i < TLB_SIZE; i++) {
      const rspan = this.rspan[i] ?? 0;
      if (rspan !== 0 && this.rlo[i] !== TAG_EMPTY)
        index.add(Math.floor(splitTag(this.rlo, this.rhi, i) / rspan) * rspan, i);
      const wspan = this.wspan[i] ?? 0;
      if (wspan !== 0 && this.wlo[i] !== TAG_EMPTY)
        index.add(Math.floor(splitTag(this.wlo, this.whi, i) / wspan) * wspan, i);
      const xspan = this.xspan[i] ?? 0;
      const xtag = this.xtag[i] ?? Number.NaN;
      if (xspan !== 0 && !Number.isNaN(xtag)) index.add(Math.floor(xtag / xspan) * xspan, i);
    }
  }

  /** Re-index the write entries present. */
  #rebuildWriteSlots(): void {
    const index = this.#writeSlots;
    index.clear();
    for (let i = 0; i < TLB_SIZE; i++) if (this.wlo[i] !== TAG_EMPTY) index.add(this.wpage[i] ?? 0, i);
  }
}

/** Leaf sizes above 4 KiB in Sv39/Sv48 (levels 1..3): 2 MiB, 1 GiB, 512 GiB. */
const SUPERPAGE_SPANS: readonly number[] = [1, 2, 3].map((level) => 2 ** (PAGE_SHIFT + LEVEL_BITS * level));

/**
 * TLB slots filed under a key. Slots are not removed when their entry is overwritten (users re-check the
 * entry), so the index only grows between flushes; past a bound its owner rebuilds it from the entries.
 */
class SlotIndex {
  readonly #map = new Map<number, number[]>();
  #size = 0;

  /** File `slot` under `key`. Returns true when the index has grown past its bound and must be rebuilt. */
  add(key: number, slot: number): boolean {
    const slots = this.#map.get(key);
    if (slots === undefined) this.#map.set(key, [slot]);
    else slots.push(slot);
    return ++this.#size > 4 * TLB_SIZE;
  }

  get(key: number): readonly number[] | undefined {
    return this.#map.get(key);
  }

  delete(key: number): void {
    const slots = this.#map.get(key);
    if (slots === undefined) return;
    this.#size -= slots.length;
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
    this.#size = 0;
  }
}

/** The page address of a (low, high)-tagged entry. */
function splitTag(los: Int32Array, his: Int32Array, i: number): number {
  return (his[i] ?? 0) * TWO_POW_32 + ((los[i] ?? 0) >>> 0);
}

/** Whether entry `i` comes from a superpage (span > 4 KiB) that contains `va`. */
function covers(tags: Float64Array, spans: Float64Array, i: number, va: number): boolean {
  const span = spans[i] ?? 0;
  if (span === 0) return false;
  const tag = tags[i] ?? Number.NaN;
  return Math.floor(tag / span) === Math.floor(va / span);
}

/** Whether entry `i`, tagged by (low, high) words, comes from a superpage (span > 4 KiB) that contains `va`. */
function coversSplit(los: Int32Array, his: Int32Array, spans: Float64Array, i: number, va: number): boolean {
  const span = spans[i] ?? 0;
  if (span === 0) return false;
  const lo = los[i] ?? TAG_EMPTY;
  if (lo === TAG_EMPTY) return false;
  const tag = (his[i] ?? 0) * TWO_POW_32 + (lo >>> 0);
  return Math.floor(tag / span) === Math.floor(va / span);
}

export function tlbIndex(va: number): number {
  return (va >>> 12) & TLB_MASK;
}
