/*
 * timer: the supervisor timer, first through SBI TIME set_timer, then through Sstc's stimecmp (CSR 0x14d; the VMM
 * enables Sstc). For each: install the trap vector, enable sie.STIE and sstatus.SIE, read `time`, program a
 * deadline 1 ms ahead (10000 ticks at 10 MHz), WFI until the handler has run, and check in the handler that
 * `time` >= the deadline. Prints the ticks from programming to the interrupt, then SRST reason 0 (or 1 when a
 * check fails, the interrupt does not come within 2 s, or stimecmp is not available).
 */
#include "guest.h"

#define DELAY_TICKS 10000UL                   /* 1 ms */
#define GIVE_UP_TICKS (2UL * TIMEBASE_HZ)     /* 2 s */
#define FAR_FUTURE (~0UL)

enum mode { MODE_NONE, MODE_SBI, MODE_SSTC };

static volatile enum mode mode;
static volatile u64 deadline;
static volatile u64 fired_at;
static volatile int fired;
static volatile int early;
static volatile int sstc_missing;

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  if (scause == (SCAUSE_INTERRUPT | IRQ_S_TIMER)) {
    u64 now = read_time();
    if (now < deadline) early = 1;
    fired_at = now;
    fired = 1;
    /* Clear the interrupt the way it was raised: a far deadline. */
    if (mode == MODE_SSTC) {
      asm volatile("csrw 0x14d, %0" ::"r"(FAR_FUTURE));
    } else {
      sbi_set_timer(FAR_FUTURE);
    }
    return sepc;
  }
  if (scause == CAUSE_ILLEGAL_INSTRUCTION && mode == MODE_SSTC && !fired) {
    /* The stimecmp write trapped: no Sstc. Skip the 4-byte csrw. */
    sstc_missing = 1;
    return sepc + 4;
  }
  console_puts("timer: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" sepc=");
  console_put_hex(sepc);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  shutdown(1);
}

/* Returns 0 on success. */
static int run(enum mode m, const char *name) {
  fired = 0;
  early = 0;
  mode = m;
  u64 start = read_time();
  deadline = start + DELAY_TICKS;
  if (m == MODE_SSTC) {
    asm volatile("csrw 0x14d, %0" ::"r"(deadline));
    if (sstc_missing) {
      console_puts("timer: sstc: stimecmp is not available (illegal instruction)\n");
      return 1;
    }
  } else {
    struct sbiret r = sbi_set_timer(deadline);
    if (r.error != SBI_SUCCESS) {
      console_puts("timer: sbi set_timer failed\n");
      return 1;
    }
  }
  while (!fired) {
    if (read_time() - start > GIVE_UP_TICKS) {
      console_puts("timer: ");
      console_puts(name);
      console_puts(": no interrupt within 2 s\n");
      return 1;
    }
    wfi();
  }
  console_puts("timer: ");
  console_puts(name);
  console_puts(": interrupt after ");
  console_put_dec(fired_at - start);
  console_puts(" ticks (deadline ");
  console_put_dec(DELAY_TICKS);
  console_puts(")\n");
  if (early) {
    console_puts("timer: ");
    console_puts(name);
    console_puts(": the interrupt came before the deadline\n");
    return 1;
  }
  return 0;
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  trap_init();
  csr_set(sie, SIE_STIE);
  csr_set(sstatus, SSTATUS_SIE);
  int failed = run(MODE_SBI, "sbi set_timer");
  if (!failed) failed = run(MODE_SSTC, "sstc");
  csr_clear(sstatus, SSTATUS_SIE);
  console_puts(failed ? "timer: FAILED\n" : "timer: ok\n");
  shutdown(failed);
}
