/**
 * The ACPI fixed hardware of the PC board on its port bus: the PM1a event and control blocks (src/devices/acpi-pm.ts)
 * at ACPI_PM1A_EVT_PORT, their SCI on ACPI_SCI_GSI (a level line into the in-kernel IOAPIC, as the FADT's SCI_INT
 * and the MADT's override say), and what a sleep request means on this machine: SLP_TYP = ACPI_SLP_TYP_S5 (the
 * DSDT's `\_S5`) powers the machine off; the DSDT declares no other sleep state, so any other SLP_TYP is a guest
 * bug, reported and otherwise ignored (the guest goes on running, as it would on hardware without that state).
 * The tables that describe all this are acpi.ts.
 */

import { AcpiPm1 } from "../../../devices/acpi-pm.ts";
import type { Bus } from "../../../devices/bus.ts";
import { LevelIrqLine } from "../../../devices/irq.ts";
import { ACPI_SLP_TYP_S5 } from "./acpi.ts";
import { ACPI_PM1A_EVT_PORT, ACPI_SCI_GSI } from "./layout.ts";

export interface AcpiDeviceOptions {
  readonly portBus: Bus;
  /** Drive a GSI of the in-kernel PIC/IOAPIC (HalVm.setIrqLine). */
  readonly setIrqLine: (gsi: number, level: boolean) => void;
  /** The guest entered S5 (soft-off): `poweroff`. */
  readonly onPowerOff: () => void;
  /** The guest asked for a sleep state the DSDT does not declare. */
  readonly onUnsupportedSleep: (slpTyp: number) => void;
}

/** Put the PM1a blocks on the port bus (call it before `claimFreePorts`). */
export function attachAcpiPm(options: AcpiDeviceOptions): AcpiPm1 {
  const pm1 = new AcpiPm1({
    sci: new LevelIrqLine((level) => options.setIrqLine(ACPI_SCI_GSI, level)),
    onSleep: (slpTyp) => {
      if (slpTyp === ACPI_SLP_TYP_S5) options.onPowerOff();
      else options.onUnsupportedSleep(slpTyp);
    },
  });
  options.portBus.insert(ACPI_PM1A_EVT_PORT, pm1.windowSize, pm1);
  return pm1;
}
