/*
 * Real mode at 0x8000: a byte `out` to COM1's scratch register (0x3ff) forever, one exit per iteration: the exit
 * round-trip benchmark through a real device model on the PC board (pio-loop's port goes to the unclaimed-port
 * catch-all).
 */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	mov $(COM1 + 7), %dx
	xor %ax, %ax
1:	inc %ax
	out %al, %dx
	jmp 1b
