/* Real mode at 0x8000: writes a line to COM1 (0x3f8) one byte at a time, then HC_DONE(0). */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	mov $message, %si
	mov $COM1, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	mov $HC_DONE, %eax
	xor %edi, %edi
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	cli
3:	hlt
	jmp 3b
message:
	.asciz "Hello from the x86 guest\n"
