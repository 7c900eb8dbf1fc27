/*
 * unmapped: loads from and stores to guest-physical addresses that nothing maps (0x5000_0000, between the
 * devices and RAM, and 0x2_0000_0000, above RAM), at 4- and 8-byte widths. What such an access yields is the
 * VMM's policy (an access to unmapped MMIO never crashes it); the guest only checks that it keeps running,
 * prints what it read, "unmapped: survived", and shuts down with SRST reason 0.
 */
#include "guest.h"

#define UNMAPPED_LOW 0x50000000UL
#define UNMAPPED_HIGH 0x200000000UL

static u64 probe(u64 addr) {
  u64 wide;
  u32 narrow;
  asm volatile("ld %0, 0(%1)" : "=r"(wide) : "r"(addr) : "memory");
  asm volatile("lw %0, 8(%1)" : "=r"(narrow) : "r"(addr) : "memory");
  asm volatile("sd %0, 0(%1)" ::"r"(0x5a5a5a5a5a5a5a5aUL), "r"(addr) : "memory");
  asm volatile("sw %0, 8(%1)" ::"r"(0xa5a5a5a5UL), "r"(addr) : "memory");
  console_puts("unmapped: ");
  console_put_hex(addr);
  console_puts(" read ");
  console_put_hex(wide);
  console_puts(" / ");
  console_put_hex(narrow);
  console_puts("\n");
  return wide;
}

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  probe(UNMAPPED_LOW);
  probe(UNMAPPED_HIGH);
  console_puts("unmapped: survived\n");
  shutdown(0);
}
