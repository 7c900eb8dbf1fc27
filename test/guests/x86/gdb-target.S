/*
 * Long mode at 0x10000 (entered through src/vmm/boards/x86-pc/boot-cpu.ts), for the GDB stub's KVM tests: calls
 * `tick` three times (each adds 1 to the quadword `counter`), then HC_REPORT(counter) and HC_DONE(0). The ELF is
 * committed beside the binary for its symbols.
 */
#include "guest.h"
	.code64
	.text
	.globl _start, tick, counter
_start:
	mov $0x8000, %rsp
	mov $3, %ecx
1:	call tick
	loop 1b
	mov counter(%rip), %rdi
	mov $HC_REPORT, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	mov $HC_DONE, %eax
	xor %edi, %edi
	out %al, %dx
	cli
2:	hlt
	jmp 2b
tick:
	incq counter(%rip)
	ret
	.balign 8
counter:
	.quad 0
