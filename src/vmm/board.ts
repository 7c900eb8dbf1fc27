/**
 * A board is the architecture-specific part of a VM: which devices sit where, how images are loaded and booted,
 * and how architecture-specific exits are answered (RISC-V SBI calls, the way axvisor's riscv_vcpu answers them
 * before anything reaches the VMM). The builder (src/vmm/builder.ts) calls `vmOptions`, `memoryRegions`, `attach`
 * and `load` once per boot; the generic `AxVM` owns memory, buses, vCPUs and the exit loop, and hands the board
 * every exit it does not own (`BoardExit`), so a new architecture's exits never touch the VM core.
 */

import type { ConsolaInstance } from "consola";
import type { AddrSpace, MemoryRegionSpec } from "../addrspace/addr-space.ts";
import type { GuestMemory } from "../addrspace/guest-memory.ts";
import type { Bus } from "../devices/bus.ts";
import type { BlockBackend } from "../devices/virtio/block-backend.ts";
import type { NetBackend } from "../devices/virtio/net.ts";
import type {
  AxVCpuExitReason,
  GuestPhysAddr,
  HalVm,
  HalVmOptions,
  Stage2Mode,
  SystemDownAction,
} from "../hal/types.ts";
import type { AxVCpu, VCpuArchSetup } from "../vcpu/axvcpu.ts";
import type { DiskConfig, NetConfig, VmConfig } from "./config/types.ts";
import type { ConsoleOutput } from "./console.ts";
import { VmError } from "./errors.ts";
import type { TimerWheel } from "./timer.ts";

/** Exits the VM core answers through its buses (MMIO, port I/O, system registers), inside `AxVM.runVcpu`. */
export type BusExit = Extract<
  AxVCpuExitReason,
  { readonly kind: "MmioRead" | "MmioWrite" | "IoRead" | "IoWrite" | "SysRegRead" | "SysRegWrite" }
>;

/**
 * Exits the VM core acts on in its per-vCPU loop, whatever the architecture: lifecycle (Halt, CpuUp, CpuDown,
 * SystemDown), the axvisor hypercall, interrupts, and the errors that stop the VM. A board answers an exit of
 * its own with one of these (an SBI HSM call becomes CpuUp) or with nothing.
 */
export type GenericExit = Extract<
  AxVCpuExitReason,
  {
    readonly kind:
      | "Nothing"
      | "Halt"
      | "CpuUp"
      | "CpuDown"
      | "SystemDown"
      | "Hypercall"
      | "SendIPI"
      | "ExternalInterrupt"
      | "NestedPageFault"
      | "FailEntry"
      | "Unsupported"
      | "Debug";
  }
>;

/** Every other exit is architecture-specific (RISC-V SBI calls today; PSCI, ... tomorrow) and goes to the board. */
export type BoardExit = Exclude<AxVCpuExitReason, BusExit | GenericExit>;

/**
 * What a board throws for an exit kind its architecture never produces (a backend bug, never the guest's doing):
 * the VM stops with an error naming the vCPU.
 */
export function unexpectedBoardExit(boardName: string, vcpuId: number, exit: AxVCpuExitReason): VmError {
  return new VmError(
    "backend",
    `board ${boardName}`,
    `vCPU ${vcpuId} made a ${exit.kind} exit, which this board's architecture never produces`,
  );
}

/**
 * A disk the builder opened (and locked: src/hal/host/disk-image.ts) for the board to place as a virtio-blk
 * device. The builder closes it when the VM is released.
 */
export interface AttachedDisk {
  readonly config: DiskConfig;
  readonly backend: BlockBackend;
  /** Close the image (which releases its lock). */
  close(): void;
}

/**
 * A network interface the builder opened (its TAP attached or created: src/hal/host/tap.ts) for the board to place
 * as a virtio-net device. The builder closes it when the VM is released.
 */
export interface AttachedNet {
  readonly config: NetConfig;
  readonly backend: NetBackend;
  /** The MAC address the guest gets (6 bytes). */
  readonly mac: Uint8Array;
  /** Close the TAP (one this VM created goes away with it). */
  close(): void;
}

/** What the builder gives a board to work with. */
export interface BoardServices {
  readonly config: VmConfig;
  /** "vm 1 (name)" for messages. */
  readonly label: string;
  readonly halVm: HalVm;
  readonly addrSpace: AddrSpace;
  readonly memory: GuestMemory;
  readonly mmio: Bus;
  readonly port: Bus;
  readonly sysreg: Bus;
  readonly timers: TimerWheel;
  readonly console: ConsoleOutput;
  /** The config's disks, in order (`VmConfig.devices.disks`), opened and locked. */
  readonly disks: readonly AttachedDisk[];
  /** The config's nets, in order (`VmConfig.devices.nets`), their TAPs open. */
  readonly nets: readonly AttachedNet[];
  readonly log: ConsolaInstance;
  /** The VM's clock in timebase ticks (the guest's `time`). */
  now(): number;
  vcpu(id: number): AxVCpu;
  readonly vcpuCount: number;
  /** Something happened that may end vCPU `id`'s halt (an interrupt line rose, a timer fired). */
  wakeVcpu(id: number): void;
  /**
   * Run `task` in a later turn of the event loop (src/vmm/deferred-work.ts): what virtio transports continue a
   * queue with once a turn's budget is spent. Dropped when the VM is released.
   */
  deferWork(task: () => void): void;
  /** Stop the VM from a device (a test finisher, a reset line): the same as a SystemDown exit. */
  requestSystemDown(action: SystemDownAction, code: number, reason: string): void;
}

/** Boot plan for one vCPU. */
export interface VcpuBoot {
  readonly entry: GuestPhysAddr;
  readonly setup: VCpuArchSetup;
  /** Only the boot vCPUs run at start; the others wait for CpuUp (RISC-V HSM, x86 INIT/SIPI in the kernel). */
  readonly startsRunning: boolean;
}

export interface Board {
  /** Board name for messages ("riscv-virt-hypervisor"). */
  readonly name: string;
  /**
   * What a read from a guest-physical address with no RAM and no device returns (unmapped_mmio = "ignore"):
   * "zeros" (QEMU's unassigned memory, RISC-V boards) or "ones" (a PC's floating bus, which drivers probing for
   * absent hardware expect).
   */
  readonly unmappedRead: "zeros" | "ones";
  /** Options for `Hypervisor.createVm`, plus the G-stage format when the VMM builds the nested page table. */
  vmOptions(config: VmConfig): Omit<HalVmOptions, "vmId"> & { readonly gstageMode?: Stage2Mode };
  /** Guest memory regions to create (normally the config's). */
  memoryRegions(config: VmConfig): MemoryRegionSpec[];
  /** Create devices on the buses and wire their interrupt lines. Called once memory exists. */
  attach(services: BoardServices): void;
  /** Load kernel, DTB, ramdisk etc. into guest memory and return how each vCPU boots. */
  load(services: BoardServices): VcpuBoot[];
  /**
   * Answer an architecture-specific exit (e.g. `SbiCall`). Returns `undefined` when fully handled (the vCPU goes
   * on), or a generic exit for the VM core (CpuUp, CpuDown, SystemDown, Hypercall, ...). An exit kind the board's
   * architecture never produces is a bug in a backend: throw (the VM stops with an error naming the vCPU).
   */
  handleExit(vcpuId: number, exit: BoardExit): GenericExit | undefined;
  /** Restart a stopped vCPU at `entry` with `arg` (CpuUp): architecture-specific register set-up. */
  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void;
  /** Write a hypercall's result where the guest expects it; `undefined` means no handler took the call. */
  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void;
  /** Called between vCPU runs: move host input into devices, poll memory-mapped mailboxes (HTIF). */
  poll?(): void;
  /** Host keyboard input for this VM's console. */
  consoleInput?(bytes: Uint8Array): void;
  /**
   * Ask the guest to shut down the way the machine's own controls do (Ctrl-A R; a PC's power button or
   * Ctrl-Alt-Del). Returns what was sent, for the user. Boards without such a control leave it out.
   */
  requestShutdown?(): string;
  /** The board's own counters (SBI calls, ...), shown in the `--trace-exits` summary. */
  stats?(): Record<string, number>;
  /** Release the board's own host resources (timers, input); the builder closes the disks and nets. */
  close?(): void;
  /**
   * Snapshots: the board's own state beyond its devices on the buses (which the VMM saves one by one), e.g. the
   * firmware interface's per-hart state, as JSON-safe plain data; `restoreState` takes it back on a board built
   * from the same config. A board without them has no such state.
   */
  saveState?(): unknown;
  restoreState?(state: unknown): void;
}
