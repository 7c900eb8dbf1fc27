/*
 * The /init of our riscv64 Linux test guests (PID 1 in an initramfs): the small kernel we build
 * (scripts/build-linux-riscv64.sh, initramfs embedded) and Debian's own riscv64 kernel
 * (scripts/fetch-debian-riscv64.sh, initramfs passed as ramdisk, drivers as modules in /modules).
 *
 * It proves, in order, that the kernel reached user space; that /proc, /sys and devtmpfs work; that the modules in
 * /modules load (Debian builds virtio-mmio and virtio-rng as modules); that user mode may read the time CSR
 * directly (the `rdtime` the vDSO uses: it traps unless the firmware/VMM enabled the counter for U-mode) and that
 * clock_gettime() advances; what date the guest believes it is (from the RTC, so not 1970); that /dev/hwrng gives
 * bytes; how many harts Linux brought up; that user-mode integer work gives the right answer; and that the
 * platform can power the machine off. Every line it prints starts with "AXVISOR-INIT: " so
 * scripts/e2e/10-linux-riscv64.sh can grep for it; expected values are spelled out so a wrong answer is visible
 * in the log, not only in the checker.
 *
 * Built with riscv64-linux-gnu-gcc -static (glibc from libc6-dev-riscv64-cross).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MARKER "AXVISOR-INIT: "

/* The sieve bound and its known prime count (pi(200000) = 17984), so the guest can say "ok" on its own. */
#define SIEVE_LIMIT 200000u
#define SIEVE_EXPECTED_PRIMES 17984u
/* A clock that says the year is before this is a clock nobody set (1970 is the Unix epoch). */
#define EARLIEST_PLAUSIBLE_YEAR 2024
#define HWRNG_BYTES 16

static unsigned char sieve[SIEVE_LIMIT + 1];

/* Write straight to fd 1 (the console) so nothing sits in a stdio buffer if the machine stops early. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[256];
  int n = snprintf(line, sizeof line, "%s", MARKER);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(1, line + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += (size_t)w;
  }
}

/* If the kernel did not open /dev/console for us (missing node), try again once /dev exists. */
static void ensure_console(void) {
  if (fcntl(1, F_GETFD) != -1) return;
  int fd = open("/dev/console", O_RDWR);
  if (fd < 0) return;
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
}

static void mount_or_say(const char *source, const char *target, const char *type) {
  mkdir(target, 0555);
  if (mount(source, target, type, 0, NULL) != 0 && errno != EBUSY) say("mount %s failed: %s", target, strerror(errno));
}

/*
 * Load the modules named, one per line, in /modules/load-order (each file /modules/<name>.ko). The small kernel
 * has no such file (its drivers are built in); that is not an error.
 */
static void load_modules(void) {
  FILE *order = fopen("/modules/load-order", "r");
  if (order == NULL) return;
  char name[128];
  int loaded = 0, failed = 0;
  while (fgets(name, sizeof name, order) != NULL) {
    name[strcspn(name, "\r\n")] = '\0';
    if (name[0] == '\0') continue;
    char path[192];
    snprintf(path, sizeof path, "/modules/%s.ko", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
      say("module %s: %s", name, strerror(errno));
      failed++;
    } else {
      loaded++;
    }
    if (fd >= 0) close(fd);
  }
  fclose(order);
  say("modules: %d loaded, %d failed", loaded, failed);
}

/* The time CSR read from user mode, as the vDSO does: SIGILL here means the counter is not enabled for U-mode. */
static uint64_t read_time_csr(void) {
  uint64_t t;
  __asm__ volatile("rdtime %0" : "=r"(t));
  return t;
}

static int64_t ns_of(const struct timespec *ts) { return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec; }

static void check_time(void) {
  uint64_t t0 = read_time_csr();
  struct timespec m0, m1;
  clock_gettime(CLOCK_MONOTONIC, &m0);
  /* Spin until the clock moves (bounded: a clock that never moves is a failure, not a hang). */
  long spins = 0;
  do {
    clock_gettime(CLOCK_MONOTONIC, &m1);
  } while (ns_of(&m1) == ns_of(&m0) && ++spins < 100000000L);
  uint64_t t1 = read_time_csr();
  int ok = t1 > t0 && ns_of(&m1) > ns_of(&m0);
  say("time: rdtime %llu -> %llu, clock_gettime(MONOTONIC) advanced %lld ns (%s)", (unsigned long long)t0,
      (unsigned long long)t1, (long long)(ns_of(&m1) - ns_of(&m0)), ok ? "ok" : "WRONG");

  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  say("date=%s (%s)", date, tm.tm_year + 1900 >= EARLIEST_PLAUSIBLE_YEAR ? "ok" : "WRONG: clock not set");
}

static void check_hwrng(void) {
  int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    say("hwrng: cannot open /dev/hwrng: %s", strerror(errno));
    return;
  }
  unsigned char bytes[HWRNG_BYTES];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t r = read(fd, bytes + got, sizeof bytes - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  char hex[2 * HWRNG_BYTES + 1];
  int distinct = 0;
  for (size_t i = 0; i < got; i++) {
    snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    int seen = 0;
    for (size_t j = 0; j < i; j++) seen |= bytes[j] == bytes[i];
    distinct += !seen;
  }
  hex[2 * got] = '\0';
  /* 16 random bytes with fewer than 4 distinct values would be a broken source (chance ~1e-13). */
  say("hwrng: %zu bytes %s (%s)", got, hex, got == sizeof bytes && distinct >= 4 ? "ok" : "WRONG");
}

/* Number of "processor" entries in /proc/cpuinfo, or -1 if it cannot be read. */
static int count_cpus(void) {
  int fd = open("/proc/cpuinfo", O_RDONLY);
  if (fd < 0) return -1;
  static char buf[16384];
  size_t used = 0;
  for (;;) {
    ssize_t r = read(fd, buf + used, sizeof buf - 1 - used);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += (size_t)r;
    if (used == sizeof buf - 1) break;
  }
  close(fd);
  buf[used] = '\0';
  int cpus = 0;
  /* Each hart's block starts with a line "processor\t: N". */
  for (char *line = buf; line != NULL && *line != '\0';) {
    if (strncmp(line, "processor", 9) == 0) cpus++;
    char *nl = strchr(line, '\n');
    line = nl == NULL ? NULL : nl + 1;
  }
  return cpus;
}

/* Sieve of Eratosthenes (loads, stores, branches) plus a 64-bit multiply/divide hash over the primes (M extension). */
static void workload(void) {
  memset(sieve, 1, sizeof sieve);
  sieve[0] = sieve[1] = 0;
  for (uint32_t i = 2; i * i <= SIEVE_LIMIT; i++) {
    if (!sieve[i]) continue;
    for (uint32_t j = i * i; j <= SIEVE_LIMIT; j += i) sieve[j] = 0;
  }
  uint32_t primes = 0;
  uint64_t hash = 1469598103934665603ull; /* FNV-1a offset basis */
  uint64_t mix = 0;
  for (uint32_t i = 2; i <= SIEVE_LIMIT; i++) {
    if (!sieve[i]) continue;
    primes++;
    hash = (hash ^ i) * 1099511628211ull; /* FNV-1a 64-bit prime */
    mix += (hash / (uint64_t)i) % 1000003ull;
  }
  say("primes below %u: %u (%s), fnv=0x%016llx mix=%llu", SIEVE_LIMIT + 1, primes,
      primes == SIEVE_EXPECTED_PRIMES ? "ok" : "WRONG", (unsigned long long)hash, (unsigned long long)mix);
}

int main(void) {
  ensure_console();
  say("hello from init (pid %d)", (int)getpid());

  mount_or_say("proc", "/proc", "proc");
  mount_or_say("sysfs", "/sys", "sysfs");
  mount_or_say("devtmpfs", "/dev", "devtmpfs");
  load_modules();

  check_time();
  check_hwrng();
  say("cpus=%d", count_cpus());
  workload();

  say("powering off");
  sync();
  reboot(RB_POWER_OFF);
  /* Only reached if the kernel could not power off (no SRST, no syscon-poweroff): say so, then let PID 1 exit. */
  say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
  return 1;
}
