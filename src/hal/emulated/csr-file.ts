/**
 * The CSR file of a hart: the reads and writes of every CSR it implements, with their WARL rules and side
 * effects (TLB flushes, timer re-evaluation, interrupt re-evaluation). A read leaves its value in
 * `hart.csrLo`/`hart.csrHi`. The caller has checked the access and substituted the number (`csr-access.ts`).
 */

import {
  COUNTEREN_TM,
  COUNTINHIBIT_CY,
  COUNTINHIBIT_IR,
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
  CSR_HSTATUS,
  CSR_HTIMEDELTA,
  CSR_HTINST,
  CSR_HTVAL,
  CSR_HVIP,
  CSR_INSTRET,
  CSR_MCAUSE,
  CSR_MCOUNTEREN,
  CSR_MCOUNTINHIBIT,
  CSR_MCYCLE,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MHARTID,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MINSTRET,
  CSR_MIP,
  CSR_MISA,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTINST,
  CSR_MTVAL,
  CSR_MTVAL2,
  CSR_MTVEC,
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
  CSR_TIME,
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
  MEDELEG_MASK,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS,
  MSTATUS_HI_GVA,
  MSTATUS_HI_MPV,
  MSTATUS_HI_SD,
  MSTATUS_HI_SXL64,
  MSTATUS_HI_UXL64,
  MSTATUS_MIE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MXR,
  MSTATUS_SIE,
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
  MIP_SEIP,
  MIP_SGEIP,
  MIP_SSIP,
  MIP_STIP,
  MIP_VSSIP,
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
import { readPmpaddr, readPmpcfg, writePmpaddr, writePmpcfg } from "./pmp.ts";
import { highWord, lowWord, signedValue } from "./split64.ts";
import { readCycle, readInstret, timeNow, updateTimers, virtualTime } from "./timers.ts";

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
      if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
        const [lo, hi] = readPmpcfg(h.pmp, csr);
        return setCsr(h, lo, hi);
      }
      if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
        const [lo, hi] = readPmpaddr(h.pmp, csr);
        return setCsr(h, lo, hi);
      }
      // mvendorid/marchid/mimpid/mconfigptr (0: not implemented/non-commercial), hpm counters and events,
      // trigger CSRs (no triggers: tselect/tdata* read zero).
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
      // Only an interrupt enable turned on can make an interrupt deliverable (see writeMstatus).
      if ((next & changed & MSTATUS_SIE) !== 0) h.irqDirty = true;
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
    default: {
      // PMP: TLB entries were filled under the old rules (they cache PMP's verdict for whole pages).
      const pmpChanged =
        (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15 && writePmpcfg(h.pmp, csr, lo, hi)) ||
        (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63 && writePmpaddr(h.pmp, csr, lo, hi));
      if (pmpChanged) {
        h.stats.flushesOther++;
        h.flushAllTlbs();
      }
      // Read-only-zero registers (hpm counters/events, PMP entries past 15, triggers, hgeie) ignore writes.
      return;
    }
  }
}

function mstatusHighWord(h: Hart): number {
  return (h.mstatusGva ? MSTATUS_HI_GVA : 0) | (h.mstatusMpv ? MSTATUS_HI_MPV : 0);
}

function writeMstatus(h: Hart, lo: number, hi: number): void {
  let next = (h.mstatus & ~MSTATUS_WRITE_MASK) | (lo & MSTATUS_WRITE_MASK);
  // MPP is WARL over {U, S, M}: the reserved value 2 leaves the field unchanged.
  if (((next >>> MSTATUS_MPP_SHIFT) & 3) === 2) next = (next & ~MSTATUS_MPP) | (h.mstatus & MSTATUS_MPP);
  const changed = next ^ h.mstatus;
  h.mstatus = next;
  h.mstatusGva = (hi & MSTATUS_HI_GVA) !== 0;
  h.mstatusMpv = (hi & MSTATUS_HI_MPV) !== 0;
  if ((changed & MSTATUS_MXR) !== 0) for (let i = 1; i < TLB_CONTEXTS; i++) h.tlbSets[i]?.flushRead();
  h.updateContext();
  // Only an interrupt enable turned on can make an interrupt deliverable: Linux masks interrupts
  // (`csrrci sstatus, SIE`) on every spinlock and trap, and each look at the interrupts ends a region's chain.
  if ((next & changed & (MSTATUS_SIE | MSTATUS_MIE)) !== 0) h.irqDirty = true;
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
