/**
 * The Intel MultiProcessor Specification 1.4 table that tells a kernel without ACPI how many CPUs there are and how
 * ISA interrupts reach the IOAPIC: a floating pointer ("_MP_") at MPTABLE_START followed by the configuration
 * table ("PCMP") with one processor entry per vCPU, the ISA bus, the IOAPIC, IRQ 0..23 routed to IOAPIC pins
 * 0..23, ExtINT -> LINT0 and NMI -> LINT1 (MP spec chapter 4; the values Firecracker's mptable.rs uses).
 */

import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { APIC_START, HIMEM_START, IOAPIC_START, MPTABLE_START, X86_MAX_CPUS } from "./layout.ts";
import { checksum8, LeWriter } from "./le-writer.ts";

const MPF_SIGNATURE = "_MP_";
const MPC_SIGNATURE = "PCMP";
const MP_SPEC_REVISION = 4;
const MPF_SIZE = 16;
const MPC_HEADER_SIZE = 44;
const MPC_CPU_SIZE = 20;
const MPC_BUS_SIZE = 8;
const MPC_IOAPIC_SIZE = 8;
const MPC_INTSRC_SIZE = 8;
const MPC_LINTSRC_SIZE = 8;

// Entry types (MP spec table 4-3)
const MP_PROCESSOR = 0;
const MP_BUS = 1;
const MP_IOAPIC = 2;
const MP_INTSRC = 3;
const MP_LINTSRC = 4;
// Interrupt types (table 4-9 / 4-13)
const MP_INT = 0;
const MP_NMI = 1;
const MP_EXTINT = 3;
/** Polarity and trigger "conforms to the bus". */
const MP_IRQFLAG_DEFAULT = 0;
const CPU_ENABLED = 1 << 0;
const CPU_BOOTPROCESSOR = 1 << 1;
/** Local APIC version of an integrated APIC (0x1X); IOAPIC version 0x11 (82093AA). */
const APIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const MPC_APIC_USABLE = 1;
/** Family 6 signature, features FPU (bit 0) and APIC (bit 9). */
const CPU_SIGNATURE = 0x600;
const CPU_FEATURES = (1 << 0) | (1 << 9);
export const MP_IRQ_COUNT = 24;
export const MP_MAX_CPUS = X86_MAX_CPUS;
const LINT_ALL_CPUS = 0xff;

export class MpTableError extends Error {
  override readonly name = "MpTableError";
  readonly kind = "invalid-cpu-count" as const;
  readonly cpuCount: number;
  constructor(cpuCount: number, message: string) {
    super(message);
    this.cpuCount = cpuCount;
  }
}

/** Size of the whole structure for `cpuCount` CPUs. */
export function mptableSize(cpuCount: number): number {
  return (
    MPF_SIZE +
    MPC_HEADER_SIZE +
    cpuCount * MPC_CPU_SIZE +
    MPC_BUS_SIZE +
    MPC_IOAPIC_SIZE +
    MP_IRQ_COUNT * MPC_INTSRC_SIZE +
    2 * MPC_LINTSRC_SIZE
  );
}

/** Build the floating pointer + configuration table for `cpuCount` CPUs with APIC ids 0..cpuCount-1. */
export function buildMpTable(cpuCount: number, base = MPTABLE_START): Uint8Array {
  if (!Number.isInteger(cpuCount) || cpuCount < 1 || cpuCount > MP_MAX_CPUS) {
    throw new MpTableError(cpuCount, `Cannot build an MP table for ${cpuCount} CPUs: 1..${MP_MAX_CPUS} are possible`);
  }
  const size = mptableSize(cpuCount);
  if (base + size > HIMEM_START) {
    throw new MpTableError(
      cpuCount,
      `Cannot build an MP table for ${cpuCount} CPUs at 0x${base.toString(16)}: ${size} bytes run past 1 MiB`,
    );
  }
  const table = new LeWriter(size);
  const configBase = base + MPF_SIZE;
  const ioapicId = cpuCount;

  // Floating pointer structure
  table.ascii(0, MPF_SIGNATURE).u32(4, configBase).u8(8, 1).u8(9, MP_SPEC_REVISION);
  // feature bytes 1..5 stay 0: a configuration table is present, no default configuration.

  let at = MPF_SIZE + MPC_HEADER_SIZE;
  for (let cpu = 0; cpu < cpuCount; cpu++) {
    table
      .u8(at, MP_PROCESSOR)
      .u8(at + 1, cpu)
      .u8(at + 2, APIC_VERSION);
    table
      .u8(at + 3, CPU_ENABLED | (cpu === 0 ? CPU_BOOTPROCESSOR : 0))
      .u32(at + 4, CPU_SIGNATURE)
      .u32(at + 8, CPU_FEATURES);
    at += MPC_CPU_SIZE;
  }
  table
    .u8(at, MP_BUS)
    .u8(at + 1, 0)
    .ascii(at + 2, "ISA   ");
  at += MPC_BUS_SIZE;
  table
    .u8(at, MP_IOAPIC)
    .u8(at + 1, ioapicId)
    .u8(at + 2, IOAPIC_VERSION)
    .u8(at + 3, MPC_APIC_USABLE)
    .u32(at + 4, IOAPIC_START);
  at += MPC_IOAPIC_SIZE;
  for (let irq = 0; irq < MP_IRQ_COUNT; irq++) {
    table
      .u8(at, MP_INTSRC)
      .u8(at + 1, MP_INT)
      .u16(at + 2, MP_IRQFLAG_DEFAULT)
      .u8(at + 4, 0)
      .u8(at + 5, irq)
      .u8(at + 6, ioapicId)
      .u8(at + 7, irq);
    at += MPC_INTSRC_SIZE;
  }
  table
    .u8(at, MP_LINTSRC)
    .u8(at + 1, MP_EXTINT)
    .u16(at + 2, MP_IRQFLAG_DEFAULT)
    .u8(at + 4, 0)
    .u8(at + 5, 0)
    .u8(at + 6, 0)
    .u8(at + 7, 0);
  at += MPC_LINTSRC_SIZE;
  table
    .u8(at, MP_LINTSRC)
    .u8(at + 1, MP_NMI)
    .u16(at + 2, MP_IRQFLAG_DEFAULT)
    .u8(at + 4, 0)
    .u8(at + 5, 0)
    .u8(at + 6, LINT_ALL_CPUS)
    .u8(at + 7, 1);
  at += MPC_LINTSRC_SIZE;

  // Configuration table header
  const entryCount = cpuCount + 1 + 1 + MP_IRQ_COUNT + 2;
  const h = MPF_SIZE;
  table
    .ascii(h, MPC_SIGNATURE)
    .u16(h + 4, size - MPF_SIZE)
    .u8(h + 6, MP_SPEC_REVISION);
  table.ascii(h + 8, "AXVISOR ").ascii(h + 16, "AXVISOR-TS  ");
  table.u16(h + 34, entryCount).u32(h + 36, APIC_START);
  table.u8(h + 7, checksum8(table.bytes.subarray(MPF_SIZE, size)));
  table.u8(10, checksum8(table.bytes.subarray(0, MPF_SIZE)));
  return table.bytes;
}

/** Write the MP table for `cpuCount` CPUs at MPTABLE_START. */
export function writeMpTable(memory: GuestMemoryAccess, cpuCount: number): void {
  memory.write(MPTABLE_START, buildMpTable(cpuCount));
}
