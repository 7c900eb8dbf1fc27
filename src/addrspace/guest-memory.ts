/**
 * Bounds-checked access to guest memory (vm-memory's `GuestMemory`, consumer side).
 *
 * Devices, loaders and virtqueues reach guest RAM only through this class. Every access is checked against the
 * regions; an access may cross from one region into the next when they are contiguous; an access that runs into
 * a hole fails with a `GuestMemoryError` that carries the address and how many bytes were done before the hole
 * (writes up to the hole have happened, like vm-memory's partial writes; use `contains` first for all-or-nothing).
 * Writes tell the backend which bytes changed (`HostMemory.notifyWritten`), so the emulated hart drops decoded
 * code and cached translations for those pages. `writeFromFile` reads a file straight into guest RAM, so loaders
 * place a 30 MB kernel without first reading it into a fresh host buffer (a page fault per 4 KiB) and copying it.
 */

import { readSync } from "node:fs";
import { hex, hexRange } from "../common/format.ts";
import { rangeFits, rangesOverlap } from "../common/ranges.ts";
import type { GuestMemoryAccess, GuestPhysAddr, HostMemory } from "../hal/types.ts";

export interface GuestMemoryRegion {
  /** Name for messages ("ram", "ram-high", ...). */
  readonly name: string;
  readonly gpa: GuestPhysAddr;
  /** Backing bytes; `bytes.length` is the region size. */
  readonly bytes: Uint8Array;
  /** Where to report writes (absent for memory no backend caches, e.g. in unit tests). */
  readonly host?: HostMemory;
  /** Offset of `bytes` inside `host.bytes` (for `notifyWritten`). */
  readonly hostOffset?: number;
}

/** Largest single read(2) `writeFromFile` asks for (Linux moves at most 0x7ffff000 bytes per call anyway). */
const MAX_READ = 1 << 30;

export type GuestMemoryErrorKind = "invalid-regions" | "unmapped" | "invalid-argument";

export class GuestMemoryError extends Error {
  override readonly name = "GuestMemoryError";
  readonly kind: GuestMemoryErrorKind;
  readonly address: number;
  readonly length: number;
  /** Bytes transferred before the failure. */
  readonly done: number;
  constructor(kind: GuestMemoryErrorKind, message: string, address: number, length: number, done: number) {
    super(message);
    this.kind = kind;
    this.address = address;
    this.length = length;
    this.done = done;
  }
}

export class GuestMemory implements GuestMemoryAccess {
  readonly #regions: readonly GuestMemoryRegion[];
  readonly #starts: Float64Array;
  #lastHit = 0;
  #writeLog: Array<readonly [GuestPhysAddr, number]> | undefined;

  constructor(regions: readonly GuestMemoryRegion[]) {
    const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
    for (const [i, region] of sorted.entries()) {
      if (region.bytes.length === 0) {
        throw new GuestMemoryError(
          "invalid-regions",
          `Cannot create guest memory: region "${region.name}" at ${hex(region.gpa)} is empty`,
          region.gpa,
          0,
          0,
        );
      }
      if (!rangeFits(region.gpa, region.bytes.length)) {
        throw new GuestMemoryError(
          "invalid-regions",
          `Cannot create guest memory: region "${region.name}" at ${hex(region.gpa)} (size ${hex(region.bytes.length)}) overflows the address space`,
          region.gpa,
          region.bytes.length,
          0,
        );
      }
      const previous = sorted[i - 1];
      if (
        previous !== undefined &&
        rangesOverlap(previous.gpa, previous.bytes.length, region.gpa, region.bytes.length)
      ) {
        throw new GuestMemoryError(
          "invalid-regions",
          `Cannot create guest memory: region "${region.name}" (${hexRange(region.gpa, region.bytes.length)}) overlaps "${previous.name}" (${hexRange(previous.gpa, previous.bytes.length)})`,
          region.gpa,
          region.bytes.length,
          0,
        );
      }
    }
    this.#regions = sorted;
    this.#starts = Float64Array.from(sorted, (r) => r.gpa);
  }

  get regions(): readonly GuestMemoryRegion[] {
    return this.#regions;
  }

  /** Total bytes of guest memory. */
  get size(): number {
    let total = 0;
    for (const region of this.#regions) total += region.bytes.length;
    return total;
  }

  /** The region holding `gpa`, or undefined. */
  findRegion(gpa: GuestPhysAddr): GuestMemoryRegion | undefined {
    const index = this.#indexOf(gpa);
    return index < 0 ? undefined : this.#regions[index];
  }

  /** Whether every byte of [gpa, gpa + length) is guest memory. */
  contains(gpa: GuestPhysAddr, length: number): boolean {
    if (!rangeFits(gpa, length)) return false;
    let at = gpa;
    const end = gpa + length;
    while (at < end) {
      const index = this.#indexOf(at);
      const region = index < 0 ? undefined : this.#regions[index];
      if (region === undefined) return false;
      at = region.gpa + region.bytes.length;
    }
    return true;
  }

  /**
   * A view of [gpa, gpa + length) when it lies inside one region, for zero-copy device I/O. Whoever writes
   * through the view must call `notifyWritten(gpa, length)` afterwards.
   */
  getSlice(gpa: GuestPhysAddr, length: number): Uint8Array | undefined {
    const index = this.#indexOf(gpa);
    const region = index < 0 ? undefined : this.#regions[index];
    if (region === undefined || !rangeFits(gpa, length)) return undefined;
    const offset = gpa - region.gpa;
    if (offset + length > region.bytes.length) return undefined;
    return region.bytes.subarray(offset, offset + length);
  }

  /** Report a write made through a `getSlice` view. */
  notifyWritten(gpa: GuestPhysAddr, length: number): void {
    this.#forEachChunk(gpa, length, "notify", (region, offset, chunk) => this.#notify(region, offset, chunk));
  }

  /**
   * Ask the backends holding [gpa, gpa + length) to end a vCPU's run right after a guest store there, where they
   * can (`HostMemory.watchWrites`): for a mailbox the VMM polls between runs.
   */
  watchWrites(gpa: GuestPhysAddr, length: number): void {
    this.#forEachChunk(gpa, length, "watch", (region, offset, chunk) =>
      region.host?.watchWrites?.((region.hostOffset ?? 0) + offset, chunk),
    );
  }

  read(gpa: GuestPhysAddr, length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new GuestMemoryError(
        "invalid-argument",
        `Cannot read ${length} bytes at ${hex(gpa)}: bad length`,
        gpa,
        length,
        0,
      );
    }
    const out = new Uint8Array(length);
    this.readInto(gpa, out);
    return out;
  }

  readInto(gpa: GuestPhysAddr, target: Uint8Array): void {
    let done = 0;
    this.#forEachChunk(gpa, target.length, "read", (region, offset, chunk) => {
      target.set(region.bytes.subarray(offset, offset + chunk), done);
      done += chunk;
    });
  }

  write(gpa: GuestPhysAddr, data: Uint8Array): void {
    let done = 0;
    this.#forEachChunk(gpa, data.length, "write", (region, offset, chunk) => {
      region.bytes.set(data.subarray(done, done + chunk), offset);
      this.#notify(region, offset, chunk);
      done += chunk;
    });
  }

  /**
   * Read `length` bytes of the open file `fd`, from `fileOffset` on, straight into [gpa, gpa + length): checked,
   * split at regions and reported (`notifyWritten`, the write log) as `write` is, with no host buffer between.
   * Returns the bytes read, fewer than `length` only when the file ends first; the bytes past the end are left as
   * they were. An error from the file (EIO, ...) is thrown as it comes, after the bytes read before it are reported.
   */
  writeFromFile(gpa: GuestPhysAddr, fd: number, fileOffset: number, length: number): number {
    if (!rangeFits(fileOffset, Number.isSafeInteger(length) && length > 0 ? length : 0)) {
      throw new GuestMemoryError(
        "invalid-argument",
        `Cannot write ${length} bytes at ${hex(gpa)} from a file: bad file offset ${fileOffset}`,
        gpa,
        length,
        0,
      );
    }
    let done = 0;
    let ended = false;
    this.#forEachChunk(gpa, length, "write", (region, offset, chunk) => {
      if (ended) return;
      let got = 0;
      try {
        while (got < chunk) {
          const want = Math.min(chunk - got, MAX_READ);
          const n = readSync(fd, region.bytes, offset + got, want, fileOffset + done + got);
          if (n === 0) {
            ended = true;
            break;
          }
          got += n;
        }
      } finally {
        if (got > 0) this.#notify(region, offset, got);
        done += got;
      }
    });
    return done;
  }

  /** Fill [gpa, gpa + length) with `value`. */
  fill(gpa: GuestPhysAddr, length: number, value = 0): void {
    this.#forEachChunk(gpa, length, "write", (region, offset, chunk) => {
      region.bytes.fill(value, offset, offset + chunk);
      this.#notify(region, offset, chunk);
    });
  }

  readU8(gpa: GuestPhysAddr): number {
    return this.#readSmall(gpa, 1);
  }
  readU16(gpa: GuestPhysAddr): number {
    return this.#readSmall(gpa, 2);
  }
  readU32(gpa: GuestPhysAddr): number {
    return this.#readSmall(gpa, 4);
  }
  readU64(gpa: GuestPhysAddr): bigint {
    const bytes = this.read(gpa, 8);
    return new DataView(bytes.buffer).getBigUint64(0, true);
  }

  writeU8(gpa: GuestPhysAddr, value: number): void {
    this.#writeSmall(gpa, 1, value);
  }
  writeU16(gpa: GuestPhysAddr, value: number): void {
    this.#writeSmall(gpa, 2, value);
  }
  writeU32(gpa: GuestPhysAddr, value: number): void {
    this.#writeSmall(gpa, 4, value);
  }
  writeU64(gpa: GuestPhysAddr, value: bigint): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(gpa, bytes);
  }

  #readSmall(gpa: GuestPhysAddr, width: 1 | 2 | 4): number {
    const slice = this.getSlice(gpa, width);
    const bytes = slice ?? this.read(gpa, width);
    let value = 0;
    for (let i = width - 1; i >= 0; i--) value = value * 256 + (bytes[i] ?? 0);
    return value;
  }

  #writeSmall(gpa: GuestPhysAddr, width: 1 | 2 | 4, value: number): void {
    if (!Number.isInteger(value)) {
      throw new GuestMemoryError(
        "invalid-argument",
        `Cannot write ${width} bytes at ${hex(gpa)}: value ${value} is not an integer`,
        gpa,
        width,
        0,
      );
    }
    const bytes = new Uint8Array(width);
    let rest = value >>> 0;
    for (let i = 0; i < width; i++) {
      bytes[i] = rest & 0xff;
      rest >>>= 8;
    }
    this.write(gpa, bytes);
  }

  /**
   * Record the ranges written through this object from now on (every write path ends in `#notify`), until
   * `stopRecordingWrites`, which returns them as [gpa, length] pairs. The builder records what a boot writes,
   * so a snapshot restore knows which bytes of a freshly built VM are not zero without reading all of RAM.
   */
  startRecordingWrites(): void {
    this.#writeLog = [];
  }

  stopRecordingWrites(): ReadonlyArray<readonly [GuestPhysAddr, number]> {
    const log = this.#writeLog ?? [];
    this.#writeLog = undefined;
    return log;
  }

  #notify(region: GuestMemoryRegion, offset: number, length: number): void {
    this.#writeLog?.push([region.gpa + offset, length]);
    region.host?.notifyWritten((region.hostOffset ?? 0) + offset, length);
  }

  /** Visit the region pieces of [gpa, gpa + length), failing at the first hole. */
  #forEachChunk(
    gpa: GuestPhysAddr,
    length: number,
    action: "read" | "write" | "notify" | "watch",
    visit: (region: GuestMemoryRegion, offset: number, chunk: number) => void,
  ): void {
    if (!Number.isSafeInteger(length) || length < 0 || !rangeFits(gpa, length)) {
      throw new GuestMemoryError(
        "invalid-argument",
        `Cannot ${action} ${length} bytes at ${hex(gpa)}: bad address or length`,
        gpa,
        length,
        0,
      );
    }
    let at = gpa;
    const end = gpa + length;
    while (at < end) {
      const index = this.#indexOf(at);
      const region = index < 0 ? undefined : this.#regions[index];
      if (region === undefined) {
        throw new GuestMemoryError(
          "unmapped",
          `Cannot ${action} ${length} bytes at ${hex(gpa)}: ${hex(at)} is not guest memory (${at - gpa} bytes done)`,
          gpa,
          length,
          at - gpa,
        );
      }
      const offset = at - region.gpa;
      const chunk = Math.min(end - at, region.bytes.length - offset);
      visit(region, offset, chunk);
      at += chunk;
    }
  }

  /** Index of the region containing `gpa`, or -1 (binary search with a last-hit cache). */
  #indexOf(gpa: number): number {
    const cached = this.#regions[this.#lastHit];
    if (cached !== undefined && gpa >= cached.gpa && gpa < cached.gpa + cached.bytes.length) return this.#lastHit;
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#starts[mid] ?? 0) <= gpa) lo = mid + 1;
      else hi = mid - 1;
    }
    const region = this.#regions[hi];
    if (region === undefined || gpa >= region.gpa + region.bytes.length) return -1;
    this.#lastHit = hi;
    return hi;
  }
}
