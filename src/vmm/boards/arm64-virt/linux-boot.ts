/**
 * The arm64 Linux boot protocol (Documentation/arch/arm64/booting.rst): the `Image` header and where the kernel,
 * the initrd and the device tree go.
 *
 * - The header (src/arch/aarch64/linux-image.ts) gives text_offset (the image's offset above a 2 MiB-aligned base),
 *   image_size (memory the kernel uses from its start, .bss included) and flags (endianness, page size, placement).
 *   A big-endian kernel, a header without the magic, or an image that does not fit in RAM is refused with a message
 *   saying which. An image_size of 0 is a kernel older than 3.17: text_offset is then 0x80000 and the file size is
 *   all we know (booting.rst says so).
 * - `kernel_load_addr` may be the 2 MiB-aligned base (the image then goes text_offset above it) or the image's own
 *   address (base + text_offset); anything else breaks the kernel's early page tables and is refused.
 * - The device tree goes at the top of the first RAM region (8-byte aligned, ≤ 2 MiB, away from the kernel), the
 *   initrd right after the kernel's image_size, 2 MiB aligned, unless the config says where.
 * - Entry: x0 = the device tree's address, x1..x3 = 0, pc = the image's first byte, EL1h with DAIF masked and the
 *   MMU off (the vCPU's reset state; the backend sets PSTATE).
 */
import {
  ARM64_DTB_ALIGN,
  ARM64_DTB_MAX_SIZE,
  ARM64_IMAGE_BASE_ALIGN,
  ARM64_IMAGE_FLAG_BE,
  ARM64_IMAGE_FLAGS_OFFSET,
  ARM64_IMAGE_HEADER_SIZE,
  ARM64_IMAGE_MAGIC,
  ARM64_IMAGE_MAGIC_OFFSET,
  ARM64_IMAGE_SIZE_OFFSET,
  ARM64_IMAGE_TEXT_OFFSET_OFFSET,
} from "../../../arch/aarch64/linux-image.ts";
import { AARCH64_REG_X0, AARCH64_REG_X1, AARCH64_REG_X2, AARCH64_REG_X3 } from "../../../arch/aarch64/registers.ts";
import { hex, hexRange } from "../../../common/format.ts";
import { alignDown, alignUp, rangesOverlap } from "../../../common/ranges.ts";

/** text_offset of kernels older than 3.17, whose header has image_size = 0. */
export const LEGACY_TEXT_OFFSET = 0x8_0000;

export type Arm64ImageErrorKind = "not-an-image" | "big-endian" | "bad-header" | "placement";

export class Arm64ImageError extends Error {
  override readonly name = "Arm64ImageError";
  readonly kind: Arm64ImageErrorKind;
  readonly path: string;
  constructor(kind: Arm64ImageErrorKind, path: string, message: string) {
    super(message);
    this.kind = kind;
    this.path = path;
  }
}

export interface Arm64ImageHeader {
  readonly textOffset: number;
  /** Bytes the kernel occupies from its first byte (at least the file size). */
  readonly imageSize: number;
  readonly flags: bigint;
  /** image_size was 0 (pre-3.17 kernel): text_offset and size are the documented assumptions. */
  readonly legacy: boolean;
}

/**
 * Read and check the 64-byte header of an arm64 `Image`. `bytes` start at the file's first byte: the whole file,
 * or its first bytes (at least the header, when the file has them) with `fileSize` the file's size.
 */
export function parseArm64Image(bytes: Uint8Array, path: string, fileSize = bytes.length): Arm64ImageHeader {
  if (fileSize < ARM64_IMAGE_HEADER_SIZE || bytes.length < ARM64_IMAGE_HEADER_SIZE) {
    throw new Arm64ImageError(
      "not-an-image",
      path,
      `Cannot boot ${path}: ${fileSize} bytes is shorter than the ${ARM64_IMAGE_HEADER_SIZE}-byte arm64 Image header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(ARM64_IMAGE_MAGIC_OFFSET, true);
  if (magic !== ARM64_IMAGE_MAGIC) {
    throw new Arm64ImageError(
      "not-an-image",
      path,
      `Cannot boot ${path}: no arm64 Image magic ("ARM\\x64" at offset ${ARM64_IMAGE_MAGIC_OFFSET}, found ${hex(magic)}); a compressed vmlinuz.gz or an EFI-only image needs unpacking first`,
    );
  }
  const flags = view.getBigUint64(ARM64_IMAGE_FLAGS_OFFSET, true);
  if ((flags & ARM64_IMAGE_FLAG_BE) !== 0n) {
    throw new Arm64ImageError(
      "big-endian",
      path,
      `Cannot boot ${path}: it is a big-endian kernel (Image flags bit 0), and this board runs little-endian guests`,
    );
  }
  const rawTextOffset = view.getBigUint64(ARM64_IMAGE_TEXT_OFFSET_OFFSET, true);
  const rawImageSize = view.getBigUint64(ARM64_IMAGE_SIZE_OFFSET, true);
  if (rawImageSize === 0n) {
    return { textOffset: LEGACY_TEXT_OFFSET, imageSize: fileSize, flags, legacy: true };
  }
  if (rawTextOffset >= BigInt(ARM64_IMAGE_BASE_ALIGN) || rawTextOffset % 4096n !== 0n) {
    throw new Arm64ImageError(
      "bad-header",
      path,
      `Cannot boot ${path}: text_offset ${hex(rawTextOffset)} must be a page multiple below the 2 MiB base alignment`,
    );
  }
  if (rawImageSize > 0x1_0000_0000n) {
    throw new Arm64ImageError("bad-header", path, `Cannot boot ${path}: image_size ${hex(rawImageSize)} is over 4 GiB`);
  }
  return {
    textOffset: Number(rawTextOffset),
    imageSize: Math.max(Number(rawImageSize), fileSize),
    flags,
    legacy: false,
  };
}

export interface Arm64BootLayout {
  /** The image's first byte: the entry point. */
  readonly kernelStart: number;
  /** kernelStart + image size. */
  readonly kernelEnd: number;
  readonly initrd: { readonly start: number; readonly end: number } | undefined;
  readonly dtb: number;
}

export interface Arm64BootInputs {
  readonly path: string;
  readonly header: Arm64ImageHeader;
  /** The config's kernel_load_addr. */
  readonly loadAddress: number;
  readonly ram: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  readonly initrdSize: number | undefined;
  /** The config's ramdisk_load_addr. */
  readonly initrdAddress: number | undefined;
  readonly dtbSize: number;
  /** The config's dtb_load_addr. */
  readonly dtbAddress: number | undefined;
}

/** Where the kernel, initrd and DTB go; throws Arm64ImageError ("placement") naming what does not fit. */
export function planArm64Boot(inputs: Arm64BootInputs): Arm64BootLayout {
  const { path, header, loadAddress, ram } = inputs;
  const fail = (message: string): never => {
    throw new Arm64ImageError("placement", path, `Cannot boot ${path}: ${message}`);
  };
  let kernelStart: number;
  if (loadAddress % ARM64_IMAGE_BASE_ALIGN === 0) kernelStart = loadAddress + header.textOffset;
  else if ((loadAddress - header.textOffset) % ARM64_IMAGE_BASE_ALIGN === 0) kernelStart = loadAddress;
  else {
    return fail(
      `kernel_load_addr ${hex(loadAddress)} is neither a 2 MiB-aligned base nor such a base + text_offset ${hex(header.textOffset)}`,
    );
  }
  const kernelEnd = kernelStart + header.imageSize;
  const region = ram.find((r) => kernelStart >= r.base && kernelEnd <= r.base + r.size);
  if (region === undefined) {
    return fail(
      `the kernel needs ${hexRange(kernelStart, header.imageSize)} (image_size), which is not inside one RAM region (${ram.map((r) => hexRange(r.base, r.size)).join(", ")})`,
    );
  }
  const inRam = (start: number, size: number): boolean =>
    ram.some((r) => start >= r.base && start + size <= r.base + r.size);

  if (inputs.dtbSize > ARM64_DTB_MAX_SIZE)
    fail(`the device tree is ${inputs.dtbSize} bytes; arm64 Linux takes ≤ 2 MiB`);
  const first = ram[0] ?? region;
  const dtb = inputs.dtbAddress ?? alignDown(first.base + first.size - inputs.dtbSize, ARM64_IMAGE_BASE_ALIGN);
  if (dtb % ARM64_DTB_ALIGN !== 0) fail(`the device tree address ${hex(dtb)} is not 8-byte aligned`);
  if (!inRam(dtb, inputs.dtbSize)) fail(`the device tree at ${hexRange(dtb, inputs.dtbSize)} is outside RAM`);
  if (rangesOverlap(dtb, inputs.dtbSize, kernelStart, header.imageSize)) {
    fail(
      `the device tree at ${hexRange(dtb, inputs.dtbSize)} overlaps the kernel at ${hexRange(kernelStart, header.imageSize)}`,
    );
  }

  let initrd: Arm64BootLayout["initrd"];
  if (inputs.initrdSize !== undefined) {
    const start = inputs.initrdAddress ?? alignUp(kernelEnd, ARM64_IMAGE_BASE_ALIGN);
    const end = start + inputs.initrdSize;
    if (!inRam(start, inputs.initrdSize))
      fail(`the initrd at ${hexRange(start, inputs.initrdSize)} does not fit in RAM`);
    if (rangesOverlap(start, inputs.initrdSize, kernelStart, header.imageSize))
      fail(`the initrd at ${hexRange(start, inputs.initrdSize)} overlaps the kernel`);
    if (rangesOverlap(start, inputs.initrdSize, dtb, inputs.dtbSize))
      fail(`the initrd at ${hexRange(start, inputs.initrdSize)} overlaps the device tree at ${hex(dtb)}`);
    initrd = { start, end };
  }
  return { kernelStart, kernelEnd, initrd, dtb };
}

/** The boot registers: x0 = DTB, x1..x3 = 0 (reserved for future use, must be zero). */
export function arm64BootGprs(dtb: number): Array<readonly [number, bigint]> {
  return [
    [AARCH64_REG_X0, BigInt(dtb)],
    [AARCH64_REG_X1, 0n],
    [AARCH64_REG_X2, 0n],
    [AARCH64_REG_X3, 0n],
  ];
}
