/*
 * RV64I control transfer: conditional branches (taken and not taken, signed and unsigned, forward and backward,
 * equal operands), JAL (link = pc + 4, x0 as link), JALR (target = (rs1 + imm) & ~1, link written after the
 * target is computed so rd == rs1 works).
 * Unprivileged spec 2.5 "Control Transfer Instructions".
 */
#include "isa-test.h"

  .option norvc  /* the base encodings, not their compressed equivalents */

/* Branch `op` with rs1 = a, rs2 = b must be taken (taken = 1) or not (taken = 0); checked both forward and
   backward. */
.macro TEST_BR n, op, taken, a, b
  TEST \n
  li a1, \a
  li a2, \b
  li a0, 0
  \op a1, a2, .Lfwd\@
  li a0, 1                  /* not taken */
.Lfwd\@:
  CHECK a0, 1 - \taken
  /* backward: jump over the target, branch back to it */
  li a0, 0
  j .Lbwd_branch\@
.Lbwd_target\@:
  li a0, 2                  /* taken */
  j .Lbwd_done\@
.Lbwd_branch\@:
  \op a1, a2, .Lbwd_target\@
  li a0, 3                  /* not taken */
.Lbwd_done\@:
  CHECK a0, 3 - \taken
.endm

TEST_CODE_BEGIN

  TEST_BR 1, beq, 1, 0, 0
  TEST_BR 2, beq, 1, -1, -1
  TEST_BR 3, beq, 0, 0, 1
  TEST_BR 4, beq, 0, 0x100000000, 0          /* the upper half counts */
  TEST_BR 5, bne, 1, 0x100000000, 0
  TEST_BR 6, bne, 0, 7, 7
  TEST_BR 7, blt, 1, -1, 0
  TEST_BR 8, blt, 0, 0, -1
  TEST_BR 9, blt, 0, 5, 5
  TEST_BR 10, blt, 1, 0x8000000000000000, 0x7fffffffffffffff
  TEST_BR 11, bge, 1, 5, 5
  TEST_BR 12, bge, 1, 0, -1
  TEST_BR 13, bge, 0, -1, 0
  TEST_BR 14, bge, 0, 0x8000000000000000, 0x7fffffffffffffff
  TEST_BR 15, bltu, 1, 0, -1
  TEST_BR 16, bltu, 0, -1, 0
  TEST_BR 17, bltu, 0, 9, 9
  TEST_BR 18, bltu, 1, 0x7fffffffffffffff, 0x8000000000000000
  TEST_BR 19, bgeu, 1, -1, 0
  TEST_BR 20, bgeu, 0, 0, -1
  TEST_BR 21, bgeu, 1, 9, 9
  TEST_BR 22, bgeu, 0, 0xffffffff, 0x100000000

  /* JAL: rd = pc + 4, target pc-relative */
  TEST 23
  li a0, 0
  jal ra, 1f
  li a0, 1                  /* skipped */
1:
  CHECK a0, 0
2:
  jal a1, 3f
3:
  la a2, 2b
  addi a2, a2, 4
  CHECK_REG a1, a2

  /* JAL with rd = x0 (j) leaves x0 zero */
  TEST 24
  j 1f
  FAIL
1:
  CHECK x0, 0

  /* JAL backwards */
  TEST 25
  li a0, 0
  j 2f
1:
  addi a0, a0, 1
  j 3f
2:
  jal x0, 1b
3:
  CHECK a0, 1

  /* JALR: target = (rs1 + imm) with bit 0 cleared; link = pc + 4 */
  TEST 26
  la a1, 1f
4:
  jalr ra, 0(a1)
  FAIL
1:
  la a2, 4b
  addi a2, a2, 4
  CHECK_REG ra, a2

  TEST 27                   /* odd rs1 + imm: the low bit is cleared, no misaligned-fetch exception */
  la a1, 1f
  addi a1, a1, 1
  jalr zero, 0(a1)
  FAIL
  .balign 4
1:
  CHECK x0, 0

  TEST 28                   /* odd immediate with even base */
  la a1, 1f
  addi a1, a1, -3
  jalr zero, 3(a1)          /* (target - 3) + 3 = target; fine either way */
  FAIL
  .balign 4
1:
  la a1, 2f
  addi a1, a1, -4
  jalr zero, 5(a1)          /* target + 1: bit 0 cleared -> target */
  FAIL
  .balign 4
2:
  CHECK x0, 0

  TEST 29                   /* negative offset */
  la a1, 1f
  addi a1, a1, 16
  jalr zero, -16(a1)
  FAIL
1:
  CHECK x0, 0

  TEST 30                   /* rd == rs1: the target uses the old rs1, then the link is written */
  la a1, 1f
5:
  jalr a1, 0(a1)
  FAIL
1:
  la a2, 5b
  addi a2, a2, 4
  CHECK_REG a1, a2

  TEST 31                   /* call/ret through a subroutine */
  li a0, 10
  call add_five
  CHECK a0, 15
  call add_five
  CHECK a0, 20

  TEST_PASS

add_five:
  addi a0, a0, 5
  ret
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
