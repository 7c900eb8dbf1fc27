/**
 * Backing stores for virtio-blk: a byte-addressed disk with synchronous I/O (the device runs inside the MMIO
 * exit, so the guest waits for the disk as it would on real hardware with a synchronous controller).
 *
 * - `MemoryBlockBackend`: a Uint8Array (tests, scratch disks, images built in memory).
 * - `FileBlockBackend`: a raw image file through node:fs (pread/pwrite/fsync); discarded ranges become holes when
 *   the image file it was handed can punch them (src/hal/host/disk-image.ts: fallocate on Linux).
 *
 * Backends throw `BlockBackendError` on a bad range (a bug in the caller: the device checks ranges first) and on
 * I/O failure; the device turns the latter into VIRTIO_BLK_S_IOERR.
 */

import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { hex } from "../../common/format.ts";

export interface BlockBackend {
  /** Bytes of storage. */
  readonly size: number;
  /** Fill `dest` from byte `offset`. */
  read(offset: number, dest: Uint8Array): void;
  /** Store `src` at byte `offset`. */
  write(offset: number, src: Uint8Array): void;
  /** Make completed writes durable. */
  flush(): void;
  /**
   * Deallocate `length` bytes at `offset` (virtio-blk discard, write-zeroes with unmap): afterwards they read as
   * zeros and a sparse image has given their space back to the host. Returns false when this store cannot (the
   * device then writes zeros); throws `BlockBackendError` when it tried and failed. Absent: never can.
   */
  deallocate?(offset: number, length: number): boolean;
}

export type BlockBackendErrorKind =
  /** The range is outside the store. */
  | "out-of-range"
  /** The store is read-only. */
  | "read-only"
  /** The image could not be opened. */
  | "open"
  /** The operating system reported an error. */
  | "io";

export class BlockBackendError extends Error {
  override readonly name = "BlockBackendError";
  readonly kind: BlockBackendErrorKind;
  readonly offset: number;
  readonly length: number;
  constructor(
    kind: BlockBackendErrorKind,
    message: string,
    offset: number,
    length: number,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.offset = offset;
    this.length = length;
  }
}

function checkRange(action: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || length > size - offset) {
    throw new BlockBackendError(
      "out-of-range",
      `Cannot ${action} ${String(length)} bytes at ${hex(offset)}: the store holds ${hex(size)} bytes`,
      offset,
      length,
    );
  }
}

/** A disk held in memory. */
export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  flushes = 0;

  /** A zeroed disk of `size` bytes, or a disk over `bytes` (not copied). */
  constructor(sizeOrBytes: number | Uint8Array, options: { readOnly?: boolean } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.readOnly = options.readOnly ?? false;
  }

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, dest: Uint8Array): void {
    checkRange("read", this.size, offset, dest.length);
    dest.set(this.bytes.subarray(offset, offset + dest.length));
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly)
      throw new BlockBackendError(
        "read-only",
        `Cannot write ${String(src.length)} bytes at ${hex(offset)}: the store is read-only`,
        offset,
        src.length,
      );
    checkRange("write", this.size, offset, src.length);
    this.bytes.set(src, offset);
  }

  flush(): void {
    this.flushes++;
  }

  /** Memory has nothing to give back: the bytes are zeroed, which is what a read after a deallocation sees. */
  deallocate(offset: number, length: number): boolean {
    if (this.readOnly)
      throw new BlockBackendError(
        "read-only",
        `Cannot deallocate ${String(length)} bytes at ${hex(offset)}: the store is read-only`,
        offset,
        length,
      );
    checkRange("deallocate", this.size, offset, length);
    this.bytes.fill(0, offset, offset + length);
    return true;
  }
}

/**
 * An image file the VMM opened (and locked) for a disk: the device serves it and closes it through `close`, which
 * releases the lock with the descriptor. Devices never open or lock images themselves.
 */
export interface OpenImageFile {
  readonly path: string;
  readonly fd: number;
  readonly size: number;
  readonly readOnly: boolean;
  /**
   * Deallocate a byte range (punch a hole, keeping the size). Returns false when the host or its file system
   * cannot; throws on an I/O failure. Absent: the file cannot.
   */
  punchHole?(offset: number, length: number): boolean;
  close(): void;
}

/** A raw disk image file. Close it (or `using` it) when the VM is done. */
export class FileBlockBackend implements BlockBackend, Disposable {
  readonly path: string;
  readonly readOnly: boolean;
  readonly size: number;
  #fd: number | undefined;
  readonly #close: (fd: number) => void;
  readonly #punchHole: ((offset: number, length: number) => boolean) | undefined;

  private constructor(
    path: string,
    fd: number,
    size: number,
    readOnly: boolean,
    close: (fd: number) => void,
    punchHole?: (offset: number, length: number) => boolean,
  ) {
    this.path = path;
    this.#fd = fd;
    this.size = size;
    this.readOnly = readOnly;
    this.#close = close;
    this.#punchHole = punchHole;
  }

  /**
   * Serve an image the VMM opened and locked (src/hal/host/disk-image.ts); `close` hands it back, and its
   * `punchHole` (when it has one) serves deallocations.
   */
  static fromOpenFile(file: OpenImageFile): FileBlockBackend {
    const punch = file.punchHole === undefined ? undefined : file.punchHole.bind(file);
    return new FileBlockBackend(file.path, file.fd, file.size, file.readOnly, () => file.close(), punch);
  }

  /**
   * Open `path` (read-write unless `readOnly`); the disk is the file's current size. Unlocked: for tests and tools.
   * The VMM opens images through src/hal/host/disk-image.ts (locked, mode checked) and `fromOpenFile`.
   */
  static open(path: string, options: { readOnly?: boolean } = {}): FileBlockBackend {
    const readOnly = options.readOnly ?? false;
    let fd: number;
    try {
      fd = openSync(path, readOnly ? "r" : "r+");
    } catch (cause) {
      throw new BlockBackendError(
        "open",
        `Cannot open disk image "${path}" ${readOnly ? "read-only" : "read-write"}: ${errorText(cause)}`,
        0,
        0,
        { cause },
      );
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() && !stat.isBlockDevice()) {
        throw new BlockBackendError(
          "open",
          `Cannot open disk image "${path}": it is not a regular file or block device`,
          0,
          0,
        );
      }
      return new FileBlockBackend(path, fd, stat.size, readOnly, closeSync);
    } catch (cause) {
      closeSync(fd);
      if (cause instanceof BlockBackendError) throw cause;
      throw new BlockBackendError("open", `Cannot open disk image "${path}": ${errorText(cause)}`, 0, 0, { cause });
    }
  }

  read(offset: number, dest: Uint8Array): void {
    checkRange("read", this.size, offset, dest.length);
    const fd = this.#open("read", offset, dest.length);
    let done = 0;
    try {
      while (done < dest.length) {
        const n = readSync(fd, dest, done, dest.length - done, offset + done);
        if (n === 0) {
          // The file shrank under us: what is no longer there reads as zeros rather than stale bytes.
          dest.fill(0, done);
          return;
        }
        done += n;
      }
    } catch (cause) {
      throw new BlockBackendError(
        "io",
        `Cannot read ${String(dest.length)} bytes at ${hex(offset)} from "${this.path}": ${errorText(cause)}`,
        offset,
        dest.length,
        { cause },
      );
    }
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly)
      throw new BlockBackendError(
        "read-only",
        `Cannot write ${String(src.length)} bytes at ${hex(offset)} to "${this.path}": opened read-only`,
        offset,
        src.length,
      );
    checkRange("write", this.size, offset, src.length);
    const fd = this.#open("write", offset, src.length);
    let done = 0;
    try {
      while (done < src.length) done += writeSync(fd, src, done, src.length - done, offset + done);
    } catch (cause) {
      throw new BlockBackendError(
        "io",
        `Cannot write ${String(src.length)} bytes at ${hex(offset)} to "${this.path}": ${errorText(cause)}`,
        offset,
        src.length,
        { cause },
      );
    }
  }

  flush(): void {
    if (this.readOnly) return;
    const fd = this.#open("flush", 0, 0);
    try {
      fsyncSync(fd);
    } catch (cause) {
      throw new BlockBackendError("io", `Cannot flush "${this.path}": ${errorText(cause)}`, 0, 0, { cause });
    }
  }

  /** A hole through the image file's `punchHole`; false when it has none or its host cannot punch. */
  deallocate(offset: number, length: number): boolean {
    if (this.readOnly)
      throw new BlockBackendError(
        "read-only",
        `Cannot deallocate ${String(length)} bytes at ${hex(offset)} of "${this.path}": opened read-only`,
        offset,
        length,
      );
    checkRange("deallocate", this.size, offset, length);
    this.#open("deallocate", offset, length);
    if (length === 0) return true;
    if (this.#punchHole === undefined) return false;
    try {
      return this.#punchHole(offset, length);
    } catch (cause) {
      throw new BlockBackendError(
        "io",
        `Cannot deallocate ${String(length)} bytes at ${hex(offset)} of "${this.path}": ${errorText(cause)}`,
        offset,
        length,
        { cause },
      );
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    this.#close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(action: string, offset: number, length: number): number {
    if (this.#fd === undefined)
      throw new BlockBackendError("io", `Cannot ${action} "${this.path}": the image is closed`, offset, length);
    return this.#fd;
  }
}

function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
