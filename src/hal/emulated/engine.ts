/**
 * The hart's run loops.
 *
 * - `runReference`: the plain interpreter. Every instruction is fetched through the MMU, decoded and executed;
 *   nothing is cached except translations. It is the yardstick for the fast path.
 * - `runFast`: looks blocks up by physical pc in the page's `CodePage`, interprets cold blocks and runs hot ones
 *   compiled. Interrupts are checked at block boundaries (every block ends at the instructions that can change
 *   interrupt state, so nothing is missed), the Sstc comparators every TIMER_CHECK_INTERVAL instructions.
 *
 * Both return when `hart.stop` is set or the budget (instructions, with a trap counting as one step so a trap
 * loop cannot spin forever) is used up.
 */

import { Block, buildBlock } from "./block.ts";
import { decode } from "./decode.ts";
import { execute } from "./exec.ts";
import { EXEC_END, EXEC_TRAP, type Hart, STOP_KICK, STOP_NONE } from "./hart.ts";
import { PAGE_SIZE } from "./constants.ts";
import { runBlock } from "./interp.ts";
import { compileBlock } from "./jit.ts";
import { TLB_MASK } from "./tlb.ts";

/** How often (in instructions) the Sstc comparators are checked against the clock. */
export const TIMER_CHECK_INTERVAL = 8192;
/** Interpreted executions before a block is compiled. */
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

/** Interpret a decoded block. Returns the number of instructions retired. */
export function interpretBlock(h: Hart, b: Block): number {
  const insns = b.insns;
  let n = 0;
  for (let k = 0; k < insns.length; k++) {
    const insn = insns[k];
    if (insn === undefined) break;
    const r = execute(h, insn);
    if (r === EXEC_TRAP) break;
    n++;
    h.icount++;
    if (r === EXEC_END) break;
  }
  return n;
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
    const view = set.xview[i];
    const memBlock = set.xblock[i];
    if (code === undefined || view === undefined || memBlock === undefined) {
      steps += Math.max(1, stepReference(h));
      continue;
    }
    const slot = pageOff >> 1;
    let b = code.slots[slot];
    if (b === undefined || !b.valid) {
      const base = pc - pageOff + (set.xdelta[i] ?? 0);
      h.stats.blockBuilds++;
      b = buildBlock(view, base, pageOff);
      if (b === undefined) {
        steps += Math.max(1, stepReference(h));
        continue;
      }
      // (Re)mark the page as code: a store since the last build may have cleared the mark and refilled
      // write-TLB entries, which must go before any decoded block of this page is used.
      h.memory.codePage(memBlock, Math.floor(base / PAGE_SIZE));
      code.slots[slot] = b;
      code.count++;
    }
    const compiled = b.compiled;
    if (compiled !== undefined) {
      // Self-looping blocks stop at the next timer check so Sstc interrupts are not delayed.
      const limit = Math.max(1, Math.min(budget - steps, h.nextTimerCheck - h.icount));
      steps += Math.max(1, compiled(h, limit));
    } else {
      steps += Math.max(1, runBlock(h, b));
      if (options.jit && ++b.execCount >= (b.selfLoop ? options.hotLoopThreshold : options.hotThreshold) && !b.noCompile) {
        h.stats.compiles++;
        b.compiled = compileBlock(b);
        if (b.compiled === undefined) b.noCompile = true;
      }
    }
  }
  return steps;
}
