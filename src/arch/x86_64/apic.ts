/**
 * The local APIC registers a VMM programs before a vCPU runs, and the fields of a Local Vector Table entry (Intel
 * SDM vol. 3A, 11.4.1 table 11-1 "Local APIC Register Address Map", and 11.5.1 "Local Vector Table", figure 11-8).
 * Offsets are from the APIC page base; each register is 32 bits at a 16-byte-aligned offset.
 */

/** Registers are 16-byte aligned. */
export const APIC_REGISTER_ALIGN = 16;
/** LVT LINT0: the local interrupt pin 0 (the 8259 PIC's INTR on a PC). */
export const APIC_LVT0 = 0x350;
/** LVT LINT1: the local interrupt pin 1 (NMI on a PC). */
export const APIC_LVT1 = 0x360;

/** LVT bits 8-10: delivery mode. */
export const APIC_LVT_DELIVERY_MODE_SHIFT = 8;
export const APIC_LVT_DELIVERY_MODE_MASK = 0x7 << APIC_LVT_DELIVERY_MODE_SHIFT;
/** LVT bit 16: masked. */
export const APIC_LVT_MASKED = 1 << 16;

/** LVT delivery modes. */
export const APIC_DELIVERY_MODE_FIXED = 0x0;
export const APIC_DELIVERY_MODE_SMI = 0x2;
export const APIC_DELIVERY_MODE_NMI = 0x4;
export const APIC_DELIVERY_MODE_INIT = 0x5;
/** ExtINT: the processor takes the vector from an external 8259-compatible controller. */
export const APIC_DELIVERY_MODE_EXTINT = 0x7;
