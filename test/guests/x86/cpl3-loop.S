/*
 * uint64_t cpl3_loop(uint64_t n): n rounds of xorshift64 from a fixed seed. Assembled into the CPL3 test guest and
 * linked into the host reference program of bench/kvm-cpl3.ts, so both run the very same instructions.
 */
	.text
	.globl cpl3_loop
	.type cpl3_loop, @function
cpl3_loop:
	movabs $0x9e3779b97f4a7c15, %rax
1:	mov %rax, %rdx
	shl $13, %rdx
	xor %rdx, %rax
	mov %rax, %rdx
	shr $7, %rdx
	xor %rdx, %rax
	mov %rax, %rdx
	shl $17, %rdx
	xor %rdx, %rax
	dec %rdi
	jnz 1b
	ret
	.size cpl3_loop, . - cpl3_loop
	.section .note.GNU-stack,"",@progbits
