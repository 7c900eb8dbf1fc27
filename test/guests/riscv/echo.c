/*
 * echo: interrupt-driven console input. Enables the UART's "received data available" interrupt (IER bit 0) through
 * the PLIC (source 10, this hart's S context), prints "echo: ready", then collects bytes in the interrupt handler
 * and echoes each complete line as "echo: <line>". The line "quit" powers off with reason 0. Gives up (reason 1)
 * after 10 s without input.
 */
#include "guest.h"

#define UART_RBR 0
#define UART_IER_ERBFI 0x01
#define UART_LSR_DR 0x01
#define GIVE_UP_TICKS (10UL * TIMEBASE_HZ)

static u64 context;
/* Bytes from the interrupt handler to main: a single-producer, single-consumer ring. */
static volatile char ring[256];
static volatile unsigned head, tail;

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  if (scause == (SCAUSE_INTERRUPT | IRQ_S_EXT)) {
    u32 source = mmio_read32(PLIC_CLAIM(context));
    while (mmio_read8(UART_BASE + UART_LSR) & UART_LSR_DR) {
      char c = (char)mmio_read8(UART_BASE + UART_RBR);
      if (head - tail < sizeof(ring)) ring[head++ % sizeof(ring)] = c;
    }
    mmio_write32(PLIC_CLAIM(context), source);
    return sepc;
  }
  console_puts("echo: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  shutdown(1);
}

static int is_quit(const char *s) { return s[0] == 'q' && s[1] == 'u' && s[2] == 'i' && s[3] == 't' && s[4] == 0; }

int main(u64 hartid, u64 dtb) {
  (void)dtb;
  context = PLIC_S_CONTEXT(hartid);
  trap_init();
  mmio_write32(PLIC_PRIORITY(UART_IRQ), 1);
  mmio_write32(PLIC_ENABLE(context, UART_IRQ), 1U << (UART_IRQ % 32));
  mmio_write32(PLIC_THRESHOLD(context), 0);
  csr_set(sie, SIE_SEIE);
  mmio_write8(UART_BASE + UART_IER, UART_IER_ERBFI);
  csr_set(sstatus, SSTATUS_SIE);
  console_puts("echo: ready\n");

  static char line[128];
  unsigned length = 0;
  u64 last = read_time();
  for (;;) {
    while (head == tail) {
      if (read_time() - last > GIVE_UP_TICKS) {
        console_puts("echo: no input for 10 s\n");
        shutdown(1);
      }
      wfi();
    }
    last = read_time();
    char c = ring[tail % sizeof(ring)];
    tail++;
    if (c != '\n' && c != '\r') {
      if (length < sizeof(line) - 1) line[length++] = c;
      continue;
    }
    line[length] = 0;
    length = 0;
    console_puts("echo: ");
    console_puts(line);
    console_puts("\n");
    if (is_quit(line)) shutdown(0);
  }
}
