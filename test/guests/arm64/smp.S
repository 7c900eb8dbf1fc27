/*
 * smp: vCPU 0 starts vCPU 1 with PSCI CPU_ON (entry `secondary`, context id 0x5a5a in its x0); vCPU 1 stores the
 * context id it got and its MPIDR in `mailbox` and turns itself off with CPU_OFF; vCPU 0 waits for the mailbox and
 * for AFFINITY_INFO(1) to say OFF, prints "smp: cpu1 context 0x... mpidr 0x..." and powers off.
 */
#include "guest.h"
.global _start
.text
_start:
  ldr x19, =mailbox
  str xzr, [x19]
  str xzr, [x19, #8]
  dsb sy
  mov x1, #1                /* target: MPIDR affinity 0.0.0.1 */
  adr x2, secondary
  mov x3, #0x5a5a           /* context id */
  PSCI PSCI_CPU_ON_64
  cbnz x0, cpu_on_failed
1:
  ldr x1, [x19]
  cbz x1, 1b
2:
  mov x1, #1
  mov x2, #0
  PSCI PSCI_AFFINITY_INFO_64
  cmp x0, #1                /* AFFINITY_LEVEL_OFF */
  b.ne 2b
  PRINT msg_ctx
  ldr x4, [x19]
  bl puthex
  PRINT msg_mpidr
  ldr x4, [x19, #8]
  bl puthex
  PRINT msg_nl
  b poweroff
cpu_on_failed:
  mov x4, x0
  PRINT msg_failed
  bl puthex
  PRINT msg_nl
  b poweroff

secondary:
  /* x0 = the context id CPU_ON passed */
  ldr x19, =mailbox
  mrs x1, mpidr_el1
  and x1, x1, #0xffffff
  str x1, [x19, #8]
  dsb sy
  str x0, [x19]
  dsb sy
  PSCI PSCI_CPU_OFF
  b .

.section .rodata
msg_ctx:    .asciz "smp: cpu1 context 0x"
msg_mpidr:  .asciz " mpidr 0x"
msg_failed: .asciz "smp: CPU_ON failed 0x"
msg_nl:     .asciz "\n"
.data
.balign 16
mailbox: .quad 0, 0
.text
#include "common.S"
