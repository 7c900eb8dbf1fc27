/**
 * Physical memory protection (privileged spec 1.12 section 3.7): 16 entries (pmpcfg0/pmpcfg2 on RV64, pmpaddr0..15;
 * pmpcfg4..14 and pmpaddr16..63 are read-only zero), address matching OFF/TOR/NA4/NAPOT, the L bit, and the access
 * checks for M (locked entries only) and S/U.
 *
 * Choices where the spec leaves one:
 * - Granularity G = 0 (4-byte regions): every pmpaddr bit 53:0 is writable, so writing all ones reads back
 *   2^54 - 1 (how software discovers G), and NA4 is available.
 * - pmpcfg's reserved R = 0, W = 1 combination is stored as R = W = 0 (Spike does the same); bits 6:5 read zero.
 *
 * Speed: nothing here runs on the fast paths. The harts check PMP when they fill a TLB entry (a miss), for the
 * whole 4 KiB page at once: `pmpCheck` says whether every access of that kind to the page is allowed in the
 * context (so the entry may be cached), only this one (a region boundary or a higher-priority entry falls inside
 * the page: served without a TLB entry), or none. Page-table walks check their PTE accesses as S-mode reads and
 * writes. Any pmpcfg/pmpaddr write flushes every TLB, so no cached entry outlives the rules it was checked
 * against.
 */

import {
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  PMP_A,
  PMP_A_NA4,
  PMP_A_NAPOT,
  PMP_A_SHIFT,
  PMP_A_TOR,
  PMP_ENTRIES_PER_CFG_RV64,
  PMP_L,
  PMP_R,
  PMP_SHIFT,
  PMP_W,
  PMP_X,
  PMPADDR_BITS_RV64,
} from "../../arch/riscv64/csr.ts";
import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import { PRV_M } from "../../arch/riscv64/traps.ts";
import { ACCESS_EXEC, ACCESS_WRITE, type Access } from "./mmu.ts";
import { TWO_POW_32 } from "./split64.ts";

/** How many PMP entries this hart implements. */
export const PMP_ENTRIES = 16;

/** `pmpCheck` results. */
export const PMP_DENY = 0;
/** Allowed, but not for the whole page: serve this access without filling a TLB entry. */
export const PMP_ALLOW_ONCE = 1;
/** Allowed for every access of this kind to the page in this context: the TLB may cache it. */
export const PMP_ALLOW_PAGE = 2;

/** The bits of pmpaddr's high word that exist (53:32). */
const PMPADDR_HIGH_BITS_MASK = 2 ** (PMPADDR_BITS_RV64 - 32) - 1;
/** pmpaddr counts 4-byte units. */
const PMP_UNIT = 2 ** PMP_SHIFT;
/** Bits of a pmpcfg byte that hold state (6:5 are reserved zero). */
const PMPCFG_WRITABLE = PMP_R | PMP_W | PMP_X | PMP_A | PMP_L;

/** The PMP registers of a hart and the byte ranges their active entries match. */
export class PmpState {
  readonly cfg = new Uint8Array(PMP_ENTRIES);
  /** pmpaddr values (bits 53:0) as low and high words: 54 bits do not fit a double exactly. */
  readonly addrLo = new Int32Array(PMP_ENTRIES);
  readonly addrHi = new Int32Array(PMP_ENTRIES);
  /** [lo, hi) byte range each entry matches ([0, 0) when OFF or empty). */
  readonly lo = new Float64Array(PMP_ENTRIES);
  readonly hi = new Float64Array(PMP_ENTRIES);
  /** 1 + the index of the last entry that matches anything (0: no entry is active). */
  active = 0;

  reset(): void {
    this.cfg.fill(0);
    this.addrLo.fill(0);
    this.addrHi.fill(0);
    this.recompute();
  }

  /** pmpaddr[i] as a number (rounded above 2^53, which is past every physical address this hart has). */
  #addr(i: number): number {
    return (this.addrHi[i] ?? 0) * TWO_POW_32 + ((this.addrLo[i] ?? 0) >>> 0);
  }

  /** Recompute the matched ranges after any register change. */
  recompute(): void {
    let active = 0;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const cfg = this.cfg[i] ?? 0;
      const addr = this.#addr(i);
      let lo = 0;
      let hi = 0;
      switch ((cfg & PMP_A) >>> PMP_A_SHIFT) {
        case PMP_A_TOR:
          lo = (i === 0 ? 0 : this.#addr(i - 1)) * PMP_UNIT;
          hi = addr * PMP_UNIT;
          break;
        case PMP_A_NA4:
          lo = addr * PMP_UNIT;
          hi = lo + PMP_UNIT;
          break;
        case PMP_A_NAPOT: {
          // yyyy…y0 followed by k ones: a region of 2^(k+3) bytes at yyyy…y000 << 2.
          const ones = trailingOnes((this.addrLo[i] ?? 0) >>> 0, this.addrHi[i] ?? 0);
          const size = 2 ** (ones + 3);
          lo = Math.floor((addr * PMP_UNIT) / size) * size;
          hi = lo + size;
          break;
        }
        default:
          break;
      }
      if (hi <= lo) {
        lo = 0;
        hi = 0;
      } else {
        active = i + 1;
      }
      this.lo[i] = lo;
      this.hi[i] = hi;
    }
    this.active = active;
  }
}

/** Trailing one bits of the 54-bit value (high << 32) | low. */
function trailingOnes(low: number, high: number): number {
  // ~x & (x + 1) isolates the lowest zero bit of x; clz32 ^ 31 is its index.
  if (low !== 0xffff_ffff) return Math.clz32(~low & (low + 1)) ^ 31;
  return 32 + (Math.clz32(~high & (high + 1)) ^ 31);
}

/** Whether `cfg` grants `access`. */
function permits(cfg: number, access: Access): boolean {
  if (access === ACCESS_EXEC) return (cfg & PMP_X) !== 0;
  if (access === ACCESS_WRITE) return (cfg & PMP_W) !== 0;
  return (cfg & PMP_R) !== 0;
}

/**
 * Check an access of `size` bytes at physical `pa` made at privilege `priv` (M, S or U; V does not matter): the
 * lowest-numbered entry that matches any of its bytes decides, and must match all of them; M-mode is checked
 * only against locked entries; with no match M succeeds and S/U fail (this hart implements PMP).
 */
export function pmpCheck(pmp: PmpState, pa: number, size: number, access: Access, priv: number): number {
  const n = pmp.active;
  if (n === 0) return priv === PRV_M ? PMP_ALLOW_PAGE : PMP_DENY;
  const pageLo = pa - (pa % PAGE_SIZE);
  const pageHi = pageLo + PAGE_SIZE;
  const end = pa + size;
  // Whether every access of this kind to the page gets the same answer (no entry boundary inside the page).
  let uniform = true;
  for (let i = 0; i < n; i++) {
    const lo = pmp.lo[i] ?? 0;
    const hi = pmp.hi[i] ?? 0;
    if (hi === 0) continue;
    if (end <= lo || pa >= hi) {
      if (pageLo < hi && lo < pageHi) uniform = false; // another access in this page would match it
      continue;
    }
    if (pa < lo || end > hi) return PMP_DENY; // matches some bytes but not all
    const cfg = pmp.cfg[i] ?? 0;
    const allowed = (priv === PRV_M && (cfg & PMP_L) === 0) || permits(cfg, access);
    if (!allowed) return PMP_DENY;
    return uniform && lo <= pageLo && hi >= pageHi ? PMP_ALLOW_PAGE : PMP_ALLOW_ONCE;
  }
  if (priv !== PRV_M) return PMP_DENY;
  return uniform ? PMP_ALLOW_PAGE : PMP_ALLOW_ONCE;
}

// -----------------------------------------------------------------------------------------------------------------
// CSRs
// -----------------------------------------------------------------------------------------------------------------

/** pmpcfgN (N even) as [lo, hi] words; entries beyond PMP_ENTRIES read zero. */
export function readPmpcfg(pmp: PmpState, csr: number): [number, number] {
  const first = ((csr - CSR_PMPCFG0) / 2) * PMP_ENTRIES_PER_CFG_RV64;
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 4; k++) lo |= (pmp.cfg[first + k] ?? 0) << (8 * k);
  for (let k = 0; k < 4; k++) hi |= (pmp.cfg[first + 4 + k] ?? 0) << (8 * k);
  return [lo | 0, hi | 0];
}

/** Write pmpcfgN (N even): locked entries keep their byte; returns whether anything changed. */
export function writePmpcfg(pmp: PmpState, csr: number, lo: number, hi: number): boolean {
  const first = ((csr - CSR_PMPCFG0) / 2) * PMP_ENTRIES_PER_CFG_RV64;
  let changed = false;
  for (let k = 0; k < PMP_ENTRIES_PER_CFG_RV64; k++) {
    const i = first + k;
    if (i >= PMP_ENTRIES) break;
    const old = pmp.cfg[i] ?? 0;
    if ((old & PMP_L) !== 0) continue; // locked until reset
    let next = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0xff & PMPCFG_WRITABLE;
    // R = 0, W = 1 is reserved: keep neither.
    if ((next & PMP_R) === 0) next &= ~PMP_W;
    if (next !== old) {
      pmp.cfg[i] = next;
      changed = true;
    }
  }
  if (changed) pmp.recompute();
  return changed;
}

/** pmpaddrN as [lo, hi] words (entries beyond PMP_ENTRIES read zero). With G = 0 the value reads back as is. */
export function readPmpaddr(pmp: PmpState, csr: number): [number, number] {
  const i = csr - CSR_PMPADDR0;
  return [pmp.addrLo[i] ?? 0, pmp.addrHi[i] ?? 0];
}

/**
 * Write pmpaddrN (the value's bits 53:0). Ignored when entry N is locked, or when entry N+1 is locked and TOR (its
 * range starts at pmpaddrN). Returns whether anything changed.
 */
export function writePmpaddr(pmp: PmpState, csr: number, lo: number, hi: number): boolean {
  const i = csr - CSR_PMPADDR0;
  if (i >= PMP_ENTRIES) return false;
  if (((pmp.cfg[i] ?? 0) & PMP_L) !== 0) return false;
  const next = pmp.cfg[i + 1] ?? 0;
  if ((next & PMP_L) !== 0 && (next & PMP_A) >>> PMP_A_SHIFT === PMP_A_TOR) return false;
  const high = hi & PMPADDR_HIGH_BITS_MASK;
  if (lo === pmp.addrLo[i] && high === pmp.addrHi[i]) return false;
  pmp.addrLo[i] = lo;
  pmp.addrHi[i] = high;
  pmp.recompute();
  return true;
}
