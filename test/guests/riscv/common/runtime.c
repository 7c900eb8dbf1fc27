/* Console, shutdown, traps and the few C library functions the compiler may call. */
#include "guest.h"

static volatile u32 console_lock_word;

void console_lock(void) {
  while (__atomic_exchange_n(&console_lock_word, 1, __ATOMIC_ACQUIRE) != 0) {
  }
}

void console_unlock(void) { __atomic_store_n(&console_lock_word, 0, __ATOMIC_RELEASE); }

void console_putc(char c) {
  /* Poll LSR.THRE before each byte: the UART may still be sending the previous one. */
  while ((mmio_read8(UART_BASE + UART_LSR) & UART_LSR_THRE) == 0) {
  }
  mmio_write8(UART_BASE + UART_THR, (u8)c);
}

void console_puts(const char *s) {
  while (*s != 0) {
    if (*s == '\n') console_putc('\r');
    console_putc(*s++);
  }
}

void console_put_hex(u64 value) {
  console_puts("0x");
  for (int shift = 60; shift >= 0; shift -= 4) {
    console_putc("0123456789abcdef"[(value >> shift) & 0xf]);
  }
}

void console_put_dec(u64 value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) console_putc(digits[--n]);
}

void console_put_i64(i64 value) {
  if (value < 0) {
    console_putc('-');
    console_put_dec(0 - (u64)value);
  } else {
    console_put_dec((u64)value);
  }
}

void sbi_system_reset(unsigned long type, unsigned long reason) {
  sbi_call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, type, reason, 0, 0, 0, 0);
  /* SRST returned: the VMM refused. Nothing else can end the run; wait here. */
  for (;;) wfi();
}

void shutdown(int failed) {
  sbi_system_reset(SBI_SRST_TYPE_SHUTDOWN, failed ? SBI_SRST_REASON_SYSTEM_FAILURE : SBI_SRST_REASON_NONE);
}

extern void trap_vector(void);

void trap_init(void) { csr_write(stvec, (u64)trap_vector); }

/* A guest that does not expect traps reports any trap as a failure. */
__attribute__((weak)) u64 handle_trap(u64 scause, u64 sepc, u64 stval) {
  console_lock();
  console_puts("guest: unexpected trap scause=");
  console_put_hex(scause);
  console_puts(" sepc=");
  console_put_hex(sepc);
  console_puts(" stval=");
  console_put_hex(stval);
  console_puts("\n");
  console_unlock();
  shutdown(1);
}

/* A guest without a secondary_main does not start other harts; if one is started anyway it just stops. */
__attribute__((weak)) void secondary_main(u64 hartid, u64 opaque) {
  (void)hartid;
  (void)opaque;
}

void *memset(void *dst, int c, unsigned long n) {
  u8 *d = dst;
  while (n-- > 0) *d++ = (u8)c;
  return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n) {
  u8 *d = dst;
  const u8 *s = src;
  while (n-- > 0) *d++ = *s++;
  return dst;
}
