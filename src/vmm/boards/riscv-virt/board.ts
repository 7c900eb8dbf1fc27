/**
 * The RISC-V `virt` boards.
 *
 * - "hypervisor" (`virt-hypervisor`): axvisor's model. Each vCPU is a VS-mode hart behind a G-stage table; the VMM
 *   is the HS-mode software: it answers SBI calls (`sbi.ts`, `sbi-platform.ts`), runs the SBI timer from its timer
 *   wheel, routes the PLIC's supervisor contexts to VSEIP, and generates the device tree passed in a1. Hart 0
 *   starts at the kernel entry; the others wait for SBI HSM hart_start.
 * - "bare" (`virt-bare`): QEMU's `virt` with `-bios none`. Every hart starts in M-mode at the entry with
 *   a0 = hart id; CLINT and PLIC drive mip directly; an ELF with a `tohost` symbol talks HTIF (riscv-tests).
 *
 * This file wires the pieces: the memory map is `layout.ts`, the devices `devices.ts`, images and the boot plan
 * `boot.ts` (with the device tree of `device-tree.ts`), SBI `sbi-platform.ts`, HTIF `htif.ts`, host input
 * `console-input.ts`.
 */

import type { MemoryRegionSpec } from "../../../addrspace/addr-space.ts";
import { SV39X4_GPA_BITS } from "../../../arch/riscv64/paging.ts";
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
import { loadImages, vcpuBootPlan } from "./boot.ts";
import { ConsoleInput } from "./console-input.ts";
import { attachDevices, ClintTimer, type RiscvBoardKind, type RiscvVirtDevices, RtcAlarmTimer } from "./devices.ts";
import { findHtifMailbox, Htif } from "./htif.ts";
import { type RiscvSbiPlatformState, RiscvVirtSbiPlatform } from "./sbi-platform.ts";

/** The G-stage GPA limit of Sv39x4: guests whose RAM ends below it get the smaller table. */
const SV39X4_LIMIT = 2 ** SV39X4_GPA_BITS;

/** What `attach` builds. */
interface Attached {
  readonly s: BoardServices;
  readonly devices: RiscvVirtDevices;
  readonly sbi: RiscvVirtSbiPlatform;
  readonly clintTimer: ClintTimer | undefined;
  readonly rtcAlarm: RtcAlarmTimer;
}

export class RiscvVirtBoard implements Board {
  readonly name: string;
  readonly unmappedRead = "zeros";
  readonly #kind: RiscvBoardKind;
  readonly #createdAt = performance.now();
  readonly #input = new ConsoleInput();
  #attached: Attached | undefined;
  #htif: Htif | undefined;

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

  attach(s: BoardServices): void {
    const devices = attachDevices(s, {
      kind: this.#kind,
      boardName: this.name,
      createdAt: this.#createdAt,
      onUartInputSpace: () => this.#input.feed(),
    });
    this.#input.attach(devices.uart);
    const sbi = new RiscvVirtSbiPlatform(s, (maxBytes) => this.#input.read(maxBytes));
    const clintTimer = devices.clint === undefined ? undefined : new ClintTimer(devices.clint, s);
    this.#attached = { s, devices, sbi, clintTimer, rtcAlarm: new RtcAlarmTimer(devices.rtc, s) };
  }

  load(s: BoardServices): VcpuBoot[] {
    const { devices, sbi } = this.#use();
    const images = loadImages(s, this.#kind, devices.virtioNodes);
    if (this.#kind === "bare") {
      const mailbox = findHtifMailbox(images.kernel);
      if (mailbox !== undefined) this.#htif = new Htif(mailbox, s, (maxBytes) => this.#input.read(maxBytes));
    }
    const plan = vcpuBootPlan(s, this.#kind, images.dtbAddr);
    plan.forEach((boot, hart) => {
      if (boot.startsRunning) sbi.markStarted(hart);
    });
    if (this.#kind !== "bare") {
      sbi.handleExitsOnHartThreads();
      sbi.answerConsoleOnHarts();
    }
    return plan;
  }

  handleExit(vcpuId: number, exit: BoardExit): GenericExit | undefined {
    if (exit.kind !== "SbiCall") throw unexpectedBoardExit(this.name, vcpuId, exit);
    return this.#use().sbi.handleCall(vcpuId, exit);
  }

  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    this.#use().sbi.startVcpu(vcpu, entry, arg);
  }

  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void {
    this.#use().sbi.completeHypercall(vcpu, result);
  }

  consoleInput(bytes: Uint8Array): void {
    this.#input.push(bytes);
  }

  poll(): void {
    this.#attached?.sbi.poll();
    this.#attached?.clintTimer?.poll();
    this.#attached?.rtcAlarm.poll();
    this.#htif?.poll();
  }

  stats(): Record<string, number> {
    return { sbiCalls: this.#attached?.sbi.calls ?? 0, htifRequests: this.#htif?.requests ?? 0 };
  }

  close(): void {
    this.#input.clear();
  }

  /** The SBI platform's per-hart state (HSM, suspends, IPIs); devices and timers are the VMM's and the harts'. */
  saveState(): RiscvSbiPlatformState {
    return this.#use().sbi.saveState();
  }

  restoreState(state: unknown): void {
    this.#use().sbi.restoreState(state as RiscvSbiPlatformState);
  }

  #use(): Attached {
    if (this.#attached === undefined) throw new Error(`${this.name} board used before attach`);
    return this.#attached;
  }
}
