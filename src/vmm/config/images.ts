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

import { closeSync, fstatSync, openSync, readSync } from "node:fs";

import type { GuestArch } from "../../hal/types.ts";

// ELF identification and header fields (ELF-64 Object File Format).
const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
const EI_CLASS = 4;
const ELFCLASS64 = 2;
const EI_DATA = 5;
const ELFDATA2LSB = 1;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 32;
const E_PHENTSIZE = 54;
const E_PHNUM = 56;
const ELF64_EHDR_SIZE = 64;
const ELF64_PHDR_SIZE = 56;
const PT_LOAD = 1;
const P_TYPE = 0;
const P_PADDR = 24;
const P_FILESZ = 32;
const P_MEMSZ = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;

// Linux Image header (RISC-V and arm64 share the layout).
const IMAGE_SIZE_OFFSET = 16;
const IMAGE_MAGIC2_OFFSET = 56;
const RISCV_IMAGE_MAGIC2 = 0x05435352; // "RSC\x05"
const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64"
const IMAGE_HEADER_SIZE = 64;

// x86 boot protocol setup header.
const SETUP_HEADER_MAGIC_OFFSET = 0x202;
const SETUP_HEADER_MAGIC = 0x53726448; // "HdrS"

// Flattened device tree header.
const FDT_MAGIC = 0xd00dfeed; // big-endian

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

function readAt(fd: number, position: number, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

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

function probeElf(fd: number, head: Uint8Array, fileSize: number): ImageProbe {
  const bad = (reason: string): ImageProbe => ({ kind: "bad-elf", fileSize, reason });
  if (head.length < ELF64_EHDR_SIZE) return bad("truncated ELF header");
  if (head[EI_CLASS] !== ELFCLASS64) return bad("not a 64-bit ELF file (only ELF64 is supported)");
  if (head[EI_DATA] !== ELFDATA2LSB) return bad("not a little-endian ELF file");
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const machine = view.getUint16(E_MACHINE, true);
  const entry = u64(view, E_ENTRY);
  const phoff = u64(view, E_PHOFF);
  const phentsize = view.getUint16(E_PHENTSIZE, true);
  const phnum = view.getUint16(E_PHNUM, true);
  if (entry === undefined) return bad("entry point does not fit in 53 bits");
  if (phoff === undefined || phoff + phnum * phentsize > fileSize) return bad("program headers lie outside the file");
  if (phnum > 0 && phentsize < ELF64_PHDR_SIZE) return bad(`program header entries are ${phentsize} bytes, expected ${ELF64_PHDR_SIZE}`);
  const table = readAt(fd, phoff, phnum * phentsize);
  const tableView = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const segments: ElfLoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (tableView.getUint32(at + P_TYPE, true) !== PT_LOAD) continue;
    const paddr = u64(tableView, at + P_PADDR);
    const filesz = u64(tableView, at + P_FILESZ);
    const memsz = u64(tableView, at + P_MEMSZ);
    if (paddr === undefined || filesz === undefined || memsz === undefined) return bad(`PT_LOAD ${i} does not fit in 53 bits`);
    if (memsz > 0) segments.push({ paddr, memsz, filesz });
  }
  if (segments.length === 0) return bad("no PT_LOAD segment");
  return { kind: "elf", fileSize, arch: elfArch(machine), machine, entry, segments };
}

/** Recognise a boot file. Never throws: an unreadable file is reported as "missing" with the reason. */
export function probeImage(path: string): ImageProbe {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    return { kind: "missing", reason: code === "ENOENT" ? "file not found" : `cannot open (${code || String(error)})` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: "missing", reason: "not a regular file" };
    const fileSize = stat.size;
    const head = readAt(fd, 0, Math.min(PROBE_BYTES, fileSize));
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (head.length >= 4 && view.getUint32(0, true) === ELF_MAGIC) return probeElf(fd, head, fileSize);
    if (head.length >= 4 && view.getUint32(0, false) === FDT_MAGIC) return { kind: "dtb", fileSize };
    if (head.length >= IMAGE_HEADER_SIZE) {
      const magic2 = view.getUint32(IMAGE_MAGIC2_OFFSET, true);
      if (magic2 === RISCV_IMAGE_MAGIC2 || magic2 === ARM64_IMAGE_MAGIC) {
        const imageSize = u64(view, IMAGE_SIZE_OFFSET) ?? 0;
        return { kind: "linux-image", fileSize, arch: magic2 === RISCV_IMAGE_MAGIC2 ? "riscv64" : "aarch64", imageSize };
      }
    }
    if (head.length >= SETUP_HEADER_MAGIC_OFFSET + 4 && view.getUint32(SETUP_HEADER_MAGIC_OFFSET, true) === SETUP_HEADER_MAGIC) {
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
