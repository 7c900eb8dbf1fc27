/**
 * The runtime parts the builder (src/vmm/builder.ts) makes for one VM, and their release in reverse order of
 * making. The VM (vm.ts) owns them once built; the builder releases what it made when making a later part fails.
 */

import type { AddrSpace } from "../addrspace/addr-space.ts";
import type { HalVm } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { AttachedDisk, AttachedNet, Board, VcpuBoot } from "./board.ts";
import type { ConsoleOutput } from "./console.ts";
import type { DeferredWork } from "./deferred-work.ts";
import type { TimerWheel } from "./timer.ts";
import type { VmBuses } from "./vm-stats.ts";

/** Everything the builder made for one VM. The VM owns it from then on and releases it when it stops. */
export interface VmParts {
  readonly board: Board;
  readonly halVm: HalVm;
  readonly addrSpace: AddrSpace;
  readonly vcpus: readonly AxVCpu[];
  readonly buses: VmBuses;
  readonly timers: TimerWheel;
  /** Device work deferred to later turns (virtio queues past their turn's budget). */
  readonly work: DeferredWork;
  readonly console: ConsoleOutput;
  /** The disks the builder opened and locked; closed when the VM is released. */
  readonly disks: readonly AttachedDisk[];
  /** The nets the builder opened (their TAPs); closed when the VM is released. */
  readonly nets: readonly AttachedNet[];
  /** One per vCPU, set up already; the VM uses `startsRunning` at boot. */
  readonly boot: readonly VcpuBoot[];
  /** The [gpa, length] ranges of RAM the board's boot wrote (images, DTB, tables); the rest of RAM is zero. */
  readonly bootWrites?: ReadonlyArray<readonly [number, number]>;
}

/**
 * Release what was made for a VM, in reverse order of making: the board's host resources, the vCPUs, the backend
 * VM, the console, the nets' TAPs, the disk images (closing them releases their locks). Parts not made yet are left
 * out; one failing does not keep the others.
 */
export function releaseVmParts(parts: {
  readonly board?: Board | undefined;
  readonly halVm?: HalVm | undefined;
  readonly vcpus: readonly AxVCpu[];
  readonly timers?: TimerWheel | undefined;
  readonly work?: DeferredWork | undefined;
  readonly console?: ConsoleOutput | undefined;
  readonly disks?: readonly AttachedDisk[] | undefined;
  readonly nets?: readonly AttachedNet[] | undefined;
}): void {
  parts.timers?.clear();
  parts.work?.close();
  try {
    parts.board?.close?.();
  } finally {
    try {
      for (const vcpu of parts.vcpus) vcpu.arch[Symbol.dispose]();
      parts.halVm?.[Symbol.dispose]();
    } finally {
      try {
        parts.console?.close();
      } finally {
        try {
          for (const net of parts.nets ?? []) net.close();
        } finally {
          for (const disk of parts.disks ?? []) disk.close();
        }
      }
    }
  }
}
