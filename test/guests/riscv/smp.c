/*
 * smp: two harts. Hart 0 starts hart 1 with SBI HSM hart_start(1, secondary_entry, opaque); hart 1 checks that it
 * came in with a0 = 1 and a1 = the opaque value and prints. The harts then agree through memory: hart 0 posts a
 * token, hart 1 answers with token + 1 and stops (HSM hart_stop). Hart 0 checks hart_get_status along the way
 * (itself STARTED, hart 1 STARTED while it waits, STOPPED at the end), that a second hart_start of the running
 * hart 1 fails with SBI_ERR_ALREADY_AVAILABLE, then shuts down with SRST reason 0 (1 when a check fails).
 */
#include "guest.h"

#define OPAQUE 0x5a5a0000c0ffee11UL
#define TOKEN 0x1234abcdUL
#define GIVE_UP_TICKS (2UL * TIMEBASE_HZ)

static volatile u64 hart1_id = ~0UL;
static volatile u64 hart1_opaque;
static volatile u64 hart1_waiting;
static volatile u64 token;
static volatile u64 answer;

void secondary_main(u64 hartid, u64 opaque) {
  hart1_id = hartid;
  hart1_opaque = opaque;
  console_lock();
  console_puts("smp: hart ");
  console_put_dec(hartid);
  console_puts(" up, opaque ");
  console_put_hex(opaque);
  console_puts("\n");
  console_unlock();
  __atomic_store_n(&hart1_waiting, 1, __ATOMIC_RELEASE);
  u64 start = read_time();
  while (__atomic_load_n(&token, __ATOMIC_ACQUIRE) == 0) {
    if (read_time() - start > GIVE_UP_TICKS) return;
  }
  __atomic_store_n(&answer, token + 1, __ATOMIC_RELEASE);
  /* returning ends in HSM hart_stop (start.S) */
}

static int failures;

static void expect(int ok, const char *what) {
  if (ok) return;
  failures++;
  console_lock();
  console_puts("smp: FAIL ");
  console_puts(what);
  console_puts("\n");
  console_unlock();
}

/* Spin until *flag != 0 or 2 s pass; returns whether it became non-zero. */
static int wait_for(volatile u64 *flag) {
  u64 start = read_time();
  while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 0) {
    if (read_time() - start > GIVE_UP_TICKS) return 0;
  }
  return 1;
}

int main(u64 hartid, u64 dtb) {
  (void)dtb;
  expect(hartid == 0, "boot hart is not hart 0");
  struct sbiret r = sbi_hart_get_status(0);
  expect(r.error == SBI_SUCCESS && r.value == SBI_HSM_STATE_STARTED, "hart_get_status(0) != STARTED");
  r = sbi_hart_get_status(1);
  expect(r.error == SBI_SUCCESS && r.value == SBI_HSM_STATE_STOPPED, "hart_get_status(1) != STOPPED before start");

  r = sbi_hart_start(1, (u64)secondary_entry, OPAQUE);
  if (r.error != SBI_SUCCESS) {
    console_puts("smp: hart_start(1) failed with error ");
    console_put_i64(r.error);
    console_puts("\n");
    shutdown(1);
  }
  expect(wait_for(&hart1_waiting), "hart 1 did not come up within 2 s");
  expect(hart1_id == 1, "hart 1 entered with a0 != 1");
  expect(hart1_opaque == OPAQUE, "hart 1 entered with a1 != the opaque value");
  r = sbi_hart_get_status(1);
  expect(r.error == SBI_SUCCESS && r.value == SBI_HSM_STATE_STARTED, "hart_get_status(1) != STARTED while running");
  r = sbi_hart_start(1, (u64)secondary_entry, OPAQUE);
  expect(r.error == SBI_ERR_ALREADY_AVAILABLE, "second hart_start(1) did not fail with ALREADY_AVAILABLE");

  __atomic_store_n(&token, TOKEN, __ATOMIC_RELEASE);
  expect(wait_for(&answer), "hart 1 did not answer within 2 s");
  expect(answer == TOKEN + 1, "hart 1 answered the wrong value");

  u64 start = read_time();
  for (;;) {
    r = sbi_hart_get_status(1);
    if (r.error == SBI_SUCCESS && r.value == SBI_HSM_STATE_STOPPED) break;
    if (read_time() - start > GIVE_UP_TICKS) {
      expect(0, "hart 1 did not reach STOPPED within 2 s");
      break;
    }
  }
  console_lock();
  console_puts(failures == 0 ? "smp: ok\n" : "smp: FAILED\n");
  console_unlock();
  shutdown(failures != 0);
}
