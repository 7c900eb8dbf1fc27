/*
 * A extension on RV64 (one hart): LR/SC and every AMO in its .W and .D forms.
 * - AMOs return the old memory value in rd (the .W forms sign-extend the 32-bit value) and store op(old, rs2);
 *   the .W forms compare/operate on 32 bits only and leave the neighbouring word alone; rd = x0 still updates.
 * - SC writes 0 on success and a non-zero code on failure; it fails without a valid reservation, and every SC,
 *   successful or not, invalidates the reservation (so a second SC fails); LR.W sign-extends.
 * Unprivileged spec chapter 8 "A" (8.2 LR/SC, 8.4 AMOs). Conditions left to the implementation (reservation set
 * size, whether xRET clears the reservation, misaligned AMOs) are not tested.
 */
#include "isa-test.h"

  .option norvc

/* AMO on a word whose neighbour holds a sentinel: rd and both words are checked. */
.macro TEST_AMO_W n, op, init, src, rd_expected, mem_expected
  TEST \n
  la a1, amo_w
  li a0, \init
  sw a0, 0(a1)
  li a0, 0x5a5a5a5a
  sw a0, 4(a1)
  li a2, \src
  \op a0, a2, (a1)
  CHECK a0, \rd_expected
  lwu a0, 0(a1)
  CHECK a0, \mem_expected
  lwu a0, 4(a1)
  CHECK a0, 0x5a5a5a5a
.endm

.macro TEST_AMO_D n, op, init, src, rd_expected, mem_expected
  TEST \n
  la a1, amo_d
  li a0, \init
  sd a0, 0(a1)
  li a2, \src
  \op a0, a2, (a1)
  CHECK a0, \rd_expected
  ld a0, 0(a1)
  CHECK a0, \mem_expected
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_A

  TEST_AMO_W 1, amoswap.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x0000ffff
  TEST_AMO_W 2, amoadd.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x80010000
  TEST_AMO_W 3, amoadd.w, 0xffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x00000000 /* carry dropped */
  TEST_AMO_W 4, amoxor.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x8000fffe
  TEST_AMO_W 5, amoand.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x00000001
  TEST_AMO_W 6, amoor.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x8000ffff
  TEST_AMO_W 7, amomin.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x80000001
  TEST_AMO_W 8, amomin.w, 0x00000001, 0x00000000fffffffe, 0x0000000000000001, 0xfffffffe /* -2 < 1 in 32 bits */
  TEST_AMO_W 9, amomax.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x0000ffff
  TEST_AMO_W 10, amomax.w, 0x00000001, 0x00000000fffffffe, 0x0000000000000001, 0x00000001
  TEST_AMO_W 11, amominu.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x0000ffff
  TEST_AMO_W 12, amomaxu.w, 0x80000001, 0xffffffff0000ffff, 0xffffffff80000001, 0x80000001
  TEST_AMO_W 13, amomaxu.w, 0x80000000, 0x0000000100000001, 0xffffffff80000000, 0x80000000 /* upper bits ignored */
  TEST_AMO_W 14, amominu.w, 0x00000002, 0x0000000100000001, 0x0000000000000002, 0x00000001

  TEST_AMO_D 15, amoswap.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x00000000ffffffff
  TEST_AMO_D 16, amoadd.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x8000000100000000
  TEST_AMO_D 17, amoxor.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x80000000fffffffe
  TEST_AMO_D 18, amoand.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x0000000000000001
  TEST_AMO_D 19, amoor.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x80000000ffffffff
  TEST_AMO_D 20, amomin.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x8000000000000001
  TEST_AMO_D 21, amomax.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x00000000ffffffff
  TEST_AMO_D 22, amominu.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x00000000ffffffff
  TEST_AMO_D 23, amomaxu.d, 0x8000000000000001, 0x00000000ffffffff, 0x8000000000000001, 0x8000000000000001
  TEST_AMO_D 24, amomin.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff
  TEST_AMO_D 25, amominu.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0x0000000000000001

  /* ordering bits do not change the result; rd = x0 still writes memory */
  TEST_AMO_W 26, amoadd.w.aqrl, 0x00000010, 0x0000000000000020, 0x0000000000000010, 0x00000030
  TEST_AMO_D 27, amoswap.d.aq, 0x1111111111111111, 0x2222222222222222, 0x1111111111111111, 0x2222222222222222
  TEST 28
  la a1, amo_d
  li a0, 40
  sd a0, 0(a1)
  li a2, 2
  amoadd.d.rl x0, a2, (a1)
  ld a0, 0(a1)
  CHECK a0, 42

  /* LR/SC success: rd = 0, memory written */
  TEST 29
  la a1, amo_d
  li a0, 0x0123456789abcdef
  sd a0, 0(a1)
  lr.d a0, (a1)
  CHECK a0, 0x0123456789abcdef
  li a2, 0x1122334455667788
  sc.d a3, a2, (a1)
  CHECK a3, 0
  ld a0, 0(a1)
  CHECK a0, 0x1122334455667788

  /* the reservation is gone after the SC: a second SC fails and does not write */
  TEST 30
  li a2, 0x7777777777777777
  sc.d a3, a2, (a1)
  beqz a3, fail_30
  ld a0, 0(a1)
  CHECK a0, 0x1122334455667788

  /* LR.W sign-extends; SC.W success writes 4 bytes only */
  TEST 31
  la a1, amo_w
  li a0, 0x80000000
  sw a0, 0(a1)
  li a0, 0x5a5a5a5a
  sw a0, 4(a1)
  lr.w a0, (a1)
  CHECK a0, 0xffffffff80000000
  li a2, 0xabcdef0012345678
  sc.w a3, a2, (a1)
  CHECK a3, 0
  ld a0, 0(a1)
  CHECK a0, 0x5a5a5a5a12345678

  /* SC.W without a reservation (the previous SC consumed it) fails */
  TEST 32
  li a2, 0x99
  sc.w a3, a2, (a1)
  beqz a3, fail_32
  lwu a0, 0(a1)
  CHECK a0, 0x12345678

  /* LR; SC succeeds; an SC right after it fails (no LR in between) and writes nothing */
  TEST 33
  lr.w a0, (a1)
  sc.w a3, a2, (a1)         /* succeeds */
  CHECK a3, 0
  sc.w a3, a0, (a1)         /* fails: no reservation */
  beqz a3, fail_33
  lwu a0, 0(a1)
  CHECK a0, 0x99

  /* a loop built on LR/SC makes progress (the constrained-loop forward-progress guarantee, 8.3) */
  TEST 34
  la a1, amo_d
  sd zero, 0(a1)
  li a4, 100
1:
  lr.d a0, (a1)
  addi a0, a0, 3
  sc.d a3, a0, (a1)
  bnez a3, 1b
  addi a4, a4, -1
  bnez a4, 1b
  ld a0, 0(a1)
  CHECK a0, 300

  TEST_PASS

fail_30:
fail_32:
fail_33:
  FAIL
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 8
amo_w:
  .dword 0
amo_d:
  .dword 0
TEST_DATA_END
