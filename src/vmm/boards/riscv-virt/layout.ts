/**
 * The RISC-V `virt` board layout, for both the hypervisor board (guest in VS-mode) and the bare board (hart in
 * M-mode). It mirrors QEMU's `virt` machine so guests written for QEMU run unchanged. This is the only place that
 * spells these addresses; the device manager, the FDT generator and the tests take them from here.
 *
 *   0x0000_0000 ┌───────────────────────────────┐
 *               │ unmapped                      │
 *   0x0010_0000 ├───────────────────────────────┤ sifive,test finisher (4 KiB): poweroff / reboot / fail
 *   0x0010_1000 ├───────────────────────────────┤
 *   0x0200_0000 ├───────────────────────────────┤ CLINT (64 KiB) — bare board only (VS guests use SBI/Sstc)
 *   0x0201_0000 ├───────────────────────────────┤
 *   0x0c00_0000 ├───────────────────────────────┤ PLIC (0x20_0000 + 0x1000 × contexts, QEMU numbering:
 *               │                               │   context 2h = hart h M-mode, 2h+1 = hart h S-mode)
 *   0x0f00_0000 ├───────────────────────────────┤ axvisor test device (4 KiB): MMIO width tests
 *   0x0f00_1000 ├───────────────────────────────┤ boot timer (4 KiB): guest writes 123 at init
 *   0x1000_0000 ├───────────────────────────────┤ UART0 NS16550A (256 B), PLIC source 10
 *   0x1000_1000 ├───────────────────────────────┤ virtio-mmio 0..7 (4 KiB each), PLIC sources 1..8
 *   0x1000_9000 ├───────────────────────────────┤
 *   0x8000_0000 ├───────────────────────────────┤ RAM (from the config's memory_regions)
 *               └───────────────────────────────┘
 */

import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import { alignUp } from "../../../common/ranges.ts";
import { CLINT_WINDOW_SIZE } from "../../../devices/clint.ts";
import { plicWindowSize } from "../../../devices/plic.ts";

export const RISCV_VIRT = {
  SIFIVE_TEST_BASE: 0x0010_0000,
  SIFIVE_TEST_SIZE: 0x1000,
  CLINT_BASE: 0x0200_0000,
  CLINT_SIZE: CLINT_WINDOW_SIZE,
  PLIC_BASE: 0x0c00_0000,
  /** QEMU virt's PLIC: 95 sources (ids 1..95). */
  PLIC_NUM_SOURCES: 96,
  TEST_DEVICE_BASE: 0x0f00_0000,
  TEST_DEVICE_SIZE: 0x1000,
  BOOT_TIMER_BASE: 0x0f00_1000,
  BOOT_TIMER_SIZE: 0x1000,
  UART0_BASE: 0x1000_0000,
  UART0_SIZE: 0x100,
  UART0_IRQ: 10,
  /** QEMU's NS16550A input clock. */
  UART0_CLOCK_HZ: 3_686_400,
  VIRTIO_MMIO_BASE: 0x1000_1000,
  VIRTIO_MMIO_SIZE: 0x1000,
  VIRTIO_MMIO_COUNT: 8,
  VIRTIO_MMIO_FIRST_IRQ: 1,
  RAM_BASE: 0x8000_0000,
  /** Where a DTB goes when the config does not say: the top of the first RAM region, 2 MiB aligned. */
  DTB_ALIGN: 0x20_0000,
  DTB_MAX_SIZE: 0x10_0000,
} as const;

/** PLIC window size for `harts` harts with two contexts (M and S) each, in whole pages. */
export function plicSize(harts: number): number {
  return alignUp(plicWindowSize(2 * harts), PAGE_SIZE);
}

/** PLIC context of hart `hart` for machine (M) or supervisor (S) external interrupts. */
export function plicContext(hart: number, mode: "M" | "S"): number {
  return 2 * hart + (mode === "S" ? 1 : 0);
}

/** Base address and PLIC source of virtio-mmio window `index`. */
export function virtioMmioWindow(index: number): { base: number; size: number; irq: number } {
  return {
    base: RISCV_VIRT.VIRTIO_MMIO_BASE + index * RISCV_VIRT.VIRTIO_MMIO_SIZE,
    size: RISCV_VIRT.VIRTIO_MMIO_SIZE,
    irq: RISCV_VIRT.VIRTIO_MMIO_FIRST_IRQ + index,
  };
}
