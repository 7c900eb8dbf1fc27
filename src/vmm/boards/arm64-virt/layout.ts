/**
 * The arm64 `virt` board layout. It mirrors QEMU's `virt` machine (hw/arm/virt.c, `base_memmap` and `a15irqmap`)
 * so kernels and device trees written for QEMU find the same addresses; our own test device and boot timer sit in
 * a hole QEMU leaves free. This is the only place that spells these addresses: the board, its device tree and the
 * tests take them from here.
 *
 *   0x0000_0000 ┌───────────────────────────────┐
 *               │ unmapped (QEMU: flash)        │
 *   0x0800_0000 ├───────────────────────────────┤ GICv3 distributor (64 KiB)                    in-kernel (KVM)
 *   0x080a_0000 ├───────────────────────────────┤ GICv3 redistributors, 128 KiB per vCPU        in-kernel (KVM)
 *               │  (room for 123 vCPUs)         │
 *   0x0900_0000 ├───────────────────────────────┤ PL011 UART0 (4 KiB)            SPI 1  = INTID 33
 *   0x0901_0000 ├───────────────────────────────┤ PL031 RTC (4 KiB)              SPI 2  = INTID 34
 *   0x0903_0000 ├───────────────────────────────┤ PL061 GPIO (4 KiB)             SPI 7  = INTID 39
 *               │  line 3: the power button (gpio-keys, KEY_POWER), as QEMU wires it
 *   0x0a00_0000 ├───────────────────────────────┤ virtio-mmio 0..7 (512 B each)   SPI 16..23 = INTID 48..55
 *   0x0a00_1000 ├───────────────────────────────┤
 *   0x0b00_0000 ├───────────────────────────────┤ axvisor test device (4 KiB): MMIO width tests
 *   0x0b00_1000 ├───────────────────────────────┤ boot timer (4 KiB): guest writes 123 at init
 *   0x4000_0000 ├───────────────────────────────┤ RAM (from the config's memory_regions; none below here)
 *               └───────────────────────────────┘
 *
 * The arch timer (PPIs 10/11/13/14) and PSCI (HVC) have no address: KVM provides them in the kernel.
 */

import { GICD_SIZE, GICR_SIZE_PER_CPU, spiIntid } from "../../../arch/aarch64/gic.ts";

export const ARM64_VIRT = {
  GIC_DIST_BASE: 0x0800_0000,
  GIC_DIST_SIZE: GICD_SIZE,
  GIC_REDIST_BASE: 0x080a_0000,
  /** Up to the UART: 0xf6_0000 bytes, 123 redistributor frame pairs (QEMU virt's VIRT_GIC_REDIST). */
  GIC_REDIST_SIZE: 0x00f6_0000,
  UART0_BASE: 0x0900_0000,
  UART0_SIZE: 0x1000,
  UART0_SPI: 1,
  RTC_BASE: 0x0901_0000,
  RTC_SIZE: 0x1000,
  RTC_SPI: 2,
  GPIO_BASE: 0x0903_0000,
  GPIO_SIZE: 0x1000,
  GPIO_SPI: 7,
  /** The PL061 line of the power button (QEMU virt's GPIO_KEY_POWER pin). */
  POWER_KEY_GPIO_LINE: 3,
  /** Linux's input event code for the button (<linux/input-event-codes.h> KEY_POWER). */
  POWER_KEY_CODE: 116,
  /**
   * A press holds the line high at least this long (QEMU's gpio-key: 100 ms) and until the guest has read it, at
   * most POWER_KEY_HOLD_MAX_MS (a guest without the driver): Linux's gpio-keys reads the line a debounce delay after
   * the interrupt, and a nested or loaded guest can take longer than 100 ms to, then sees no change at all.
   */
  POWER_KEY_PRESS_MS: 100,
  POWER_KEY_HOLD_MAX_MS: 5000,
  VIRTIO_MMIO_BASE: 0x0a00_0000,
  VIRTIO_MMIO_SIZE: 0x200,
  VIRTIO_MMIO_COUNT: 8,
  VIRTIO_MMIO_FIRST_SPI: 16,
  TEST_DEVICE_BASE: 0x0b00_0000,
  TEST_DEVICE_SIZE: 0x1000,
  BOOT_TIMER_BASE: 0x0b00_1000,
  BOOT_TIMER_SIZE: 0x1000,
  RAM_BASE: 0x4000_0000,
  /** The APB clock the PL011 and PL031 nodes name (QEMU's "apb-pclk", 24 MHz). */
  APB_CLOCK_HZ: 24_000_000,
} as const;

/** The most vCPUs the redistributor region holds. */
export const ARM64_VIRT_MAX_CPUS = Math.floor(ARM64_VIRT.GIC_REDIST_SIZE / GICR_SIZE_PER_CPU);

/** The UART's and the RTC's interrupts as GIC INTIDs (what `HalVm.setIrqLine` takes). */
export const UART0_INTID = spiIntid(ARM64_VIRT.UART0_SPI);
export const RTC_INTID = spiIntid(ARM64_VIRT.RTC_SPI);
export const GPIO_INTID = spiIntid(ARM64_VIRT.GPIO_SPI);

/** Base address and interrupt (SPI number and INTID) of virtio-mmio window `index`. */
export function arm64VirtioWindow(index: number): { base: number; size: number; spi: number; intid: number } {
  const spi = ARM64_VIRT.VIRTIO_MMIO_FIRST_SPI + index;
  return {
    base: ARM64_VIRT.VIRTIO_MMIO_BASE + index * ARM64_VIRT.VIRTIO_MMIO_SIZE,
    size: ARM64_VIRT.VIRTIO_MMIO_SIZE,
    spi,
    intid: spiIntid(spi),
  };
}
