/*
 * Long mode (entered through src/vmm/x86/boot-cpu.ts) at 0x10000: MMIO writes of each width to the test device
 * at 0x1000_0000, then reads of each width and one sign-extending read:
 *   write 1 @+0 = 0x11, 2 @+2 = 0x2233, 4 @+4 = 0x44556677, 8 @+8 = 0x8899aabbccddeeff
 *   read 1 @+0x10 -> rdi, 2 @+0x12 -> rsi, 4 @+0x14 -> rcx, 8 @+0x18 -> r8, movsbq @+0x20 -> r9
 *   HC_REPORT(rdi, rsi, rcx, rbx = device base, r8, r9), HC_DONE(0)
 */
#include "guest.h"
	.code64
	.text
	.globl _start
_start:
	mov $TEST_MMIO, %ebx
	movb $0x11, (%rbx)
	movw $0x2233, 2(%rbx)
	movl $0x44556677, 4(%rbx)
	movabs $0x8899aabbccddeeff, %rax
	mov %rax, 8(%rbx)
	movzbl 0x10(%rbx), %edi
	movzwl 0x12(%rbx), %esi
	movl 0x14(%rbx), %ecx
	mov 0x18(%rbx), %r8
	movsbq 0x20(%rbx), %r9
	mov $HC_REPORT, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	mov $HC_DONE, %eax
	xor %edi, %edi
	out %al, %dx
	cli
1:	hlt
	jmp 1b
