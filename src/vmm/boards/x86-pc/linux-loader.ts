/**
 * Loads an x86_64 Linux kernel for the 64-bit boot protocol (Documentation/arch/x86/boot.rst):
 * - bzImage: the setup header is checked (boot_flag, "HdrS", protocol >= 2.12, XLF_KERNEL_64, LOADED_HIGH), the
 *   protected-mode kernel (after `setup_sects` + 1 sectors) goes to 1 MiB and the entry is that + 0x200;
 * - ELF vmlinux (ELF64, x86-64, executable): PT_LOAD segments at their physical addresses, entry = e_entry.
 * Then the command line goes to CMDLINE_START, the initrd page-aligned as high as allowed, and the zero page with
 * the e820 map to ZERO_PAGE_START. A bad image is rejected with a `LinuxLoaderError` that says what is wrong.
 */

import { X86_PAGE_SIZE } from "../../../arch/x86_64/paging.ts";
import { hex } from "../../../common/format.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { ElfError, type ElfImage, EM_X86_64, isElf, parseElf } from "../../loader/elf.ts";
import {
  BOOT_FLAG_MAGIC,
  BOOT_PROTOCOL_MIN,
  buildBootParams,
  e820Map,
  HDR_BOOT_FLAG,
  HDR_CMDLINE_SIZE,
  HDR_HEADER,
  HDR_INIT_SIZE,
  HDR_INITRD_ADDR_MAX,
  HDR_JUMP,
  HDR_LOADFLAGS,
  HDR_MAGIC,
  HDR_SETUP_SECTS,
  HDR_START,
  HDR_VERSION,
  HDR_XLOADFLAGS,
  INITRD_ADDR_MAX_DEFAULT,
  LOADFLAGS_LOADED_HIGH,
  XLF_KERNEL_64,
} from "./boot-params.ts";
import {
  CMDLINE_MAX_SIZE,
  CMDLINE_START,
  HIMEM_START,
  MMIO_MEM_START,
  type RamRegion,
  ZERO_PAGE_START,
} from "./layout.ts";

export type LinuxLoaderErrorKind = "bad-image" | "unsupported-image" | "no-room" | "bad-cmdline";

export class LinuxLoaderError extends Error {
  override readonly name = "LinuxLoaderError";
  readonly kind: LinuxLoaderErrorKind;
  constructor(kind: LinuxLoaderErrorKind, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

const SECTOR_SIZE = 512;
/** setup_sects = 0 means 4 (boot.rst). */
const SETUP_SECTS_DEFAULT = 4;
/** The 64-bit entry is 0x200 past the start of the protected-mode kernel. */
export const STARTUP_64_OFFSET = 0x200;

export interface LinuxLoadInput {
  /** bzImage or ELF vmlinux bytes. */
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline: string;
  /** The machine's RAM (layout.ramRegions). */
  readonly ram: readonly RamRegion[];
  /** The ACPI RSDP address to pass in boot_params (see acpi.ts), if the machine has ACPI tables. */
  readonly acpiRsdp?: number;
}

export interface LinuxLoadResult {
  readonly format: "bzImage" | "elf";
  /** The 64-bit entry point (RIP). */
  readonly entry: number;
  /** Where the zero page is (RSI at entry). */
  readonly bootParams: number;
  /** First byte after the loaded kernel (and the room it needs to decompress, for bzImage). */
  readonly kernelEnd: number;
  readonly initrd: { readonly addr: number; readonly size: number } | undefined;
  /** The boot protocol version (bzImage), e.g. 0x20f. */
  readonly protocol: number | undefined;
}

export function detectKernelFormat(kernel: Uint8Array): "bzImage" | "elf" | undefined {
  if (isElf(kernel)) return "elf";
  if (
    kernel.length >= HDR_HEADER + 4 &&
    new DataView(kernel.buffer, kernel.byteOffset, kernel.byteLength).getUint32(HDR_HEADER, true) === HDR_MAGIC
  ) {
    return "bzImage";
  }
  return undefined;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Load a Linux kernel (+ initrd, cmdline, zero page) into guest memory. */
export function loadLinux(memory: GuestMemoryAccess, input: LinuxLoadInput): LinuxLoadResult {
  const lowRamEnd = lowRamLimit(input.ram);
  const format = detectKernelFormat(input.kernel);
  if (format === undefined) {
    throw new LinuxLoaderError(
      "bad-image",
      `Cannot load the kernel: neither an ELF file (no \\x7fELF at 0) nor a bzImage (no "HdrS" at ${hex(HDR_HEADER)}); ${input.kernel.length} bytes`,
    );
  }
  const kernel =
    format === "bzImage" ? loadBzImage(memory, input.kernel, lowRamEnd) : loadElf(memory, input.kernel, lowRamEnd);

  const cmdlineLimit = Math.min(CMDLINE_MAX_SIZE, kernel.cmdlineSize ?? CMDLINE_MAX_SIZE);
  const cmdline = new TextEncoder().encode(input.cmdline);
  if (cmdline.includes(0))
    throw new LinuxLoaderError("bad-cmdline", "Cannot pass the command line: it contains a NUL byte");
  if (cmdline.length + 1 > cmdlineLimit) {
    throw new LinuxLoaderError(
      "bad-cmdline",
      `Cannot pass a ${cmdline.length}-byte command line: the limit is ${cmdlineLimit - 1} bytes (kernel cmdline_size and ours)`,
    );
  }
  const withNul = new Uint8Array(cmdline.length + 1);
  withNul.set(cmdline);
  memory.write(CMDLINE_START, withNul);

  let initrd: { addr: number; size: number } | undefined;
  if (input.initrd !== undefined && input.initrd.length > 0) {
    const ceiling = Math.min(kernel.initrdAddrMax + 1, lowRamEnd);
    const addr = Math.floor((ceiling - input.initrd.length) / X86_PAGE_SIZE) * X86_PAGE_SIZE;
    if (addr < kernel.end) {
      throw new LinuxLoaderError(
        "no-room",
        `Cannot place a ${input.initrd.length}-byte initrd: it must sit between the kernel end ${hex(kernel.end)} and ${hex(ceiling)} (initrd_addr_max / end of low RAM)`,
      );
    }
    memory.write(addr, input.initrd);
    initrd = { addr, size: input.initrd.length };
  }

  const params = buildBootParams({
    setupHeader: kernel.setupHeader,
    cmdlineAddr: CMDLINE_START,
    cmdlineSize: cmdline.length,
    initrd,
    e820: e820Map(input.ram),
    ...(input.acpiRsdp === undefined ? {} : { acpiRsdp: input.acpiRsdp }),
  });
  memory.write(ZERO_PAGE_START, params);
  return {
    format,
    entry: kernel.entry,
    bootParams: ZERO_PAGE_START,
    kernelEnd: kernel.end,
    initrd,
    protocol: kernel.protocol,
  };
}

function lowRamLimit(ram: readonly RamRegion[]): number {
  const low = ram.find((region) => region.gpa === 0);
  if (low === undefined)
    throw new LinuxLoaderError("no-room", "Cannot load Linux: there is no RAM at guest-physical 0");
  const end = Math.min(low.gpa + low.size, MMIO_MEM_START);
  if (end <= HIMEM_START)
    throw new LinuxLoaderError("no-room", `Cannot load Linux: low RAM ends at ${hex(end)}, not above 1 MiB`);
  return end;
}

interface LoadedKernel {
  readonly entry: number;
  readonly end: number;
  readonly setupHeader: Uint8Array | undefined;
  readonly cmdlineSize: number | undefined;
  readonly initrdAddrMax: number;
  readonly protocol: number | undefined;
}

function loadBzImage(memory: GuestMemoryAccess, image: Uint8Array, lowRamEnd: number): LoadedKernel {
  const bad = (what: string): never => {
    throw new LinuxLoaderError("bad-image", `Cannot load the bzImage: ${what}`);
  };
  const unsupported = (what: string): never => {
    throw new LinuxLoaderError("unsupported-image", `Cannot load the bzImage: ${what}`);
  };
  if (image.length < HDR_INIT_SIZE + 4) bad(`${image.length} bytes is too short for a setup header`);
  const v = view(image);
  const bootFlag = v.getUint16(HDR_BOOT_FLAG, true);
  if (bootFlag !== BOOT_FLAG_MAGIC) bad(`boot_flag at ${hex(HDR_BOOT_FLAG)} is ${hex(bootFlag)}, not 0xaa55`);
  const version = v.getUint16(HDR_VERSION, true);
  if (version < BOOT_PROTOCOL_MIN)
    unsupported(
      `boot protocol ${(version >> 8).toString()}.${(version & 0xff).toString()} is older than 2.12 (no 64-bit entry)`,
    );
  const xloadflags = v.getUint16(HDR_XLOADFLAGS, true);
  if ((xloadflags & XLF_KERNEL_64) === 0)
    unsupported(`xloadflags ${hex(xloadflags)} lacks XLF_KERNEL_64: not a 64-bit kernel`);
  const loadflags = v.getUint8(HDR_LOADFLAGS);
  if ((loadflags & LOADFLAGS_LOADED_HIGH) === 0)
    unsupported(`loadflags ${hex(loadflags)} lacks LOADED_HIGH: a zImage must be loaded at 0x10000`);
  const setupSects = v.getUint8(HDR_SETUP_SECTS) === 0 ? SETUP_SECTS_DEFAULT : v.getUint8(HDR_SETUP_SECTS);
  const kernelOffset = (setupSects + 1) * SECTOR_SIZE;
  if (kernelOffset >= image.length)
    bad(
      `setup_sects ${setupSects} puts the kernel at ${hex(kernelOffset)}, past the end of the ${image.length}-byte file`,
    );
  // The header runs from 0x1f1 to 0x202 + the byte at 0x201 (the jump's displacement), boot.rst.
  const headerEnd = HDR_JUMP + 2 + v.getUint8(HDR_JUMP + 1);
  if (headerEnd > kernelOffset || headerEnd <= HDR_INIT_SIZE)
    bad(`the setup header would end at ${hex(headerEnd)} (jump at ${hex(HDR_JUMP)} is corrupt)`);
  const payload = image.subarray(kernelOffset);
  const initSize = v.getUint32(HDR_INIT_SIZE, true);
  const end = HIMEM_START + Math.max(payload.length, initSize);
  if (end > lowRamEnd) {
    throw new LinuxLoaderError(
      "no-room",
      `Cannot load the bzImage: it needs [${hex(HIMEM_START)}, ${hex(end)}) (init_size ${hex(initSize)}) but low RAM ends at ${hex(lowRamEnd)}`,
    );
  }
  memory.write(HIMEM_START, payload);
  const cmdlineSize = v.getUint32(HDR_CMDLINE_SIZE, true);
  const initrdAddrMax = v.getUint32(HDR_INITRD_ADDR_MAX, true);
  return {
    entry: HIMEM_START + STARTUP_64_OFFSET,
    end,
    setupHeader: image.slice(HDR_START, headerEnd),
    // cmdline_size excludes the NUL.
    cmdlineSize: cmdlineSize + 1,
    initrdAddrMax: initrdAddrMax === 0 ? INITRD_ADDR_MAX_DEFAULT : initrdAddrMax,
    protocol: version,
  };
}

function loadElf(memory: GuestMemoryAccess, image: Uint8Array, lowRamEnd: number): LoadedKernel {
  let elf: ElfImage;
  try {
    elf = parseElf(image, "the ELF kernel");
  } catch (error) {
    if (!(error instanceof ElfError)) throw error;
    throw new LinuxLoaderError(
      error.kind === "unsupported" ? "unsupported-image" : "bad-image",
      `Cannot load ${error.message}`,
      { cause: error },
    );
  }
  if (elf.machine !== EM_X86_64) {
    throw new LinuxLoaderError(
      "unsupported-image",
      `Cannot load the ELF kernel: e_machine is ${elf.machine}, not EM_X86_64 (${EM_X86_64})`,
    );
  }
  let end = 0;
  for (const [i, segment] of elf.segments.entries()) {
    const { paddr, memSize } = segment;
    if (paddr < HIMEM_START || paddr + memSize > lowRamEnd) {
      throw new LinuxLoaderError(
        "no-room",
        `Cannot load the ELF kernel: segment ${i} at [${hex(paddr)}, ${hex(paddr + memSize)}) is outside RAM [${hex(HIMEM_START)}, ${hex(lowRamEnd)})`,
      );
    }
  }
  for (const segment of elf.segments) {
    memory.write(segment.paddr, segment.data);
    if (segment.memSize > segment.data.length)
      memory.write(segment.paddr + segment.data.length, new Uint8Array(segment.memSize - segment.data.length));
    end = Math.max(end, segment.paddr + segment.memSize);
  }
  if (!elf.segments.some((segment) => elf.entry >= segment.paddr && elf.entry < segment.paddr + segment.memSize)) {
    throw new LinuxLoaderError(
      "bad-image",
      `Cannot load the ELF kernel: e_entry ${hex(elf.entry)} is not inside the loaded segments`,
    );
  }
  return {
    entry: elf.entry,
    end,
    setupHeader: undefined,
    cmdlineSize: undefined,
    initrdAddrMax: INITRD_ADDR_MAX_DEFAULT,
    protocol: undefined,
  };
}
