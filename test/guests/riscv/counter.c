/*
 * counter: counts and prints, for pause/resume and snapshot/restore tests. Every 10 ms of guest time (an SBI
 * set_timer deadline, waited for in WFI) it prints "counter: N" for N = 1, 2, ... up to 300 (3 s), then
 * "counter: done" and SRST reason 0. It also checks the guest clock: a tick that comes more than 500 ms of `time`
 * after the previous one prints "counter: clock jumped" and fails (reason 1), so a pause or a snapshot that lets
 * the guest see the time it was stopped for is caught. Output across a snapshot must continue without a gap or a
 * repeated number.
 */
#include "guest.h"

#define TICK_TICKS (TIMEBASE_HZ / 100)     /* 10 ms */
#define MAX_GAP_TICKS (TIMEBASE_HZ / 2)    /* 500 ms */
#define LAST_COUNT 300UL

static volatile int fired;

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  if (scause == (SCAUSE_INTERRUPT | IRQ_S_TIMER)) {
    fired = 1;
    sbi_set_timer(~0UL);
    return sepc;
  }
  console_puts("counter: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" sepc=");
  console_put_hex(sepc);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  shutdown(1);
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  trap_init();
  csr_set(sie, SIE_STIE);
  u64 last = read_time();
  for (u64 count = 1; count <= LAST_COUNT; count++) {
    fired = 0;
    sbi_set_timer(last + TICK_TICKS);
    /* sstatus.SIE stays clear but around the wait's end: WFI wakes on a pending interrupt regardless, and an
       interrupt taken between the test of `fired` and the WFI cannot leave the hart asleep with no timer set. */
    while (!fired) {
      wfi();
      csr_set(sstatus, SSTATUS_SIE);
      csr_clear(sstatus, SSTATUS_SIE);
    }
    u64 now = read_time();
    if (now - last > MAX_GAP_TICKS) {
      console_puts("counter: clock jumped by ");
      console_put_dec(now - last);
      console_puts(" ticks\n");
      shutdown(1);
    }
    last = now;
    console_puts("counter: ");
    console_put_dec(count);
    console_puts("\n");
  }
  console_puts("counter: done\n");
  shutdown(0);
}
