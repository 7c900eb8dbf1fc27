/*
 * counter: counts on the virtual timer's interrupt through the in-kernel GICv3, for pause and snapshot tests on
 * KVM (the arm64 twin of test/guests/x86/counter.S, with time in it). The guest enables the GIC (distributor, its
 * redistributor, the CPU interface) and PPI 27; then for N = 1 .. COUNT_LAST it arms the virtual timer 1/TICKS_HZ s
 * ahead, waits with WFI for its interrupt, reads the virtual counter and prints "counter: N". When more than
 * JUMP_SECONDS of counter passed since the previous tick, it first prints "counter-jump: <ticks in hex>": a guest
 * whose counter ran on while it was paused, or jumped across a restore, says so. Then PSCI SYSTEM_OFF.
 * A restored snapshot continues only if memory, registers, the timer and the GIC state all came back.
 */
#include "guest.h"
#define COUNT_LAST 200
#define TICKS_HZ 50
#define JUMP_SECONDS 2
.global _start
.text
_start:
  adr x0, vectors
  msr vbar_el1, x0
  isb
  /* distributor: affinity routing, group 1 on */
  ldr x20, =GICD_BASE
  mov w1, #0x12             /* ARE_NS | EnableGrp1A */
  str w1, [x20]
1: ldr w1, [x20]
  tbnz w1, #31, 1b          /* RWP */
  /* redistributor of vCPU 0: wake it, PPI 27 group 1 and enabled */
  ldr x21, =GICR_BASE
  ldr w1, [x21, #0x14]      /* GICR_WAKER */
  bic w1, w1, #2            /* ProcessorSleep */
  str w1, [x21, #0x14]
2: ldr w1, [x21, #0x14]
  tbnz w1, #2, 2b           /* ChildrenAsleep */
  add x22, x21, #0x10000    /* SGI_base */
  mov w1, #(1 << VTIMER_INTID)
  str w1, [x22, #0x80]      /* GICR_IGROUPR0 */
  mov w1, #0xa0
  strb w1, [x22, #(0x400 + VTIMER_INTID)]
  mov w1, #(1 << VTIMER_INTID)
  str w1, [x22, #0x100]     /* GICR_ISENABLER0 */
  /* CPU interface: system-register access, every priority, group 1 */
  mrs x1, ICC_SRE_EL1
  orr x1, x1, #1
  msr ICC_SRE_EL1, x1
  isb
  mov x1, #0xff
  msr ICC_PMR_EL1, x1
  mov x1, #1
  msr ICC_IGRPEN1_EL1, x1
  isb
  mrs x23, cntfrq_el0
  mov x2, #TICKS_HZ
  udiv x24, x23, x2         /* x24: the tick period in counter ticks */
  mov x2, #JUMP_SECONDS
  mul x25, x23, x2          /* x25: what counts as a jump */
  mov x26, #0               /* x26: the counter at the previous tick (0: none yet) */
  mov x27, #1               /* x27: N */
tick:
  mov x19, #0
  msr cntv_tval_el0, x24
  mov x1, #1                /* ENABLE, not masked */
  msr cntv_ctl_el0, x1
  isb
  msr daifclr, #2
3: wfi
  cbz x19, 3b
  msr daifset, #2
  isb
  mrs x1, cntvct_el0
  mov x4, x26
  mov x26, x1
  cbz x4, 4f
  sub x4, x1, x4
  cmp x4, x25
  b.ls 4f
  mov x28, x4
  PRINT msg_jump
  mov x4, x28
  bl puthex
  PRINT msg_nl
4:
  PRINT msg_counter
  mov x4, x27
  bl putdec
  PRINT msg_nl
  add x27, x27, #1
  cmp x27, #(COUNT_LAST + 1)
  b.ne tick
  b poweroff

/* putdec: print x4 in decimal (clobbers x0-x7; returns through puts). */
putdec:
  adr x5, decimal_end
  strb wzr, [x5, #-1]!
  mov x6, #10
5: udiv x7, x4, x6
  msub x2, x7, x6, x4
  add x2, x2, #'0'
  strb w2, [x5, #-1]!
  mov x4, x7
  cbnz x4, 5b
  mov x1, x5
  b puts

irq_handler:
  mrs x0, ICC_IAR1_EL1
  cmp x0, #1020             /* 1020..1023: special INTIDs, nothing to end */
  b.hs 7f
  cmp x0, #VTIMER_INTID
  b.ne 6f
  mov x1, #2                /* IMASK: the timer stays enabled but quiet */
  msr cntv_ctl_el0, x1
  mov x19, #1
6: msr ICC_EOIR1_EL1, x0
7: isb
  eret

unexpected:
  PRINT msg_unexpected
  mrs x4, esr_el1
  bl puthex
  PRINT msg_nl
  b poweroff

/* The vector table: 16 entries of 0x80 bytes; only "IRQ, current EL with SP_ELx" (0x280) is expected. */
.balign 0x800
vectors:
  .rept 5
  b unexpected
  .balign 0x80
  .endr
  b irq_handler             /* 0x280 */
  .balign 0x80
  .rept 10
  b unexpected
  .balign 0x80
  .endr

.section .rodata
msg_counter:    .asciz "counter: "
msg_jump:       .asciz "counter-jump: 0x"
msg_nl:         .asciz "\n"
msg_unexpected: .asciz "counter: unexpected exception, ESR 0x"
.data
.balign 8
decimal:        .space 24
decimal_end:
.text
#include "common.S"
