/**
 * Event counters of one hart. They are bumped on slow paths only (TLB refills, walks, block builds, flushes,
 * traps), never per instruction, so they cost nothing measurable and stay on in every build. They say what a
 * guest makes the fast path do: `bench/emulated-linux-stats.ts` prints them after a Linux boot.
 */
export class HartStats {
  /** Read-TLB misses (loads, FP loads and LR that took the slow path). */
  loadMisses = 0;
  /** Write-TLB misses (stores, AMOs/SC that took the slow path). */
  storeMisses = 0;
  /** Stores that hit a page holding decoded code (each drops that page's decode cache). */
  storesToCode = 0;
  /** Instruction-TLB refills. */
  fetchMisses = 0;
  /** Full translations (every TLB miss of a translated access, plus HLV/HSV). */
  walks = 0;
  /** Loads and stores that straddle a page boundary (done byte by byte). */
  crossPage = 0;
  /** Misaligned loads and stores inside one page that the page's TLB entry served (no walk). */
  misalignedTlbHits = 0;
  /** AMOs and LR/SC that took the slow path (a full translation each). */
  atomicsSlow = 0;
  /** Instructions decoded into a page's decode cache (first use, or after the page was written). */
  decodes = 0;
  /** Blocks built for the compiler. */
  blockBuilds = 0;
  /** Pages whose decoded instructions were dropped because the page was written. */
  codeInvalidations = 0;
  /** Entries into WebAssembly regions from outside one, and the instructions they retired (the rest ran interpreted). */
  regionEntries = 0;
  regionInstructions = 0;
  /** Of those entries, the ones the WebAssembly interpreter made itself (wasm/interp-module.ts). */
  interpreterRegionEntries = 0;
  /** Instructions the WebAssembly interpreter retired (wasm/interp-module.ts; the rest of those interpreted, `interpret`). */
  wasmInterpreted = 0;
  /** Slots the WebAssembly interpreter handed to TypeScript (`stepSlot`: CSRs, LR/SC, FP, TLB misses, ...). */
  wasmInterpreterSteps = 0;
  /** Times a region went on into the next region itself instead of returning to the run loop (wasm/tier.ts). */
  regionChains = 0;
  /**
   * Why regions returned (to the run loop, or to the WebAssembly interpreter that entered them) instead of
   * chaining (wasm/compile.ts RETURN_*): after a call into the hart (trap, run-ending
   * instruction), at the limit (timer check), asked to stop by a slow path, the next pc not in the fetch TLB's
   * copy, its page without a region (interpreted, or compiling), or that region without a block there.
   */
  regionReturnsCall = 0;
  regionReturnsLimit = 0;
  regionReturnsStop = 0;
  regionReturnsNoTlb = 0;
  regionReturnsNoRegion = 0;
  regionReturnsNoBlock = 0;
  /** Blocks compiled to JavaScript. */
  compiles = 0;
  /** Whole-context TLB flushes, by what asked for them. */
  flushesSatp = 0;
  flushesVsatp = 0;
  flushesHgatp = 0;
  flushesSfence = 0;
  flushesHfence = 0;
  flushesOther = 0;
  /** Address-selective SFENCE.VMA/HFENCE.VVMA. */
  flushesVa = 0;
  /** Traps taken (exceptions and interrupts, at any level). */
  exceptions = 0;
  interrupts = 0;

  /** The counters as plain data, for printing. */
  snapshot(): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const [name, value] of Object.entries(this)) if (typeof value === "number") counters[name] = value;
    return counters;
  }
}
