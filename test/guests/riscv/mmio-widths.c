/*
 * mmio-widths: MMIO loads and stores of every width against the axvisor test device at 0x0f00_0000.
 * Bytes 0..0x7ff read as the pattern byte[k] = (k * 7 + 0x81) & 0xff at any width, little-endian; 0x800..0xfff
 * are scratch memory. Each load instruction (lb lbu lh lhu lw lwu ld, c.lw, c.ld) reads several aligned offsets
 * (patterns with the top bit set and clear, so sign extension shows) through a non-zero immediate, and the
 * register is compared with the value computed from the formula. Stores of each width (sb sh sw sd, c.sw, c.sd)
 * go to the scratch area and are read back at other widths. Prints "mmio-widths: ok" or the first failing
 * check, then SRST shutdown with reason 0 (pass) or 1 (fail).
 */
#include "guest.h"

/* The value a `width`-byte load at pattern offset `off` must give, sign-extended or not. */
static u64 pattern_value(u64 off, unsigned width, int is_signed) {
  u64 value = 0;
  for (unsigned i = 0; i < width; i++) value |= (u64)TESTDEV_PATTERN_BYTE(off + i) << (8 * i);
  if (is_signed && width < 8) {
    unsigned shift = 64 - 8 * width;
    value = (u64)((i64)(value << shift) >> shift);
  }
  return value;
}

static int failures;

static void check(const char *what, u64 off, u64 got, u64 expected) {
  if (got == expected || failures > 0) {
    if (got != expected) failures++;
    return;
  }
  failures++;
  console_puts("mmio-widths: FAIL ");
  console_puts(what);
  console_puts(" at offset ");
  console_put_hex(off);
  console_puts(": read ");
  console_put_hex(got);
  console_puts(", expected ");
  console_put_hex(expected);
  console_puts("\n");
}

/* One function per load instruction, each with the immediate 8 so the decoded offset matters. */
#define LOAD_FN(name, insn)                                                                                        \
  static u64 name(u64 addr) {                                                                                      \
    u64 value;                                                                                                     \
    asm volatile(".option push\n.option norvc\n" insn " %0, 8(%1)\n.option pop" : "=r"(value) : "r"(addr - 8) : "memory"); \
    return value;                                                                                                  \
  }
LOAD_FN(load_lb, "lb")
LOAD_FN(load_lbu, "lbu")
LOAD_FN(load_lh, "lh")
LOAD_FN(load_lhu, "lhu")
LOAD_FN(load_lw, "lw")
LOAD_FN(load_lwu, "lwu")
LOAD_FN(load_ld, "ld")

/* Compressed loads need x8..x15: the base in s0, the result in a0. */
static u64 load_c_lw_4(u64 addr) {
  register u64 base asm("s0") = addr - 4;
  register u64 value asm("a0");
  asm volatile("c.lw a0, 4(s0)" : "=r"(value) : "r"(base) : "memory");
  return value;
}
static u64 load_c_lw_124(u64 addr) {
  register u64 base asm("s0") = addr - 124;
  register u64 value asm("a0");
  asm volatile("c.lw a0, 124(s0)" : "=r"(value) : "r"(base) : "memory");
  return value;
}
static u64 load_c_ld_8(u64 addr) {
  register u64 base asm("s0") = addr - 8;
  register u64 value asm("a0");
  asm volatile("c.ld a0, 8(s0)" : "=r"(value) : "r"(base) : "memory");
  return value;
}
static u64 load_c_ld_248(u64 addr) {
  register u64 base asm("s0") = addr - 248;
  register u64 value asm("a0");
  asm volatile("c.ld a0, 248(s0)" : "=r"(value) : "r"(base) : "memory");
  return value;
}

struct load_case {
  const char *name;
  u64 (*load)(u64);
  unsigned width;
  int is_signed;
  u64 offsets[4];
};

/* Offsets: the start, the next aligned slot, one whose top byte is below 0x80 (16..19), the last slot. */
static const struct load_case loads[] = {
    {"lb", load_lb, 1, 1, {0, 1, 19, 0x7ff}},
    {"lbu", load_lbu, 1, 0, {0, 1, 19, 0x7ff}},
    {"lh", load_lh, 2, 1, {0, 2, 18, 0x7fe}},
    {"lhu", load_lhu, 2, 0, {0, 2, 18, 0x7fe}},
    {"lw", load_lw, 4, 1, {0, 4, 16, 0x7fc}},
    {"lwu", load_lwu, 4, 0, {0, 4, 16, 0x7fc}},
    {"ld", load_ld, 8, 0, {0, 8, 16, 0x7f8}},
    {"c.lw (imm 4)", load_c_lw_4, 4, 1, {0, 4, 16, 0x7fc}},
    {"c.lw (imm 124)", load_c_lw_124, 4, 1, {0, 4, 16, 0x7fc}},
    {"c.ld (imm 8)", load_c_ld_8, 8, 0, {0, 8, 16, 0x7f8}},
    {"c.ld (imm 248)", load_c_ld_248, 8, 0, {0, 8, 16, 0x7f8}},
};

static void store_c_sw(u64 addr, u64 value) {
  register u64 base asm("s0") = addr - 8;
  register u64 data asm("a0") = value;
  asm volatile("c.sw a0, 8(s0)" ::"r"(base), "r"(data) : "memory");
}

static void store_c_sd(u64 addr, u64 value) {
  register u64 base asm("s0") = addr - 16;
  register u64 data asm("a0") = value;
  asm volatile("c.sd a0, 16(s0)" ::"r"(base), "r"(data) : "memory");
}

static void check_stores(void) {
  u64 s = TESTDEV_SCRATCH;
  asm volatile("sd %0, 8(%1)" ::"r"(0x1122334455667788UL), "r"(s - 8) : "memory");
  check("sd then ld", 0x800, load_ld(s), 0x1122334455667788UL);
  asm volatile("sb %0, 8(%1)" ::"r"(0xaaUL), "r"(s + 1 - 8) : "memory");
  check("sb then ld", 0x800, load_ld(s), 0x112233445566aa88UL);
  asm volatile("sh %0, 8(%1)" ::"r"(0xbbccUL), "r"(s + 2 - 8) : "memory");
  check("sh then ld", 0x800, load_ld(s), 0x11223344bbccaa88UL);
  asm volatile("sw %0, 8(%1)" ::"r"(0x8899aabbUL), "r"(s + 4 - 8) : "memory");
  check("sw then ld", 0x800, load_ld(s), 0x8899aabbbbccaa88UL);
  check("lb of scratch", 0x801, load_lb(s + 1), 0xffffffffffffffaaUL);
  check("lhu of scratch", 0x802, load_lhu(s + 2), 0xbbccUL);
  check("lw of scratch", 0x804, load_lw(s + 4), 0xffffffff8899aabbUL);
  check("lwu of scratch", 0x804, load_lwu(s + 4), 0x8899aabbUL);

  store_c_sd(s + 0x7f8, 0x0123456789abcdefUL);
  check("c.sd then ld", 0xff8, load_ld(s + 0x7f8), 0x0123456789abcdefUL);
  store_c_sw(s + 0x7f8, 0xfedcba98UL);
  check("c.sw then ld", 0xff8, load_ld(s + 0x7f8), 0x01234567fedcba98UL);
  check("c.lw of scratch", 0xff8, load_c_lw_4(s + 0x7f8), 0xfffffffffedcba98UL);
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  unsigned checks = 0;
  for (unsigned i = 0; i < sizeof loads / sizeof loads[0]; i++) {
    const struct load_case *c = &loads[i];
    for (unsigned j = 0; j < 4; j++) {
      u64 off = c->offsets[j];
      check(c->name, off, c->load(TESTDEV_BASE + off), pattern_value(off, c->width, c->is_signed));
      checks++;
    }
  }
  check_stores();
  checks += 12;
  if (failures == 0) {
    console_puts("mmio-widths: ok (");
    console_put_dec(checks);
    console_puts(" checks)\n");
  }
  shutdown(failures != 0);
}
