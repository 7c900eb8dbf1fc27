/*
 * Real mode at 0x8000: port I/O of each size, then string I/O.
 *   out 0x510 byte 0x12, out 0x512 word 0x3456, out 0x514 dword 0x789abcde
 *   in  0x510 byte, in 0x512 word, in 0x514 dword -> HC_REPORT(rdi = byte, rsi = word, rcx = dword)
 *   rep outsb "abc" to 0x530, rep outsw {0x1122, 0x3344} to 0x532, rep outsl {0x55667788, 0x99aabbcc} to 0x538
 *   rep insb 4 bytes from 0x534 into a buffer, then rep outsb that buffer to 0x536 (echo)
 *   HC_DONE(0)
 */
#include "guest.h"
	.code16
	.text
	.globl _start
_start:
	cld
	mov $TEST_PORT, %dx
	mov $0x12, %al
	out %al, %dx
	mov $TEST_PORT + 2, %dx
	mov $0x3456, %ax
	out %ax, %dx
	mov $TEST_PORT + 4, %dx
	mov $0x789abcde, %eax
	out %eax, %dx

	mov $TEST_PORT, %dx
	in %dx, %al
	movzbl %al, %edi
	mov $TEST_PORT + 2, %dx
	in %dx, %ax
	movzwl %ax, %esi
	mov $TEST_PORT + 4, %dx
	in %dx, %eax
	mov %eax, %ecx
	mov $HC_REPORT, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx

	mov $bytes, %si
	mov $3, %cx
	mov $0x530, %dx
	rep outsb
	mov $words, %si
	mov $2, %cx
	mov $0x532, %dx
	rep outsw
	mov $dwords, %si
	mov $2, %cx
	mov $0x538, %dx
	rep outsl
	mov $buffer, %di
	mov $4, %cx
	mov $0x534, %dx
	rep insb
	mov $buffer, %si
	mov $4, %cx
	mov $0x536, %dx
	rep outsb

	mov $HC_DONE, %eax
	xor %edi, %edi
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	cli
1:	hlt
	jmp 1b
bytes:	.ascii "abc"
	.balign 2
words:	.word 0x1122, 0x3344
	.balign 4
dwords:	.long 0x55667788, 0x99aabbcc
buffer:	.long 0
