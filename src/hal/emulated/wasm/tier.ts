/**
 * The WebAssembly tier at run time: one per VM (per thread), over the VM's arena. It compiles a page's hot code
 * into a region (region.ts, compile.ts), enters regions for the engine (`enter`), and answers their calls: the
 * load and store slow paths and `execute` for every instruction a region does not compile inline.
 *
 * Compile cost is measured per region (time to build, validate and instantiate its module, and its size), so the
 * engine can weigh what compiling a page costs against how hot it is (engine.ts) and the benchmarks can print it.
 *
 * Invalidation: a region belongs to its page's `CodePage`, which is cleared whenever the page is written — by a
 * hart's store (stores to pages holding code always take the slow path, tlb.ts), an AMO, a page-table walk's A/D
 * update, or software outside the harts (`HostMemory.notifyWritten` → `PhysicalMemory.externalWrite`). Clearing
 * marks the region invalid; a region running at that moment is told by the call that did the write and returns
 * right after the writing instruction.
 *
 * Chaining: every installed region has a slot in the tier's funcref table, written into its page's region record
 * in the arena (compile.ts ENTRY_MAP_BYTES) and cleared when the region is invalidated or replaced. A region that
 * ends on a plain transfer looks the next pc up through the fetch TLB's WebAssembly copy and that record, and
 * tail-calls the next region itself (compile.ts `emitChain`), so the run loop is only returned to at the timer
 * check (the limit), traps, instructions that end a run (CSR writes, xRET, fences, WFI...), a slow path that may
 * have made an interrupt pending or stopped the hart, and misses. The region running now is named in the hart's
 * block (HB_REGION, HB_VBASE) for the slow-path calls.
 */

import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import type { Arena } from "../arena.ts";
import { SLOT_COMPILED, SLOT_DECODED, SLOTS_PER_PAGE } from "../block.ts";
import type { Insn } from "../decode.ts";
import * as D from "../decode.ts";
import { execCsr, execute, transformedInstruction } from "../exec.ts";
import { EXEC_END, EXEC_NEXT, EXEC_TRAP, type Hart, STOP_NONE } from "../hart.ts";
import {
  HB_CHAIN_STOP,
  HB_CHAINS,
  HB_INTERP_RETURNS,
  HB_ITLB,
  HB_LOAD_VALUE,
  HB_NEXT_PC,
  HB_REGION,
  HB_RETURN_REASON,
  HB_VBASE,
} from "../hart-block.ts";
import { atomicFast } from "../interp.ts";
import { loadSlow, storeSlow } from "../memory-slow.ts";
import type { CodePage } from "../phys-memory.ts";
import { TWO_POW_32 } from "../split64.ts";
import { moduleForTier } from "./baseline-only.ts";
import {
  type CompiledRegion,
  compileRegion,
  ENTRY_MAP_BYTES,
  IMPORT_MODULE,
  NO_BLOCK,
  REGION_SLOT_OFFSET,
  RETURN_CALL,
  RETURN_LIMIT,
  RETURN_NO_BLOCK,
  RETURN_NO_REGION,
  RETURN_NO_TLB,
  RETURN_STOP,
} from "./compile.ts";
import type { CompileService } from "./compile-service.ts";
import { decodeAt, planRegion, type RegionPlan } from "./region.ts";

type RegionFunction = (hb: number, tlb: number, vbase: number, entry: number, limit: number, n: number) => number;

/** What to compile of a page. */
export interface RegionRequest {
  /** Offsets in the page the region is entered at. */
  readonly entries: readonly number[];
  /** Let JavaScriptCore's optimizing tier recompile it (see baseline-only.ts). */
  readonly optimizable: boolean;
}

/** A page's compiled code. */
export class WasmRegion {
  #valid = true;
  constructor(
    /** Its slot in the tier's region table (what chaining regions call it through). */
    readonly slot: number,
    /** The page's region record's slot word (in the arena), cleared when the region is invalidated. */
    readonly slotWord: Int32Array,
    /** The tier's free slots, which this one joins when invalidated. */
    readonly freeSlots: number[],
    readonly run: RegionFunction,
    readonly insns: readonly Insn[],
    readonly offsets: readonly number[],
    /** The page's entry map (one block index per 2-byte slot, NO_BLOCK where none starts). */
    readonly entries: Uint16Array,
    /** Offsets of the block starts. */
    readonly blockStarts: readonly number[],
    /** The entry offsets it was planned from. */
    readonly entryOffsets: readonly number[],
    /** Whether JavaScriptCore may recompile it with its optimizing tier (see baseline-only.ts). */
    readonly optimizable: boolean,
    /** Bytes of WebAssembly generated for it (without the padding). */
    readonly bytes: number,
    /** Its page's decode cache and bytes (`base` in `view`): what it is compiled again from when it is promoted. */
    readonly code: CodePage,
    readonly view: DataView,
    readonly base: number,
  ) {}

  /** Instructions retired by runs that ended in this region at the run loop's limit (what promotes it). */
  longRunInstructions = 0;

  get valid(): boolean {
    return this.#valid;
  }

  /** The region must not run again: its page was written, or it was replaced. No region chains to it after this. */
  invalidate(): void {
    if (!this.#valid) return;
    this.#valid = false;
    if (this.slotWord[0] === this.slot) this.slotWord[0] = 0;
    this.freeSlots.push(this.slot);
  }
}

/**
 * What a region costs the compiler thread: milliseconds per region, a moving average over the last
 * ~REGION_COST_WEIGHT⁻¹ regions, starting at COLD_REGION_COST_MS. What `WasmTier.costFactor` scales the compile
 * thresholds by. One estimate serves every tier of a thread (`threadRegionCost`): the compiler thread and the
 * JavaScriptCore code of its generator belong to the process, so a VM started after another (or a guest's
 * reboot) starts at the generator's warm cost, not at the cold one again.
 */
export class RegionCostEstimate {
  ms = COLD_REGION_COST_MS;

  /** A region took `ms` on the compiler thread. */
  note(ms: number): void {
    this.ms += (ms - this.ms) * REGION_COST_WEIGHT;
  }
}

/** Compile statistics of a tier (printed by the benchmarks). */
export class TierStats {
  regions = 0;
  /** Regions compiled again with more entries. */
  recompiles = 0;
  instructions = 0;
  bytes = 0;
  /**
   * Milliseconds the hart's thread spent planning and generating modules and instantiating them (and compiling
   * them, when synchronous).
   */
  compileMs = 0;
  /** Milliseconds from asking for a background compile to its module being ready, summed. */
  backgroundMs = 0;
  /** Regions compiled on the hart's thread (small enough, see WASM_SYNC_MAX_BYTES, or all of them when asked). */
  syncCompiles = 0;
  /** Of those, the ones compiled here because the compiler thread had not been started (COLD_SYNC_MAX_INSNS). */
  coldSyncCompiles = 0;
  /** Regions compiled on the compiler thread (compile-service.ts). */
  threadCompiles = 0;
  /** Of those, the ones it had kept from an earlier compile of the same page (module-cache.ts). */
  cachedCompiles = 0;
  /** Milliseconds the compiler thread spent on this tier's regions. */
  threadMs = 0;
  /** Background compiles not finished yet. */
  pending = 0;
  /** Background compiles whose page was written before they finished (their result is dropped). */
  discarded = 0;
  /** Regions dropped because their page was written. */
  invalidations = 0;
  /** Regions that could not be compiled (nothing to compile, or the arena is full). */
  failures = 0;
  /** Regions compiled again without the padding, for JavaScriptCore's optimizing tier (see OMG_COST_NS_PER_BYTE). */
  promotions = 0;
  /** Regions installed for the optimizing tier too: promoted, or small enough from the start (baseline-only.ts). */
  optimizableRegions = 0;
}

/**
 * What recompiling a region for JavaScriptCore's optimizing tier (OMG) costs, per byte of generated WebAssembly:
 * ~2.7 ms of helper-thread CPU per KiB (Debian's boot: 5.9 s for 2.2 MB). Regions are compiled for the baseline
 * tier only (baseline-only.ts): on a Linux boot OMG gained nothing measurable on the hart's thread.
 */
export const OMG_COST_NS_PER_BYTE = 2_600;
/**
 * What OMG saves per instruction in a loop that runs long: bench/riscv-programs.ts with and without OMG, int-loop
 * 0.26 against 0.32 ns, memcpy 1.16 against 1.42, interp 1.10 against 1.27.
 */
export const OMG_GAIN_NS_PER_INSN = 0.1;

/**
 * What a region costs the compiler thread once its code generator is warm (~500 instructions: 2-8 ms on this
 * 2-core machine; bench/emulated-linux-stats.ts prints the total), and before: the generator's first regions
 * take 20-30 ms each while JavaScriptCore is still optimizing it, which also keeps the JIT threads busy. The
 * compiler thread and the JIT threads share the second core, and what they use beyond it comes off the hart's
 * thread. The compile thresholds (engine.ts) are raised by the ratio of the estimated cost to the warm cost, up to
 * MAX_COST_FACTOR, so that while compiling is dear only code that runs long gets compiled: a short boot then
 * compiles few regions, a long run soon compiles at the usual thresholds.
 *
 * The estimate a process starts from (COLD_REGION_COST_MS) is what its first regions cost the hart, more than the
 * compiler thread's own time says: the first one also starts the compiler thread (its reply came 76 ms after the
 * request) and sets JavaScriptCore optimizing the generator. In the project kernel's boot, limiting the regions
 * compiled showed the hart's thread paying ~35 ms for the first and ~5 ms for each later one, against a boot of
 * 0.65 s with none; its regions' instructions gain ~4 ns each. Measured, alternating cold boots (6 each): starting
 * at 24 ms with the factor capped at 8, 0.74 s; at 64 and 16, 0.68 s; at 128 and 32, 0.67 s. Debian's boot
 * at 128 and 32 against 24 and 8: cold, 3.20 against 3.21 s (medians of 4 pairs); the benchmark's rounds (the
 * estimate warm after the first), 2.72 against 2.76 s (means of 2 runs): its long-running code passes the higher
 * thresholds early.
 *
 * Measured again after the interpreter got faster (2026-12-06), it was dearer still: on this 2-vCPU machine a busy
 * thread on the other vCPU slows the hart's by ~30%, and a process's first regions keep the other vCPU busy with
 * JavaScriptCore optimizing the generator (~130 ms of JIT-thread time) besides the compiles themselves (26 ms of
 * CPU for the first, 3-11 ms for the next, each reply 15-90 ms after its request). The project kernel's boot
 * compiled 7 regions (6 M of its 49 M instructions ran in them) and reached its marker later than with none:
 * 0.601 against 0.538 s, 8 alternating pairs, later in all 8. Debian's boot needs its regions (3.9 s without, 2.8
 * s with). Starting at 256 ms with the factor up to 64 (the heat rule's up to MAX_HEAT_COST_FACTOR, with
 * COLD_MIN_HEAT_RATE, engine.ts) the project kernel compiles none and Debian's boot is unchanged.
 */
export const WARM_REGION_COST_MS = 4;
export const COLD_REGION_COST_MS = 256;
export const MAX_COST_FACTOR = 64;
/** Weight of each region's cost in `RegionCostEstimate.ms`. */
const REGION_COST_WEIGHT = 1 / 8;
/** The estimate the tiers of this thread share. */
export const threadRegionCost = new RegionCostEstimate();

/**
 * A region of at most this many instructions asked for before the compiler thread has been started is compiled on
 * the hart's thread (and the thread started for the next ones). The thread's first reply comes 40-100 ms after
 * the job in a cold process (the Worker starts, loads the generator, and runs it cold), while the hart interprets;
 * a small region costs the hart's thread ~10-30 ms cold (mostly `new WebAssembly.Module` waiting for
 * JavaScriptCore's one WebAssembly compiler thread, busy optimizing the interpreter). Measured, each program first
 * in a cold process, 3 alternating runs: int-loop's main() 149-152 against 101-117 ms, branchy's 136-154 against
 * 100-109 ms. Debian's 6.12 boot asks first for a region of 32 instructions, compiled here now: 10 alternating
 * cold boots, faster in 6 (the machine's noise, 2.5-4.1 s, was larger than any difference); the project kernel
 * compiles no region.
 */
export const COLD_SYNC_MAX_INSNS = 256;

/** Grow the region table by this many slots at a time. */
const TABLE_GROWTH = 256;

const NEXT_PC_INDEX = HB_NEXT_PC / 8;
const VBASE_INDEX = HB_VBASE / 8;
const REGION_INDEX = HB_REGION / 4;
const CHAIN_STOP_INDEX = HB_CHAIN_STOP / 4;
const ITLB_INDEX = HB_ITLB / 4;
const CHAINS_INDEX = HB_CHAINS / 4;
const RETURN_REASON_INDEX = HB_RETURN_REASON / 4;
const RETURNS_INDEX = HB_INTERP_RETURNS / 4;

/** Count why a region returned to the run loop (or to the WebAssembly interpreter), `times` times. */
function countReturn(h: Hart, reason: number, times = 1): void {
  const s = h.stats;
  if (reason === RETURN_NO_BLOCK) s.regionReturnsNoBlock += times;
  else if (reason === RETURN_NO_REGION) s.regionReturnsNoRegion += times;
  else if (reason === RETURN_LIMIT) s.regionReturnsLimit += times;
  else if (reason === RETURN_STOP) s.regionReturnsStop += times;
  else if (reason === RETURN_NO_TLB) s.regionReturnsNoTlb += times;
  else s.regionReturnsCall += times;
}
/** The number of RETURN_* reasons (HB_INTERP_RETURNS has a counter for each). */
export const RETURN_REASONS = RETURN_NO_BLOCK + 1;
const LOAD_LO_INDEX = HB_LOAD_VALUE / 4;
const LOAD_HI_INDEX = HB_LOAD_VALUE / 4 + 1;

export class WasmTier {
  readonly stats = new TierStats();
  readonly #arena: Arena;
  readonly #threaded: boolean;
  readonly #imports: Bun.WebAssembly.Imports;
  /**
   * Every installed region's `run`, by slot (slot 0 stays empty: a record's 0 means no region). The WebAssembly
   * interpreter calls regions through it too.
   */
  readonly table = new WebAssembly.Table({ element: "anyfunc", initial: TABLE_GROWTH });
  /** The region of each slot (kept after it is invalidated until the slot is reused: it may still be running). */
  readonly #bySlot: (WasmRegion | undefined)[] = [undefined];
  /** Slots of replaced or invalidated regions, reused by later installs (never while a region runs). */
  readonly #freeSlots: number[] = [];
  /** Whether regions chain to the next region themselves (false: every region returns to the run loop). */
  chaining: boolean;
  /**
   * Whether the last `enter` returned because the next pc had no region or no block there (a miss), rather than
   * for a call into the hart, the limit or a fetch-TLB miss.
   */
  missed = false;
  /** Whether promotions (see `#countLongRun`) compile on the hart's thread and install at once. */
  syncPromotions = false;
  /** The compiler thread regions are compiled on when not synchronously (compile-service.ts), if any. */
  compileThread: CompileService | undefined = undefined;
  // The hart whose regions run now and what their calls need (set by `enter`).
  #hart: Hart | undefined;
  #icountBase = 0;

  /** The compile-cost estimate it follows (see RegionCostEstimate). */
  readonly cost: RegionCostEstimate;

  constructor(arena: Arena, threaded: boolean, chaining = true, cost: RegionCostEstimate = threadRegionCost) {
    this.cost = cost;
    this.#arena = arena;
    this.#threaded = threaded;
    this.chaining = chaining;
    this.#imports = {
      [IMPORT_MODULE]: {
        memory: arena.memory,
        regions: this.table,
        load: (idx: number, vaLo: number, vaHi: number, retired: number): number =>
          this.#load(idx, vaLo, vaHi, retired),
        store: (idx: number, vaLo: number, vaHi: number, lo: number, hi: number, retired: number): number =>
          this.#store(idx, vaLo, vaHi, lo, hi, retired),
        exec: (idx: number, retired: number): number => this.#exec(idx, retired),
      },
    };
  }

  /**
   * How much dearer than warm a region is to compile now (>= 1): what the compile thresholds are multiplied by
   * while regions compile on the compiler thread (see WARM_REGION_COST_MS); 1 without one.
   */
  get costFactor(): number {
    if (this.compileThread === undefined) return 1;
    return Math.min(MAX_COST_FACTOR, Math.max(1, this.cost.ms / WARM_REGION_COST_MS));
  }

  /**
   * Run `region` (its page mapped at `vbase`) from block `block` until it returns: at least `limit` instructions,
   * a trap, or an exit from the region. Returns the instructions retired; h.pc and h.icount are up to date.
   */
  enter(h: Hart, region: WasmRegion, vbase: number, block: number, limit: number): number {
    const base = h.icount;
    this.bind(h, base);
    h.blockF64[VBASE_INDEX] = vbase;
    h.blockI32[REGION_INDEX] = region.slot;
    const n = region.run(h.blockBase, h.dtlb.wasmBase, vbase, block, limit, 0);
    h.icount = base + n;
    h.pc = h.blockF64[NEXT_PC_INDEX] ?? 0;
    const reason = this.unbind(h);
    countReturn(h, reason);
    this.missed = reason === RETURN_NO_REGION || reason === RETURN_NO_BLOCK;
    if (reason === RETURN_LIMIT) this.#countLongRun(h, n);
    return n;
  }

  /**
   * Before WebAssembly that may run `h`'s regions (a region, or the interpreter, which enters them itself) is
   * called with h.icount at `icountBase`: the regions' calls into the hart are for `h`, and the chaining fields of
   * its block are set for a new run.
   */
  bind(h: Hart, icountBase: number): void {
    this.#hart = h;
    this.#icountBase = icountBase;
    const hb = h.blockI32;
    hb[CHAIN_STOP_INDEX] = this.chaining ? 0 : 1;
    hb[ITLB_INDEX] = Math.max(0, h.itlb.wasmBase);
    hb[CHAINS_INDEX] = 0;
  }

  /** After that call: counts the chains, and returns the reason the last region returned (RETURN_*). */
  unbind(h: Hart): number {
    this.#hart = undefined;
    h.stats.regionChains += h.blockI32[CHAINS_INDEX] ?? 0;
    return h.blockI32[RETURN_REASON_INDEX] ?? RETURN_CALL;
  }

  /**
   * After a run of the WebAssembly interpreter that may have entered regions itself: count their returns into it
   * (HB_INTERP_RETURNS), and, when the run ended because the region it entered last returned at the limit
   * (`reason`), that region's long run of `n` instructions.
   */
  noteInterpreterRun(h: Hart, reason: number, n: number): void {
    const hb = h.blockI32;
    for (let k = 0; k < RETURN_REASONS; k++) {
      const times = hb[RETURNS_INDEX + k] ?? 0;
      if (times !== 0) countReturn(h, k, times);
    }
    if (reason === RETURN_LIMIT) this.#countLongRun(h, n);
  }

  /**
   * A run of `n` instructions ended at the limit in the region running now: a loop that runs long. Once such runs
   * have retired enough instructions that OMG's gain on as many again pays for its compile (OMG_GAIN_NS_PER_INSN,
   * OMG_COST_NS_PER_BYTE: ~27 M instructions per KiB of region), the region is compiled again for OMG (a
   * promotion).
   */
  #countLongRun(h: Hart, n: number): void {
    const region = this.#running(h);
    if (region === undefined || region.optimizable || !region.valid) return;
    region.longRunInstructions += n;
    if (region.longRunInstructions * OMG_GAIN_NS_PER_INSN < region.bytes * OMG_COST_NS_PER_BYTE) return;
    region.longRunInstructions = Number.NEGATIVE_INFINITY; // asked for once
    const code = region.code;
    if (code.region !== region || code.regionPending) return;
    this.stats.promotions++;
    const syncMaxBytes = this.syncPromotions ? Number.POSITIVE_INFINITY : 0;
    const thread = this.syncPromotions ? undefined : this.compileThread;
    const request = { entries: region.entryOffsets, optimizable: true };
    this.compile(code, region.view, region.base, request, { syncMaxBytes, thread });
  }

  /** The region running now (named by the hart's block: it changes when regions chain) and its page's address. */
  #running(h: Hart): WasmRegion | undefined {
    return this.#bySlot[h.blockI32[REGION_INDEX] ?? 0];
  }

  /** After a slow path: stop chaining when the run loop has something to do before the next instruction. */
  #checkChain(h: Hart): void {
    if (h.irqDirty || h.kickRequested || h.stop !== STOP_NONE) h.blockI32[CHAIN_STOP_INDEX] = 1;
  }

  /**
   * Compile the code of `code`'s page (its bytes at `base` in `view`) reachable from the request's entries,
   * replacing the page's region if it has one. Where:
   * - with a compiler `thread` (compile-service.ts), all of it runs there while the hart goes on interpreting
   *   (but a region of at most COLD_SYNC_MAX_INSNS instructions asked for before the thread was started is
   *   compiled here, as below, and the thread started);
   * - else a module of at most `syncMaxBytes` generated bytes is compiled here and the region returned (see
   *   WASM_SYNC_MAX_BYTES);
   * - else the plan and the bytes are made here and JavaScriptCore compiles the module on its own thread.
   * A region compiled elsewhere is installed when it is ready, unless the page was written meanwhile (its
   * `generation` moved): then it is dropped.
   * The module is for JavaScriptCore's baseline tier only (baseline-only.ts) unless `optimizable` or small.
   * Returns undefined when nothing could be compiled or the compile runs elsewhere.
   */
  compile(
    code: CodePage,
    view: DataView,
    base: number,
    request: RegionRequest,
    where: { readonly syncMaxBytes: number; readonly thread?: CompileService | undefined },
  ): WasmRegion | undefined {
    const started = performance.now();
    const mapBase = this.#entryMap(code);
    if (mapBase < 0) return undefined;
    let plan: RegionPlan | undefined;
    if (where.thread !== undefined) {
      if (!where.thread.started) plan = planRegion(view, base, request.entries);
      if (plan === undefined || plan.insnCount > COLD_SYNC_MAX_INSNS) {
        this.#compileOnThread(where.thread, code, view, base, request, mapBase, started);
        return undefined;
      }
      // (COLD_SYNC_MAX_INSNS) Compiled here; the thread starts meanwhile for the next ones.
      where.thread.start();
      where = { syncMaxBytes: Number.POSITIVE_INFINITY };
      this.stats.coldSyncCompiles++;
    } else {
      plan = planRegion(view, base, request.entries);
    }
    if (plan === undefined) {
      this.stats.failures++;
      return undefined;
    }
    const generated = compileRegion(plan, mapBase, this.#threaded);
    const { bytes, optimizable } = moduleForTier(generated.bytes, request.optimizable);
    const compiled = { ...generated, bytes };
    const installed = { entries: request.entries, optimizable };
    const s = this.stats;
    s.instructions += plan.insnCount;
    s.bytes += generated.bytes.length; // without the padding: the compile cost per KiB is the generated code's
    if (generated.bytes.length <= where.syncMaxBytes) {
      s.syncCompiles++;
      const region = this.#install(
        code,
        new WebAssembly.Module(compiled.bytes),
        compiled,
        installed,
        generated.bytes.length,
        view,
        base,
      );
      s.compileMs += performance.now() - started;
      return region;
    }
    s.compileMs += performance.now() - started;
    const generation = code.generation;
    code.regionPending = true;
    s.pending++;
    WebAssembly.compile(compiled.bytes).then(
      (module) => {
        code.regionPending = false;
        s.pending--;
        s.backgroundMs += performance.now() - started;
        if (code.generation !== generation) {
          s.discarded++;
          return;
        }
        const installing = performance.now();
        this.#install(code, module, compiled, installed, generated.bytes.length, view, base);
        s.compileMs += performance.now() - installing;
      },
      () => {
        code.regionPending = false;
        s.pending--;
        s.failures++;
      },
    );
    return undefined;
  }

  /** The arena offset of the entry map of `code`'s page, allocated on first use; -1 (a failure counted) if full. */
  #entryMap(code: CodePage): number {
    if (code.entryMapBase < 0) {
      const mapBase = this.#arena.allocate(ENTRY_MAP_BYTES, 64) ?? -1;
      if (mapBase < 0) {
        this.stats.failures++;
        return -1;
      }
      code.entryMapBase = mapBase;
    }
    return code.entryMapBase;
  }

  /**
   * Post the compile of `code`'s page to the compiler thread, with a copy of the page as it is now; install the
   * region when the reply is delivered (`deliverCompiled`) if the page has not been written since.
   */
  #compileOnThread(
    service: CompileService,
    code: CodePage,
    view: DataView,
    base: number,
    request: RegionRequest,
    mapBase: number,
    started: number,
  ): void {
    const s = this.stats;
    const page = new Uint8Array(PAGE_SIZE);
    page.set(new Uint8Array(view.buffer, view.byteOffset + base, PAGE_SIZE));
    const generation = code.generation;
    code.regionPending = true;
    s.pending++;
    s.threadCompiles++;
    const { entries, optimizable } = request;
    service.request({ page, entries, mapBase, threaded: this.#threaded, optimizable }, (reply) => {
      code.regionPending = false;
      s.pending--;
      s.backgroundMs += performance.now() - started;
      if (reply.kind !== "compiled") {
        s.failures++;
        if (reply.kind === "empty") s.threadMs += reply.ms;
        return;
      }
      s.threadMs += reply.ms;
      // (A module the thread had kept cost nothing to compile: it says nothing about what the next one costs.)
      if (reply.cached) s.cachedCompiles++;
      else this.cost.note(reply.ms);
      s.instructions += reply.offsets.length;
      s.bytes += reply.generatedBytes;
      if (code.generation !== generation) {
        s.discarded++;
        return;
      }
      const installing = performance.now();
      // The instructions the module was generated from: the page copy decoded again at the same offsets.
      const pageView = new DataView(page.buffer);
      const insns: Insn[] = [];
      for (const off of reply.offsets) {
        const insn = decodeAt(pageView, 0, off);
        if (insn === undefined) {
          s.failures++;
          return;
        }
        insns.push(insn);
      }
      const compiled = { insns, offsets: reply.offsets, blockStarts: reply.blockStarts };
      const installed = { entries: request.entries, optimizable: reply.optimizable };
      this.#install(code, reply.module, compiled, installed, reply.generatedBytes, view, base);
      s.compileMs += performance.now() - installing;
    });
    s.compileMs += performance.now() - started;
  }

  /** Instantiate a region's module and make it the page's region (its entry map filled, its slots marked). */
  #install(
    code: CodePage,
    module: WebAssembly.Module,
    compiled: Pick<CompiledRegion, "insns" | "offsets" | "blockStarts">,
    request: RegionRequest,
    generatedBytes: number,
    view: DataView,
    base: number,
  ): WasmRegion {
    const instance = new WebAssembly.Instance(module, this.#imports);
    const run = instance.exports.run as RegionFunction;
    const map = new Uint16Array(this.#arena.buffer, code.entryMapBase, SLOTS_PER_PAGE);
    const slotWord = new Int32Array(this.#arena.buffer, code.entryMapBase + REGION_SLOT_OFFSET, 1);
    const old = code.region;
    if (old !== undefined) {
      old.invalidate();
      // Slots the new region does not start a block at go back to the interpreter (decoded afresh).
      for (const start of old.blockStarts) code.slots[start] = 0;
      this.stats.recompiles++;
    }
    map.fill(NO_BLOCK);
    compiled.blockStarts.forEach((start, k) => {
      map[start >> 1] = k;
      code.slots[start] = SLOT_COMPILED | SLOT_DECODED;
    });
    const slot = this.#allocateSlot();
    this.table.set(slot, run);
    const region = new WasmRegion(
      slot,
      slotWord,
      this.#freeSlots,
      run,
      compiled.insns,
      compiled.offsets,
      map,
      compiled.blockStarts,
      request.entries,
      request.optimizable,
      generatedBytes,
      code,
      view,
      base,
    );
    this.#bySlot[slot] = region;
    code.region = region;
    slotWord[0] = slot;
    this.stats.regions++;
    if (request.optimizable) this.stats.optimizableRegions++;
    return region;
  }

  /**
   * A table slot for a new region: a free one whose region is invalid (slots are only reused here, while no
   * region runs), else a new one.
   */
  #allocateSlot(): number {
    for (;;) {
      const free = this.#freeSlots.pop();
      if (free === undefined) break;
      if (this.#bySlot[free]?.valid !== true) return free;
    }
    const slot = this.#bySlot.length;
    this.#bySlot.push(undefined);
    if (slot >= this.table.length) this.table.grow(TABLE_GROWTH);
    return slot;
  }

  #load(idx: number, vaLo: number, vaHi: number, retired: number): number {
    const h = this.#hart;
    if (h === undefined) return 1;
    const region = this.#running(h);
    const d = region?.insns[idx];
    if (region === undefined || d === undefined) return 1;
    h.pc = (h.blockF64[VBASE_INDEX] ?? 0) + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    const v = loadSlow(h, vaHi * TWO_POW_32 + (vaLo >>> 0), D.loadWidth(d.op), transformedInstruction(d), d.len);
    if (!h.loadOk) {
      h.blockF64[NEXT_PC_INDEX] = h.pc;
      return 1;
    }
    h.blockI32[LOAD_LO_INDEX] = v;
    h.blockI32[LOAD_HI_INDEX] = h.ldHi;
    this.#checkChain(h);
    return 0;
  }

  #store(idx: number, vaLo: number, vaHi: number, lo: number, hi: number, retired: number): number {
    const h = this.#hart;
    if (h === undefined) return 1;
    const region = this.#running(h);
    const d = region?.insns[idx];
    if (region === undefined || d === undefined) return 1;
    h.pc = (h.blockF64[VBASE_INDEX] ?? 0) + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    const width = 1 << (d.op - D.OP_SB);
    if (!storeSlow(h, vaHi * TWO_POW_32 + (vaLo >>> 0), width, lo, hi, transformedInstruction(d), d.len)) {
      h.blockF64[NEXT_PC_INDEX] = h.pc;
      return 1;
    }
    this.#checkChain(h);
    if (!region.valid) {
      this.stats.invalidations++;
      return 2;
    }
    // The store touched a watched range (PhysicalMemory.watchWrites), or the VMM kicked: leave after it.
    return h.kickRequested ? 2 : 0;
  }

  #exec(idx: number, retired: number): number {
    const h = this.#hart;
    if (h === undefined) return EXEC_TRAP;
    const region = this.#running(h);
    const d = region?.insns[idx];
    if (region === undefined || d === undefined) return EXEC_TRAP;
    h.pc = (h.blockF64[VBASE_INDEX] ?? 0) + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    let r: number;
    if ((d.op === D.OP_AMO_W || d.op === D.OP_AMO_D) && atomicFast(h, d)) {
      h.pc += d.len;
      r = EXEC_NEXT;
    } else if (d.op >= D.OP_CSRRW && d.op <= D.OP_CSRRCI) {
      r = execCsr(h, d);
    } else {
      r = execute(h, d);
    }
    // An AMO or FP store into this region's own page: leave right after it.
    if (r === EXEC_NEXT && !region.valid) {
      this.stats.invalidations++;
      r = EXEC_END;
    }
    // One into a watched range (PhysicalMemory.watchWrites), or the VMM kicked: the run ends after it.
    if (r === EXEC_NEXT && h.kickRequested) r = EXEC_END;
    h.blockF64[NEXT_PC_INDEX] = h.pc;
    this.#checkChain(h);
    return r;
  }
}
