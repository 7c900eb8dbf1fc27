/**
 * Copy boot images into guest memory. Every placement is checked against guest RAM before a byte is written, so
 * an image that does not fit is an error naming the file and the addresses, never a partial load.
 */

import type { GuestMemory } from "../../addrspace/guest-memory.ts";
import { hexRange } from "../../common/format.ts";
import type { KernelImage } from "../config/types.ts";
import { errorMessage } from "../errors.ts";
import { readRegularFile } from "../host-file.ts";
import { type ElfImage, parseElf } from "./elf.ts";

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

/** Read a boot image whole. A FIFO or a device is refused before it is opened, so this never blocks. */
export function readImageFile(path: string, what: string): Uint8Array {
  try {
    return readRegularFile(path, what);
  } catch (error) {
    throw new ImageError("unreadable", path, errorMessage(error), { cause: error });
  }
}

/** Where a loaded image landed. */
export interface LoadedImage {
  readonly start: number;
  readonly end: number;
  /** Entry point from the image itself (ELF `e_entry`), when it has one. */
  readonly entry: number | undefined;
  /** The parsed ELF, for symbol look-ups (HTIF `tohost`). */
  readonly elf: ElfImage | undefined;
}

/** Copy `bytes` to `gpa`, zero-filling up to `reserve` bytes (an image's .bss). */
function placeBytes(
  memory: GuestMemory,
  gpa: number,
  bytes: Uint8Array,
  what: string,
  path: string,
  reserve = bytes.length,
): void {
  const span = Math.max(reserve, bytes.length);
  if (!memory.contains(gpa, span)) {
    throw new ImageError(
      "does-not-fit",
      path,
      `Cannot load ${what} ${path} at ${hexRange(gpa, span)}: not inside guest RAM`,
    );
  }
  memory.write(gpa, bytes);
  if (span > bytes.length) memory.fill(gpa + bytes.length, span - bytes.length, 0);
}

/** Load a kernel image as its format says: raw and Linux `Image` files at `loadAddr`, ELF by its segments. */
export function loadKernel(
  memory: GuestMemory,
  kernel: KernelImage,
  bytes: Uint8Array = readImageFile(kernel.path, "kernel"),
): LoadedImage {
  if (kernel.format === "elf") return loadElf(memory, bytes, kernel.path);
  const reserve = kernel.size ?? bytes.length;
  placeBytes(memory, kernel.loadAddr, bytes, "kernel", kernel.path, reserve);
  return {
    start: kernel.loadAddr,
    end: kernel.loadAddr + Math.max(reserve, bytes.length),
    entry: undefined,
    elf: undefined,
  };
}

export function loadElf(memory: GuestMemory, bytes: Uint8Array, path: string): LoadedImage {
  let elf: ElfImage;
  try {
    elf = parseElf(bytes, path);
  } catch (error) {
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
  for (const segment of elf.segments) placeBytes(memory, segment.paddr, segment.data, "segment", path, segment.memSize);
  return { start, end, entry: elf.entry, elf };
}

/** Load an auxiliary file (ramdisk, DTB, BIOS) at `gpa`. */
export function loadFileAt(memory: GuestMemory, path: string, gpa: number, what: string): LoadedImage {
  const bytes = readImageFile(path, what);
  placeBytes(memory, gpa, bytes, what, path);
  return { start: gpa, end: gpa + bytes.length, entry: undefined, elf: undefined };
}
