/**
 * Whether a CSR instruction must end the run it is part of (the interpreters' or a compiled region's: `execCsr`
 * returns EXEC_END), so that the run loop looks again at what the code running may depend on: the translation
 * context (the data TLB set chosen by privilege, V and SUM; MXR; MPRV with MPP and MPV), and interrupts that may
 * have become deliverable. Every other CSR access goes on in the same run: Linux's trap entry and exit, its
 * interrupt masking (`csrrci sstatus, SIE` and the restore) and its clock reads (`rdtime`) were ~230 k returns to
 * the run loop in Debian's boot, each followed by a region entered again.
 */

import {
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_HTINST,
  CSR_HTVAL,
  CSR_MCAUSE,
  CSR_MEPC,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTINST,
  CSR_MTVAL,
  CSR_MTVAL2,
  CSR_MTVEC,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STVAL,
  CSR_STVEC,
  CSR_VSCAUSE,
  CSR_VSEPC,
  CSR_VSSCRATCH,
  CSR_VSSTATUS,
  CSR_VSTVAL,
  CSR_VSTVEC,
  MSTATUS_HI_MPV,
  MSTATUS_MIE,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SUM,
} from "../../arch/riscv64/csr.ts";
import type { Hart } from "./hart.ts";
import { wakeupPending } from "./interrupts.ts";

/**
 * CSRs whose writes change nothing the run depends on: they are read when a trap is taken or returned from, or
 * by the instructions that use them, which look at them then (the FP CSRs: FP instructions run through
 * `execute`, which checks them each time).
 */
const PLAIN_CSRS: ReadonlySet<number> = new Set([
  CSR_FFLAGS,
  CSR_FRM,
  CSR_FCSR,
  CSR_SSCRATCH,
  CSR_SEPC,
  CSR_SCAUSE,
  CSR_STVAL,
  CSR_STVEC,
  CSR_VSSCRATCH,
  CSR_VSEPC,
  CSR_VSCAUSE,
  CSR_VSTVAL,
  CSR_VSTVEC,
  CSR_MSCRATCH,
  CSR_MEPC,
  CSR_MCAUSE,
  CSR_MTVAL,
  CSR_MTVEC,
  CSR_MTVAL2,
  CSR_MTINST,
  CSR_HTVAL,
  CSR_HTINST,
]);

/** Status bits (low word) that select the translation context. */
const STATUS_CONTEXT_LO = MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV | MSTATUS_MPP;
/** Interrupt enables: setting one may make a pending interrupt deliverable (clearing one cannot). */
const STATUS_ENABLES_LO = MSTATUS_SIE | MSTATUS_MIE;

/**
 * Whether a write to `target` (the CSR after `substitute`), whose value was (oldLo, oldHi) and is now (newLo,
 * newHi), must end the run. Reads never do.
 */
export function csrWriteEndsRun(
  h: Hart,
  target: number,
  oldLo: number,
  oldHi: number,
  newLo: number,
  newHi: number,
): boolean {
  if (PLAIN_CSRS.has(target)) return false;
  if (target !== CSR_MSTATUS && target !== CSR_SSTATUS && target !== CSR_VSSTATUS) return true;
  if (((oldLo ^ newLo) & STATUS_CONTEXT_LO) !== 0 || ((oldHi ^ newHi) & MSTATUS_HI_MPV) !== 0) return true;
  return (newLo & ~oldLo & STATUS_ENABLES_LO) !== 0 && wakeupPending(h);
}
