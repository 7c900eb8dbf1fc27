/**
 * The RISC-V `virt` boards.
 *
 * - "hypervisor" (`virt-hypervisor`): axvisor's model. Each vCPU is a VS-mode hart behind a G-stage table; the VMM
 *   is the HS-mode software: it answers SBI calls (src/vmm/riscv/sbi.ts), runs the SBI timer from its timer wheel,
 *   routes the PLIC's supervisor contexts to VSEIP, and generates the device tree passed in a1. Hart 0 starts at
 *   the kernel entry; the others wait for SBI HSM hart_start.
 * - "bare" (`virt-bare`): QEMU's `virt` with `-bios none`. Every hart starts in M-mode at the entry with
 *   a0 = hart id; CLINT and PLIC drive mip directly; an ELF with a `tohost` symbol talks HTIF (riscv-tests).
 *
 * Device models stay pure; this file is the device manager that picks their bases (from riscv-virt-layout.ts) and
 * wires their interrupt lines.
 */

import type { MemoryRegionSpec } from "../../../addrspace/addr-space.ts";
import { hex } from "../../../common/format.ts";
import { rangesOverlap } from "../../../common/ranges.ts";
import { BootTimer } from "../../../devices/boot-timer.ts";
import { Clint } from "../../../devices/clint.ts";
import { Plic } from "../../../devices/plic.ts";
import { SifiveTest } from "../../../devices/sifive-test.ts";
import { TestDevice } from "../../../devices/test-device.ts";
import type { IrqLine } from "../../../devices/types.ts";
import { UART_LSR, UART_RBR, Uart16550 } from "../../../devices/uart16550.ts";
import { EmptyVirtioMmioSlot } from "../../../devices/virtio/empty-slot.ts";
import {
  VirtioBlock,
  VirtioConsole,
  type VirtioDevice,
  VirtioMmioTransport,
  VirtioRng,
} from "../../../devices/virtio/index.ts";
import type { GuestPhysAddr } from "../../../hal/types.ts";
import type { AxVCpu } from "../../../vcpu/axvcpu.ts";
import {
  type AttachedDisk,
  type Board,
  type BoardExit,
  type BoardServices,
  type GenericExit,
  unexpectedBoardExit,
  type VcpuBoot,
} from "../../board.ts";
import type { VmConfig } from "../../config/types.ts";
import { VmError } from "../../errors.ts";
import { type LoadedImage, loadFileAt, loadKernel, readImageFile } from "../../loader/image.ts";
import { parseRiscvImage, planRiscvImageLoad, RiscvImageError } from "../../loader/riscv-image.ts";
import type { TimerHandle } from "../../timer.ts";
import { buildRiscvVirtDtb, IRQ_M_EXT, IRQ_S_EXT, virtBoardDescription } from "./device-tree.ts";
import { plicContext, plicSize, RISCV_VIRT, virtioMmioWindow } from "./layout.ts";
import {
  handleSbiCall,
  type RemoteFence,
  SBI_ERR_NOT_SUPPORTED,
  SBI_HSM_STATE_START_PENDING,
  SBI_HSM_STATE_STARTED,
  SBI_HSM_STATE_STOPPED,
  SBI_HSM_STATE_SUSPENDED,
  SBI_SUCCESS,
  type SbiHsmState,
  type SbiOutcome,
  type SbiPlatform,
  type SbiRet,
  sbiLegacyRegister,
  sbiRetRegisters,
} from "./sbi.ts";

export type RiscvBoardKind = "hypervisor" | "bare";

/** RISC-V interrupt causes (mip/hvip bit numbers). */
const IRQ_S_SOFT = 1;
const IRQ_M_SOFT = 3;
const IRQ_S_TIMER = 5;
const IRQ_M_TIMER = 7;
/** GPR numbers. */
const REG_A0 = 10;
const REG_A1 = 11;
/** Exception cause for a failed load through a legacy SBI pointer. */
const CAUSE_LOAD_ACCESS_FAULT = 5;
/** LSR data-ready bit. */
const LSR_DR = 0x01;
/** 2^41: the G-stage GPA limit of Sv39x4. */
const SV39X4_LIMIT = 2 ** 41;

/** HTIF (Berkeley host-target interface) as riscv-tests and spike use it. */
const HTIF_DEV_SYSCALL = 0;
const HTIF_DEV_CONSOLE = 1;
const HTIF_CONSOLE_GETCHAR = 0;
const HTIF_CONSOLE_PUTCHAR = 1;
const SYS_WRITE = 64;
const SYS_EXIT = 93;

export class RiscvVirtBoard implements Board {
  readonly name: string;
  readonly unmappedRead = "zeros";
  readonly #kind: RiscvBoardKind;
  #s: BoardServices | undefined;
  #uart: Uart16550 | undefined;
  #clint: Clint | undefined;
  #clintTimer: TimerHandle | undefined;
  #clintDeadline: number | undefined;
  /** Host input not yet accepted by the UART's RX FIFO. */
  #input: number[] = [];
  #hsm: SbiHsmState[] = [];
  #suspended: boolean[] = [];
  #sbiTimers: Array<TimerHandle | undefined> = [];
  #ipiPending: boolean[] = [];
  #htif: { tohost: number; fromhost: number | undefined } | undefined;
  #createdAt = performance.now();
  #platform: SbiPlatform | undefined;
  #virtioNodes: Array<{ base: number; size: number; irq: number }> = [];
  readonly #counters = { sbiCalls: 0, htifRequests: 0 };

  constructor(kind: RiscvBoardKind) {
    this.#kind = kind;
    this.name = kind === "hypervisor" ? "riscv-virt-hypervisor" : "riscv-virt-bare";
  }

  vmOptions(config: VmConfig) {
    const top = Math.max(...config.memoryRegions.map((r) => r.gpa + r.size));
    return {
      arch: "riscv64" as const,
      cpuCount: config.cpuNum,
      mode: this.#kind === "bare" ? ("bare-machine" as const) : ("hypervisor" as const),
      timebaseHz: config.kernel.timebaseFrequency,
      gstageMode: top <= SV39X4_LIMIT ? ("sv39x4" as const) : ("sv48x4" as const),
    };
  }

  memoryRegions(config: VmConfig): MemoryRegionSpec[] {
    return config.memoryRegions.map((r, i) => ({
      name: `ram${i}`,
      gpa: r.gpa,
      size: r.size,
      flags: r.flags,
      mapType: r.mapType,
    }));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Devices
  // ------------------------------------------------------------------------------------------------------------

  attach(s: BoardServices): void {
    this.#s = s;
    const harts = s.vcpuCount;
    this.#hsm = Array.from({ length: harts }, () => SBI_HSM_STATE_STOPPED);
    this.#suspended = Array.from({ length: harts }, () => false);
    this.#sbiTimers = Array.from({ length: harts }, () => undefined);
    this.#ipiPending = Array.from({ length: harts }, () => false);

    // PLIC: context 2h is hart h's M-mode, 2h+1 its S-mode (QEMU virt numbering). A VS guest has no M-mode: its
    // M contexts exist (so guests written for QEMU find the same addresses) but drive nothing.
    const contexts: IrqLine[] = [];
    for (let hart = 0; hart < harts; hart++) {
      contexts[plicContext(hart, "M")] =
        this.#kind === "bare" ? this.#cpuLine(hart, IRQ_M_EXT) : { set: () => undefined, trigger: () => undefined };
      contexts[plicContext(hart, "S")] = this.#cpuLine(hart, IRQ_S_EXT);
    }
    const plic = new Plic({ sources: RISCV_VIRT.PLIC_NUM_SOURCES - 1, contexts });
    s.mmio.insert(RISCV_VIRT.PLIC_BASE, plicSize(harts), plic);

    const uart = new Uart16550({
      sink: (bytes) => s.console.write(bytes),
      irq: plic.sourceLine(RISCV_VIRT.UART0_IRQ),
      onInputSpace: () => this.#feedInput(),
    });
    this.#uart = uart;
    s.mmio.insert(RISCV_VIRT.UART0_BASE, RISCV_VIRT.UART0_SIZE, uart);

    s.mmio.insert(
      RISCV_VIRT.SIFIVE_TEST_BASE,
      RISCV_VIRT.SIFIVE_TEST_SIZE,
      new SifiveTest({
        onFinish: ({ action, code }) =>
          s.requestSystemDown(
            action === "reset" ? "reboot" : "poweroff",
            action === "fail" ? Math.max(1, code) : code,
            `sifive,test finisher: ${action} (code ${code})`,
          ),
      }),
    );
    s.mmio.insert(RISCV_VIRT.TEST_DEVICE_BASE, RISCV_VIRT.TEST_DEVICE_SIZE, new TestDevice());
    s.mmio.insert(
      RISCV_VIRT.BOOT_TIMER_BASE,
      RISCV_VIRT.BOOT_TIMER_SIZE,
      new BootTimer({
        onBootComplete: () => {
          const ms = performance.now() - this.#createdAt;
          s.log.info(`${s.label}: Guest-boot-time = ${Math.round(ms * 1000)} us ${ms.toFixed(0)} ms`);
        },
      }),
    );

    if (this.#kind === "bare") {
      const clint = new Clint({
        harts: Array.from({ length: harts }, (_, hart) => ({
          msip: this.#cpuLine(hart, IRQ_M_SOFT),
          mtip: this.#cpuLine(hart, IRQ_M_TIMER),
        })),
        now: () => s.now(),
      });
      this.#clint = clint;
      s.mmio.insert(RISCV_VIRT.CLINT_BASE, RISCV_VIRT.CLINT_SIZE, clint);
    }

    this.#attachVirtio(s, plic);
  }

  /**
   * virtio-mmio: `emu_devices` entries of type virtio-blk, virtio-console or virtio-rng go where they say (base and
   * PLIC source), the n-th virtio-blk entry serving the n-th disk; the other disks (the builder opened and locked
   * them) take the free layout windows in order, so `kernel.disk_path` alone is window 0 (/dev/vda); every window
   * left over holds an empty slot (DeviceID 0), so the device tree can list all of them as QEMU does.
   */
  #attachVirtio(s: BoardServices, plic: Plic): void {
    const placed = new Map<number, { irq: number; size: number }>();
    const place = (base: number, size: number, irq: number, device: VirtioDevice<unknown>): void => {
      const transport = new VirtioMmioTransport({
        device,
        memory: s.memory,
        irq: plic.sourceLine(irq),
        deferWork: s.deferWork,
      });
      s.mmio.insert(base, size, transport);
      placed.set(base, { irq, size });
    };
    const blockDevice = (disk: AttachedDisk): VirtioBlock =>
      new VirtioBlock({
        backend: disk.backend,
        readOnly: disk.config.readOnly,
        ...(disk.config.serial === undefined ? {} : { serial: disk.config.serial }),
      });
    let nextDisk = 0;
    for (const device of s.config.devices.emuDevices) {
      switch (device.emuType) {
        case "virtio-blk": {
          const disk = s.disks[nextDisk++];
          if (disk === undefined)
            throw new VmError(
              "config",
              s.label,
              `emu_devices entry "${device.name}" is a virtio-blk, but no disk (kernel.disk_path, [[devices.disks]]) is left for it`,
            );
          place(device.baseGpa, device.length, device.irqId, blockDevice(disk));
          break;
        }
        case "virtio-console":
          place(
            device.baseGpa,
            device.length,
            device.irqId,
            new VirtioConsole({ sink: (bytes) => s.console.write(bytes) }),
          );
          break;
        case "virtio-rng":
          place(device.baseGpa, device.length, device.irqId, new VirtioRng());
          break;
        default:
          s.log.warn(
            `${s.label}: emu_devices entry "${device.name}" (${device.emuType} at ${hex(device.baseGpa)}) is not provided by the ${this.name} board; ignored`,
          );
      }
    }
    for (const disk of s.disks.slice(nextDisk)) {
      const free = Array.from({ length: RISCV_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => virtioMmioWindow(i)).find(
        (w) => !placed.has(w.base),
      );
      if (free === undefined)
        throw new VmError("config", s.label, `no virtio-mmio window is left for the disk ${disk.config.path}`);
      place(free.base, free.size, free.irq, blockDevice(disk));
    }
    this.#virtioNodes = [];
    for (let i = 0; i < RISCV_VIRT.VIRTIO_MMIO_COUNT; i++) {
      const window = virtioMmioWindow(i);
      if (!placed.has(window.base)) s.mmio.insert(window.base, window.size, new EmptyVirtioMmioSlot());
      this.#virtioNodes.push(window);
    }
    for (const [base, { irq, size }] of placed) {
      if (!this.#virtioNodes.some((w) => w.base === base)) this.#virtioNodes.push({ base, size, irq });
    }
  }

  /** An interrupt line into hart `hart`'s interrupt-pending bit `cause`, waking the hart on a rising level. */
  #cpuLine(hart: number, cause: number): IrqLine {
    const set = (level: boolean): void => {
      const s = this.#services();
      s.vcpu(hart).arch.setInterruptLevel(cause, level);
      if (level) s.wakeVcpu(hart);
    };
    return {
      set,
      trigger: () => {
        set(true);
        set(false);
      },
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Images
  // ------------------------------------------------------------------------------------------------------------

  load(s: BoardServices): VcpuBoot[] {
    const { kernel } = s.config;
    const loaded = this.#loadKernel(s);
    if (kernel.bios !== undefined) {
      if (kernel.bios.loadAddr === undefined)
        throw new VmError("image", s.label, `kernel.bios_load_addr is required with bios_path ${kernel.bios.path}`);
      loadFileAt(s.memory, kernel.bios.path, kernel.bios.loadAddr, "BIOS");
    }
    const initrd = this.#loadRamdisk(s, loaded);
    const dtbAddr = this.#placeDtb(s, loaded, initrd);
    if (this.#kind === "bare") this.#findHtif(loaded);

    return Array.from({ length: s.vcpuCount }, (_, hart): VcpuBoot => {
      const startsRunning = this.#kind === "bare" || hart === 0;
      if (startsRunning) this.#hsm[hart] = SBI_HSM_STATE_STARTED;
      return {
        entry: kernel.entryPoint,
        startsRunning,
        setup: {
          gprs: [
            [REG_A0, BigInt(hart)],
            [REG_A1, BigInt(dtbAddr ?? 0)],
          ],
        },
      };
    });
  }

  /** A Linux `Image` is checked against its header (2 MiB alignment, image_size inside RAM); others load as is. */
  #loadKernel(s: BoardServices): LoadedImage {
    const image = s.config.kernel.image;
    if (image.format !== "linux-image") return loadKernel(s.memory, image);
    const bytes = readImageFile(image.path, "kernel");
    try {
      const header = parseRiscvImage(bytes, image.path);
      const plan = planRiscvImageLoad(
        header,
        bytes.length,
        {
          ram: s.config.memoryRegions.map((r) => ({ base: r.gpa, size: r.size })),
          loadAddress: image.loadAddr,
        },
        image.path,
      );
      return loadKernel(s.memory, { ...image, loadAddr: plan.loadAddress, size: plan.span }, bytes);
    } catch (error) {
      if (error instanceof RiscvImageError) throw new VmError("image", s.label, error.message, { cause: error });
      throw error;
    }
  }

  #loadRamdisk(s: BoardServices, kernel: LoadedImage): { start: number; end: number } | undefined {
    const ramdisk = s.config.kernel.ramdisk;
    if (ramdisk === undefined) return undefined;
    let at = ramdisk.loadAddr;
    if (at === undefined) {
      // QEMU's rule: far enough above the kernel that decompressing it cannot clobber the initrd.
      const region = s.addrSpace.regionOf(kernel.start);
      const ramSize = region?.size ?? 0;
      at = Math.ceil((kernel.start + Math.min(ramSize / 2, 128 * 1024 * 1024)) / 0x1000) * 0x1000;
    }
    const image = loadFileAt(s.memory, ramdisk.path, at, "ramdisk");
    return { start: image.start, end: image.end };
  }

  /** Load or generate the device tree; returns its address (a1), or undefined when the board gives none. */
  #placeDtb(
    s: BoardServices,
    kernel: LoadedImage,
    initrd: { start: number; end: number } | undefined,
  ): GuestPhysAddr | undefined {
    const dtb = s.config.kernel.dtb;
    if (dtb === undefined) return undefined;
    if (dtb.kind === "file") {
      const at = dtb.loadAddr ?? this.#defaultDtbAddr(s, dtb.size ?? RISCV_VIRT.DTB_MAX_SIZE);
      return loadFileAt(s.memory, dtb.path, at, "DTB").start;
    }
    // The bare board has no generated tree: bare-metal programs probe nothing, and one with a CLINT and M-mode
    // PLIC contexts would be a different description. A `dtb_path` is still honoured above.
    if (this.#kind === "bare") return undefined;
    const memory = s.config.memoryRegions
      .filter((r) => r.mapType !== "reserved")
      .map((r) => ({ base: r.gpa, size: r.size }));
    const board = virtBoardDescription({
      harts: s.vcpuCount,
      memory,
      // The emulated hart implements RV64GC; the VMM turns on Sstc (henvcfg.STCE) for its guests.
      isaExtensions: ["g", "c"],
      sstc: true,
      mmuType: "riscv,sv48",
      timebaseFrequency: s.config.kernel.timebaseFrequency,
      ...(s.config.kernel.cmdline === undefined ? {} : { bootargs: s.config.kernel.cmdline }),
      ...(initrd === undefined ? {} : { initrd }),
    });
    const blob = buildRiscvVirtDtb({
      ...board,
      virtio: this.#virtioNodes,
      reservedMemory: s.config.memoryRegions
        .filter((r) => r.mapType === "reserved")
        .map((r) => ({ base: r.gpa, size: r.size })),
    });
    const at = dtb.loadAddr ?? this.#defaultDtbAddr(s, blob.length);
    if (rangesOverlap(at, blob.length, kernel.start, kernel.end - kernel.start)) {
      throw new VmError(
        "image",
        s.label,
        `the device tree at ${hex(at)} (${blob.length} bytes) would overlap the kernel at ${hex(kernel.start)}..${hex(kernel.end - 1)}`,
      );
    }
    if (initrd !== undefined && rangesOverlap(at, blob.length, initrd.start, initrd.end - initrd.start)) {
      throw new VmError(
        "image",
        s.label,
        `the device tree at ${hex(at)} (${blob.length} bytes) would overlap the ramdisk at ${hex(initrd.start)}..${hex(initrd.end - 1)}`,
      );
    }
    if (!s.memory.contains(at, blob.length)) {
      throw new VmError(
        "image",
        s.label,
        `the device tree (${blob.length} bytes) does not fit in guest RAM at ${hex(at)}`,
      );
    }
    s.memory.write(at, blob);
    return at;
  }

  /** Top of the first RAM region, DTB_ALIGN aligned, with room for `size` bytes. */
  #defaultDtbAddr(s: BoardServices, size: number): GuestPhysAddr {
    const region = s.addrSpace.regions[0];
    if (region === undefined) throw new VmError("image", s.label, "no RAM for the device tree");
    const end = region.gpa + region.size;
    return Math.floor((end - size) / RISCV_VIRT.DTB_ALIGN) * RISCV_VIRT.DTB_ALIGN;
  }

  #findHtif(loaded: LoadedImage): void {
    const tohost = loaded.elf?.symbols.get("tohost");
    if (tohost === undefined) return;
    this.#htif = { tohost: tohost.value, fromhost: loaded.elf?.symbols.get("fromhost")?.value };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Exits
  // ------------------------------------------------------------------------------------------------------------

  handleExit(vcpuId: number, exit: BoardExit): GenericExit | undefined {
    if (exit.kind !== "SbiCall") throw unexpectedBoardExit(this.name, vcpuId, exit);
    this.#counters.sbiCalls++;
    const outcome = handleSbiCall(exit, vcpuId, this.#sbiPlatform());
    return this.#apply(vcpuId, outcome);
  }

  #apply(hart: number, outcome: SbiOutcome): GenericExit | undefined {
    const vcpu = this.#services().vcpu(hart);
    switch (outcome.kind) {
      case "Return":
        writeRet(vcpu, outcome);
        return undefined;
      case "LegacyReturn":
        vcpu.setGpr(REG_A0, sbiLegacyRegister(outcome.value));
        return undefined;
      case "CpuUp":
        writeRet(vcpu, outcome.ret);
        this.#hsm[outcome.targetCpu] = SBI_HSM_STATE_START_PENDING;
        return { kind: "CpuUp", targetCpu: outcome.targetCpu, entryPoint: outcome.entryPoint, arg: outcome.arg };
      case "CpuDown":
        this.#hsm[hart] = SBI_HSM_STATE_STOPPED;
        return { kind: "CpuDown", state: 0n };
      case "Suspend":
        this.#suspended[hart] = true;
        if (outcome.retentive) {
          writeRet(vcpu, outcome.ret);
        } else {
          vcpu.setEntry(outcome.resumeAddr);
          vcpu.setGpr(REG_A0, BigInt(hart));
          vcpu.setGpr(REG_A1, outcome.opaque);
        }
        return { kind: "Halt" };
      case "SystemDown":
        return { kind: "SystemDown", action: outcome.action, code: outcome.code };
      case "Hypercall":
        return { kind: "Hypercall", nr: outcome.nr, args: outcome.args };
      case "GuestTrap": {
        const riscv = this.#riscv(vcpu);
        riscv.setPc(riscv.getPc() - 4n);
        riscv.injectException(Number(outcome.cause), outcome.tval);
        return undefined;
      }
    }
  }

  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    vcpu.setEntry(entry);
    vcpu.setGpr(REG_A0, BigInt(vcpu.id));
    vcpu.setGpr(REG_A1, arg);
    this.#hsm[vcpu.id] = SBI_HSM_STATE_STARTED;
    this.#suspended[vcpu.id] = false;
  }

  /** The hypercall extension answers like any SBI call: a0 = error (NOT_SUPPORTED if unhandled), a1 = value. */
  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void {
    writeRet(
      vcpu,
      result === undefined ? { error: SBI_ERR_NOT_SUPPORTED, value: 0n } : { error: SBI_SUCCESS, value: result },
    );
  }

  #riscv(vcpu: AxVCpu) {
    const riscv = vcpu.arch.riscv;
    if (riscv === undefined)
      throw new VmError("backend", this.#services().label, "the backend does not offer RISC-V vCPU operations");
    return riscv;
  }

  #sbiPlatform(): SbiPlatform {
    if (this.#platform !== undefined) return this.#platform;
    const s = this.#services();
    const machine = this;
    this.#platform = {
      hartCount: s.vcpuCount,
      memory: s.memory,
      guestHasHypervisorExtension: false,
      machineIds: { mvendorid: 0n, marchid: 0n, mimpid: 0n },
      hartState(hart) {
        // A suspended hart that is running again (its halt ended) is STARTED.
        if (machine.#suspended[hart] === true && s.vcpu(hart).state !== "Blocked") machine.#suspended[hart] = false;
        if (machine.#suspended[hart] === true) return SBI_HSM_STATE_SUSPENDED;
        return machine.#hsm[hart] ?? SBI_HSM_STATE_STOPPED;
      },
      setTimer(hart, stimeValue) {
        const vcpu = s.vcpu(hart);
        s.timers.cancel(machine.#sbiTimers[hart]);
        machine.#sbiTimers[hart] = undefined;
        vcpu.arch.setInterruptLevel(IRQ_S_TIMER, false);
        // A deadline beyond 2^53 ticks (Linux writes all ones to disarm) never arrives.
        if (stimeValue >= BigInt(Number.MAX_SAFE_INTEGER)) return;
        machine.#sbiTimers[hart] = s.timers.add(Number(stimeValue), () => {
          machine.#sbiTimers[hart] = undefined;
          vcpu.arch.setInterruptLevel(IRQ_S_TIMER, true);
          s.wakeVcpu(hart);
        });
      },
      sendIpi(targets) {
        for (const hart of targets) {
          machine.#ipiPending[hart] = true;
          s.vcpu(hart).arch.setInterruptLevel(IRQ_S_SOFT, true);
          s.wakeVcpu(hart);
        }
      },
      clearIpi(hart) {
        const was = machine.#ipiPending[hart] === true;
        machine.#ipiPending[hart] = false;
        s.vcpu(hart).arch.setInterruptLevel(IRQ_S_SOFT, false);
        return was;
      },
      remoteFence(targets, fence: RemoteFence) {
        for (const hart of targets) s.vcpu(hart).arch.riscv?.fence(fence.kind);
      },
      consoleWrite(bytes) {
        s.console.write(bytes);
        return bytes.length;
      },
      consoleRead(maxBytes) {
        return machine.#readConsoleInput(maxBytes);
      },
      readGuestVirtualU64(hart, gva) {
        const riscv = machine.#riscv(s.vcpu(hart));
        const translated = riscv.translateGuestVirtual(gva, "read");
        if (!translated.ok) return { ok: false, cause: BigInt(translated.cause), tval: translated.tval };
        if (!s.memory.contains(translated.gpa, 8))
          return { ok: false, cause: BigInt(CAUSE_LOAD_ACCESS_FAULT), tval: gva };
        return { ok: true, value: s.memory.readU64(translated.gpa) };
      },
    };
    return this.#platform;
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

  /** SBI console reads take bytes from the UART, as OpenSBI's getchar does on QEMU virt. */
  #readConsoleInput(maxBytes: number): Uint8Array {
    const uart = this.#uart;
    const out: number[] = [];
    while (uart !== undefined && out.length < maxBytes && (uart.read(UART_LSR, 1) & LSR_DR) !== 0)
      out.push(uart.read(UART_RBR, 1));
    return Uint8Array.from(out);
  }

  poll(): void {
    if (this.#clint !== undefined) this.#armClint(this.#clint);
    if (this.#htif !== undefined) this.#pollHtif(this.#htif);
  }

  /**
   * Bring the CLINT's MTIP lines up to date (a deadline may have passed while the hart ran) and keep one wheel
   * timer at its next change (writes to mtimecmp move it).
   */
  #armClint(clint: Clint): void {
    clint.tick();
    const deadline = clint.nextDeadline();
    if (deadline === this.#clintDeadline) return;
    const s = this.#services();
    s.timers.cancel(this.#clintTimer);
    this.#clintDeadline = deadline;
    this.#clintTimer =
      deadline === undefined
        ? undefined
        : s.timers.add(deadline, () => {
            this.#clintTimer = undefined;
            this.#clintDeadline = undefined;
            clint.tick();
          });
  }

  #pollHtif(htif: { tohost: number; fromhost: number | undefined }): void {
    const s = this.#services();
    if (!s.memory.contains(htif.tohost, 8)) return;
    const value = s.memory.readU64(htif.tohost);
    if (value === 0n) return;
    this.#counters.htifRequests++;
    const device = Number(value >> 56n);
    const command = Number((value >> 48n) & 0xffn);
    const payload = value & 0xffff_ffff_ffffn;
    s.memory.writeU64(htif.tohost, 0n);
    if (device === HTIF_DEV_SYSCALL && command === 0) {
      if ((payload & 1n) === 1n) {
        const code = Number(payload >> 1n);
        s.requestSystemDown("poweroff", code, `HTIF exit ${code}`);
        return;
      }
      this.#htifSyscall(s, Number(payload), htif.fromhost);
      return;
    }
    if (device === HTIF_DEV_CONSOLE && command === HTIF_CONSOLE_PUTCHAR) {
      s.console.write(Uint8Array.of(Number(payload & 0xffn)));
      return;
    }
    if (device === HTIF_DEV_CONSOLE && command === HTIF_CONSOLE_GETCHAR && htif.fromhost !== undefined) {
      const [byte] = this.#readConsoleInput(1);
      s.memory.writeU64(htif.fromhost, (1n << 56n) | BigInt(byte ?? 0xff));
      return;
    }
    s.log.debug(`${s.label}: HTIF request ${hex(value)} ignored`);
  }

  /** The proxied syscalls of riscv-tests' benchmarks (`magic_mem`: [which, a0, a1, a2, ...]). */
  #htifSyscall(s: BoardServices, magic: number, fromhost: number | undefined): void {
    if (!s.memory.contains(magic, 64)) return;
    const which = Number(s.memory.readU64(magic));
    const arg0 = Number(s.memory.readU64(magic + 8));
    const arg1 = Number(s.memory.readU64(magic + 16));
    const arg2 = Number(s.memory.readU64(magic + 24));
    let result = -38n; // -ENOSYS
    if (which === SYS_WRITE && (arg0 === 1 || arg0 === 2) && s.memory.contains(arg1, arg2)) {
      s.console.write(s.memory.read(arg1, arg2));
      result = BigInt(arg2);
    } else if (which === SYS_EXIT) {
      s.requestSystemDown("poweroff", arg0, `HTIF exit syscall ${arg0}`);
      return;
    }
    s.memory.writeU64(magic, BigInt.asUintN(64, result));
    if (fromhost !== undefined) s.memory.writeU64(fromhost, 1n);
  }

  stats(): Record<string, number> {
    return { ...this.#counters };
  }

  close(): void {
    this.#input = [];
  }

  #services(): BoardServices {
    if (this.#s === undefined) throw new Error("machine used before attach");
    return this.#s;
  }
}

function writeRet(vcpu: AxVCpu, ret: SbiRet): void {
  const { a0, a1 } = sbiRetRegisters(ret);
  vcpu.setGpr(REG_A0, a0);
  vcpu.setGpr(REG_A1, a1);
}
