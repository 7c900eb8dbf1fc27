/*
 * The /init of our riscv64 Linux test guest (PID 1 in an embedded initramfs).
 *
 * It proves, in order, that the kernel reached user space, that /proc works, how many harts Linux brought up,
 * that user-mode integer work gives the right answer, and that the platform can power the machine off. Every line
 * it prints starts with "AXVISOR-INIT: " so scripts/e2e/10-linux-riscv64.sh can grep for it; the expected values are
 * spelled out below so a wrong answer is visible in the log, not only in the checker.
 *
 * Built by scripts/build-linux-riscv64.sh with riscv64-linux-gnu-gcc -static (glibc from libc6-dev-riscv64-cross).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "AXVISOR-INIT: "

/* The sieve bound and its known prime count (pi(200000) = 17984), so the guest can say "ok" on its own. */
#define SIEVE_LIMIT 200000u
#define SIEVE_EXPECTED_PRIMES 17984u

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

  mkdir("/proc", 0555);
  if (mount("proc", "/proc", "proc", 0, NULL) != 0) say("mount /proc failed: %s", strerror(errno));

  say("cpus=%d", count_cpus());
  workload();

  say("powering off");
  sync();
  reboot(RB_POWER_OFF);
  /* Only reached if the kernel could not power off (no SRST, no syscon-poweroff): say so, then let PID 1 exit. */
  say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
  return 1;
}
