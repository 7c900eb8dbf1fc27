/**
 * Guest debugging on the emulated hart (the GDB stub's hook): single step, breakpoints checked at instruction
 * boundaries, and watchpoints on loads and stores. While debugging is on, the vCPU runs `runDebug` below instead
 * of its engine: the reference interpreter's steps (engine.ts `boundary` + fetch, decode, execute) with the checks
 * in between, so no decoded block, compiled block or other tier can run past a breakpoint. Nothing else in the
 * hart changes; debugging off costs nothing.
 *
 * - A breakpoint stops the hart before the instruction at its address runs (the pc is the breakpoint).
 * - A watchpoint stops the hart before the load, store or AMO whose bytes overlap it runs (the RISC-V Debug spec's
 *   "before" timing, which GDB expects on RISC-V: it removes the watchpoint, steps the access and compares).
 *   The address is the instruction's effective address (rs1 + imm), compared in guest-virtual terms.
 * - A single step stops after one instruction retired, or after a trap moved the pc to a handler. An instruction
 *   that ended the run with an exit (an SBI ecall, an MMIO access) counts as the step: the next `run` reports it
 *   before running anything.
 */

import { AMO_LR, AMO_SC } from "../../arch/riscv64/isa.ts";
import type { DebugStopReason, GuestDebugControl, WatchpointKind } from "../types.ts";
import {
  decode,
  type Insn,
  OP_AMO_D,
  OP_AMO_W,
  OP_FLD,
  OP_FLW,
  OP_FSD,
  OP_FSW,
  OP_LB,
  OP_LBU,
  OP_LD,
  OP_LH,
  OP_LHU,
  OP_LW,
  OP_LWU,
  OP_SB,
  OP_SD,
  OP_SH,
  OP_SW,
} from "./decode.ts";
import { boundary } from "./engine.ts";
import { execute } from "./exec.ts";
import { EXEC_TRAP, type Hart, STOP_NONE } from "./hart.ts";
import { fetchInstruction } from "./memory-slow.ts";

/** A watchpoint as the hart compares it: a half-open range of signed-double addresses. */
interface HartWatchpoint {
  readonly start: number;
  readonly end: number;
  readonly kind: WatchpointKind;
  readonly addr: bigint;
}

/** Why `runDebug` stopped the hart (undefined: it did not, the run ended for another reason). */
export interface DebugHit {
  readonly reason: DebugStopReason;
  readonly watch?: { readonly addr: bigint; readonly kind: WatchpointKind };
}

const ACCESS_LOAD = 1;
const ACCESS_STORE = 2;

/** The debug state of one hart: what the debugger asked for, and a step finished by an exit. */
export class HartDebug {
  singleStep = false;
  readonly breakpoints = new Set<number>();
  watchpoints: readonly HartWatchpoint[] = [];
  /** A single step whose instruction ended the run with an exit: report it at the start of the next run. */
  stepDoneByExit = false;

  constructor(control: GuestDebugControl) {
    this.singleStep = control.singleStep;
    for (const bp of control.breakpoints) this.breakpoints.add(toHartAddress(bp));
    this.watchpoints = control.watchpoints.map((w) => {
      const start = toHartAddress(w.addr);
      return { start, end: start + w.length, kind: w.kind, addr: w.addr };
    });
  }
}

/** The hart keeps addresses as doubles holding the signed 64-bit value. */
function toHartAddress(addr: bigint): number {
  return Number(BigInt.asIntN(64, addr));
}

/**
 * Run at most `budget` steps under the debugger. Returns the steps used and, when the debugger's conditions
 * stopped the hart, why (the hart's `stop` stays STOP_NONE then).
 */
export function runDebug(h: Hart, budget: number, debug: HartDebug): { steps: number; hit: DebugHit | undefined } {
  let steps = 0;
  if (debug.stepDoneByExit) {
    debug.stepDoneByExit = false;
    if (debug.singleStep) return { steps, hit: { reason: "step" } };
  }
  while (h.stop === STOP_NONE && steps < budget) {
    if (!boundary(h)) break;
    if (debug.breakpoints.has(h.pc)) return { steps, hit: { reason: "breakpoint" } };
    steps++;
    const word = fetchInstruction(h, h.pc);
    if (word >= 0) {
      const insn = decode(word);
      const watch = debug.watchpoints.length === 0 ? undefined : watchHit(h, insn, debug.watchpoints);
      if (watch !== undefined) return { steps: steps - 1, hit: { reason: "watchpoint", watch } };
      if (execute(h, insn) !== EXEC_TRAP) h.icount++;
    }
    if (debug.singleStep) {
      if (h.stop === STOP_NONE) return { steps, hit: { reason: "step" } };
      debug.stepDoneByExit = true;
    }
  }
  return { steps, hit: undefined };
}

/** The watchpoint `insn` would touch, if any (before it runs). */
function watchHit(
  h: Hart,
  insn: Insn,
  watchpoints: readonly HartWatchpoint[],
): { addr: bigint; kind: WatchpointKind } | undefined {
  const access = accessOf(insn);
  if (access === undefined) return undefined;
  const rs1 = (h.xhi[2 * insn.rs1] ?? 0) * 2 ** 32 + ((h.xlo[2 * insn.rs1] ?? 0) >>> 0);
  const start = rs1 + insn.imm;
  const end = start + access.width;
  for (const w of watchpoints) {
    if (start >= w.end || end <= w.start) continue;
    const loads = (access.kind & ACCESS_LOAD) !== 0;
    const stores = (access.kind & ACCESS_STORE) !== 0;
    if ((w.kind === "write" && stores) || (w.kind === "read" && loads) || w.kind === "access") {
      return { addr: w.addr, kind: w.kind };
    }
  }
  return undefined;
}

/** The data access of a load, store or AMO: width and direction. */
function accessOf(insn: Insn): { width: number; kind: number } | undefined {
  switch (insn.op) {
    case OP_LB:
    case OP_LBU:
      return { width: 1, kind: ACCESS_LOAD };
    case OP_LH:
    case OP_LHU:
      return { width: 2, kind: ACCESS_LOAD };
    case OP_LW:
    case OP_LWU:
    case OP_FLW:
      return { width: 4, kind: ACCESS_LOAD };
    case OP_LD:
    case OP_FLD:
      return { width: 8, kind: ACCESS_LOAD };
    case OP_SB:
      return { width: 1, kind: ACCESS_STORE };
    case OP_SH:
      return { width: 2, kind: ACCESS_STORE };
    case OP_SW:
    case OP_FSW:
      return { width: 4, kind: ACCESS_STORE };
    case OP_SD:
    case OP_FSD:
      return { width: 8, kind: ACCESS_STORE };
    case OP_AMO_W:
    case OP_AMO_D: {
      const width = insn.op === OP_AMO_W ? 4 : 8;
      if (insn.aux === AMO_LR) return { width, kind: ACCESS_LOAD };
      if (insn.aux === AMO_SC) return { width, kind: ACCESS_STORE };
      return { width, kind: ACCESS_LOAD | ACCESS_STORE };
    }
    default:
      return undefined;
  }
}
