/**
 * struct boot_params (the "zero page") and the setup header it embeds, as the Linux x86 boot protocol defines
 * them (Documentation/arch/x86/boot.rst and zero-page.rst). Offsets are from the start of the zero page, which are
 * also the offsets of the setup header inside a bzImage file.
 */

import { EBDA_START, HIGH_RAM_START, HIMEM_START, MMIO_MEM_START, type RamRegion } from "./layout.ts";
import { LeWriter } from "./le-writer.ts";

export const BOOT_PARAMS_SIZE = 0x1000;

// boot_params fields outside the setup header (zero-page.rst)
export const BP_ACPI_RSDP_ADDR = 0x070;
export const BP_EXT_RAMDISK_IMAGE = 0x0c0;
export const BP_EXT_RAMDISK_SIZE = 0x0c4;
export const BP_EXT_CMD_LINE_PTR = 0x0c8;
export const BP_E820_ENTRIES = 0x1e8;
export const BP_E820_TABLE = 0x2d0;
export const E820_MAX_ENTRIES = 128;
export const E820_ENTRY_SIZE = 20;

// The setup header (boot.rst, "The Real-Mode Kernel Header")
export const HDR_START = 0x1f1;
export const HDR_SETUP_SECTS = 0x1f1;
export const HDR_BOOT_FLAG = 0x1fe;
export const HDR_JUMP = 0x200;
export const HDR_HEADER = 0x202;
export const HDR_VERSION = 0x206;
export const HDR_TYPE_OF_LOADER = 0x210;
export const HDR_LOADFLAGS = 0x211;
export const HDR_CODE32_START = 0x214;
export const HDR_RAMDISK_IMAGE = 0x218;
export const HDR_RAMDISK_SIZE = 0x21c;
export const HDR_HEAP_END_PTR = 0x224;
export const HDR_CMD_LINE_PTR = 0x228;
export const HDR_INITRD_ADDR_MAX = 0x22c;
export const HDR_KERNEL_ALIGNMENT = 0x230;
export const HDR_RELOCATABLE_KERNEL = 0x234;
export const HDR_XLOADFLAGS = 0x236;
export const HDR_CMDLINE_SIZE = 0x238;
export const HDR_PAYLOAD_OFFSET = 0x248;
export const HDR_PREF_ADDRESS = 0x258;
export const HDR_INIT_SIZE = 0x260;

export const BOOT_FLAG_MAGIC = 0xaa55;
/** "HdrS" little-endian. */
export const HDR_MAGIC = 0x5372_6448;
/** Boot protocol 2.12 introduced xloadflags (and with it the advertised 64-bit entry). */
export const BOOT_PROTOCOL_MIN = 0x020c;
/** type_of_loader 0xff: "undefined" boot loader (no assigned id), what VMMs use. */
export const LOADER_TYPE_UNDEFINED = 0xff;
export const LOADFLAGS_LOADED_HIGH = 1 << 0;
export const LOADFLAGS_CAN_USE_HEAP = 1 << 7;
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** Default initrd_addr_max of protocols before 2.03, and the kernel_alignment Firecracker gives ELF kernels. */
export const INITRD_ADDR_MAX_DEFAULT = 0x37ff_ffff;
export const KERNEL_ALIGNMENT_DEFAULT = 0x100_0000;

export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/**
 * The e820 map of our x86 machine: conventional RAM below the EBDA, the MP table and legacy area reserved up to
 * 1 MiB, RAM from 1 MiB up to the MMIO hole, and RAM above 4 GiB.
 */
export function e820Map(ram: readonly RamRegion[]): E820Entry[] {
  const entries: E820Entry[] = [];
  for (const region of ram) {
    const end = region.gpa + region.size;
    if (region.gpa < HIMEM_START) {
      if (end <= HIMEM_START)
        throw new RangeError(`Cannot build an e820 map: RAM ends at 0x${end.toString(16)}, below 1 MiB`);
      entries.push({ addr: region.gpa, size: EBDA_START - region.gpa, type: E820_RAM });
      entries.push({ addr: EBDA_START, size: HIMEM_START - EBDA_START, type: E820_RESERVED });
      entries.push({ addr: HIMEM_START, size: Math.min(end, MMIO_MEM_START) - HIMEM_START, type: E820_RAM });
    } else {
      if (region.gpa < HIGH_RAM_START && end > MMIO_MEM_START) {
        throw new RangeError(`Cannot build an e820 map: RAM at 0x${region.gpa.toString(16)} runs into the MMIO hole`);
      }
      entries.push({ addr: region.gpa, size: region.size, type: E820_RAM });
    }
  }
  if (entries.length > E820_MAX_ENTRIES)
    throw new RangeError(`Cannot build an e820 map of ${entries.length} entries (max ${E820_MAX_ENTRIES})`);
  return entries;
}

export interface BootParamsInput {
  /** The kernel's setup header bytes [HDR_START, header end) from the bzImage, or undefined for an ELF kernel. */
  readonly setupHeader: Uint8Array | undefined;
  readonly cmdlineAddr: number;
  /** Length of the command line without its NUL. */
  readonly cmdlineSize: number;
  readonly initrd: { readonly addr: number; readonly size: number } | undefined;
  readonly e820: readonly E820Entry[];
  /** Where the ACPI RSDP is (boot protocol 2.14+ kernels use it instead of scanning), if there are tables. */
  readonly acpiRsdp?: number;
}

/** Build the zero page. */
export function buildBootParams(input: BootParamsInput): Uint8Array {
  const params = new LeWriter(BOOT_PARAMS_SIZE);
  if (input.setupHeader !== undefined) {
    params.bytes.set(input.setupHeader, HDR_START);
  } else {
    // An ELF kernel has no setup header: the fields the 64-bit entry reads are filled in as Firecracker does.
    params
      .u16(HDR_BOOT_FLAG, BOOT_FLAG_MAGIC)
      .u32(HDR_HEADER, HDR_MAGIC)
      .u32(HDR_KERNEL_ALIGNMENT, KERNEL_ALIGNMENT_DEFAULT);
  }
  params.u8(HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
  params.u32(HDR_CMD_LINE_PTR, input.cmdlineAddr).u32(BP_EXT_CMD_LINE_PTR, Math.floor(input.cmdlineAddr / 2 ** 32));
  params.u32(HDR_CMDLINE_SIZE, input.cmdlineSize);
  if (input.initrd !== undefined) {
    params.u32(HDR_RAMDISK_IMAGE, input.initrd.addr).u32(BP_EXT_RAMDISK_IMAGE, Math.floor(input.initrd.addr / 2 ** 32));
    params.u32(HDR_RAMDISK_SIZE, input.initrd.size).u32(BP_EXT_RAMDISK_SIZE, Math.floor(input.initrd.size / 2 ** 32));
  }
  if (input.acpiRsdp !== undefined) params.u64(BP_ACPI_RSDP_ADDR, input.acpiRsdp);
  params.u8(BP_E820_ENTRIES, input.e820.length);
  input.e820.forEach((entry, i) => {
    const at = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    params
      .u64(at, entry.addr)
      .u64(at + 8, entry.size)
      .u32(at + 16, entry.type);
  });
  return params.bytes;
}
