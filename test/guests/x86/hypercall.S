/*
 * Real mode at 0x8000: hypercall 7 with rdi = 0x1234, then HC_DONE(rdi = whatever RAX the VMM returned), so a
 * test can check that `setGpr(rax)` after a hypercall reaches the guest.
 */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	mov $7, %eax
	mov $0x1234, %edi
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	mov %eax, %edi
	mov $HC_DONE, %eax
	out %al, %dx
	cli
1:	hlt
	jmp 1b
