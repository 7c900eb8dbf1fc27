/*
 * Long mode at 0x100000, for the GDB stub's KVM tests: calls `tick` three times (each adds 1 to the quadword
 * `counter`), then HC_REPORT(counter) and HC_DONE(0). Entered through src/vmm/boards/x86-pc/boot-cpu.ts by
 * test/kvm/guest-debug.test.ts, or as an ELF "vmlinux" through the x86 PC board's Linux boot protocol (vm_type =
 * linux) by scripts/e2e/70-kvm-gdb.sh, which debugs it with gdb-multiarch by its symbols: the ELF is committed
 * beside the binary for them. Both entries give it a stack (RSP) and page tables mapping it 1:1.
 */
#include "guest.h"
	.code64
	.text
	.globl _start, tick, counter
_start:
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
