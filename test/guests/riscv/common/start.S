/*
 * Entry of the VS-mode test guests. The boot hart enters `_start` with a0 = hart id, a1 = DTB address,
 * vsatp = 0; secondary harts enter `secondary_entry` (SBI HSM hart_start) with a0 = hart id, a1 = opaque.
 * Each hart gets the 16 KiB stack slot of its hart id; a hart id past the last slot parks.
 */
#define STACK_SIZE 16384
#define MAX_HARTS 8
#define SBI_EXT_SRST 0x53525354
#define SBI_EXT_HSM 0x48534d

  .section .text.entry, "ax", @progbits
  .globl _start
_start:
  li t0, MAX_HARTS
  bgeu a0, t0, park
  /* sp = top of this hart's slot */
  la sp, __stacks_start
  addi t0, a0, 1
  li t1, STACK_SIZE
  mul t0, t0, t1
  add sp, sp, t0
  /* zero .bss (only the boot hart is running) */
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  call main
  /* main returned: shut down, reason "system failure" when it returned non-zero */
  snez a1, a0
  li a0, 0
  li a6, 0
  li a7, SBI_EXT_SRST
  ecall
park:
  wfi
  j park

  .text
  .globl secondary_entry
  .balign 4
secondary_entry:
  li t0, MAX_HARTS
  bgeu a0, t0, park
  la sp, __stacks_start
  addi t0, a0, 1
  li t1, STACK_SIZE
  mul t0, t0, t1
  add sp, sp, t0
  call secondary_main
  /* done: HSM hart_stop (does not return) */
  li a6, 1
  li a7, SBI_EXT_HSM
  ecall
  j park
