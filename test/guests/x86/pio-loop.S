/* Real mode at 0x8000: `out` to port 0x510 forever, one exit per iteration (the exit round-trip benchmark). */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	mov $TEST_PORT, %dx
	xor %ax, %ax
1:	inc %ax
	out %ax, %dx
	jmp 1b
