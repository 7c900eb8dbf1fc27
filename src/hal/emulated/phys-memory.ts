/**
 * The emulated machine's physical address space: RAM blocks (pieces of the `HostMemory` from `allocateMemory`)
 * placed at addresses, plus what the hart caches about each 4 KiB page:
 * - decoded instructions and compiled blocks (`CodePage`), dropped when the page is written (by a hart store or
 *   `notifyWritten`);
 * - whether the page has held page-table entries, so an external write to it flushes the harts' TLBs (the VMM
 *   edits the G-stage table without being able to execute HFENCE.GVMA).
 *
 * One instance per VM, shared by its harts: a block decoded by one hart is reused by the others, and an
 * invalidation reaches all of them through the `MemoryClient` callbacks.
 */

import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import type { Arena } from "./arena.ts";
import { type Block, SLOT_DECODED, SLOT_PAGE_END, SLOTS_PER_PAGE } from "./block.ts";
import type { Insn } from "./decode.ts";
import type { WasmInterpreter } from "./wasm/interp-runner.ts";
import type { WasmRegion, WasmTier } from "./wasm/tier.ts";

/**
 * Byte offsets of a code page's arrays in its arena allocation (`CodePage.arenaBase`): the slots (SLOTS_PER_PAGE
 * + 1 pairs of int32: the packed word, then the immediate), the heat (int32 per slot) and the heat windows' starts
 * (f64 per slot). Slot s's word is at CODE_PAGE_SLOTS + 8 * s (four times its page offset) and its immediate 4
 * bytes after it: an instruction's word and immediate share a cache line. (They were two arrays: a Linux boot's
 * decoded code is several MiB, so fetching an instruction then missed the host's caches twice.)
 */
export const CODE_PAGE_SLOTS = 0;
/**
 * Then the counters the WebAssembly interpreter keeps for the run loop's compile decisions (`CodePage.interpreted`,
 * `interpretedSince`: f64; `regionMisses`: i32).
 */
export const CODE_PAGE_INTERPRETED = 16400;
export const CODE_PAGE_INTERPRETED_SINCE = 16408;
export const CODE_PAGE_MISSES = 16416;
/**
 * And what the WebAssembly interpreter's decoder (wasm/decode-emit.ts) needs to decode into the page itself (i32
 * each): the slots decoded (`CodePage.count`), whether the page is marked as code (PAGE_HAS_CODE: no hart has a
 * write-TLB entry for it), and the arena offset of the page's bytes (0: not in the arena).
 */
export const CODE_PAGE_COUNT = 16420;
export const CODE_PAGE_MARKED = 16424;
export const CODE_PAGE_HOST = 16428;
export const CODE_PAGE_HEAT = 16448;
export const CODE_PAGE_HEAT_START = 24640;
export const CODE_PAGE_BYTES = CODE_PAGE_HEAT_START + 8 * SLOTS_PER_PAGE;

/**
 * The decode cache of one physical page (format in block.ts), indexed by slot = (offset in page) >> 1.
 * Typed arrays, so the interpreter's working set stays small; the `Insn` objects are kept for the instructions
 * it hands to `execute`.
 */
export class CodePage {
  /**
   * Arena offset of the page's decode cache (the four arrays below, at CODE_PAGE_* offsets), where the
   * WebAssembly interpreter (wasm/interp-module.ts) reads it; -1 when they are ordinary arrays (no arena, or it
   * is full).
   */
  readonly arenaBase: number;
  /**
   * The slots, two int32 each: at 2 * slot (= the page offset) the packed word, 0 = not decoded; at 2 * slot + 1
   * the immediate. The extra last pair is the SLOT_PAGE_END sentinel (its immediate keeps the interpreter's read
   * there in bounds).
   */
  readonly slots: Int32Array;
  /**
   * The decoded instruction of each slot whose instruction the TypeScript paths need whole (interp.ts
   * `keepsInsn`; the others have what every path needs in `slots`, and a load or store gets its own when it takes
   * the slow path), by slot; holes elsewhere. It starts empty and grows as slots are stored: a Linux boot decodes
   * ~100 k instructions on ~300 pages, and an object for each, with a 2,048-entry array per page, made ~10 MB of
   * JavaScript heap that every new page of it cost a page fault (~10 us on this host) and the collector a scan.
   */
  readonly insns: (Insn | undefined)[] = [];
  /**
   * Jumps and taken branches that landed on each slot (not forward branches inside the page: `interpret`), and
   * run-loop entries there (what is worth compiling).
   */
  readonly heat: Int32Array;
  /** h.icount at the first landing of each slot's current heat window (the landing rate decides compiling). */
  readonly heatStart: Float64Array;
  /** Blocks built for the compiler, by start slot (created on first use). */
  blocks: (Block | undefined)[] | undefined = undefined;
  /** The page's code compiled by the WebAssembly tier (wasm/tier.ts), if any. */
  region: WasmRegion | undefined = undefined;
  /** Arena offset of the page's region entry map (kept across recompiles), or -1. */
  entryMapBase = -1;
  /** Regions compiled for this page since it was last written, and times its region was dropped by a write. */
  regionCompiles = 0;
  regionInvalidations = 0;
  /** A region for this page is being compiled in the background (wasm/tier.ts). */
  regionPending = false;
  /** Bumped whenever the page is cleared: a background compile started before then is out of date. */
  generation = 0;
  /**
   * Instructions interpreted since `interpretedSince` (h.icount): what straight-line code and loops too long for
   * the landing rate (engine.ts) are compiled by. The WebAssembly interpreter counts those it runs on this page;
   * the TypeScript one, those of its runs that started here. (`counters`: [interpreted, interpretedSince].)
   */
  get interpreted(): number {
    return this.counters[0] ?? 0;
  }
  set interpreted(value: number) {
    this.counters[0] = value;
  }
  get interpretedSince(): number {
    return this.counters[1] ?? 0;
  }
  set interpretedSince(value: number) {
    this.counters[1] = value;
  }
  /**
   * Times a region left for a pc on this page that had no region or no block there: returning to the run loop, or
   * to the WebAssembly interpreter, which counts them (`missCounter`).
   */
  get regionMisses(): number {
    return this.missCounter[0] ?? 0;
  }
  set regionMisses(value: number) {
    this.missCounter[0] = value;
  }
  /** The counters behind `interpreted`, `interpretedSince` and `regionMisses` (CODE_PAGE_* in the arena). */
  readonly counters: Float64Array;
  readonly missCounter: Int32Array;
  /** [count, marked, host]: CODE_PAGE_COUNT, CODE_PAGE_MARKED, CODE_PAGE_HOST. */
  readonly #decoderWords: Int32Array;
  /** Decoded slots (by TypeScript and by the WebAssembly interpreter). */
  get count(): number {
    return this.#decoderWords[0] ?? 0;
  }
  set count(value: number) {
    this.#decoderWords[0] = value;
  }
  /** Whether the page is marked as code (PAGE_HAS_CODE), for the WebAssembly interpreter's decoder. */
  set marked(value: boolean) {
    this.#decoderWords[1] = value ? 1 : 0;
  }
  /** The arena offset of the page's bytes, where the WebAssembly interpreter's decoder reads them (0: none). */
  set hostBase(value: number) {
    this.#decoderWords[2] = value;
  }

  constructor(arena?: Arena) {
    const base = arena?.allocate(CODE_PAGE_BYTES, 64);
    if (arena === undefined || base === undefined) {
      this.arenaBase = -1;
      this.slots = new Int32Array(2 * (SLOTS_PER_PAGE + 1));
      this.counters = new Float64Array(2);
      this.missCounter = new Int32Array(1);
      this.#decoderWords = new Int32Array(3);
      this.heat = new Int32Array(SLOTS_PER_PAGE);
      this.heatStart = new Float64Array(SLOTS_PER_PAGE);
    } else {
      // (A fresh allocation is zero: the arena only grows, and nothing is freed before the VM goes away.)
      this.arenaBase = base;
      this.slots = new Int32Array(arena.buffer, base + CODE_PAGE_SLOTS, 2 * (SLOTS_PER_PAGE + 1));
      this.counters = new Float64Array(arena.buffer, base + CODE_PAGE_INTERPRETED, 2);
      this.missCounter = new Int32Array(arena.buffer, base + CODE_PAGE_MISSES, 1);
      this.#decoderWords = new Int32Array(arena.buffer, base + CODE_PAGE_COUNT, 3);
      this.heat = new Int32Array(arena.buffer, base + CODE_PAGE_HEAT, SLOTS_PER_PAGE);
      this.heatStart = new Float64Array(arena.buffer, base + CODE_PAGE_HEAT_START, SLOTS_PER_PAGE);
    }
    this.slots[2 * SLOTS_PER_PAGE] = SLOT_PAGE_END | SLOT_DECODED;
  }

  /** Forget everything decoded (the page was written). Arrays are cleared in place: TLB entries keep them. */
  clear(): void {
    this.generation++;
    if (this.count !== 0 || this.blocks !== undefined || this.region !== undefined) {
      // (A compiled block's start is marked in `slots` even where nothing else was decoded.)
      this.slots.fill(0, 0, 2 * SLOTS_PER_PAGE);
      this.insns.length = 0;
      this.count = 0;
    }
    this.heat.fill(0);
    this.interpreted = 0;
    this.regionMisses = 0;
    const blocks = this.blocks;
    if (blocks !== undefined) {
      // A compiled self-loop running right now checks `valid` on every iteration.
      for (const b of blocks) if (b !== undefined) b.valid = false;
      this.blocks = undefined;
    }
    const region = this.region;
    if (region !== undefined) {
      // A region running right now is told by the call that made the write, and returns.
      region.invalidate();
      this.region = undefined;
      this.regionCompiles = 0;
      this.regionInvalidations++;
    }
  }
}

const PAGE_HAS_CODE = 1;
const PAGE_HAS_PTES = 2;
/** A page with a watched range (PhysicalMemory.watchWrites): its stores take the slow path, which looks. */
const PAGE_WATCHED = 4;

/**
 * The largest RAM block: 1 GiB. Offsets inside a block then stay below 2^30 (plus a page), so the hot paths may
 * compute them with int32 arithmetic (`(address + delta) | 0`, which keeps DataView accesses on JavaScriptCore's
 * fast path) and never see them wrap negative. Larger host allocations are mapped as several blocks.
 */
export const MEM_BLOCK_MAX_SIZE = 2 ** 30;

/** The storage of one RAM block (at most MEM_BLOCK_MAX_SIZE bytes), shared by every place it is mapped. */
export class MemBlock {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly size: number;
  /** PAGE_HAS_* per page. */
  readonly pageFlags: Uint8Array;
  readonly codePages: (CodePage | undefined)[];
  /** Byte ranges [start, end) whose stores end the storing hart's run (PhysicalMemory.watchWrites). */
  readonly watchedRanges: [number, number][] = [];
  /** Where the block starts in the VM's arena (arena.ts), or -1 for a block in an ArrayBuffer of its own. */
  readonly arenaOffset: number;

  constructor(bytes: Uint8Array, arenaOffset = -1) {
    if (bytes.length > MEM_BLOCK_MAX_SIZE) {
      throw new RangeError(
        `Cannot make a RAM block of ${bytes.length} bytes: blocks hold at most ${MEM_BLOCK_MAX_SIZE} (split larger memory)`,
      );
    }
    this.bytes = bytes;
    this.arenaOffset = arenaOffset;
    this.size = bytes.length;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const pages = Math.ceil(bytes.length / PAGE_SIZE);
    this.pageFlags = new Uint8Array(pages);
    this.codePages = new Array<CodePage | undefined>(pages).fill(undefined);
  }
}

/** A block placed at a physical address. */
export interface PhysRegion {
  readonly base: number;
  readonly end: number;
  readonly block: MemBlock;
}

/** What a hart needs to hear from the memory it caches translations and code for. */
export interface MemoryClient {
  /**
   * Stores to `physPage` must take the slow path from now on (it just received its first decoded instruction, or
   * a range in it is watched): drop write-TLB entries that map it.
   */
  dropWriteEntries(physPage: number): void;
  /** A page-table page changed behind the harts' back, or the physical map changed: drop all translations. */
  onTranslationsStale(): void;
  /** Bytes [start, end) of physical memory were written by someone else (breaks LR/SC reservations). */
  onExternalWrite(start: number, end: number): void;
}

export class PhysicalMemory {
  /** The VM's arena (guest RAM that compiled regions and Workers can reach), if this host could make one. */
  readonly arena: Arena | undefined;
  /** The WebAssembly tier compiling this memory's code (engine.ts creates it on first use). */
  wasmTier: WasmTier | undefined = undefined;
  /** The WebAssembly interpreter for this memory's harts (engine.ts creates it on first use). */
  wasmInterpreter: WasmInterpreter | undefined = undefined;
  #regions: PhysRegion[] = [];
  #last: PhysRegion | undefined;
  readonly #clients: MemoryClient[] = [];

  constructor(arena?: Arena) {
    this.arena = arena;
  }

  get regions(): readonly PhysRegion[] {
    return this.#regions;
  }

  addClient(client: MemoryClient): void {
    this.#clients.push(client);
  }

  removeClient(client: MemoryClient): void {
    const i = this.#clients.indexOf(client);
    if (i >= 0) this.#clients.splice(i, 1);
  }

  /** Place `block` at [base, base + size). The caller has checked for overlaps. */
  map(base: number, block: MemBlock): void {
    const region: PhysRegion = { base, end: base + block.size, block };
    this.#regions = [...this.#regions, region].sort((a, b) => a.base - b.base);
    for (const client of this.#clients) client.onTranslationsStale();
  }

  /** The region holding physical address `pa`, if any. */
  find(pa: number): PhysRegion | undefined {
    const last = this.#last;
    if (last !== undefined && pa >= last.base && pa < last.end) return last;
    // Binary search over the sorted, non-overlapping regions: big RAM is many blocks, and every G-stage table page
    // is a region of its own.
    const regions = this.#regions;
    let lo = 0;
    let hi = regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const region = regions[mid];
      if (region === undefined) break;
      if (pa < region.base) hi = mid - 1;
      else if (pa >= region.end) lo = mid + 1;
      else {
        this.#last = region;
        return region;
      }
    }
    return undefined;
  }

  /** Whether [start, end) overlaps a mapped region. */
  overlaps(start: number, end: number): PhysRegion | undefined {
    return this.#regions.find((r) => start < r.end && r.base < end);
  }

  /**
   * The code page for `pageIndex` of `block`, created on first use. The first time the page holds code (again),
   * every physical alias of it loses its write-TLB entries in every hart, so stores to it take the slow path
   * that drops what was decoded.
   */
  codePage(block: MemBlock, pageIndex: number): CodePage {
    let page = block.codePages[pageIndex];
    if (page === undefined) {
      page = new CodePage(this.arena);
      // (A block's arena offset is never 0: the arena's first page is not handed out.)
      if (block.arenaOffset >= 0 && (pageIndex + 1) * PAGE_SIZE <= block.size)
        page.hostBase = block.arenaOffset + pageIndex * PAGE_SIZE;
      block.codePages[pageIndex] = page;
    }
    const flags = block.pageFlags[pageIndex] ?? 0;
    if ((flags & PAGE_HAS_CODE) === 0) {
      block.pageFlags[pageIndex] = flags | PAGE_HAS_CODE;
      page.marked = true;
      for (const region of this.#regions) {
        if (region.block !== block) continue;
        const alias = region.base + pageIndex * PAGE_SIZE;
        for (const client of this.#clients) client.dropWriteEntries(alias);
      }
    }
    return page;
  }

  /** Whether a page of `block` holds decoded code (stores to it must take the slow path). */
  static pageHasCode(block: MemBlock, pageIndex: number): boolean {
    return ((block.pageFlags[pageIndex] ?? 0) & PAGE_HAS_CODE) !== 0;
  }

  /** Whether stores to a page of `block` may go through a write-TLB entry (it holds no code and nothing watched). */
  static pageTakesWriteEntries(block: MemBlock, pageIndex: number): boolean {
    return ((block.pageFlags[pageIndex] ?? 0) & (PAGE_HAS_CODE | PAGE_WATCHED)) === 0;
  }

  /**
   * Have a hart's store into [offset, offset + length) of `block` end its run right after it (`Hart.kickRequested`):
   * for memory mailboxes the VMM polls between runs (HTIF's `tohost`, see HostMemory.watchWrites). The pages lose
   * their write-TLB entries in every hart, so their stores take the slow path, which compares them with the ranges.
   */
  watchWrites(block: MemBlock, offset: number, length: number): void {
    const start = Math.max(0, offset);
    const end = Math.min(block.size, offset + length);
    if (start >= end) return;
    block.watchedRanges.push([start, end]);
    for (let page = Math.floor(start / PAGE_SIZE); page <= Math.floor((end - 1) / PAGE_SIZE); page++) {
      block.pageFlags[page] = (block.pageFlags[page] ?? 0) | PAGE_WATCHED;
      for (const region of this.#regions) {
        if (region.block !== block) continue;
        for (const client of this.#clients) client.dropWriteEntries(region.base + page * PAGE_SIZE);
      }
    }
  }

  /** Whether a store of `width` bytes at `offset` of `block` touches a watched range. */
  static storeIsWatched(block: MemBlock, offset: number, width: number): boolean {
    if (((block.pageFlags[Math.floor(offset / PAGE_SIZE)] ?? 0) & PAGE_WATCHED) === 0) return false;
    return block.watchedRanges.some(([start, end]) => offset < end && start < offset + width);
  }

  /** Remember that a page holds page-table entries (so external writes to it flush translations). */
  static markPageTable(block: MemBlock, pageIndex: number): void {
    block.pageFlags[pageIndex] = (block.pageFlags[pageIndex] ?? 0) | PAGE_HAS_PTES;
  }

  /** Drop the decoded instructions and compiled blocks of one page (after a write to it). */
  static invalidateCode(block: MemBlock, pageIndex: number): void {
    const flags = block.pageFlags[pageIndex] ?? 0;
    if ((flags & PAGE_HAS_CODE) === 0) return;
    block.pageFlags[pageIndex] = flags & ~PAGE_HAS_CODE;
    // Exec-TLB entries (and a running interpreter) hold a reference to this CodePage and keep using it.
    const page = block.codePages[pageIndex];
    if (page !== undefined) {
      page.marked = false;
      page.clear();
    }
  }

  /**
   * Someone other than the harts wrote [offset, offset + length) of `block` (HostMemory.notifyWritten): drop
   * decoded code on those pages, flush translations if a page-table page changed, break reservations.
   */
  externalWrite(block: MemBlock, offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.max(0, Math.floor(offset / PAGE_SIZE));
    const last = Math.min(block.pageFlags.length - 1, Math.floor((offset + length - 1) / PAGE_SIZE));
    let stale = false;
    for (let p = first; p <= last; p++) {
      const flags = block.pageFlags[p] ?? 0;
      if (flags === 0) continue;
      if ((flags & PAGE_HAS_CODE) !== 0) PhysicalMemory.invalidateCode(block, p);
      if ((flags & PAGE_HAS_PTES) !== 0) stale = true;
    }
    for (const region of this.#regions) {
      if (region.block !== block) continue;
      for (const client of this.#clients) {
        if (stale) client.onTranslationsStale();
        client.onExternalWrite(region.base + offset, region.base + offset + length);
      }
    }
  }
}

export function pageIndexOf(offset: number): number {
  return Math.floor(offset / PAGE_SIZE);
}
