/**
 * `[devices]`: emulated and passthrough devices, whose guest-physical windows must not overlap RAM or an emulated
 * device; the interrupt mode, the console and the unmapped-access policy.
 */

import { hexRange } from "../../common/format.ts";
import { rangesOverlap } from "../../common/ranges.ts";
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
): DevicesConfig {
  const { issues } = ctx;
  // Guest-physical windows of devices; passthrough entries may describe the same host range twice (a device and
  // its address), so only pairs involving an emulated device are checked against each other.
  const windows: { path: string; start: number; size: number; emulated: boolean }[] = [];
  const emuDevices: EmulatedDeviceConfig[] = (devices.emu_devices ?? []).map((d, i) => {
    const path = `devices.emu_devices[${i}]`;
    if (d.length === 0) issues.add(path, d.base_gpa, `device "${d.name}" has length 0`);
    else if (d.base_gpa + d.length > GUEST_PHYS_LIMIT) issues.add(path, d.base_gpa, "ends beyond 2^53");
    else windows.push({ path, start: d.base_gpa, size: d.length, emulated: true });
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
    else windows.push({ path, start: a.base_gpa, size: a.length, emulated: false });
    return { baseGpa: a.base_gpa, length: a.length };
  });
  const passthroughDevices = (devices.passthrough_devices ?? []).map((d, i) => {
    if (d.length > 0)
      windows.push({ path: `devices.passthrough_devices[${i}]`, start: d.base_gpa, size: d.length, emulated: false });
    return { name: d.name, baseGpa: d.base_gpa, baseHpa: d.base_hpa, length: d.length, irqId: d.irq_id };
  });
  for (let i = 0; i < windows.length; i++) {
    const a = windows[i];
    if (a === undefined) continue;
    for (const region of regions) {
      if (rangesOverlap(a.start, a.size, region.gpa, region.size)) {
        issues.add(
          a.path,
          a.start,
          `${hexRange(a.start, a.size)} overlaps RAM kernel.memory_regions[${region.index}] (${hexRange(region.gpa, region.size)})`,
        );
      }
    }
    for (let j = 0; j < i; j++) {
      const b = windows[j];
      if (b !== undefined && (a.emulated || b.emulated) && rangesOverlap(a.start, a.size, b.start, b.size)) {
        issues.add(a.path, a.start, `${hexRange(a.start, a.size)} overlaps ${b.path} (${hexRange(b.start, b.size)})`);
      }
    }
  }
  const console: ConsoleConfig =
    devices.console === undefined
      ? { kind: "stdout" }
      : devices.console.kind === "file"
        ? { kind: "file", path: ctx.absolute(devices.console.path) }
        : devices.console;
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
