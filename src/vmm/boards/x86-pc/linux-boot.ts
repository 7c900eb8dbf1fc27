/**
 * Everything the board's `load` does to boot x86_64 Linux in guest memory, in one call: write the MP table and the ACPI
 * tables (CPU and IOAPIC enumeration), load the kernel (+ initrd, cmdline, zero page with e820 and the RSDP
 * address), write the boot GDT and page tables, and return the
 * vCPU state for the 64-bit entry. The same state serves the APs: with the in-kernel LAPIC they wait for
 * INIT/SIPI and the kernel's trampoline replaces it.
 */

import type { X86VcpuState } from "../../../arch/x86_64/vcpu-state.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { type AcpiVirtioMmio, writeAcpiTables } from "./acpi.ts";
import { setupLongModeBoot } from "./boot-cpu.ts";
import type { RamRegion } from "./layout.ts";
import { type LinuxLoadResult, loadLinux } from "./linux-loader.ts";
import { writeMpTable } from "./mptable.ts";

export interface LinuxBootInput {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline: string;
  readonly ram: readonly RamRegion[];
  readonly cpuCount: number;
  /** The virtio-mmio windows the board placed, for the DSDT. */
  readonly virtioMmio?: readonly AcpiVirtioMmio[];
}

export interface LinuxBootPlan {
  readonly kernel: LinuxLoadResult;
  /** State for every vCPU (the BSP starts there; APs are held by KVM until INIT/SIPI). */
  readonly vcpuState: X86VcpuState;
}

export function prepareLinuxBoot(memory: GuestMemoryAccess, input: LinuxBootInput): LinuxBootPlan {
  // Both CPU enumerations: the MP table for kernels with CONFIG_X86_MPPARSE, ACPI (MADT) for the others.
  writeMpTable(memory, input.cpuCount);
  const acpiRsdp = writeAcpiTables(memory, { cpuCount: input.cpuCount, virtioMmio: input.virtioMmio ?? [] });
  const kernel = loadLinux(memory, {
    kernel: input.kernel,
    cmdline: input.cmdline,
    ram: input.ram,
    acpiRsdp,
    ...(input.initrd === undefined ? {} : { initrd: input.initrd }),
  });
  const vcpuState = setupLongModeBoot(memory, { entry: kernel.entry, bootParams: kernel.bootParams });
  return { kernel, vcpuState };
}
