/**
 * Who may access which CSR: the CSRs this hart implements, the privilege and virtualization rules of the CSR
 * address (read-only bits 11:10, lowest level bits 9:8), the per-CSR rules (FS, counter enables, TVM/VTVM, Sstc),
 * and the VS substitution of supervisor CSR numbers when V=1. The values themselves are in `csr-file.ts`.
 */

import {
  COUNTEREN_TM,
  CSR_ACCESS_READ_ONLY,
  CSR_ACCESS_SHIFT,
  CSR_CYCLE,
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_HCOUNTEREN,
  CSR_HEDELEG,
  CSR_HENVCFG,
  CSR_HGATP,
  CSR_HGEIE,
  CSR_HGEIP,
  CSR_HIDELEG,
  CSR_HIE,
  CSR_HIP,
  CSR_HPMCOUNTER31,
  CSR_HSTATUS,
  CSR_HTIMEDELTA,
  CSR_HTINST,
  CSR_HTVAL,
  CSR_HVIP,
  CSR_LEVEL_HYPERVISOR,
  CSR_LEVEL_SHIFT,
  CSR_MARCHID,
  CSR_MCAUSE,
  CSR_MCONFIGPTR,
  CSR_MCOUNTEREN,
  CSR_MCOUNTINHIBIT,
  CSR_MCYCLE,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MHARTID,
  CSR_MHPMCOUNTER3,
  CSR_MHPMCOUNTER31,
  CSR_MHPMEVENT3,
  CSR_MHPMEVENT31,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIMPID,
  CSR_MINSTRET,
  CSR_MIP,
  CSR_MISA,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTINST,
  CSR_MTVAL,
  CSR_MTVAL2,
  CSR_MTVEC,
  CSR_MVENDORID,
  CSR_PMPADDR0,
  CSR_PMPADDR63,
  CSR_PMPCFG0,
  CSR_PMPCFG15,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SCOUNTEREN,
  CSR_SENVCFG,
  CSR_SEPC,
  CSR_SIE,
  CSR_SIP,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
  CSR_TDATA3,
  CSR_TSELECT,
  CSR_VSATP,
  CSR_VSCAUSE,
  CSR_VSEPC,
  CSR_VSIE,
  CSR_VSIP,
  CSR_VSSCRATCH,
  CSR_VSSTATUS,
  CSR_VSTIMECMP,
  CSR_VSTVAL,
  CSR_VSTVEC,
  ENVCFG_HI_STCE,
  HSTATUS_VTVM,
  MSTATUS_TVM,
} from "../../arch/riscv64/csr.ts";
import { CAUSE_ILLEGAL_INSTRUCTION, CAUSE_VIRTUAL_INSTRUCTION, PRV_M, PRV_S, PRV_U } from "../../arch/riscv64/traps.ts";
import type { Hart } from "./hart.ts";

/**
 * Check an access to `csr` at the current privilege: 0 when allowed, else the cause to raise
 * (illegal instruction or virtual instruction).
 */
export function csrCheck(h: Hart, csr: number, isWrite: boolean): number {
  if (!csrImplemented(csr)) return CAUSE_ILLEGAL_INSTRUCTION;
  if (isWrite && csr >>> CSR_ACCESS_SHIFT === CSR_ACCESS_READ_ONLY) return CAUSE_ILLEGAL_INSTRUCTION;
  const level = (csr >>> CSR_LEVEL_SHIFT) & 3;
  const priv = h.priv;
  const virt = h.virt;
  if (priv !== PRV_M) {
    if (level === PRV_M) return CAUSE_ILLEGAL_INSTRUCTION;
    if (!virt) {
      if (priv === PRV_U && level !== PRV_U) return CAUSE_ILLEGAL_INSTRUCTION;
    } else {
      if (level === CSR_LEVEL_HYPERVISOR) return CAUSE_VIRTUAL_INSTRUCTION;
      if (priv === PRV_U && level === PRV_S) return CAUSE_VIRTUAL_INSTRUCTION;
    }
  }
  // Per-CSR rules.
  if (csr === CSR_FFLAGS || csr === CSR_FRM || csr === CSR_FCSR) {
    return h.fpOff() ? CAUSE_ILLEGAL_INSTRUCTION : 0;
  }
  if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) return counterCheck(h, csr - CSR_CYCLE);
  if (csr === CSR_SATP) {
    if (priv === PRV_S && !virt && (h.mstatus & MSTATUS_TVM) !== 0) return CAUSE_ILLEGAL_INSTRUCTION;
    if (priv === PRV_S && virt && (h.hstatus & HSTATUS_VTVM) !== 0) return CAUSE_VIRTUAL_INSTRUCTION;
    return 0;
  }
  if (csr === CSR_HGATP) {
    return priv === PRV_S && !virt && (h.mstatus & MSTATUS_TVM) !== 0 ? CAUSE_ILLEGAL_INSTRUCTION : 0;
  }
  if (csr === CSR_STIMECMP || csr === CSR_VSTIMECMP) {
    if (priv === PRV_M) return 0;
    if ((h.mcounteren & COUNTEREN_TM) === 0 || !h.stce()) return CAUSE_ILLEGAL_INSTRUCTION;
    if (virt && ((h.hcounteren & COUNTEREN_TM) === 0 || (h.henvcfgHi & ENVCFG_HI_STCE) === 0)) {
      return CAUSE_VIRTUAL_INSTRUCTION;
    }
    return 0;
  }
  return 0;
}

/** Zicntr / Zihpm access rules for counter `index` (0 = cycle, 1 = time, 2 = instret, 3.. hpmcounters). */
function counterCheck(h: Hart, index: number): number {
  const bit = 1 << index;
  const priv = h.priv;
  if (priv === PRV_M) return 0;
  if ((h.mcounteren & bit) === 0) return CAUSE_ILLEGAL_INSTRUCTION;
  if (h.virt) {
    if ((h.hcounteren & bit) === 0) return CAUSE_VIRTUAL_INSTRUCTION;
    if (priv === PRV_U && (h.scounteren & bit) === 0) return CAUSE_VIRTUAL_INSTRUCTION;
    return 0;
  }
  if (priv === PRV_U && (h.scounteren & bit) === 0) return CAUSE_ILLEGAL_INSTRUCTION;
  return 0;
}

/** Whether this hart implements CSR `csr` (any privilege). */
export function csrImplemented(csr: number): boolean {
  if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) return true;
  if (csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) return true;
  if (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31) return true;
  // RV64: only the even pmpcfg registers exist.
  if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) return (csr & 1) === 0;
  if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) return true;
  if (csr >= CSR_TSELECT && csr <= CSR_TDATA3) return true;
  switch (csr) {
    case CSR_FFLAGS:
    case CSR_FRM:
    case CSR_FCSR:
    case CSR_SSTATUS:
    case CSR_SIE:
    case CSR_STVEC:
    case CSR_SCOUNTEREN:
    case CSR_SENVCFG:
    case CSR_SSCRATCH:
    case CSR_SEPC:
    case CSR_SCAUSE:
    case CSR_STVAL:
    case CSR_SIP:
    case CSR_STIMECMP:
    case CSR_SATP:
    case CSR_VSSTATUS:
    case CSR_VSIE:
    case CSR_VSTVEC:
    case CSR_VSSCRATCH:
    case CSR_VSEPC:
    case CSR_VSCAUSE:
    case CSR_VSTVAL:
    case CSR_VSIP:
    case CSR_VSTIMECMP:
    case CSR_VSATP:
    case CSR_HSTATUS:
    case CSR_HEDELEG:
    case CSR_HIDELEG:
    case CSR_HIE:
    case CSR_HTIMEDELTA:
    case CSR_HCOUNTEREN:
    case CSR_HGEIE:
    case CSR_HENVCFG:
    case CSR_HTVAL:
    case CSR_HIP:
    case CSR_HVIP:
    case CSR_HTINST:
    case CSR_HGATP:
    case CSR_HGEIP:
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MHARTID:
    case CSR_MCONFIGPTR:
    case CSR_MSTATUS:
    case CSR_MISA:
    case CSR_MEDELEG:
    case CSR_MIDELEG:
    case CSR_MIE:
    case CSR_MTVEC:
    case CSR_MCOUNTEREN:
    case CSR_MENVCFG:
    case CSR_MCOUNTINHIBIT:
    case CSR_MSCRATCH:
    case CSR_MEPC:
    case CSR_MCAUSE:
    case CSR_MTVAL:
    case CSR_MIP:
    case CSR_MTINST:
    case CSR_MTVAL2:
    case CSR_MCYCLE:
    case CSR_MINSTRET:
      return true;
    default:
      return false;
  }
}

/** When V=1, supervisor CSR numbers refer to the VS copies. */
export function substitute(h: Hart, csr: number): number {
  if (!h.virt) return csr;
  switch (csr) {
    case CSR_SSTATUS:
      return CSR_VSSTATUS;
    case CSR_SIE:
      return CSR_VSIE;
    case CSR_STVEC:
      return CSR_VSTVEC;
    case CSR_SSCRATCH:
      return CSR_VSSCRATCH;
    case CSR_SEPC:
      return CSR_VSEPC;
    case CSR_SCAUSE:
      return CSR_VSCAUSE;
    case CSR_STVAL:
      return CSR_VSTVAL;
    case CSR_SIP:
      return CSR_VSIP;
    case CSR_SATP:
      return CSR_VSATP;
    case CSR_STIMECMP:
      return CSR_VSTIMECMP;
    default:
      return csr;
  }
}
