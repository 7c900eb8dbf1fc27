/**
 * What the kernel can do for snapshot memory files (Linux), so that neither a restore nor a snapshot touches
 * every page of guest RAM (on a busy virtualised host, first touching a page costs 15–30 µs: 0.5–1 s for 128 MiB):
 *
 * - `mapFileOver`: map a memory file privately over guest RAM. The kernel then loads each page from the file
 *   (page cache) on the first access by anyone — a hart, a compiled region, a Worker, a device's DMA through
 *   GuestMemory, KVM — and copies it on the first write; the file's holes read as zeros. A restore costs one
 *   mmap per region, whatever the amount of data.
 * - `untouchedPages`: which pages of a private mapping were never touched (neither present nor swapped out, from
 *   /proc/self/pagemap): those of an anonymous mapping are zero, so a snapshot need not read them.
 *
 * Both are for memory whose backend says it is `privatePages` (hal/types.ts `HostMemory`): whole pages of a
 * private mapping that lives as long as the VM and nothing else reuses. Anything else, or a host where these are
 * not available, gets `undefined` / a reason, and the caller copies and scans instead.
 */

import { closeSync, openSync, readSync } from "node:fs";
import { addressOf, hostPageSize, mapFilePrivately } from "./sys.ts";

export type FileMapResult = { readonly kind: "mapped" } | { readonly kind: "not-mapped"; readonly reason: string };

/**
 * Map [fileOffset, fileOffset + view.length) of the open file `fd` privately over `view` (see above). The view
 * must be page-aligned whole pages of `privatePages` memory; when it is not, or the host or the file's
 * filesystem cannot, nothing changes and the reason is returned.
 */
export function mapFileOver(view: Uint8Array, fd: number, fileOffset: number): FileMapResult {
  const pageSize = hostPageSize();
  if (pageSize === undefined) return { kind: "not-mapped", reason: "this host has no mmap binding (not Linux)" };
  const address = addressOf(view);
  if (address % pageSize !== 0 || view.length % pageSize !== 0 || fileOffset % pageSize !== 0) {
    return {
      kind: "not-mapped",
      reason: `the memory (0x${address.toString(16)}, ${view.length} bytes, file offset ${fileOffset}) is not in whole ${pageSize}-byte host pages`,
    };
  }
  const errno = mapFilePrivately(view, fd, fileOffset);
  if (errno === undefined) return { kind: "not-mapped", reason: "libc cannot be loaded" };
  if (errno !== 0) return { kind: "not-mapped", reason: `mmap failed with errno ${errno}` };
  return { kind: "mapped" };
}

/** Per host page of a view: whether it was never touched, and the page size. */
export interface PageResidency {
  readonly pageSize: number;
  /** 1 for a page neither present nor swapped out, 0 otherwise; index = page of the view. */
  readonly untouched: Uint8Array;
}

/** pagemap entry bits 63 (present) and 62 (swapped), in the entry's high 32-bit word. */
const PAGE_PRESENT_OR_SWAPPED = 0xc000_0000;
/** Entries read per pagemap read (8 bytes each): 4 MiB of pagemap covers 2 GiB of 4 KiB pages. */
const PAGEMAP_BATCH = 512 * 1024;

/**
 * Which pages of `view` were never touched, from /proc/self/pagemap; undefined where the host does not say
 * (not Linux, no pagemap, the view not page-aligned). Only meaningful for `privatePages` memory.
 */
export function untouchedPages(view: Uint8Array): PageResidency | undefined {
  const pageSize = hostPageSize();
  if (pageSize === undefined || view.length === 0) return undefined;
  const address = addressOf(view);
  if (address % pageSize !== 0) return undefined;
  const pages = Math.ceil(view.length / pageSize);
  const untouched = new Uint8Array(pages);
  let fd: number;
  try {
    fd = openSync("/proc/self/pagemap", "r");
  } catch {
    return undefined;
  }
  try {
    const entries = new Uint32Array(2 * Math.min(pages, PAGEMAP_BATCH));
    const bytes = new Uint8Array(entries.buffer);
    for (let first = 0; first < pages; first += PAGEMAP_BATCH) {
      const count = Math.min(PAGEMAP_BATCH, pages - first);
      const position = (address / pageSize + first) * 8;
      let done = 0;
      while (done < count * 8) {
        const n = readSync(fd, bytes, done, count * 8 - done, position + done);
        if (n <= 0) return undefined;
        done += n;
      }
      // Little-endian u64 entries: the high word of entry i is entries[2i + 1].
      for (let i = 0; i < count; i++) {
        if (((entries[2 * i + 1] ?? PAGE_PRESENT_OR_SWAPPED) & PAGE_PRESENT_OR_SWAPPED) === 0) untouched[first + i] = 1;
      }
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  return { pageSize, untouched };
}
