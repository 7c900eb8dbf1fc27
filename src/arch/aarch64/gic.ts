/**
 * Arm Generic Interrupt Controller v3 facts (Arm IHI 0069, "GIC architecture specification") and the device-tree
 * binding's interrupt specifier (Linux `Documentation/devicetree/bindings/interrupt-controller/arm,gic-v3.yaml`,
 * `include/dt-bindings/interrupt-controller/arm-gic.h`).
 */

/** INTID ranges: SGIs 0..15, PPIs 16..31, SPIs 32..1019. */
export const GIC_SGI_COUNT = 16;
export const GIC_PPI_BASE = 16;
export const GIC_SPI_BASE = 32;
/** The largest SPI INTID. */
export const GIC_MAX_SPI_INTID = 1019;

/** The distributor's register frame (GICD_*): 64 KiB. */
export const GICD_SIZE = 0x1_0000;
/** One redistributor per CPU, two 64 KiB frames each (RD_base, SGI_base). */
export const GICR_SIZE_PER_CPU = 0x2_0000;

/** Device-tree interrupt specifier, cell 1: the interrupt's kind. */
export const GIC_DT_SPI = 0;
export const GIC_DT_PPI = 1;
/** Device-tree interrupt specifier, cell 3: trigger type (irq.h IRQ_TYPE_*). */
export const IRQ_TYPE_EDGE_RISING = 1;
export const IRQ_TYPE_LEVEL_HIGH = 4;
export const IRQ_TYPE_LEVEL_LOW = 8;

/**
 * The Arm generic timer's PPIs (Arm ARM, "Generic Timer", and Server Base System Architecture's recommended
 * numbers, which QEMU virt and KVM use), as PPI numbers: INTID = GIC_PPI_BASE + n.
 */
export const ARCH_TIMER_SECURE_PHYS_PPI = 13;
export const ARCH_TIMER_NONSECURE_PHYS_PPI = 14;
export const ARCH_TIMER_VIRT_PPI = 11;
export const ARCH_TIMER_HYP_PPI = 10;
/** The virtual GIC maintenance interrupt (for a guest hypervisor), PPI 9 (INTID 25). */
export const GIC_MAINTENANCE_PPI = 9;

/** The INTID of SPI number `spi` (the device tree's cell 2 for GIC_DT_SPI). */
export function spiIntid(spi: number): number {
  return GIC_SPI_BASE + spi;
}
