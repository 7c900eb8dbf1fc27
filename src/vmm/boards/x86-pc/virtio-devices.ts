/**
 * virtio-mmio on the PC board: the same devices as the riscv-virt boards (blk, net, console, rng from src/devices/virtio),
 * in windows of the MMIO hole, each interrupting on its own IOAPIC pin as a level line (HalVm.setIrqLine). Linux
 * learns about them from the DSDT (acpi.ts: one LNRO0005 device per window, with its window and GSI), which works
 * with kernels built without VIRTIO_MMIO_CMDLINE_DEVICES; no `virtio_mmio.device=` entries are added to the command
 * line, because a kernel that has both would register every device twice and fail the second probe.
 *
 * Placement, as on the riscv-virt boards: `emu_devices` entries of type virtio-blk, virtio-net, virtio-console and
 * virtio-rng go at their `base_gpa` with their `irq_id` as the GSI, the n-th virtio-blk entry serving the n-th disk
 * and the n-th virtio-net entry the n-th net; the other disks (the builder opened and locked them:
 * `kernel.disk_path`, `[[devices.disks]]`), then the other nets (`[[devices.nets]]`, their TAPs open), take the
 * free layout windows in order, so `kernel.disk_path` alone is window 0 (GSI 16, /dev/vda). Entries must lie in the MMIO hole below the
 * IOAPIC and use a GSI of their own that no legacy device uses.
 */

import { hex, hexRange } from "../../../common/format.ts";
import {
  VirtioBlock,
  VirtioConsole,
  type VirtioDevice,
  VirtioMmioTransport,
  VirtioNet,
  VirtioRng,
} from "../../../devices/virtio/index.ts";
import type { AttachedDisk, AttachedNet, BoardServices } from "../../board.ts";
import { VmError } from "../../errors.ts";
import { virtioIrqLine, virtioPathDescription, watchVirtioNotifications } from "../../virtio-fast-paths.ts";
import type { AcpiVirtioMmio } from "./acpi.ts";
import {
  ACPI_SCI_GSI,
  COM1_IRQ,
  I8042_AUX_IRQ,
  I8042_KBD_IRQ,
  IOAPIC_PIN_COUNT,
  IOAPIC_START,
  VIRTIO_MMIO_COUNT,
  VIRTIO_MMIO_START,
  virtioMmioWindow,
} from "./layout.ts";

/** GSIs the board's own devices (or the PC's fixed wiring) use: no virtio device may take them. */
const RESERVED_GSIS: ReadonlyMap<number, string> = new Map([
  [0, "the PIT"],
  [I8042_KBD_IRQ, "the i8042 keyboard"],
  [2, "the 8259 cascade"],
  [COM1_IRQ, "COM1"],
  [8, "the CMOS RTC"],
  [ACPI_SCI_GSI, "the ACPI SCI"],
  [I8042_AUX_IRQ, "the i8042 AUX port"],
]);

export interface X86VirtioDevices {
  /** The windows that hold a device, in placement order (the DSDT names them VR00, VR01, ...). */
  readonly windows: readonly AcpiVirtioMmio[];
}

/** Create the virtio devices the config asks for, on the MMIO bus, and return their windows for the DSDT. */
export function attachX86Virtio(s: BoardServices, boardName: string): X86VirtioDevices {
  const windows: AcpiVirtioMmio[] = [];
  const gsiUsers = new Map(RESERVED_GSIS);
  const place = (what: string, base: number, size: number, gsi: number, device: VirtioDevice<unknown>): void => {
    if (base < VIRTIO_MMIO_START || base + size > IOAPIC_START) {
      throw new VmError(
        "config",
        s.label,
        `${what} at ${hexRange(base, size)} is outside the ${boardName} board's MMIO device area ${hexRange(VIRTIO_MMIO_START, IOAPIC_START - VIRTIO_MMIO_START)}`,
      );
    }
    if (!Number.isInteger(gsi) || gsi < 0 || gsi >= IOAPIC_PIN_COUNT) {
      throw new VmError("config", s.label, `${what} uses GSI ${gsi}: the IOAPIC has GSIs 0..${IOAPIC_PIN_COUNT - 1}`);
    }
    const user = gsiUsers.get(gsi);
    if (user !== undefined) throw new VmError("config", s.label, `${what} uses GSI ${gsi}, which is ${user}'s`);
    gsiUsers.set(gsi, what);
    const irq = virtioIrqLine(s.halVm, gsi);
    const transport = new VirtioMmioTransport({ device, memory: s.memory, irq, deferWork: s.deferWork });
    s.mmio.insert(base, size, transport);
    watchVirtioNotifications(s.halVm, base, transport);
    s.log.debug(`${s.label}: ${what} at ${hex(base)}, GSI ${gsi}: ${virtioPathDescription(s.halVm)}`);
    windows.push({ base, size, gsi });
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
    switch (entry.emuType) {
      case "virtio-blk": {
        const disk = s.disks[nextDisk++];
        if (disk === undefined) {
          throw new VmError(
            "config",
            s.label,
            `${what} has no disk image: no disk (kernel.disk_path, [[devices.disks]]) is left for it`,
          );
        }
        place(what, entry.baseGpa, entry.length, entry.irqId, blockDevice(disk));
        break;
      }
      case "virtio-net": {
        const net = s.nets[nextNet++];
        if (net === undefined) {
          throw new VmError("config", s.label, `${what} has no TAP: no net ([[devices.nets]]) is left for it`);
        }
        place(what, entry.baseGpa, entry.length, entry.irqId, netDevice(net));
        break;
      }
      case "virtio-console":
        place(
          what,
          entry.baseGpa,
          entry.length,
          entry.irqId,
          new VirtioConsole({ sink: (bytes) => s.console.write(bytes) }),
        );
        break;
      case "virtio-rng":
        place(what, entry.baseGpa, entry.length, entry.irqId, new VirtioRng());
        break;
      default:
        s.log.warn(
          `${s.label}: emu_devices entry "${entry.name}" (${entry.emuType} at ${hex(entry.baseGpa)}) is not provided by the ${boardName} machine; ignored`,
        );
    }
  }
  // A free layout window whose GSI no entry took either: explicit entries may sit anywhere in the hole.
  const freeWindow = (what: string): ReturnType<typeof virtioMmioWindow> => {
    const free = Array.from({ length: VIRTIO_MMIO_COUNT }, (_, i) => virtioMmioWindow(i)).find(
      (w) => !windows.some((placed) => placed.base === w.base) && !gsiUsers.has(w.gsi),
    );
    if (free === undefined) throw new VmError("config", s.label, `no virtio-mmio window is left for ${what}`);
    return free;
  };
  for (const disk of s.disks.slice(nextDisk)) {
    const what = `the disk ${disk.config.path}`;
    const free = freeWindow(what);
    place(what, free.base, free.size, free.gsi, blockDevice(disk));
  }
  for (const net of s.nets.slice(nextNet)) {
    const what = `${net.config.key} (TAP ${net.config.tap})`;
    const free = freeWindow(what);
    place(what, free.base, free.size, free.gsi, netDevice(net));
  }
  return { windows };
}
