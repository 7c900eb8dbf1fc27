/**
 * `[devices]`: emulated and passthrough devices, whose guest-physical windows must not overlap RAM or an emulated
 * device; the interrupt mode, the console and the unmapped-access policy.
 */

import { hexRange } from "../../common/format.ts";
import { rangesOverlap } from "../../common/ranges.ts";
import { consoleFileProblem } from "../host-file.ts";
import type { ResolveContext } from "./resolve-context.ts";
import type { IndexedRegion } from "./resolve-memory.ts";
import type { RawVmConfig } from "./schema.ts";
import {
  type ConsoleConfig,
  type DevicesConfig,
  type EmulatedDeviceConfig,
  GUEST_PHYS_LIMIT,
  type PassthroughAddressConfig,
} from "./types.ts";

export function resolveDevices(
  devices: NonNullable<RawVmConfig["devices"]>,
  regions: readonly IndexedRegion[],
  ctx: ResolveContext,
): Omit<DevicesConfig, "disks" | "nets"> {
  const { issues } = ctx;
  // Guest-physical windows of devices; passthrough entries may describe the same host range twice (a device and
  // its address), so only pairs involving an emulated device are checked against each other.
  const windows: DeviceWindow[] = [];
  const emuDevices: EmulatedDeviceConfig[] = (devices.emu_devices ?? []).map((d, i) => {
    const path = `devices.emu_devices[${i}]`;
    if (d.length === 0) issues.add(path, d.base_gpa, `device "${d.name}" has length 0`);
    else if (d.base_gpa + d.length > GUEST_PHYS_LIMIT) issues.add(path, d.base_gpa, "ends beyond 2^53");
    else windows.push({ path, start: d.base_gpa, size: d.length, emulated: true, order: windows.length });
    if (d.emu_type === "pppt-global" && d.cfg_list.length < 1) {
      issues.add(`${path}`, d.base_gpa, `a "pppt-global" PLIC needs cfg_list = [context_count]`);
    }
    return {
      name: d.name,
      baseGpa: d.base_gpa,
      length: d.length,
      irqId: d.irq_id,
      emuType: d.emu_type,
      cfgList: d.cfg_list,
    };
  });
  const passthroughAddresses: PassthroughAddressConfig[] = (devices.passthrough_addresses ?? []).map((a, i) => {
    const path = `devices.passthrough_addresses[${i}]`;
    if (a.length === 0) issues.add(path, a.base_gpa, "has length 0");
    else if (a.base_gpa + a.length > GUEST_PHYS_LIMIT) issues.add(path, a.base_gpa, "ends beyond 2^53");
    else windows.push({ path, start: a.base_gpa, size: a.length, emulated: false, order: windows.length });
    return { baseGpa: a.base_gpa, length: a.length };
  });
  const passthroughDevices = (devices.passthrough_devices ?? []).map((d, i) => {
    if (d.length > 0)
      windows.push({
        path: `devices.passthrough_devices[${i}]`,
        start: d.base_gpa,
        size: d.length,
        emulated: false,
        order: windows.length,
      });
    return { name: d.name, baseGpa: d.base_gpa, baseHpa: d.base_hpa, length: d.length, irqId: d.irq_id };
  });
  // Against RAM: the regions sorted by address, each window looks only at those it may reach (binary search).
  const sortedRegions = [...regions].sort((a, b) => a.gpa - b.gpa);
  windows.forEach((a) => {
    for (const region of regionsOverlapping(sortedRegions, a.start, a.size)) {
      issues.add(
        a.path,
        a.start,
        `${hexRange(a.start, a.size)} overlaps RAM kernel.memory_regions[${region.index}] (${hexRange(region.gpa, region.size)})`,
      );
    }
  });
  for (const [a, b] of overlappingWindows(windows)) {
    issues.add(a.path, a.start, `${hexRange(a.start, a.size)} overlaps ${b.path} (${hexRange(b.start, b.size)})`);
  }
  const console: ConsoleConfig =
    devices.console === undefined
      ? { kind: "stdout" }
      : devices.console.kind === "file"
        ? { kind: "file", path: ctx.absolute(devices.console.path) }
        : devices.console;
  if (console.kind === "file" && ctx.checkFiles) {
    // The same rule the console applies when it opens the file (what check accepts, run opens).
    const problem = consoleFileProblem(console.path);
    if (problem !== undefined) issues.add("devices.console", `file:${console.path}`, problem);
  }
  return {
    emuDevices,
    passthroughDevices,
    passthroughAddresses,
    excludedDevices: devices.excluded_devices ?? [],
    interruptMode: devices.interrupt_mode ?? "none",
    console,
    unmappedMmio: devices.unmapped_mmio ?? "ignore",
    rng: devices.rng ?? true,
  };
}

/** A device's guest-physical window; `order` is its place in the config (emulated, then passthrough). */
export interface DeviceWindow {
  readonly path: string;
  readonly start: number;
  readonly size: number;
  readonly emulated: boolean;
  readonly order: number;
}

/** The regions (sorted by address, not overlapping each other once valid) that [start, start + size) touches. */
function regionsOverlapping(sorted: readonly IndexedRegion[], start: number, size: number): IndexedRegion[] {
  // The first region ending after `start`: regions are sorted by start, and valid ones by end too.
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const region = sorted[mid];
    if (region !== undefined && region.gpa + region.size <= start) low = mid + 1;
    else high = mid;
  }
  // Overlapping regions (a config error of their own) may end out of order: step back over any that still reach.
  while (low > 0) {
    const before = sorted[low - 1];
    if (before === undefined || !rangesOverlap(before.gpa, before.size, start, size)) break;
    low--;
  }
  const found: IndexedRegion[] = [];
  for (let i = low; i < sorted.length; i++) {
    const region = sorted[i];
    if (region === undefined || region.gpa >= start + size) break;
    if (rangesOverlap(region.gpa, region.size, start, size)) found.push(region);
  }
  return found.sort((a, b) => a.index - b.index);
}

/**
 * Device windows that overlap, in O(n log n): passthrough entries may describe the same host range twice (a
 * device and its address), so only pairs with an emulated device count. A sweep in address order keeps the
 * window reaching furthest among all the earlier ones and among the emulated ones: an emulated window that
 * overlaps any earlier one overlaps the first; a passthrough window that overlaps an earlier emulated one overlaps
 * the second. Each window is reported once, as `[later, earlier]` in config order.
 */
export function overlappingWindows(windows: readonly DeviceWindow[]): Array<[DeviceWindow, DeviceWindow]> {
  const sorted = [...windows].sort((a, b) => a.start - b.start || a.order - b.order);
  const pairs: Array<[DeviceWindow, DeviceWindow]> = [];
  let reachAll: DeviceWindow | undefined;
  let reachEmulated: DeviceWindow | undefined;
  const end = (w: DeviceWindow): number => w.start + w.size;
  for (const current of sorted) {
    const other = current.emulated ? reachAll : reachEmulated;
    if (other !== undefined && current.start < end(other)) {
      pairs.push(current.order > other.order ? [current, other] : [other, current]);
    }
    if (reachAll === undefined || end(current) > end(reachAll)) reachAll = current;
    if (current.emulated && (reachEmulated === undefined || end(current) > end(reachEmulated))) reachEmulated = current;
  }
  return pairs.sort((a, b) => a[0].order - b[0].order || a[1].order - b[1].order);
}
