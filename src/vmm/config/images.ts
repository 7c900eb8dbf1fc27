/**
 * Looks at the first bytes of boot files so the config can be checked before anything is loaded: which format a
 * kernel image has (ELF, Linux `Image`, bzImage, raw), which architecture it is for, and how much guest memory
 * it occupies. Only headers are read; a multi-megabyte kernel is never read whole.
 *
 * References: ELF-64 Object File Format 1.5 (e_ident, e_machine, program headers); Linux
 * `Documentation/arch/riscv/boot-image-header.rst` and `Documentation/arch/arm64/booting.rst` (Image header);
 * `Documentation/arch/x86/boot.rst` (setup header "HdrS" at 0x202); Devicetree Specification 0.4 §5.2 (FDT
 * header magic).
 */

import { closeSync, fstatSync } from "node:fs";
import { EM_AARCH64 } from "../../arch/aarch64/elf.ts";
// Linux Image header: RISC-V's keeps arm64's layout, so arm64's offsets serve both.
import {
  ARM64_IMAGE_MAGIC,
  ARM64_IMAGE_HEADER_SIZE as IMAGE_HEADER_SIZE,
  ARM64_IMAGE_MAGIC_OFFSET as IMAGE_MAGIC2_OFFSET,
  ARM64_IMAGE_SIZE_OFFSET as IMAGE_SIZE_OFFSET,
} from "../../arch/aarch64/linux-image.ts";
import type { GuestArch } from "../../hal/types.ts";
import { HDR_HEADER, HDR_MAGIC } from "../boards/x86-pc/boot-params.ts";
import { FDT_MAGIC } from "../fdt/fdt.ts";
import { HostFileError, openRegularFile, readAt } from "../host-file.ts";
import { ElfError, EM_RISCV, EM_X86_64, isElf, parseElfHeaders } from "../loader/elf.ts";
import { RISCV_IMAGE_MAGIC2 } from "../loader/riscv-image.ts";

// x86 boot protocol setup header.

// Flattened device tree header.

/** How many leading bytes we read to recognise a file. */
const PROBE_BYTES = 4096;

export interface ElfLoadSegment {
  readonly paddr: number;
  readonly memsz: number;
  readonly filesz: number;
}

export type ImageProbe =
  | { readonly kind: "missing"; readonly reason: string }
  | { readonly kind: "raw"; readonly fileSize: number }
  | {
      readonly kind: "linux-image";
      readonly fileSize: number;
      readonly arch: "riscv64" | "aarch64";
      /** `image_size`: memory the kernel needs from its load address (0 in very old kernels). */
      readonly imageSize: number;
    }
  | { readonly kind: "bzimage"; readonly fileSize: number }
  | {
      readonly kind: "elf";
      readonly fileSize: number;
      /** `undefined` for machines we do not run. */
      readonly arch: GuestArch | undefined;
      readonly machine: number;
      readonly entry: number;
      readonly segments: readonly ElfLoadSegment[];
    }
  | { readonly kind: "bad-elf"; readonly fileSize: number; readonly reason: string }
  | { readonly kind: "dtb"; readonly fileSize: number };

/** u64 as a number, or undefined if it does not fit in 53 bits. */
function u64(view: DataView, offset: number): number | undefined {
  const value = view.getBigUint64(offset, true);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function elfArch(machine: number): GuestArch | undefined {
  if (machine === EM_RISCV) return "riscv64";
  if (machine === EM_X86_64) return "x86_64";
  if (machine === EM_AARCH64) return "aarch64";
  return undefined;
}

/** The ELF headers through the loader's own parser, reading only the header bytes from the file. */
function probeElf(fd: number, fileSize: number): ImageProbe {
  try {
    const headers = parseElfHeaders({ length: fileSize, read: (offset, length) => readAt(fd, offset, length) }, "ELF");
    const segments = headers.segments.map((h) => ({ paddr: h.paddr, memsz: h.memSize, filesz: h.fileSize }));
    return {
      kind: "elf",
      fileSize,
      arch: elfArch(headers.machine),
      machine: headers.machine,
      entry: headers.entry,
      segments,
    };
  } catch (error) {
    if (error instanceof ElfError) return { kind: "bad-elf", fileSize, reason: error.message.replace(/^ELF: /, "") };
    throw error;
  }
}

/**
 * Recognise a boot file. Never throws: an unreadable file is reported as "missing" with the reason. Never blocks:
 * a FIFO or a device is refused before it is opened (`openRegularFile`).
 */
export function probeImage(path: string): ImageProbe {
  let fd: number;
  try {
    fd = openRegularFile(path, "image");
  } catch (error) {
    if (!(error instanceof HostFileError)) throw error;
    return { kind: "missing", reason: error.reason };
  }
  try {
    const fileSize = fstatSync(fd).size;
    const head = readAt(fd, 0, Math.min(PROBE_BYTES, fileSize));
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (isElf(head)) return probeElf(fd, fileSize);
    if (head.length >= 4 && view.getUint32(0, false) === FDT_MAGIC) return { kind: "dtb", fileSize };
    if (head.length >= IMAGE_HEADER_SIZE) {
      const magic2 = view.getUint32(IMAGE_MAGIC2_OFFSET, true);
      if (magic2 === RISCV_IMAGE_MAGIC2 || magic2 === ARM64_IMAGE_MAGIC) {
        const imageSize = u64(view, IMAGE_SIZE_OFFSET) ?? 0;
        return {
          kind: "linux-image",
          fileSize,
          arch: magic2 === RISCV_IMAGE_MAGIC2 ? "riscv64" : "aarch64",
          imageSize,
        };
      }
    }
    if (head.length >= HDR_HEADER + 4 && view.getUint32(HDR_HEADER, true) === HDR_MAGIC) {
      return { kind: "bzimage", fileSize };
    }
    return { kind: "raw", fileSize };
  } catch (error) {
    return { kind: "missing", reason: `cannot read (${error instanceof Error ? error.message : String(error)})` };
  } finally {
    closeSync(fd);
  }
}

/** The guest architecture an image is built for, when its header says so. */
export function probedArch(probe: ImageProbe): GuestArch | undefined {
  switch (probe.kind) {
    case "linux-image":
      return probe.arch;
    case "bzimage":
      return "x86_64";
    case "elf":
      return probe.arch;
    default:
      return undefined;
  }
}
