/**
 * The arena: one shared `WebAssembly.Memory` per VM holding its guest RAM (and VMM-built structures such as the
 * G-stage table), each hart's register file and control block, and the WebAssembly tier's TLB arrays. Compiled
 * regions (wasm/) address all of it directly. It is shared so that harts on Workers can run over it; that is not
 * built yet (every hart runs on the VM's thread), and the limits below already hold for it.
 *
 * The memory model and its limits:
 * - A wasm32 memory holds at most 4 GiB (65536 pages of 64 KiB); memory64 is not enabled in Bun's
 *   JavaScriptCore (checked: a memory64 module fails to parse with "Memory64 is not enabled"). So the arena is at
 *   most ARENA_MAX_BYTES, minus the first page (left unused so that address 0 is never data) and the harts'
 *   blocks. Allocations are placed in the arena while they fit (`allocate`); what does not fit (RAM beyond
 *   about 4 GiB in all) gets its own `ArrayBuffer`, as before the arena existed: the interpreters use it
 *   unchanged, compiled regions reach it through their slow-path calls, and a VM with such memory would have to
 *   keep its harts on the main thread (a Worker cannot share an ordinary ArrayBuffer).
 * - The memory is created with its maximum size reserved and grows as allocations need it: untouched pages are
 *   committed by the host only when written, in 2 MiB huge pages where the host has them (each growth is advised),
 *   so a 4 GiB guest that touches 100 MiB costs about 100 MiB, rounded up to whole 2 MiB pieces.
 * - Views made before a `grow` stay valid (a shared memory never moves or detaches); the arena hands out views of
 *   the buffer current when each allocation was made.
 */

import { adviseHugePages } from "./sys.ts";

/** The WebAssembly page size. */
export const WASM_PAGE_SIZE = 65536;
/** The most pages a wasm32 memory can have (4 GiB). */
export const ARENA_MAX_PAGES = 65536;
export const ARENA_MAX_BYTES = ARENA_MAX_PAGES * WASM_PAGE_SIZE;
/** The first allocation starts here: offset 0 and its page are never handed out. */
const ARENA_FIRST_OFFSET = WASM_PAGE_SIZE;
/** Int32 index (in the unused first page) of the allocation pointer, in ALLOC_UNIT units. */
const TOP_INDEX = 0;
/** The arena grows by at least this many pages (16 MiB) at a time (see `allocate`). */
const GROW_MIN_PAGES = 256;
/** The allocation pointer counts 64-byte units, so that 4 GiB fits an int32. */
const ALLOC_UNIT = 64;

/**
 * Allocation is a bump pointer kept in the memory itself (Atomics), so that every thread's `Arena` object over the
 * same memory hands out disjoint ranges. Nothing is freed before the VM goes away.
 */
export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly #control: Int32Array;

  /** Whether growths are advised as huge pages (see `allocate`). */
  readonly #hugePages: boolean;

  /**
   * An arena over `memory` (a fresh one, or one another thread made). `hugePages: false` keeps the host's 4 KiB
   * pages: what a page-granular view of what was touched (the snapshot file's skipping) needs.
   */
  constructor(memory: WebAssembly.Memory, options: { readonly hugePages?: boolean } = {}) {
    this.#hugePages = options.hugePages ?? true;
    this.memory = memory;
    this.#control = new Int32Array(memory.buffer, 0, 16);
    Atomics.compareExchange(this.#control, TOP_INDEX, 0, ARENA_FIRST_OFFSET / ALLOC_UNIT);
  }

  /** A fresh arena, or undefined when this host cannot make a shared WebAssembly memory. */
  static create(options: { readonly hugePages?: boolean } = {}): Arena | undefined {
    if (typeof WebAssembly === "undefined") return undefined;
    try {
      return new Arena(new WebAssembly.Memory({ initial: 1, maximum: ARENA_MAX_PAGES, shared: true }), options);
    } catch {
      return undefined;
    }
  }

  /** The current buffer (it covers every allocation made so far). */
  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  /** Bytes handed out so far, the unused first page included. */
  get used(): number {
    return (Atomics.load(this.#control, TOP_INDEX) >>> 0) * ALLOC_UNIT;
  }

  /**
   * Reserve `size` bytes aligned to `alignment` (a power of two), growing the memory to cover them. Returns the
   * offset, or undefined when they would not fit below ARENA_MAX_BYTES (or the host refused to grow).
   */
  allocate(size: number, alignment: number): number | undefined {
    const align = Math.max(alignment, ALLOC_UNIT);
    for (;;) {
      const topUnits = Atomics.load(this.#control, TOP_INDEX);
      const offset = Math.ceil(((topUnits >>> 0) * ALLOC_UNIT) / align) * align;
      const end = Math.ceil((offset + size) / ALLOC_UNIT) * ALLOC_UNIT;
      if (end > ARENA_MAX_BYTES) return undefined;
      // (4 GiB / 64 is 2^26 units: the pointer never reaches the int32 sign bit.)
      if (Atomics.compareExchange(this.#control, TOP_INDEX, topUnits, end / ALLOC_UNIT) !== topUnits) continue;
      // Another thread may grow the memory at the same time: grow by what is still missing, then look again.
      // Growing a shared memory costs ~0.1-1 ms whatever the amount (a Linux boot's code pages, 40 KiB each, spent
      // 80 ms in it), and untouched pages cost nothing: it grows by at least GROW_MIN_PAGES.
      const before = this.memory.buffer.byteLength;
      for (let have = before; have < end; have = this.memory.buffer.byteLength) {
        const missing = Math.ceil((end - have) / WASM_PAGE_SIZE);
        const room = ARENA_MAX_PAGES - have / WASM_PAGE_SIZE;
        try {
          this.memory.grow(Math.min(room, Math.max(missing, GROW_MIN_PAGES)));
        } catch {
          try {
            this.memory.grow(missing);
          } catch {
            return undefined;
          }
        }
      }
      // Huge pages for what was added, where the host has them (sys.ts): every first touch of a 4 KiB page is a
      // page fault, ~10 us on this project's machines, and besides guest RAM the arena holds the decode caches,
      // 40 KiB per code page touched here and there. The project kernel's boot took ~2,100 faults fewer (4,900
      // against 2,800 on the hart's thread) and reached its marker ~30 ms sooner (faster in 9 of 10 alternating
      // pairs), for ~6 MB more RSS (141 against 147 MB). Another thread growing at the same time advises an
      // overlapping range: advice is idempotent.
      const after = this.memory.buffer.byteLength;
      if (after > before && this.#hugePages) adviseHugePages(this.bytes(before, after - before));
      return offset;
    }
  }

  /** A byte view of [offset, offset + size) of the arena. */
  bytes(offset: number, size: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, offset, size);
  }
}
