/*
 * The "virt-hypervisor" board as a VS-mode guest sees it (QEMU virt layout plus two axvisor test devices).
 *   0x0010_0000  sifive,test finisher         0x0c00_0000  PLIC (hart h's S-mode context = 2h + 1)
 *   0x0f00_0000  axvisor test device (4 KiB)  0x0f00_1000  boot timer (write 123 at offset 0 at "init")
 *   0x1000_0000  NS16550A UART (stride 1, PLIC source 10)   0x8000_0000  RAM (guest loaded at 0x8020_0000)
 * SBI through ecall; timebase 10 MHz.
 */
#ifndef GUEST_BOARD_H
#define GUEST_BOARD_H

#define TIMEBASE_HZ 10000000UL

/* NS16550A, register stride 1 */
#define UART_BASE 0x10000000UL
#define UART_THR 0 /* transmit holding register (write, DLAB = 0) */
#define UART_IER 1 /* interrupt enable */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_LCR 3 /* line control */
#define UART_LSR 5 /* line status */
#define UART_IER_ETBEI 0x02 /* enable transmitter holding register empty interrupt */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define UART_IRQ 10

/* PLIC (SiFive layout) */
#define PLIC_BASE 0x0c000000UL
#define PLIC_PRIORITY(source) (PLIC_BASE + 4UL * (source))
#define PLIC_PENDING(source) (PLIC_BASE + 0x1000UL + 4UL * ((source) / 32))
#define PLIC_ENABLE(context, source) (PLIC_BASE + 0x2000UL + 0x80UL * (context) + 4UL * ((source) / 32))
#define PLIC_THRESHOLD(context) (PLIC_BASE + 0x200000UL + 0x1000UL * (context))
#define PLIC_CLAIM(context) (PLIC_BASE + 0x200004UL + 0x1000UL * (context))
#define PLIC_S_CONTEXT(hart) (2UL * (hart) + 1UL)

/* axvisor test device: bytes 0..0x7ff read as a pattern, 0x800..0xfff are scratch that reads back */
#define TESTDEV_BASE 0x0f000000UL
#define TESTDEV_PATTERN_SIZE 0x800UL
#define TESTDEV_SCRATCH (TESTDEV_BASE + 0x800UL)
#define TESTDEV_SCRATCH_SIZE 0x800UL
/* The pattern: byte k reads as (k * 7 + 0x81) & 0xff, at any access width, little-endian. */
#define TESTDEV_PATTERN_BYTE(k) ((unsigned char)(((k) * 7UL + 0x81UL) & 0xffUL))

/* Boot timer: the guest writes BOOT_TIMER_INIT_REACHED (byte) at offset 0 when it reaches "init". */
#define BOOT_TIMER_BASE 0x0f001000UL
#define BOOT_TIMER_INIT_REACHED 123

/* Supervisor CSR bits */
#define SSTATUS_SIE (1UL << 1)
#define SIE_SSIE (1UL << 1)
#define SIE_STIE (1UL << 5)
#define SIE_SEIE (1UL << 9)
#define SCAUSE_INTERRUPT (1UL << 63)
#define IRQ_S_SOFT 1
#define IRQ_S_TIMER 5
#define IRQ_S_EXT 9
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CSR_STIMECMP 0x14d

#endif
