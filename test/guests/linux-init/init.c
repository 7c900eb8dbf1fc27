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
 * Network mode: with `axvisor.net=ADDRESS/PREFIX,PEER,PORT,BYTES` on the kernel command line (read from
 * /proc/cmdline), the init instead brings eth0 up with ADDRESS (ioctls, no tools), pings PEER (raw ICMP), then
 * connects to PEER:PORT over TCP, reads BYTES and prints their FNV-1a 64 checksum, sends BYTES of its own xorshift64
 * stream (seed NET_SEED), waits for the peer to close (it has read everything then), and powers off. The peer
 * (scripts/e2e/net-peer.ts) checks both checksums and times both directions; it pings the guest meanwhile.
 *
 * LCG mode: with `axvisor.lcg=STEPS,THREADS` on the kernel command line, the init waits LCG_SETTLE_NS for the
 * kernel's deferred work to finish, then runs THREADS POSIX threads, thread i stepping the 64-bit LCG
 * x = x * LCG_MUL + LCG_ADD STEPS times from seed i + 1, times them together with CLOCK_MONOTONIC (creation to last
 * join), prints the elapsed microseconds and the sum of the final values (mod 2^64, so bench/emulated-linux-lcg.ts
 * can check it), and powers off. It is the in-guest CPU benchmark of issue #12.
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
#include <arpa/inet.h>
#include <net/if.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
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

/* /proc/cpuinfo into a static buffer (NUL-terminated), or NULL if it cannot be read. */
static const char *read_cpuinfo(void) {
  int fd = open("/proc/cpuinfo", O_RDONLY);
  if (fd < 0) return NULL;
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
  return buf;
}

/* Number of "processor" entries in /proc/cpuinfo, or -1 if it cannot be read. */
static int count_cpus(const char *cpuinfo) {
  if (cpuinfo == NULL) return -1;
  int cpus = 0;
  /* Each hart's block starts with a line "processor\t: N". */
  for (const char *line = cpuinfo; line != NULL && *line != '\0';) {
    if (strncmp(line, "processor", 9) == 0) cpus++;
    const char *nl = strchr(line, '\n');
    line = nl == NULL ? NULL : nl + 1;
  }
  return cpus;
}

/*
 * The first hart's "isa" line of /proc/cpuinfo (the extensions the kernel found in the device tree and uses:
 * Linux 6.12 lists zba/zbb/zbs there), or "?" when there is none.
 */
static void say_isa(const char *cpuinfo) {
  for (const char *line = cpuinfo; line != NULL && *line != '\0';) {
    const char *nl = strchr(line, '\n');
    if (strncmp(line, "isa", 3) == 0 && (line[3] == '\t' || line[3] == ' ')) {
      const char *value = strchr(line, ':');
      if (value != NULL && (nl == NULL || value < nl)) {
        value++;
        while (*value == ' ') value++;
        int length = nl == NULL ? (int)strlen(value) : (int)(nl - value);
        say("isa=%.*s", length, value);
        return;
      }
    }
    line = nl == NULL ? NULL : nl + 1;
  }
  say("isa=?");
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


/* ---- network mode --------------------------------------------------------------------------------------------- */

#define NET_PARAM "axvisor.net="
#define NET_SEED 0x9e3779b97f4a7c15ull
#define FNV_OFFSET_BASIS 0xcbf29ce484222325ull
#define NET_PINGS 3
#define NET_CONNECT_TRIES 30
/* Seconds a network wait may take: the emulated hart is slow, and the peer pings us before it sends. */
#define NET_TIMEOUT_S 120

struct net_params {
  struct in_addr address, netmask, peer;
  unsigned port;
  unsigned long long bytes;
};

/* axvisor.net=10.0.2.15/24,10.0.2.2,5555,4194304 from /proc/cmdline; 0 if absent, -1 if malformed. */
static int net_params(struct net_params *p) {
  static char cmdline[4096];
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
  close(fd);
  if (n <= 0) return 0;
  cmdline[n] = '\0';
  char *at = strstr(cmdline, NET_PARAM);
  if (at == NULL) return 0;
  at += strlen(NET_PARAM);
  at[strcspn(at, " \n")] = '\0';
  char address[32], peer[32];
  unsigned prefix;
  if (sscanf(at, "%31[0-9.]/%u,%31[0-9.],%u,%llu", address, &prefix, peer, &p->port, &p->bytes) != 5 || prefix > 32 ||
      inet_pton(AF_INET, address, &p->address) != 1 || inet_pton(AF_INET, peer, &p->peer) != 1 || p->port == 0 ||
      p->port > 65535) {
    say("net: cannot parse %s%s", NET_PARAM, at);
    return -1;
  }
  p->netmask.s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
  return 1;
}

static int set_ipv4(int sock, unsigned long request, const char *ifname, struct in_addr value) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  sin->sin_addr = value;
  return ioctl(sock, request, &ifr);
}

/* ifconfig eth0 ADDRESS netmask MASK up, and print its MAC address. */
static int net_up(const struct net_params *p) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    say("net: socket: %s", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
  int ok = ioctl(sock, SIOCGIFHWADDR, &ifr) == 0;
  unsigned char *mac = (unsigned char *)ifr.ifr_hwaddr.sa_data;
  char mac_text[18];
  snprintf(mac_text, sizeof mac_text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  if (!ok || set_ipv4(sock, SIOCSIFADDR, "eth0", p->address) != 0 ||
      set_ipv4(sock, SIOCSIFNETMASK, "eth0", p->netmask) != 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    say("net: cannot configure eth0: %s", strerror(errno));
    close(sock);
    return -1;
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) {
    say("net: cannot bring eth0 up: %s", strerror(errno));
    close(sock);
    return -1;
  }
  close(sock);
  say("net: eth0 up, mac %s, address %s", mac_text, inet_ntoa(p->address));
  return 0;
}

static uint16_t inet_checksum(const void *data, size_t length) {
  const uint8_t *b = data;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t)(b[i] << 8 | b[i + 1]);
  if (length & 1) sum += (uint32_t)b[length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

static void set_timeout(int sock, int option, int seconds) {
  struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
  setsockopt(sock, SOL_SOCKET, option, &tv, sizeof tv);
}

/* NET_PINGS ICMP echo requests to the peer over a raw socket; prints how many were answered. */
static int net_ping(const struct net_params *p) {
  int sock = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (sock < 0) {
    say("net: raw socket: %s", strerror(errno));
    return 0;
  }
  set_timeout(sock, SO_RCVTIMEO, 10);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = p->peer};
  uint16_t id = (uint16_t)getpid();
  int replies = 0;
  for (int seq = 1; seq <= NET_PINGS; seq++) {
    unsigned char packet[64];
    memset(packet, 0, sizeof packet);
    struct icmphdr *icmp = (struct icmphdr *)packet;
    icmp->type = ICMP_ECHO;
    icmp->un.echo.id = htons(id);
    icmp->un.echo.sequence = htons((uint16_t)seq);
    for (size_t i = sizeof *icmp; i < sizeof packet; i++) packet[i] = (unsigned char)i;
    icmp->checksum = inet_checksum(packet, sizeof packet);
    if (sendto(sock, packet, sizeof packet, 0, (struct sockaddr *)&to, sizeof to) < 0) {
      say("net: ping send: %s", strerror(errno));
      continue;
    }
    for (;;) {
      unsigned char reply[256];
      ssize_t n = recv(sock, reply, sizeof reply, 0);
      if (n < 0) break; /* timed out */
      struct iphdr *ip = (struct iphdr *)reply;
      size_t hl = (size_t)ip->ihl * 4;
      if ((size_t)n < hl + sizeof(struct icmphdr)) continue;
      struct icmphdr *r = (struct icmphdr *)(reply + hl);
      if (ip->saddr == p->peer.s_addr && r->type == ICMP_ECHOREPLY && ntohs(r->un.echo.id) == id &&
          ntohs(r->un.echo.sequence) == seq) {
        replies++;
        break;
      }
    }
  }
  close(sock);
  say("net: ping %s: %d/%d replies (%s)", inet_ntoa(p->peer), replies, NET_PINGS, replies == NET_PINGS ? "ok" : "WRONG");
  return replies;
}

static uint64_t fnv1a(uint64_t hash, const unsigned char *data, size_t length) {
  for (size_t i = 0; i < length; i++) hash = (hash ^ data[i]) * 1099511628211ull;
  return hash;
}

static uint64_t xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Read BYTES (checksum), send BYTES of our stream, then wait for the peer to close: it does once it has read all
 * of ours, so every byte is acknowledged before the machine powers off.
 */
static void net_transfer(const struct net_params *p) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port), .sin_addr = p->peer};
  int sock = -1;
  for (int attempt = 1; attempt <= NET_CONNECT_TRIES; attempt++) {
    sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) break;
    if (connect(sock, (struct sockaddr *)&to, sizeof to) == 0) break;
    say("net: connect attempt %d: %s", attempt, strerror(errno));
    close(sock);
    sock = -1;
    sleep(1);
  }
  if (sock < 0) {
    say("net: tcp: cannot connect to %s:%u (WRONG)", inet_ntoa(p->peer), p->port);
    return;
  }
  set_timeout(sock, SO_RCVTIMEO, NET_TIMEOUT_S);
  set_timeout(sock, SO_SNDTIMEO, NET_TIMEOUT_S);
  static unsigned char buffer[65536];
  uint64_t hash = FNV_OFFSET_BASIS;
  unsigned long long got = 0;
  int64_t start = 0;
  while (got < p->bytes) {
    size_t want = sizeof buffer;
    if (p->bytes - got < want) want = (size_t)(p->bytes - got);
    ssize_t n = recv(sock, buffer, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      say("net: tcp receive: %s (WRONG)", strerror(errno));
      break;
    }
    if (n == 0) break;
    if (got == 0) start = now_us();
    hash = fnv1a(hash, buffer, (size_t)n);
    got += (unsigned long long)n;
  }
  int64_t rx_us = got == 0 ? 0 : now_us() - start;
  say("net: tcp received %llu bytes fnv=0x%016llx in %lld us (%s)", got, (unsigned long long)hash, (long long)rx_us,
      got == p->bytes ? "ok" : "WRONG");
  uint64_t state = NET_SEED;
  uint64_t sent_hash = FNV_OFFSET_BASIS;
  unsigned long long sent = 0;
  start = now_us();
  while (sent < p->bytes) {
    size_t chunk = sizeof buffer;
    if (p->bytes - sent < chunk) chunk = (size_t)(p->bytes - sent);
    for (size_t i = 0; i < chunk; i += 8) {
      uint64_t word = xorshift64(&state);
      memcpy(buffer + i, &word, chunk - i < 8 ? chunk - i : 8);
    }
    sent_hash = fnv1a(sent_hash, buffer, chunk);
    size_t done = 0;
    while (done < chunk) {
      ssize_t n = send(sock, buffer + done, chunk - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        say("net: tcp send: %s (WRONG)", strerror(errno));
        close(sock);
        return;
      }
      done += (size_t)n;
    }
    sent += chunk;
  }
  ssize_t last;
  do last = recv(sock, buffer, sizeof buffer, 0);
  while (last > 0 || (last < 0 && errno == EINTR));
  say("net: tcp sent %llu bytes fnv=0x%016llx in %lld us (%s)", sent, (unsigned long long)sent_hash,
      (long long)(now_us() - start), last == 0 ? "peer closed" : "WRONG: no close from the peer");
  close(sock);
}

/* ---- LCG mode ------------------------------------------------------------------------------------------------- */

#define LCG_PARAM "axvisor.lcg="
#define LCG_MAX_THREADS 64
/* Knuth's MMIX constants. */
#define LCG_MUL 6364136223846793005ull
#define LCG_ADD 1442695040888963407ull

struct lcg_job {
  pthread_t thread;
  uint64_t seed, steps, result;
};

static void *lcg_run(void *arg) {
  struct lcg_job *job = arg;
  uint64_t x = job->seed;
  for (uint64_t i = 0; i < job->steps; i++) x = x * LCG_MUL + LCG_ADD;
  job->result = x;
  return NULL;
}

/* axvisor.lcg=20000000,4 from /proc/cmdline; 0 if absent, -1 if malformed. */
static int lcg_params(uint64_t *steps, unsigned *threads) {
  static char cmdline[4096];
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
  close(fd);
  if (n <= 0) return 0;
  cmdline[n] = '\0';
  char *at = strstr(cmdline, LCG_PARAM);
  if (at == NULL) return 0;
  at += strlen(LCG_PARAM);
  at[strcspn(at, " \n")] = '\0';
  unsigned long long s;
  if (sscanf(at, "%llu,%u", &s, threads) != 2 || *threads == 0 || *threads > LCG_MAX_THREADS) {
    say("lcg: cannot parse %s%s (STEPS,THREADS with 1 <= THREADS <= %d)", LCG_PARAM, at, LCG_MAX_THREADS);
    return -1;
  }
  *steps = s;
  return 1;
}

/*
 * How long LCG mode lets the system settle before it starts timing. Loading the modules leaves the kernel work to
 * do after an RCU grace period: a kworker frees each module's init sections page by page, restoring the linear
 * map's permissions with a TLB flush per page. Timed at once, the threads shared their harts with that work in
 * some runs and not in others: 56 to 147 ms for the same 20 M steps on the emulated hart, 35 ms against 32 ms on
 * QEMU. The benchmark measures the threads' own work.
 */
#define LCG_SETTLE_NS (300 * 1000 * 1000)

static void lcg_mode(uint64_t steps, unsigned threads) {
  static struct lcg_job jobs[LCG_MAX_THREADS];
  struct timespec t0, t1;
  struct timespec settle = {0, LCG_SETTLE_NS};
  while (nanosleep(&settle, &settle) != 0 && errno == EINTR) {
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned started = 0;
  for (unsigned i = 0; i < threads; i++) {
    jobs[i].seed = i + 1;
    jobs[i].steps = steps;
    int err = pthread_create(&jobs[i].thread, NULL, lcg_run, &jobs[i]);
    if (err != 0) {
      say("lcg: pthread_create %u: %s (WRONG)", i, strerror(err));
      break;
    }
    started++;
  }
  uint64_t sum = 0;
  for (unsigned i = 0; i < started; i++) {
    pthread_join(jobs[i].thread, NULL);
    sum += jobs[i].result;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  say("lcg: %u threads x %llu steps in %lld us, sum=0x%016llx", started, (unsigned long long)steps,
      (long long)((ns_of(&t1) - ns_of(&t0)) / 1000), (unsigned long long)sum);
}

static void net_mode(const struct net_params *p) {
  if (net_up(p) != 0) return;
  net_ping(p);
  net_transfer(p);
}

int main(void) {
  ensure_console();
  say("hello from init (pid %d)", (int)getpid());

  mount_or_say("proc", "/proc", "proc");
  mount_or_say("sysfs", "/sys", "sysfs");
  mount_or_say("devtmpfs", "/dev", "devtmpfs");
  load_modules();

  uint64_t lcg_steps;
  unsigned lcg_threads;
  int lcg = lcg_params(&lcg_steps, &lcg_threads);
  if (lcg != 0) {
    if (lcg > 0) lcg_mode(lcg_steps, lcg_threads);
    say("powering off");
    sync();
    reboot(RB_POWER_OFF);
    say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
    return 1;
  }

  struct net_params net;
  int mode = net_params(&net);
  if (mode != 0) {
    if (mode > 0) net_mode(&net);
    say("powering off");
    sync();
    reboot(RB_POWER_OFF);
    say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
    return 1;
  }

  check_time();
  check_hwrng();
  const char *cpuinfo = read_cpuinfo();
  say("cpus=%d", count_cpus(cpuinfo));
  say_isa(cpuinfo);
  workload();

  say("powering off");
  sync();
  reboot(RB_POWER_OFF);
  /* Only reached if the kernel could not power off (no SRST, no syscon-poweroff): say so, then let PID 1 exit. */
  say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
  return 1;
}
