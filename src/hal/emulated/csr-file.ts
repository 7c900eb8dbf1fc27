import {
  COUNTEREN_TM,
  COUNTINHIBIT_CY,
  COUNTINHIBIT_IR,
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
  CSR_INSTRET,
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
  CSR_TIME,
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
  ENVCFG_FIOM,
  ENVCFG_HI_STCE,
  FS_DIRTY,
  HEDELEG_MASK,
  HSTATUS_HI_VSXL64,
  HSTATUS_VTVM,
  MEDELEG_MASK,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS,
  MSTATUS_HI_GVA,
  MSTATUS_HI_MPV,
  MSTATUS_HI_SD,
  MSTATUS_HI_SXL64,
  MSTATUS_HI_UXL64,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MXR,
  MSTATUS_TVM,
  SSTATUS_MASK,
} from "../../arch/riscv64/csr.ts";
import { FFLAGS_MASK, FRM_MASK, FRM_SHIFT } from "../../arch/riscv64/fp.ts";
import {
  ATP_HI_ID_SHIFT,
  ATP_HI_MODE_SHIFT,
  ATP_HI_PPN_MASK,
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  SATP_MODE_BARE,
  SATP_MODE_SV39,
  SATP_MODE_SV48,
  VMID_BITS,
} from "../../arch/riscv64/paging.ts";
import {
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_VIRTUAL_INSTRUCTION,
  MIP_SEIP,
  MIP_SGEIP,
  MIP_SSIP,
  MIP_STIP,
  MIP_VSSIP,
  PRV_M,
  PRV_S,
  PRV_U,
  S_INTERRUPTS,
  VS_INTERRUPTS,
  VS_TO_S_CAUSE_SHIFT,
} from "../../arch/riscv64/traps.ts";
import {
  ALL_INTERRUPTS,
  HSTATUS_WRITE_MASK,
  MISA_HI,
  MISA_LO,
  MSTATUS_WRITE_MASK,
  SSTATUS_WRITE_MASK,
} from "./constants.ts";
import { type Hart, TLB_CONTEXTS } from "./hart.ts";
import { mipValue } from "./interrupts.ts";
import { highWord, lowWord, signedValue } from "./split64.ts";
import { readCycle, readInstret, timeNow, updateTimers, virtualTime } from "./timers.ts";

/**
 * The CSR file of a hart: which CSRs exist, who may access them (privilege, virtualization, counter enables,
 * TVM/VTVM, Sstc), the VS substitution of supervisor CSR numbers when V=1, and the reads and writes with their
 * WARL rules. A read leaves its value in `hart.csrLo`/`hart.csrHi`.
 */

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
export function counterCheck(h: Hart, index: number): number {
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

function setCsr(h: Hart, lo: number, hi: number): void {
  h.csrLo = lo | 0;
  h.csrHi = hi | 0;
}

function setCsrNum(h: Hart, v: number): void {
  h.csrLo = lowWord(v);
  h.csrHi = highWord(v);
}

/** Read a CSR (already checked and substituted) into csrLo/csrHi. */
export function csrRead(h: Hart, csr: number): void {
  switch (csr) {
    case CSR_FFLAGS:
      return setCsr(h, h.fp.fflags & FFLAGS_MASK, 0);
    case CSR_FRM:
      return setCsr(h, h.fp.frm & FRM_MASK, 0);
    case CSR_FCSR:
      return setCsr(h, (h.fp.fflags & FFLAGS_MASK) | ((h.fp.frm & FRM_MASK) << FRM_SHIFT), 0);
    case CSR_CYCLE:
    case CSR_MCYCLE:
      return setCsrNum(h, readCycle(h));
    case CSR_INSTRET:
    case CSR_MINSTRET:
      return setCsrNum(h, readInstret(h));
    case CSR_TIME: {
      const t = timeNow(h);
      return setCsrNum(h, h.virt ? virtualTime(h, t) : t);
    }
    case CSR_SSTATUS: {
      const s = h.mstatus & SSTATUS_MASK;
      return setCsr(h, s, MSTATUS_HI_UXL64 | (sdBit(s) ? MSTATUS_HI_SD : 0));
    }
    case CSR_VSSTATUS: {
      const s = h.vsstatus & SSTATUS_MASK;
      return setCsr(h, s, MSTATUS_HI_UXL64 | (sdBit(s) ? MSTATUS_HI_SD : 0));
    }
    case CSR_MSTATUS: {
      const s = h.mstatus;
      return setCsr(
        h,
        s,
        MSTATUS_HI_UXL64 |
          MSTATUS_HI_SXL64 |
          (h.mstatusGva ? MSTATUS_HI_GVA : 0) |
          (h.mstatusMpv ? MSTATUS_HI_MPV : 0) |
          (sdBit(s) ? MSTATUS_HI_SD : 0),
      );
    }
    case CSR_HSTATUS:
      return setCsr(h, h.hstatus, HSTATUS_HI_VSXL64);
    case CSR_MISA:
      return setCsr(h, MISA_LO, MISA_HI);
    case CSR_MEDELEG:
      return setCsr(h, h.medeleg, 0);
    case CSR_MIDELEG:
      return setCsr(h, h.mideleg, 0);
    case CSR_HEDELEG:
      return setCsr(h, h.hedeleg, 0);
    case CSR_HIDELEG:
      return setCsr(h, h.hideleg, 0);
    case CSR_MIE:
      return setCsr(h, h.mie, 0);
    case CSR_MIP:
      return setCsr(h, mipValue(h), 0);
    case CSR_SIE:
      return setCsr(h, h.mie & h.mideleg & S_INTERRUPTS, 0);
    case CSR_SIP:
      return setCsr(h, mipValue(h) & h.mideleg & S_INTERRUPTS, 0);
    case CSR_HIE:
      return setCsr(h, h.mie & (VS_INTERRUPTS | MIP_SGEIP), 0);
    case CSR_HIP:
      return setCsr(h, mipValue(h) & (VS_INTERRUPTS | MIP_SGEIP), 0);
    case CSR_HVIP:
      return setCsr(h, h.hvip, 0);
    case CSR_VSIE:
      return setCsr(h, (h.mie & h.hideleg & VS_INTERRUPTS) >>> VS_TO_S_CAUSE_SHIFT, 0);
    case CSR_VSIP:
      return setCsr(h, (mipValue(h) & h.hideleg & VS_INTERRUPTS) >>> VS_TO_S_CAUSE_SHIFT, 0);
    case CSR_HGEIE:
    case CSR_HGEIP:
      return setCsr(h, 0, 0);
    case CSR_MTVEC:
      return setCsrNum(h, h.mtvec);
    case CSR_STVEC:
      return setCsrNum(h, h.stvec);
    case CSR_VSTVEC:
      return setCsrNum(h, h.vstvec);
    case CSR_MEPC:
      return setCsrNum(h, h.mepc);
    case CSR_SEPC:
      return setCsrNum(h, h.sepc);
    case CSR_VSEPC:
      return setCsrNum(h, h.vsepc);
    case CSR_MTVAL:
      return setCsrNum(h, h.mtval);
    case CSR_STVAL:
      return setCsrNum(h, h.stval);
    case CSR_VSTVAL:
      return setCsrNum(h, h.vstval);
    case CSR_MTVAL2:
      return setCsrNum(h, h.mtval2);
    case CSR_HTVAL:
      return setCsrNum(h, h.htval);
    case CSR_MTINST:
      return setCsrNum(h, h.mtinst);
    case CSR_HTINST:
      return setCsrNum(h, h.htinst);
    case CSR_MCAUSE:
      return setCsr(h, h.mcauseLo, h.mcauseHi);
    case CSR_SCAUSE:
      return setCsr(h, h.scauseLo, h.scauseHi);
    case CSR_VSCAUSE:
      return setCsr(h, h.vscauseLo, h.vscauseHi);
    case CSR_MSCRATCH:
      return setCsr(h, h.mscratchLo, h.mscratchHi);
    case CSR_SSCRATCH:
      return setCsr(h, h.sscratchLo, h.sscratchHi);
    case CSR_VSSCRATCH:
      return setCsr(h, h.vsscratchLo, h.vsscratchHi);
    case CSR_SATP:
      return setCsr(h, h.satpLo, h.satpHi);
    case CSR_VSATP:
      return setCsr(h, h.vsatpLo, h.vsatpHi);
    case CSR_HGATP:
      return setCsr(h, h.hgatpLo, h.hgatpHi);
    case CSR_MCOUNTEREN:
      return setCsr(h, h.mcounteren, 0);
    case CSR_SCOUNTEREN:
      return setCsr(h, h.scounteren, 0);
    case CSR_HCOUNTEREN:
      return setCsr(h, h.hcounteren, 0);
    case CSR_MENVCFG:
      return setCsr(h, h.menvcfgLo, h.menvcfgHi);
    case CSR_HENVCFG:
      return setCsr(h, h.henvcfgLo, h.henvcfgHi);
    case CSR_SENVCFG:
      return setCsr(h, h.senvcfg, 0);
    case CSR_MCOUNTINHIBIT:
      return setCsr(h, h.mcountinhibit, 0);
    case CSR_STIMECMP:
      return setCsr(h, h.stimecmpLo, h.stimecmpHi);
    case CSR_VSTIMECMP:
      return setCsr(h, h.vstimecmpLo, h.vstimecmpHi);
    case CSR_HTIMEDELTA:
      return setCsr(h, h.htimedeltaLo, h.htimedeltaHi);
    case CSR_MHARTID:
      return setCsr(h, h.hartId, 0);
    default:
      // mvendorid/marchid/mimpid/mconfigptr (0: not implemented/non-commercial), hpm counters and events,
      // PMP (no PMP entries: all read zero), trigger CSRs (no triggers: tselect/tdata* read zero).
      return setCsr(h, 0, 0);
  }
}

/** Write a CSR (already checked and substituted). */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): void {
  switch (csr) {
    case CSR_FFLAGS:
      h.fp.fflags = lo & FFLAGS_MASK;
      h.markFpDirty();
      return;
    case CSR_FRM:
      h.fp.frm = lo & FRM_MASK;
      h.markFpDirty();
      return;
    case CSR_FCSR:
      h.fp.fflags = lo & FFLAGS_MASK;
      h.fp.frm = (lo >>> FRM_SHIFT) & FRM_MASK;
      h.markFpDirty();
      return;
    case CSR_MCYCLE:
      if ((h.mcountinhibit & COUNTINHIBIT_CY) !== 0) h.cycleFrozen = signedValue(lo, hi);
      else h.cycleOffset = signedValue(lo, hi) - h.icount - 1;
      return;
    case CSR_MINSTRET:
      // The write is the value after this instruction retires (it does not count itself afterwards).
      if ((h.mcountinhibit & COUNTINHIBIT_IR) !== 0) h.instretFrozen = signedValue(lo, hi);
      else h.instretOffset = signedValue(lo, hi) - h.icount - 1;
      return;
    case CSR_MCOUNTINHIBIT: {
      const next = lo & ~COUNTEREN_TM; // bit 1 (TM) is read-only zero
      const cy = COUNTINHIBIT_CY;
      const ir = COUNTINHIBIT_IR;
      if ((next & cy) !== 0 && (h.mcountinhibit & cy) === 0) h.cycleFrozen = readCycle(h);
      if ((next & cy) === 0 && (h.mcountinhibit & cy) !== 0) h.cycleOffset = h.cycleFrozen - h.icount;
      if ((next & ir) !== 0 && (h.mcountinhibit & ir) === 0) h.instretFrozen = readInstret(h);
      if ((next & ir) === 0 && (h.mcountinhibit & ir) !== 0) {
        h.instretOffset = h.instretFrozen - h.icount;
      }
      h.mcountinhibit = next;
      return;
    }
    case CSR_MSTATUS:
      writeMstatus(h, lo, hi);
      return;
    case CSR_SSTATUS:
      writeMstatus(h, (h.mstatus & ~SSTATUS_WRITE_MASK) | (lo & SSTATUS_WRITE_MASK), mstatusHighWord(h));
      return;
    case CSR_VSSTATUS: {
      const next = (h.vsstatus & ~SSTATUS_WRITE_MASK) | (lo & SSTATUS_WRITE_MASK);
      const changed = next ^ h.vsstatus;
      h.vsstatus = next;
      if ((changed & MSTATUS_MXR) !== 0) for (let i = 4; i <= 6; i++) h.tlbSets[i]?.flushRead();
      h.updateContext();
      h.irqDirty = true;
      return;
    }
    case CSR_HSTATUS:
      h.hstatus = lo & HSTATUS_WRITE_MASK;
      return;
    case CSR_MISA:
      return; // misa is fixed: writes are ignored (WARL)
    case CSR_MEDELEG:
      h.medeleg = lo & MEDELEG_MASK;
      return;
    case CSR_MIDELEG:
      h.mideleg = (lo & S_INTERRUPTS) | MIDELEG_READ_ONLY_ONE;
      h.irqDirty = true;
      return;
    case CSR_HEDELEG:
      h.hedeleg = lo & HEDELEG_MASK;
      return;
    case CSR_HIDELEG:
      h.hideleg = lo & VS_INTERRUPTS;
      h.irqDirty = true;
      return;
    case CSR_MIE:
      h.mie = lo & ALL_INTERRUPTS;
      h.irqDirty = true;
      return;
    case CSR_MIP: {
      const soft = MIP_SSIP | MIP_SEIP | (h.stce() ? 0 : MIP_STIP);
      h.mipSoft = (h.mipSoft & ~soft) | (lo & soft);
      h.hvip = (h.hvip & ~MIP_VSSIP) | (lo & MIP_VSSIP);
      h.irqDirty = true;
      return;
    }
    case CSR_SIE: {
      const mask = h.mideleg & S_INTERRUPTS;
      h.mie = (h.mie & ~mask) | (lo & mask);
      h.irqDirty = true;
      return;
    }
    case CSR_SIP: {
      const mask = h.mideleg & MIP_SSIP;
      h.mipSoft = (h.mipSoft & ~mask) | (lo & mask);
      h.irqDirty = true;
      return;
    }
    case CSR_HIE: {
      const mask = VS_INTERRUPTS | MIP_SGEIP;
      h.mie = (h.mie & ~mask) | (lo & mask);
      h.irqDirty = true;
      return;
    }
    case CSR_HIP:
      h.hvip = (h.hvip & ~MIP_VSSIP) | (lo & MIP_VSSIP);
      h.irqDirty = true;
      return;
    case CSR_HVIP:
      h.hvip = lo & VS_INTERRUPTS;
      h.irqDirty = true;
      return;
    case CSR_VSIE: {
      const mask = h.hideleg & VS_INTERRUPTS;
      h.mie = (h.mie & ~mask) | ((lo << VS_TO_S_CAUSE_SHIFT) & mask);
      h.irqDirty = true;
      return;
    }
    case CSR_VSIP: {
      const mask = h.hideleg & MIP_VSSIP;
      h.hvip = (h.hvip & ~mask) | ((lo << VS_TO_S_CAUSE_SHIFT) & mask);
      h.irqDirty = true;
      return;
    }
    case CSR_HGEIE:
      return; // GEILEN = 0: read-only zero
    case CSR_MTVEC:
      h.mtvec = legalTvec(signedValue(lo, hi));
      return;
    case CSR_STVEC:
      h.stvec = legalTvec(signedValue(lo, hi));
      return;
    case CSR_VSTVEC:
      h.vstvec = legalTvec(signedValue(lo, hi));
      return;
    case CSR_MEPC:
      h.mepc = legalEpc(signedValue(lo, hi));
      return;
    case CSR_SEPC:
      h.sepc = legalEpc(signedValue(lo, hi));
      return;
    case CSR_VSEPC:
      h.vsepc = legalEpc(signedValue(lo, hi));
      return;
    case CSR_MTVAL:
      h.mtval = signedValue(lo, hi);
      return;
    case CSR_STVAL:
      h.stval = signedValue(lo, hi);
      return;
    case CSR_VSTVAL:
      h.vstval = signedValue(lo, hi);
      return;
    case CSR_MTVAL2:
      h.mtval2 = signedValue(lo, hi);
      return;
    case CSR_HTVAL:
      h.htval = signedValue(lo, hi);
      return;
    case CSR_MTINST:
      h.mtinst = signedValue(lo, hi);
      return;
    case CSR_HTINST:
      h.htinst = signedValue(lo, hi);
      return;
    case CSR_MCAUSE:
      h.mcauseLo = lo;
      h.mcauseHi = hi;
      return;
    case CSR_SCAUSE:
      h.scauseLo = lo;
      h.scauseHi = hi;
      return;
    case CSR_VSCAUSE:
      h.vscauseLo = lo;
      h.vscauseHi = hi;
      return;
    case CSR_MSCRATCH:
      h.mscratchLo = lo;
      h.mscratchHi = hi;
      return;
    case CSR_SSCRATCH:
      h.sscratchLo = lo;
      h.sscratchHi = hi;
      return;
    case CSR_VSSCRATCH:
      h.vsscratchLo = lo;
      h.vsscratchHi = hi;
      return;
    case CSR_SATP: {
      const mode = hi >>> ATP_HI_MODE_SHIFT;
      // Unsupported modes make the whole write have no effect (WARL).
      if (mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) return;
      h.satpLo = lo;
      h.satpHi = hi;
      h.stats.flushesSatp++;
      h.flushHostTlbs();
      return;
    }
    case CSR_VSATP: {
      const mode = hi >>> ATP_HI_MODE_SHIFT;
      if (mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) return;
      h.vsatpLo = lo;
      h.vsatpHi = hi;
      h.stats.flushesVsatp++;
      h.flushGuestTlbs();
      return;
    }
    case CSR_HGATP: {
      const mode = hi >>> ATP_HI_MODE_SHIFT;
      if (mode !== SATP_MODE_BARE && mode !== HGATP_MODE_SV39X4 && mode !== HGATP_MODE_SV48X4) return;
      // VMID is bits 57:44 (VMIDLEN = 14); bits 59:58 are zero; PPN[1:0] read as zero (16 KiB root).
      h.hgatpLo = lo & ~3;
      h.hgatpHi = hi & ((0xf << ATP_HI_MODE_SHIFT) | (((1 << VMID_BITS) - 1) << ATP_HI_ID_SHIFT) | ATP_HI_PPN_MASK);
      h.stats.flushesHgatp++;
      h.flushGstage();
      return;
    }
    case CSR_MCOUNTEREN:
      h.mcounteren = lo;
      return;
    case CSR_SCOUNTEREN:
      h.scounteren = lo;
      return;
    case CSR_HCOUNTEREN:
      h.hcounteren = lo;
      return;
    case CSR_MENVCFG:
      h.menvcfgLo = lo & ENVCFG_FIOM;
      h.menvcfgHi = hi & ENVCFG_HI_STCE;
      if (!h.stce()) h.henvcfgHi &= ~ENVCFG_HI_STCE;
      updateTimers(h, timeNow(h));
      h.irqDirty = true;
      return;
    case CSR_HENVCFG:
      h.henvcfgLo = lo & ENVCFG_FIOM;
      // henvcfg.STCE is read-only zero while menvcfg.STCE is zero.
      h.henvcfgHi = h.stce() ? hi & ENVCFG_HI_STCE : 0;
      updateTimers(h, timeNow(h));
      h.irqDirty = true;
      return;
    case CSR_SENVCFG:
      h.senvcfg = lo & ENVCFG_FIOM;
      return;
    case CSR_STIMECMP:
      h.stimecmpLo = lo;
      h.stimecmpHi = hi;
      updateTimers(h, timeNow(h));
      h.irqDirty = true;
      return;
    case CSR_VSTIMECMP:
      h.vstimecmpLo = lo;
      h.vstimecmpHi = hi;
      updateTimers(h, timeNow(h));
      h.irqDirty = true;
      return;
    case CSR_HTIMEDELTA:
      h.htimedeltaLo = lo;
      h.htimedeltaHi = hi;
      updateTimers(h, timeNow(h));
      return;
    default:
      // Read-only-zero registers (hpm counters/events, PMP, triggers, hgeie) ignore writes.
      return;
  }
}

export function mstatusHighWord(h: Hart): number {
  return (h.mstatusGva ? MSTATUS_HI_GVA : 0) | (h.mstatusMpv ? MSTATUS_HI_MPV : 0);
}

export function writeMstatus(h: Hart, lo: number, hi: number): void {
  let next = (h.mstatus & ~MSTATUS_WRITE_MASK) | (lo & MSTATUS_WRITE_MASK);
  // MPP is WARL over {U, S, M}: the reserved value 2 leaves the field unchanged.
  if (((next >>> MSTATUS_MPP_SHIFT) & 3) === 2) next = (next & ~MSTATUS_MPP) | (h.mstatus & MSTATUS_MPP);
  const changed = next ^ h.mstatus;
  h.mstatus = next;
  h.mstatusGva = (hi & MSTATUS_HI_GVA) !== 0;
  h.mstatusMpv = (hi & MSTATUS_HI_MPV) !== 0;
  if ((changed & MSTATUS_MXR) !== 0) for (let i = 1; i < TLB_CONTEXTS; i++) h.tlbSets[i]?.flushRead();
  h.updateContext();
  h.irqDirty = true;
}

function sdBit(status: number): boolean {
  return (status & MSTATUS_FS) >>> 13 === FS_DIRTY;
}

/** xtvec WARL: modes 0 (direct) and 1 (vectored); bit 1 is read-only zero. */
function legalTvec(v: number): number {
  return v - (v & 2);
}

/** xepc WARL with IALIGN = 16: bit 0 is zero. */
function legalEpc(v: number): number {
  return v - (v & 1);
}
