/**
 * The memory file of a snapshot: every RAM region's bytes at the region's offset in the file, written sparsely.
 * Only the chunks that hold a non-zero byte are written (the rest are holes: the file takes the disk space of the
 * data only), and their list (`extents`) goes into the state file.
 *
 * Cost is what matters here, and on a virtualised host the cost is first touching pages (15–30 µs each: 0.5–1 s
 * for 128 MiB), not copying bytes. So:
 * - a snapshot reads only the pages that may hold data: in memory whose backend says it is `privatePages`, the
 *   pages the kernel says were never touched are zero and are skipped without being read (memory-map.ts); the
 *   others are scanned 32 bytes per step and only the chunks with data are written;
 * - a restore maps the file privately over such memory (one mmap per region): the kernel loads each page on the
 *   first access by anyone (harts, compiled regions, Workers, device DMA) and copies it on the first write; the
 *   file's holes read as zeros. Elsewhere (other memory, other hosts, `load: "read"`) it clears what the VM's
 *   boot wrote and reads the extents in large positioned reads straight into RAM.
 * Either way the emulated backend is told once per region that its RAM changed (decoded code, translations).
 *
 * A VM whose RAM maps a memory file keeps using that file's pages it has not written: the file must not change
 * while the VM lives (as with Firecracker). A new snapshot is therefore written to a temporary file renamed over
 * the target, so snapshotting to the file a VM was restored from leaves that VM's pages intact.
 */

import { closeSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import type { GuestMemory, GuestMemoryRegion } from "../../addrspace/guest-memory.ts";
import { mapFileOver, type PageResidency, untouchedPages } from "../../hal/host/memory-map.ts";

/** Granularity of the zero scan and of the extents. */
export const MEMORY_CHUNK = 64 * 1024;

export interface SavedRegion {
  readonly name: string;
  readonly gpa: number;
  readonly size: number;
  /** Where the region's byte 0 is in the memory file. */
  readonly fileOffset: number;
}

export interface MemoryLayout {
  readonly regions: readonly SavedRegion[];
  /** [file offset, length] of each run of data; everything else is zero. */
  readonly extents: ReadonlyArray<readonly [number, number]>;
  /** Length of the file (the sum of the region sizes). */
  readonly fileSize: number;
}

/** How a snapshot finds the data: skip the pages the kernel says were never touched, or scan everything. */
export type MemoryScan = "touched" | "all";
/** How a restore loads memory: map the file where the memory allows it (else read), or always read. */
export type MemoryLoad = "map" | "read";

export interface MemoryWritten {
  readonly layout: MemoryLayout;
  /** Bytes of RAM skipped without being read because the kernel said they were never touched. */
  readonly skippedUntouched: number;
}

export interface MemoryLoaded {
  /** Bytes of RAM mapped from the file (loaded by the kernel on first access). */
  readonly mappedBytes: number;
  /** Bytes read from the file into RAM. */
  readonly readBytes: number;
}

/**
 * Regions of live VMs that map a memory file (by their `bytes`), with the data runs of that file as
 * [region offset, length]: their untouched pages hold the file's bytes, not zeros.
 */
const mappedFiles = new WeakMap<Uint8Array, ReadonlyArray<readonly [number, number]>>();

/** Whether every byte is zero: eight 32-bit words per step (regions and chunks are page-aligned). */
function isZero(bytes: Uint8Array): boolean {
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const stepped = words.length & ~7;
  for (let i = 0; i < stepped; i += 8) {
    if (
      ((words[i] as number) |
        (words[i + 1] as number) |
        (words[i + 2] as number) |
        (words[i + 3] as number) |
        (words[i + 4] as number) |
        (words[i + 5] as number) |
        (words[i + 6] as number) |
        (words[i + 7] as number)) !==
      0
    ) {
      return false;
    }
  }
  for (let i = stepped; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length * 4; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function allUntouched(residency: PageResidency, start: number, end: number): boolean {
  const last = Math.ceil(end / residency.pageSize);
  for (let page = Math.floor(start / residency.pageSize); page < last; page++) {
    if (residency.untouched[page] !== 1) return false;
  }
  return true;
}

function overlapsAny(runs: ReadonlyArray<readonly [number, number]>, start: number, end: number): boolean {
  return runs.some(([at, length]) => at < end && start < at + length);
}

/** [region offset, length] of each chunk of `region` that holds data, adjacent chunks merged. */
function dataRuns(region: GuestMemoryRegion, scan: MemoryScan): { runs: Array<[number, number]>; skipped: number } {
  const bytes = region.bytes;
  const residency = scan === "touched" && region.host?.privatePages === true ? untouchedPages(bytes) : undefined;
  const mapped = mappedFiles.get(bytes) ?? [];
  const runs: Array<[number, number]> = [];
  let skipped = 0;
  for (let offset = 0; offset < bytes.length; offset += MEMORY_CHUNK) {
    const end = Math.min(bytes.length, offset + MEMORY_CHUNK);
    // Never touched: zero in anonymous memory; the file's bytes where a restore mapped a file with data there.
    if (residency !== undefined && allUntouched(residency, offset, end) && !overlapsAny(mapped, offset, end)) {
      skipped += end - offset;
      continue;
    }
    if (isZero(bytes.subarray(offset, end))) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === offset) last[1] += end - offset;
    else runs.push([offset, end - offset]);
  }
  return { runs, skipped };
}

/**
 * Write `memory`'s regions to `path` (through a temporary file renamed over it, mode 0600) and return the layout.
 */
export function writeMemoryFile(path: string, memory: GuestMemory, scan: MemoryScan = "touched"): MemoryWritten {
  const regions: SavedRegion[] = [];
  const extents: Array<[number, number]> = [];
  let skippedUntouched = 0;
  let fileOffset = 0;
  const temporary = `${path}.partial-${process.pid}`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    for (const region of memory.regions) {
      const bytes = region.bytes;
      regions.push({ name: region.name, gpa: region.gpa, size: bytes.length, fileOffset });
      const { runs, skipped } = dataRuns(region, scan);
      skippedUntouched += skipped;
      for (const [offset, length] of runs) {
        writeAll(fd, bytes.subarray(offset, offset + length), fileOffset + offset);
        const at = fileOffset + offset;
        const last = extents[extents.length - 1];
        if (last !== undefined && last[0] + last[1] === at) last[1] += length;
        else extents.push([at, length]);
      }
      fileOffset += bytes.length;
    }
    ftruncateSync(fd, fileOffset);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    throw error;
  }
  return { layout: { regions, extents, fileSize: fileOffset }, skippedUntouched };
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** The extents of `layout` inside `saved`, as [region offset, length]. */
function regionRuns(layout: MemoryLayout, saved: SavedRegion): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const [at, length] of layout.extents) {
    const start = Math.max(at, saved.fileOffset);
    const end = Math.min(at + length, saved.fileOffset + saved.size);
    if (start < end) runs.push([start - saved.fileOffset, end - start]);
  }
  return runs;
}

/**
 * Load the memory of `layout` from `path` into `memory`, whose regions must be the saved ones (same addresses
 * and sizes), by mapping (`load: "map"`, where the region's memory allows it) or reading. A region that is read
 * has the rest of its RAM zeroed: the `written` ranges (what the VM's boot wrote), or all of it when they are
 * unknown. Throws an Error naming the region, the extent or the short read.
 */
export function readMemoryFile(
  path: string,
  memory: GuestMemory,
  layout: MemoryLayout,
  written: ReadonlyArray<readonly [number, number]> | undefined,
  load: MemoryLoad = "map",
): MemoryLoaded {
  const regions = memory.regions;
  if (regions.length !== layout.regions.length) {
    throw new Error(`the snapshot has ${layout.regions.length} memory regions, the VM ${regions.length}`);
  }
  layout.regions.forEach((saved, i) => {
    const region = regions[i];
    if (region === undefined || region.gpa !== saved.gpa || region.bytes.length !== saved.size) {
      throw new Error(
        `memory region ${i} of the snapshot is 0x${saved.size.toString(16)} bytes at 0x${saved.gpa.toString(16)}, the VM's ${region === undefined ? "is missing" : `0x${region.bytes.length.toString(16)} bytes at 0x${region.gpa.toString(16)}`}`,
      );
    }
  });
  for (const [at, length] of layout.extents) {
    if (!layout.regions.some((r) => at >= r.fileOffset && at + length <= r.fileOffset + r.size)) {
      throw new Error(`extent [${at}, +${length}) lies outside every region`);
    }
  }
  let mappedBytes = 0;
  let readBytes = 0;
  const fd = openSync(path, "r");
  try {
    layout.regions.forEach((saved, i) => {
      const region = regions[i] as GuestMemoryRegion;
      const runs = regionRuns(layout, saved);
      if (load === "map" && region.host?.privatePages === true) {
        if (mapFileOver(region.bytes, fd, saved.fileOffset).kind === "mapped") {
          mappedFiles.set(region.bytes, runs);
          // Every byte changed under the backend: decoded code and translations of the region go, once.
          memory.notifyWritten(region.gpa, region.bytes.length);
          mappedBytes += region.bytes.length;
          return;
        }
      }
      readBytes += readRegion(fd, memory, region, saved, runs, written);
    });
  } finally {
    closeSync(fd);
  }
  return { mappedBytes, readBytes };
}

/**
 * Clear what the boot wrote into `region` (all of it when unknown) and read its runs from the file. A freshly
 * built VM's RAM is zero apart from what the board loaded, so only that needs clearing: filling all of it would
 * touch every page.
 */
function readRegion(
  fd: number,
  memory: GuestMemory,
  region: GuestMemoryRegion,
  saved: SavedRegion,
  runs: ReadonlyArray<readonly [number, number]>,
  written: ReadonlyArray<readonly [number, number]> | undefined,
): number {
  const regionEnd = region.gpa + region.bytes.length;
  for (const [gpa, length] of written ?? [[region.gpa, region.bytes.length] as const]) {
    const start = Math.max(gpa, region.gpa);
    const end = Math.min(gpa + length, regionEnd);
    if (start < end) memory.fill(start, end - start, 0);
  }
  let total = 0;
  for (const [offset, length] of runs) {
    const target = region.bytes.subarray(offset, offset + length);
    const position = saved.fileOffset + offset;
    let done = 0;
    while (done < length) {
      const n = readSync(fd, target, done, length - done, position + done);
      if (n === 0) {
        throw new Error(
          `the memory file ends at ${position + done}, the snapshot lists data up to ${position + length}`,
        );
      }
      done += n;
    }
    memory.notifyWritten(region.gpa + offset, length);
    total += length;
  }
  return total;
}
