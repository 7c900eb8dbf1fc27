/**
 * The x86 PC machine (KVM backend): RAM from the config below the MMIO hole (and from 4 GiB), COM1 on IRQ 4, the
 * i8042 whose reset line `reboot=k` pulses, the boot-timer page, the in-kernel PIC/IOAPIC/LAPIC/PIT of the
 * backend, an MP table and ACPI tables for the CPUs. Kernels: bzImage or ELF vmlinux through the Linux boot
 * protocol (64-bit entry); any other image is a flat binary entered in real mode at the entry point (our ring-0
 * test guests). The pieces are the other files of this folder (layout, loader, tables, legacy devices); this wires
 * them. The architecture's facts (registers, the hypercall contract) are src/arch/x86_64's.
 */

import type { MemoryRegionSpec } from "../../../addrspace/addr-space.ts";
import { AXVISOR_HYPERCALL_RESULT_REG } from "../../../arch/x86_64/hypercall.ts";
import { X86_REG_RAX, x86GprNumber } from "../../../arch/x86_64/registers.ts";
import { hex, hexRange } from "../../../common/format.ts";
import { rangesOverlap } from "../../../common/ranges.ts";
import type { GuestPhysAddr } from "../../../hal/types.ts";
import type { AxVCpu } from "../../../vcpu/axvcpu.ts";
import {
  type Board,
  type BoardExit,
  type BoardServices,
  type GenericExit,
  unexpectedBoardExit,
  type VcpuBoot,
} from "../../board.ts";
import type { VmConfig } from "../../config/types.ts";
import { errorMessage, VmError } from "../../errors.ts";
import { loadKernel, readImageFile } from "../../loader/image.ts";
import { KVM_PRIVATE_SIZE, KVM_PRIVATE_START, MMIO_MEM_SIZE, MMIO_MEM_START } from "./layout.ts";
import { attachX86LegacyDevices } from "./legacy-devices.ts";
import { prepareLinuxBoot } from "./linux-boot.ts";

/** -ENOSYS for hypercalls nobody handles. */
const ENOSYS = -38n;

export class X86PcBoard implements Board {
  readonly name = "x86-pc";
  readonly unmappedRead = "ones";
  #createdAt = performance.now();

  vmOptions(config: VmConfig) {
    return { arch: "x86_64" as const, cpuCount: config.cpuNum, x86: { privatePagesBase: KVM_PRIVATE_START } };
  }

  memoryRegions(config: VmConfig): MemoryRegionSpec[] {
    const label = `vm ${config.id} (${config.name})`;
    return config.memoryRegions.map((r, i) => {
      for (const [what, start, size] of [
        ["the MMIO hole", MMIO_MEM_START, MMIO_MEM_SIZE],
        ["KVM's private pages", KVM_PRIVATE_START, KVM_PRIVATE_SIZE],
      ] as const) {
        if (rangesOverlap(r.gpa, r.size, start, size)) {
          throw new VmError(
            "config",
            label,
            `kernel.memory_regions[${i}] (${hexRange(r.gpa, r.size)}) overlaps ${what} (${hexRange(start, size)}); x86 RAM goes below ${hex(MMIO_MEM_START)} and from 4 GiB`,
          );
        }
      }
      return { name: `ram${i}`, gpa: r.gpa, size: r.size, flags: r.flags, mapType: r.mapType };
    });
  }

  attach(s: BoardServices): void {
    attachX86LegacyDevices({
      portBus: s.port,
      mmioBus: s.mmio,
      setIrqLine: (gsi, level) => s.halVm.setIrqLine(gsi, level),
      serialSink: (bytes) => s.console.write(bytes),
      onReset: () => s.requestSystemDown("reboot", 0, "i8042 reset line pulsed"),
      onBootComplete: () => {
        const ms = performance.now() - this.#createdAt;
        s.log.info(`${s.label}: Guest-boot-time = ${Math.round(ms * 1000)} us ${ms.toFixed(0)} ms`);
      },
    });
    for (const device of s.config.devices.emuDevices) {
      s.log.warn(
        `${s.label}: emu_devices entry "${device.name}" (${device.emuType} at ${hex(device.baseGpa)}) is not provided by the ${this.name} machine; ignored`,
      );
    }
  }

  load(s: BoardServices): VcpuBoot[] {
    const { kernel } = s.config;
    if (kernel.image.format === "bzimage" || (kernel.image.format === "elf" && s.config.vmType === "linux")) {
      return this.#loadLinux(s);
    }
    // A flat test guest (or a non-Linux ELF): loaded as is, entered in real mode; only vCPU 0 runs at first.
    loadKernel(s.memory, kernel.image);
    return Array.from({ length: s.vcpuCount }, (_, id) => ({
      entry: kernel.entryPoint,
      setup: {},
      startsRunning: id === 0,
    }));
  }

  #loadLinux(s: BoardServices): VcpuBoot[] {
    const { kernel } = s.config;
    const bytes = readImageFile(kernel.image.path, "kernel");
    const initrd = kernel.ramdisk === undefined ? undefined : readImageFile(kernel.ramdisk.path, "ramdisk");
    let plan: ReturnType<typeof prepareLinuxBoot>;
    try {
      plan = prepareLinuxBoot(s.memory, {
        kernel: bytes,
        ...(initrd === undefined ? {} : { initrd }),
        cmdline: kernel.cmdline ?? "",
        ram: s.config.memoryRegions.map((r) => ({ gpa: r.gpa, size: r.size })),
        cpuCount: s.vcpuCount,
      });
    } catch (error) {
      throw new VmError("image", s.label, `cannot boot ${kernel.image.path}: ${errorMessage(error)}`, { cause: error });
    }
    s.log.debug(
      `${s.label}: Linux ${plan.kernel.format} entry ${hex(plan.kernel.entry)}, boot_params ${hex(plan.kernel.bootParams)}`,
    );
    // Every vCPU gets the boot state; with the in-kernel LAPIC the APs sit in KVM until the kernel's INIT/SIPI.
    return Array.from({ length: s.vcpuCount }, () => ({
      entry: plan.kernel.entry,
      setup: { x86: plan.vcpuState },
      startsRunning: true,
    }));
  }

  handleExit(vcpuId: number, exit: BoardExit): GenericExit | undefined {
    throw unexpectedBoardExit(this.name, vcpuId, exit);
  }

  /** A started vCPU finds `arg` in RAX. */
  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    vcpu.setEntry(entry);
    vcpu.setGpr(X86_REG_RAX, arg);
  }

  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void {
    vcpu.setGpr(x86GprNumber(AXVISOR_HYPERCALL_RESULT_REG), result ?? ENOSYS);
  }
}
