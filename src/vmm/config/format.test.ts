import { expect, test } from "bun:test";
import { join, resolve } from "node:path";

import { formatMappingFlags, formatVmConfig } from "./format.ts";
import { loadVmConfig } from "./parse.ts";

const FIXTURES = resolve(import.meta.dir, "../../../test/fixtures/configs");

test("formatMappingFlags spells MappingFlags bits as letters", () => {
  expect(formatMappingFlags(0x7)).toBe("rwx");
  expect(formatMappingFlags(0x3)).toBe("rw-");
  expect(formatMappingFlags(0xf)).toBe("rwxu");
  expect(formatMappingFlags(0x31)).toBe("r--dn");
});

test("formatVmConfig shows the resolved VM with its defaults", () => {
  const config = loadVmConfig(join(FIXTURES, "linux-riscv64-qemu-smp1.toml"));
  expect(formatVmConfig(config).split("\n")).toEqual([
    `VM 1 "linux-qemu" from ${join(FIXTURES, "linux-riscv64-qemu-smp1.toml")}`,
    "  machine  riscv64, virt-hypervisor, backend auto, vm_type rtos, on reset: reboot",
    "  vcpus    1, physical ids [0]",
    "  memory   0x90000000..0xcfffffff 1 GiB rwx reserved",
    `  kernel   ${join(FIXTURES, "images/arceos-riscv64.bin")} (raw, 4 KiB) at 0x90000000, entry 0x90000000`,
    "  bios     none",
    `  dtb      ${join(FIXTURES, "images/tiny.dtb")} (182 bytes) at 0x92000000`,
    "  ramdisk  none",
    "  cmdline  (none)",
    "  timebase 10000000 Hz",
    "  emulated plic pppt-global (0x30) 0xc000000..0xc5fffff irq 0 cfg [2]",
    "  passthru address 0x10000000..0x10000fff",
    "  passthru address 0x10001000..0x10008fff",
    "  devices  interrupts passthrough, console stdout, unmapped MMIO ignore",
  ]);
});

test("formatVmConfig names the PC as an x86_64 guest's machine", () => {
  const config = loadVmConfig(resolve(import.meta.dir, "../../../configs/x86-serial-hello.toml"), {
    checkFiles: false,
  });
  expect(formatVmConfig(config).split("\n")[1]).toBe(
    "  machine  x86_64, pc, backend kvm, vm_type rtos, on reset: reboot",
  );
});
