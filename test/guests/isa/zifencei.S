/*
 * Zifencei: instruction stores become visible to instruction fetch after FENCE.I on the same hart.
 * The code patched here is executed before the patch (so any decode cache or translated block holds the old
 * instruction), rewritten with ordinary stores (a 32-bit and a 16-bit instruction, and a whole 2-instruction
 * sequence), then FENCE.I, then executed again: the new instructions must run. Without FENCE.I the result is
 * unspecified, so that case is not tested.
 * Unprivileged spec chapter 3 "Zifencei".
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN

  /* 32-bit instruction: `addi a0, zero, 1` becomes `addi a0, zero, 2` */
  TEST 1
  li s0, 0
  li s1, 3                     /* run the patched routine 3 times before the patch */
1:
  call patch_me
  add s0, s0, a0
  addi s1, s1, -1
  bnez s1, 1b
  CHECK s0, 3
  TEST 2
  la a1, patch_me
  la a2, replacement
  lwu a3, 0(a2)
  sw a3, 0(a1)
  fence.i
  call patch_me
  CHECK a0, 2
  call patch_me
  CHECK a0, 2

  /* 16-bit instruction: `c.li a0, 5` becomes `c.li a0, 9` */
  TEST 3
  call patch_c
  CHECK a0, 5
  la a1, patch_c
  la a2, replacement_c
  lhu a3, 0(a2)
  sh a3, 0(a1)
  fence.i
  call patch_c
  CHECK a0, 9

  /* A two-instruction sequence rewritten byte by byte */
  TEST 4
  call patch_seq
  CHECK a0, 0x10
  la a1, patch_seq
  la a2, replacement_seq
  li a4, 8
2:
  lbu a3, 0(a2)
  sb a3, 0(a1)
  addi a1, a1, 1
  addi a2, a2, 1
  addi a4, a4, -1
  bnez a4, 2b
  fence.i
  call patch_seq
  CHECK a0, 0x777

  /* Code written to a data buffer (never executed before) runs after FENCE.I */
  TEST 5
  la a1, code_buffer
  la a2, replacement_seq
  ld a3, 0(a2)
  sd a3, 0(a1)
  la a2, ret_insn
  lwu a3, 0(a2)
  sw a3, 8(a1)
  fence.i
  jalr ra, 0(a1)
  CHECK a0, 0x777

  TEST_PASS

  .balign 4
patch_me:
  addi a0, zero, 1
  ret
replacement:
  addi a0, zero, 2

  .balign 4
patch_c:
  .option push
  .option rvc
  c.li a0, 5
  .option pop
  .hword 0x0001                /* c.nop: keeps the 32-bit ret 4-byte aligned */
  ret
replacement_c:
  .option push
  .option rvc
  c.li a0, 9
  .option pop
  .hword 0x0001

  .balign 4
patch_seq:
  li a0, 0x10
  addi a0, a0, 0
  ret
replacement_seq:
  addi a0, zero, 0x700
  addi a0, a0, 0x77
ret_insn:
  ret
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 16
code_buffer:
  .fill 4, 8, 0
TEST_DATA_END
