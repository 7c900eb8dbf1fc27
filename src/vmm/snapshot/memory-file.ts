/**
 * The memory file of a snapshot: every RAM region's bytes at the region's offset in the file, written sparsely.
 * Only the chunks that hold a non-zero byte are written (the rest are holes: the file takes the disk space of the
 * data only), and their list (`extents`) goes into the state file, so a restore reads exactly those chunks into
 * the new VM's RAM, which starts zeroed, in a few large reads.
 */

import { closeSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import type { GuestMemory } from "../../addrspace/guest-memory.ts";

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

function isZero(bytes: Uint8Array): boolean {
  // 4 bytes at a time: regions and chunks are page-aligned, so the view is aligned.
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

/** Write `memory`'s regions to `path` (created or truncated, mode 0600) and return the layout. */
export function writeMemoryFile(path: string, memory: GuestMemory): MemoryLayout {
  const regions: SavedRegion[] = [];
  const extents: Array<[number, number]> = [];
  let fileOffset = 0;
  const fd = openSync(path, "w", 0o600);
  try {
    for (const region of memory.regions) {
      const bytes = region.bytes;
      regions.push({ name: region.name, gpa: region.gpa, size: bytes.length, fileOffset });
      for (let offset = 0; offset < bytes.length; offset += MEMORY_CHUNK) {
        const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + MEMORY_CHUNK));
        if (isZero(chunk)) continue;
        const at = fileOffset + offset;
        const last = extents[extents.length - 1];
        if (last !== undefined && last[0] + last[1] === at) last[1] += chunk.length;
        else extents.push([at, chunk.length]);
      }
      for (const [at, length] of extents) {
        if (at < fileOffset || at >= fileOffset + bytes.length) continue;
        writeAll(fd, bytes.subarray(at - fileOffset, at - fileOffset + length), at);
      }
      fileOffset += bytes.length;
    }
    ftruncateSync(fd, fileOffset);
  } finally {
    closeSync(fd);
  }
  return { regions, extents, fileSize: fileOffset };
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/**
 * Read the extents of `layout` from `path` into `memory`, whose regions must be the saved ones (same addresses
 * and sizes); the rest of its RAM is zeroed: the `written` ranges (what the VM's boot wrote), or all of it when
 * they are unknown. Throws an Error naming the region or the short read.
 */
export function readMemoryFile(
  path: string,
  memory: GuestMemory,
  layout: MemoryLayout,
  written: ReadonlyArray<readonly [number, number]> | undefined,
): void {
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
  // The VM was built from its config: its RAM holds what the board loaded (`written`), where the snapshot may
  // have zeros; everything outside the extents is zero in the snapshot. Clearing just those ranges, not all of
  // RAM, leaves untouched pages untouched (a fill of 128 MiB faults in every page: about a second on a busy host).
  for (const [gpa, length] of written ?? regions.map((r) => [r.gpa, r.bytes.length] as const)) {
    memory.fill(gpa, length, 0);
  }
  const fd = openSync(path, "r");
  try {
    for (const [at, length] of layout.extents) {
      const saved = layout.regions.find((r) => at >= r.fileOffset && at + length <= r.fileOffset + r.size);
      if (saved === undefined) throw new Error(`extent [${at}, +${length}) lies outside every region`);
      const target = memory.getSlice(saved.gpa + (at - saved.fileOffset), length);
      if (target === undefined) throw new Error(`extent at file offset ${at} is not inside one RAM region`);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, target, done, length - done, at + done);
        if (n === 0)
          throw new Error(`the memory file ends at ${at + done}, the snapshot lists data up to ${at + length}`);
        done += n;
      }
      memory.notifyWritten(saved.gpa + (at - saved.fileOffset), length);
    }
  } finally {
    closeSync(fd);
  }
}
