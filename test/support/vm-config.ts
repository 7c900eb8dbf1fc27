/** In-memory VmConfig values for tests (what the config parser would produce). */
import type { VmConfig } from "../../src/vmm/config/types.ts";

export function testVmConfig(overrides: Partial<VmConfig> & { kernelPath?: string } = {}): VmConfig {
  const { kernelPath, ...rest } = overrides;
  return {
    source: "test",
    id: 1,
    name: "test",
    vmType: "rtos",
    arch: "riscv64",
    backend: "auto",
    machine: "virt-hypervisor",
    onReset: "reboot",
    cpuNum: 1,
    physCpuIds: undefined,
    physCpuSets: undefined,
    kernel: {
      entryPoint: 0x8020_0000,
      imageLocation: "fs",
      image: { path: kernelPath ?? "/nonexistent", format: "raw", loadAddr: 0x8020_0000, size: undefined },
      bios: undefined,
      dtb: undefined,
      ramdisk: undefined,
      cmdline: undefined,
      timebaseFrequency: 10_000_000,
    },
    memoryRegions: [{ gpa: 0x8000_0000, size: 0x100_0000, flags: 0x7, mapType: "alloc" }],
    devices: {
      emuDevices: [],
      passthroughDevices: [],
      passthroughAddresses: [],
      excludedDevices: [],
      interruptMode: "emulated",
      console: { kind: "none" },
      unmappedMmio: "ignore",
      disks: [],
      nets: [],
      rng: true,
    },
    ...rest,
  };
}
