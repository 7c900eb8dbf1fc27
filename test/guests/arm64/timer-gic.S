/*
 * timer-gic: interrupts through the in-kernel GICv3. The guest enables the GIC (distributor, its redistributor, the
 * CPU interface), arms the virtual timer (PPI 11 = INTID 27) and waits with WFI; the handler acknowledges INTID 27,
 * masks the timer and enables the PL011's TX interrupt and writes one character, whose TX interrupt reaches the GIC
 * as SPI INTID 33 through the VMM's KVM_IRQ_LINE; the handler acknowledges that too. Then the guest prints
 * "timer-gic: timer 27 uart 33 ok" and powers off. x19 = INTIDs seen as bits: 1 << 0 timer, 1 << 1 UART.
 */
#include "guest.h"
.global _start
.text
_start:
  mov x19, #0
  adr x0, vectors
  msr vbar_el1, x0
  isb
  /* distributor: affinity routing, group 1 on; SPI 33 group 1, routed to affinity 0, enabled */
  ldr x20, =GICD_BASE
  mov w1, #0x12             /* ARE_NS | EnableGrp1A */
  str w1, [x20]
1: ldr w1, [x20]
  tbnz w1, #31, 1b          /* RWP */
  mov w1, #(1 << (UART_INTID - 32))
  str w1, [x20, #0x84]      /* GICD_IGROUPR1 */
  str xzr, [x20, #(0x6000 + 8 * UART_INTID)]  /* GICD_IROUTER33: affinity 0.0.0.0 */
  mov w1, #0xa0
  strb w1, [x20, #(0x400 + UART_INTID)]       /* GICD_IPRIORITYR */
  mov w1, #(1 << (UART_INTID - 32))
  str w1, [x20, #0x104]     /* GICD_ISENABLER1 */
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
  /* virtual timer: 1 ms from now, enabled, not masked */
  mrs x1, cntfrq_el0
  mov x2, #1000
  udiv x1, x1, x2
  msr cntv_tval_el0, x1
  mov x1, #1
  msr cntv_ctl_el0, x1
  isb
  msr daifclr, #2           /* unmask IRQs */
3:
  wfi
  cmp x19, #3
  b.ne 3b
  msr daifset, #2
  PRINT msg_ok
  b poweroff

irq_handler:
  mrs x0, ICC_IAR1_EL1
  cmp x0, #VTIMER_INTID
  b.ne 4f
  mov x1, #2                /* IMASK: the timer stays enabled but quiet */
  msr cntv_ctl_el0, x1
  orr x19, x19, #1
  ldr x2, =UART_BASE
  mov w1, #UART_INT_TX
  str w1, [x2, #UART_IMSC]
  mov w1, #'.'
  strb w1, [x2, #UART_DR]
  b 5f
4:
  cmp x0, #UART_INTID
  b.ne 5f
  ldr x2, =UART_BASE
  mov w1, #UART_INT_TX
  str w1, [x2, #UART_ICR]
  str wzr, [x2, #UART_IMSC]
  orr x19, x19, #2
5:
  msr ICC_EOIR1_EL1, x0
  isb
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
msg_ok:         .asciz "\ntimer-gic: timer 27 uart 33 ok\n"
msg_unexpected: .asciz "timer-gic: unexpected exception, ESR 0x"
msg_nl:         .asciz "\n"
.text
#include "common.S"
