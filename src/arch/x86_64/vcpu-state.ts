/**
 * An x86 vCPU's boot state as a VMM hands it to a hardware backend (`HalVcpuSetup.x86`), and the simplest one:
 * real mode at an entry below 1 MiB (Intel SDM vol. 3A, 20.1 "Real-Address Mode Operation").
 */

import type { X86GprName } from "./registers.ts";
import { realModeSegment, type X86DescriptorTable, type X86Segment, type X86SegmentRegister } from "./segments.ts";
import { X86_CR0_ET, X86_RFLAGS_RESERVED } from "./system-registers.ts";

/** An x86 vCPU's boot state. */
export interface X86VcpuState {
  readonly rip: number;
  /** Default 0x2 (the reserved bit 1 set, interrupts off). */
  readonly rflags?: bigint;
  readonly gprs?: Partial<Readonly<Record<X86GprName, bigint>>>;
  /** Segment registers; those not given keep their reset value. */
  readonly segments?: Partial<Readonly<Record<X86SegmentRegister, X86Segment>>>;
  readonly gdt?: X86DescriptorTable;
  readonly idt?: X86DescriptorTable;
  readonly cr0?: bigint;
  readonly cr3?: bigint;
  readonly cr4?: bigint;
  readonly efer?: bigint;
  /**
   * Local APIC LINT0 with an in-kernel irqchip: "extint" (default) wires the 8259 PIC to the CPU as on a PC;
   * "masked" for machines that tell the guest there is no 8259 (hardware-reduced ACPI).
   */
  readonly lint0?: "extint" | "masked";
}

/** Real mode reaches the first MiB (plus the HMA, which we do not use). */
export const REAL_MODE_LIMIT = 0x10_0000;

/**
 * Real mode at `entry` (below 1 MiB): CS base = entry & 0xf0000, IP = entry & 0xffff, the other data segments 0
 * (so absolute offsets below 64 KiB address memory directly), paging and protection off.
 */
export function realModeState(entry: number, gprs: X86VcpuState["gprs"] = {}): X86VcpuState {
  if (!Number.isInteger(entry) || entry < 0 || entry >= REAL_MODE_LIMIT) {
    throw new RangeError(`Cannot enter real mode at 0x${entry.toString(16)}: the entry must be below 1 MiB`);
  }
  const data = realModeSegment(0, false);
  return {
    rip: entry & 0xffff,
    rflags: X86_RFLAGS_RESERVED,
    gprs,
    segments: { cs: realModeSegment((entry >>> 4) & 0xf000, true), ds: data, es: data, fs: data, gs: data, ss: data },
    cr0: X86_CR0_ET,
    cr4: 0n,
    efer: 0n,
  };
}
