/**
 * The x86 PC machine (KVM backend): RAM from the config below the MMIO hole (and from 4 GiB), COM1 on IRQ 4 (with
 * host keyboard input), the i8042 (keyboard on IRQ 1, an empty AUX port on IRQ 12) whose reset line `reboot=k` and
 * the ACPI reset register pulse, ACPI power management (PM1a blocks, SCI, `\_S5`: `poweroff` ends the VM), the
 * virtio-mmio devices (disk, console, rng) described in the DSDT, the boot-timer page, the in-kernel
 * PIC/IOAPIC/LAPIC/PIT of the backend, an MP table and ACPI tables. Kernels: bzImage or ELF vmlinux through the
 * Linux boot protocol (64-bit entry); any other image is a flat binary entered in real mode at the entry point (our
 * ring-0 test guests). The pieces are the other files of this folder (layout, loader, tables, legacy, ACPI and
 * virtio devices, console input); this wires them. The architecture's facts (registers, the hypercall contract) are
 * src/arch/x86_64's.
 */

import type { MemoryRegionSpec } from "../../../addrspace/addr-space.ts";
import { AXVISOR_HYPERCALL_RESULT_REG } from "../../../arch/x86_64/hypercall.ts";
import { X86_REG_RAX, x86GprNumber } from "../../../arch/x86_64/registers.ts";
import { ENOSYS } from "../../../common/errno.ts";
import { hex, hexRange } from "../../../common/format.ts";
import { rangesOverlap } from "../../../common/ranges.ts";
import { KBD_CTRL_ALT_DEL } from "../../../devices/i8042.ts";
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
import { X86ConsoleInput } from "./console-input.ts";
import { KVM_PRIVATE_SIZE, KVM_PRIVATE_START, MMIO_MEM_SIZE, MMIO_MEM_START } from "./layout.ts";
import { attachX86LegacyDevices, type X86LegacyDevices } from "./legacy-devices.ts";
import { prepareLinuxBoot } from "./linux-boot.ts";
import { attachX86Virtio, type X86VirtioDevices } from "./virtio-devices.ts";

/** What `attach` builds. */
interface Attached {
  readonly legacy: X86LegacyDevices;
  readonly virtio: X86VirtioDevices;
}

export class X86PcBoard implements Board {
  readonly name = "x86-pc";
  readonly unmappedRead = "ones";
  #createdAt = performance.now();
  readonly #input = new X86ConsoleInput();
  #attached: Attached | undefined;

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
    const legacy = attachX86LegacyDevices({
      portBus: s.port,
      mmioBus: s.mmio,
      setIrqLine: (gsi, level) => s.halVm.setIrqLine(gsi, level),
      serialSink: (bytes) => s.console.write(bytes),
      onSerialInputSpace: () => this.#input.feed(),
      onReset: () => s.requestSystemDown("reboot", 0, "i8042 reset line pulsed"),
      onPowerOff: () => s.requestSystemDown("poweroff", 0, "ACPI S5: PM1a_CNT.SLP_EN with SLP_TYP for \\_S5"),
      onUnsupportedSleep: (slpTyp) =>
        s.log.warn(
          `${s.label}: the guest asked for ACPI sleep type ${slpTyp}, which the DSDT does not declare; ignored`,
        ),
      onBootComplete: () => {
        const ms = performance.now() - this.#createdAt;
        s.log.info(`${s.label}: Guest-boot-time = ${Math.round(ms * 1000)} us ${ms.toFixed(0)} ms`);
      },
    });
    this.#input.attach(legacy.com1);
    const virtio = attachX86Virtio(s, this.name);
    this.#attached = { legacy, virtio };
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
        virtioMmio: this.#attached?.virtio.windows ?? [],
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
    vcpu.setGpr(x86GprNumber(AXVISOR_HYPERCALL_RESULT_REG), result ?? BigInt(-ENOSYS)); // -ENOSYS: nobody handles the hypercall
  }

  consoleInput(bytes: Uint8Array): void {
    this.#input.push(bytes);
  }

  /**
   * A PC's way to ask its OS to shut down. When the guest listens to the ACPI power button (PM1_EN.PWRBTN_EN: Linux
   * sets it once its ACPI button driver is loaded, and then systemd-logind or acpid power off), press it. Otherwise
   * type Ctrl-Alt-Del on the keyboard, which every Linux understands without userspace help: the kernel restarts
   * (the VM reboots, or stops with on_reset = "stop"), or runs init's Ctrl-Alt-Del action if init took it over.
   */
  requestShutdown(): string {
    const attached = this.#attached;
    if (attached === undefined) return "nothing (the machine is not built yet)";
    const { pm1, i8042 } = attached.legacy;
    if (pm1.powerButtonEnabled) {
      pm1.pressPowerButton();
      return "the ACPI power button";
    }
    return i8042.pressChord(KBD_CTRL_ALT_DEL)
      ? "Ctrl-Alt-Del on the keyboard"
      : "nothing: the keyboard buffer is full (the guest is not reading its keyboard)";
  }

  close(): void {
    this.#input.clear();
  }
}
