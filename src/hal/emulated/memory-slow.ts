/**
 * The slow paths of a hart's memory accesses; the fast paths (TLB hits) are inlined in exec.ts, interp.ts and the
 * compiled blocks. A miss translates through the MMU, checks PMP (pmp.ts), fills the TLB when PMP allows the whole
 * page, and performs the access: misaligned ones that cross a page byte by byte, data accesses to non-RAM as MMIO
 * stops (bare-machine VMs) or access faults. Also the physical accesses of atomics and HLV/HSV, and instruction
 * fetch without the decode caches.
 */

import { HSTATUS_SPVP } from "../../arch/riscv64/csr.ts";
import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import {
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  PRV_S,
  PRV_U,
} from "../../arch/riscv64/traps.ts";
import { type Hart, STOP_MMIO } from "./hart.ts";
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, type Access, translate } from "./mmu.ts";
import { type MemBlock, PhysicalMemory } from "./phys-memory.ts";
import { PMP_ALLOW_PAGE, PMP_DENY, pmpCheck } from "./pmp.ts";
import { TWO_POW_32 } from "./split64.ts";
import { atomicOld, loadDoubleword, storeDoubleword } from "./threads/atomics.ts";
import { TLB_MASK } from "./tlb.ts";
import { raise, raiseTranslationFault } from "./trap.ts";

/** Translate a data address with the current effective privilege; raises the fault and returns -1 on failure. */
function translateData(h: Hart, va: number, access: Access, tinst: number): number {
  h.stats.walks++;
  const virt = h.dataVirt();
  const t = translate(h, va, access, h.dataPriv(), virt, false);
  if (t.ok) {
    h.lastSpan = t.span;
    return t.pa;
  }
  raiseTranslationFault(h, t, va, virt, tinst);
  return -1;
}

/**
 * PMP for a data access of `width` bytes at physical `pa` (virtual `va`) with the current effective privilege:
 * PMP_ALLOW_PAGE, PMP_ALLOW_ONCE, or PMP_DENY after raising the access fault.
 */
function pmpData(h: Hart, va: number, pa: number, width: number, access: Access): number {
  const verdict = pmpCheck(h.pmp, pa, width, access, h.dataPriv());
  if (verdict === PMP_DENY) {
    raise(h, access === ACCESS_WRITE ? CAUSE_STORE_ACCESS_FAULT : CAUSE_LOAD_ACCESS_FAULT, va, 0, 0, h.dataVirt());
  }
  return verdict;
}

/**
 * Load `width` bytes at `va` (zero-extended: low word returned, high word in `ldHi`). When the access trapped
 * or stopped the hart for MMIO (then the instruction does not retire), `loadOk` is false and 0 is returned.
 */
export function loadSlow(h: Hart, va: number, width: number, tinst: number, len: number): number {
  h.stats.loadMisses++;
  const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
  h.loadOk = false;
  if (pageOff + width > PAGE_SIZE) return loadCrossPage(h, va, width, tinst);
  if ((pageOff & (width - 1)) !== 0) {
    // Misaligned inside one page: the fast paths take aligned accesses only, but the page's read entry, when
    // present, serves it as well (its translation and permissions hold for every byte of the page).
    const dt = h.dtlb;
    const i = (va >>> 12) & TLB_MASK;
    const view = dt.rview[i];
    const vpage = va - pageOff;
    if (view !== undefined && dt.rlo[i] === (vpage | 0) && dt.rhi[i] === (Math.floor(vpage / TWO_POW_32) | 0)) {
      h.stats.misalignedTlbHits++;
      h.loadOk = true;
      return readMisaligned(view, ((va | 0) + (dt.roff[i] ?? 0)) | 0, width, h);
    }
  }
  const pa = translateData(h, va, ACCESS_READ, tinst);
  if (pa < 0) return 0;
  const pmp = pmpData(h, va, pa, width, ACCESS_READ);
  if (pmp === PMP_DENY) return 0;
  const region = h.memory.find(pa);
  if (region === undefined) {
    if (h.mmioExits) {
      beginMmio(h, pa, width, false, 0, 0, tinst, len);
    } else {
      raise(h, CAUSE_LOAD_ACCESS_FAULT, va, 0, 0, h.dataVirt());
    }
    return 0;
  }
  h.loadOk = true;
  const off = pa - region.base;
  if (pmp === PMP_ALLOW_PAGE) fillDataEntry(h, va, pageOff, region.block, off, pa, false);
  return readView(region.block, off, width, h);
}

/** A load that straddles a page boundary, byte by byte (sets `loadOk` like `loadSlow`). */
function loadCrossPage(h: Hart, va: number, width: number, tinst: number): number {
  h.stats.crossPage++;
  const bytes = new Uint8Array(8);
  h.loadOk = false;
  for (let k = 0; k < width; k++) {
    const pa = translateData(h, va + k, ACCESS_READ, tinst);
    if (pa < 0 || pmpData(h, va + k, pa, 1, ACCESS_READ) === PMP_DENY) return 0;
    const region = h.memory.find(pa);
    if (region === undefined) {
      // An access split across a page boundary into non-RAM: not a device access we can express.
      raise(h, CAUSE_LOAD_ACCESS_FAULT, va + k, 0, 0, h.dataVirt());
      return 0;
    }
    bytes[k] = region.block.bytes[pa - region.base] ?? 0;
  }
  h.loadOk = true;
  const dv = new DataView(bytes.buffer);
  h.ldHi = dv.getInt32(4, true);
  return dv.getInt32(0, true);
}

/** Store `width` bytes of (lo, hi) at `va`. Returns false when the access trapped or stopped for MMIO. */
export function storeSlow(
  h: Hart,
  va: number,
  width: number,
  lo: number,
  hi: number,
  tinst: number,
  len: number,
): boolean {
  h.stats.storeMisses++;
  const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
  if (pageOff + width > PAGE_SIZE) return storeCrossPage(h, va, width, lo, hi, tinst);
  if ((pageOff & (width - 1)) !== 0) {
    // Misaligned inside one page: served by the page's write entry when present, as loads are (loadSlow). A page
    // holding code has none, so such stores still come here and drop what was decoded.
    const dt = h.dtlb;
    const i = (va >>> 12) & TLB_MASK;
    const view = dt.wview[i];
    const vpage = va - pageOff;
    if (view !== undefined && dt.wlo[i] === (vpage | 0) && dt.whi[i] === (Math.floor(vpage / TWO_POW_32) | 0)) {
      h.stats.misalignedTlbHits++;
      writeMisaligned(view, ((va | 0) + (dt.woff[i] ?? 0)) | 0, width, lo, hi);
      return true;
    }
  }
  const pa = translateData(h, va, ACCESS_WRITE, tinst);
  if (pa < 0) return false;
  const pmp = pmpData(h, va, pa, width, ACCESS_WRITE);
  if (pmp === PMP_DENY) return false;
  const region = h.memory.find(pa);
  if (region === undefined) {
    if (h.mmioExits) {
      beginMmio(h, pa, width, true, lo, hi, tinst, len);
    } else {
      raise(h, CAUSE_STORE_ACCESS_FAULT, va, 0, 0, h.dataVirt());
    }
    return false;
  }
  const off = pa - region.base;
  const block = region.block;
  writeView(block, off, width, lo, hi, h);
  const page = Math.floor(off / PAGE_SIZE);
  if (PhysicalMemory.pageHasCode(block, page)) {
    h.stats.storesToCode++;
    h.stats.codeInvalidations++;
    PhysicalMemory.invalidateCode(block, page);
  } else if (pmp === PMP_ALLOW_PAGE) {
    fillDataEntry(h, va, pageOff, block, off, pa, true);
  }
  if (PhysicalMemory.storeIsWatched(block, off, width)) h.kickRequested = true;
  return true;
}

/**
 * Fill the data TLB's read (or write) entry for the page of `va`, translated to `pa` at `off` of `block`, after a
 * walk that allowed the access. A page holding decoded code gets no write entry (stores to it must come to the
 * slow path, which drops the code), nor does a page with a watched range (PhysicalMemory.watchWrites).
 */
function fillDataEntry(
  h: Hart,
  va: number,
  pageOff: number,
  block: MemBlock,
  off: number,
  pa: number,
  write: boolean,
): void {
  if (!write) h.dtlb.fillRead(va, pageOff, block.view, off, pa - pageOff, h.lastSpan, block.arenaOffset);
  else if (PhysicalMemory.pageTakesWriteEntries(block, Math.floor(off / PAGE_SIZE)))
    h.dtlb.fillWrite(va, pageOff, block.view, off, pa - pageOff, h.lastSpan, block.arenaOffset);
}

function storeCrossPage(h: Hart, va: number, width: number, lo: number, hi: number, tinst: number): boolean {
  h.stats.crossPage++;
  // Translate every byte first so a fault on the second page leaves memory untouched.
  const targets: { block: MemBlock; off: number }[] = [];
  for (let k = 0; k < width; k++) {
    const pa = translateData(h, va + k, ACCESS_WRITE, tinst);
    if (pa < 0 || pmpData(h, va + k, pa, 1, ACCESS_WRITE) === PMP_DENY) return false;
    const region = h.memory.find(pa);
    if (region === undefined) {
      raise(h, CAUSE_STORE_ACCESS_FAULT, va + k, 0, 0, h.dataVirt());
      return false;
    }
    targets.push({ block: region.block, off: pa - region.base });
  }
  for (let k = 0; k < width; k++) {
    const t = targets[k];
    if (t === undefined) continue;
    const word = k < 4 ? lo : hi;
    t.block.bytes[t.off] = (word >>> ((k & 3) * 8)) & 0xff;
    h.notePhysWrite(t.block, t.off);
  }
  return true;
}

function beginMmio(
  h: Hart,
  pa: number,
  width: number,
  isWrite: boolean,
  lo: number,
  hi: number,
  tinst: number,
  len: number,
): void {
  h.mmioAddr = pa;
  h.mmioWidth = width;
  h.mmioIsWrite = isWrite;
  h.mmioDataLo = lo;
  h.mmioDataHi = hi;
  h.mmioTinst = tinst;
  h.mmioLen = len;
  h.stop = STOP_MMIO;
}

/**
 * Translate and check an atomic access (LR/SC/AMO): natural alignment required, RAM required (an atomic to a
 * device raises an access fault). Returns the physical address or -1 after raising the fault.
 */
export function atomicAddress(h: Hart, va: number, width: number, isLoadOnly: boolean, tinst: number): number {
  if (va - Math.floor(va / width) * width !== 0) {
    raise(h, isLoadOnly ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE, va, 0, 0, h.dataVirt());
    return -1;
  }
  const pa = translateData(h, va, isLoadOnly ? ACCESS_READ : ACCESS_WRITE, tinst);
  if (pa < 0) return -1;
  // SC and AMOs need PMP write permission, which implies read (pmp.ts stores no W without R).
  const pmp = pmpData(h, va, pa, width, isLoadOnly ? ACCESS_READ : ACCESS_WRITE);
  if (pmp === PMP_DENY) return -1;
  const region = h.memory.find(pa);
  if (region === undefined) {
    raise(h, isLoadOnly ? CAUSE_LOAD_ACCESS_FAULT : CAUSE_STORE_ACCESS_FAULT, va, 0, 0, h.dataVirt());
    return -1;
  }
  // Fill the TLB as a load or store would (loadSlow, storeSlow), so the next atomic on the page is served by
  // atomicFast (interp.ts) instead of walking again: a page that only atomics touch (a lock, a reference count)
  // otherwise cost a two-stage walk per access, 180 k of a Debian boot's 350 k walks.
  if (pmp === PMP_ALLOW_PAGE) {
    const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
    fillDataEntry(h, va, pageOff, region.block, pa - region.base, pa, !isLoadOnly);
  }
  return pa;
}

/** Physical read of RAM (after translation). */
export function physRead(h: Hart, pa: number, width: number): number {
  const region = h.memory.find(pa);
  if (region === undefined) return 0;
  return readView(region.block, pa - region.base, width, h);
}

export function physWrite(h: Hart, pa: number, width: number, lo: number, hi: number): void {
  const region = h.memory.find(pa);
  if (region === undefined) return;
  const off = pa - region.base;
  writeView(region.block, off, width, lo, hi, h);
  h.notePhysWrite(region.block, off, width);
}

/**
 * HLV/HLVX/HSV: an access as VS/VU (privilege hstatus.SPVP) with V = 1, regardless of the current mode.
 * Returns the physical address or -1 after raising the fault.
 */
export function hypervisorAddress(h: Hart, va: number, access: Access, hlvx: boolean, tinst: number): number {
  h.stats.walks++;
  const priv = (h.hstatus & HSTATUS_SPVP) !== 0 ? PRV_S : PRV_U;
  const t = translate(h, va, access, priv, true, hlvx);
  if (!t.ok) {
    raiseTranslationFault(h, t, va, true, tinst);
    return -1;
  }
  // The access is made as VS or VU: PMP checks it at that privilege (HLVX reads need PMP read permission).
  const pmpAccess = access === ACCESS_WRITE ? ACCESS_WRITE : ACCESS_READ;
  if (pmpCheck(h.pmp, t.pa, 1, pmpAccess, priv) === PMP_DENY || h.memory.find(t.pa) === undefined) {
    raise(h, access === ACCESS_WRITE ? CAUSE_STORE_ACCESS_FAULT : CAUSE_LOAD_ACCESS_FAULT, va, 0, 0, true);
    return -1;
  }
  return t.pa;
}

/**
 * Fetch translation for `va`: returns the physical address or -1 after raising the instruction fault. The exec TLB
 * is filled unless PMP allows only part of the page (then the caller fetches through `physRead`, the TLB entry
 * left as it was).
 */
export function translateFetch(h: Hart, va: number): number {
  h.stats.fetchMisses++;
  h.stats.walks++;
  const t = translate(h, va, ACCESS_EXEC, h.priv, h.virt, false);
  if (!t.ok) {
    raiseTranslationFault(h, t, va, h.virt, 0);
    return -1;
  }
  const pmp = pmpCheck(h.pmp, t.pa, 2, ACCESS_EXEC, h.priv);
  const region = pmp === PMP_DENY ? undefined : h.memory.find(t.pa);
  if (region === undefined) {
    raise(h, CAUSE_FETCH_ACCESS_FAULT, va, 0, 0, h.virt);
    return -1;
  }
  if (pmp !== PMP_ALLOW_PAGE) return t.pa;
  const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
  const set = h.itlb;
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
  const code = h.memory.codePage(region.block, pageIndex);
  set.xcode[i] = code;
  set.setWasmExec(i, vpage, code);
  return t.pa;
}

/**
 * Fetch the instruction at the pc without the decode caches (reference interpreter, page-crossing
 * instructions). Returns the 32-bit word (upper half zero for compressed) or -1 after raising a fault.
 */
export function fetchInstruction(h: Hart, pc: number): number {
  const lowParcel = fetchParcel(h, pc);
  if (lowParcel < 0) return -1;
  if ((lowParcel & 3) !== 3) return lowParcel;
  const highParcel = fetchParcel(h, pc + 2);
  if (highParcel < 0) return -1;
  return (lowParcel | (highParcel << 16)) >>> 0;
}

function fetchParcel(h: Hart, va: number): number {
  const set = h.itlb;
  const i = (va >>> 12) & TLB_MASK;
  const pageOff = va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
  if (set.xtag[i] !== va - pageOff) {
    const pa = translateFetch(h, va);
    if (pa < 0) {
      // The fault was raised with tval = va, which for the second half is the faulting portion's address
      // while the epc stays the instruction's start: what the spec asks for.
      return -1;
    }
    // PMP allowed this parcel but not the whole page: no TLB entry to read through.
    if (set.xtag[i] !== va - pageOff) return physRead(h, pa, 2);
  }
  const view = set.xview[i];
  if (view === undefined) return -1;
  return view.getUint16((va + (set.xdelta[i] ?? 0)) | 0, true);
}

/**
 * For the tiers' TLB fast paths on RAM that harts on other threads share (`hart.sharedMemory`): the aligned
 * doubleword at `offset` of a TLB view (a view of the arena's buffer) as one access; the low half is returned, the
 * high half left in `hart.ldHi`. RVWMO makes aligned doubleword accesses single-copy atomic, which two 32-bit reads
 * are not once another thread can store between them.
 */
export function loadSharedDoubleword(hart: Hart, view: DataView, offset: number): number {
  const arena = hart.memory.arena;
  if (arena === undefined) {
    hart.ldHi = view.getInt32(offset + 4, true);
    return view.getInt32(offset, true);
  }
  loadDoubleword(arena.memory, view.byteOffset + offset);
  hart.ldHi = atomicOld[1] ?? 0;
  return atomicOld[0] ?? 0;
}

/** The store side of `loadSharedDoubleword`: [lo, hi] at `offset` of a TLB view as one access. */
export function storeSharedDoubleword(hart: Hart, view: DataView, offset: number, lo: number, hi: number): void {
  const arena = hart.memory.arena;
  if (arena === undefined) {
    view.setInt32(offset, lo, true);
    view.setInt32(offset + 4, hi, true);
    return;
  }
  storeDoubleword(arena.memory, view.byteOffset + offset, lo, hi);
}

/**
 * Whether an aligned doubleword of `block` is one that harts on other threads can reach (the hart runs on a thread
 * of its own, threads/): those move as one access (`loadSharedDoubleword`), the rest may be two halves.
 */
function sharedDoubleword(block: MemBlock, offset: number, hart: Hart): boolean {
  return hart.sharedMemory && block.arenaOffset >= 0 && ((block.arenaOffset + offset) & 7) === 0;
}

/** Read `width` bytes (zero-extended) from a block: low word returned, high word stored in `hart.ldHi`. */
function readView(block: MemBlock, offset: number, width: number, hart: Hart): number {
  const view = block.view;
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
      if (sharedDoubleword(block, off, hart)) return loadSharedDoubleword(hart, view, off);
      hart.ldHi = view.getInt32(off + 4, true);
      return view.getInt32(off, true);
  }
}

/**
 * A misaligned load of `width` (2, 4 or 8) bytes at `off` of `view` (low word returned, high in `ldHi`). Misaligned
 * accesses are not single-copy atomic (the ISA allows that), so shared RAM needs no Atomics here.
 */
function readMisaligned(view: DataView, off: number, width: number, hart: Hart): number {
  if (width === 8) {
    hart.ldHi = view.getInt32(off + 4, true);
    return view.getInt32(off, true);
  }
  hart.ldHi = 0;
  return width === 4 ? view.getInt32(off, true) : view.getUint16(off, true);
}

/** A misaligned store of `width` (2, 4 or 8) bytes of (lo, hi) at `off` of `view`. */
function writeMisaligned(view: DataView, off: number, width: number, lo: number, hi: number): void {
  if (width === 2) view.setUint16(off, lo & 0xffff, true);
  else view.setInt32(off, lo, true);
  if (width === 8) view.setInt32(off + 4, hi, true);
}

function writeView(block: MemBlock, offset: number, width: number, lo: number, hi: number, hart: Hart): void {
  const view = block.view;
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
      if (sharedDoubleword(block, off, hart)) {
        storeSharedDoubleword(hart, view, off, lo, hi);
        return;
      }
      view.setInt32(off, lo, true);
      view.setInt32(off + 4, hi, true);
  }
}
