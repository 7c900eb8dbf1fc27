/*
 * counters: the guest-visible counters, as a Linux user program and Linux's PMU driver use them.
 *
 * 1. From VU-mode (entered with sret, left with ecall), read time, cycle and instret the way the vDSO's
 *    clock_gettime reads time: this works only if scounteren was set up for the guest (KVM resets it to 7; without
 *    it the read traps and the guest sees an illegal instruction, which is what killed Linux's init with SIGILL).
 * 2. Through the SBI PMU extension: it is probed, reports cycle (CSR 0xc00) and instret (0xc02) as 64-bit hardware
 *    counters and index 1 as no counter; stopping cycle freezes the `cycle` CSR; starting it with an initial value
 *    presets it; a firmware counter configured for SBI set_timer counts two calls.
 * Prints what it saw, then SRST reason 0 (1 when a check fails).
 */
#include "guest.h"

#define SBI_EXT_PMU 0x504d55UL
#define PMU_NUM_COUNTERS 0
#define PMU_COUNTER_GET_INFO 1
#define PMU_COUNTER_CONFIG_MATCHING 2
#define PMU_COUNTER_START 3
#define PMU_COUNTER_STOP 4
#define PMU_COUNTER_FW_READ 5
#define PMU_START_SET_INIT_VALUE 1UL
#define PMU_STOP_RESET 1UL
#define PMU_CFG_AUTO_START 4UL
#define PMU_EVENT_HW_CPU_CYCLES 0x1UL
#define PMU_EVENT_FW_SET_TIMER 0xf0005UL
#define CAUSE_USER_ECALL 8
#define SSTATUS_SPP (1UL << 8)
#define INITIAL_CYCLES 1000000UL

static int failures;
static volatile int in_user;
static volatile u64 user_traps;

static void expect(int ok, const char *what) {
  if (ok) return;
  failures++;
  console_puts("counters: FAIL ");
  console_puts(what);
  console_puts("\n");
}

u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  if (in_user && (scause == CAUSE_USER_ECALL || scause == CAUSE_ILLEGAL_INSTRUCTION)) {
    if (scause == CAUSE_ILLEGAL_INSTRUCTION) {
      console_puts("counters: user-mode counter read trapped, stval=");
      console_put_hex(stval);
      console_puts("\n");
      user_traps++;
    }
    if (scause == CAUSE_USER_ECALL) {
      /* Back to VS-mode: the sret below returns to the instruction after the ecall, in supervisor mode. */
      in_user = 0;
      csr_set(sstatus, SSTATUS_SPP);
    }
    return sepc + 4;
  }
  console_puts("counters: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" sepc=");
  console_put_hex(sepc);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  shutdown(1);
}

static u64 read_cycle(void) {
  u64 c;
  asm volatile("rdcycle %0" : "=r"(c));
  return c;
}

/* Enter VU-mode at the label, read the three counters, ecall back (the handler returns in VS-mode). */
static void user_reads(u64 *time, u64 *cycle, u64 *instret) {
  register u64 t asm("a0") = 0;
  register u64 c asm("a1") = 0;
  register u64 i asm("a2") = 0;
  in_user = 1;
  csr_clear(sstatus, SSTATUS_SPP);
  asm volatile(
      "la t0, 1f\n"
      "csrw sepc, t0\n"
      "sret\n"
      "1:\n"
      "rdtime a0\n"
      "rdcycle a1\n"
      "rdinstret a2\n"
      "ecall\n"
      : "+r"(t), "+r"(c), "+r"(i)
      :
      : "t0", "memory");
  *time = t;
  *cycle = c;
  *instret = i;
}

static struct sbiret pmu(unsigned long fid, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
                         unsigned long a4) {
  return sbi_call(SBI_EXT_PMU, fid, a0, a1, a2, a3, a4, 0);
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  trap_init();

  u64 time, cycle, instret;
  user_reads(&time, &cycle, &instret);
  expect(in_user == 0, "did not come back from user mode");
  expect(user_traps == 0, "a counter read from user mode trapped (scounteren)");
  expect(time != 0 && cycle != 0 && instret != 0, "a user-mode counter read gave 0");
  console_puts("counters: user mode read time, cycle and instret\n");

  struct sbiret r = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_PMU, 0, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS && r.value == 1, "probe_extension(PMU) != 1");
  r = pmu(PMU_NUM_COUNTERS, 0, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS && r.value >= 3, "num_counters < 3");
  r = pmu(PMU_COUNTER_GET_INFO, 0, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS && r.value == (0xc00UL | (63UL << 12)), "counter 0 is not the 64-bit cycle CSR");
  r = pmu(PMU_COUNTER_GET_INFO, 1, 0, 0, 0, 0);
  expect(r.error == SBI_ERR_INVALID_PARAM, "counter 1 (time) is not INVALID_PARAM");
  r = pmu(PMU_COUNTER_GET_INFO, 2, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS && r.value == (0xc02UL | (63UL << 12)), "counter 2 is not the 64-bit instret CSR");

  /* Stop cycle (with reset, as Linux does at boot): the CSR freezes. */
  r = pmu(PMU_COUNTER_STOP, 0, 1, PMU_STOP_RESET, 0, 0);
  expect(r.error == SBI_SUCCESS, "stop(cycle) failed");
  u64 frozen = read_cycle();
  for (volatile int k = 0; k < 1000; k++) {
  }
  expect(read_cycle() == frozen, "cycle still counts after stop");
  /* Configure it for CPU cycles and start it at INITIAL_CYCLES. */
  r = pmu(PMU_COUNTER_CONFIG_MATCHING, 0, 1, 0, PMU_EVENT_HW_CPU_CYCLES, 0);
  expect(r.error == SBI_SUCCESS && r.value == 0, "config_matching(cycles) did not give counter 0");
  r = pmu(PMU_COUNTER_START, 0, 1, PMU_START_SET_INIT_VALUE, INITIAL_CYCLES, 0);
  expect(r.error == SBI_SUCCESS, "start(cycle, initial value) failed");
  u64 started = read_cycle();
  expect(started >= INITIAL_CYCLES && started < INITIAL_CYCLES + 100000, "cycle did not start at the initial value");
  for (volatile int k = 0; k < 1000; k++) {
  }
  expect(read_cycle() > started, "cycle does not count after start");

  /* A firmware counter for set_timer, auto-started. */
  r = pmu(PMU_COUNTER_CONFIG_MATCHING, 3, 0xffff, PMU_CFG_AUTO_START, PMU_EVENT_FW_SET_TIMER, 0);
  expect(r.error == SBI_SUCCESS, "config_matching(SET_TIMER) failed");
  unsigned long fw = (unsigned long)r.value;
  sbi_set_timer(~0UL);
  sbi_set_timer(~0UL);
  r = pmu(PMU_COUNTER_FW_READ, fw, 0, 0, 0, 0);
  expect(r.error == SBI_SUCCESS && r.value == 2, "the set_timer firmware counter did not count 2");

  console_puts(failures == 0 ? "counters: ok\n" : "counters: FAILED\n");
  shutdown(failures != 0);
}
