/**
 * Small, well-formed kernel images for the loader's tests: a bzImage with a protocol 2.15 setup header and an ELF64
 * vmlinux-like executable. Tests flip bytes in them to check that each defect is named.
 */
import { LeWriter } from "../../src/vmm/boards/x86-pc/le-writer.ts";

export const FIXTURE_SETUP_SECTS = 4;
export const FIXTURE_PAYLOAD_SIZE = 0x1800;
export const FIXTURE_INIT_SIZE = 0x40_0000;

export function makeBzImage(options: { version?: number; xloadflags?: number; payloadByte?: number } = {}): Uint8Array {
  const kernelOffset = (FIXTURE_SETUP_SECTS + 1) * 512;
  const image = new LeWriter(kernelOffset + FIXTURE_PAYLOAD_SIZE);
  image.u8(0x1f1, FIXTURE_SETUP_SECTS);
  image.u16(0x1fe, 0xaa55);
  image.u8(0x200, 0xeb).u8(0x201, 0x6a); // jmp short: header ends at 0x202 + 0x6a = 0x26c
  image.ascii(0x202, "HdrS");
  image.u16(0x206, options.version ?? 0x020f);
  image.u8(0x211, 0x01); // LOADED_HIGH
  image.u32(0x214, 0x10_0000); // code32_start
  image.u32(0x22c, 0x7fff_ffff); // initrd_addr_max
  image.u32(0x230, 0x20_0000); // kernel_alignment
  image.u8(0x234, 1); // relocatable
  image.u16(0x236, options.xloadflags ?? 0x3); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  image.u32(0x238, 2047); // cmdline_size
  image.u32(0x260, FIXTURE_INIT_SIZE);
  image.bytes.fill(options.payloadByte ?? 0x90, kernelOffset);
  return image.bytes;
}

export const FIXTURE_ELF_PADDR = 0x100_0000;
export const FIXTURE_ELF_FILESZ = 0x100;
export const FIXTURE_ELF_MEMSZ = 0x2000;

export function makeElfKernel(): Uint8Array {
  const phoff = 64;
  const dataOffset = 0x1000;
  const elf = new LeWriter(dataOffset + FIXTURE_ELF_FILESZ);
  elf.u32(0, 0x464c_457f).u8(4, 2).u8(5, 1).u8(6, 1);
  elf.u16(16, 2).u16(18, 62).u32(20, 1);
  elf.u64(24, FIXTURE_ELF_PADDR); // e_entry
  elf.u64(32, phoff).u16(52, 64).u16(54, 56).u16(56, 1);
  elf
    .u32(phoff, 1)
    .u32(phoff + 4, 5)
    .u64(phoff + 8, dataOffset);
  elf.u64(phoff + 16, 0xffff_ffff_8100_0000n).u64(phoff + 24, FIXTURE_ELF_PADDR);
  elf
    .u64(phoff + 32, FIXTURE_ELF_FILESZ)
    .u64(phoff + 40, FIXTURE_ELF_MEMSZ)
    .u64(phoff + 48, 0x1000);
  elf.bytes.fill(0xcc, dataOffset);
  return elf.bytes;
}
