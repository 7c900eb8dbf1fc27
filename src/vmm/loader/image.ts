/**
 * Put boot images into guest memory. Every placement is checked against guest RAM before a byte is written, so
 * an image that does not fit is an error naming the file and the addresses, never a partial load.
 *
 * Images are read from their file straight into guest RAM (`GuestMemory.writeFromFile`); only headers are read
 * into host buffers. Reading a 31 MB kernel whole into a fresh buffer first cost a page fault per 4 KiB of it
 * (~7,600 faults, ~100 ms with the copy on these hosts) before a byte reached the guest.
 */

import { closeSync, fstatSync } from "node:fs";
import type { GuestMemory } from "../../addrspace/guest-memory.ts";
import { hexRange } from "../../common/format.ts";
import type { KernelImage } from "../config/types.ts";
import { errorMessage } from "../errors.ts";
import { errnoCode, HostFileError, openRegularFile, readAt, readRegularFile } from "../host-file.ts";
import { type ElfByteSource, type ElfLayout, parseElfLayout } from "./elf.ts";

export type ImageErrorKind = "unreadable" | "does-not-fit" | "malformed";

export class ImageError extends Error {
  override readonly name = "ImageError";
  readonly kind: ImageErrorKind;
  readonly path: string;
  constructor(kind: ImageErrorKind, path: string, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.kind = kind;
    this.path = path;
  }
}

/** Read a boot image whole (small files: a DTB). A FIFO or a device is refused before it is opened. */
export function readImageFile(path: string, what: string): Uint8Array {
  try {
    return readRegularFile(path, what);
  } catch (error) {
    throw new ImageError("unreadable", path, errorMessage(error), { cause: error });
  }
}

/**
 * An open boot image: its size, reads of its headers, and copies of its bytes straight into guest memory. Opened
 * as `readRegularFile` opens (a FIFO or a device is refused, never blocks); every failure is an `ImageError`
 * "unreadable" whose message is "Cannot read <what> <path>: <reason>". Close it (`withImageFile` does).
 */
export class ImageFile implements ElfByteSource {
  readonly path: string;
  readonly what: string;
  /** File size in bytes when opened. */
  readonly length: number;
  readonly #fd: number;

  private constructor(path: string, what: string, fd: number, length: number) {
    this.path = path;
    this.what = what;
    this.#fd = fd;
    this.length = length;
  }

  static open(path: string, what: string): ImageFile {
    let fd: number;
    try {
      fd = openRegularFile(path, what);
    } catch (error) {
      throw new ImageError("unreadable", path, errorMessage(error), { cause: error });
    }
    try {
      return new ImageFile(path, what, fd, fstatSync(fd).size);
    } catch (error) {
      closeSync(fd);
      throw ImageFile.#ioError(path, what, error);
    }
  }

  /** Up to `length` bytes at `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Uint8Array {
    try {
      return readAt(this.#fd, offset, length);
    } catch (error) {
      throw ImageFile.#ioError(this.path, this.what, error);
    }
  }

  /**
   * Copy `length` bytes from `fileOffset` to [gpa, gpa + length) of guest memory (whose caller checked that the
   * range is guest RAM). A file that no longer holds them (it shrank after it was opened) is "unreadable".
   */
  copyTo(memory: GuestMemory, gpa: number, fileOffset: number, length: number): void {
    let copied: number;
    try {
      copied = memory.writeFromFile(gpa, this.#fd, fileOffset, length);
    } catch (error) {
      if (errnoCode(error) === undefined) throw error;
      throw ImageFile.#ioError(this.path, this.what, error);
    }
    if (copied < length) {
      throw new ImageError(
        "unreadable",
        this.path,
        `Cannot read ${this.what} ${this.path}: it ends after ${fileOffset + copied} bytes, not the ${fileOffset + length} it had (the file changed while being loaded)`,
      );
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  static #ioError(path: string, what: string, error: unknown): ImageError {
    const code = errnoCode(error);
    const hostError = new HostFileError("io", path, what, `cannot read (${code ?? String(error)})`, {
      code,
      cause: error,
    });
    return new ImageError("unreadable", path, hostError.message, { cause: hostError });
  }
}

/** Open `path` as an image, run `use` on it, and close it. */
export function withImageFile<T>(path: string, what: string, use: (file: ImageFile) => T): T {
  const file = ImageFile.open(path, what);
  try {
    return use(file);
  } finally {
    file.close();
  }
}

/** Where a loaded image landed. */
export interface LoadedImage {
  readonly start: number;
  readonly end: number;
  /** Entry point from the image itself (ELF `e_entry`), when it has one. */
  readonly entry: number | undefined;
  /** The ELF's segments and symbols, for symbol look-ups (HTIF `tohost`). */
  readonly elf: ElfLayout | undefined;
}

/**
 * Copy `length` bytes of `file` from `fileOffset` to `gpa`, zero-filling up to `reserve` bytes (an image's .bss).
 * The whole span is checked against guest RAM before a byte is written.
 */
function placeFileBytes(
  memory: GuestMemory,
  gpa: number,
  file: ImageFile,
  fileOffset: number,
  length: number,
  what: string,
  reserve = length,
): void {
  const span = Math.max(reserve, length);
  if (!memory.contains(gpa, span)) {
    throw new ImageError(
      "does-not-fit",
      file.path,
      `Cannot load ${what} ${file.path} at ${hexRange(gpa, span)}: not inside guest RAM`,
    );
  }
  file.copyTo(memory, gpa, fileOffset, length);
  if (span > length) memory.fill(gpa + length, span - length, 0);
}

/**
 * Load a kernel image as its format says: raw and Linux `Image` files at `loadAddr`, ELF by its segments. Pass
 * `file` when the caller already opened the image (to read its header); otherwise it is opened here.
 */
export function loadKernel(memory: GuestMemory, kernel: KernelImage, file?: ImageFile): LoadedImage {
  if (file === undefined) return withImageFile(kernel.path, "kernel", (opened) => loadKernel(memory, kernel, opened));
  if (kernel.format === "elf") return loadElf(memory, file);
  const reserve = kernel.size ?? file.length;
  placeFileBytes(memory, kernel.loadAddr, file, 0, file.length, "kernel", reserve);
  return {
    start: kernel.loadAddr,
    end: kernel.loadAddr + Math.max(reserve, file.length),
    entry: undefined,
    elf: undefined,
  };
}

/** Load an ELF file by its PT_LOAD segments (read from their file offsets straight into place). */
export function loadElf(memory: GuestMemory, file: ImageFile): LoadedImage {
  const { path } = file;
  let elf: ElfLayout;
  try {
    elf = parseElfLayout(file, path);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError("malformed", path, errorMessage(error), { cause: error });
  }
  let start = Number.MAX_SAFE_INTEGER;
  let end = 0;
  for (const segment of elf.segments) {
    if (!memory.contains(segment.paddr, segment.memSize)) {
      throw new ImageError(
        "does-not-fit",
        path,
        `Cannot load ${path}: segment at ${hexRange(segment.paddr, segment.memSize)} is not inside guest RAM`,
      );
    }
    start = Math.min(start, segment.paddr);
    end = Math.max(end, segment.paddr + segment.memSize);
  }
  for (const segment of elf.segments) {
    placeFileBytes(memory, segment.paddr, file, segment.fileOffset, segment.fileSize, "segment", segment.memSize);
  }
  return { start, end, entry: elf.entry, elf };
}

/** Load an auxiliary file (ramdisk, DTB, BIOS) at `gpa`. */
export function loadFileAt(memory: GuestMemory, path: string, gpa: number, what: string): LoadedImage {
  return withImageFile(path, what, (file) => {
    placeFileBytes(memory, gpa, file, 0, file.length, what);
    return { start: gpa, end: gpa + file.length, entry: undefined, elf: undefined };
  });
}
