/**
 * Trap entry and return of a hart: raising exceptions (medeleg/hedeleg decide M, HS or VS), writing the cause,
 * epc, tval, htval/mtval2 and htinst/mtinst of the target mode and its status bits, MRET/SRET, and the two ways
 * the VMM (playing HS-mode for hypervisor VMs) goes back into the guest: `resumeGuest` and
 * `injectGuestException`. With `hostTraps`, a trap that enters HS or M stops the hart with STOP_HOST_TRAP.
 */

import {
  HSTATUS_GVA,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MPRV,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
} from "../../arch/riscv64/csr.ts";
import {
  CAUSE_FIRST_GUEST_PAGE_FAULT,
  CAUSE_HI_INTERRUPT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_VIRTUAL_INSTRUCTION,
  PRV_M,
  PRV_S,
  PRV_U,
  TVEC_MODE_VECTORED,
} from "../../arch/riscv64/traps.ts";
import { type Hart, STOP_HOST_TRAP, STOP_NONE } from "./hart.ts";
import type { Translation } from "./mmu.ts";

/**
 * Raise exception `cause` at the current pc. `tval` goes to xtval; `gpa` (guest-page faults) gives
 * htval/mtval2 = gpa >> 2; `tinst` goes to htinst/mtinst; `gva` says xtval holds a guest virtual address.
 */
export function raise(h: Hart, cause: number, tval: number, gpa = 0, tinst = 0, gva = false): void {
  let target = PRV_M;
  let toVs = false;
  if (h.priv <= PRV_S && ((h.medeleg >>> cause) & 1) !== 0) {
    target = PRV_S;
    toVs = h.virt && ((h.hedeleg >>> cause) & 1) !== 0;
  }
  enterTrap(h, target, toVs, cause, false, tval, Math.floor(gpa / 4), tinst, gva);
}

/** Raise illegal-instruction with tval = the instruction bits. */
export function illegal(h: Hart, bits: number): void {
  raise(h, CAUSE_ILLEGAL_INSTRUCTION, bits >>> 0);
}

/** Raise virtual-instruction with tval = the instruction bits. */
export function virtualInstruction(h: Hart, bits: number): void {
  raise(h, CAUSE_VIRTUAL_INSTRUCTION, bits >>> 0);
}

/** Raise a translation fault for an access to `va` (GVA set when the access was virtualized). */
export function raiseTranslationFault(
  h: Hart,
  t: Translation,
  va: number,
  virtAccess: boolean,
  tinstOfInsn: number,
): void {
  if (t.ok) return;
  const guestFault = t.cause >= CAUSE_FIRST_GUEST_PAGE_FAULT;
  // htinst: the transformed instruction for explicit accesses, the pseudo-instruction for implicit PTE ones.
  const tinst = t.tinst !== 0 ? t.tinst : guestFault ? tinstOfInsn : 0;
  raise(h, t.cause, va, guestFault ? t.gpa : 0, tinst, virtAccess);
}

/**
 * Enter a trap: to VS-mode (`toVs`, the vs* CSRs and vsstatus), to HS-mode (the s* CSRs, htval/htinst, hstatus
 * SPV/SPVP/GVA, mstatus SPP/SPIE/SIE) or to M-mode (the m* CSRs, mtval2/mtinst, mstatus MPP/MPIE/MIE/MPV/GVA).
 * `tval2` is htval/mtval2 (a guest-physical address >> 2).
 */
export function enterTrap(
  h: Hart,
  target: number,
  toVs: boolean,
  cause: number,
  interrupt: boolean,
  tval: number,
  tval2: number,
  tinst: number,
  gva: boolean,
): void {
  const fromPriv = h.priv;
  const fromVirt = h.virt;
  const epc = h.pc;
  const causeHi = interrupt ? CAUSE_HI_INTERRUPT : 0;
  if (interrupt) h.stats.interrupts++;
  else h.stats.exceptions++;
  h.reservationValid = false;
  if (toVs) {
    h.vscauseLo = cause;
    h.vscauseHi = causeHi;
    h.vsepc = epc;
    h.vstval = tval;
    let s = h.vsstatus;
    s = (s & ~MSTATUS_SPP) | (fromPriv === PRV_S ? MSTATUS_SPP : 0);
    s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0);
    s &= ~MSTATUS_SIE;
    h.vsstatus = s;
    h.priv = PRV_S;
    h.pc = trapVector(h.vstvec, cause, interrupt);
  } else if (target === PRV_S) {
    h.scauseLo = cause;
    h.scauseHi = causeHi;
    h.sepc = epc;
    h.stval = tval;
    h.htval = tval2;
    h.htinst = tinst;
    let hs = h.hstatus;
    hs = (hs & ~HSTATUS_SPV) | (fromVirt ? HSTATUS_SPV : 0);
    if (fromVirt) hs = (hs & ~HSTATUS_SPVP) | (fromPriv === PRV_S ? HSTATUS_SPVP : 0);
    hs = (hs & ~HSTATUS_GVA) | (gva ? HSTATUS_GVA : 0);
    h.hstatus = hs;
    let s = h.mstatus;
    s = (s & ~MSTATUS_SPP) | (fromPriv === PRV_S ? MSTATUS_SPP : 0);
    s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0);
    s &= ~MSTATUS_SIE;
    h.mstatus = s;
    h.virt = false;
    h.priv = PRV_S;
    h.pc = trapVector(h.stvec, cause, interrupt);
    if (h.hostTraps) h.stop = STOP_HOST_TRAP;
  } else {
    h.mcauseLo = cause;
    h.mcauseHi = causeHi;
    h.mepc = epc;
    h.mtval = tval;
    h.mtval2 = tval2;
    h.mtinst = tinst;
    let s = h.mstatus;
    s = (s & ~MSTATUS_MPP) | (fromPriv << MSTATUS_MPP_SHIFT);
    s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) !== 0 ? MSTATUS_MPIE : 0);
    s &= ~MSTATUS_MIE;
    h.mstatus = s;
    h.mstatusMpv = fromVirt;
    h.mstatusGva = gva;
    h.virt = false;
    h.priv = PRV_M;
    h.pc = trapVector(h.mtvec, cause, interrupt);
    if (h.hostTraps) h.stop = STOP_HOST_TRAP;
  }
  h.updateContext();
  h.irqDirty = true;
}

/** MRET (the caller checked priv == M). */
export function mret(h: Hart): void {
  const s = h.mstatus;
  const mpp = (s >>> MSTATUS_MPP_SHIFT) & 3;
  let n = s & ~(MSTATUS_MIE | MSTATUS_MPP);
  if ((s & MSTATUS_MPIE) !== 0) n |= MSTATUS_MIE;
  n |= MSTATUS_MPIE;
  if (mpp !== PRV_M) n &= ~MSTATUS_MPRV;
  h.mstatus = n;
  h.virt = mpp !== PRV_M && h.mstatusMpv;
  h.mstatusMpv = false;
  h.priv = mpp;
  h.pc = h.mepc;
  h.updateContext();
  h.irqDirty = true;
}

/** SRET from HS or M (V = 0; the caller checked TSR). */
export function sret(h: Hart): void {
  const s = h.mstatus;
  const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
  let n = s & ~(MSTATUS_SIE | MSTATUS_SPP);
  if ((s & MSTATUS_SPIE) !== 0) n |= MSTATUS_SIE;
  n |= MSTATUS_SPIE;
  // Returning to a mode below M clears MPRV.
  n &= ~MSTATUS_MPRV;
  h.mstatus = n;
  h.virt = (h.hstatus & HSTATUS_SPV) !== 0;
  h.hstatus &= ~HSTATUS_SPV;
  h.priv = spp;
  h.pc = h.sepc;
  h.updateContext();
  h.irqDirty = true;
}

/** SRET in VS-mode (V = 1; the caller checked VTSR): returns within the guest using vsstatus. */
export function vsret(h: Hart): void {
  const s = h.vsstatus;
  const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
  let n = s & ~(MSTATUS_SIE | MSTATUS_SPP);
  if ((s & MSTATUS_SPIE) !== 0) n |= MSTATUS_SIE;
  n |= MSTATUS_SPIE;
  h.vsstatus = n;
  h.priv = spp;
  h.pc = h.vsepc;
  h.updateContext();
  h.irqDirty = true;
}

/**
 * Hypervisor VMs: go back into the guest after the VMM handled a host trap, as the VMM's SRET would
 * (V = hstatus.SPV, privilege = sstatus.SPP), at `pc`.
 */
export function resumeGuest(h: Hart, pc: number): void {
  h.virt = true;
  h.priv = (h.mstatus & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
  h.pc = pc;
  h.stop = STOP_NONE;
  h.updateContext();
  h.irqDirty = true;
}

/**
 * Hypervisor VMs: deliver exception `cause` to the guest (VS-mode), as KVM's trap redirect does: vsepc = the
 * guest pc, vscause, vstval, vsstatus.SPP/SPIE/SIE, pc = vstvec. Called while stopped in a host trap.
 */
export function injectGuestException(h: Hart, guestPc: number, guestPriv: number, cause: number, tval: number): void {
  h.virt = true;
  h.priv = guestPriv;
  h.pc = guestPc;
  h.stop = STOP_NONE;
  enterTrap(h, PRV_S, true, cause, false, tval, 0, 0, false);
}

function trapVector(tvec: number, cause: number, interrupt: boolean): number {
  const mode = tvec - Math.floor(tvec / 4) * 4;
  const base = tvec - mode;
  return interrupt && mode === TVEC_MODE_VECTORED ? base + 4 * cause : base;
}
