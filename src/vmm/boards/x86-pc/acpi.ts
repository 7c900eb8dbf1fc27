/**
 * The ACPI tables of the PC board (ACPI 6.4 chapter 5): RSDP -> XSDT -> { FADT -> FACS, DSDT; MADT }.
 *
 * - The FADT describes a PC-compatible platform (legacy devices, an 8042, dual 8259s). It is deliberately NOT
 *   hardware-reduced: under HW_REDUCED_ACPI Linux drops the 8259 and with it the fixed ISA IRQ numbers 0..15, so
 *   the COM1 and i8042 drivers (which ask for IRQ 4 and 1 by number) would lose their interrupts unless the DSDT
 *   described them in AML. Being a full ACPI platform it has the fixed hardware: the PM1a event and control blocks
 *   (src/devices/acpi-pm.ts, at the layout's ports; no PM1b, no PM timer since ACPI 5.0A makes it optional and
 *   Linux keeps time with the TSC and kvmclock, no GPE blocks), the SCI on ACPI_SCI_GSI, the fixed power button
 *   (no sleep button), the reset register (the i8042's command port and its reset-pulse value, see layout.ts), and
 *   a FACS (required when not hardware-reduced; nothing uses its waking vector or global lock). SMI_CMD is 0: the
 *   platform is in ACPI mode from reset, so SCI_EN always reads 1.
 * - The DSDT (AML from aml.ts) holds `\_S5` = { ACPI_SLP_TYP_S5, ACPI_SLP_TYP_S5, 0, 0 } (what the OS writes to
 *   SLP_TYP to power off) and one `LNRO0005` device per virtio-mmio window under `\_SB`, with its window and GSI as
 *   `_CRS` (Memory32Fixed + a level, active-high Interrupt): Linux's virtio_mmio driver matches that ACPI id, and
 *   this works with kernels built without VIRTIO_MMIO_CMDLINE_DEVICES (Debian's).
 * - The MADT lists one enabled local APIC per vCPU (APIC id = vCPU index), the IOAPIC at IOAPIC_START with GSI base
 *   0 (KVM routes GSI n to IOAPIC pin n), and an interrupt source override that makes ISA IRQ 9 (the SCI)
 *   level-triggered, active high, as the board drives it.
 * The tables live in the BIOS area at ACPI_START (reserved in the e820 map); the RSDP sits at its start, where
 * the kernel's scan of 0xE0000..0xFFFFF finds it, and its address also goes into boot_params.acpi_rsdp_addr.
 */

import { ACPI_PM1_CNT_LEN, ACPI_PM1_CNT_OFFSET, ACPI_PM1_EVT_LEN } from "../../../devices/acpi-pm.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import {
  amlDevice,
  amlInteger,
  amlName,
  amlPackage,
  amlResourceTemplate,
  amlScope,
  amlString,
  resExtendedInterrupt,
  resMemory32Fixed,
} from "./aml.ts";
import {
  ACPI_PM1A_EVT_PORT,
  ACPI_RESET_PORT,
  ACPI_RESET_VALUE,
  ACPI_SCI_GSI,
  ACPI_START,
  APIC_START,
  HIMEM_START,
  IOAPIC_START,
  X86_MAX_CPUS,
} from "./layout.ts";
import { checksum8, LeWriter } from "./le-writer.ts";

const SDT_HEADER_SIZE = 36;
const RSDP_SIZE = 36;
const FADT_SIZE = 276;
const FACS_SIZE = 64;
/** The FACS must be 64-byte aligned. */
const FACS_ALIGN = 64;
const MADT_FIXED_SIZE = SDT_HEADER_SIZE + 8;
const MADT_LOCAL_APIC_SIZE = 8;
const MADT_IOAPIC_SIZE = 12;
const MADT_ISO_SIZE = 10;
const OEM_ID = "AXVTS ";
const OEM_TABLE_ID = "AXVISOR ";
const CREATOR_ID = "AXTS";

// FADT (ACPI 6.4, 5.2.9)
const FADT_REVISION = 6;
const FADT_MINOR_REVISION = 4;
const FADT_FIRMWARE_CTRL = 36;
const FADT_DSDT = 40;
const FADT_SCI_INT = 46;
const FADT_PM1A_EVT_BLK = 56;
const FADT_PM1A_CNT_BLK = 64;
const FADT_PM1_EVT_LEN = 88;
const FADT_PM1_CNT_LEN = 89;
const FADT_P_LVL2_LAT = 96;
const FADT_P_LVL3_LAT = 98;
const FADT_IAPC_BOOT_ARCH = 109;
const FADT_FLAGS = 112;
const FADT_RESET_REG = 116;
const FADT_RESET_VALUE = 128;
const FADT_MINOR_VERSION = 131;
const FADT_X_DSDT = 140;
const FADT_X_PM1A_EVT_BLK = 148;
const FADT_X_PM1A_CNT_BLK = 172;
const FADT_HYPERVISOR_VENDOR_ID = 268;
/** IAPC_BOOT_ARCH: legacy (ISA) devices (bit 0), an 8042 (bit 1), no VGA (bit 2). */
const IAPC_BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
const IAPC_BOOT_ARCH_8042 = 1 << 1;
const IAPC_BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
/**
 * FADT flags: WBINVD works (bit 0); the sleep button is not a fixed-feature device (bit 5; the power button is:
 * bit 4 clear); the reset register is supported (bit 10).
 */
const FADT_FLAG_WBINVD = 1 << 0;
const FADT_FLAG_SLP_BUTTON = 1 << 5;
const FADT_FLAG_RESET_REG_SUP = 1 << 10;
/** C2/C3 latencies above 100/1000 µs mean "not supported". */
const FADT_C2_NOT_SUPPORTED = 101;
const FADT_C3_NOT_SUPPORTED = 1001;

// Generic Address Structure (5.2.3.2)
const GAS_SYSTEM_IO = 1;
const GAS_ACCESS_BYTE = 1;
const GAS_ACCESS_WORD = 2;

// FACS (5.2.10)
const FACS_VERSION = 2;

// MADT (5.2.12)
const MADT_REVISION = 5;
const MADT_FLAG_PCAT_COMPAT = 1 << 0;
const MADT_TYPE_LOCAL_APIC = 0;
const MADT_TYPE_IOAPIC = 1;
const MADT_TYPE_INTERRUPT_OVERRIDE = 2;
const MADT_LOCAL_APIC_ENABLED = 1 << 0;
/** MPS INTI flags: polarity active high (01), trigger mode level (11 in bits 3:2). */
const MPS_INTI_ACTIVE_HIGH_LEVEL = 0x1 | (0x3 << 2);
/** ISA bus for the interrupt source override. */
const MADT_BUS_ISA = 0;

/** DSDT revision 2: integers are 64 bits. */
const DSDT_REVISION = 2;
/**
 * The SLP_TYP value this platform uses for S5 (soft-off), written by the OS to PM1a_CNT.SLP_TYP with SLP_EN. The
 * value is the platform's choice; the DSDT's `\_S5` tells the OS, and the board powers off when it sees it.
 */
export const ACPI_SLP_TYP_S5 = 5;
/** The ACPI id Linux's virtio_mmio driver matches (as QEMU's microvm and Firecracker describe virtio-mmio). */
export const VIRTIO_MMIO_ACPI_HID = "LNRO0005";

export const ACPI_MAX_CPUS = X86_MAX_CPUS;
/** The space we use in the BIOS area. */
export const ACPI_MAX_SIZE = HIMEM_START - ACPI_START;

export class AcpiError extends Error {
  override readonly name = "AcpiError";
  readonly kind: "invalid-cpu-count" | "too-large";
  readonly cpuCount: number;
  constructor(kind: AcpiError["kind"], cpuCount: number, message: string) {
    super(message);
    this.kind = kind;
    this.cpuCount = cpuCount;
  }
}

/** A virtio-mmio window the DSDT describes. */
export interface AcpiVirtioMmio {
  readonly base: number;
  readonly size: number;
  /** Its IOAPIC pin (level-triggered, active high). */
  readonly gsi: number;
}

/** What the tables describe beyond the fixed parts of the machine. */
export interface AcpiMachine {
  readonly cpuCount: number;
  /** virtio-mmio windows, in the order their devices get names (VR00, VR01, ...). */
  readonly virtioMmio?: readonly AcpiVirtioMmio[];
}

/** A table with its standard header filled and its checksum set. */
function sdt(signature: string, revision: number, length: number, fill: (table: LeWriter) => void): Uint8Array {
  const table = new LeWriter(length);
  table.ascii(0, signature).u32(4, length).u8(8, revision);
  table.ascii(10, OEM_ID).ascii(16, OEM_TABLE_ID).u32(24, 1).ascii(28, CREATOR_ID).u32(32, 1);
  fill(table);
  table.u8(9, checksum8(table.bytes));
  return table.bytes;
}

export interface AcpiTables {
  /** Where the RSDP is (boot_params.acpi_rsdp_addr). */
  readonly rsdp: number;
  /** All tables, to be written at `base`. */
  readonly bytes: Uint8Array;
  readonly base: number;
}

/** A Generic Address Structure (12 bytes) for a System I/O register block at `port`. */
function ioGas(t: LeWriter, at: number, port: number, bytes: number, accessSize: number): void {
  t.u8(at, GAS_SYSTEM_IO)
    .u8(at + 1, bytes * 8)
    .u8(at + 2, 0)
    .u8(at + 3, accessSize)
    .u64(at + 4, port);
}

/** The DSDT's AML: `\_S5` and the virtio-mmio devices. */
export function buildDsdtAml(virtioMmio: readonly AcpiVirtioMmio[]): Uint8Array {
  const s5 = amlName(
    "\\_S5",
    amlPackage([amlInteger(ACPI_SLP_TYP_S5), amlInteger(ACPI_SLP_TYP_S5), amlInteger(0), amlInteger(0)]),
  );
  const devices = virtioMmio.map((window, index) =>
    amlDevice(`VR${index.toString(16).toUpperCase().padStart(2, "0")}`, [
      amlName("_HID", amlString(VIRTIO_MMIO_ACPI_HID)),
      amlName("_UID", amlInteger(index)),
      amlName(
        "_CRS",
        amlResourceTemplate([
          resMemory32Fixed(window.base, window.size, true),
          resExtendedInterrupt(window.gsi, { level: true, activeHigh: true, shared: false }),
        ]),
      ),
    ]),
  );
  const parts = devices.length === 0 ? [s5] : [s5, amlScope("\\_SB", devices)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Build RSDP, XSDT, FADT, FACS, DSDT and MADT for `machine`, laid out from `base`. */
export function buildAcpiTables(machine: AcpiMachine, base = ACPI_START): AcpiTables {
  const { cpuCount } = machine;
  if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > ACPI_MAX_CPUS) {
    throw new AcpiError(
      "invalid-cpu-count",
      cpuCount,
      `Cannot build ACPI tables for ${cpuCount} CPUs: 1..${ACPI_MAX_CPUS} are possible`,
    );
  }
  const align = (offset: number, to = 16): number => Math.ceil(offset / to) * to;
  const aml = buildDsdtAml(machine.virtioMmio ?? []);
  const rsdpAt = base;
  const xsdtAt = align(rsdpAt + RSDP_SIZE);
  const xsdtSize = SDT_HEADER_SIZE + 2 * 8;
  const fadtAt = align(xsdtAt + xsdtSize);
  const facsAt = align(fadtAt + FADT_SIZE, FACS_ALIGN);
  const dsdtAt = align(facsAt + FACS_SIZE);
  const dsdtSize = SDT_HEADER_SIZE + aml.length;
  const madtAt = align(dsdtAt + dsdtSize);
  const madtSize = MADT_FIXED_SIZE + cpuCount * MADT_LOCAL_APIC_SIZE + MADT_IOAPIC_SIZE + MADT_ISO_SIZE;
  const end = madtAt + madtSize;
  if (end - base > ACPI_MAX_SIZE)
    throw new AcpiError(
      "too-large",
      cpuCount,
      `Cannot fit ACPI tables for ${cpuCount} CPUs: ${end - base} bytes exceed ${ACPI_MAX_SIZE}`,
    );

  const dsdt = sdt("DSDT", DSDT_REVISION, dsdtSize, (t) => {
    t.bytes.set(aml, SDT_HEADER_SIZE);
  });
  const facs = new LeWriter(FACS_SIZE);
  facs.ascii(0, "FACS").u32(4, FACS_SIZE).u8(32, FACS_VERSION);
  const pm1aCnt = ACPI_PM1A_EVT_PORT + ACPI_PM1_CNT_OFFSET;
  const fadt = sdt("FACP", FADT_REVISION, FADT_SIZE, (t) => {
    t.u32(FADT_FIRMWARE_CTRL, facsAt);
    t.u32(FADT_DSDT, dsdtAt).u64(FADT_X_DSDT, dsdtAt);
    t.u16(FADT_SCI_INT, ACPI_SCI_GSI);
    // The 32-bit block addresses and the 64-bit GAS forms agree (ACPICA warns when they differ).
    t.u32(FADT_PM1A_EVT_BLK, ACPI_PM1A_EVT_PORT).u32(FADT_PM1A_CNT_BLK, pm1aCnt);
    t.u8(FADT_PM1_EVT_LEN, ACPI_PM1_EVT_LEN).u8(FADT_PM1_CNT_LEN, ACPI_PM1_CNT_LEN);
    ioGas(t, FADT_X_PM1A_EVT_BLK, ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, GAS_ACCESS_WORD);
    ioGas(t, FADT_X_PM1A_CNT_BLK, pm1aCnt, ACPI_PM1_CNT_LEN, GAS_ACCESS_WORD);
    t.u16(FADT_P_LVL2_LAT, FADT_C2_NOT_SUPPORTED).u16(FADT_P_LVL3_LAT, FADT_C3_NOT_SUPPORTED);
    t.u16(FADT_IAPC_BOOT_ARCH, IAPC_BOOT_ARCH_LEGACY_DEVICES | IAPC_BOOT_ARCH_8042 | IAPC_BOOT_ARCH_VGA_NOT_PRESENT);
    t.u32(FADT_FLAGS, FADT_FLAG_WBINVD | FADT_FLAG_SLP_BUTTON | FADT_FLAG_RESET_REG_SUP);
    ioGas(t, FADT_RESET_REG, ACPI_RESET_PORT, 1, GAS_ACCESS_BYTE);
    t.u8(FADT_RESET_VALUE, ACPI_RESET_VALUE);
    t.u8(FADT_MINOR_VERSION, FADT_MINOR_REVISION);
    t.ascii(FADT_HYPERVISOR_VENDOR_ID, "AXVISOR");
  });
  const ioapicId = cpuCount;
  const madt = sdt("APIC", MADT_REVISION, madtSize, (t) => {
    // PCAT_COMPAT: dual 8259s are present (KVM's in-kernel PIC); the OS masks them when it uses the IOAPIC.
    t.u32(SDT_HEADER_SIZE, APIC_START).u32(SDT_HEADER_SIZE + 4, MADT_FLAG_PCAT_COMPAT);
    let at = MADT_FIXED_SIZE;
    for (let cpu = 0; cpu < cpuCount; cpu++) {
      t.u8(at, MADT_TYPE_LOCAL_APIC)
        .u8(at + 1, MADT_LOCAL_APIC_SIZE)
        .u8(at + 2, cpu)
        .u8(at + 3, cpu)
        .u32(at + 4, MADT_LOCAL_APIC_ENABLED);
      at += MADT_LOCAL_APIC_SIZE;
    }
    t.u8(at, MADT_TYPE_IOAPIC)
      .u8(at + 1, MADT_IOAPIC_SIZE)
      .u8(at + 2, ioapicId)
      .u32(at + 4, IOAPIC_START)
      .u32(at + 8, 0);
    at += MADT_IOAPIC_SIZE;
    // The SCI is a level line (active high, as the board drives it), unlike the ISA default of edge-triggered.
    t.u8(at, MADT_TYPE_INTERRUPT_OVERRIDE)
      .u8(at + 1, MADT_ISO_SIZE)
      .u8(at + 2, MADT_BUS_ISA)
      .u8(at + 3, ACPI_SCI_GSI)
      .u32(at + 4, ACPI_SCI_GSI)
      .u16(at + 8, MPS_INTI_ACTIVE_HIGH_LEVEL);
  });
  const xsdt = sdt("XSDT", 1, xsdtSize, (t) => {
    t.u64(SDT_HEADER_SIZE, fadtAt).u64(SDT_HEADER_SIZE + 8, madtAt);
  });
  const rsdp = new LeWriter(RSDP_SIZE);
  rsdp.ascii(0, "RSD PTR ").ascii(9, OEM_ID).u8(15, 2).u32(16, 0).u32(20, RSDP_SIZE).u64(24, xsdtAt);
  rsdp.u8(8, checksum8(rsdp.bytes.subarray(0, 20)));
  rsdp.u8(32, checksum8(rsdp.bytes));

  const all = new Uint8Array(end - base);
  all.set(rsdp.bytes, rsdpAt - base);
  all.set(xsdt, xsdtAt - base);
  all.set(fadt, fadtAt - base);
  all.set(facs.bytes, facsAt - base);
  all.set(dsdt, dsdtAt - base);
  all.set(madt, madtAt - base);
  return { rsdp: rsdpAt, bytes: all, base };
}

/** Write the tables at ACPI_START; returns the RSDP address for boot_params.acpi_rsdp_addr. */
export function writeAcpiTables(memory: GuestMemoryAccess, machine: AcpiMachine): number {
  const tables = buildAcpiTables(machine);
  memory.write(tables.base, tables.bytes);
  return tables.rsdp;
}
