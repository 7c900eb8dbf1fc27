/*
 * Shared definitions for the bare-metal arm64 test guests (test/guests/arm64/*.S). They run on the arm64-virt
 * board (src/vmm/boards/arm64-virt/layout.ts is where these addresses come from; a guest cannot import it),
 * entered at EL1h with the MMU off, x0 = the device tree. Every guest is position-dependent, linked at RAM_BASE.
 */
#ifndef ARM64_GUEST_H
#define ARM64_GUEST_H

#define RAM_BASE        0x40000000
#define UART_BASE       0x09000000
#define UART_DR         0x000
#define UART_FR         0x018
#define UART_IMSC       0x038
#define UART_ICR        0x044
#define UART_FR_TXFF    (1 << 5)
#define UART_INT_TX     (1 << 5)
#define TEST_DEV_BASE   0x0b000000
#define TEST_DEV_SCRATCH 0x800
#define GICD_BASE       0x08000000
#define GICR_BASE       0x080a0000
#define UART_INTID      33
#define VTIMER_INTID    27

/* PSCI 0.2 function ids (Arm DEN0022), called with HVC: KVM implements them in the kernel. */
#define PSCI_VERSION        0x84000000
#define PSCI_CPU_OFF        0x84000002
#define PSCI_CPU_ON_64      0xc4000003
#define PSCI_AFFINITY_INFO_64 0xc4000004
#define PSCI_SYSTEM_OFF     0x84000008
#define PSCI_SYSTEM_RESET   0x84000009

/* GICv3 CPU interface system registers (Arm IHI 0069), by encoding: the assembler may not know their names. */
#define ICC_PMR_EL1      S3_0_C4_C6_0
#define ICC_IAR1_EL1     S3_0_C12_C12_0
#define ICC_EOIR1_EL1    S3_0_C12_C12_1
#define ICC_SRE_EL1      S3_0_C12_C12_5
#define ICC_IGRPEN1_EL1  S3_0_C12_C12_7

/* Print the NUL-terminated string at `label` (clobbers x0-x3, x30 through bl). */
.macro PRINT label
  adr x1, \label
  bl puts
.endm

/* Call PSCI function `fn` with arguments already in x1-x3; the result comes back in x0. */
.macro PSCI fn
  ldr x0, =\fn
  hvc #0
.endm

#endif
