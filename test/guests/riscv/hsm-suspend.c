/*
 * hsm-suspend: what kvm-unit-tests' `sbi` test checks of the SBI timer and HSM suspend, on two harts.
 *
 * Hart 0: with sie.STIE clear, set_timer(0) must make sip.STIP pending at once (no interrupt is taken) and
 * set_timer(-1) must clear it. It then starts hart 1, and twice waits until hart_get_status(1) says SUSPENDED and
 * wakes it with an IPI: the first time hart 1 made a retentive suspend (the call returns 0), the second time a
 * non-retentive one (hart 1 restarts at the resume address with a0 = its hart id, a1 = the opaque value,
 * satp = 0, sstatus.SIE = 0). Finally hart 1 stops and hart 0 waits for STOPPED.
 *
 * Hart 1 suspends with sie.SSIE set (and, for the non-retentive suspend, sstatus.SIE too): the IPI must wake it.
 * A VMM that reset the hart when it suspended (sie = 0) could never wake it: hart_get_status stays SUSPENDED.
 * SRST reason 0 when everything held, 1 otherwise.
 */
#include "guest.h"

#define SBI_EXT_IPI 0x735049UL
#define SBI_HSM_HART_SUSPEND 3
#define SBI_HSM_STATE_SUSPENDED 4
#define SUSPEND_RETENTIVE 0x00000000UL
#define SUSPEND_NON_RETENTIVE 0x80000000UL
#define OPAQUE_START 0x1111222233334444UL
#define OPAQUE_RESUME 0x5555666677778888UL
#define SIP_SSIP (1UL << 1)
#define SIP_STIP (1UL << 5)
#define GIVE_UP_TICKS (2UL * TIMEBASE_HZ)

static volatile u64 retentive_error = ~0UL;
static volatile u64 retentive_done;
static volatile u64 resumed_a0 = ~0UL;
static volatile u64 resumed_a1;
static volatile u64 resumed_satp = ~0UL;
static volatile u64 resumed_sstatus = ~0UL;
static volatile u64 resumed;
static volatile u64 unexpected_traps;
static int failures;

static void expect(int ok, const char *what) {
  if (ok) return;
  failures++;
  console_lock();
  console_puts("hsm-suspend: FAIL ");
  console_puts(what);
  console_puts("\n");
  console_unlock();
}

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  (void)stval;
  /* Hart 1 would take the IPI only if it ran with SIE set after waking: count it, drop it. */
  unexpected_traps++;
  if (scause == (SCAUSE_INTERRUPT | IRQ_S_SOFT)) csr_clear(sip, SIP_SSIP);
  return sepc;
}

static struct sbiret hart_suspend(unsigned long type, unsigned long resume_addr, unsigned long opaque) {
  return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, type, resume_addr, opaque, 0, 0, 0);
}

void secondary_main(u64 hartid, u64 opaque) {
  if (opaque == OPAQUE_RESUME) {
    /* Back from the non-retentive suspend: record the entry state, then return into hart_stop. */
    resumed_a0 = hartid;
    resumed_a1 = opaque;
    resumed_satp = csr_read(satp);
    resumed_sstatus = csr_read(sstatus);
    __atomic_store_n(&resumed, 1, __ATOMIC_RELEASE);
    return;
  }
  trap_init();
  csr_set(sie, SIE_SSIE);
  struct sbiret r = hart_suspend(SUSPEND_RETENTIVE, 0, 0);
  retentive_error = (u64)r.error;
  /* The IPI that woke us is still pending: clear it, or the next suspend would end at once. */
  csr_clear(sip, SIP_SSIP);
  __atomic_store_n(&retentive_done, 1, __ATOMIC_RELEASE);
  csr_set(sstatus, SSTATUS_SIE);
  hart_suspend(SUSPEND_NON_RETENTIVE, (u64)secondary_entry, OPAQUE_RESUME);
  /* A non-retentive suspend does not return. */
  expect(0, "non-retentive hart_suspend returned");
}

/* Spin until hart 1's status is `state`, or 2 s pass. */
static int wait_status(long state) {
  u64 start = read_time();
  for (;;) {
    struct sbiret r = sbi_hart_get_status(1);
    if (r.error == SBI_SUCCESS && r.value == state) return 1;
    if (read_time() - start > GIVE_UP_TICKS) return 0;
  }
}

static int wait_flag(volatile u64 *flag) {
  u64 start = read_time();
  while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 0) {
    if (read_time() - start > GIVE_UP_TICKS) return 0;
  }
  return 1;
}

static void wake_hart1(void) {
  struct sbiret r = sbi_call(SBI_EXT_IPI, 0, 1UL << 1, 0, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS, "send_ipi(hart 1) failed");
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  trap_init();

  /* set_timer(0): pending at once, even masked; set_timer(-1): cleared. */
  csr_clear(sie, SIE_STIE);
  sbi_set_timer(0);
  expect((csr_read(sip) & SIP_STIP) != 0, "set_timer(0) did not make the timer interrupt pending at once");
  sbi_set_timer(~0UL);
  expect((csr_read(sip) & SIP_STIP) == 0, "set_timer(-1) did not clear the pending timer interrupt");
  console_puts("hsm-suspend: set_timer(0) pending at once, set_timer(-1) cleared\n");

  struct sbiret r = sbi_hart_start(1, (u64)secondary_entry, OPAQUE_START);
  expect(r.error == SBI_SUCCESS, "hart_start(1) failed");

  expect(wait_status(SBI_HSM_STATE_SUSPENDED), "hart 1 did not reach SUSPENDED (retentive)");
  wake_hart1();
  expect(wait_flag(&retentive_done), "hart 1 did not wake from its retentive suspend");
  expect(retentive_error == 0, "retentive hart_suspend did not return SBI_SUCCESS");
  console_puts("hsm-suspend: retentive suspend woken by an IPI\n");

  expect(wait_status(SBI_HSM_STATE_SUSPENDED), "hart 1 did not reach SUSPENDED (non-retentive)");
  wake_hart1();
  expect(wait_flag(&resumed), "hart 1 did not resume from its non-retentive suspend");
  expect(resumed_a0 == 1, "non-retentive resume: a0 is not the hart id");
  expect(resumed_a1 == OPAQUE_RESUME, "non-retentive resume: a1 is not the opaque value");
  expect(resumed_satp == 0, "non-retentive resume: satp is not 0");
  expect((resumed_sstatus & SSTATUS_SIE) == 0, "non-retentive resume: sstatus.SIE is set");
  expect(unexpected_traps == 0, "hart 1 took a trap after waking");
  console_puts("hsm-suspend: non-retentive suspend woken by an IPI, resumed with a0, a1, satp, SIE as specified\n");

  expect(wait_status(SBI_HSM_STATE_STOPPED), "hart 1 did not reach STOPPED");
  console_puts(failures == 0 ? "hsm-suspend: ok\n" : "hsm-suspend: FAILED\n");
  shutdown(failures != 0);
}
