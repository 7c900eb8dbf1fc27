/**
 * A paused VM's state apart from its memory, as plain data (what `AxVM.saveState` returns and `restoreState`
 * takes): the VM clock, each vCPU's architectural state (`HalVcpu.saveState`) and whether it is online, every
 * device on the buses that has `snapshot()`/`restore()` (by bus, base and name, so a VM built from the same config
 * finds each one again), the buses' layouts, and the board's own state. Values are JSON-safe apart from bigint and
 * Uint8Array, which snapshot/json.ts encodes.
 */

import type { Bus, BusState } from "../devices/bus.ts";
import type { HalVcpuState, HalVm, HalVmState } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { Board } from "./board.ts";
import { errorMessage, VmError } from "./errors.ts";
import type { VmBuses } from "./vm-stats.ts";

export interface VmVcpuState {
  readonly online: boolean;
  readonly hal: HalVcpuState;
}

export interface SavedDevice {
  readonly base: number;
  readonly name: string;
  readonly state: unknown;
}

export interface VmState {
  /** `HalVm.currentTime()` when the VM was paused (timebase ticks). */
  readonly clock: number;
  readonly timebaseHz: number;
  readonly vcpus: readonly VmVcpuState[];
  readonly buses: Readonly<Record<keyof VmBuses, BusState>>;
  readonly devices: Readonly<Record<keyof VmBuses, readonly SavedDevice[]>>;
  readonly board: unknown;
  /** The backend's VM-level state (`HalVm.saveState`: KVM x86's kvmclock, irqchip, PIT), if it has one. */
  readonly hal?: HalVmState;
}

interface Snapshottable {
  snapshot(): unknown;
  restore(state: unknown): void;
}

function snapshottable(device: object): Snapshottable | undefined {
  const candidate = device as Partial<Snapshottable>;
  return typeof candidate.snapshot === "function" && typeof candidate.restore === "function"
    ? (candidate as Snapshottable)
    : undefined;
}

const BUS_NAMES: readonly (keyof VmBuses)[] = ["mmio", "port", "sysreg"];

/** Every device with state on the three buses. */
export function saveDevices(buses: VmBuses): VmState["devices"] {
  const save = (bus: Bus): SavedDevice[] =>
    bus.entries().flatMap((entry) => {
      const device = snapshottable(entry.device);
      return device === undefined ? [] : [{ base: entry.base, name: entry.name, state: device.snapshot() }];
    });
  return { mmio: save(buses.mmio), port: save(buses.port), sysreg: save(buses.sysreg) };
}

export function saveBuses(buses: VmBuses): VmState["buses"] {
  return { mmio: buses.mmio.snapshot(), port: buses.port.snapshot(), sysreg: buses.sysreg.snapshot() };
}

/**
 * Put the saved device states back, after checking each bus has the layout it was saved with (a VM built from
 * the same config has). Throws VmError "snapshot" naming the device that does not match.
 */
export function restoreDevices(label: string, buses: VmBuses, saved: VmState): void {
  for (const name of BUS_NAMES) {
    const bus = buses[name];
    const layout = saved.buses[name];
    try {
      bus.restore(layout);
    } catch (error) {
      throw new VmError("snapshot", label, `cannot restore the ${name} bus: ${(error as Error).message}`, {
        cause: error,
      });
    }
    for (const device of saved.devices[name]) {
      const entry = bus.entries().find((e) => e.base === device.base && e.name === device.name);
      const target = entry === undefined ? undefined : snapshottable(entry.device);
      if (target === undefined) {
        throw new VmError(
          "snapshot",
          label,
          `cannot restore device "${device.name}" at 0x${device.base.toString(16)} on the ${name} bus: this VM has no such device`,
        );
      }
      try {
        target.restore(device.state);
      } catch (error) {
        throw new VmError(
          "snapshot",
          label,
          `cannot restore device "${device.name}" at 0x${device.base.toString(16)}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
  }
}

/** What capturing and applying a VM's state reach (the VM's own parts; `online` is updated on apply). */
export interface VmStateParts {
  readonly label: string;
  readonly halVm: HalVm;
  readonly vcpus: readonly AxVCpu[];
  readonly online: boolean[];
  readonly buses: VmBuses;
  readonly board: Board;
}

/** The state of a paused VM (see `AxVM.saveState`). Throws VmError "snapshot" when the backend cannot save. */
export function captureVmState(parts: VmStateParts): VmState {
  const { halVm, label } = parts;
  const vcpus = parts.vcpus.map((vcpu, id): VmVcpuState => {
    if (vcpu.arch.saveState === undefined) {
      throw new VmError("snapshot", label, `cannot save vCPU ${id}: the ${halVm.backend} backend cannot`);
    }
    try {
      return { online: parts.online[id] === true, hal: vcpu.arch.saveState() };
    } catch (error) {
      throw new VmError("snapshot", label, `cannot save vCPU ${id}: ${errorMessage(error)}`, { cause: error });
    }
  });
  let hal: HalVmState | undefined;
  try {
    hal = halVm.saveState?.();
  } catch (error) {
    throw new VmError("snapshot", label, `cannot save the VM: ${errorMessage(error)}`, { cause: error });
  }
  return {
    clock: halVm.currentTime(),
    timebaseHz: halVm.timebaseHz,
    vcpus,
    buses: saveBuses(parts.buses),
    devices: saveDevices(parts.buses),
    board: parts.board.saveState?.(),
    ...(hal === undefined ? {} : { hal }),
  };
}

/**
 * Put `state` into a VM built from the same config and not booted (see `AxVM.restoreState`): the clock (left
 * paused), the backend's VM state, each vCPU and whether it is online, the devices, the board. Throws VmError
 * "snapshot" naming what does not fit.
 */
export function applyVmState(parts: VmStateParts, state: VmState): void {
  const { halVm, label } = parts;
  const fail = (message: string, cause?: unknown): never => {
    throw new VmError("snapshot", label, `cannot restore: ${message}`, cause === undefined ? undefined : { cause });
  };
  if (state.vcpus.length !== parts.vcpus.length)
    fail(`the snapshot has ${state.vcpus.length} vCPUs, the VM ${parts.vcpus.length}`);
  if (state.timebaseHz !== halVm.timebaseHz)
    fail(`the snapshot's timebase is ${state.timebaseHz} Hz, the VM's ${halVm.timebaseHz} Hz`);
  if (halVm.setCurrentTime === undefined) return fail(`the ${halVm.backend} backend cannot set its clock`);
  halVm.setCurrentTime(state.clock);
  if (state.hal !== undefined) {
    if (halVm.loadState === undefined) return fail(`the ${halVm.backend} backend has no VM state to load`);
    try {
      halVm.loadState(state.hal);
    } catch (error) {
      fail(`the VM's state: ${errorMessage(error)}`, error);
    }
  }
  halVm.pauseClock();
  state.vcpus.forEach((saved, id) => {
    const vcpu = parts.vcpus[id];
    if (vcpu?.arch.loadState === undefined) return fail(`vCPU ${id}: the ${halVm.backend} backend cannot load it`);
    try {
      vcpu.arch.loadState(saved.hal);
    } catch (error) {
      fail(`vCPU ${id}: ${errorMessage(error)}`, error);
    }
    parts.online[id] = saved.online;
  });
  restoreDevices(label, parts.buses, state);
  if (state.board !== undefined) parts.board.restoreState?.(state.board);
}
