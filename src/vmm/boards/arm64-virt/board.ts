/**
 * The arm64 `virt` board (KVM backend): a QEMU-`virt`-like machine. RAM from the config at 0x4000_0000 and above;
 * the in-kernel GICv3, arch timer and PSCI (method "hvc") of the backend; a PL011 UART (interrupt-driven, with
 * console input), a PL031 RTC and a PL061 GPIO with the power button (gpio-keys) on the GIC's SPIs; virtio-mmio
 * windows (a `disk_path` as virtio-blk in window 0, `[[devices.nets]]` as virtio-net, `emu_devices` of type
 * virtio-blk/net/console/rng where they say, empty slots elsewhere); our test device and boot
 * timer. Every address is layout.ts's.
 *
 * Kernels: an arm64 Linux `Image` boots through the arm64 boot protocol (linux-boot.ts); any other image (our
 * bare-metal test guests) is loaded as is and entered at its entry point with x0 = the device tree, as a Linux
 * kernel would be. vCPU 0 starts; every other vCPU is created powered off and waits inside KVM_RUN for the guest's
 * PSCI CPU_ON, which KVM answers in the kernel (so all of them are "running" for the VMM from the start, and the
 * VMM's loop for a secondary simply sits in KVM_RUN until then). PSCI SYSTEM_OFF and SYSTEM_RESET arrive as
 * KVM_EXIT_SYSTEM_EVENT, which the VM core turns into poweroff / reboot per `on_reset`.
 */

import type { MemoryRegionSpec } from "../../../addrspace/addr-space.ts";
import { GIC_SPI_BASE } from "../../../arch/aarch64/gic.ts";
import { ARM64_IMAGE_BASE_ALIGN, ARM64_IMAGE_HEADER_SIZE } from "../../../arch/aarch64/linux-image.ts";
import { SMCCC_RET_NOT_SUPPORTED } from "../../../arch/aarch64/psci.ts";
import { AARCH64_REG_X0, vcpuAffinity } from "../../../arch/aarch64/registers.ts";
import { hex, hexRange } from "../../../common/format.ts";
import { rangesOverlap } from "../../../common/ranges.ts";
import { BootTimer } from "../../../devices/boot-timer.ts";
import { LevelIrqLine } from "../../../devices/irq.ts";
import { Pl011 } from "../../../devices/pl011.ts";
import { Pl031 } from "../../../devices/pl031.ts";
import { Pl061 } from "../../../devices/pl061.ts";
import { TestDevice } from "../../../devices/test-device.ts";
import type { IrqLine } from "../../../devices/types.ts";
import { EmptyVirtioMmioSlot } from "../../../devices/virtio/empty-slot.ts";
import { type VirtioDevice, VirtioMmioTransport } from "../../../devices/virtio/index.ts";
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
import { ImageFile, loadKernel, readImageFile, withImageFile } from "../../loader/image.ts";
import { virtioIrqLine, virtioPathDescription, watchVirtioNotifications } from "../../virtio-fast-paths.ts";
import { placeVirtioDevices } from "../virtio-placement.ts";
import { buildArm64VirtDtb } from "./device-tree.ts";
import { ARM64_VIRT, ARM64_VIRT_MAX_CPUS, arm64VirtioWindow, GPIO_INTID, RTC_INTID, UART0_INTID } from "./layout.ts";
import { Arm64ImageError, arm64BootGprs, parseArm64Image, planArm64Boot } from "./linux-boot.ts";

export class Arm64VirtBoard implements Board {
  readonly name = "arm64-virt";
  readonly unmappedRead = "zeros";
  #uart: Pl011 | undefined;
  #rtc: Pl031 | undefined;
  #gpio: Pl061 | undefined;
  /** When the power button went down (performance.now() ms), or undefined when it is up. */
  #powerKeyPressedAt: number | undefined;
  #releasePowerKey: (() => void) | undefined;
  /** Host input not yet accepted by the UART's receiver. */
  #input: number[] = [];
  #virtioNodes: Array<{ base: number; size: number; spi: number }> = [];
  #createdAt = performance.now();

  vmOptions(config: VmConfig) {
    if (config.cpuNum > ARM64_VIRT_MAX_CPUS) {
      throw new VmError(
        "config",
        `vm ${config.id} (${config.name})`,
        `base.cpu_num = ${config.cpuNum}: the ${this.name} board's GIC redistributor region holds ${ARM64_VIRT_MAX_CPUS} vCPUs`,
      );
    }
    return {
      arch: "aarch64" as const,
      cpuCount: config.cpuNum,
      aarch64: {
        gicDistributorBase: ARM64_VIRT.GIC_DIST_BASE,
        gicRedistributorBase: ARM64_VIRT.GIC_REDIST_BASE,
        gicRedistributorSize: ARM64_VIRT.GIC_REDIST_SIZE,
      },
    };
  }

  memoryRegions(config: VmConfig): MemoryRegionSpec[] {
    const label = `vm ${config.id} (${config.name})`;
    return config.memoryRegions.map((r, i) => {
      if (rangesOverlap(r.gpa, r.size, 0, ARM64_VIRT.RAM_BASE)) {
        throw new VmError(
          "config",
          label,
          `kernel.memory_regions[${i}] (${hexRange(r.gpa, r.size)}) overlaps the device area below ${hex(ARM64_VIRT.RAM_BASE)}; arm64 virt RAM starts there`,
        );
      }
      return { name: `ram${i}`, gpa: r.gpa, size: r.size, flags: r.flags, mapType: r.mapType };
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Devices
  // ------------------------------------------------------------------------------------------------------------

  attach(s: BoardServices): void {
    const uart = new Pl011({
      sink: (bytes) => s.console.write(bytes),
      irq: this.#spiLine(s, UART0_INTID),
      onInputSpace: () => this.#feedInput(),
    });
    this.#uart = uart;
    s.mmio.insert(ARM64_VIRT.UART0_BASE, ARM64_VIRT.UART0_SIZE, uart);
    const rtc = new Pl031({ irq: this.#spiLine(s, RTC_INTID) });
    this.#rtc = rtc;
    s.mmio.insert(ARM64_VIRT.RTC_BASE, ARM64_VIRT.RTC_SIZE, rtc);
    const gpio = new Pl061({ irq: this.#spiLine(s, GPIO_INTID) });
    this.#gpio = gpio;
    s.mmio.insert(ARM64_VIRT.GPIO_BASE, ARM64_VIRT.GPIO_SIZE, gpio);
    this.#releasePowerKey = () => {
      this.#powerKeyPressedAt = undefined;
      gpio.setInput(ARM64_VIRT.POWER_KEY_GPIO_LINE, false);
    };
    s.mmio.insert(ARM64_VIRT.TEST_DEVICE_BASE, ARM64_VIRT.TEST_DEVICE_SIZE, new TestDevice());
    s.mmio.insert(
      ARM64_VIRT.BOOT_TIMER_BASE,
      ARM64_VIRT.BOOT_TIMER_SIZE,
      new BootTimer({
        onBootComplete: () => {
          const ms = performance.now() - this.#createdAt;
          s.log.info(`${s.label}: Guest-boot-time = ${Math.round(ms * 1000)} us ${ms.toFixed(0)} ms`);
        },
      }),
    );
    this.#attachVirtio(s);
  }

  /** A level line into the in-kernel GIC's SPI `intid` (KVM_IRQ_LINE on every change). */
  #spiLine(s: BoardServices, intid: number): IrqLine {
    return new LevelIrqLine((level) => s.halVm.setIrqLine(intid, level));
  }

  /**
   * virtio-mmio, placed as on every board (../virtio-placement.ts) with `irq_id` as the GIC INTID of an SPI, so
   * `kernel.disk_path` alone is window 0 (/dev/vda); every window left over holds an empty slot, listed in the
   * device tree as QEMU does.
   */
  #attachVirtio(s: BoardServices): void {
    const placed = new Map<number, { spi: number; size: number }>();
    const place = (base: number, size: number, intid: number, device: VirtioDevice<unknown>): void => {
      const transport = new VirtioMmioTransport({
        device,
        memory: s.memory,
        irq: virtioIrqLine(s.halVm, intid),
        deferWork: s.deferWork,
      });
      s.mmio.insert(base, size, transport);
      watchVirtioNotifications(s.halVm, base, transport);
      s.log.debug(`${s.label}: virtio-mmio at ${hex(base)}, INTID ${intid}: ${virtioPathDescription(s.halVm)}`);
      placed.set(base, { spi: intid - GIC_SPI_BASE, size });
    };
    const windows = Array.from({ length: ARM64_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => arm64VirtioWindow(i));
    placeVirtioDevices(s, {
      boardName: this.name,
      windows: windows.map((w) => ({ base: w.base, size: w.size, irq: w.intid })),
      checkEntry: (entry) => {
        if (entry.irqId < GIC_SPI_BASE)
          throw new VmError(
            "config",
            s.label,
            `emu_devices entry "${entry.name}" has irq_id ${entry.irqId}; on ${this.name} it is the GIC INTID of an SPI (${GIC_SPI_BASE} and up)`,
          );
      },
      place: (_what, slot, device) => place(slot.base, slot.size, slot.irq, device),
    });
    this.#virtioNodes = [];
    for (const window of windows) {
      if (!placed.has(window.base)) s.mmio.insert(window.base, window.size, new EmptyVirtioMmioSlot());
      this.#virtioNodes.push({ base: window.base, size: window.size, spi: window.spi });
    }
    for (const [base, { spi, size }] of placed) {
      if (!this.#virtioNodes.some((w) => w.base === base)) this.#virtioNodes.push({ base, size, spi });
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Images
  // ------------------------------------------------------------------------------------------------------------

  load(s: BoardServices): VcpuBoot[] {
    const { kernel } = s.config;
    // The ramdisk stays open while the boot is planned (its size places it), then goes straight into guest RAM.
    const initrdFile = kernel.ramdisk === undefined ? undefined : ImageFile.open(kernel.ramdisk.path, "ramdisk");
    try {
      return this.#loadImages(s, initrdFile);
    } finally {
      initrdFile?.close();
    }
  }

  #loadImages(s: BoardServices, initrdFile: ImageFile | undefined): VcpuBoot[] {
    const { kernel } = s.config;
    const ram = s.config.memoryRegions
      .filter((r) => r.mapType !== "reserved")
      .map((r) => ({ base: r.gpa, size: r.size }));
    const userDtb = kernel.dtb?.kind === "file" ? readImageFile(kernel.dtb.path, "DTB") : undefined;
    // The generated tree's size does not depend on the initrd's addresses (fixed-size cells): measure it first.
    const dtbSize =
      userDtb?.length ?? this.#deviceTree(s, ram, initrdFile === undefined ? undefined : { start: 0, end: 0 }).length;

    let entry: number;
    let kernelRange: { start: number; end: number };
    let plan: ReturnType<typeof planArm64Boot>;
    try {
      if (kernel.image.format === "linux-image") {
        // Only the header is read here; the kernel goes from the file straight into guest RAM.
        ({ entry, kernelRange, plan } = withImageFile(kernel.image.path, "kernel", (file) => {
          const header = parseArm64Image(file.read(0, ARM64_IMAGE_HEADER_SIZE), kernel.image.path, file.length);
          const imagePlan = planArm64Boot({
            path: kernel.image.path,
            header,
            loadAddress: kernel.image.loadAddr,
            ram,
            initrdSize: initrdFile?.length,
            initrdAddress: kernel.ramdisk?.loadAddr,
            dtbSize,
            dtbAddress: kernel.dtb?.loadAddr,
          });
          loadKernel(s.memory, { ...kernel.image, loadAddr: imagePlan.kernelStart, size: header.imageSize }, file);
          s.log.debug(
            `${s.label}: arm64 Image text_offset ${hex(header.textOffset)}, image_size ${hex(header.imageSize)} at ${hex(imagePlan.kernelStart)}`,
          );
          return {
            entry: imagePlan.kernelStart,
            kernelRange: { start: imagePlan.kernelStart, end: imagePlan.kernelEnd },
            plan: imagePlan,
          };
        }));
      } else {
        const loaded = loadKernel(s.memory, kernel.image);
        entry = kernel.entryPoint;
        kernelRange = loaded;
        // A bare-metal guest: the same placement rules for the DTB and initrd, around the image it occupies.
        plan = planArm64Boot({
          path: kernel.image.path,
          header: {
            textOffset: loaded.start % ARM64_IMAGE_BASE_ALIGN,
            imageSize: loaded.end - loaded.start,
            flags: 0n,
            legacy: false,
          },
          loadAddress: loaded.start,
          ram,
          initrdSize: initrdFile?.length,
          initrdAddress: kernel.ramdisk?.loadAddr,
          dtbSize,
          dtbAddress: kernel.dtb?.loadAddr,
        });
      }
    } catch (error) {
      if (error instanceof Arm64ImageError) throw new VmError("image", s.label, error.message, { cause: error });
      throw new VmError("image", s.label, `cannot load ${kernel.image.path}: ${errorMessage(error)}`, { cause: error });
    }
    if (initrdFile !== undefined && plan.initrd !== undefined) {
      initrdFile.copyTo(s.memory, plan.initrd.start, 0, initrdFile.length);
    }
    const dtb = userDtb ?? this.#deviceTree(s, ram, plan.initrd);
    if (dtb.length !== dtbSize) throw new Error("bug: the device tree changed size between measuring and placing it");
    s.memory.write(plan.dtb, dtb);
    s.log.debug(
      `${s.label}: kernel ${hexRange(kernelRange.start, kernelRange.end - kernelRange.start)}, entry ${hex(entry)}, DTB ${hex(plan.dtb)}${plan.initrd === undefined ? "" : `, initrd ${hexRange(plan.initrd.start, plan.initrd.end - plan.initrd.start)}`}`,
    );
    // Every vCPU is set up; the backend keeps all but vCPU 0 powered off until PSCI CPU_ON.
    return Array.from({ length: s.vcpuCount }, () => ({
      entry,
      setup: { gprs: arm64BootGprs(plan.dtb) },
      startsRunning: true,
    }));
  }

  #deviceTree(
    s: BoardServices,
    ram: ReadonlyArray<{ base: number; size: number }>,
    initrd: { start: number; end: number } | undefined,
  ): Uint8Array {
    return buildArm64VirtDtb({
      cpuAffinities: Array.from({ length: s.vcpuCount }, (_, i) => vcpuAffinity(i)),
      memory: ram,
      reservedMemory: s.config.memoryRegions
        .filter((r) => r.mapType === "reserved")
        .map((r) => ({ base: r.gpa, size: r.size })),
      virtio: this.#virtioNodes,
      ...(s.config.kernel.cmdline === undefined ? {} : { bootargs: s.config.kernel.cmdline }),
      ...(initrd === undefined ? {} : { initrd }),
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Exits, vCPU starts, hypercalls
  // ------------------------------------------------------------------------------------------------------------

  /** With KVM's in-kernel PSCI and GIC, no arm64 exit reaches the board. */
  handleExit(vcpuId: number, exit: BoardExit): GenericExit | undefined {
    throw unexpectedBoardExit(this.name, vcpuId, exit);
  }

  /** A VMM-driven CPU_ON: the vCPU starts at `entry` with the context id in x0 (PSCI's contract). */
  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    vcpu.setEntry(entry);
    vcpu.setGpr(AARCH64_REG_X0, arg);
  }

  /** SMCCC: the result in x0, NOT_SUPPORTED (-1) when nobody handled the call. */
  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void {
    vcpu.setGpr(AARCH64_REG_X0, BigInt.asUintN(64, result ?? BigInt(SMCCC_RET_NOT_SUPPORTED)));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Console input, polling
  // ------------------------------------------------------------------------------------------------------------

  consoleInput(bytes: Uint8Array): void {
    for (const byte of bytes) this.#input.push(byte);
    this.#feedInput();
  }

  #feedInput(): void {
    const uart = this.#uart;
    if (uart === undefined || this.#input.length === 0) return;
    const accepted = uart.enqueueInput(Uint8Array.from(this.#input.slice(0, uart.rxSpace)));
    this.#input.splice(0, accepted);
  }

  /**
   * Ctrl-A R on arm64, as QEMU's virt does it: press the power button (the PL061's line 3 high for 100 ms, which
   * Linux's gpio-keys reports as KEY_POWER; systemd-logind or acpid-style userspace then powers off).
   */
  requestShutdown(): string {
    const gpio = this.#gpio;
    if (gpio === undefined) return "nothing (the machine is not built yet)";
    if (this.#powerKeyPressedAt !== undefined) return "nothing: the power button is still held from the last press";
    gpio.setInput(ARM64_VIRT.POWER_KEY_GPIO_LINE, true);
    this.#powerKeyPressedAt = performance.now();
    // A host timer checks for the release (so it comes even while no vCPU exits); poll() checks too.
    const check = (): void => {
      if (this.#powerKeyPressedAt === undefined) return;
      if (!this.#releaseDue()) setTimeout(check, ARM64_VIRT.POWER_KEY_PRESS_MS / 2).unref?.();
    };
    setTimeout(check, ARM64_VIRT.POWER_KEY_PRESS_MS).unref?.();
    return "the power button (GPIO key KEY_POWER)";
  }

  /** Let the power button go once it was held long enough and the guest has read it (or it was held too long). */
  #releaseDue(): boolean {
    const pressedAt = this.#powerKeyPressedAt;
    const gpio = this.#gpio;
    if (pressedAt === undefined || gpio === undefined) return true;
    const held = performance.now() - pressedAt;
    const seen = gpio.observed(ARM64_VIRT.POWER_KEY_GPIO_LINE);
    if ((held >= ARM64_VIRT.POWER_KEY_PRESS_MS && seen) || held >= ARM64_VIRT.POWER_KEY_HOLD_MAX_MS) {
      this.#releasePowerKey?.();
      return true;
    }
    return false;
  }

  /** The RTC's match interrupt is checked between vCPU runs; so is a power button press that may end. */
  poll(): void {
    this.#rtc?.tick();
    if (this.#powerKeyPressedAt !== undefined) this.#releaseDue();
  }

  stats(): Record<string, number> {
    return { consoleInputPending: this.#input.length };
  }

  close(): void {
    this.#input = [];
    this.#powerKeyPressedAt = undefined;
    this.#releasePowerKey = undefined;
  }
}
