/**
 * The hart's run loops.
 *
 * - `runReference`: the plain interpreter. Every instruction is fetched through the MMU, decoded and executed;
 *   nothing is cached except translations. It is the yardstick for the fast path.
 * - `runFast`: finds the page of the pc through the fetch TLB and runs the fast interpreter (`interp.ts`) from
 *   that page's decode cache, or a compiled block (`jit.ts`) where one starts. Slots that control keeps landing
 *   on get compiled: self-looping blocks after HOT_LOOP_THRESHOLD landings, others after HOT_THRESHOLD.
 *   Interrupts are checked whenever the interpreter returns (it does after every instruction that can change
 *   interrupt state), the Sstc comparators every TIMER_CHECK_INTERVAL instructions.
 *
 * Both return when `hart.stop` is set or the budget (instructions, with a trap counting as one step so a trap
 * loop cannot spin forever) is used up.
 */

import { buildBlock, SLOT_COMPILED, SLOT_DECODED, SLOT_STRADDLE } from "./block.ts";
import { decode } from "./decode.ts";
import { execute } from "./exec.ts";
import { EXEC_TRAP, type Hart, STOP_KICK, STOP_NONE } from "./hart.ts";
import { PAGE_SIZE } from "./constants.ts";
import { interpret } from "./interp.ts";
import { compileBlock } from "./jit.ts";
import type { CodePage } from "./phys-memory.ts";
import { TLB_MASK } from "./tlb.ts";

/** How often (in instructions) the Sstc comparators are checked against the clock. */
export const TIMER_CHECK_INTERVAL = 8192;
/** Landings on a slot before the block there is compiled. */
export const HOT_THRESHOLD = 50_000;
/** Blocks that branch back to their own start loop inside compiled code; they pay back much sooner. */
export const HOT_LOOP_THRESHOLD = 200;

export interface EngineOptions {
  /** Compile hot blocks to JavaScript (default true). */
  readonly jit: boolean;
  readonly hotThreshold: number;
  readonly hotLoopThreshold: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = { jit: true, hotThreshold: HOT_THRESHOLD, hotLoopThreshold: HOT_LOOP_THRESHOLD };

/** Fetch, decode and execute one instruction without the block cache. Returns 1 if it retired. */
export function stepReference(h: Hart): number {
  const word = h.fetchInstruction(h.pc);
  if (word < 0) return 0;
  const r = execute(h, decode(word));
  if (r === EXEC_TRAP) return 0;
  h.icount++;
  return 1;
}

/** Common loop prologue: interrupts, kick, timers. Returns false when the run must end. */
function boundary(h: Hart): boolean {
  if (h.irqDirty) {
    h.irqDirty = false;
    h.takeInterrupt();
    if (h.stop !== STOP_NONE) return false;
  }
  if (h.kickRequested) {
    h.kickRequested = false;
    h.stop = STOP_KICK;
    return false;
  }
  if (h.icount >= h.nextTimerCheck) {
    h.nextTimerCheck = h.icount + TIMER_CHECK_INTERVAL;
    h.updateTimers(h.timeNow());
    if (h.irqDirty) return boundary(h);
  }
  return true;
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

/** Returns the number of steps (instructions, traps) used. */
export function runFast(h: Hart, budget: number, options: EngineOptions = DEFAULT_ENGINE_OPTIONS): number {
  const hotLoop = options.jit ? Math.max(1, Math.min(options.hotLoopThreshold, 0xffff)) : 0;
  const hot = options.jit && options.hotThreshold <= 0xffff ? Math.max(1, options.hotThreshold) : 0;
  let steps = 0;
  while (h.stop === STOP_NONE && steps < budget) {
    if (!boundary(h)) break;
    const pc = h.pc;
    const set = h.itlb;
    const i = (pc >>> 12) & TLB_MASK;
    const pageOff = pc & (PAGE_SIZE - 1);
    if (set.xtag[i] !== pc - pageOff && h.translateFetch(pc) < 0) {
      steps++;
      continue;
    }
    const code = set.xcode[i];
    if (code === undefined) {
      steps += Math.max(1, stepReference(h));
      continue;
    }
    // Self-looping compiled blocks stop at the next timer check so Sstc interrupts are not delayed.
    const limit = Math.max(1, Math.min(budget - steps, h.nextTimerCheck - h.icount));
    const slot = pageOff >> 1;
    const kind = (code.ops[slot] ?? 0) & 0x7f;
    if (kind === SLOT_COMPILED) {
      const compiled = code.blocks?.[slot]?.compiled;
      steps += Math.max(1, compiled === undefined ? stepReference(h) : compiled(h, limit));
      continue;
    }
    if (kind === SLOT_STRADDLE) {
      steps += Math.max(1, stepReference(h));
      continue;
    }
    if (hotLoop > 0) {
      // Entries from here count as landings too: the fall-through successors of compiled blocks get hot.
      const hv = (code.heat[slot] ?? 0) + 1;
      code.heat[slot] = hv;
      if (hv >= hotLoop && considerCompiling(h, code, i, pageOff, hot)) continue;
    }
    steps += Math.max(1, interpret(h, limit, hotLoop, hot));
  }
  return steps;
}

/**
 * Control keeps landing on `pageOff` of `code` (fetch-TLB entry `i`): compile the block there if it loops on
 * itself or has become very hot. Returns true when the slot now runs compiled.
 */
function considerCompiling(h: Hart, code: CodePage, i: number, pageOff: number, hot: number): boolean {
  const set = h.itlb;
  const view = set.xview[i];
  const mem = set.xblock[i];
  if (view === undefined || mem === undefined) return false;
  const slot = pageOff >> 1;
  const blocks = (code.blocks ??= []);
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
  if (b.noCompile || b.compiled !== undefined || !(b.selfLoop || (code.heat[slot] ?? 0) >= hot)) return false;
  h.stats.compiles++;
  b.compiled = compileBlock(b);
  if (b.compiled === undefined) {
    b.noCompile = true;
    return false;
  }
  code.ops[slot] = SLOT_COMPILED | SLOT_DECODED;
  return true;
}
