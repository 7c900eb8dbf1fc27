/**
 * The legacy PC devices an x86 Linux guest expects, placed at their layout addresses on the VMM's buses:
 * COM1 (8250/16550A at 0x3f8, IRQ 4 through the in-kernel irqchip; host input fed as its RX FIFO frees up), the
 * i8042 at 0x60..0x64 (IRQ 1 for the keyboard, IRQ 12 for the AUX port; its CPU-reset pulse is how `reboot=k` and
 * the ACPI reset register stop the VM), the CMOS RTC at 0x70/0x71 (wall-clock time, no interrupts), the ACPI PM1a
 * blocks (acpi-devices.ts), and Firecracker's boot-timer page at BOOT_TIMER_START. Every port no device claims is
 * the `unclaimed` device's, as on a PC's ISA bus with nothing driving it: reads all-ones, writes ignored, both
 * counted per port (0x80 POST codes kept).
 *
 * The device models are src/devices'; this only wires them the way a PC does.
 */

import type { AcpiPm1 } from "../../../devices/acpi-pm.ts";
import { BootTimer } from "../../../devices/boot-timer.ts";
import { ADDRESS_SPACE_LIMIT, type Bus } from "../../../devices/bus.ts";
import { CmosRtc } from "../../../devices/cmos-rtc.ts";
import { I8042 } from "../../../devices/i8042.ts";
import { LevelIrqLine } from "../../../devices/irq.ts";
import type { BusDevice } from "../../../devices/types.ts";
import { Uart16550 } from "../../../devices/uart16550.ts";
import { UnclaimedPort } from "../../../devices/unclaimed-port.ts";
import { attachAcpiPm } from "./acpi-devices.ts";
import { BOOT_TIMER_START, COM1_IRQ, COM1_PORT, I8042_AUX_IRQ, I8042_KBD_IRQ, I8042_PORT, RTC_PORT } from "./layout.ts";

export interface X86LegacyDeviceOptions {
  readonly portBus: Bus;
  readonly mmioBus: Bus;
  /** Drive a GSI of the in-kernel PIC/IOAPIC (HalVm.setIrqLine). */
  readonly setIrqLine: (gsi: number, level: boolean) => void;
  /** Serial output. */
  readonly serialSink: (bytes: Uint8Array) => void;
  /** The guest pulsed the reset line (i8042 0xFE): stop or reboot the VM. */
  readonly onReset: () => void;
  /** The guest's init wrote the boot-complete byte. */
  readonly onBootComplete: () => void;
  /** COM1's RX FIFO has room again: feed it waiting host input. */
  readonly onSerialInputSpace?: () => void;
  /** The guest entered ACPI S5 (soft-off). */
  readonly onPowerOff: () => void;
  /** The guest asked for an ACPI sleep state the DSDT does not declare. */
  readonly onUnsupportedSleep: (slpTyp: number) => void;
}

export interface X86LegacyDevices {
  readonly com1: Uart16550;
  readonly i8042: I8042;
  readonly bootTimer: BootTimer;
  readonly rtc: CmosRtc;
  readonly pm1: AcpiPm1;
  /** Serves every port no other device claims. */
  readonly unclaimed: UnclaimedPort;
}

export function attachX86LegacyDevices(options: X86LegacyDeviceOptions): X86LegacyDevices {
  const line = (gsi: number): LevelIrqLine => new LevelIrqLine((level) => options.setIrqLine(gsi, level));
  const com1 = new Uart16550({
    sink: options.serialSink,
    irq: line(COM1_IRQ),
    ...(options.onSerialInputSpace === undefined ? {} : { onInputSpace: options.onSerialInputSpace }),
  });
  options.portBus.insert(COM1_PORT, com1.windowSize, com1);
  // ISA IRQs 1 and 12 are edge-triggered at the IOAPIC: the i8042 drops its line after each byte read, so each
  // byte is one edge.
  const i8042 = new I8042({ onReset: options.onReset, kbdIrq: line(I8042_KBD_IRQ), auxIrq: line(I8042_AUX_IRQ) });
  options.portBus.insert(I8042_PORT, i8042.windowSize, i8042);
  const bootTimer = new BootTimer({ onBootComplete: options.onBootComplete });
  options.mmioBus.insert(BOOT_TIMER_START, bootTimer.windowSize, bootTimer);
  const rtc = new CmosRtc();
  options.portBus.insert(RTC_PORT, rtc.windowSize, rtc);
  const pm1 = attachAcpiPm({
    portBus: options.portBus,
    setIrqLine: options.setIrqLine,
    onPowerOff: options.onPowerOff,
    onUnsupportedSleep: options.onUnsupportedSleep,
  });
  // Last: it takes every port still free.
  const unclaimed = claimFreePorts(options.portBus);
  return { com1, i8042, bootTimer, rtc, pm1, unclaimed };
}

/**
 * One window of the unclaimed-port device over a run of free ports. It hands the device the port number (the
 * device sits at base 0), so one device keeps the counts of every port.
 */
class UnclaimedPortWindow implements BusDevice {
  readonly name: string;
  readonly #device: UnclaimedPort;
  readonly #firstPort: number;

  constructor(device: UnclaimedPort, firstPort: number) {
    this.name = device.name;
    this.#device = device;
    this.#firstPort = firstPort;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    return this.#device.read(this.#firstPort + offset, width);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.#device.write(this.#firstPort + offset, width, value);
  }
}

/**
 * Put an unclaimed-port device on every port of `portBus` that no window covers, one window per run of free ports,
 * and return it. A device inserted afterwards would overlap one of them: call this after the last port device. (An
 * access that runs from a free port into a device's window straddles two windows and is a bad access, as one
 * straddling a device's own end already is.)
 */
export function claimFreePorts(portBus: Bus): UnclaimedPort {
  const device = new UnclaimedPort();
  const runs: Array<{ readonly start: number; readonly length: number }> = [];
  let next = 0;
  for (const window of portBus.entries()) {
    if (window.base > next) runs.push({ start: next, length: window.base - next });
    next = Math.max(next, window.base + window.length);
  }
  const end = ADDRESS_SPACE_LIMIT.port;
  if (next < end) runs.push({ start: next, length: end - next });
  for (const run of runs) portBus.insert(run.start, run.length, new UnclaimedPortWindow(device, run.start));
  return device;
}
