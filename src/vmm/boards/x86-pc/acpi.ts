/**
 * Minimal ACPI tables (ACPI 6.4 chapter 5) so that kernels built without MP-table parsing (Debian's cloud kernel
 * has CONFIG_X86_MPPARSE unset) find every CPU and the IOAPIC: RSDP -> XSDT -> { FADT -> DSDT, MADT }.
 *
 * The FADT describes a PC-compatible platform (legacy devices, an 8042, dual 8259s) without ACPI power-management
 * hardware. It is deliberately NOT hardware-reduced: under HW_REDUCED_ACPI Linux drops the 8259 and with it the
 * fixed ISA IRQ numbers 0..15, so the COM1 and i8042 drivers (which ask for IRQ 4 and 1 by number) lose their
 * interrupts unless the DSDT describes them in AML (what Firecracker does). The DSDT holds no AML. The MADT lists one enabled local APIC per vCPU
 * (APIC id = vCPU index) and the IOAPIC at IOAPIC_START with GSI base 0 (KVM routes GSI n to IOAPIC pin n).
 * The tables live in the BIOS area at ACPI_START (reserved in the e820 map); the RSDP sits at its start, where
 * the kernel's scan of 0xE0000..0xFFFFF finds it, and its address also goes into boot_params.acpi_rsdp_addr.
 */

import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { ACPI_START, APIC_START, HIMEM_START, IOAPIC_START, X86_MAX_CPUS } from "./layout.ts";
import { checksum8, LeWriter } from "./le-writer.ts";

const SDT_HEADER_SIZE = 36;
const RSDP_SIZE = 36;
const FADT_SIZE = 276;
const MADT_FIXED_SIZE = SDT_HEADER_SIZE + 8;
const MADT_LOCAL_APIC_SIZE = 8;
const MADT_IOAPIC_SIZE = 12;
const OEM_ID = "AXVTS ";
const OEM_TABLE_ID = "AXVISOR ";
const CREATOR_ID = "AXTS";

// FADT (ACPI 6.4, 5.2.9)
const FADT_REVISION = 6;
const FADT_MINOR_REVISION = 4;
const FADT_DSDT = 40;
const FADT_IAPC_BOOT_ARCH = 109;
const FADT_FLAGS = 112;
const FADT_MINOR_VERSION = 131;
const FADT_X_DSDT = 140;
const FADT_HYPERVISOR_VENDOR_ID = 268;
/** IAPC_BOOT_ARCH: legacy (ISA) devices (bit 0), an 8042 (bit 1), no VGA (bit 2). */
const IAPC_BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
const IAPC_BOOT_ARCH_8042 = 1 << 1;
const IAPC_BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
/** FADT flags: WBINVD works (bit 0), the power button and sleep button are not fixed-feature devices (4, 5). */
const FADT_FLAG_WBINVD = 1 << 0;
const FADT_FLAG_PWR_BUTTON = 1 << 4;
const FADT_FLAG_SLP_BUTTON = 1 << 5;

// MADT (5.2.12)
const MADT_REVISION = 5;
const MADT_FLAG_PCAT_COMPAT = 1 << 0;
const MADT_TYPE_LOCAL_APIC = 0;
const MADT_TYPE_IOAPIC = 1;
const MADT_LOCAL_APIC_ENABLED = 1 << 0;

export const ACPI_MAX_CPUS = X86_MAX_CPUS;
/** The space we use in the BIOS area. */
export const ACPI_MAX_SIZE = HIMEM_START - ACPI_START;

export class AcpiError extends Error {
  override readonly name = "AcpiError";
  readonly kind = "invalid-cpu-count" as const;
  readonly cpuCount: number;
  constructor(cpuCount: number, message: string) {
    super(message);
    this.cpuCount = cpuCount;
  }
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

/** Build RSDP, XSDT, FADT, DSDT and MADT for `cpuCount` CPUs, laid out from `base`. */
export function buildAcpiTables(cpuCount: number, base = ACPI_START): AcpiTables {
  if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > ACPI_MAX_CPUS) {
    throw new AcpiError(cpuCount, `Cannot build ACPI tables for ${cpuCount} CPUs: 1..${ACPI_MAX_CPUS} are possible`);
  }
  const align = (offset: number): number => Math.ceil(offset / 16) * 16;
  const rsdpAt = base;
  const xsdtAt = align(rsdpAt + RSDP_SIZE);
  const xsdtSize = SDT_HEADER_SIZE + 2 * 8;
  const fadtAt = align(xsdtAt + xsdtSize);
  const dsdtAt = align(fadtAt + FADT_SIZE);
  const madtAt = align(dsdtAt + SDT_HEADER_SIZE);
  const madtSize = MADT_FIXED_SIZE + cpuCount * MADT_LOCAL_APIC_SIZE + MADT_IOAPIC_SIZE;
  const end = madtAt + madtSize;

  const dsdt = sdt("DSDT", 2, SDT_HEADER_SIZE, () => {});
  const fadt = sdt("FACP", FADT_REVISION, FADT_SIZE, (t) => {
    t.u32(FADT_DSDT, dsdtAt).u64(FADT_X_DSDT, dsdtAt);
    t.u16(FADT_IAPC_BOOT_ARCH, IAPC_BOOT_ARCH_LEGACY_DEVICES | IAPC_BOOT_ARCH_8042 | IAPC_BOOT_ARCH_VGA_NOT_PRESENT);
    t.u32(FADT_FLAGS, FADT_FLAG_WBINVD | FADT_FLAG_PWR_BUTTON | FADT_FLAG_SLP_BUTTON);
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
  all.set(dsdt, dsdtAt - base);
  all.set(madt, madtAt - base);
  if (all.length > ACPI_MAX_SIZE)
    throw new AcpiError(
      cpuCount,
      `Cannot fit ACPI tables for ${cpuCount} CPUs: ${all.length} bytes exceed ${ACPI_MAX_SIZE}`,
    );
  return { rsdp: rsdpAt, bytes: all, base };
}

/** Write the tables at ACPI_START; returns the RSDP address for boot_params.acpi_rsdp_addr. */
export function writeAcpiTables(memory: GuestMemoryAccess, cpuCount: number): number {
  const tables = buildAcpiTables(cpuCount);
  memory.write(tables.base, tables.bytes);
  return tables.rsdp;
}
