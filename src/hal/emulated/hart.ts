/**
 * One RV64GC + H hart: architectural state, the CSR file, traps and interrupts, and memory access through the
 * software TLB. Instruction semantics live in `exec.ts`, translation in `mmu.ts`, the decode caches and compiler in
 * `block.ts`/`jit.ts`.
 *
 * Conventions:
 * - Integer registers are two Int32Array(32) halves (`xlo`, `xhi`); x0 is kept zero by every writer.
 * - The pc and every address are doubles holding the signed 64-bit value (exact for canonical addresses). A
 *   64-bit address too large for a double is invalid in every mode this hart has, and the spec lets xepc/xtval
 *   hold some other invalid address in its place.
 * - 64-bit CSRs that hold addresses (xtvec, xepc, xtval, htval, xtinst) are doubles too; CSRs that hold
 *   arbitrary 64-bit data (xscratch, xcause, satp, timecmp, htimedelta) are [lo, hi] halves.
 * - Misaligned loads and stores to RAM are performed (byte by byte across pages), never trapped; misaligned
 *   LR/SC/AMOs raise address-misaligned. Instruction-address-misaligned cannot happen: C is always enabled.
 * - "Hypervisor" VMs (`hostTraps`): the VMM plays HS-mode. A trap that would enter HS or M stops the hart with
 *   STOP_HOST_TRAP after setting the HS CSRs exactly as the spec says; the backend decodes it and resumes the
 *   guest with `resumeGuest`.
 */

import {
  COUNTEREN_TM,
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
  HSTATUS_GVA,
  HSTATUS_HI_VSXL64,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  HSTATUS_VTVM,
  MEDELEG_MASK,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS,
  MSTATUS_HI_GVA,
  MSTATUS_HI_MPV,
  MSTATUS_HI_SD,
  MSTATUS_HI_SXL64,
  MSTATUS_HI_UXL64,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_SUM,
  MSTATUS_TVM,
  SSTATUS_MASK,
} from "../../arch/riscv64/csr.ts";
import {
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  PAGE_SIZE,
  SATP_MODE_BARE,
  SATP_MODE_SV39,
  SATP_MODE_SV48,
} from "../../arch/riscv64/paging.ts";
import {
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_VIRTUAL_INSTRUCTION,
  INTERRUPT_PRIORITY,
  MIP_SEIP,
  MIP_SGEIP,
  MIP_SSIP,
  MIP_STIP,
  MIP_VSSIP,
  MIP_VSTIP,
  PRV_M,
  PRV_S,
  PRV_U,
  S_INTERRUPTS,
  VS_INTERRUPTS,
} from "../../arch/riscv64/traps.ts";
import {
  ALL_INTERRUPTS,
  HSTATUS_WRITE_MASK,
  MISA_HI,
  MISA_LO,
  MSTATUS_WRITE_MASK,
  SSTATUS_WRITE_MASK,
  TWO_POW_32,
} from "./constants.ts";
import { FpState } from "./fp-bridge.ts";
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, type Access, GTLB_SIZE, type Translation, translate } from "./mmu.ts";
import { type MemBlock, type MemoryClient, PhysicalMemory } from "./phys-memory.ts";
import { HartStats } from "./stats.ts";
import { TLB_MASK, TlbSet } from "./tlb.ts";

// Why the hart stopped (run loops return to the backend when `stop` is nonzero).
export const STOP_NONE = 0;
/** A trap entered HS or M while `hostTraps` is set (hypervisor VMs): the VMM handles it. */
export const STOP_HOST_TRAP = 1;
/** A data access to a non-RAM physical address (bare-machine VMs): see the `mmio*` fields. */
export const STOP_MMIO = 2;
/** WFI with nothing pending (bare-machine VMs). The pc is past the WFI. */
export const STOP_HALT = 3;
/** `kick()` asked the run to end. */
export const STOP_KICK = 4;

// Results of executing one instruction.
/** Retired; continue with the next instruction of the block. */
export const EXEC_NEXT = 0;
/** Retired; the block must end (jump taken, CSR/state change). */
export const EXEC_END = 1;
/** Not retired: a trap was taken or the hart stopped (pc already updated). */
export const EXEC_TRAP = 2;

/** Number of translation contexts (TLB sets); see `contextIndex`. */
const CONTEXTS = 7;
const CTX_M = 0;

/**
 * TLB context of an access made at `priv` with `virt` and the applicable SUM bit: M (physical), U, S, S+SUM,
 * VU, VS, VS+SUM. Entries are filled for one context only, so switching context needs no flush.
 */
export function contextIndex(priv: number, virt: boolean, sum: boolean): number {
  if (priv === PRV_M) return CTX_M;
  const base = virt ? 4 : 1;
  if (priv === PRV_U) return base;
  return base + (sum ? 2 : 1);
}

export interface HartConfig {
  readonly hartId: number;
  readonly memory: PhysicalMemory;
  /** The current architectural time in timebase ticks. */
  readonly now: () => number;
  /** Bare-machine: data accesses to non-RAM physical addresses stop the hart with STOP_MMIO. */
  readonly mmioExits: boolean;
  /** Hypervisor: traps into HS/M stop the hart with STOP_HOST_TRAP. */
  readonly hostTraps: boolean;
}

function lo32(v: number): number {
  return v | 0;
}

function hi32(v: number): number {
  return Math.floor(v / TWO_POW_32) | 0;
}

function num(lo: number, hi: number): number {
  return hi * TWO_POW_32 + (lo >>> 0);
}

function unsignedNum(lo: number, hi: number): number {
  return (hi >>> 0) * TWO_POW_32 + (lo >>> 0);
}

/** xtvec WARL: modes 0 (direct) and 1 (vectored); bit 1 is read-only zero. */
function legalTvec(v: number): number {
  return v - (v & 2);
}

/** xepc WARL with IALIGN = 16: bit 0 is zero. */
function legalEpc(v: number): number {
  return v - (v & 1);
}

export class Hart implements MemoryClient {
  readonly hartId: number;
  readonly memory: PhysicalMemory;
  readonly now: () => number;
  readonly mmioExits: boolean;
  readonly hostTraps: boolean;

  readonly xlo = new Int32Array(32);
  readonly xhi = new Int32Array(32);
  pc = 0;
  priv = PRV_M;
  virt = false;
  readonly fp = new FpState();

  /** Instructions retired since reset (drives minstret/mcycle). */
  icount = 0;
  stop = STOP_NONE;
  kickRequested = false;
  /** icount at which the run loop next compares the Sstc timers with the clock. */
  nextTimerCheck = 0;
  /**
   * How much new code the hart is meeting: a moving average of instructions decoded per instruction retired,
   * updated at the timer checks (engine.ts). Starts high: nothing is known to be stable yet.
   */
  codeChurn = 1;
  /** stats.decodes and icount at the last codeChurn update. */
  churnDecodes = 0;
  churnIcount = 0;
  /** Interrupt-relevant state changed: re-evaluate pending interrupts at the next block boundary. */
  irqDirty = true;
  /** High word of the last slow-path load (the low word is returned). */
  ldHi = 0;
  /**
   * Whether the last `loadSlow` completed. A flag rather than an `undefined` result: the loaded value stays an
   * int32, and the rare fault does not change its type under the optimized interpreter (which would send it back
   * to a slower tier).
   */
  loadOk = true;
  /** Slow-path event counters. */
  readonly stats = new HartStats();
  /** Result of the last csrRead. */
  csrLo = 0;
  csrHi = 0;

  // --- status and control (low words; the few high bits are separate fields) ---
  mstatus = 0;
  mstatusGva = false;
  mstatusMpv = false;
  vsstatus = 0;
  hstatus = 0;
  medeleg = 0;
  mideleg = MIDELEG_READ_ONLY_ONE;
  hedeleg = 0;
  hideleg = 0;
  mie = 0;
  /** Software-writable pending bits of mip (SSIP, STIP when Sstc is off, SEIP). */
  mipSoft = 0;
  /** Lines driven from outside (CLINT/PLIC in bare-machine VMs): MSIP, MTIP, MEIP, SSIP, STIP, SEIP. */
  mipExt = 0;
  /** hvip: VSSIP, VSTIP, VSEIP. */
  hvip = 0;
  stimerPending = false;
  vstimerPending = false;

  mtvec = 0;
  stvec = 0;
  vstvec = 0;
  mepc = 0;
  sepc = 0;
  vsepc = 0;
  mtval = 0;
  stval = 0;
  vstval = 0;
  mtval2 = 0;
  htval = 0;
  mtinst = 0;
  htinst = 0;
  mcauseLo = 0;
  mcauseHi = 0;
  scauseLo = 0;
  scauseHi = 0;
  vscauseLo = 0;
  vscauseHi = 0;
  mscratchLo = 0;
  mscratchHi = 0;
  sscratchLo = 0;
  sscratchHi = 0;
  vsscratchLo = 0;
  vsscratchHi = 0;
  satpLo = 0;
  satpHi = 0;
  vsatpLo = 0;
  vsatpHi = 0;
  hgatpLo = 0;
  hgatpHi = 0;
  mcounteren = 0;
  scounteren = 0;
  hcounteren = 0;
  menvcfgLo = 0;
  menvcfgHi = 0;
  henvcfgLo = 0;
  henvcfgHi = 0;
  senvcfg = 0;
  mcountinhibit = 0;
  stimecmpLo = -1;
  stimecmpHi = -1;
  vstimecmpLo = -1;
  vstimecmpHi = -1;
  htimedeltaLo = 0;
  htimedeltaHi = 0;
  /** minstret = icount + instretOffset (or the frozen value while inhibited). */
  instretOffset = 0;
  cycleOffset = 0;
  instretFrozen = 0;
  cycleFrozen = 0;

  // --- LR/SC reservation (physical address) ---
  reservationValid = false;
  reservationAddr = 0;

  // --- translation ---
  readonly gtlbTag = new Float64Array(GTLB_SIZE).fill(Number.NaN);
  readonly gtlbPage = new Float64Array(GTLB_SIZE);
  readonly gtlbPte = new Int32Array(GTLB_SIZE);
  /** Leaf page size of the last successful data translation (for TLB fills). */
  lastSpan = 4096;
  /** TLB sets by context, created when a context is first used (each is a few hundred KiB of arrays). */
  readonly tlbSets: (TlbSet | undefined)[] = new Array<TlbSet | undefined>(CONTEXTS).fill(undefined);
  /** TLB set for data accesses (reflects MPRV) and for fetches. */
  dtlb: TlbSet;
  itlb: TlbSet;

  // --- pending MMIO access (STOP_MMIO) ---
  mmioAddr = 0;
  mmioWidth = 0;
  mmioIsWrite = false;
  mmioDataLo = 0;
  mmioDataHi = 0;
  /** Transformed instruction of the access (rd, funct3, opcode; bit 1 clear if compressed). */
  mmioTinst = 0;
  /** Length of the instruction (2 or 4), to advance the pc when the access completes. */
  mmioLen = 0;

  constructor(config: HartConfig) {
    this.hartId = config.hartId;
    this.memory = config.memory;
    this.now = config.now;
    this.mmioExits = config.mmioExits;
    this.hostTraps = config.hostTraps;
    const first = this.tlbSet(CTX_M);
    this.dtlb = first;
    this.itlb = first;
    config.memory.addClient(this);
  }

  /** Reset to the state the privileged spec gives at reset: M-mode, MIE = 0, MPRV = 0, paging off. */
  reset(pc: number): void {
    this.xlo.fill(0);
    this.xhi.fill(0);
    this.fp.f64.fill(0);
    this.fp.fflags = 0;
    this.fp.frm = 0;
    this.pc = pc;
    this.priv = PRV_M;
    this.virt = false;
    this.mstatus = 0;
    this.mstatusGva = false;
    this.mstatusMpv = false;
    this.vsstatus = 0;
    this.hstatus = 0;
    this.medeleg = 0;
    this.hedeleg = 0;
    this.hideleg = 0;
    this.mie = 0;
    this.mipSoft = 0;
    this.hvip = 0;
    this.satpLo = this.satpHi = this.vsatpLo = this.vsatpHi = this.hgatpLo = this.hgatpHi = 0;
    this.mcauseLo = this.mcauseHi = 0;
    // Sstc comparators start disarmed (all ones), so a restarted hart sees no stale timer interrupt.
    this.stimecmpLo = this.stimecmpHi = -1;
    this.vstimecmpLo = this.vstimecmpHi = -1;
    this.stimerPending = this.vstimerPending = false;
    this.reservationValid = false;
    this.stop = STOP_NONE;
    this.flushAllTlbs();
    this.updateContext();
    this.irqDirty = true;
  }

  // =============================================================================================================
  // Small state helpers
  // =============================================================================================================

  getReg(r: number): bigint {
    return (BigInt((this.xhi[r] ?? 0) >>> 0) << 32n) | BigInt((this.xlo[r] ?? 0) >>> 0);
  }

  setReg(r: number, value: bigint): void {
    if (r === 0) return;
    const v = BigInt.asUintN(64, value);
    this.xlo[r] = Number(v & 0xffffffffn) | 0;
    this.xhi[r] = Number(v >> 32n) | 0;
  }

  mxr(): boolean {
    return (this.mstatus & MSTATUS_MXR) !== 0;
  }

  sum(): boolean {
    return (this.mstatus & MSTATUS_SUM) !== 0;
  }

  vsMxr(): boolean {
    return (this.vsstatus & MSTATUS_MXR) !== 0;
  }

  vsSum(): boolean {
    return (this.vsstatus & MSTATUS_SUM) !== 0;
  }

  stce(): boolean {
    return (this.menvcfgHi & ENVCFG_HI_STCE) !== 0;
  }

  vstce(): boolean {
    return this.stce() && (this.henvcfgHi & ENVCFG_HI_STCE) !== 0;
  }

  /** FP instructions and fcsr are illegal while FS is Off (mstatus.FS, and vsstatus.FS when V=1). */
  fpOff(): boolean {
    if ((this.mstatus & MSTATUS_FS) === 0) return true;
    return this.virt && (this.vsstatus & MSTATUS_FS) === 0;
  }

  /** Any write of FP state sets FS = Dirty (and so SD) in mstatus and, when V=1, in vsstatus. */
  markFpDirty(): void {
    this.mstatus |= MSTATUS_FS;
    if (this.virt) this.vsstatus |= MSTATUS_FS;
  }

  /** The TLB set of context `ctx`, created on first use. */
  tlbSet(ctx: number): TlbSet {
    let set = this.tlbSets[ctx];
    if (set === undefined) {
      set = new TlbSet();
      this.tlbSets[ctx] = set;
    }
    return set;
  }

  /** Recompute which TLB sets data accesses and fetches use. Call after any change of priv, V, MPRV/MPP/MPV, SUM. */
  updateContext(): void {
    let ctx: number;
    if (this.virt) ctx = contextIndex(this.priv, true, this.vsSum());
    else ctx = contextIndex(this.priv, false, this.sum());
    this.itlb = this.tlbSet(ctx);
    let dctx = ctx;
    if (this.priv === PRV_M && (this.mstatus & MSTATUS_MPRV) !== 0) {
      const mpp = (this.mstatus >>> MSTATUS_MPP_SHIFT) & 3;
      const mpv = mpp !== PRV_M && this.mstatusMpv;
      dctx = contextIndex(mpp, mpv, mpv ? this.vsSum() : this.sum());
    }
    this.dtlb = this.tlbSet(dctx);
  }

  /** Effective privilege and V for data accesses (MPRV). */
  dataPriv(): number {
    if (this.priv === PRV_M && (this.mstatus & MSTATUS_MPRV) !== 0) return (this.mstatus >>> MSTATUS_MPP_SHIFT) & 3;
    return this.priv;
  }

  dataVirt(): boolean {
    if (this.priv === PRV_M && (this.mstatus & MSTATUS_MPRV) !== 0) {
      return ((this.mstatus >>> MSTATUS_MPP_SHIFT) & 3) !== PRV_M && this.mstatusMpv;
    }
    return this.virt;
  }

  flushAllTlbs(): void {
    for (const set of this.tlbSets) set?.flush();
    this.gtlbTag.fill(Number.NaN);
  }

  /** G-stage translations changed (hgatp write, HFENCE.GVMA): drop them and every composed guest entry. */
  flushGstage(): void {
    this.gtlbTag.fill(Number.NaN);
    this.flushGuestTlbs();
  }

  /** SFENCE.VMA/HFENCE.VVMA with an address: drop that address from the host (V=0) or guest (V=1) contexts. */
  flushVa(va: number, guest: boolean): void {
    this.stats.flushesVa++;
    const first = guest ? 4 : 1;
    for (let i = first; i < first + 3; i++) this.tlbSets[i]?.flushVa(va);
  }

  /** Flush the translations of the non-virtualized S/U contexts (satp, SFENCE.VMA with V=0). */
  flushHostTlbs(): void {
    for (let i = 1; i <= 3; i++) this.tlbSets[i]?.flush();
  }

  /** Flush the translations of the VS/VU contexts (vsatp, hgatp, HFENCE.*, SFENCE.VMA with V=1). */
  flushGuestTlbs(): void {
    for (let i = 4; i <= 6; i++) this.tlbSets[i]?.flush();
  }

  // MemoryClient
  onPageBecameCode(physPage: number): void {
    for (const set of this.tlbSets) set?.dropWritablePage(physPage);
  }

  onTranslationsStale(): void {
    this.stats.flushesOther++;
    this.flushAllTlbs();
  }

  onExternalWrite(start: number, end: number): void {
    if (this.reservationValid && this.reservationAddr + 8 > start && this.reservationAddr < end) {
      this.reservationValid = false;
    }
  }

  /** A write made by the hart's walker or slow path: drop decoded code on that page. */
  notePhysWrite(block: MemBlock, offset: number): void {
    const page = Math.floor(offset / PAGE_SIZE);
    if (PhysicalMemory.pageHasCode(block, page)) {
      this.stats.codeInvalidations++;
      PhysicalMemory.invalidateCode(block, page);
    }
  }

  // =============================================================================================================
  // Time and counters
  // =============================================================================================================

  timeNow(): number {
    return Math.floor(this.now());
  }

  /** Guest-visible time when V=1: time + htimedelta (mod 2^64, as a double). */
  virtualTime(t: number): number {
    return t + num(this.htimedeltaLo, this.htimedeltaHi);
  }

  /** Re-evaluate the Sstc comparators against `t`; marks interrupts dirty when a pending bit changes. */
  updateTimers(t: number): void {
    const s = this.stce() && t >= unsignedNum(this.stimecmpLo, this.stimecmpHi);
    let vt = this.virtualTime(t);
    if (vt < 0) vt += 2 ** 64;
    const vs = this.vstce() && vt >= unsignedNum(this.vstimecmpLo, this.vstimecmpHi);
    if (s !== this.stimerPending || vs !== this.vstimerPending) {
      this.stimerPending = s;
      this.vstimerPending = vs;
      this.irqDirty = true;
    }
  }

  /** Host time at which an armed Sstc comparator fires, or undefined. */
  timerDeadline(): number | undefined {
    let deadline: number | undefined;
    if (this.stce()) {
      const d = unsignedNum(this.stimecmpLo, this.stimecmpHi);
      if (d < 2 ** 53) deadline = d;
    }
    if (this.vstce()) {
      const d = unsignedNum(this.vstimecmpLo, this.vstimecmpHi) - num(this.htimedeltaLo, this.htimedeltaHi);
      if (d < 2 ** 53 && (deadline === undefined || d < deadline)) deadline = Math.max(0, d);
    }
    return deadline;
  }

  readInstret(): number {
    return (this.mcountinhibit & 4) !== 0 ? this.instretFrozen : this.icount + this.instretOffset;
  }

  readCycle(): number {
    return (this.mcountinhibit & 1) !== 0 ? this.cycleFrozen : this.icount + this.cycleOffset;
  }

  // =============================================================================================================
  // Interrupts
  // =============================================================================================================

  /** The value of mip as software reads it (all sources merged). */
  mipValue(): number {
    let v = this.mipSoft | this.mipExt | this.hvip;
    if (this.stce()) v = (v & ~MIP_STIP) | (this.stimerPending ? MIP_STIP : 0) | (this.mipExt & MIP_STIP);
    if (this.vstimerPending) v |= MIP_VSTIP;
    return v;
  }

  /** Drive an external interrupt line (bare-machine CLINT/PLIC, or the VMM's view of a line). */
  setExternalLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    const next = level ? this.mipExt | bit : this.mipExt & ~bit;
    if (next !== this.mipExt) {
      this.mipExt = next;
      this.irqDirty = true;
    }
  }

  /** Set or clear an hvip bit (VSSIP/VSTIP/VSEIP), as HS software would. */
  setHvip(bit: number, level: boolean): void {
    const next = level ? this.hvip | bit : this.hvip & ~bit;
    if (next !== this.hvip) {
      this.hvip = next & VS_INTERRUPTS;
      this.irqDirty = true;
    }
  }

  /** WFI wake-up condition: some interrupt pending and enabled in mie, ignoring the global enables. */
  wakeupPending(): boolean {
    return (this.mipValue() & this.mie) !== 0;
  }

  /**
   * Take the highest-priority interrupt that is pending, enabled and allowed at the current privilege, if any.
   * Returns true when a trap was taken.
   */
  takeInterrupt(): boolean {
    const pending = this.mipValue() & this.mie;
    if (pending === 0) return false;
    const priv = this.priv;
    const virt = this.virt;
    const toM = pending & ~this.mideleg;
    if (toM !== 0 && (priv < PRV_M || (this.mstatus & MSTATUS_MIE) !== 0)) {
      this.enterTrap(PRV_M, false, highestPriority(toM), true, 0, 0, 0, false);
      return true;
    }
    const toHs = pending & this.mideleg & ~this.hideleg;
    if (toHs !== 0 && priv !== PRV_M && (virt || priv === PRV_U || (this.mstatus & MSTATUS_SIE) !== 0)) {
      this.enterTrap(PRV_S, false, highestPriority(toHs), true, 0, 0, 0, false);
      return true;
    }
    const toVs = pending & this.mideleg & this.hideleg;
    if (toVs !== 0 && virt && (priv === PRV_U || (this.vsstatus & MSTATUS_SIE) !== 0)) {
      // VS-level interrupts appear to the guest with their supervisor cause numbers (VSSIP 2 → SSIP 1, ...).
      this.enterTrap(PRV_S, true, highestPriority(toVs) - 1, true, 0, 0, 0, false);
      return true;
    }
    return false;
  }

  // =============================================================================================================
  // Traps
  // =============================================================================================================

  /**
   * Raise exception `cause` at the current pc. `tval` goes to xtval; `gpa` (guest-page faults) gives
   * htval/mtval2 = gpa >> 2; `tinst` goes to htinst/mtinst; `gva` says xtval holds a guest virtual address.
   */
  raise(cause: number, tval: number, gpa = 0, tinst = 0, gva = false): void {
    let target = PRV_M;
    let toVs = false;
    if (this.priv <= PRV_S && ((this.medeleg >>> cause) & 1) !== 0) {
      target = PRV_S;
      toVs = this.virt && ((this.hedeleg >>> cause) & 1) !== 0;
    }
    this.enterTrap(target, toVs, cause, false, tval, Math.floor(gpa / 4), tinst, gva);
  }

  /** Raise illegal-instruction with tval = the instruction bits. */
  illegal(bits: number): void {
    this.raise(CAUSE_ILLEGAL_INSTRUCTION, bits >>> 0);
  }

  /** Raise virtual-instruction with tval = the instruction bits. */
  virtualInstruction(bits: number): void {
    this.raise(CAUSE_VIRTUAL_INSTRUCTION, bits >>> 0);
  }

  /** Raise a translation fault for an access to `va` (GVA set when the access was virtualized). */
  raiseTranslationFault(t: Translation, va: number, virtAccess: boolean, tinstOfInsn: number): void {
    if (t.ok) return;
    const guestFault = t.cause >= 20;
    // htinst: the transformed instruction for explicit accesses, the pseudo-instruction for implicit PTE ones.
    const tinst = t.tinst !== 0 ? t.tinst : guestFault ? tinstOfInsn : 0;
    this.raise(t.cause, va, guestFault ? t.gpa : 0, tinst, virtAccess);
  }

  enterTrap(
    target: number,
    toVs: boolean,
    cause: number,
    interrupt: boolean,
    tval: number,
    tval2: number,
    tinst: number,
    gva: boolean,
  ): void {
    const fromPriv = this.priv;
    const fromVirt = this.virt;
    const epc = this.pc;
    const causeHi = interrupt ? 0x80000000 | 0 : 0;
    if (interrupt) this.stats.interrupts++;
    else this.stats.exceptions++;
    this.reservationValid = false;
    if (toVs) {
      this.vscauseLo = cause;
      this.vscauseHi = causeHi;
      this.vsepc = epc;
      this.vstval = tval;
      let s = this.vsstatus;
      s = (s & ~MSTATUS_SPP) | (fromPriv === PRV_S ? MSTATUS_SPP : 0);
      s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0);
      s &= ~MSTATUS_SIE;
      this.vsstatus = s;
      this.priv = PRV_S;
      this.pc = trapVector(this.vstvec, cause, interrupt);
    } else if (target === PRV_S) {
      this.scauseLo = cause;
      this.scauseHi = causeHi;
      this.sepc = epc;
      this.stval = tval;
      this.htval = tval2;
      this.htinst = tinst;
      let h = this.hstatus;
      h = (h & ~HSTATUS_SPV) | (fromVirt ? HSTATUS_SPV : 0);
      if (fromVirt) h = (h & ~HSTATUS_SPVP) | (fromPriv === PRV_S ? HSTATUS_SPVP : 0);
      h = (h & ~HSTATUS_GVA) | (gva ? HSTATUS_GVA : 0);
      this.hstatus = h;
      let s = this.mstatus;
      s = (s & ~MSTATUS_SPP) | (fromPriv === PRV_S ? MSTATUS_SPP : 0);
      s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0);
      s &= ~MSTATUS_SIE;
      this.mstatus = s;
      this.virt = false;
      this.priv = PRV_S;
      this.pc = trapVector(this.stvec, cause, interrupt);
      if (this.hostTraps) this.stop = STOP_HOST_TRAP;
    } else {
      this.mcauseLo = cause;
      this.mcauseHi = causeHi;
      this.mepc = epc;
      this.mtval = tval;
      this.mtval2 = tval2;
      this.mtinst = tinst;
      let s = this.mstatus;
      s = (s & ~MSTATUS_MPP) | (fromPriv << MSTATUS_MPP_SHIFT);
      s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) !== 0 ? MSTATUS_MPIE : 0);
      s &= ~MSTATUS_MIE;
      this.mstatus = s;
      this.mstatusMpv = fromVirt;
      this.mstatusGva = gva;
      this.virt = false;
      this.priv = PRV_M;
      this.pc = trapVector(this.mtvec, cause, interrupt);
      if (this.hostTraps) this.stop = STOP_HOST_TRAP;
    }
    this.updateContext();
    this.irqDirty = true;
  }

  /** MRET (the caller checked priv == M). */
  mret(): void {
    const s = this.mstatus;
    const mpp = (s >>> MSTATUS_MPP_SHIFT) & 3;
    let n = s & ~(MSTATUS_MIE | MSTATUS_MPP);
    if ((s & MSTATUS_MPIE) !== 0) n |= MSTATUS_MIE;
    n |= MSTATUS_MPIE;
    if (mpp !== PRV_M) n &= ~MSTATUS_MPRV;
    this.mstatus = n;
    this.virt = mpp !== PRV_M && this.mstatusMpv;
    this.mstatusMpv = false;
    this.priv = mpp;
    this.pc = this.mepc;
    this.updateContext();
    this.irqDirty = true;
  }

  /** SRET from HS or M (V = 0; the caller checked TSR). */
  sret(): void {
    const s = this.mstatus;
    const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    let n = s & ~(MSTATUS_SIE | MSTATUS_SPP);
    if ((s & MSTATUS_SPIE) !== 0) n |= MSTATUS_SIE;
    n |= MSTATUS_SPIE;
    // Returning to a mode below M clears MPRV.
    n &= ~MSTATUS_MPRV;
    this.mstatus = n;
    this.virt = (this.hstatus & HSTATUS_SPV) !== 0;
    this.hstatus &= ~HSTATUS_SPV;
    this.priv = spp;
    this.pc = this.sepc;
    this.updateContext();
    this.irqDirty = true;
  }

  /** SRET in VS-mode (V = 1; the caller checked VTSR): returns within the guest using vsstatus. */
  vsret(): void {
    const s = this.vsstatus;
    const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    let n = s & ~(MSTATUS_SIE | MSTATUS_SPP);
    if ((s & MSTATUS_SPIE) !== 0) n |= MSTATUS_SIE;
    n |= MSTATUS_SPIE;
    this.vsstatus = n;
    this.priv = spp;
    this.pc = this.vsepc;
    this.updateContext();
    this.irqDirty = true;
  }

  /**
   * Hypervisor VMs: go back into the guest after the VMM handled a host trap, as the VMM's SRET would
   * (V = hstatus.SPV, privilege = sstatus.SPP), at `pc`.
   */
  resumeGuest(pc: number): void {
    this.virt = true;
    this.priv = (this.mstatus & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    this.pc = pc;
    this.stop = STOP_NONE;
    this.updateContext();
    this.irqDirty = true;
  }

  /**
   * Hypervisor VMs: deliver exception `cause` to the guest (VS-mode), as KVM's trap redirect does: vsepc = the
   * guest pc, vscause, vstval, vsstatus.SPP/SPIE/SIE, pc = vstvec. Called while stopped in a host trap.
   */
  injectGuestException(guestPc: number, guestPriv: number, cause: number, tval: number): void {
    this.virt = true;
    this.priv = guestPriv;
    this.pc = guestPc;
    this.stop = STOP_NONE;
    this.enterTrap(PRV_S, true, cause, false, tval, 0, 0, false);
  }

  // =============================================================================================================
  // Memory access (slow paths; the fast paths are inlined in exec.ts and the compiled blocks)
  // =============================================================================================================

  /** Translate a data address with the current effective privilege; raises the fault and returns -1 on failure. */
  translateData(va: number, access: Access, tinst: number): number {
    this.stats.walks++;
    const virt = this.dataVirt();
    const t = translate(this, va, access, this.dataPriv(), virt, false);
    if (t.ok) {
      this.lastSpan = t.span;
      return t.pa;
    }
    this.raiseTranslationFault(t, va, virt, tinst);
    return -1;
  }

  /**
   * Load `width` bytes at `va` (zero-extended: low word returned, high word in `ldHi`). When the access trapped
   * or stopped the hart for MMIO (then the instruction does not retire), `loadOk` is false and 0 is returned.
   */
  loadSlow(va: number, width: number, tinst: number, len: number): number {
    this.stats.loadMisses++;
    const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
    this.loadOk = false;
    if (pageOff + width > PAGE_SIZE) return this.loadCrossPage(va, width, tinst);
    const pa = this.translateData(va, ACCESS_READ, tinst);
    if (pa < 0) return 0;
    const region = this.memory.find(pa);
    if (region === undefined) {
      if (this.mmioExits) {
        this.beginMmio(pa, width, false, 0, 0, tinst, len);
      } else {
        this.raise(CAUSE_LOAD_ACCESS_FAULT, va, 0, 0, this.dataVirt());
      }
      return 0;
    }
    this.loadOk = true;
    const off = pa - region.base;
    const view = region.block.view;
    this.dtlb.fillRead(va, pageOff, view, off, pa - pageOff, this.lastSpan);
    return readView(view, off, width, this);
  }

  /** A load that straddles a page boundary, byte by byte (sets `loadOk` like `loadSlow`). */
  loadCrossPage(va: number, width: number, tinst: number): number {
    this.stats.crossPage++;
    const bytes = new Uint8Array(8);
    this.loadOk = false;
    for (let k = 0; k < width; k++) {
      const pa = this.translateData(va + k, ACCESS_READ, tinst);
      if (pa < 0) return 0;
      const region = this.memory.find(pa);
      if (region === undefined) {
        // An access split across a page boundary into non-RAM: not a device access we can express.
        this.raise(CAUSE_LOAD_ACCESS_FAULT, va + k, 0, 0, this.dataVirt());
        return 0;
      }
      bytes[k] = region.block.bytes[pa - region.base] ?? 0;
    }
    this.loadOk = true;
    const dv = new DataView(bytes.buffer);
    this.ldHi = dv.getInt32(4, true);
    return dv.getInt32(0, true);
  }

  /** Store `width` bytes of (lo, hi) at `va`. Returns false when the access trapped or stopped for MMIO. */
  storeSlow(va: number, width: number, lo: number, hi: number, tinst: number, len: number): boolean {
    this.stats.storeMisses++;
    const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
    if (pageOff + width > PAGE_SIZE) return this.storeCrossPage(va, width, lo, hi, tinst);
    const pa = this.translateData(va, ACCESS_WRITE, tinst);
    if (pa < 0) return false;
    const region = this.memory.find(pa);
    if (region === undefined) {
      if (this.mmioExits) {
        this.beginMmio(pa, width, true, lo, hi, tinst, len);
      } else {
        this.raise(CAUSE_STORE_ACCESS_FAULT, va, 0, 0, this.dataVirt());
      }
      return false;
    }
    const off = pa - region.base;
    const block = region.block;
    writeView(block.view, off, width, lo, hi);
    const page = Math.floor(off / PAGE_SIZE);
    if (PhysicalMemory.pageHasCode(block, page)) {
      this.stats.storesToCode++;
      this.stats.codeInvalidations++;
      PhysicalMemory.invalidateCode(block, page);
    } else {
      this.dtlb.fillWrite(va, pageOff, block.view, off, pa - pageOff, this.lastSpan);
    }
    return true;
  }

  storeCrossPage(va: number, width: number, lo: number, hi: number, tinst: number): boolean {
    this.stats.crossPage++;
    // Translate every byte first so a fault on the second page leaves memory untouched.
    const targets: { block: MemBlock; off: number }[] = [];
    for (let k = 0; k < width; k++) {
      const pa = this.translateData(va + k, ACCESS_WRITE, tinst);
      if (pa < 0) return false;
      const region = this.memory.find(pa);
      if (region === undefined) {
        this.raise(CAUSE_STORE_ACCESS_FAULT, va + k, 0, 0, this.dataVirt());
        return false;
      }
      targets.push({ block: region.block, off: pa - region.base });
    }
    for (let k = 0; k < width; k++) {
      const t = targets[k];
      if (t === undefined) continue;
      const word = k < 4 ? lo : hi;
      t.block.bytes[t.off] = (word >>> ((k & 3) * 8)) & 0xff;
      this.notePhysWrite(t.block, t.off);
    }
    return true;
  }

  beginMmio(pa: number, width: number, isWrite: boolean, lo: number, hi: number, tinst: number, len: number): void {
    this.mmioAddr = pa;
    this.mmioWidth = width;
    this.mmioIsWrite = isWrite;
    this.mmioDataLo = lo;
    this.mmioDataHi = hi;
    this.mmioTinst = tinst;
    this.mmioLen = len;
    this.stop = STOP_MMIO;
  }

  /**
   * Translate and check an atomic access (LR/SC/AMO): natural alignment required, RAM required (an atomic to a
   * device raises an access fault). Returns the physical address or -1 after raising the fault.
   */
  atomicAddress(va: number, width: number, isLoadOnly: boolean, tinst: number): number {
    if (va - Math.floor(va / width) * width !== 0) {
      this.raise(isLoadOnly ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE, va, 0, 0, this.dataVirt());
      return -1;
    }
    const pa = this.translateData(va, isLoadOnly ? ACCESS_READ : ACCESS_WRITE, tinst);
    if (pa < 0) return -1;
    if (this.memory.find(pa) === undefined) {
      this.raise(isLoadOnly ? CAUSE_LOAD_ACCESS_FAULT : CAUSE_STORE_ACCESS_FAULT, va, 0, 0, this.dataVirt());
      return -1;
    }
    return pa;
  }

  /** Physical read of RAM (after translation). */
  physRead(pa: number, width: number): number {
    const region = this.memory.find(pa);
    if (region === undefined) return 0;
    return readView(region.block.view, pa - region.base, width, this);
  }

  physWrite(pa: number, width: number, lo: number, hi: number): void {
    const region = this.memory.find(pa);
    if (region === undefined) return;
    const off = pa - region.base;
    writeView(region.block.view, off, width, lo, hi);
    this.notePhysWrite(region.block, off);
  }

  /**
   * HLV/HLVX/HSV: an access as VS/VU (privilege hstatus.SPVP) with V = 1, regardless of the current mode.
   * Returns the physical address or -1 after raising the fault.
   */
  hypervisorAddress(va: number, access: Access, hlvx: boolean, tinst: number): number {
    this.stats.walks++;
    const priv = (this.hstatus & HSTATUS_SPVP) !== 0 ? PRV_S : PRV_U;
    const t = translate(this, va, access, priv, true, hlvx);
    if (!t.ok) {
      this.raiseTranslationFault(t, va, true, tinst);
      return -1;
    }
    if (this.memory.find(t.pa) === undefined) {
      this.raise(access === ACCESS_WRITE ? CAUSE_STORE_ACCESS_FAULT : CAUSE_LOAD_ACCESS_FAULT, va, 0, 0, true);
      return -1;
    }
    return t.pa;
  }

  /**
   * Fetch translation for `va`: returns the physical address (and fills the exec TLB) or -1 after raising the
   * instruction fault.
   */
  translateFetch(va: number): number {
    this.stats.fetchMisses++;
    this.stats.walks++;
    const t = translate(this, va, ACCESS_EXEC, this.priv, this.virt, false);
    if (!t.ok) {
      this.raiseTranslationFault(t, va, this.virt, 0);
      return -1;
    }
    const region = this.memory.find(t.pa);
    if (region === undefined) {
      this.raise(CAUSE_FETCH_ACCESS_FAULT, va, 0, 0, this.virt);
      return -1;
    }
    const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
    const set = this.itlb;
    const i = (va >>> 12) & TLB_MASK;
    const vpage = va - pageOff;
    const off = t.pa - region.base;
    const pageIndex = Math.floor(off / PAGE_SIZE);
    set.xtag[i] = vpage;
    set.xdelta[i] = off - pageOff - vpage;
    set.xview[i] = region.block.view;
    set.xpage[i] = t.pa - pageOff;
    set.xblock[i] = region.block;
    set.xspan[i] = t.span > PAGE_SIZE ? t.span : 0;
    if (t.span > PAGE_SIZE) set.noteSuperpage(i, va, t.span);
    set.xcode[i] = this.memory.codePage(region.block, pageIndex);
    return t.pa;
  }

  /**
   * Fetch the instruction at the pc without the decode caches (reference interpreter, page-crossing
   * instructions). Returns the 32-bit word (upper half zero for compressed) or -1 after raising a fault.
   */
  fetchInstruction(pc: number): number {
    const lowParcel = this.fetchParcel(pc);
    if (lowParcel < 0) return -1;
    if ((lowParcel & 3) !== 3) return lowParcel;
    const highParcel = this.fetchParcel(pc + 2);
    if (highParcel < 0) return -1;
    return (lowParcel | (highParcel << 16)) >>> 0;
  }

  fetchParcel(va: number): number {
    const set = this.itlb;
    const i = (va >>> 12) & TLB_MASK;
    const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
    if (set.xtag[i] !== va - pageOff) {
      if (this.translateFetch(va) < 0) {
        // The fault was raised with tval = va, which for the second half is the faulting portion's address
        // while the epc stays the instruction's start: what the spec asks for.
        return -1;
      }
    }
    const view = set.xview[i];
    if (view === undefined) return -1;
    return view.getUint16((va + (set.xdelta[i] ?? 0)) | 0, true);
  }

  // =============================================================================================================
  // CSRs
  // =============================================================================================================

  /**
   * Check an access to `csr` at the current privilege: 0 when allowed, else the cause to raise
   * (illegal instruction or virtual instruction).
   */
  csrCheck(csr: number, isWrite: boolean): number {
    if (!this.csrImplemented(csr)) return CAUSE_ILLEGAL_INSTRUCTION;
    if (isWrite && csr >>> 10 === 3) return CAUSE_ILLEGAL_INSTRUCTION;
    const level = (csr >>> 8) & 3;
    const priv = this.priv;
    const virt = this.virt;
    if (priv !== PRV_M) {
      if (level === 3) return CAUSE_ILLEGAL_INSTRUCTION;
      if (!virt) {
        if (priv === PRV_U && level !== 0) return CAUSE_ILLEGAL_INSTRUCTION;
      } else {
        if (level === 2) return CAUSE_VIRTUAL_INSTRUCTION;
        if (priv === PRV_U && level === 1) return CAUSE_VIRTUAL_INSTRUCTION;
      }
    }
    // Per-CSR rules.
    if (csr === CSR_FFLAGS || csr === CSR_FRM || csr === CSR_FCSR) {
      return this.fpOff() ? CAUSE_ILLEGAL_INSTRUCTION : 0;
    }
    if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) return this.counterCheck(csr - CSR_CYCLE);
    if (csr === CSR_SATP) {
      if (priv === PRV_S && !virt && (this.mstatus & MSTATUS_TVM) !== 0) return CAUSE_ILLEGAL_INSTRUCTION;
      if (priv === PRV_S && virt && (this.hstatus & HSTATUS_VTVM) !== 0) return CAUSE_VIRTUAL_INSTRUCTION;
      return 0;
    }
    if (csr === CSR_HGATP) {
      return priv === PRV_S && !virt && (this.mstatus & MSTATUS_TVM) !== 0 ? CAUSE_ILLEGAL_INSTRUCTION : 0;
    }
    if (csr === CSR_STIMECMP || csr === CSR_VSTIMECMP) {
      if (priv === PRV_M) return 0;
      if ((this.mcounteren & COUNTEREN_TM) === 0 || !this.stce()) return CAUSE_ILLEGAL_INSTRUCTION;
      if (virt && ((this.hcounteren & COUNTEREN_TM) === 0 || (this.henvcfgHi & ENVCFG_HI_STCE) === 0)) {
        return CAUSE_VIRTUAL_INSTRUCTION;
      }
      return 0;
    }
    return 0;
  }

  /** Zicntr / Zihpm access rules for counter `index` (0 = cycle, 1 = time, 2 = instret, 3.. hpmcounters). */
  counterCheck(index: number): number {
    const bit = 1 << index;
    const priv = this.priv;
    if (priv === PRV_M) return 0;
    if ((this.mcounteren & bit) === 0) return CAUSE_ILLEGAL_INSTRUCTION;
    if (this.virt) {
      if ((this.hcounteren & bit) === 0) return CAUSE_VIRTUAL_INSTRUCTION;
      if (priv === PRV_U && (this.scounteren & bit) === 0) return CAUSE_VIRTUAL_INSTRUCTION;
      return 0;
    }
    if (priv === PRV_U && (this.scounteren & bit) === 0) return CAUSE_ILLEGAL_INSTRUCTION;
    return 0;
  }

  csrImplemented(csr: number): boolean {
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
  substitute(csr: number): number {
    if (!this.virt) return csr;
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

  #set(lo: number, hi: number): void {
    this.csrLo = lo | 0;
    this.csrHi = hi | 0;
  }

  #setNum(v: number): void {
    this.csrLo = lo32(v);
    this.csrHi = hi32(v);
  }

  /** Read a CSR (already checked and substituted) into csrLo/csrHi. */
  csrRead(csr: number): void {
    switch (csr) {
      case CSR_FFLAGS:
        return this.#set(this.fp.fflags & 0x1f, 0);
      case CSR_FRM:
        return this.#set(this.fp.frm & 7, 0);
      case CSR_FCSR:
        return this.#set((this.fp.fflags & 0x1f) | ((this.fp.frm & 7) << 5), 0);
      case CSR_CYCLE:
      case CSR_MCYCLE:
        return this.#setNum(this.readCycle());
      case CSR_INSTRET:
      case CSR_MINSTRET:
        return this.#setNum(this.readInstret());
      case CSR_TIME: {
        const t = this.timeNow();
        return this.#setNum(this.virt ? this.virtualTime(t) : t);
      }
      case CSR_SSTATUS: {
        const s = this.mstatus & SSTATUS_MASK;
        return this.#set(s, MSTATUS_HI_UXL64 | (sdBit(s) ? MSTATUS_HI_SD : 0));
      }
      case CSR_VSSTATUS: {
        const s = this.vsstatus & SSTATUS_MASK;
        return this.#set(s, MSTATUS_HI_UXL64 | (sdBit(s) ? MSTATUS_HI_SD : 0));
      }
      case CSR_MSTATUS: {
        const s = this.mstatus;
        return this.#set(
          s,
          MSTATUS_HI_UXL64 |
            MSTATUS_HI_SXL64 |
            (this.mstatusGva ? MSTATUS_HI_GVA : 0) |
            (this.mstatusMpv ? MSTATUS_HI_MPV : 0) |
            (sdBit(s) ? MSTATUS_HI_SD : 0),
        );
      }
      case CSR_HSTATUS:
        return this.#set(this.hstatus, HSTATUS_HI_VSXL64);
      case CSR_MISA:
        return this.#set(MISA_LO, MISA_HI);
      case CSR_MEDELEG:
        return this.#set(this.medeleg, 0);
      case CSR_MIDELEG:
        return this.#set(this.mideleg, 0);
      case CSR_HEDELEG:
        return this.#set(this.hedeleg, 0);
      case CSR_HIDELEG:
        return this.#set(this.hideleg, 0);
      case CSR_MIE:
        return this.#set(this.mie, 0);
      case CSR_MIP:
        return this.#set(this.mipValue(), 0);
      case CSR_SIE:
        return this.#set(this.mie & this.mideleg & S_INTERRUPTS, 0);
      case CSR_SIP:
        return this.#set(this.mipValue() & this.mideleg & S_INTERRUPTS, 0);
      case CSR_HIE:
        return this.#set(this.mie & (VS_INTERRUPTS | MIP_SGEIP), 0);
      case CSR_HIP:
        return this.#set(this.mipValue() & (VS_INTERRUPTS | MIP_SGEIP), 0);
      case CSR_HVIP:
        return this.#set(this.hvip, 0);
      case CSR_VSIE:
        return this.#set((this.mie & this.hideleg & VS_INTERRUPTS) >>> 1, 0);
      case CSR_VSIP:
        return this.#set((this.mipValue() & this.hideleg & VS_INTERRUPTS) >>> 1, 0);
      case CSR_HGEIE:
      case CSR_HGEIP:
        return this.#set(0, 0);
      case CSR_MTVEC:
        return this.#setNum(this.mtvec);
      case CSR_STVEC:
        return this.#setNum(this.stvec);
      case CSR_VSTVEC:
        return this.#setNum(this.vstvec);
      case CSR_MEPC:
        return this.#setNum(this.mepc);
      case CSR_SEPC:
        return this.#setNum(this.sepc);
      case CSR_VSEPC:
        return this.#setNum(this.vsepc);
      case CSR_MTVAL:
        return this.#setNum(this.mtval);
      case CSR_STVAL:
        return this.#setNum(this.stval);
      case CSR_VSTVAL:
        return this.#setNum(this.vstval);
      case CSR_MTVAL2:
        return this.#setNum(this.mtval2);
      case CSR_HTVAL:
        return this.#setNum(this.htval);
      case CSR_MTINST:
        return this.#setNum(this.mtinst);
      case CSR_HTINST:
        return this.#setNum(this.htinst);
      case CSR_MCAUSE:
        return this.#set(this.mcauseLo, this.mcauseHi);
      case CSR_SCAUSE:
        return this.#set(this.scauseLo, this.scauseHi);
      case CSR_VSCAUSE:
        return this.#set(this.vscauseLo, this.vscauseHi);
      case CSR_MSCRATCH:
        return this.#set(this.mscratchLo, this.mscratchHi);
      case CSR_SSCRATCH:
        return this.#set(this.sscratchLo, this.sscratchHi);
      case CSR_VSSCRATCH:
        return this.#set(this.vsscratchLo, this.vsscratchHi);
      case CSR_SATP:
        return this.#set(this.satpLo, this.satpHi);
      case CSR_VSATP:
        return this.#set(this.vsatpLo, this.vsatpHi);
      case CSR_HGATP:
        return this.#set(this.hgatpLo, this.hgatpHi);
      case CSR_MCOUNTEREN:
        return this.#set(this.mcounteren, 0);
      case CSR_SCOUNTEREN:
        return this.#set(this.scounteren, 0);
      case CSR_HCOUNTEREN:
        return this.#set(this.hcounteren, 0);
      case CSR_MENVCFG:
        return this.#set(this.menvcfgLo, this.menvcfgHi);
      case CSR_HENVCFG:
        return this.#set(this.henvcfgLo, this.henvcfgHi);
      case CSR_SENVCFG:
        return this.#set(this.senvcfg, 0);
      case CSR_MCOUNTINHIBIT:
        return this.#set(this.mcountinhibit, 0);
      case CSR_STIMECMP:
        return this.#set(this.stimecmpLo, this.stimecmpHi);
      case CSR_VSTIMECMP:
        return this.#set(this.vstimecmpLo, this.vstimecmpHi);
      case CSR_HTIMEDELTA:
        return this.#set(this.htimedeltaLo, this.htimedeltaHi);
      case CSR_MHARTID:
        return this.#set(this.hartId, 0);
      default:
        // mvendorid/marchid/mimpid/mconfigptr (0: not implemented/non-commercial), hpm counters and events,
        // PMP (no PMP entries: all read zero), trigger CSRs (no triggers: tselect/tdata* read zero).
        return this.#set(0, 0);
    }
  }

  /** Write a CSR (already checked and substituted). */
  csrWrite(csr: number, lo: number, hi: number): void {
    switch (csr) {
      case CSR_FFLAGS:
        this.fp.fflags = lo & 0x1f;
        this.markFpDirty();
        return;
      case CSR_FRM:
        this.fp.frm = lo & 7;
        this.markFpDirty();
        return;
      case CSR_FCSR:
        this.fp.fflags = lo & 0x1f;
        this.fp.frm = (lo >>> 5) & 7;
        this.markFpDirty();
        return;
      case CSR_MCYCLE:
        if ((this.mcountinhibit & 1) !== 0) this.cycleFrozen = num(lo, hi);
        else this.cycleOffset = num(lo, hi) - this.icount - 1;
        return;
      case CSR_MINSTRET:
        // The write is the value after this instruction retires (it does not count itself afterwards).
        if ((this.mcountinhibit & 4) !== 0) this.instretFrozen = num(lo, hi);
        else this.instretOffset = num(lo, hi) - this.icount - 1;
        return;
      case CSR_MCOUNTINHIBIT: {
        const next = lo & ~2; // bit 1 (TM) is read-only zero
        if ((next & 1) !== 0 && (this.mcountinhibit & 1) === 0) this.cycleFrozen = this.readCycle();
        if ((next & 1) === 0 && (this.mcountinhibit & 1) !== 0) this.cycleOffset = this.cycleFrozen - this.icount;
        if ((next & 4) !== 0 && (this.mcountinhibit & 4) === 0) this.instretFrozen = this.readInstret();
        if ((next & 4) === 0 && (this.mcountinhibit & 4) !== 0) {
          this.instretOffset = this.instretFrozen - this.icount;
        }
        this.mcountinhibit = next;
        return;
      }
      case CSR_MSTATUS:
        this.writeMstatus(lo, hi);
        return;
      case CSR_SSTATUS:
        this.writeMstatus((this.mstatus & ~SSTATUS_WRITE_MASK) | (lo & SSTATUS_WRITE_MASK), this.mstatusHighWord());
        return;
      case CSR_VSSTATUS: {
        const next = (this.vsstatus & ~SSTATUS_WRITE_MASK) | (lo & SSTATUS_WRITE_MASK);
        const changed = next ^ this.vsstatus;
        this.vsstatus = next;
        if ((changed & MSTATUS_MXR) !== 0) for (let i = 4; i <= 6; i++) this.tlbSets[i]?.flushRead();
        this.updateContext();
        this.irqDirty = true;
        return;
      }
      case CSR_HSTATUS:
        this.hstatus = lo & HSTATUS_WRITE_MASK;
        return;
      case CSR_MISA:
        return; // misa is fixed: writes are ignored (WARL)
      case CSR_MEDELEG:
        this.medeleg = lo & MEDELEG_MASK;
        return;
      case CSR_MIDELEG:
        this.mideleg = (lo & S_INTERRUPTS) | MIDELEG_READ_ONLY_ONE;
        this.irqDirty = true;
        return;
      case CSR_HEDELEG:
        this.hedeleg = lo & HEDELEG_MASK;
        return;
      case CSR_HIDELEG:
        this.hideleg = lo & VS_INTERRUPTS;
        this.irqDirty = true;
        return;
      case CSR_MIE:
        this.mie = lo & ALL_INTERRUPTS;
        this.irqDirty = true;
        return;
      case CSR_MIP: {
        const soft = MIP_SSIP | MIP_SEIP | (this.stce() ? 0 : MIP_STIP);
        this.mipSoft = (this.mipSoft & ~soft) | (lo & soft);
        this.hvip = (this.hvip & ~MIP_VSSIP) | (lo & MIP_VSSIP);
        this.irqDirty = true;
        return;
      }
      case CSR_SIE: {
        const mask = this.mideleg & S_INTERRUPTS;
        this.mie = (this.mie & ~mask) | (lo & mask);
        this.irqDirty = true;
        return;
      }
      case CSR_SIP: {
        const mask = this.mideleg & MIP_SSIP;
        this.mipSoft = (this.mipSoft & ~mask) | (lo & mask);
        this.irqDirty = true;
        return;
      }
      case CSR_HIE: {
        const mask = VS_INTERRUPTS | MIP_SGEIP;
        this.mie = (this.mie & ~mask) | (lo & mask);
        this.irqDirty = true;
        return;
      }
      case CSR_HIP:
        this.hvip = (this.hvip & ~MIP_VSSIP) | (lo & MIP_VSSIP);
        this.irqDirty = true;
        return;
      case CSR_HVIP:
        this.hvip = lo & VS_INTERRUPTS;
        this.irqDirty = true;
        return;
      case CSR_VSIE: {
        const mask = this.hideleg & VS_INTERRUPTS;
        this.mie = (this.mie & ~mask) | ((lo << 1) & mask);
        this.irqDirty = true;
        return;
      }
      case CSR_VSIP: {
        const mask = this.hideleg & MIP_VSSIP;
        this.hvip = (this.hvip & ~mask) | ((lo << 1) & mask);
        this.irqDirty = true;
        return;
      }
      case CSR_HGEIE:
        return; // GEILEN = 0: read-only zero
      case CSR_MTVEC:
        this.mtvec = legalTvec(num(lo, hi));
        return;
      case CSR_STVEC:
        this.stvec = legalTvec(num(lo, hi));
        return;
      case CSR_VSTVEC:
        this.vstvec = legalTvec(num(lo, hi));
        return;
      case CSR_MEPC:
        this.mepc = legalEpc(num(lo, hi));
        return;
      case CSR_SEPC:
        this.sepc = legalEpc(num(lo, hi));
        return;
      case CSR_VSEPC:
        this.vsepc = legalEpc(num(lo, hi));
        return;
      case CSR_MTVAL:
        this.mtval = num(lo, hi);
        return;
      case CSR_STVAL:
        this.stval = num(lo, hi);
        return;
      case CSR_VSTVAL:
        this.vstval = num(lo, hi);
        return;
      case CSR_MTVAL2:
        this.mtval2 = num(lo, hi);
        return;
      case CSR_HTVAL:
        this.htval = num(lo, hi);
        return;
      case CSR_MTINST:
        this.mtinst = num(lo, hi);
        return;
      case CSR_HTINST:
        this.htinst = num(lo, hi);
        return;
      case CSR_MCAUSE:
        this.mcauseLo = lo;
        this.mcauseHi = hi;
        return;
      case CSR_SCAUSE:
        this.scauseLo = lo;
        this.scauseHi = hi;
        return;
      case CSR_VSCAUSE:
        this.vscauseLo = lo;
        this.vscauseHi = hi;
        return;
      case CSR_MSCRATCH:
        this.mscratchLo = lo;
        this.mscratchHi = hi;
        return;
      case CSR_SSCRATCH:
        this.sscratchLo = lo;
        this.sscratchHi = hi;
        return;
      case CSR_VSSCRATCH:
        this.vsscratchLo = lo;
        this.vsscratchHi = hi;
        return;
      case CSR_SATP: {
        const mode = hi >>> 28;
        // Unsupported modes make the whole write have no effect (WARL).
        if (mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) return;
        this.satpLo = lo;
        this.satpHi = hi;
        this.stats.flushesSatp++;
        this.flushHostTlbs();
        return;
      }
      case CSR_VSATP: {
        const mode = hi >>> 28;
        if (mode !== SATP_MODE_BARE && mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) return;
        this.vsatpLo = lo;
        this.vsatpHi = hi;
        this.stats.flushesVsatp++;
        this.flushGuestTlbs();
        return;
      }
      case CSR_HGATP: {
        const mode = hi >>> 28;
        if (mode !== SATP_MODE_BARE && mode !== HGATP_MODE_SV39X4 && mode !== HGATP_MODE_SV48X4) return;
        // VMID is bits 57:44 (14 bits: high-word bits 25:12); bits 59:58 are zero; PPN[1:0] read as zero.
        this.hgatpLo = lo & ~3;
        this.hgatpHi = hi & (0xf0000000 | (0x3fff << 12) | 0xfff);
        this.stats.flushesHgatp++;
        this.flushGstage();
        return;
      }
      case CSR_MCOUNTEREN:
        this.mcounteren = lo;
        return;
      case CSR_SCOUNTEREN:
        this.scounteren = lo;
        return;
      case CSR_HCOUNTEREN:
        this.hcounteren = lo;
        return;
      case CSR_MENVCFG:
        this.menvcfgLo = lo & ENVCFG_FIOM;
        this.menvcfgHi = hi & ENVCFG_HI_STCE;
        if (!this.stce()) this.henvcfgHi &= ~ENVCFG_HI_STCE;
        this.updateTimers(this.timeNow());
        this.irqDirty = true;
        return;
      case CSR_HENVCFG:
        this.henvcfgLo = lo & ENVCFG_FIOM;
        // henvcfg.STCE is read-only zero while menvcfg.STCE is zero.
        this.henvcfgHi = this.stce() ? hi & ENVCFG_HI_STCE : 0;
        this.updateTimers(this.timeNow());
        this.irqDirty = true;
        return;
      case CSR_SENVCFG:
        this.senvcfg = lo & ENVCFG_FIOM;
        return;
      case CSR_STIMECMP:
        this.stimecmpLo = lo;
        this.stimecmpHi = hi;
        this.updateTimers(this.timeNow());
        this.irqDirty = true;
        return;
      case CSR_VSTIMECMP:
        this.vstimecmpLo = lo;
        this.vstimecmpHi = hi;
        this.updateTimers(this.timeNow());
        this.irqDirty = true;
        return;
      case CSR_HTIMEDELTA:
        this.htimedeltaLo = lo;
        this.htimedeltaHi = hi;
        this.updateTimers(this.timeNow());
        return;
      default:
        // Read-only-zero registers (hpm counters/events, PMP, triggers, hgeie) ignore writes.
        return;
    }
  }

  mstatusHighWord(): number {
    return (this.mstatusGva ? MSTATUS_HI_GVA : 0) | (this.mstatusMpv ? MSTATUS_HI_MPV : 0);
  }

  writeMstatus(lo: number, hi: number): void {
    let next = (this.mstatus & ~MSTATUS_WRITE_MASK) | (lo & MSTATUS_WRITE_MASK);
    // MPP is WARL over {U, S, M}: the reserved value 2 leaves the field unchanged.
    if (((next >>> MSTATUS_MPP_SHIFT) & 3) === 2) next = (next & ~MSTATUS_MPP) | (this.mstatus & MSTATUS_MPP);
    const changed = next ^ this.mstatus;
    this.mstatus = next;
    this.mstatusGva = (hi & MSTATUS_HI_GVA) !== 0;
    this.mstatusMpv = (hi & MSTATUS_HI_MPV) !== 0;
    if ((changed & MSTATUS_MXR) !== 0) for (let i = 1; i < CONTEXTS; i++) this.tlbSets[i]?.flushRead();
    this.updateContext();
    this.irqDirty = true;
  }
}

function sdBit(status: number): boolean {
  return (status & MSTATUS_FS) >>> 13 === FS_DIRTY;
}

function highestPriority(bits: number): number {
  for (const irq of INTERRUPT_PRIORITY) if ((bits >>> irq) & 1) return irq;
  return 31 - Math.clz32(bits);
}

function trapVector(tvec: number, cause: number, interrupt: boolean): number {
  const mode = tvec - Math.floor(tvec / 4) * 4;
  const base = tvec - mode;
  return interrupt && mode === 1 ? base + 4 * cause : base;
}

/** Read `width` bytes (zero-extended) from a view: low word returned, high word stored in `hart.ldHi`. */
function readView(view: DataView, offset: number, width: number, hart: Hart): number {
  const off = offset | 0; // an int32-typed index keeps DataView accesses on JSC's fast path
  switch (width) {
    case 1:
      hart.ldHi = 0;
      return view.getUint8(off);
    case 2:
      hart.ldHi = 0;
      return view.getUint16(off, true);
    case 4:
      hart.ldHi = 0;
      return view.getInt32(off, true);
    default:
      hart.ldHi = view.getInt32(off + 4, true);
      return view.getInt32(off, true);
  }
}

function writeView(view: DataView, offset: number, width: number, lo: number, hi: number): void {
  const off = offset | 0;
  switch (width) {
    case 1:
      view.setUint8(off, lo & 0xff);
      return;
    case 2:
      view.setUint16(off, lo & 0xffff, true);
      return;
    case 4:
      view.setInt32(off, lo, true);
      return;
    default:
      view.setInt32(off, lo, true);
      view.setInt32(off + 4, hi, true);
  }
}
