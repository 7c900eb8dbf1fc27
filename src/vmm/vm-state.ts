/**
 * A paused VM's state apart from its memory, as plain data (what `AxVM.saveState` returns and `restoreState`
 * takes): the VM clock, each vCPU's architectural state (`HalVcpu.saveState`) and whether it is online, every
 * device on the buses that has `snapshot()`/`restore()` (by bus, base and name, so a VM built from the same config
 * finds each one again), the buses' layouts, and the board's own state. Values are JSON-safe apart from bigint and
 * Uint8Array, which snapshot/json.ts encodes.
 */

import type { Bus, BusState } from "../devices/bus.ts";
import type { HalVcpuState } from "../hal/types.ts";
import { VmError } from "./errors.ts";
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
