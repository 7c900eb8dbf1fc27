/*
 * hello: the default guest of `bun run axvisor`. Prints a greeting through the UART, does some real work (counts
 * and sums the primes below 10000 with a sieve, checksums a text with FNV-1a) and checks its own answers, writes
 * 123 to the boot timer, and shuts down with SBI SRST (shutdown, reason none; reason "system failure" if a check
 * failed).
 */
#include "guest.h"

#define PRIME_LIMIT 10000
#define PRIME_COUNT_EXPECTED 1229 /* pi(10000) */
#define PRIME_SUM_EXPECTED 5736396UL
#define FNV1A_OFFSET 0xcbf29ce484222325UL
#define FNV1A_PRIME 0x100000001b3UL

static u8 composite[PRIME_LIMIT];

static u64 fnv1a(const char *s) {
  u64 hash = FNV1A_OFFSET;
  while (*s != 0) {
    hash ^= (u8)*s++;
    hash *= FNV1A_PRIME;
  }
  return hash;
}

int main(u64 hartid, u64 dtb) {
  console_puts("Hello from an axvisor-ts guest on RISC-V!\n");
  console_puts("hello: hart ");
  console_put_dec(hartid);
  console_puts(", device tree at ");
  console_put_hex(dtb);
  console_puts("\n");

  u64 count = 0;
  u64 sum = 0;
  for (u64 n = 2; n < PRIME_LIMIT; n++) {
    if (composite[n]) continue;
    count++;
    sum += n;
    for (u64 m = n * n; m < PRIME_LIMIT; m += n) composite[m] = 1;
  }
  console_puts("hello: ");
  console_put_dec(count);
  console_puts(" primes below 10000, sum ");
  console_put_dec(sum);
  console_puts("\n");

  const char *text = "axvisor-ts";
  u64 hash = fnv1a(text);
  console_puts("hello: fnv1a(\"axvisor-ts\") = ");
  console_put_hex(hash);
  console_puts("\n");

  int failed = count != PRIME_COUNT_EXPECTED || sum != PRIME_SUM_EXPECTED || fnv1a("") != FNV1A_OFFSET;
  mmio_write8(BOOT_TIMER_BASE, BOOT_TIMER_INIT_REACHED);
  console_puts(failed ? "hello: FAILED\n" : "hello: done\n");
  shutdown(failed);
}
