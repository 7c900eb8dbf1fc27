/**
 * Which virtio device goes where, the same on every board: `emu_devices` entries of type virtio-blk, virtio-net,
 * virtio-console and virtio-rng go at their `base_gpa` with their `irq_id`, the n-th virtio-blk entry serving the
 * n-th disk and the n-th virtio-net entry the n-th net; the other disks (the builder opened and locked them:
 * `kernel.disk_path`, `[[devices.disks]]`), then the other nets (`[[devices.nets]]`, their TAPs open), take the
 * board's free layout windows in order, so `kernel.disk_path` alone is window 0 (/dev/vda). An `emu_devices`
 * entry of another type is not provided by these boards: a warning names it and it is ignored.
 *
 * The board says what its windows are, what makes one free, and how a device is put on the bus (the interrupt
 * controller its `irq` reaches, the KVM fast paths, its own range and interrupt checks); this file only decides.
 */

import { hex } from "../../common/format.ts";
import { VirtioBlock, VirtioConsole, type VirtioDevice, VirtioNet, VirtioRng } from "../../devices/virtio/index.ts";
import type { AttachedDisk, AttachedNet, BoardServices } from "../board.ts";
import type { EmulatedDeviceConfig } from "../config/types.ts";
import { VmError } from "../errors.ts";

/** A virtio-mmio window: its range and the board's interrupt number (PLIC source, GSI or GIC INTID). */
export interface VirtioSlot {
  readonly base: number;
  readonly size: number;
  readonly irq: number;
}

export interface VirtioPlacement {
  readonly boardName: string;
  /** The layout's windows, in the order free ones are taken. */
  readonly windows: readonly VirtioSlot[];
  /** A board's further rule for a layout window to be free (one not already placed is the generic rule). */
  readonly windowFree?: (window: VirtioSlot) => boolean;
  /** Put `device` on the bus in `slot`; `what` names it in the board's errors. */
  readonly place: (what: string, slot: VirtioSlot, device: VirtioDevice<unknown>) => void;
  /** A board's check of a virtio `emu_devices` entry before it is placed (throws VmError). */
  readonly checkEntry?: (entry: EmulatedDeviceConfig, what: string) => void;
}

const VIRTIO_TYPES: ReadonlySet<string> = new Set(["virtio-blk", "virtio-net", "virtio-console", "virtio-rng"]);

/** Whether an `emu_devices` entry is one of the virtio devices this file places. */
export const isVirtioEntry = (entry: EmulatedDeviceConfig): boolean => VIRTIO_TYPES.has(entry.emuType);

/** Place every virtio device the config asks for; returns the slots that got one, in placement order. */
export function placeVirtioDevices(s: BoardServices, p: VirtioPlacement): VirtioSlot[] {
  const placed: VirtioSlot[] = [];
  const put = (what: string, slot: VirtioSlot, device: VirtioDevice<unknown>): void => {
    p.place(what, slot, device);
    placed.push(slot);
  };
  const blockDevice = (disk: AttachedDisk): VirtioBlock =>
    new VirtioBlock({
      backend: disk.backend,
      readOnly: disk.config.readOnly,
      ...(disk.config.serial === undefined ? {} : { serial: disk.config.serial }),
    });
  const netDevice = (net: AttachedNet): VirtioNet => new VirtioNet({ backend: net.backend, mac: net.mac });
  let nextDisk = 0;
  let nextNet = 0;
  for (const entry of s.config.devices.emuDevices) {
    const what = `emu_devices entry "${entry.name}" (${entry.emuType})`;
    if (!isVirtioEntry(entry)) {
      s.log.warn(
        `${s.label}: emu_devices entry "${entry.name}" (${entry.emuType} at ${hex(entry.baseGpa)}) is not provided by the ${p.boardName} board; ignored`,
      );
      continue;
    }
    p.checkEntry?.(entry, what);
    const slot = { base: entry.baseGpa, size: entry.length, irq: entry.irqId };
    switch (entry.emuType) {
      case "virtio-blk": {
        const disk = s.disks[nextDisk++];
        if (disk === undefined)
          throw new VmError(
            "config",
            s.label,
            `${what} has no disk image: no disk (kernel.disk_path, [[devices.disks]]) is left for it`,
          );
        put(what, slot, blockDevice(disk));
        break;
      }
      case "virtio-net": {
        const net = s.nets[nextNet++];
        if (net === undefined)
          throw new VmError("config", s.label, `${what} has no TAP: no net ([[devices.nets]]) is left for it`);
        put(what, slot, netDevice(net));
        break;
      }
      case "virtio-console":
        put(what, slot, new VirtioConsole({ sink: (bytes) => s.console.write(bytes) }));
        break;
      default:
        put(what, slot, new VirtioRng());
    }
  }
  const freeWindow = (what: string): VirtioSlot => {
    const free = p.windows.find((w) => !placed.some((taken) => taken.base === w.base) && (p.windowFree?.(w) ?? true));
    if (free === undefined) throw new VmError("config", s.label, `no virtio-mmio window is left for ${what}`);
    return free;
  };
  for (const disk of s.disks.slice(nextDisk)) {
    const what = `the disk ${disk.config.path}`;
    put(what, freeWindow(what), blockDevice(disk));
  }
  for (const net of s.nets.slice(nextNet)) {
    const what = `${net.config.key} (TAP ${net.config.tap})`;
    put(what, freeWindow(what), netDevice(net));
  }
  return placed;
}
