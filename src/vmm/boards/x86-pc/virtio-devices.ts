/**
 * virtio-mmio on the PC board: the same devices as the riscv-virt boards (blk, console, rng from src/devices/virtio),
 * in windows of the MMIO hole, each interrupting on its own IOAPIC pin as a level line (HalVm.setIrqLine). Linux
 * learns about them from the DSDT (acpi.ts: one LNRO0005 device per window, with its window and GSI), which works
 * with kernels built without VIRTIO_MMIO_CMDLINE_DEVICES; no `virtio_mmio.device=` entries are added to the command
 * line, because a kernel that has both would register every device twice and fail the second probe.
 *
 * Placement, as on the riscv-virt boards: `kernel.disk_path` is a read-write virtio-blk in the layout's window 0
 * (GSI 16), unless a virtio-blk `emu_devices` entry says where it goes; `emu_devices` entries of type virtio-blk,
 * virtio-console and virtio-rng go at their `base_gpa` with their `irq_id` as the GSI. Entries must lie in the MMIO
 * hole below the IOAPIC and use a GSI of their own that no legacy device uses.
 */

import { hex, hexRange } from "../../../common/format.ts";
import { LevelIrqLine } from "../../../devices/irq.ts";
import {
  FileBlockBackend,
  VirtioBlock,
  VirtioConsole,
  type VirtioDevice,
  VirtioMmioTransport,
  VirtioRng,
} from "../../../devices/virtio/index.ts";
import type { BoardServices } from "../../board.ts";
import { VmError } from "../../errors.ts";
import type { AcpiVirtioMmio } from "./acpi.ts";
import {
  ACPI_SCI_GSI,
  COM1_IRQ,
  I8042_AUX_IRQ,
  I8042_KBD_IRQ,
  IOAPIC_PIN_COUNT,
  IOAPIC_START,
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
  /** Release host resources (the disk image). */
  close(): void;
}

/** The disk image behind the virtio-blk devices: opened once, shared by every device that serves it. */
class DiskImage {
  #backend: FileBlockBackend | undefined;

  device(path: string): VirtioBlock {
    if (this.#backend === undefined) this.#backend = FileBlockBackend.open(path, { readOnly: false });
    return new VirtioBlock({ backend: this.#backend, readOnly: false });
  }

  close(): void {
    this.#backend?.[Symbol.dispose]();
    this.#backend = undefined;
  }
}

/** Create the virtio devices the config asks for, on the MMIO bus, and return their windows for the DSDT. */
export function attachX86Virtio(s: BoardServices, boardName: string): X86VirtioDevices {
  const disk = new DiskImage();
  const windows: AcpiVirtioMmio[] = [];
  const gsiUsers = new Map(RESERVED_GSIS);
  try {
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
      const irq = new LevelIrqLine((level) => s.halVm.setIrqLine(gsi, level));
      s.mmio.insert(base, size, new VirtioMmioTransport({ device, memory: s.memory, irq }));
      windows.push({ base, size, gsi });
    };
    const diskPath = s.config.kernel.diskPath;
    const explicitBlock = s.config.devices.emuDevices.some((d) => d.emuType === "virtio-blk");
    if (diskPath !== undefined && !explicitBlock) {
      const window = virtioMmioWindow(0);
      place(`the disk ${diskPath}`, window.base, window.size, window.gsi, disk.device(diskPath));
    }
    for (const entry of s.config.devices.emuDevices) {
      const what = `emu_devices entry "${entry.name}" (${entry.emuType})`;
      switch (entry.emuType) {
        case "virtio-blk":
          if (diskPath === undefined) {
            throw new VmError("config", s.label, `${what} has no disk image: kernel.disk_path is not set`);
          }
          place(what, entry.baseGpa, entry.length, entry.irqId, disk.device(diskPath));
          break;
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
  } catch (error) {
    disk.close();
    throw error;
  }
  return { windows, close: () => disk.close() };
}
