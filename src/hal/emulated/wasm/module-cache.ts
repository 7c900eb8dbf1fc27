/**
 * Compiled region modules that JavaScriptCore may optimize (small regions and promoted ones, baseline-only.ts),
 * kept by what they were compiled from, so that the same page compiled again — by the next VM that runs the same
 * program in this process, or after a guest's reboot — gets the module at once with the optimized machine code
 * JavaScriptCore has made for it since (a module's code is shared by all its instances). Those are the loops that
 * run long, and their optimized code is what takes longest to get: the module is run in the baseline tier until
 * JavaScriptCore has counted enough iterations and its optimizing compile is done. Measured with
 * bench/riscv-programs.ts's int-loop, a new VM each round: without the cache every round compiled its loop's page
 * again and ran it interpreted, then in the baseline tier, for its first ~5 ms; with it, rounds after the first
 * run the loop's optimized code from the region's install on (~0.3 ms after it is asked for).
 *
 * Baseline-only modules are not kept: they are quick to compile again and each holds its ~100 KB of padding.
 * Kept too, Debian's 6.12 boot run three times in one process found 1 of its 169 modules kept the second time (its
 * pages' entry maps, whose offsets are in the code, were allocated in another order) and 68 of 171 the third,
 * was not measurably faster, and ended ~55 MB more resident.
 *
 * A region's module is a function of the page's bytes, its entries, the arena offset of its entry map, whether it
 * runs on a hart thread and whether it was asked to be optimizable (compile.ts, baseline-only.ts), so a hit is
 * exact: the whole page is compared, not only its hash. Bounded: at most MAX_ENTRIES modules and
 * MAX_GENERATED_BYTES of generated WebAssembly, the least recently used dropped first. The cache is per thread
 * (the compiler thread's serves every VM on the process's main thread). One VM can tell from a compile's speed
 * whether another ran the same page: like memory deduplication, the emulated backend is not a boundary against that.
 */

/** What a compile made, as the cache keeps it. */
export interface CachedModule {
  readonly module: WebAssembly.Module;
  readonly offsets: readonly number[];
  readonly blockStarts: readonly number[];
  readonly generatedBytes: number;
  readonly optimizable: boolean;
}

/** What a module is compiled from (a compile job's inputs). */
export interface ModuleSource {
  readonly page: Uint8Array;
  readonly entries: readonly number[];
  readonly mapBase: number;
  readonly threaded: boolean;
  readonly optimizable: boolean;
}

export const MAX_ENTRIES = 256;
export const MAX_GENERATED_BYTES = 2 * 1024 * 1024;

interface Entry {
  readonly page: Uint8Array;
  readonly value: CachedModule;
}

function samePage(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ModuleCache {
  /** By key, least recently used first (a Map keeps insertion order; a hit is moved to the end). */
  readonly #entries = new Map<string, Entry>();
  #generatedBytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxEntries = MAX_ENTRIES,
    readonly maxGeneratedBytes = MAX_GENERATED_BYTES,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get generatedBytes(): number {
    return this.#generatedBytes;
  }

  static #key(source: ModuleSource): string {
    const flags = (source.threaded ? 1 : 0) | (source.optimizable ? 2 : 0);
    return `${Bun.hash(source.page)}/${source.entries.join(",")}/${source.mapBase}/${flags}`;
  }

  /** The module compiled from exactly `source`, if kept. */
  get(source: ModuleSource): CachedModule | undefined {
    const key = ModuleCache.#key(source);
    const entry = this.#entries.get(key);
    if (entry === undefined || !samePage(entry.page, source.page)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keep `value`, compiled from `source` (whose page is copied), dropping the least recently used over the bounds. */
  set(source: ModuleSource, value: CachedModule): void {
    if (value.generatedBytes > this.maxGeneratedBytes) return;
    const key = ModuleCache.#key(source);
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#generatedBytes -= old.value.generatedBytes;
    }
    this.#entries.set(key, { page: source.page.slice(), value });
    this.#generatedBytes += value.generatedBytes;
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && this.#generatedBytes <= this.maxGeneratedBytes) break;
      this.#entries.delete(k);
      this.#generatedBytes -= e.value.generatedBytes;
    }
  }
}
