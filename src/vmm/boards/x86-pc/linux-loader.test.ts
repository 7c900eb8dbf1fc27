import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  FIXTURE_ELF_FILESZ,
  FIXTURE_ELF_MEMSZ,
  FIXTURE_ELF_PADDR,
  FIXTURE_INIT_SIZE,
  makeBzImage,
  makeElfKernel,
} from "../../../../test/support/x86-test-images.ts";
import { GuestMemory } from "../../../addrspace/guest-memory.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import {
  BP_ACPI_RSDP_ADDR,
  BP_E820_ENTRIES,
  BP_E820_TABLE,
  E820_RAM,
  E820_RESERVED,
  HDR_CMD_LINE_PTR,
  HDR_HEADER,
  HDR_RAMDISK_IMAGE,
  HDR_RAMDISK_SIZE,
  HDR_TYPE_OF_LOADER,
} from "./boot-params.ts";
import { CMDLINE_START, HIMEM_START, ramRegions, ZERO_PAGE_START } from "./layout.ts";
import { LinuxLoaderError, loadLinux } from "./linux-loader.ts";

const RAM_SIZE = 0x400_0000; // 64 MiB

function flatMemory(size = RAM_SIZE): GuestMemoryAccess & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return Object.assign(new GuestMemory([{ name: "ram", gpa: 0, bytes }]), { bytes });
}

const dv = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

describe("bzImage", () => {
  test("loads the protected-mode kernel at 1 MiB, entry +0x200, zero page with header, cmdline, initrd and e820", () => {
    const memory = flatMemory();
    const initrd = new Uint8Array(0x3000).fill(0xab);
    const result = loadLinux(memory, {
      kernel: makeBzImage(),
      initrd,
      cmdline: "console=ttyS0 reboot=k",
      ram: ramRegions(RAM_SIZE),
    });
    expect(result).toMatchObject({
      format: "bzImage",
      entry: HIMEM_START + 0x200,
      bootParams: ZERO_PAGE_START,
      protocol: 0x20f,
    });
    expect(memory.bytes[HIMEM_START]).toBe(0x90);
    expect(result.kernelEnd).toBe(HIMEM_START + FIXTURE_INIT_SIZE);
    const zp = dv(memory.bytes.subarray(ZERO_PAGE_START, ZERO_PAGE_START + 0x1000));
    expect(zp.getUint32(HDR_HEADER, true)).toBe(0x5372_6448);
    expect(zp.getUint8(HDR_TYPE_OF_LOADER)).toBe(0xff);
    expect(zp.getUint32(HDR_CMD_LINE_PTR, true)).toBe(CMDLINE_START);
    expect(new TextDecoder().decode(memory.bytes.subarray(CMDLINE_START, CMDLINE_START + 23))).toBe(
      "console=ttyS0 reboot=k\0",
    );
    // initrd: page-aligned, as high as possible in low RAM.
    expect(result.initrd).toEqual({ addr: RAM_SIZE - 0x3000, size: 0x3000 });
    expect(zp.getUint32(HDR_RAMDISK_IMAGE, true)).toBe(RAM_SIZE - 0x3000);
    expect(zp.getUint32(HDR_RAMDISK_SIZE, true)).toBe(0x3000);
    expect(memory.bytes[RAM_SIZE - 1]).toBe(0xab);
    const e820 = Array.from({ length: zp.getUint8(BP_E820_ENTRIES) }, (_, i) => {
      const at = BP_E820_TABLE + i * 20;
      return [Number(zp.getBigUint64(at, true)), Number(zp.getBigUint64(at + 8, true)), zp.getUint32(at + 16, true)];
    });
    expect(e820).toEqual([
      [0, 0x9_fc00, E820_RAM],
      [0x9_fc00, 0x10_0000 - 0x9_fc00, E820_RESERVED],
      [0x10_0000, RAM_SIZE - 0x10_0000, E820_RAM],
    ]);
  });

  test("the ACPI RSDP address goes into boot_params.acpi_rsdp_addr", () => {
    const memory = flatMemory();
    loadLinux(memory, { kernel: makeBzImage(), cmdline: "", ram: ramRegions(RAM_SIZE), acpiRsdp: 0xe_0000 });
    expect(dv(memory.bytes).getBigUint64(ZERO_PAGE_START + BP_ACPI_RSDP_ADDR, true)).toBe(0xe_0000n);
  });

  test("RAM beyond the MMIO hole appears in e820 from 4 GiB", () => {
    const regions = ramRegions(0xc000_0000 + 0x1000_0000);
    expect(regions).toEqual([
      { gpa: 0, size: 0xc000_0000 },
      { gpa: 0x1_0000_0000, size: 0x1000_0000 },
    ]);
  });

  // Each defect is named in the message (byte-flipped fixtures).
  const cases: Array<[string, (image: Uint8Array) => void, RegExp]> = [
    ["boot_flag", (image) => (image[0x1fe] = 0x54), /boot_flag at 0x1fe is 0xaa54/],
    ["HdrS magic", (image) => (image[0x203] = 0), /neither an ELF file .* nor a bzImage/],
    ["old protocol", (image) => dv(image).setUint16(0x206, 0x0209, true), /boot protocol 2\.9 is older than 2\.12/],
    ["32-bit kernel", (image) => dv(image).setUint16(0x236, 0, true), /lacks XLF_KERNEL_64/],
    ["zImage", (image) => (image[0x211] = 0), /lacks LOADED_HIGH/],
    ["setup_sects", (image) => (image[0x1f1] = 0xff), /setup_sects 255 puts the kernel at 0x20000, past the end/],
    ["header length", (image) => (image[0x201] = 0x10), /setup header would end at 0x212/],
    [
      "init_size",
      (image) => dv(image).setUint32(0x260, 0x1000_0000, true),
      /init_size 0x10000000.*low RAM ends at 0x4000000/,
    ],
  ];
  for (const [name, corrupt, message] of cases) {
    test(`a corrupt ${name} is rejected with what is wrong`, () => {
      const image = makeBzImage();
      corrupt(image);
      const load = (): unknown => loadLinux(flatMemory(), { kernel: image, cmdline: "", ram: ramRegions(RAM_SIZE) });
      expect(load).toThrow(LinuxLoaderError);
      expect(load).toThrow(message);
    });
  }

  test("a command line beyond cmdline_size, or with a NUL, is refused", () => {
    const load = (cmdline: string) => (): unknown =>
      loadLinux(flatMemory(), { kernel: makeBzImage(), cmdline, ram: ramRegions(RAM_SIZE) });
    expect(load("x".repeat(2048))).toThrow(/2048-byte command line: the limit is 2047 bytes/);
    expect(load("a\0b")).toThrow(/contains a NUL/);
  });

  test("an initrd that does not fit between the kernel and the end of RAM is refused", () => {
    const load = (): unknown =>
      loadLinux(flatMemory(), {
        kernel: makeBzImage(),
        initrd: new Uint8Array(RAM_SIZE - 0x20_0000),
        cmdline: "",
        ram: ramRegions(RAM_SIZE),
      });
    expect(load).toThrow(/Cannot place a .*-byte initrd: it must sit between the kernel end 0x500000/);
  });

  test("random corruption of the header gives a LinuxLoaderError or a load, never another exception", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x1f1, max: 0x26b }), fc.integer({ min: 0, max: 255 }), (offset, value) => {
        const image = makeBzImage();
        image[offset] = value;
        try {
          loadLinux(flatMemory(), { kernel: image, cmdline: "quiet", ram: ramRegions(RAM_SIZE) });
        } catch (error) {
          expect(error).toBeInstanceOf(LinuxLoaderError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("ELF vmlinux", () => {
  test("loads PT_LOAD at p_paddr, zero-fills bss, entry = e_entry, zero page built from scratch", () => {
    const memory = flatMemory();
    memory.bytes.fill(0x77, FIXTURE_ELF_PADDR, FIXTURE_ELF_PADDR + FIXTURE_ELF_MEMSZ);
    const result = loadLinux(memory, { kernel: makeElfKernel(), cmdline: "console=ttyS0", ram: ramRegions(RAM_SIZE) });
    expect(result).toMatchObject({
      format: "elf",
      entry: FIXTURE_ELF_PADDR,
      kernelEnd: FIXTURE_ELF_PADDR + FIXTURE_ELF_MEMSZ,
    });
    expect(memory.bytes[FIXTURE_ELF_PADDR]).toBe(0xcc);
    expect(memory.bytes[FIXTURE_ELF_PADDR + FIXTURE_ELF_FILESZ]).toBe(0);
    const zp = dv(memory.bytes.subarray(ZERO_PAGE_START, ZERO_PAGE_START + 0x1000));
    expect(zp.getUint16(0x1fe, true)).toBe(0xaa55);
    expect(zp.getUint32(HDR_HEADER, true)).toBe(0x5372_6448);
  });

  const cases: Array<[string, (image: Uint8Array) => void, RegExp]> = [
    ["class", (image) => (image[4] = 1), /ELF class 1 is not ELF64/],
    ["machine", (image) => dv(image).setUint16(18, 40, true), /e_machine is 40, not EM_X86_64/],
    ["type", (image) => dv(image).setUint16(16, 1, true), /ELF type 1 is not an executable/],
    ["phnum", (image) => dv(image).setUint16(56, 0, true), /no loadable \(PT_LOAD\) segments/],
    [
      "segment offset",
      (image) => dv(image).setBigUint64(64 + 8, 0x10_0000n, true),
      /segment 0 file bytes 0x100000\.\.0x100100 run past the end of the file/,
    ],
    [
      "filesz",
      (image) => dv(image).setBigUint64(64 + 32, 0x1_0000n, true),
      /segment 0 p_filesz 0x10000 > p_memsz 0x2000/,
    ],
    [
      "paddr",
      (image) => dv(image).setBigUint64(64 + 24, 0x8000_0000n, true),
      /segment 0 at \[0x80000000, 0x80002000\) is outside RAM/,
    ],
    [
      "entry",
      (image) => dv(image).setBigUint64(24, 0x50_0000n, true),
      /e_entry 0x500000 is not inside the loaded segments/,
    ],
  ];
  for (const [name, corrupt, message] of cases) {
    test(`a corrupt ${name} is rejected with what is wrong`, () => {
      const image = makeElfKernel();
      corrupt(image);
      expect(() => loadLinux(flatMemory(), { kernel: image, cmdline: "", ram: ramRegions(RAM_SIZE) })).toThrow(message);
    });
  }
});
