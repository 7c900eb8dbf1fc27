/*
 * hypercall: one axvisor hypercall (SBI extension 0x485643 "HVC", function 0x10, arguments a0..a5 =
 * 0x11, 0x22, 0x33, 0x44, 0x55, 0x66), prints what came back in a0/a1, and shuts down with SRST reason 0.
 * The VMM sees it as a Hypercall exit (nr = the function id, args = a0..a5); what it answers is its business.
 */
#include "guest.h"

#define HYPERCALL_NR 0x10UL

int main(u64 hartid, u64 dtb) {
  (void)hartid;
  (void)dtb;
  console_puts("hypercall: nr 0x10, args 0x11 0x22 0x33 0x44 0x55 0x66\n");
  struct sbiret r = sbi_call(SBI_EXT_AXVISOR_HYPERCALL, HYPERCALL_NR, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66);
  console_puts("hypercall: returned error ");
  console_put_i64(r.error);
  console_puts(" value ");
  console_put_hex((u64)r.value);
  console_puts("\n");
  shutdown(0);
}
