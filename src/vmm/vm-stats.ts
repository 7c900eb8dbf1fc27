/**
 * A VM's counters and the summary `--trace-exits` prints when the VM stops: exits by kind, each bus's accesses
 * (unmapped and bad ones included), the board's counters and every device's non-zero counters. Everything but the
 * exit counts is read from counters the buses, devices and board keep anyway, so collecting costs the exit path
 * nothing; the exit counts are only kept while exits are traced.
 */

import { hex } from "../common/format.ts";
import type { AddressSpace, Bus, BusStats } from "../devices/bus.ts";
import type { BusDevice } from "../devices/types.ts";
import { VirtioMmioTransport } from "../devices/virtio/mmio-transport.ts";

/** One device's non-zero counters, by its bus window. */
export interface DeviceCounters {
  readonly bus: AddressSpace;
  readonly base: number;
  readonly name: string;
  readonly counters: Readonly<Record<string, number>>;
}

export interface VmStats {
  /** Exits by kind. Counted only while exits are traced (`--trace-exits`), so the exit path stays lean. */
  readonly exits: Readonly<Record<string, number>>;
  /** MMIO accesses no device answered (the unmapped-access policy's cases). */
  readonly unmappedMmioReads: number;
  readonly unmappedMmioWrites: number;
  /** Port accesses no device answered. */
  readonly unmappedPortReads: number;
  readonly unmappedPortWrites: number;
  /** Accesses a device window rejected (a width it cannot take, or running past its end), on every bus. */
  readonly badDeviceAccesses: number;
  readonly buses: Readonly<Record<AddressSpace, Readonly<BusStats>>>;
  /** The board's own counters (`Board.stats`). */
  readonly board: Readonly<Record<string, number>>;
  readonly devices: readonly DeviceCounters[];
}

export interface VmBuses {
  readonly mmio: Bus;
  readonly port: Bus;
  readonly sysreg: Bus;
}

/** The VM's counters now (a copy). */
export function collectVmStats(
  exits: Readonly<Record<string, number>>,
  buses: VmBuses,
  board: Readonly<Record<string, number>>,
): VmStats {
  const { mmio, port, sysreg } = buses;
  return {
    exits: { ...exits },
    unmappedMmioReads: mmio.stats.unmappedReads,
    unmappedMmioWrites: mmio.stats.unmappedWrites,
    unmappedPortReads: port.stats.unmappedReads,
    unmappedPortWrites: port.stats.unmappedWrites,
    badDeviceAccesses: mmio.stats.badAccesses + port.stats.badAccesses + sysreg.stats.badAccesses,
    buses: { mmio: { ...mmio.stats }, port: { ...port.stats }, sysreg: { ...sysreg.stats } },
    board: { ...board },
    devices: deviceCounters([mmio, port, sysreg]),
  };
}

/** Each device's non-zero counters, once per device (one device may have windows on several buses). */
function deviceCounters(buses: readonly Bus[]): DeviceCounters[] {
  const found: DeviceCounters[] = [];
  const seen = new Set<BusDevice>();
  for (const bus of buses) {
    for (const { base, name, device } of bus.entries()) {
      if (seen.has(device)) continue;
      seen.add(device);
      const counters: Record<string, number> = {};
      addCounters(counters, "", device.stats);
      // A virtio transport's device (virtio-blk, ...) counts requests and bytes of its own.
      if (device instanceof VirtioMmioTransport) addCounters(counters, "", device.device.stats);
      if (Object.keys(counters).length > 0) found.push({ bus: bus.space, base, name, counters });
    }
  }
  return found;
}

/** Copy the non-zero numbers of a counters object; nested objects (counts per access width) as `reads.4`. */
function addCounters(into: Record<string, number>, prefix: string, stats: object | undefined): void {
  if (stats === undefined) return;
  for (const [key, value] of Object.entries(stats)) {
    if (typeof value === "number" && value !== 0) into[`${prefix}${key}`] = value;
    else if (typeof value === "object" && value !== null) addCounters(into, `${prefix}${key}.`, value);
  }
}

/** The `--trace-exits` summary: one line per topic, `[label] ...`, only what happened. */
export function formatVmStats(label: string, boardName: string, stats: VmStats): string[] {
  const list = (counts: Readonly<Record<string, number>>): string =>
    Object.entries(counts)
      .map(([name, count]) => `${name} ${count}`)
      .join(", ");
  const lines = [`[${label}] exits: ${Object.keys(stats.exits).length === 0 ? "none" : list(stats.exits)}`];
  for (const [space, bus] of Object.entries(stats.buses)) {
    if (bus.reads === 0 && bus.writes === 0) continue;
    lines.push(
      `[${label}] ${space} bus: ${bus.reads} reads, ${bus.writes} writes; unmapped: ${bus.unmappedReads} reads, ${bus.unmappedWrites} writes; bad accesses: ${bus.badAccesses}`,
    );
  }
  lines.push(
    `[${label}] board ${boardName}: ${Object.keys(stats.board).length === 0 ? "no counters" : list(stats.board)}`,
  );
  for (const device of stats.devices)
    lines.push(`[${label}] ${device.name} at ${device.bus} ${hex(device.base)}: ${list(device.counters)}`);
  return lines;
}
