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
 * 0xc000_1000 │ virtio-mmio 0..7 (4 KiB    │ VIRTIO_MMIO_START (GSIs 16..23, level; described in the DSDT)
 *             │ each)                      │
 * 0xc000_9000 │ other MMIO devices         │ MMIO_DEVICES_START .. (emu_devices entries go here)
 * 0xfec0_0000 │ IOAPIC                     │ IOAPIC_START
 * 0xfee0_0000 │ local APIC                 │ APIC_START
 * 0xfffb_c000 │ KVM identity map, TSS      │ KVM_PRIVATE_START (X86_PRIVATE_PAGES_SIZE, handed to the backend)
 * 0x1_0000_0000├───────────────────────────┤ HIGH_RAM_START: RAM beyond the hole
 *             └────────────────────────────┘
 * ```
 *
 * Port I/O (everything else is the unclaimed-port device's):
 *
 * ```
 * 0x0060, 0x0064  i8042 (IRQ 1 keyboard, IRQ 12 AUX); 0x64 is also the FADT's ACPI reset register (0xFE)
 * 0x0070..0x0071  CMOS RTC
 * 0x03f8..0x03ff  COM1 (IRQ 4)
 * 0x0600..0x0605  ACPI PM1a event block (0x600, 4 bytes) and control block (0x604, 2 bytes); SCI on GSI 9
 * 0x0cf0          axvisor hypercall port (decoded by the backend, never on the bus)
 * ```
 */

import { X86_PAGE_SIZE } from "../../../arch/x86_64/paging.ts";
import { I8042_CMD_RESET_CPU, I8042_COMMAND_OFFSET } from "../../../devices/i8042.ts";
import { X86_PRIVATE_PAGES_SIZE } from "../../../hal/types.ts";

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
export const BOOT_TIMER_SIZE = X86_PAGE_SIZE;
/**
 * The board's virtio-mmio windows: `kernel.disk_path` is a virtio-blk in window 0. Each window has its own IOAPIC
 * pin (GSIs 16..23: the pins above the ISA IRQs, so no legacy device shares them), level-triggered, active high.
 */
export const VIRTIO_MMIO_START = BOOT_TIMER_START + BOOT_TIMER_SIZE;
export const VIRTIO_MMIO_SIZE = X86_PAGE_SIZE;
export const VIRTIO_MMIO_COUNT = 8;
export const VIRTIO_MMIO_FIRST_GSI = 16;
/** Where further MMIO devices may go (`emu_devices` entries), up to the IOAPIC. */
export const MMIO_DEVICES_START = VIRTIO_MMIO_START + VIRTIO_MMIO_COUNT * VIRTIO_MMIO_SIZE;
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
/** The i8042's keyboard and AUX (mouse) IRQs. */
export const I8042_KBD_IRQ = 1;
export const I8042_AUX_IRQ = 12;
/**
 * The ACPI reset register (FADT RESET_REG, SystemIO, 8 bits) and the value that resets: the i8042's command port
 * and its "pulse reset line" command, so `reboot=acpi` (Linux's default), `reboot=k` and the keyboard controller
 * reset of other systems all end in the same reset line.
 */
export const ACPI_RESET_PORT = I8042_PORT + I8042_COMMAND_OFFSET;
export const ACPI_RESET_VALUE = I8042_CMD_RESET_CPU;
/**
 * The ACPI PM1a event block (PM1_STS, PM1_EN) and right after it the PM1a control block, at QEMU's PIIX4 PM base
 * (0x600, clear of the legacy ISA ports).
 */
export const ACPI_PM1A_EVT_PORT = 0x600;
/** The SCI's GSI (FADT SCI_INT, and an interrupt source override in the MADT): ISA IRQ 9, as on PCs. */
export const ACPI_SCI_GSI = 9;
/** IOAPIC pins, hence GSIs 0..23 (KVM's in-kernel IOAPIC). */
export const IOAPIC_PIN_COUNT = 24;

/** Base, size and GSI of virtio-mmio window `index`. */
export function virtioMmioWindow(index: number): {
  readonly base: number;
  readonly size: number;
  readonly gsi: number;
} {
  if (!Number.isInteger(index) || index < 0 || index >= VIRTIO_MMIO_COUNT) {
    throw new RangeError(`No virtio-mmio window ${index}: the x86 PC board has windows 0..${VIRTIO_MMIO_COUNT - 1}`);
  }
  return {
    base: VIRTIO_MMIO_START + index * VIRTIO_MMIO_SIZE,
    size: VIRTIO_MMIO_SIZE,
    gsi: VIRTIO_MMIO_FIRST_GSI + index,
  };
}

/** A RAM region of the machine. */
export interface RamRegion {
  readonly gpa: number;
  readonly size: number;
}

/**
 * Where `memSize` bytes of guest RAM go: below the MMIO hole first, the rest from 4 GiB. Sizes are whole pages.
 */
export function ramRegions(memSize: number): RamRegion[] {
  if (!Number.isSafeInteger(memSize) || memSize <= 0 || memSize % X86_PAGE_SIZE !== 0) {
    throw new RangeError(
      `Cannot lay out ${memSize} bytes of RAM: the size must be a positive multiple of ${X86_PAGE_SIZE}`,
    );
  }
  if (memSize <= MMIO_MEM_START) return [{ gpa: 0, size: memSize }];
  return [
    { gpa: 0, size: MMIO_MEM_START },
    { gpa: HIGH_RAM_START, size: memSize - MMIO_MEM_START },
  ];
}
