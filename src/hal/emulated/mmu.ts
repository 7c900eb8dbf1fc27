/**
 * Address translation: Sv39/Sv48 (satp, vsatp) and the Sv39x4/Sv48x4 G-stage (hgatp), privileged spec 1.12
 * sections 4.3–4.4 and 8.5 ("Two-Stage Address Translation").
 *
 * Design decisions (both permitted by the spec; applied identically in both stages):
 * - A/D bits are updated by the hart ("Svadu-style"): a walk that finds A = 0, or D = 0 for a store, writes the
 *   PTE back with A (and D) set instead of raising a page fault. For a VS-stage PTE that update is an implicit
 *   store, so the G-stage must allow writing the PTE's page (else a guest-page fault with htinst 0x3020).
 * - PTE bits 63:54 (Svpbmt, Svnapot and reserved) must be zero; a non-leaf PTE with D, A or U set is reserved.
 *   Both raise a page fault.
 * - PMP (pmp.ts) checks the walks' own PTE reads and A/D writes here, as S-mode accesses; the access being
 *   translated is checked by the caller, at the privilege it is made with. A physical address with no RAM behind
 *   it is MMIO (bare-machine data accesses) or an access fault.
 *
 * Virtual addresses are doubles holding the signed 64-bit value (exact for every canonical address; a
 * non-canonical one is a fault no matter how it rounds).
 */

import { TINST_PTE_READ_64, TINST_PTE_WRITE_64 } from "../../arch/riscv64/isa.ts";
import {
  ATP_HI_MODE_SHIFT,
  ATP_HI_PPN_MASK,
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  LEVEL_BITS,
  PA_BITS,
  PAGE_SHIFT,
  PAGE_SIZE,
  PTE_A,
  PTE_D,
  PTE_HI_RESERVED_SHIFT,
  PTE_PPN_SHIFT,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
  PTES_PER_TABLE,
  SATP_MODE_BARE,
  SATP_MODE_SV39,
  SATP_MODE_SV48,
  SV39_LEVELS,
  SV39_VA_BITS,
  SV39X4_GPA_BITS,
  SV48_LEVELS,
  SV48_VA_BITS,
  SV48X4_GPA_BITS,
} from "../../arch/riscv64/paging.ts";
import {
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_FETCH_GUEST_PAGE_FAULT,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT,
  PRV_S,
  PRV_U,
} from "../../arch/riscv64/traps.ts";
import { type MemBlock, PhysicalMemory } from "./phys-memory.ts";
import { PMP_DENY, type PmpState, pmpCheck } from "./pmp.ts";
import { TWO_POW_32 } from "./split64.ts";
import { atomicOld, compareExchangeDoubleword, loadDoubleword } from "./threads/atomics.ts";

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;
export type Access = typeof ACCESS_READ | typeof ACCESS_WRITE | typeof ACCESS_EXEC;

export type Translation =
  | {
      readonly ok: true;
      readonly pa: number;
      /** Size of the first-stage leaf page that mapped the address (4 KiB when translation is off). */
      readonly span: number;
    }
  | {
      readonly ok: false;
      readonly cause: number;
      /** Guest-physical address for guest-page faults (htval/mtval2 = gpa >> 2), else 0. */
      readonly gpa: number;
      /** Pseudo-instruction for faults on implicit VS-stage PTE accesses (htinst/mtinst), else 0. */
      readonly tinst: number;
    };

/** What translation needs to know about the hart (kept narrow so the MMU can be tested on its own). */
export interface MmuState {
  readonly memory: PhysicalMemory;
  /** The hart's PMP, for the walks' PTE accesses. */
  readonly pmp: PmpState;
  /** satp, vsatp, hgatp as [lo, hi] halves. */
  satpLo: number;
  satpHi: number;
  vsatpLo: number;
  vsatpHi: number;
  hgatpLo: number;
  hgatpHi: number;
  /** mstatus.MXR, mstatus.SUM, vsstatus.MXR, vsstatus.SUM as booleans. */
  mxr(): boolean;
  sum(): boolean;
  vsMxr(): boolean;
  vsSum(): boolean;
  /**
   * A small cache of G-stage translations (4 KiB pieces of leaves, with the leaf PTE's permission bits), so the
   * several G-stage walks of every VS-stage walk are mostly lookups. Flushed with hgatp writes, HFENCE.GVMA and
   * stale page tables.
   */
  readonly gtlbTag: Float64Array;
  readonly gtlbPage: Float64Array;
  readonly gtlbPte: Int32Array;
  /**
   * Whether harts on other threads share this RAM (threads/): then a PTE is read as one access and the A/D update
   * is a compare-and-exchange of the whole PTE, atomic with the other harts' stores (the privileged spec's rule for
   * hardware A/D updates).
   */
  readonly sharedMemory: boolean;
  /** Physical memory writes made by the walker (A/D updates) must invalidate decoded code. */
  notePhysWrite(block: import("./phys-memory.ts").MemBlock, offset: number, width?: number): void;
}

const PAGE_FAULT = [CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT, CAUSE_FETCH_PAGE_FAULT] as const;
const GUEST_PAGE_FAULT = [
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_FETCH_GUEST_PAGE_FAULT,
] as const;
const ACCESS_FAULT = [CAUSE_LOAD_ACCESS_FAULT, CAUSE_STORE_ACCESS_FAULT, CAUSE_FETCH_ACCESS_FAULT] as const;

export const GTLB_SIZE = 256;
const GTLB_MASK = GTLB_SIZE - 1;
const TWO_POW_48 = 2 ** 48;

function pageFault(access: Access): Translation {
  return { ok: false, cause: PAGE_FAULT[access], gpa: 0, tinst: 0 };
}

export function accessFault(access: Access): Translation {
  return { ok: false, cause: ACCESS_FAULT[access], gpa: 0, tinst: 0 };
}

function guestPageFault(access: Access, gpa: number, tinst: number): Translation {
  return { ok: false, cause: GUEST_PAGE_FAULT[access], gpa, tinst };
}

/**
 * Weight of the high word's PPN bits (PTE bits 53:32 are PPN bits 43:22): 2 ** (32 - PTE_PPN_SHIFT), written as an
 * integer literal. Computed with `**` it was a double, and JavaScriptCore's optimized `gstage` and `walkFirstStage`
 * left their code at the multiply in `ptePpn` on every walk with an "Uncountable" exit, which teaches the profile
 * nothing: a Debian boot recompiled each of them 10-11 times.
 */
const PPN_HI_SCALE = 0x40_0000;

/** The PPN field (bits 53:10) of a PTE given as halves. */
function ptePpn(lo: number, hi: number): number {
  return (hi & 0x3fffff) * PPN_HI_SCALE + (lo >>> PTE_PPN_SHIFT);
}

/** satp-style PPN (bits 43:0) of a [lo, hi] pair. */
function satpPpn(lo: number, hi: number): number {
  return (hi & ATP_HI_PPN_MASK) * TWO_POW_32 + (lo >>> 0);
}

export function satpMode(hi: number): number {
  return hi >>> ATP_HI_MODE_SHIFT;
}

/**
 * Translate `va` for an access at privilege `priv` with virtualization `virt`. `hlvx` is the HLVX case (execute
 * permission instead of read). Returns the physical address or the fault to raise.
 */
export function translate(
  s: MmuState,
  va: number,
  access: Access,
  priv: number,
  virt: boolean,
  hlvx: boolean,
): Translation {
  if (!virt) {
    const mode = satpMode(s.satpHi);
    if (priv > PRV_S || mode === SATP_MODE_BARE) {
      // Bare: physical = virtual. Negative or ≥ 2^56 addresses have nothing behind them.
      if (va < 0 || va >= 2 ** PA_BITS) return accessFault(access);
      return { ok: true, pa: va, span: PAGE_SIZE };
    }
    return walkFirstStage(s, va, access, priv, mode, satpPpn(s.satpLo, s.satpHi), s.sum(), s.mxr(), false, hlvx);
  }
  const vmode = satpMode(s.vsatpHi);
  let gpa: number;
  let span = PAGE_SIZE;
  if (vmode === SATP_MODE_BARE) {
    gpa = va;
  } else {
    const first = walkFirstStage(
      s,
      va,
      access,
      priv,
      vmode,
      satpPpn(s.vsatpLo, s.vsatpHi),
      s.vsSum(),
      s.vsMxr() || s.mxr(),
      true,
      hlvx,
    );
    if (!first.ok) return first;
    gpa = first.pa;
    span = first.span;
  }
  const g = gstage(s, gpa, access, hlvx, 0);
  return g.ok ? { ok: true, pa: g.pa, span } : g;
}

/**
 * For the VMM (SBI calls that pass guest pointers): translate a guest-virtual address as the guest at `priv`
 * (V = 1) would, and return the guest-physical address. The G-stage is still walked, so an address the guest can
 * name but not reach fails with the guest-page fault the guest itself would take.
 */
export function translateGuestVirtual(s: MmuState, va: number, access: Access, priv: number): Translation {
  const vmode = satpMode(s.vsatpHi);
  let gpa = va;
  let span = PAGE_SIZE;
  if (vmode !== SATP_MODE_BARE) {
    const first = walkFirstStage(
      s,
      va,
      access,
      priv,
      vmode,
      satpPpn(s.vsatpLo, s.vsatpHi),
      s.vsSum(),
      s.vsMxr() || s.mxr(),
      true,
      false,
    );
    if (!first.ok) return first;
    gpa = first.pa;
    span = first.span;
  }
  const g = gstage(s, gpa, access, false, 0);
  return g.ok ? { ok: true, pa: gpa, span } : g;
}

/**
 * G-stage translation of a guest-physical address. `implicitTinst` is 0 for the explicit access, or the
 * pseudo-instruction of an implicit VS-stage PTE access (which then reports `access` as the original type).
 */
/** The PTE the walk just read: [lo, hi] (module state, not allocated per walk). */
const pte = new Int32Array(2);

/**
 * Read the PTE at `off` of `block` into `pte`: two 32-bit reads, or one 64-bit access when harts on other threads
 * share the table (a PTE that another hart is rewriting must not be seen half old, half new).
 */
function readPte(s: MmuState, block: MemBlock, off: number): void {
  const arena = s.memory.arena;
  if (s.sharedMemory && arena !== undefined && block.arenaOffset >= 0) {
    loadDoubleword(arena.memory, block.arenaOffset + off);
    pte[0] = atomicOld[0] ?? 0;
    pte[1] = atomicOld[1] ?? 0;
    return;
  }
  pte[0] = block.view.getInt32(off, true);
  pte[1] = block.view.getInt32(off + 4, true);
}

/**
 * Set the A/D bits `need` in the PTE read as [lo, hi]. On RAM other threads share, only if the PTE still holds that
 * value (compare-and-exchange): false when another hart changed it meanwhile, and the walk must read it again.
 */
function updatePte(s: MmuState, block: MemBlock, off: number, lo: number, hi: number, need: number): boolean {
  const arena = s.memory.arena;
  if (s.sharedMemory && arena !== undefined && block.arenaOffset >= 0) {
    if (!compareExchangeDoubleword(arena.memory, block.arenaOffset + off, lo, hi, lo | need, hi)) return false;
  } else {
    block.view.setInt32(off, lo | need, true);
  }
  s.notePhysWrite(block, off, 8);
  return true;
}

export function gstage(s: MmuState, gpa: number, access: Access, hlvx: boolean, implicitTinst: number): Translation {
  const mode = satpMode(s.hgatpHi);
  if (mode === SATP_MODE_BARE) {
    if (gpa < 0 || gpa >= 2 ** PA_BITS) return accessFault(access);
    return { ok: true, pa: gpa, span: PAGE_SIZE };
  }
  const levels = mode === HGATP_MODE_SV48X4 ? SV48_LEVELS : SV39_LEVELS;
  const gpaBits = mode === HGATP_MODE_SV48X4 ? SV48X4_GPA_BITS : SV39X4_GPA_BITS;
  const faultGpa = gpa < 0 ? 2 ** 63 : gpa;
  if (mode !== HGATP_MODE_SV39X4 && mode !== HGATP_MODE_SV48X4) return guestPageFault(access, faultGpa, implicitTinst);
  if (gpa < 0 || gpa >= 2 ** gpaBits) return guestPageFault(access, faultGpa, implicitTinst);
  const offset = gpa % PAGE_SIZE;
  const gi = Math.floor(gpa / PAGE_SIZE) & GTLB_MASK;
  if (s.gtlbTag[gi] === gpa - offset) {
    const pte = s.gtlbPte[gi] ?? 0;
    if (permitted(pte, access, s.mxr(), hlvx) && (access !== ACCESS_WRITE || (pte & PTE_D) !== 0)) {
      return { ok: true, pa: (s.gtlbPage[gi] ?? 0) + offset, span: PAGE_SIZE };
    }
  }
  // The root table is 16 KiB: hgatp.PPN[1:0] are zero.
  let table = (satpPpn(s.hgatpLo, s.hgatpHi) - (s.hgatpLo & 3)) * PAGE_SIZE;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = PAGE_SHIFT + LEVEL_BITS * level;
    const span = 2 ** shift;
    const index = level === levels - 1 ? Math.floor(gpa / span) : Math.floor(gpa / span) % PTES_PER_TABLE;
    const pteAddr = table + index * 8;
    const region = s.memory.find(pteAddr);
    if (region === undefined || pmpCheck(s.pmp, pteAddr, 8, ACCESS_READ, PRV_S) === PMP_DENY) {
      return accessFault(access);
    }
    // An int32-typed offset keeps the DataView accesses on JavaScriptCore's fast path (a double index made
    // every walk leave optimized code).
    const off = (pteAddr - region.base) | 0;
    PhysicalMemory.markPageTable(region.block, Math.floor(off / PAGE_SIZE));
    readPte(s, region.block, off);
    let lo = pte[0] ?? 0;
    const hi = pte[1] ?? 0;
    if ((lo & PTE_V) === 0 || ((lo & PTE_R) === 0 && (lo & PTE_W) !== 0)) {
      return guestPageFault(access, gpa, implicitTinst);
    }
    if (hi >>> PTE_HI_RESERVED_SHIFT !== 0) return guestPageFault(access, gpa, implicitTinst);
    const ppn = ptePpn(lo, hi);
    if ((lo & (PTE_R | PTE_X)) === 0) {
      if ((lo & (PTE_D | PTE_A | PTE_U)) !== 0 || level === 0) return guestPageFault(access, gpa, implicitTinst);
      table = ppn * PAGE_SIZE;
      continue;
    }
    // Leaf. Every G-stage access is a user-level access.
    if ((lo & PTE_U) === 0) return guestPageFault(access, gpa, implicitTinst);
    if (!permitted(lo, access, s.mxr(), hlvx)) return guestPageFault(access, gpa, implicitTinst);
    // Misaligned superpage: the PPN bits below the leaf level must be zero.
    if (level > 0 && ppn % 2 ** (9 * level) !== 0) return guestPageFault(access, gpa, implicitTinst);
    const need = PTE_A | (access === ACCESS_WRITE ? PTE_D : 0);
    if ((lo & need) !== need) {
      if (pmpCheck(s.pmp, pteAddr, 8, ACCESS_WRITE, PRV_S) === PMP_DENY) return accessFault(access);
      if (!updatePte(s, region.block, off, lo, hi, need)) {
        level++; // another hart rewrote this PTE: walk this level again with its new value
        continue;
      }
      lo |= need;
    }
    const pa = ppn * PAGE_SIZE + (gpa % span);
    // Remember the 4 KiB piece (with the leaf's permissions) for the next walks through this guest page.
    const gi = Math.floor(gpa / PAGE_SIZE) & GTLB_MASK;
    s.gtlbTag[gi] = gpa - (gpa % PAGE_SIZE);
    s.gtlbPage[gi] = pa - (pa % PAGE_SIZE);
    s.gtlbPte[gi] = lo;
    return { ok: true, pa, span: PAGE_SIZE };
  }
  return guestPageFault(access, gpa, implicitTinst);
}

function permitted(pteLo: number, access: Access, mxr: boolean, hlvx: boolean): boolean {
  if (access === ACCESS_EXEC) return (pteLo & PTE_X) !== 0;
  if (access === ACCESS_WRITE) return (pteLo & PTE_W) !== 0;
  if (hlvx) return (pteLo & PTE_X) !== 0;
  return (pteLo & PTE_R) !== 0 || (mxr && (pteLo & PTE_X) !== 0);
}

/** The VS-stage (virt) or single-stage walk of satp/vsatp. */
function walkFirstStage(
  s: MmuState,
  va: number,
  access: Access,
  priv: number,
  mode: number,
  rootPpn: number,
  sum: boolean,
  mxr: boolean,
  virt: boolean,
  hlvx: boolean,
): Translation {
  if (mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) return pageFault(access);
  const levels = mode === SATP_MODE_SV48 ? SV48_LEVELS : SV39_LEVELS;
  const vaBits = mode === SATP_MODE_SV48 ? SV48_VA_BITS : SV39_VA_BITS;
  const limit = 2 ** (vaBits - 1);
  // Canonical check: bits 63..vaBits-1 all equal to bit vaBits-1.
  if (va < -limit || va >= limit) return pageFault(access);
  const m = va < 0 ? va + TWO_POW_48 : va; // the low 48 bits, enough for both modes
  let table = rootPpn * PAGE_SIZE;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = PAGE_SHIFT + LEVEL_BITS * level;
    const span = 2 ** shift;
    const index = Math.floor(m / span) % PTES_PER_TABLE;
    let pteAddr = table + index * 8;
    if (virt) {
      // The PTE address is guest-physical: translate it through the G-stage as an implicit load.
      const g = gstage(s, pteAddr, ACCESS_READ, false, TINST_PTE_READ_64);
      if (!g.ok)
        return g.cause === ACCESS_FAULT[ACCESS_READ]
          ? accessFault(access)
          : guestPageFault(access, g.gpa, TINST_PTE_READ_64);
      pteAddr = g.pa;
    }
    const region = s.memory.find(pteAddr);
    if (region === undefined || pmpCheck(s.pmp, pteAddr, 8, ACCESS_READ, PRV_S) === PMP_DENY) {
      return accessFault(access);
    }
    // An int32-typed offset keeps the DataView accesses on JavaScriptCore's fast path (a double index made
    // every walk leave optimized code).
    const off = (pteAddr - region.base) | 0;
    PhysicalMemory.markPageTable(region.block, Math.floor(off / PAGE_SIZE));
    readPte(s, region.block, off);
    let lo = pte[0] ?? 0;
    const hi = pte[1] ?? 0;
    if ((lo & PTE_V) === 0 || ((lo & PTE_R) === 0 && (lo & PTE_W) !== 0)) return pageFault(access);
    if (hi >>> PTE_HI_RESERVED_SHIFT !== 0) return pageFault(access);
    const ppn = ptePpn(lo, hi);
    if ((lo & (PTE_R | PTE_X)) === 0) {
      if ((lo & (PTE_D | PTE_A | PTE_U)) !== 0 || level === 0) return pageFault(access);
      table = ppn * PAGE_SIZE;
      continue;
    }
    // Leaf: privilege checks.
    const user = (lo & PTE_U) !== 0;
    if (priv === PRV_U) {
      if (!user) return pageFault(access);
    } else if (user) {
      // S-mode may never execute user pages; it may load/store them only with SUM.
      if (access === ACCESS_EXEC || !sum) return pageFault(access);
    }
    if (!permitted(lo, access, mxr, hlvx)) return pageFault(access);
    if (level > 0 && ppn % 2 ** (9 * level) !== 0) return pageFault(access);
    const need = PTE_A | (access === ACCESS_WRITE ? PTE_D : 0);
    if ((lo & need) !== need) {
      if (virt) {
        // The A/D update is an implicit store to the PTE: it needs G-stage write permission.
        const g = gstage(s, table + index * 8, ACCESS_WRITE, false, TINST_PTE_WRITE_64);
        if (!g.ok) {
          return g.cause === ACCESS_FAULT[ACCESS_WRITE]
            ? accessFault(access)
            : guestPageFault(access, g.gpa, TINST_PTE_WRITE_64);
        }
      }
      if (pmpCheck(s.pmp, pteAddr, 8, ACCESS_WRITE, PRV_S) === PMP_DENY) return accessFault(access);
      if (!updatePte(s, region.block, off, lo, hi, need)) {
        level++; // another hart rewrote this PTE: walk this level again with its new value
        continue;
      }
      lo |= need;
    }
    return { ok: true, pa: ppn * PAGE_SIZE + (m % span), span };
  }
  return pageFault(access);
}
