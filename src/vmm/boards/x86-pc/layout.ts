/**
 * The x86_64 machine's guest-physical layout (Firecracker's arch/x86_64/layout.rs values). Every address the x86
 * machine pieces use is named here; nothing else in this board folder writes an address literal.
 *
 * ```
 * 0x0000_0000 ┌────────────────────────────┐ RAM (low)
 *             │ real-mode IVT / BDA        │
 * 0x0000_0500 │ boot GDT (4 entries)       │ BOOT_GDT_START
 * 0x0000_0520 │ boot IDT (empty)           │ BOOT_IDT_START
 * 0x0000_7000 │ zero page (boot_params)    │ ZERO_PAGE_START
 * 0x0000_8ff0 │ boot stack (grows down)    │ BOOT_STACK_POINTER
 * 0x0000_9000 │ PML4                       │ PML4_START
 * 0x0000_a000 │ PDPT                       │ PDPTE_START
 * 0x0000_b000 │ PD: 512 × 2 MiB = 1 GiB    │ PDE_START
 * 0x0002_0000 │ kernel command line        │ CMDLINE_START (CMDLINE_MAX_SIZE)
 * 0x0009_fc00 ├────────────────────────────┤ MPTABLE_START: MP floating pointer + table (e820: reserved)
 * 0x000a_0000 │ VGA / option ROM           │ (e820: reserved up to 1 MiB)
 * 0x000e_0000 │ ACPI: RSDP, XSDT, FADT,    │ ACPI_START (the kernel scans 0xe0000..0xfffff for the RSDP)
 *             │ DSDT, MADT                 │
 * 0x0010_0000 ├────────────────────────────┤ HIMEM_START: protected-mode kernel, then initrd (high)
 *             │ RAM                        │
 * 0xc000_0000 ├────────────────────────────┤ MMIO_MEM_START (the 32-bit MMIO hole; RAM stops here)
 *             │ boot timer (1 page)        │ BOOT_TIMER_START
 *             │ other MMIO devices         │ MMIO_DEVICES_START ..
 * 0xfec0_0000 │ IOAPIC                     │ IOAPIC_START
 * 0xfee0_0000 │ local APIC                 │ APIC_START
 * 0xfffb_c000 │ KVM identity map, TSS      │ KVM_PRIVATE_START (X86_PRIVATE_PAGES_SIZE, handed to the backend)
 * 0x1_0000_0000├───────────────────────────┤ HIGH_RAM_START: RAM beyond the hole
 *             └────────────────────────────┘
 * ```
 */

import { X86_PAGE_SIZE } from "../../../arch/x86_64/paging.ts";
import { X86_PRIVATE_PAGES_SIZE } from "../../../hal/types.ts";

export const PAGE_SIZE = X86_PAGE_SIZE;

/** The boot GDT: null, code (0x08), data (0x10), TSS (0x18). */
export const BOOT_GDT_START = 0x500;
export const BOOT_GDT_ENTRIES = 4;
/** An empty IDT (limit 7, one null gate) right after the GDT: the kernel installs its own. */
export const BOOT_IDT_START = 0x520;
/** struct boot_params, 4 KiB. */
export const ZERO_PAGE_START = 0x7000;
export const BOOT_STACK_POINTER = 0x8ff0;
/** Identity-mapping page tables for the 64-bit entry. */
export const PML4_START = 0x9000;
export const PDPTE_START = 0xa000;
export const PDE_START = 0xb000;
/** The first GiB is identity-mapped with 2 MiB pages at boot. */
export const BOOT_IDENTITY_MAP_SIZE = 0x4000_0000;

export const CMDLINE_START = 0x2_0000;
/** Our limit for the command line (the kernel's own `cmdline_size` may be smaller and is checked too). */
export const CMDLINE_MAX_SIZE = 0x1_0000;

/** End of the conventional RAM the e820 map reports below 1 MiB: the MP table sits just above it. */
export const EBDA_START = 0x9_fc00;
export const MPTABLE_START = EBDA_START;
/** Legacy VGA / ROM area, reserved up to 1 MiB. */
export const LEGACY_HOLE_START = 0xa_0000;
/** ACPI tables (acpi.ts), in the BIOS area the kernel scans for the RSDP. */
export const ACPI_START = 0xe_0000;
export const HIMEM_START = 0x10_0000;

/** RAM below 4 GiB stops at the 32-bit MMIO hole. */
export const MMIO_MEM_START = 0xc000_0000;
export const MMIO_MEM_SIZE = 0x1_0000_0000 - MMIO_MEM_START;
/** Firecracker's boot-time marker device: the guest writes the byte 123 here when its init starts. */
export const BOOT_TIMER_START = MMIO_MEM_START;
export const BOOT_TIMER_SIZE = PAGE_SIZE;
/** Where the device manager may place further MMIO devices (virtio-mmio windows, test devices). */
export const MMIO_DEVICES_START = BOOT_TIMER_START + BOOT_TIMER_SIZE;
export const IOAPIC_START = 0xfec0_0000;
export const APIC_START = 0xfee0_0000;
/**
 * Pages KVM uses itself on Intel hosts (identity map + TSS), as Firecracker places them: the board keeps them free
 * and hands their base to the backend (`HalVmOptions.x86.privatePagesBase`).
 */
export const KVM_PRIVATE_START = 0xfffb_c000;
export const KVM_PRIVATE_SIZE = X86_PRIVATE_PAGES_SIZE;

export const HIGH_RAM_START = 0x1_0000_0000;

/** xAPIC ids are 8 bits and 0xff is broadcast; the IOAPIC takes the id after the last CPU (MP table and MADT). */
export const X86_MAX_CPUS = 254;

/**
 * Legacy devices on the ISA port bus and their IRQs. Every other port (0x80 POST codes among them) belongs to the
 * unclaimed-port device (legacy-devices.ts); `out` to AXVISOR_HYPERCALL_PORT (src/arch/x86_64/hypercall.ts) is
 * a hypercall, decoded by the backend before it reaches the bus.
 */
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const I8042_PORT = 0x60;
/** CMOS RTC index/data ports (0x70, 0x71). */
export const RTC_PORT = 0x70;

/** A RAM region of the machine. */
export interface RamRegion {
  readonly gpa: number;
  readonly size: number;
}

/**
 * Where `memSize` bytes of guest RAM go: below the MMIO hole first, the rest from 4 GiB. Sizes are whole pages.
 */
export function ramRegions(memSize: number): RamRegion[] {
  if (!Number.isSafeInteger(memSize) || memSize <= 0 || memSize % PAGE_SIZE !== 0) {
    throw new RangeError(
      `Cannot lay out ${memSize} bytes of RAM: the size must be a positive multiple of ${PAGE_SIZE}`,
    );
  }
  if (memSize <= MMIO_MEM_START) return [{ gpa: 0, size: memSize }];
  return [
    { gpa: 0, size: MMIO_MEM_START },
    { gpa: HIGH_RAM_START, size: memSize - MMIO_MEM_START },
  ];
}
