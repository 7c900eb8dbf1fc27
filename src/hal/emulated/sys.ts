/**
 * The only file of the emulated backend that imports `bun:ffi`: two requests to the host kernel, one about the
 * arena's memory and one about threads' priorities (background-threads.ts says why). libc is opened on first use
 * (a host other than Linux never opens it), and nothing here is needed for the backend to work: where a call is
 * not possible the backend runs as before.
 *
 * Transparent huge pages for the arena (Linux `madvise(MADV_HUGEPAGE)`), as QEMU asks for its guest RAM. The arena
 * (arena.ts) is one anonymous mapping that the host fills a 4 KiB page at a time, on first touch; JavaScriptCore
 * even marks its WebAssembly memories MADV_NOHUGEPAGE. A first touch costs a page fault, ~11 us on this project's
 * machines (a VM): loading a 31 MB kernel took 91 ms, 7,940 faults, and every page a guest touches first costs as
 * much again. With huge pages the same load takes 15 ms and 22 faults, and a Linux boot's first touches fault once
 * per 2 MiB; so do the decode caches' (arena.ts). The cost is memory: the host commits RAM in 2 MiB pieces, so a
 * guest that touches one byte of a piece holds all of it (never more than the arena's size).
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

/** <sys/mman.h> on Linux (the same on x86_64, aarch64 and riscv64); test/emulated/sys.test.ts checks it. */
export const MADV_HUGEPAGE = 14;
/** The size of a transparent huge page on the hosts Bun runs on (x86_64, aarch64 with 4 KiB pages). */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;

interface Libc {
  madvise(address: number, length: number, advice: number): number;
  setpriority(which: number, who: number, nice: number): number;
  gettid(): number;
}

/** <sys/resource.h>: setpriority's `which` for one process — on Linux, one thread when given a thread id. */
export const PRIO_PROCESS = 0;

/** undefined: not tried yet; null: not available on this host. */
let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  try {
    const lib = dlopen("libc.so.6", {
      madvise: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
      setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
      gettid: { args: [], returns: FFIType.i32 },
    });
    libc = {
      madvise: (address, length, advice) => lib.symbols.madvise(address, length, advice),
      setpriority: (which, who, nice) => lib.symbols.setpriority(which, who, nice),
      gettid: () => lib.symbols.gettid(),
    };
  } catch {
    // No libc.so.6 (musl, or an unusual install): the arena keeps small pages.
  }
  return libc;
}

/**
 * The 2 MiB-aligned part of [address, address + length), or undefined when it holds no whole huge page.
 * Exported for the test.
 */
export function hugePageSpan(address: number, length: number): { start: number; length: number } | undefined {
  const start = Math.ceil(address / HUGE_PAGE_SIZE) * HUGE_PAGE_SIZE;
  const end = Math.floor((address + length) / HUGE_PAGE_SIZE) * HUGE_PAGE_SIZE;
  return end > start ? { start, length: end - start } : undefined;
}

/**
 * Ask the host to back the whole 2 MiB pieces of `bytes` (a part of the arena) with transparent huge pages.
 * Returns the host-address span it agreed for; undefined on other hosts, when libc cannot be opened, when `bytes`
 * holds no whole huge page, or when the kernel refuses (huge pages switched off).
 */
export function adviseHugePages(bytes: Uint8Array): { start: number; length: number } | undefined {
  const c = load();
  if (c === null || bytes.length === 0) return undefined;
  const span = hugePageSpan(ptr(bytes), bytes.length);
  if (span === undefined) return undefined;
  return c.madvise(span.start, span.length, MADV_HUGEPAGE) === 0 ? span : undefined;
}

/**
 * Lower the scheduling priority of thread `tid` of this process (a Linux thread id; 0: the calling thread) to
 * `nice` (a higher nice value: less CPU when threads contend). Linux keeps the nice value per thread. Lowering
 * needs no privilege. Returns whether the kernel agreed; false on other hosts or without libc.
 */
export function setThreadNice(tid: number, nice: number): boolean {
  const c = load();
  if (c === null) return false;
  return c.setpriority(PRIO_PROCESS, tid === 0 ? c.gettid() : tid, nice) === 0;
}
