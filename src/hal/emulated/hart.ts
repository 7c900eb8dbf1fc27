/**
 * One RV64GC + H hart: its architectural state, as one record whose fields are all declared here and set in the
 * constructor (so every hart has one object shape, which the interpreter and the compiled blocks rely on), and the
 * small helpers that keep derived state consistent (TLB contexts and flushes, status predicates). What acts on
 * the state is in plain functions taking the hart: instruction semantics in `exec.ts`, the CSR file in
 * `csr-file.ts`, trap entry and return in `trap.ts`, interrupts in `interrupts.ts`, time and counters in
 * `timers.ts`, the slow memory paths in `memory-slow.ts`, translation in `mmu.ts`, physical memory protection in
 * `pmp.ts`, the decode caches and compiler in `block.ts`/`jit.ts`.
 *
 * Conventions:
 * - Integer registers are 32 little-endian int64 viewed as int32 words (`xlo`, `xhi`: register r's low word is
 *   `xlo[2 * r]`, its high word `xhi[2 * r]`); x0 is kept zero by every writer.
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
  ENVCFG_HI_STCE,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SUM,
} from "../../arch/riscv64/csr.ts";
import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import { GPR_COUNT } from "../../arch/riscv64/registers.ts";
import { PRV_M, PRV_U } from "../../arch/riscv64/traps.ts";
import { FpState } from "./fp-bridge.ts";
import {
  HART_BLOCK_BYTES,
  HB_MSTATUS,
  HB_RESERVATION_ADDR,
  HB_RESERVATION_VALID,
  HB_VSSTATUS,
  HB_X,
  registerWords,
} from "./hart-block.ts";
import { GTLB_SIZE } from "./mmu.ts";
import { type MemBlock, type MemoryClient, PhysicalMemory } from "./phys-memory.ts";
import { PmpState } from "./pmp.ts";
import type { SbiConsoleWrite } from "./sbi-console.ts";
import { HartStats } from "./stats.ts";
import { TlbSet } from "./tlb.ts";

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
/**
 * The guest spins: it ran PAUSE hints in a row (see `pauseHint`) and the hart's owner asked to end the run so that
 * the other harts of the VM get the thread (the one it waits for may be among them). The pc is past the PAUSE.
 */
export const STOP_SPIN = 5;

/** PAUSE hints in a row (each within PAUSE_SPIN_GAP instructions of the last) that make a spin. */
export const PAUSE_SPIN_COUNT = 16;
/** More instructions than this between two PAUSE hints, and they are not one spin. */
export const PAUSE_SPIN_GAP = 256;

// Results of executing one instruction.
/** Retired; continue with the next instruction of the block. */
export const EXEC_NEXT = 0;
/** Retired; the block must end (jump taken, CSR/state change). */
export const EXEC_END = 1;
/** Not retired: a trap was taken or the hart stopped (pc already updated). */
export const EXEC_TRAP = 2;

/** Number of translation contexts (TLB sets); see `contextIndex`. */
export const TLB_CONTEXTS = 7;
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

export class Hart implements MemoryClient {
  readonly hartId: number;
  readonly memory: PhysicalMemory;
  readonly now: () => number;
  readonly mmioExits: boolean;
  readonly hostTraps: boolean;

  /**
   * x0..x31, low and high words (register r's at index 2 * r of each): views of the hart's block in the arena when
   * there is one (hart-block.ts `registerWords`).
   */
  readonly xlo: Int32Array;
  readonly xhi: Int32Array;
  /** Arena offset of the hart's block (HB_*), or -1 when the VM has no arena. */
  readonly blockBase: number;
  /** That block as doubles and int32 words, for its control fields (empty when there is none). */
  readonly blockF64: Float64Array;
  readonly blockI32: Int32Array;
  pc = 0;
  priv = PRV_M;
  virt = false;
  readonly fp = new FpState();

  /**
   * Instructions retired since reset (drives minstret/mcycle), kept in a Float64Array so JavaScriptCore always
   * reads it as a double. As a plain property it started as an int32 and the optimizing tiers speculated on that;
   * once it became a double (past 2^31, or from arithmetic done in doubles elsewhere) every function doing
   * arithmetic on it (the interpreter, the run loop) failed that speculation until it was compiled again.
   */
  readonly #icount = new Float64Array(1);
  get icount(): number {
    return this.#icount[0] ?? 0;
  }
  set icount(value: number) {
    this.#icount[0] = value;
  }
  stop = STOP_NONE;
  kickRequested = false;
  /**
   * What the hart's owner does when the guest spins (PAUSE_SPIN_COUNT PAUSE hints in a row): return true to end
   * the run (the hook sets `stop`), false to go on. Undefined (a VM with one hart): PAUSE is a no-op.
   */
  onSpin: (() => boolean) | undefined = undefined;
  /** PAUSE hints in the current run of them, and icount at the last one. */
  pauseRun = 0;
  lastPauseIcount = 0;
  /** icount at which the run loop next compares the Sstc timers with the clock. */
  nextTimerCheck = 0;
  /** icount and the clock at the last comparison (the next one's interval follows the rate between). */
  timerCheckIcount = 0;
  timerCheckTime = 0;
  /**
   * How much new code the hart is meeting: a moving average of instructions decoded per instruction retired,
   * updated at the timer checks (engine.ts). Starts high: nothing is known to be stable yet.
   */
  codeChurn = 1;
  /** stats.decodes and icount at the last codeChurn update. */
  churnDecodes = 0;
  churnIcount = 0;
  /**
   * Hypervisor VMs whose VMM asked for it (RiscvVcpuOps.answerConsoleOnHart): where VS-mode SBI console output is
   * written without an exit (sbi-console.ts).
   */
  sbiConsole: SbiConsoleWrite | undefined = undefined;
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
  /** Result of the last `csrRead` (csr-file.ts). */
  csrLo = 0;
  csrHi = 0;

  // --- status and control (low words; the few high bits are separate fields) ---
  /** mstatus's low word: in the hart's block when there is one (HB_MSTATUS), where compiled code reads it. */
  readonly #mstatus: Int32Array;
  get mstatus(): number {
    return this.#mstatus[0] ?? 0;
  }
  set mstatus(value: number) {
    this.#mstatus[0] = value;
  }
  mstatusGva = false;
  mstatusMpv = false;
  /** vsstatus: in the hart's block when there is one (HB_VSSTATUS), as mstatus is. */
  readonly #vsstatus: Int32Array;
  get vsstatus(): number {
    return this.#vsstatus[0] ?? 0;
  }
  set vsstatus(value: number) {
    this.#vsstatus[0] = value;
  }
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

  // --- physical memory protection (pmp.ts) ---
  readonly pmp = new PmpState();

  // --- LR/SC reservation (physical address): in the hart's block when there is one (HB_RESERVATION_*) ---
  readonly #reservationValid: Int32Array;
  readonly #reservationAddr: Float64Array;
  get reservationValid(): boolean {
    return this.#reservationValid[0] !== 0;
  }
  set reservationValid(value: boolean) {
    this.#reservationValid[0] = value ? 1 : 0;
  }
  get reservationAddr(): number {
    return this.#reservationAddr[0] ?? 0;
  }
  set reservationAddr(value: number) {
    this.#reservationAddr[0] = value;
  }
  /** The value the LR read (threaded harts: the SC compares-and-exchanges against it). */
  reservationLo = 0;
  reservationHi = 0;
  /**
   * Other harts run on other threads over the same RAM (threads/): atomics use Atomics, FENCE.I drops every
   * decoded and compiled page (another hart's stores do not invalidate this hart's code).
   */
  sharedMemory = false;

  // --- translation ---
  readonly gtlbTag = new Float64Array(GTLB_SIZE).fill(Number.NaN);
  readonly gtlbPage = new Float64Array(GTLB_SIZE);
  readonly gtlbPte = new Int32Array(GTLB_SIZE);
  /** Leaf page size of the last successful data translation (for TLB fills). */
  lastSpan = 4096;
  /** TLB sets by context, created when a context is first used (each is a few hundred KiB of arrays). */
  readonly tlbSets: (TlbSet | undefined)[] = new Array<TlbSet | undefined>(TLB_CONTEXTS).fill(undefined);
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
    const arena = config.memory.arena;
    const base = arena?.allocate(HART_BLOCK_BYTES, 64);
    if (arena === undefined || base === undefined) {
      this.blockBase = -1;
      const x = registerWords(new ArrayBuffer(GPR_COUNT * 8), 0);
      this.xlo = x.lo;
      this.xhi = x.hi;
      this.blockF64 = new Float64Array(0);
      this.blockI32 = new Int32Array(0);
      this.#mstatus = new Int32Array(1);
      this.#reservationValid = new Int32Array(1);
      this.#reservationAddr = new Float64Array(1);
      this.#vsstatus = new Int32Array(1);
    } else {
      this.blockBase = base;
      const x = registerWords(arena.buffer, base + HB_X);
      this.xlo = x.lo;
      this.xhi = x.hi;
      this.blockF64 = new Float64Array(arena.buffer, base, HART_BLOCK_BYTES / 8);
      this.blockI32 = new Int32Array(arena.buffer, base, HART_BLOCK_BYTES / 4);
      this.#mstatus = new Int32Array(arena.buffer, base + HB_MSTATUS, 1);
      this.#reservationValid = new Int32Array(arena.buffer, base + HB_RESERVATION_VALID, 1);
      this.#reservationAddr = new Float64Array(arena.buffer, base + HB_RESERVATION_ADDR, 1);
      this.#vsstatus = new Int32Array(arena.buffer, base + HB_VSSTATUS, 1);
    }
    const first = this.tlbSet(CTX_M);
    this.dtlb = first;
    this.itlb = first;
    config.memory.addClient(this);
  }

  /** Reset to the state the privileged spec gives at reset: M-mode, MIE = 0, MPRV = 0, paging off. */
  reset(pc: number): void {
    this.xlo.fill(0); // (every word: the high ones too)
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
    // PMP entries reset to OFF and unlocked (the spec zeroes A and L; we clear the rest too).
    this.pmp.reset();
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
    return (BigInt((this.xhi[2 * r] ?? 0) >>> 0) << 32n) | BigInt((this.xlo[2 * r] ?? 0) >>> 0);
  }

  setReg(r: number, value: bigint): void {
    if (r === 0) return;
    const v = BigInt.asUintN(64, value);
    this.xlo[2 * r] = Number(v & 0xffffffffn) | 0;
    this.xhi[2 * r] = Number(v >> 32n) | 0;
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
      set = new TlbSet(this.memory.arena);
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

  /**
   * G-stage translations changed (hgatp write, HFENCE.GVMA): drop them and every composed guest entry. An hgatp
   * write flushes even though the spec asks no fence of it: the TLBs are not tagged by VMID, so a new VMID or
   * root must not find the old guest's translations.
   */
  flushGstage(): void {
    this.flushGstageCache();
    this.flushGuestTlbs();
  }

  /** Drop the G-stage translation cache only (the walks' `gtlb*` arrays). */
  flushGstageCache(): void {
    this.gtlbTag.fill(Number.NaN);
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
  dropWriteEntries(physPage: number): void {
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

  /** FENCE.I on a threaded hart: drop the decoded and compiled code of every page (another thread may have written it). */
  dropAllCode(): void {
    for (const region of this.memory.regions) {
      const block = region.block;
      for (let page = 0; page < block.pageFlags.length; page++) {
        if (PhysicalMemory.pageHasCode(block, page)) PhysicalMemory.invalidateCode(block, page);
      }
    }
  }

  /**
   * A write of `width` bytes made by the hart's walker or slow path: drop decoded code on that page; end the run
   * after it when it touched a watched range (PhysicalMemory.watchWrites).
   */
  notePhysWrite(block: MemBlock, offset: number, width = 1): void {
    const page = Math.floor(offset / PAGE_SIZE);
    if (PhysicalMemory.pageHasCode(block, page)) {
      this.stats.codeInvalidations++;
      PhysicalMemory.invalidateCode(block, page);
    }
    if (PhysicalMemory.storeIsWatched(block, offset, width)) this.kickRequested = true;
  }
}

/**
 * A PAUSE hint (Zihintpause) retired at h.icount: count it toward a spin and, once the hart spins, ask its owner
 * (`onSpin`) what to do — the pause-loop exiting of hardware virtualization. Returns true when the run must end.
 */
export function pauseHint(h: Hart): boolean {
  const onSpin = h.onSpin;
  if (onSpin === undefined) return false;
  if (h.icount - h.lastPauseIcount > PAUSE_SPIN_GAP) h.pauseRun = 0;
  h.lastPauseIcount = h.icount;
  if (++h.pauseRun < PAUSE_SPIN_COUNT) return false;
  h.pauseRun = 0;
  return onSpin();
}
