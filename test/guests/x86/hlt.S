/* Real mode at 0x8000: HLT (an exit when the VM has no in-kernel irqchip), then HC_DONE(0x42). */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	cli
	hlt
	mov $HC_DONE, %eax
	mov $0x42, %edi
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
1:	hlt
	jmp 1b
