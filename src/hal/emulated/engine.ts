/**
 * The hart's run loops.
 *
 * - `runReference`: the plain interpreter. Every instruction is fetched through the MMU, decoded and executed;
 *   nothing is cached except translations. It is the yardstick for the fast path.
 * - `runFast`: finds the page of the pc through the fetch TLB and runs the fast interpreter from that page's
 *   decode cache (in WebAssembly, wasm/interp-module.ts, where the hart and the page's decode cache are in the
 *   arena; else `interp.ts`), or a compiled block (`jit.ts`) where one starts. Slots that control keeps landing
 *   on, at a high rate, get compiled: self-looping blocks after HOT_LOOP_THRESHOLD landings, others after
 *   HOT_THRESHOLD (see MIN_HEAT_RATE and MIN_STABLE_HEAT_RATE). With the WebAssembly tier a page's region is
 *   compiled when a slot of it is landed on WASM_HOT_THRESHOLD times at that rate, when the interpreter has run
 *   INTERPRETED_HOT_INSNS of its instructions at INTERPRETED_MIN_SHARE, or when regions have returned to it
 *   REGION_MISS_THRESHOLD times for want of a region or a block. (The WebAssembly interpreter enters regions and
 *   takes their returns itself, counting the last two per page, and comes back here when a page reaches them.)
 *   Interrupts are checked whenever the interpreter returns (it does after every instruction that can change
 *   interrupt state), the Sstc comparators every TIMER_CHECK_INTERVAL or more instructions (timerCheckInterval).
 *
 * Both return when `hart.stop` is set or the budget (instructions, with a trap counting as one step so a trap
 * loop cannot spin forever) is used up.
 */

import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import type { Arena } from "./arena.ts";
import { buildBlock, SLOT_COMPILED, SLOT_DECODED, SLOT_STRADDLE } from "./block.ts";
import { decode } from "./decode.ts";
import { execute } from "./exec.ts";
import { EXEC_TRAP, type Hart, STOP_KICK, STOP_NONE } from "./hart.ts";
import { interpret } from "./interp.ts";
import { takeInterrupt } from "./interrupts.ts";
import { compileBlock } from "./jit.ts";
import { fetchInstruction, translateFetch } from "./memory-slow.ts";
import type { CodePage } from "./phys-memory.ts";
import { timeNow, updateTimers } from "./timers.ts";
import { TLB_MASK } from "./tlb.ts";
import { NO_BLOCK } from "./wasm/compile.ts";
import { compileService } from "./wasm/compile-service.ts";
import { WasmInterpreter } from "./wasm/interp-runner.ts";
import { WasmTier } from "./wasm/tier.ts";

/**
 * How often (in instructions) the Sstc comparators are checked against the clock, at least. Each check ends the
 * running region (its limit), which costs a return to the run loop (~0.3 us). The interval grows with the hart's
 * speed, so that checks come about every TIMER_CHECK_TICKS of the clock (`timerCheckInterval`): a tight loop at
 * 4.5 G instructions/s was checking every 2 us, spending 15% of its time on the returns (riscv-programs' int-loop).
 */
export const TIMER_CHECK_INTERVAL = 8192;
/** The most instructions between two checks of the comparators. */
export const TIMER_CHECK_MAX_INTERVAL = 1 << 18;
/**
 * Clock ticks (the timebase: 10 MHz on the boards, so 30 us) aimed for between two checks: the latency of a timer
 * interrupt, as when the hart runs ~300 M instructions/s and checks every TIMER_CHECK_INTERVAL.
 */
export const TIMER_CHECK_TICKS = 300;
/** Landings on a slot before the block there is compiled. */
export const HOT_THRESHOLD = 32_768;
/** Blocks that branch back to their own start loop inside compiled code; they pay back much sooner. */
export const HOT_LOOP_THRESHOLD = 1024;
/**
 * Landings per retired instruction a slot must keep up, from its first landing on, to be compiled. A fresh
 * compiled function spends its first thousands of calls in JavaScriptCore's slow tiers and costs compiler-thread
 * time, so only code that is hot right now and will stay hot pays back; a slot that falls below the rate starts
 * counting again.
 */
export const MIN_HEAT_RATE = 1 / 128;
/**
 * The rate that suffices while the code being run is stable (`Hart.codeChurn` below STABLE_CODE_CHURN). Whether
 * compiling pays back depends on how many more calls will come, which a rate does not predict: in a Linux boot,
 * blocks landed on every 6-150 instructions for a while were called ~100k times in all and ran slower compiled
 * than interpreted; a bare-metal bytecode interpreter's handlers, landed on every 150-300 instructions, run for
 * the whole program. What tells them apart is whether the hart still meets new code.
 */
export const MIN_STABLE_HEAT_RATE = 1 / 512;
/** Decodes per retired instruction (moving average) below which the code being run counts as stable. */
export const STABLE_CODE_CHURN = 1e-6;
/**
 * Weight of TIMER_CHECK_INTERVAL instructions' decode rate in `Hart.codeChurn` (a memory of about 32 such
 * intervals); a longer interval between checks weighs as much more.
 */
const CHURN_WEIGHT = 1 / 32;
/** Heat is examined every HEAT_CHECK_INTERVAL landings (a power of two; smaller when a threshold is smaller). */
export const HEAT_CHECK_INTERVAL = 1024;
/**
 * A self-loop's threshold grows by HOT_LOOP_THRESHOLD for every LOOP_INSNS_PER_THRESHOLD instructions of its
 * body: a fresh function's first calls cost in proportion to its size, so a long loop entered for a few
 * iterations at a time (measured in a Linux boot: 35 instructions, ~8 iterations per entry) ran at 2-4 MIPS
 * compiled, far below the interpreter.
 */
export const LOOP_INSNS_PER_THRESHOLD = 8;

export interface EngineOptions {
  /** Compile hot code (default true): to WebAssembly where the hart has an arena, else to JavaScript. */
  readonly jit: boolean;
  /** Use the WebAssembly tier when the hart has an arena (default true); false keeps the JavaScript compiler. */
  readonly wasm?: boolean;
  /** Landings on a slot before its page is compiled to WebAssembly (default WASM_HOT_THRESHOLD). */
  readonly wasmThreshold?: number;
  /**
   * Compile WebAssembly on the hart's thread and use it at once (tests and the eager tiers, for determinism),
   * instead of in the background while the hart goes on interpreting (default).
   */
  readonly wasmSync?: boolean;
  /**
   * Without `wasmSync`: modules of at most this many generated bytes are still compiled on the hart's thread and
   * used at once (default WASM_SYNC_MAX_BYTES; 0 compiles every module in the background).
   */
  readonly wasmSyncMaxBytes?: number;
  /**
   * Without `wasmSync`: compile regions on the process's compiler thread (compile-service.ts) when there is one
   * (default true); false compiles them on the hart's thread, or in JavaScriptCore's background compile.
   */
  readonly wasmCompileThread?: boolean;
  /**
   * Let WebAssembly regions go on into the next compiled region themselves (default true), returning here only
   * at the timer check, traps, run-ending instructions, slow paths that need the run loop, and misses.
   */
  readonly wasmChain?: boolean;
  /**
   * Run the fast interpreter's work in WebAssembly (wasm/interp-module.ts) where the hart and the page's decode
   * cache are in the arena (default true); false keeps `interpret` (interp.ts) for all of it.
   */
  readonly wasmInterpreter?: boolean;
  readonly hotThreshold: number;
  readonly hotLoopThreshold: number;
  /** Default MIN_HEAT_RATE (MIN_STABLE_HEAT_RATE while the code is stable); 0 compiles whatever the rate. */
  readonly minHeatRate?: number;
}

/** Landings on a slot (at the heat rate above) before its page is compiled to WebAssembly. */
export const WASM_HOT_THRESHOLD = 2048;
/**
 * Modules of at most this many generated bytes are compiled on the hart's thread and run at once; larger ones in
 * the background. JavaScriptCore has one WebAssembly compile thread, at low priority, and the hart only learns a
 * background compile is done when the event loop turns: in the in-guest LCG's boot a region became ready 2-240 ms
 * (27 ms on average) after it was asked for (load ~7), its page interpreted meanwhile — the LCG's own 7-instruction
 * loop among them. Compiling a module here costs ~0.8 ms (parsing baseline-only.ts's padding) plus ~12 ns per
 * generated byte (`new WebAssembly.Module` on modules taken from that boot: 0.8 ms at 3 KiB, 1.1-1.2 ms at
 * 17-32 KiB, 1.4 ms at 56 KiB), so up to 32 KiB (~70% of the boot's regions) the hart pays at most ~1.2 ms per
 * region on top of the 1-10 ms it spends planning and generating it. Debian's boot to init, 3 rounds at load ~7,
 * hart-thread CPU: all in the background 5.68/5.02/4.85 s, up to 8 KiB 5.01/4.80/5.06 s, everything here
 * 4.72/4.99/4.87 s; wall time 1-3 s shorter with either; the in-guest LCG (4 rounds) 105-159 ms in the
 * background, 90-104 ms up to 8 KiB.
 */
export const WASM_SYNC_MAX_BYTES = 32 * 1024;
/** Recompiles of one page's region (to add entries) before it stays as it is until the page is written. */
export const MAX_REGION_COMPILES = 8;
/** Times a page's region may be dropped by writes to the page before the page is no longer compiled. */
export const MAX_REGION_INVALIDATIONS = 16;
/**
 * Instructions the interpreter must run from one page, at INTERPRETED_MIN_SHARE of all instructions retired
 * meanwhile, before the page is compiled from where it is entered. The landing rate misses code whose entries are
 * landed on rarely but which runs long each time: straight-line functions of hundreds of instructions (hashes,
 * multi-precision arithmetic) and loops whose body is longer than 1/MIN_HEAT_RATE instructions. Debian's 6.12
 * kernel booted to init and through its module signature checks (bench/emulated-linux-lcg.ts's guest) ran ~340 M
 * of ~2.2 G instructions interpreted, most on such pages, and the interpreter took 1/3 of the hart thread's CPU
 * time (the regions 1/4); with this rule ~220 M stay interpreted. A region costs ~5 ms on the hart's thread and
 * 20-200 ms on a compiler thread (bench/emulated-linux-stats.ts prints both); the interpreter runs an instruction
 * ~7 ns slower than a region, so 2^20 instructions (~7 ms more) at a steady share pays back within a few times that
 * much again.
 */
export const INTERPRETED_HOT_INSNS = 2 ** 20;
/**
 * The same count where regions compile on the compiler thread (wasm/compile-service.ts), with no share to keep up:
 * a region then costs the hart's thread ~0.6 ms, so a page pays back after ~2^17 interpreted instructions however
 * spread out they are. Debian's 6.12 boot: 97% of instructions in regions against 95%.
 */
export const INTERPRETED_HOT_INSNS_OFF_THREAD = 2 ** 18;
/**
 * The most the compile-cost factor (WasmTier.costFactor, up to MAX_COST_FACTOR while compiling is dear) raises the
 * heat rule's threshold by: loops that dominate what runs (int-loop's and the LCG's, landed on every 2-20
 * instructions) pay back a cold process's first region within a few milliseconds, so they are compiled as soon as
 * they were at a factor of 32. The volume and miss rules follow the whole factor.
 */
export const MAX_HEAT_COST_FACTOR = 32;
/**
 * While compiling is this much dearer than warm (WasmTier.costFactor above it), the heat rule asks for at least
 * COLD_MIN_HEAT_RATE too: a process's first regions cost the hart far more than their compile (see
 * COLD_REGION_COST_MS), which only a loop that keeps the hart busy pays back soon. The project kernel's boot compiled
 * two kernel loops landed on every ~110 instructions at a factor of 30 and 27, and was faster without them.
 */
export const COLD_COST_FACTOR = 16;
export const COLD_MIN_HEAT_RATE = 1 / 64;
/** Share of all retired instructions a page's interpreted runs must keep up to count toward compiling it. */
export const INTERPRETED_MIN_SHARE = 1 / 64;
/**
 * Times regions return because the next pc is on this page but has no region or no block there, before the page
 * is compiled (or compiled again) with that pc as an entry. Each such return costs a trip into the interpreter
 * for what follows (through the run loop, ~0.3-1 us, before the WebAssembly interpreter took these returns
 * itself); a region costs ~5 ms on the hart's thread
 * (bench/emulated-linux-stats.ts), so ~8k misses pay for one. The landing rate misses these: in Debian's boot,
 * 3.7 M such returns spread over pages each landed on far less often than MIN_STABLE_HEAT_RATE.
 */
export const REGION_MISS_THRESHOLD = 8192;
/** The same count where regions compile on the compiler thread (a region then costs the hart's thread ~0.6 ms). */
export const REGION_MISS_THRESHOLD_OFF_THREAD = 4096;
/** Slots of a page with at least this many landings become entries when the page is compiled. */
const REGION_ENTRY_HEAT = 8;

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  jit: true,
  hotThreshold: HOT_THRESHOLD,
  hotLoopThreshold: HOT_LOOP_THRESHOLD,
  minHeatRate: MIN_HEAT_RATE,
};

/** Engine options that compile every block (or page region) the first time control lands on it. */
export const COMPILE_AT_FIRST_LANDING: EngineOptions = {
  jit: true,
  hotThreshold: 1,
  hotLoopThreshold: 1,
  minHeatRate: 0,
  wasmThreshold: 1,
  wasmSync: true,
};

/** The execution tiers a vCPU can be limited to (AXVISOR_EMULATED_TIER), fastest first. */
export const ENGINE_TIERS = ["wasm", "js", "interp", "wasm-interp", "reference", "wasm-eager", "js-eager"] as const;
export type EngineTier = (typeof ENGINE_TIERS)[number];

/**
 * The engine a new vCPU starts with, from the AXVISOR_EMULATED_TIER environment variable: `wasm` (default: the
 * fast interpreter plus the WebAssembly tier), `js` (the fast interpreter plus the JavaScript block compiler),
 * `interp` (the TypeScript fast interpreter alone), `wasm-interp` (the fast interpreter in WebAssembly alone) or
 * `reference` (the plain interpreter); `wasm-eager` and `js-eager`
 * compile every block at its first landing (slow, but short conformance programs then run almost entirely
 * compiled). It lets conformance suites and end-to-end scripts run the same guest on each tier without a config
 * field. Throws on any other value.
 */
export function engineFromEnvironment(
  value: string | undefined = process.env.AXVISOR_EMULATED_TIER,
  chain: string | undefined = process.env.AXVISOR_WASM_CHAIN,
): {
  readonly engine: "fast" | "reference";
  readonly options: EngineOptions;
} {
  const { engine, options } = engineOfTier(value);
  if (chain === undefined || chain === "" || chain === "1") return { engine, options };
  if (chain === "0") return { engine, options: { ...options, wasmChain: false } };
  throw new Error(
    `Cannot choose whether WebAssembly regions chain: AXVISOR_WASM_CHAIN is ${JSON.stringify(chain)}, expected 0 or 1`,
  );
}

function engineOfTier(value: string | undefined): {
  readonly engine: "fast" | "reference";
  readonly options: EngineOptions;
} {
  const tier = value === undefined || value === "" ? "wasm" : value;
  switch (tier) {
    case "wasm":
      return { engine: "fast", options: DEFAULT_ENGINE_OPTIONS };
    case "js":
      return { engine: "fast", options: { ...DEFAULT_ENGINE_OPTIONS, wasm: false } };
    case "interp":
      return { engine: "fast", options: { ...DEFAULT_ENGINE_OPTIONS, jit: false, wasmInterpreter: false } };
    case "wasm-interp":
      return { engine: "fast", options: { ...DEFAULT_ENGINE_OPTIONS, jit: false } };
    case "reference":
      return { engine: "reference", options: DEFAULT_ENGINE_OPTIONS };
    case "wasm-eager":
      return { engine: "fast", options: COMPILE_AT_FIRST_LANDING };
    case "js-eager":
      return { engine: "fast", options: { ...COMPILE_AT_FIRST_LANDING, wasm: false } };
    default:
      throw new Error(
        `Cannot choose the emulated execution tier: AXVISOR_EMULATED_TIER is ${JSON.stringify(value)}, expected one of ${ENGINE_TIERS.join(", ")}`,
      );
  }
}

/** Fetch, decode and execute one instruction without the decode caches. Returns 1 if it retired. */
export function stepReference(h: Hart): number {
  const word = fetchInstruction(h, h.pc);
  if (word < 0) return 0;
  const r = execute(h, decode(word));
  if (r === EXEC_TRAP) return 0;
  h.icount++;
  return 1;
}

/**
 * Common loop prologue: interrupts, kick, timers. Returns false when the run must end. Exported for the debug
 * run loop (debug.ts), which is the reference loop with the debugger's checks between instructions.
 */
export function boundary(h: Hart): boolean {
  if (h.irqDirty) {
    h.irqDirty = false;
    takeInterrupt(h);
    if (h.stop !== STOP_NONE) return false;
  }
  if (h.kickRequested) {
    h.kickRequested = false;
    h.stop = STOP_KICK;
    return false;
  }
  if (h.icount >= h.nextTimerCheck) {
    const now = timeNow(h);
    h.nextTimerCheck = h.icount + timerCheckInterval(h, now);
    updateCodeChurn(h);
    updateTimers(h, now);
    if (h.irqDirty) return boundary(h);
  }
  return true;
}

/**
 * Instructions until the next check of the comparators: what the hart retired per clock tick since the last
 * check, times TIMER_CHECK_TICKS, within [TIMER_CHECK_INTERVAL, TIMER_CHECK_MAX_INTERVAL]. A clock that did not
 * move (a test's, or a check right after another) gives the least.
 */
function timerCheckInterval(h: Hart, now: number): number {
  const ticks = now - h.timerCheckTime;
  const retired = h.icount - h.timerCheckIcount;
  h.timerCheckTime = now;
  h.timerCheckIcount = h.icount;
  if (ticks <= 0 || retired <= 0) return TIMER_CHECK_INTERVAL;
  const interval = Math.floor((retired / ticks) * TIMER_CHECK_TICKS);
  return Math.max(TIMER_CHECK_INTERVAL, Math.min(TIMER_CHECK_MAX_INTERVAL, interval));
}

/** Fold the decodes since the last update into the hart's code-churn average. */
function updateCodeChurn(h: Hart): void {
  const retired = h.icount - h.churnIcount;
  if (retired <= 0) return;
  const rate = (h.stats.decodes - h.churnDecodes) / retired;
  h.codeChurn += (rate - h.codeChurn) * Math.min(1, (CHURN_WEIGHT * retired) / TIMER_CHECK_INTERVAL);
  h.churnDecodes = h.stats.decodes;
  h.churnIcount = h.icount;
}

/** Returns the number of steps (instructions, traps) used. */
export function runReference(h: Hart, budget: number): number {
  let steps = 0;
  while (h.stop === STOP_NONE && steps < budget) {
    if (!boundary(h)) break;
    steps += Math.max(1, stepReference(h));
  }
  return steps;
}

/** The VM's arena when the hart's state is in it too (what WebAssembly code needs to run the hart). */
function arenaOf(h: Hart): Arena | undefined {
  return h.blockBase < 0 ? undefined : h.memory.arena;
}

/** The WebAssembly tier of the hart's VM, created on first use; undefined without an arena. */
export function wasmTierOf(h: Hart): WasmTier | undefined {
  const arena = arenaOf(h);
  if (arena === undefined) return undefined;
  // Threaded code (atomic read-modify-writes, fences) where harts on other threads share the RAM (threads/).
  h.memory.wasmTier ??= new WasmTier(arena, h.sharedMemory);
  return h.memory.wasmTier;
}

/**
 * The WebAssembly interpreter of the hart's VM, created on first use; undefined without an arena. With `tier` (the
 * VM's), one that enters its regions (made again if the one there was made before the tier).
 */
export function wasmInterpreterOf(h: Hart, tier?: WasmTier): WasmInterpreter | undefined {
  const arena = arenaOf(h);
  if (arena === undefined) return undefined;
  const made = h.memory.wasmInterpreter;
  if (made === undefined || (tier !== undefined && !made.entersRegionsOf(tier)))
    h.memory.wasmInterpreter = new WasmInterpreter(arena, h.sharedMemory, tier);
  return h.memory.wasmInterpreter;
}

/** The most instructions one interpreter or region run is asked for (an int32, see `runFast`). */
const MAX_RUN_LIMIT = 2 ** 30;

export function runFast(h: Hart, budget: number, options: EngineOptions = DEFAULT_ENGINE_OPTIONS): number {
  const counting = options.jit;
  const tier = options.jit && options.wasm !== false ? wasmTierOf(h) : undefined;
  if (tier !== undefined) {
    tier.chaining = options.wasmChain !== false;
    tier.syncPromotions = options.wasmSync === true;
    tier.compileThread =
      options.wasmSync !== true && options.wasmCompileThread !== false ? compileService() : undefined;
  }
  const interpreter =
    options.wasm !== false && options.wasmInterpreter !== false ? wasmInterpreterOf(h, tier) : undefined;
  const compileThread = tier?.compileThread;
  const volumeThreshold = compileThread === undefined ? INTERPRETED_HOT_INSNS : INTERPRETED_HOT_INSNS_OFF_THREAD;
  const missThreshold = compileThread === undefined ? REGION_MISS_THRESHOLD : REGION_MISS_THRESHOLD_OFF_THREAD;
  // The largest power of two not above the thresholds (and HEAT_CHECK_INTERVAL), minus one.
  const interval = Math.min(HEAT_CHECK_INTERVAL, options.hotThreshold, options.hotLoopThreshold);
  const heatMask = counting ? 2 ** Math.floor(Math.log2(Math.max(1, interval))) - 1 : -1;
  let steps = 0;
  // Whether the last region returned here because h.pc had no region or no block (see REGION_MISS_THRESHOLD).
  let regionMissed = false;
  while (h.stop === STOP_NONE && steps < budget) {
    const missed = regionMissed;
    regionMissed = false;
    if (!boundary(h)) break;
    // (Replies for other VMs' pages are delivered when those VMs run.)
    if (compileThread !== undefined && tier?.stats.pending !== 0 && compileThread.hasReplies) compileThread.deliver();
    const pc = h.pc;
    const set = h.itlb;
    const i = (pc >>> 12) & TLB_MASK;
    const pageOff = pc & (PAGE_SIZE - 1);
    if (set.xtag[i] !== pc - pageOff) {
      if (translateFetch(h, pc) < 0) {
        steps++;
        continue;
      }
      if (set.xtag[i] !== pc - pageOff) {
        // PMP allows this fetch but not the whole page: no exec TLB entry, so no decode cache either.
        steps += Math.max(1, stepReference(h));
        continue;
      }
    }
    const code = set.xcode[i];
    if (code === undefined) {
      steps += Math.max(1, stepReference(h));
      continue;
    }
    // Self-looping compiled blocks stop at the next timer check so Sstc interrupts are not delayed. The `| 0` keeps
    // it an int32 for the callees' argument speculation (icount is a double, see Hart.icount); a budget is far
    // below 2^30.
    const limit = Math.max(1, Math.min(budget - steps, h.nextTimerCheck - h.icount, MAX_RUN_LIMIT)) | 0;
    const slot = pageOff >> 1;
    const kind = (code.slots[pageOff] ?? 0) & 0x7f;
    if (kind === SLOT_COMPILED) {
      const region = code.region;
      if (region !== undefined && tier !== undefined) {
        const entry = region.entries[slot] ?? NO_BLOCK;
        if (entry !== NO_BLOCK) {
          // Regions chaining here find this page's region record through the fetch TLB's WebAssembly copy.
          if (set.wasmExecRecord(i) !== code.entryMapBase) set.setWasmExec(i, pc - pageOff, code);
          const retired = tier.enter(h, region, pc - pageOff, entry, limit);
          regionMissed = tier.missed;
          h.stats.regionEntries++;
          h.stats.regionInstructions += retired;
          steps += Math.max(1, retired);
          continue;
        }
      }
      const compiled = code.blocks?.[slot]?.compiled;
      steps += Math.max(1, compiled === undefined ? stepReference(h) : compiled(h, limit));
      continue;
    }
    if (kind === SLOT_STRADDLE) {
      steps += Math.max(1, stepReference(h));
      continue;
    }
    if (counting) {
      // Entries from here count as landings too: the fall-through successors of compiled blocks get hot.
      const hv = (code.heat[slot] ?? 0) + 1;
      code.heat[slot] = hv;
      if (hv === 1) code.heatStart[slot] = h.icount;
      if ((hv & heatMask) === 0) {
        if (
          tier !== undefined
            ? considerRegion(h, code, i, pageOff, options, tier)
            : considerCompiling(h, code, i, pageOff, options)
        )
          continue;
      }
    }
    // (The thresholds grow while compiling is dear: WasmTier.costFactor.)
    if (
      tier !== undefined &&
      code.interpreted >= volumeThreshold &&
      code.interpreted >= volumeThreshold * tier.costFactor &&
      considerVolume(h, code, i, pageOff, options, tier)
    )
      continue;
    if (
      missed &&
      tier !== undefined &&
      ++code.regionMisses >= missThreshold &&
      code.regionMisses >= missThreshold * tier.costFactor &&
      considerMisses(h, code, i, pageOff, options, tier)
    )
      continue;
    let ran: number;
    if (interpreter !== undefined && WasmInterpreter.canRun(h, code)) {
      // It counts each page's interpreted volume and region misses itself, and leaves a page where either
      // reaches what the checks above look for.
      const factor = tier?.costFactor;
      ran =
        factor === undefined
          ? interpreter.run(h, code, limit, heatMask)
          : interpreter.run(h, code, limit, heatMask, missThreshold * factor, volumeThreshold * factor);
      regionMissed = interpreter.missed;
    } else {
      ran = interpret(h, limit, heatMask);
      if (tier !== undefined) {
        if (code.interpreted === 0) code.interpretedSince = h.icount - ran;
        code.interpreted += ran;
      }
    }
    steps += Math.max(1, ran);
  }
  return steps;
}

/**
 * A heat checkpoint of `pageOff` in `code` (fetch-TLB entry `i`): compile the block there if control has landed
 * on it often enough, recently enough — self-loops after `hotLoopThreshold` landings, other blocks after
 * `hotThreshold`. Returns true when the slot now runs compiled.
 */
function considerCompiling(h: Hart, code: CodePage, i: number, pageOff: number, options: EngineOptions): boolean {
  const slot = pageOff >> 1;
  const heat = code.heat[slot] ?? 0;
  const elapsed = Math.max(1, h.icount - (code.heatStart[slot] ?? 0));
  let minRate = options.minHeatRate ?? MIN_HEAT_RATE;
  if (h.codeChurn < STABLE_CODE_CHURN) minRate = Math.min(minRate, MIN_STABLE_HEAT_RATE);
  if (heat / elapsed < minRate) {
    code.heat[slot] = 0; // lukewarm: start a new window
    return false;
  }
  if (heat < Math.min(options.hotLoopThreshold, options.hotThreshold)) return false;
  const set = h.itlb;
  const view = set.xview[i];
  const mem = set.xblock[i];
  if (view === undefined || mem === undefined) return false;
  code.blocks ??= [];
  const blocks = code.blocks;
  let b = blocks[slot];
  const base = (h.pc - pageOff + (set.xdelta[i] ?? 0)) | 0;
  if (b === undefined) {
    // The page must be marked as code before decoding from it (stores to it then drop what is built here).
    h.memory.codePage(mem, Math.floor(base / PAGE_SIZE));
    b = buildBlock(view, base, pageOff);
    if (b === undefined) return false;
    h.stats.blockBuilds++;
    blocks[slot] = b;
  }
  if (b.noCompile || b.compiled !== undefined) return false;
  const threshold = b.selfLoop
    ? options.hotLoopThreshold * Math.ceil(b.insns.length / LOOP_INSNS_PER_THRESHOLD)
    : options.hotThreshold;
  if (heat < threshold) return false;
  h.stats.compiles++;
  b.compiled = compileBlock(b);
  if (b.compiled === undefined) {
    b.noCompile = true;
    return false;
  }
  code.slots[pageOff] = SLOT_COMPILED | SLOT_DECODED;
  return true;
}

/**
 * A heat checkpoint of `pageOff` in `code` with the WebAssembly tier: compile the page's region (or compile it
 * again with this slot as one more entry) once the slot is hot. Returns true when the slot now runs compiled
 * (with a synchronous compile; a background one takes effect when it is installed, see WasmTier.compile).
 */
function considerRegion(
  h: Hart,
  code: CodePage,
  i: number,
  pageOff: number,
  options: EngineOptions,
  tier: WasmTier,
): boolean {
  const slot = pageOff >> 1;
  const heat = code.heat[slot] ?? 0;
  const elapsed = Math.max(1, h.icount - (code.heatStart[slot] ?? 0));
  let minRate = options.minHeatRate ?? MIN_HEAT_RATE;
  if (h.codeChurn < STABLE_CODE_CHURN) minRate = Math.min(minRate, MIN_STABLE_HEAT_RATE);
  // (A rate of 0, compile whatever the rate, stays 0.)
  if (minRate > 0 && tier.costFactor > COLD_COST_FACTOR) minRate = Math.max(minRate, COLD_MIN_HEAT_RATE);
  if (heat / elapsed < minRate) {
    code.heat[slot] = 0; // lukewarm: start a new window
    return false;
  }
  // (A threshold the options give is kept as it is; the default grows while compiling is dear.)
  if (heat < (options.wasmThreshold ?? WASM_HOT_THRESHOLD * Math.min(MAX_HEAT_COST_FACTOR, tier.costFactor)))
    return false;
  return compileRegionFrom(h, code, i, pageOff, options, tier);
}

/**
 * The page of `code` has run INTERPRETED_HOT_INSNS instructions interpreted (INTERPRETED_HOT_INSNS_OFF_THREAD with a
 * compiler thread): compile its region with `pageOff` (where the interpreter is about to start again) as an entry —
 * on the hart's thread only if those instructions came at INTERPRETED_MIN_SHARE of all retired since the count
 * began; otherwise start counting again. Returns true when the slot now runs compiled.
 */
function considerVolume(
  h: Hart,
  code: CodePage,
  i: number,
  pageOff: number,
  options: EngineOptions,
  tier: WasmTier,
): boolean {
  const share = code.interpreted / Math.max(1, h.icount - code.interpretedSince);
  code.interpreted = 0;
  if (tier.compileThread === undefined && share < INTERPRETED_MIN_SHARE) return false;
  return compileRegionFrom(h, code, i, pageOff, options, tier);
}

/**
 * Regions have returned REGION_MISS_THRESHOLD times to `pageOff` of `code`'s page (or to others of its slots) for
 * want of a region or a block there: compile the page's region with `pageOff` as an entry, and start counting
 * again. Returns true when the slot now runs compiled.
 */
function considerMisses(
  h: Hart,
  code: CodePage,
  i: number,
  pageOff: number,
  options: EngineOptions,
  tier: WasmTier,
): boolean {
  code.regionMisses = 0;
  return compileRegionFrom(h, code, i, pageOff, options, tier);
}

/** Compile (or recompile) the region of `code`'s page (fetch-TLB entry `i`) with `pageOff` among its entries. */
function compileRegionFrom(
  h: Hart,
  code: CodePage,
  i: number,
  pageOff: number,
  options: EngineOptions,
  tier: WasmTier,
): boolean {
  const slot = pageOff >> 1;
  if (code.regionPending) return false; // its background compile is not installed yet
  if (code.regionCompiles >= MAX_REGION_COMPILES || code.regionInvalidations >= MAX_REGION_INVALIDATIONS) return false;
  const set = h.itlb;
  const view = set.xview[i];
  const mem = set.xblock[i];
  if (view === undefined || mem === undefined) return false;
  const base = (h.pc - pageOff + (set.xdelta[i] ?? 0)) | 0;
  // The page must be marked as code before compiling from it (stores to it then drop what is built here).
  h.memory.codePage(mem, Math.floor(base / PAGE_SIZE));
  const entries = new Set<number>(code.region?.entryOffsets ?? []);
  entries.add(pageOff);
  const heatBySlot = code.heat;
  for (let s = 0; s < heatBySlot.length; s++) if ((heatBySlot[s] ?? 0) >= REGION_ENTRY_HEAT) entries.add(s * 2);
  code.regionCompiles++;
  h.stats.compiles++;
  const request = { entries: [...entries].sort((a, b) => a - b), optimizable: false };
  const region = tier.compile(code, view, base, request, {
    syncMaxBytes:
      options.wasmSync === true ? Number.POSITIVE_INFINITY : (options.wasmSyncMaxBytes ?? WASM_SYNC_MAX_BYTES),
    thread: tier.compileThread,
  });
  code.heat[slot] = 0;
  return region !== undefined && (region.entries[slot] ?? NO_BLOCK) !== NO_BLOCK;
}
