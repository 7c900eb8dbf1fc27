/*
 * Real mode at 0x8000: counts and prints, for snapshot tests on KVM. For N = 1 .. COUNT_LAST it spins
 * COUNT_DELAY iterations, then writes "counter: N\n" to COM1; then HC_DONE(0). No interrupts, no timer: the
 * output across a snapshot must simply go on from the next number.
 */
#include "guest.h"
#define COUNT_LAST 200
#define COUNT_DELAY 3000000
	.code16
	.text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
	mov $1, %ebx
next:
	mov $COUNT_DELAY, %ecx
1:	dec %ecx
	jnz 1b
	mov $prefix, %si
	mov $COM1, %dx
2:	lodsb
	test %al, %al
	jz 3f
	out %al, %dx
	jmp 2b
3:	mov %ebx, %eax
	mov $10, %edi
	xor %cx, %cx
4:	xor %edx, %edx
	div %edi
	push %dx
	inc %cx
	test %eax, %eax
	jnz 4b
	mov $COM1, %dx
5:	pop %ax
	add $'0', %al
	out %al, %dx
	dec %cx
	jnz 5b
	mov $'\n', %al
	out %al, %dx
	inc %ebx
	cmp $COUNT_LAST + 1, %ebx
	jne next
	mov $HC_DONE, %eax
	xor %edi, %edi
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
6:	hlt
	jmp 6b
prefix:
	.asciz "counter: "
