/*
 * Two vCPUs, image at 0x10000.
 * +0x000 (real mode, the AP's SIPI target: vector 0x10 -> 0x10000): read the APIC id with CPUID leaf 1,
 *        HC_AP_ALIVE(apic id), then halt.
 * +0x100 (long mode, the BSP's entry through src/vmm/x86/boot-cpu.ts): map the local APIC (PDPT[3] -> a PD at
 *        0xc000 with one 2 MiB uncached page at 0xfee00000), send INIT then SIPI(0x10) to all but itself through
 *        the in-kernel LAPIC's ICR, HC_SIPI_SENT, then halt.
 */
#include "guest.h"
#define PDPT 0xa000
#define AP_PD 0xc000
#define APIC_BASE 0xfee00000
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
/* ICR: delivery mode INIT (5) / STARTUP (6), level assert, destination shorthand "all excluding self" */
#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600
	.text
	.globl _start
_start:
	.code16
ap_entry:
	mov $1, %eax
	cpuid
	shr $24, %ebx
	mov %ebx, %edi
	mov $HC_AP_ALIVE, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	cli
1:	hlt
	jmp 1b

	.org 0x100
	.code64
bsp_entry:
	movq $(AP_PD | 0x3), PDPT + 3 * 8
	mov $(APIC_BASE | 0x9b), %eax           /* P, RW, PWT, PCD, PS */
	mov %rax, AP_PD + ((APIC_BASE >> 21) & 0x1ff) * 8
	mov $APIC_BASE, %ebx
	movl $0, APIC_ICR_HIGH(%rbx)
	movl $ICR_INIT_ALL_BUT_SELF, APIC_ICR_LOW(%rbx)
	movl $(ICR_SIPI_ALL_BUT_SELF | 0x10), APIC_ICR_LOW(%rbx)
	mov $HC_SIPI_SENT, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	cli
2:	hlt
	jmp 2b
