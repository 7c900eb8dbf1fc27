/*
 * Long mode at 0x10000 with user-accessible identity pages (src/vmm/x86/boot-cpu.ts, userPages): load a GDT with
 * user segments, IRETQ to CPL3 with IOPL 3, then forever: rax = cpl3_loop(r12 = the initial RDI), and
 * HC_CPL3_ROUND(rdi = result, rsi = CS) straight from ring 3 (IOPL 3 allows `out`).
 */
#include "guest.h"
#define USER_CS (0x18 | 3)
#define USER_SS (0x20 | 3)
#define USER_STACK 0x80000
#define RFLAGS_IOPL3 0x3002
	.code64
	.text
	.globl _start
_start:
	lgdt gdt_pointer
	mov %rdi, %r12
	pushq $USER_SS
	pushq $USER_STACK
	pushq $RFLAGS_IOPL3
	pushq $USER_CS
	pushq $user_entry
	iretq
user_entry:
	mov %r12, %rdi
	call cpl3_loop
	mov %rax, %rdi
	mov %cs, %esi
	mov $HC_CPL3_ROUND, %eax
	mov $HYPERCALL_PORT, %dx
	out %al, %dx
	jmp user_entry

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9b000000ffff   /* 0x08 kernel code 64 */
	.quad 0x00cf93000000ffff   /* 0x10 kernel data */
	.quad 0x00affb000000ffff   /* 0x18 user code 64, DPL 3 */
	.quad 0x00cff3000000ffff   /* 0x20 user data, DPL 3 */
gdt_end:
gdt_pointer:
	.word gdt_end - gdt - 1
	.quad gdt

#include "cpl3-loop.S"
