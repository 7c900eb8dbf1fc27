/**
 * virtio-mmio on the PC board: the same devices as the riscv-virt boards (blk, net, console, rng from src/devices/virtio),
 * in windows of the MMIO hole, each interrupting on its own IOAPIC pin as a level line (HalVm.setIrqLine). Linux
 * learns about them from the DSDT (acpi.ts: one LNRO0005 device per window, with its window and GSI), which works
 * with kernels built without VIRTIO_MMIO_CMDLINE_DEVICES; no `virtio_mmio.device=` entries are added to the command
 * line, because a kernel that has both would register every device twice and fail the second probe.
 *
 * Placement as on every board (../virtio-placement.ts), `irq_id` being the GSI: `kernel.disk_path` alone is window 0
 * (GSI 16, /dev/vda). Entries must lie in the MMIO hole below the IOAPIC and use a GSI of their own that no legacy
 * device uses.
 */

import { hex, hexRange } from "../../../common/format.ts";
import { type VirtioDevice, VirtioMmioTransport } from "../../../devices/virtio/index.ts";
import type { BoardServices } from "../../board.ts";
import { VmError } from "../../errors.ts";
import { virtioIrqLine, virtioPathDescription, watchVirtioNotifications } from "../../virtio-fast-paths.ts";
import { placeVirtioDevices } from "../virtio-placement.ts";
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
  placeVirtioDevices(s, {
    boardName,
    windows: Array.from({ length: VIRTIO_MMIO_COUNT }, (_, i) => {
      const window = virtioMmioWindow(i);
      return { base: window.base, size: window.size, irq: window.gsi };
    }),
    // Explicit entries may sit anywhere in the hole and take a layout window's GSI.
    windowFree: (window) => !gsiUsers.has(window.irq),
    place: (what, slot, device) => place(what, slot.base, slot.size, slot.irq, device),
  });
  return { windows };
}
