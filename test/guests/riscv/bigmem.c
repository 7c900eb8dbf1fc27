/*
 * bigmem: guest RAM above 2 GiB (run with a 3 GiB region at 0x8000_0000, so RAM ends at 0x1_4000_0000). The
 * emulated hart keeps RAM in JavaScript buffers; offsets past 2^31 must not turn negative in its memory views,
 * TLB or interpreter (they did: "byteOffset cannot be negative" at RAM base + 2 GiB).
 *
 * Checks, each at several offsets into RAM (1 GiB - 8, 2 GiB - 4, 2 GiB, 3 GiB - 8): 64-bit stores and loads
 * read back; a misaligned 8-byte store straddling each GiB boundary reads back byte by byte; an AMO and an LR/SC
 * pair at 3 GiB - 16; the device tree's magic at a1 (the VMM puts it at the top of RAM); and code copied to
 * 2 GiB + 64 KiB runs (instruction fetch and the decode cache above 2 GiB). SRST reason 0 when all held.
 */
#include "guest.h"

#define RAM_BASE 0x80000000UL
#define GIB (1UL << 30)
#define RAM_SIZE (3UL * GIB)
#define FDT_MAGIC_BE 0xedfe0dd0U /* 0xd00dfeed as the guest reads it little-endian */

static int failures;

static void expect(int ok, const char *what, u64 at) {
  if (ok) return;
  failures++;
  console_puts("bigmem: FAIL ");
  console_puts(what);
  console_puts(" at ");
  console_put_hex(at);
  console_puts("\n");
}

/* A position-independent leaf function to copy: returns a0 * 3 + 7 (slli/add/addi/ret, compressed or not). */
static u64 triple_plus_seven(u64 x) __attribute__((noinline, aligned(4)));
static u64 triple_plus_seven(u64 x) { return x * 3 + 7; }

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  const u64 offsets[] = {GIB - 8, 2 * GIB - 8, 2 * GIB, 3 * GIB - 8};
  for (unsigned i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    volatile u64 *p = (volatile u64 *)(RAM_BASE + offsets[i]);
    u64 value = 0x0123456789abcdefUL ^ offsets[i];
    *p = value;
    expect(*p == value, "64-bit store/load", (u64)p);
    volatile u32 *w = (volatile u32 *)p;
    expect(w[1] == (u32)(value >> 32), "32-bit load of the high half", (u64)(w + 1));
  }
  /* Misaligned 8-byte stores across the 1 GiB and 2 GiB boundaries of RAM. */
  for (u64 boundary = GIB; boundary < RAM_SIZE; boundary += GIB) {
    volatile u8 *b = (volatile u8 *)(RAM_BASE + boundary - 3);
    u64 value = 0x1122334455667788UL + boundary;
    asm volatile("sd %0, 0(%1)" ::"r"(value), "r"(b) : "memory");
    for (int k = 0; k < 8; k++) expect(b[k] == (u8)(value >> (8 * k)), "byte of a straddling store", (u64)(b + k));
    u64 back;
    asm volatile("ld %0, 0(%1)" : "=r"(back) : "r"(b) : "memory");
    expect(back == value, "straddling 8-byte load", (u64)b);
  }
  /* Atomics near the top. */
  volatile u64 *a = (volatile u64 *)(RAM_BASE + RAM_SIZE - 16);
  *a = 40;
  u64 old;
  asm volatile("amoadd.d %0, %2, (%1)" : "=r"(old) : "r"(a), "r"(2UL) : "memory");
  expect(old == 40 && *a == 42, "amoadd.d", (u64)a);
  u64 loaded, failed;
  asm volatile("lr.d %0, (%2)\n sc.d %1, %3, (%2)" : "=&r"(loaded), "=&r"(failed) : "r"(a), "r"(99UL) : "memory");
  expect(loaded == 42 && failed == 0 && *a == 99, "lr.d/sc.d", (u64)a);
  /* The device tree the VMM wrote at the top of RAM. */
  expect(dtb >= RAM_BASE + 2 * GIB && *(volatile u32 *)dtb == FDT_MAGIC_BE, "device tree magic", dtb);
  /* Code above 2 GiB. */
  u8 *code = (u8 *)(RAM_BASE + 2 * GIB + 0x10000);
  memcpy(code, (const void *)triple_plus_seven, 64);
  asm volatile("fence.i" ::: "memory");
  u64 (*far)(u64) = (u64 (*)(u64))code;
  expect(far(11) == 40, "code copied above 2 GiB", (u64)code);

  console_puts(failures == 0 ? "bigmem: ok\n" : "bigmem: FAILED\n");
  shutdown(failures != 0);
}
