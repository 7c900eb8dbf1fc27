/*
 * mmio-widths: loads of every width from the test device's pattern (byte k = (k * 7 + 0x81) & 0xff), zero- and
 * sign-extended to 32 and 64 bits, and stores of every width to its scratch half read back. Each check that fails
 * sets its bit in x20; the guest prints "mmio-widths: ok" or "mmio-widths: FAIL <mask of failed checks>", then
 * powers off.
 */
#include "guest.h"
.global _start

/* CHECK reg, value: bit n of x20 is set when check number n (in source order) fails. */
.set check_number, 0
.macro CHECK reg, value
  ldr x9, =\value
  cmp \reg, x9
  mov x10, #(1 << check_number)
  orr x11, x20, x10
  csel x20, x11, x20, ne
  .set check_number, check_number + 1
.endm

.text
_start:
  mov x20, #0
  ldr x19, =TEST_DEV_BASE
  /* pattern bytes 0..7: 81 88 8f 96 9d a4 ab b2; byte 0x13 is 0x06 (bit 7 clear) */
  ldrb w1, [x19]
  CHECK x1, 0x81
  ldrsb x1, [x19]
  CHECK x1, 0xffffffffffffff81
  ldrsb w1, [x19]
  CHECK x1, 0x00000000ffffff81
  ldrsb x1, [x19, #0x13]
  CHECK x1, 0x6
  ldrh w1, [x19]
  CHECK x1, 0x8881
  ldrsh x1, [x19]
  CHECK x1, 0xffffffffffff8881
  ldrsh w1, [x19]
  CHECK x1, 0x00000000ffff8881
  ldr w1, [x19]
  CHECK x1, 0x968f8881
  ldrsw x1, [x19]
  CHECK x1, 0xffffffff968f8881
  ldr x1, [x19]
  CHECK x1, 0xb2aba49d968f8881
  /* scratch: store each width, read back wider to see exactly which bytes moved */
  add x21, x19, #TEST_DEV_SCRATCH
  str xzr, [x21]
  mov x1, #0xa5
  strb w1, [x21]
  ldr x2, [x21]
  CHECK x2, 0xa5
  ldr x1, =0xbeef
  strh w1, [x21, #2]
  ldr x2, [x21]
  CHECK x2, 0xbeef00a5
  ldr x1, =0xcafef00d
  str w1, [x21, #4]
  ldr x2, [x21]
  CHECK x2, 0xcafef00dbeef00a5
  ldr x1, =0x0123456789abcdef
  str x1, [x21, #8]
  ldr x2, [x21, #8]
  CHECK x2, 0x0123456789abcdef
  ldrsh x2, [x21, #14]
  CHECK x2, 0x0123
  ldrsb x2, [x21, #8]
  CHECK x2, 0xffffffffffffffef

  cbnz x20, 1f
  PRINT msg_ok
  b poweroff
1:
  PRINT msg_fail
  mov x4, x20
  bl puthex
  PRINT msg_nl
  b poweroff

.section .rodata
msg_ok:   .asciz "mmio-widths: ok\n"
msg_fail: .asciz "mmio-widths: FAIL "
msg_nl:   .asciz "\n"
.text
#include "common.S"
