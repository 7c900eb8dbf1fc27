/* Runtime of the VS-mode test guests: MMIO and CSR access, the UART console, traps, shutdown. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include "board.h"
#include "sbi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long i64;

#define GUEST_MAX_HARTS 8

/* --- MMIO (volatile, exactly the width asked for) --- */
static inline u8 mmio_read8(u64 addr) { return *(volatile u8 *)addr; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write8(u64 addr, u8 value) { *(volatile u8 *)addr = value; }
static inline void mmio_write32(u64 addr, u32 value) { *(volatile u32 *)addr = value; }

/* --- CSRs --- */
#define csr_read(csr)                                                                                              \
  ({                                                                                                               \
    u64 value_;                                                                                                    \
    asm volatile("csrr %0, " #csr : "=r"(value_));                                                                 \
    value_;                                                                                                        \
  })
#define csr_write(csr, value) asm volatile("csrw " #csr ", %0" ::"r"((u64)(value)))
#define csr_set(csr, bits) asm volatile("csrs " #csr ", %0" ::"r"((u64)(bits)))
#define csr_clear(csr, bits) asm volatile("csrc " #csr ", %0" ::"r"((u64)(bits)))

static inline u64 read_time(void) {
  u64 t;
  asm volatile("rdtime %0" : "=r"(t));
  return t;
}

static inline void wfi(void) { asm volatile("wfi" ::: "memory"); }

/* --- console: the NS16550A, polled (LSR.THRE before each byte); one lock for all harts --- */
void console_putc(char c);
void console_puts(const char *s);
void console_put_hex(u64 value);
void console_put_dec(u64 value);
void console_put_i64(i64 value);
/* Harts print whole lines under this lock so their output does not interleave. */
void console_lock(void);
void console_unlock(void);

/* --- traps: trap.S calls handle_trap(scause, sepc, stval) and resumes at the sepc it returns --- */
void trap_init(void);
u64 handle_trap(u64 scause, u64 sepc, u64 stval);

/* --- end of the run --- */
void shutdown(int failed) __attribute__((noreturn));

/* --- entry points a guest provides (secondary_main is optional) --- */
int main(u64 hartid, u64 dtb);
void secondary_main(u64 hartid, u64 opaque);
/* address of the secondary-hart entry in start.S, for SBI HSM hart_start */
void secondary_entry(void);

void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);

#endif
