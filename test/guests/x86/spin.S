/* Real mode at 0x8000: spins forever in the guest (for kick tests), without exits. */
	.code16
	.text
	.globl _start
_start:
	cli
1:	jmp 1b
