/**
 * Time and counters of a hart: the `time` CSR (with htimedelta when V=1), the Sstc comparators stimecmp and
 * vstimecmp that drive STIP/VSTIP, and minstret/mcycle derived from the retired-instruction count.
 */

import { COUNTINHIBIT_CY, COUNTINHIBIT_IR } from "../../arch/riscv64/csr.ts";
import type { Hart } from "./hart.ts";
import { signedValue, unsignedValue } from "./split64.ts";

/** The `time` CSR now (whole timebase ticks). */
export function timeNow(h: Hart): number {
  return Math.floor(h.now());
}

/** Guest-visible time when V=1: time + htimedelta (mod 2^64, as a double). */
export function virtualTime(h: Hart, t: number): number {
  return t + signedValue(h.htimedeltaLo, h.htimedeltaHi);
}

/** Re-evaluate the Sstc comparators against `t`; marks interrupts dirty when a pending bit changes. */
export function updateTimers(h: Hart, t: number): void {
  const s = h.stce() && t >= unsignedValue(h.stimecmpLo, h.stimecmpHi);
  let vt = virtualTime(h, t);
  if (vt < 0) vt += 2 ** 64;
  const vs = h.vstce() && vt >= unsignedValue(h.vstimecmpLo, h.vstimecmpHi);
  if (s !== h.stimerPending || vs !== h.vstimerPending) {
    h.stimerPending = s;
    h.vstimerPending = vs;
    h.irqDirty = true;
  }
}

/** Host time at which an armed Sstc comparator fires, or undefined. */
export function timerDeadline(h: Hart): number | undefined {
  let deadline: number | undefined;
  if (h.stce()) {
    const d = unsignedValue(h.stimecmpLo, h.stimecmpHi);
    if (d < 2 ** 53) deadline = d;
  }
  if (h.vstce()) {
    const d = unsignedValue(h.vstimecmpLo, h.vstimecmpHi) - signedValue(h.htimedeltaLo, h.htimedeltaHi);
    if (d < 2 ** 53 && (deadline === undefined || d < deadline)) deadline = Math.max(0, d);
  }
  return deadline;
}

/** minstret: the retired-instruction count, or its frozen value while mcountinhibit.IR is set. */
export function readInstret(h: Hart): number {
  return (h.mcountinhibit & COUNTINHIBIT_IR) !== 0 ? h.instretFrozen : h.icount + h.instretOffset;
}

/** mcycle: one cycle per retired instruction, or its frozen value while mcountinhibit.CY is set. */
export function readCycle(h: Hart): number {
  return (h.mcountinhibit & COUNTINHIBIT_CY) !== 0 ? h.cycleFrozen : h.icount + h.cycleOffset;
}
