import { hex } from "../../common/format.ts";
import { alignUp } from "../../common/ranges.ts";
/**
 * The RISC-V Linux `Image` format: a flat kernel binary whose first 64 bytes are a header
 * (Linux Documentation/riscv/boot-image-header.rst, header version 0.2):
 *
 *   off  size  field
 *   0    4     code0        executable code (jumps over the header)
 *   4    4     code1
 *   8    8     text_offset  image load offset, little-endian (0x20_0000 on RV64)
 *   16   8     image_size   effective image size in memory, including .bss (0 in very old kernels)
 *   24   8     flags        bit 0: endianness (0 = little)
 *   32   4     version      major << 16 | minor
 *   36   4     res1
 *   40   8     res2
 *   48   8     magic        "RISCV\0\0\0" (deprecated since 0.2, still written)
 *   56   4     magic2       "RSC\x05"
 *   60   4     res3         offset of the PE/COFF header when the EFI stub is built in
 *
 * `parseRiscvImage` checks the header; `planRiscvImageLoad` decides where the kernel goes: a PMD-aligned address
 * (2 MiB on RV64) inside one RAM region with room for `image_size` bytes, which is what the kernel assumes it owns
 * from its load address (its .bss lies past the file's end). The entry point is the load address; the boot hart
 * enters with a0 = hart id, a1 = DTB address, vsatp = 0.
 */

export const RISCV_IMAGE_HEADER_SIZE = 64;
/** "RISCV\0\0\0" read as a little-endian u64. */
export const RISCV_IMAGE_MAGIC = 0x5643534952n;
/** "RSC\x05" read as a little-endian u32. */
export const RISCV_IMAGE_MAGIC2 = 0x05435352;
/** flags bit 0: the kernel's endianness (set = big-endian). */
export const RISCV_IMAGE_FLAG_BE = 1n;
/** Required load alignment on RV64: one PMD (level-1 page) = 2 MiB (RV32, which we do not run, needs 4 MiB). */
export const RISCV_IMAGE_ALIGN_RV64 = 0x20_0000;

export interface RiscvImageHeader {
  readonly code0: number;
  readonly code1: number;
  readonly textOffset: number;
  /** Bytes the kernel occupies in memory from its load address (0 when the header does not say). */
  readonly imageSize: number;
  readonly flags: bigint;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Which magic values matched (a 0.1 header has only `magic`). */
  readonly hasMagic: boolean;
  readonly hasMagic2: boolean;
  /** Offset of the PE/COFF header (EFI stub), or 0. */
  readonly peHeaderOffset: number;
}

export type RiscvImageErrorKind = "too-small" | "bad-magic" | "unsupported" | "invalid" | "placement";

export class RiscvImageError extends Error {
  override readonly name = "RiscvImageError";
  readonly kind: RiscvImageErrorKind;
  constructor(kind: RiscvImageErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** Whether `bytes` start with a RISC-V Image header (either magic). Never throws. */
export function isRiscvImage(bytes: Uint8Array): boolean {
  if (bytes.length < RISCV_IMAGE_HEADER_SIZE) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, RISCV_IMAGE_HEADER_SIZE);
  return view.getUint32(56, true) === RISCV_IMAGE_MAGIC2 || view.getBigUint64(48, true) === RISCV_IMAGE_MAGIC;
}

/**
 * Parse and check the header of a RISC-V Linux Image. `bytes` start at the file's first byte: the whole file, or
 * its first bytes (at least the header, when the file has them) with `fileSize` the file's size.
 */
export function parseRiscvImage(bytes: Uint8Array, what = "kernel Image", fileSize = bytes.length): RiscvImageHeader {
  if (fileSize < RISCV_IMAGE_HEADER_SIZE || bytes.length < RISCV_IMAGE_HEADER_SIZE) {
    throw new RiscvImageError(
      "too-small",
      `Cannot load ${what}: ${fileSize} bytes is shorter than the ${RISCV_IMAGE_HEADER_SIZE}-byte RISC-V Image header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, RISCV_IMAGE_HEADER_SIZE);
  const magic = view.getBigUint64(48, true);
  const magic2 = view.getUint32(56, true);
  const hasMagic = magic === RISCV_IMAGE_MAGIC;
  const hasMagic2 = magic2 === RISCV_IMAGE_MAGIC2;
  if (!hasMagic && !hasMagic2) {
    throw new RiscvImageError(
      "bad-magic",
      `Cannot load ${what}: not a RISC-V Image (magic at 48 is 0x${magic.toString(16)}, expected "RISCV"; magic2 at 56 is 0x${magic2.toString(16)}, expected "RSC\\x05")`,
    );
  }
  const textOffset = view.getBigUint64(8, true);
  const imageSize = view.getBigUint64(16, true);
  const flags = view.getBigUint64(24, true);
  const version = view.getUint32(32, true);
  if ((flags & RISCV_IMAGE_FLAG_BE) !== 0n) {
    throw new RiscvImageError(
      "unsupported",
      `Cannot load ${what}: the header says the kernel is big-endian (flags 0x${flags.toString(16)})`,
    );
  }
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  if (textOffset > limit || imageSize > limit) {
    throw new RiscvImageError(
      "invalid",
      `Cannot load ${what}: text_offset 0x${textOffset.toString(16)} or image_size 0x${imageSize.toString(16)} is beyond any guest address`,
    );
  }
  if (imageSize !== 0n && imageSize < BigInt(fileSize)) {
    throw new RiscvImageError(
      "invalid",
      `Cannot load ${what}: image_size ${imageSize} is smaller than the ${fileSize}-byte file (a truncated or foreign header)`,
    );
  }
  return {
    code0: view.getUint32(0, true),
    code1: view.getUint32(4, true),
    textOffset: Number(textOffset),
    imageSize: Number(imageSize),
    flags,
    versionMajor: version >>> 16,
    versionMinor: version & 0xffff,
    hasMagic,
    hasMagic2,
    peHeaderOffset: view.getUint32(60, true),
  };
}

export interface RiscvImageLoadPlan {
  /** Guest-physical address the file's first byte goes to; also the entry point. */
  readonly loadAddress: number;
  readonly entry: number;
  /** Bytes copied from the file. */
  readonly fileSize: number;
  /** Bytes the kernel owns from `loadAddress` (image_size, or the file size when the header gives none). */
  readonly span: number;
  /** `loadAddress + span`: the first byte after the kernel; the DTB and initrd must not start below this. */
  readonly end: number;
}

export interface RiscvImagePlacement {
  /** Guest RAM regions. */
  readonly ram: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  /** Where the config wants the kernel; default: first RAM region's base + text_offset (QEMU's 0x8020_0000). */
  readonly loadAddress?: number;
  /** PMD alignment; default 2 MiB (RV64). */
  readonly alignment?: number;
}

/** Decide where an Image goes and how much RAM it takes. Throws `RiscvImageError` "placement" when it cannot. */
export function planRiscvImageLoad(
  header: RiscvImageHeader,
  fileSize: number,
  placement: RiscvImagePlacement,
  what = "kernel Image",
): RiscvImageLoadPlan {
  const alignment = placement.alignment ?? RISCV_IMAGE_ALIGN_RV64;
  const first = placement.ram[0];
  if (first === undefined) throw new RiscvImageError("placement", `Cannot place ${what}: the VM has no RAM`);
  const loadAddress = placement.loadAddress ?? alignUp(first.base, alignment) + alignUp(header.textOffset, alignment);
  const span = Math.max(header.imageSize, fileSize);
  if (loadAddress % alignment !== 0) {
    throw new RiscvImageError(
      "placement",
      `Cannot place ${what} at ${hex(loadAddress)}: the address must be ${hex(alignment)}-aligned (one PMD)`,
    );
  }
  const region = placement.ram.find((r) => loadAddress >= r.base && loadAddress < r.base + r.size);
  if (region === undefined) {
    throw new RiscvImageError(
      "placement",
      `Cannot place ${what} at ${hex(loadAddress)}: the address is not in guest RAM`,
    );
  }
  if (loadAddress + span > region.base + region.size) {
    throw new RiscvImageError(
      "placement",
      `Cannot place ${what} at ${hex(loadAddress)}: it needs ${span} bytes (image_size) but the RAM region ${hex(region.base)}..${hex(region.base + region.size)} has ${region.base + region.size - loadAddress} left`,
    );
  }
  return { loadAddress, entry: loadAddress, fileSize, span, end: loadAddress + span };
}
