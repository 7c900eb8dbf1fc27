/*
 * plic: an external interrupt from the UART through the PLIC. Sets source 10's priority to 1, enables it for
 * this hart's S-mode context (2 * hart + 1) with threshold 0, enables sie.SEIE and sstatus.SIE, then enables the
 * UART's "transmitter holding register empty" interrupt (IER bit 1), which is raised at once because the
 * transmitter is idle. WFIs until the handler has claimed the interrupt: it must be source 10; the handler
 * silences the UART (IER = 0) and completes. Afterwards a claim returns 0 (nothing pending). SRST reason 0 or 1.
 */
#include "guest.h"

#define GIVE_UP_TICKS (2UL * TIMEBASE_HZ)

static u64 context;
static volatile u32 claimed = 0xffffffff;
static volatile int handled;

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  if (scause == (SCAUSE_INTERRUPT | IRQ_S_EXT)) {
    u32 source = mmio_read32(PLIC_CLAIM(context));
    claimed = source;
    mmio_write8(UART_BASE + UART_IER, 0);          /* silence the source before completing */
    mmio_write32(PLIC_CLAIM(context), source);     /* complete */
    handled++;
    return sepc;
  }
  console_puts("plic: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" sepc=");
  console_put_hex(sepc);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  shutdown(1);
}

int main(u64 hartid, u64 dtb) {
  (void)dtb;
  context = PLIC_S_CONTEXT(hartid);
  trap_init();
  mmio_write32(PLIC_PRIORITY(UART_IRQ), 1);
  mmio_write32(PLIC_ENABLE(context, UART_IRQ), 1U << (UART_IRQ % 32));
  mmio_write32(PLIC_THRESHOLD(context), 0);
  csr_set(sie, SIE_SEIE);
  csr_set(sstatus, SSTATUS_SIE);

  u64 start = read_time();
  mmio_write8(UART_BASE + UART_IER, UART_IER_ETBEI);
  while (!handled && read_time() - start < GIVE_UP_TICKS) wfi();
  csr_clear(sstatus, SSTATUS_SIE);

  int failed = 0;
  if (!handled) {
    console_puts("plic: no external interrupt within 2 s\n");
    failed = 1;
  } else if (claimed != UART_IRQ) {
    console_puts("plic: claimed source ");
    console_put_dec(claimed);
    console_puts(", expected 10\n");
    failed = 1;
  } else {
    u32 again = mmio_read32(PLIC_CLAIM(context));
    console_puts("plic: claimed source 10 on context ");
    console_put_dec(context);
    console_puts(", completed; next claim ");
    console_put_dec(again);
    console_puts("\n");
    if (again != 0) failed = 1;
  }
  console_puts(failed ? "plic: FAILED\n" : "plic: ok\n");
  shutdown(failed);
}
