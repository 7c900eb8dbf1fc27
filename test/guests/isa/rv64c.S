/*
 * C extension on RV64: every RV64C instruction form (quadrants 0, 1 and 2, including the compressed FP loads and
 * stores of D), written with explicit `c.` mnemonics so each is assembled as 16 bits. Checks the immediate
 * encodings at their extremes (scaled, signed, zero-extended), the 3-bit register fields (x8..x15), sign
 * extension of c.lw / c.addiw / c.subw / c.addw, link = pc + 2 for c.jalr, c.ebreak (cause 3, mepc = its pc), and
 * that the all-zero halfword is an illegal instruction.
 * Unprivileged spec chapter 16 "C" (RVC), table 16.5-16.7 listings.
 */
#include "isa-test.h"

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_C | MISA_D
  mv s11, sp                   /* sp is used as the c.*sp base below; restored at the end */
  la sp, c_stack

  /* --- quadrant 0 ---------------------------------------------------------------------------------------- */
  TEST 1                       /* c.addi4spn: rd' = sp + nzuimm (x4, up to 1020) */
  c.addi4spn a0, sp, 4
  la a1, c_stack + 4
  CHECK_REG a0, a1
  c.addi4spn s1, sp, 1020
  la a1, c_stack + 1020
  CHECK_REG s1, a1

  TEST 2                       /* c.lw sign-extends; c.ld; offsets scaled by 4 / 8 */
  la s0, c_data
  c.lw a0, 0(s0)
  CHECK a0, 0xffffffff89abcdef
  c.lw a1, 4(s0)
  CHECK a1, 0x0000000001234567
  c.lw a2, 124(s0)
  CHECK a2, 0x000000007c7c7c7c
  c.ld a3, 0(s0)
  CHECK a3, 0x0123456789abcdef
  c.ld a4, 248(s0)
  CHECK a4, 0xf8f8f8f8f8f8f8f8

  TEST 3                       /* c.sw / c.sd */
  la a5, c_scratch
  li a0, 0x1111111122222222
  c.sd a0, 8(a5)
  li a1, 0x33333333
  c.sw a1, 12(a5)
  ld a2, 8(a5)
  CHECK a2, 0x3333333322222222
  li a1, 0x44
  c.sw a1, 124(a5)
  lwu a2, 124(a5)
  CHECK a2, 0x44
  c.sd a0, 248(a5)
  ld a2, 248(a5)
  CHECK a2, 0x1111111122222222

  TEST 4                       /* c.fld / c.fsd */
  la s0, c_data
  c.fld fa0, 0(s0)
  fmv.x.d a0, fa0
  CHECK a0, 0x0123456789abcdef
  c.fld fs1, 248(s0)
  fmv.x.d a0, fs1
  CHECK a0, 0xf8f8f8f8f8f8f8f8
  la a5, c_scratch
  c.fsd fa0, 16(a5)
  ld a0, 16(a5)
  CHECK a0, 0x0123456789abcdef

  /* --- quadrant 1 ---------------------------------------------------------------------------------------- */
  TEST 5                       /* c.nop, c.addi (signed 6-bit) */
  li a0, 100
  c.nop
  c.addi a0, 31
  CHECK a0, 131
  c.addi a0, -32
  CHECK a0, 99
  li a0, -1
  c.addi a0, 1
  CHECK a0, 0

  TEST 6                       /* c.addiw: 32-bit add, sign-extended (with 0 it is sext.w) */
  li a0, 0x000000007fffffff
  c.addiw a0, 1
  CHECK a0, 0xffffffff80000000
  li a0, 0x12345678ffffffff
  c.addiw a0, 0
  CHECK a0, 0xffffffffffffffff
  li t0, 0x100000000
  c.addiw t0, -1
  CHECK t0, 0xffffffffffffffff

  TEST 7                       /* c.li: sign-extended 6-bit immediate */
  c.li a0, 31
  CHECK a0, 31
  c.li a0, -32
  CHECK a0, -32
  c.li t2, 0
  CHECK t2, 0

  TEST 8                       /* c.addi16sp: sp += nzimm (x16, -512..496) */
  mv a1, sp
  c.addi16sp sp, -512
  sub a0, a1, sp
  CHECK a0, 512
  c.addi16sp sp, 496
  c.addi16sp sp, 16
  CHECK_REG sp, a1

  TEST 9                       /* c.lui: nzimm << 12, sign-extended from bit 17 */
  c.lui a0, 1
  CHECK a0, 0x1000
  c.lui a0, 31
  CHECK a0, 0x1f000
  c.lui a0, 0xfffe0            /* imm = -32 */
  CHECK a0, 0xfffffffffffe0000
  c.lui t1, 0xfffff            /* imm = -1 */
  CHECK t1, 0xfffffffffffff000

  TEST 10                      /* c.srli / c.srai: 6-bit shift amounts on rd' */
  li a0, 0x8000000000000000
  c.srli a0, 63
  CHECK a0, 1
  li a0, 0x8000000000000000
  c.srli a0, 32
  CHECK a0, 0x80000000
  li a0, 0x8000000000000000
  c.srai a0, 63
  CHECK a0, -1
  li s1, 0x8000000000000000
  c.srai s1, 1
  CHECK s1, 0xc000000000000000

  TEST 11                      /* c.andi: sign-extended 6-bit immediate */
  li a0, 0x123456789abcdeff
  c.andi a0, -32
  CHECK a0, 0x123456789abcdee0
  li a0, 0x123456789abcdeff
  c.andi a0, 31
  CHECK a0, 0x1f
  c.andi a0, 0
  CHECK a0, 0

  TEST 12                      /* c.sub c.xor c.or c.and */
  li a0, 10
  li a1, 15
  c.sub a0, a1
  CHECK a0, -5
  li a2, 0xff00ff00ff00ff00
  li a3, 0x0ff00ff00ff00ff0
  mv a0, a2
  c.xor a0, a3
  CHECK a0, 0xf0f0f0f0f0f0f0f0
  mv a0, a2
  c.or a0, a3
  CHECK a0, 0xfff0fff0fff0fff0
  mv a0, a2
  c.and a0, a3
  CHECK a0, 0x0f000f000f000f00

  TEST 13                      /* c.subw / c.addw: 32-bit, sign-extended */
  li a0, 0x0000000080000000
  li a1, 1
  c.subw a0, a1
  CHECK a0, 0x000000007fffffff
  li a0, 0x7fffffff
  c.addw a0, a1
  CHECK a0, 0xffffffff80000000
  li s0, 0x1234567800000001
  li s1, 0xfedcba9800000002
  c.addw s0, s1
  CHECK s0, 3

  TEST 14                      /* c.j forward and backward */
  li a0, 0
  c.j 2f
1:
  addi a0, a0, 1
  c.j 3f
2:
  c.j 1b
3:
  CHECK a0, 1

  TEST 15                      /* c.beqz / c.bnez on rs1' */
  li a0, 0
  li a1, 0x100000000           /* non-zero only in the upper half */
  c.beqz a1, 9f
  c.bnez a1, 1f
9:
  FAIL
1:
  c.bnez a0, 9b
  c.beqz a0, 2f
  FAIL
2:
  li s0, 0
  c.j 4f
3:
  li s0, 1
  c.j 5f
4:
  c.beqz s0, 3b                /* backward */
  FAIL
5:
  CHECK s0, 1

  /* --- quadrant 2 ---------------------------------------------------------------------------------------- */
  TEST 16                      /* c.slli: 6-bit shift amount, any rd */
  li a0, 1
  c.slli a0, 63
  CHECK a0, 0x8000000000000000
  li t3, 0x12345678
  c.slli t3, 32
  CHECK t3, 0x1234567800000000

  TEST 17                      /* c.lwsp (sign-extends), c.ldsp, c.fldsp */
  la a0, c_data
  mv a2, sp
  mv sp, a0
  c.lwsp a1, 0(sp)
  c.lwsp t0, 252(sp)
  c.ldsp a3, 8(sp)
  c.ldsp a4, 504(sp)
  c.fldsp fa1, 16(sp)
  c.fldsp ft0, 504(sp)
  mv sp, a2
  CHECK a1, 0xffffffff89abcdef
  CHECK t0, 0xfffffffff8f8f8f8
  CHECK a3, 0x0808080808080808
  CHECK a4, 0x0123456789abcdef
  fmv.x.d a0, fa1
  CHECK a0, 0x1010101010101010
  fmv.x.d a0, ft0
  CHECK a0, 0x0123456789abcdef

  TEST 18                      /* c.swsp, c.sdsp, c.fsdsp */
  la a0, c_scratch
  mv a2, sp
  mv sp, a0
  li t0, 0x5555555566666666
  c.sdsp t0, 0(sp)
  li t1, 0x77777777
  c.swsp t1, 4(sp)
  c.sdsp t0, 504(sp)
  c.swsp t1, 252(sp)
  fmv.d.x fa2, t0
  c.fsdsp fa2, 32(sp)
  mv sp, a2
  ld a1, 0(a0)
  CHECK a1, 0x7777777766666666
  ld a1, 504(a0)
  CHECK a1, 0x5555555566666666
  lwu a1, 252(a0)
  CHECK a1, 0x77777777
  ld a1, 32(a0)
  CHECK a1, 0x5555555566666666

  TEST 19                      /* c.mv, c.add (full 5-bit registers) */
  li s2, 0x123456789
  c.mv t3, s2
  CHECK t3, 0x123456789
  li s3, 1
  c.add s3, s2
  CHECK s3, 0x12345678a

  TEST 20                      /* c.jr */
  la a0, 1f
  c.jr a0
  FAIL
1:
  CHECK x0, 0

  TEST 21                      /* c.jalr: ra = pc + 2 */
  la a0, 1f
2:
  c.jalr a0
  FAIL
  .balign 4
1:
  la a1, 2b
  addi a1, a1, 2
  CHECK_REG ra, a1

  TEST 22                      /* c.jalr with rs1 = ra: target from the old ra, then ra = pc + 2 */
  la ra, 1f
3:
  c.jalr ra
  FAIL
  .balign 4
1:
  la a1, 3b
  addi a1, a1, 2
  CHECK_REG ra, a1

  TEST 23                      /* c.ebreak: breakpoint, mepc = address of the c.ebreak */
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  c.ebreak
  FAIL
  .balign 4
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_BREAKPOINT
  CHECK_TRAP_ADDR m_trap, TR_EPC, 2b

  TEST 24                      /* the all-zero halfword is illegal (mtval = 0 whether or not it holds the bits) */
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  .hword 0
  FAIL
  .balign 4
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, 2b
  CHECK_TRAP m_trap, TR_TVAL, 0

  TEST 25                      /* a 32-bit instruction at a 2-byte-aligned address after a compressed one */
  .balign 4
  c.nop
  li a0, 0x12345
  addi a0, a0, 1
  CHECK a0, 0x12346

  mv sp, s11
  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 8
c_data:                         /* offsets 0, 8, 16, ... (each word documented where it is read) */
  .dword 0x0123456789abcdef     /* 0 */
  .dword 0x0808080808080808     /* 8 */
  .dword 0x1010101010101010     /* 16 */
  .fill 12, 8, 0
  .word 0x00000000, 0x7c7c7c7c  /* 120: word at 124 */
  .fill 15, 8, 0
  .dword 0xf8f8f8f8f8f8f8f8     /* 248 (its upper word is the word at 252) */
  .fill 31, 8, 0
  .dword 0x0123456789abcdef     /* 504 */
  .balign 8
c_scratch:
  .fill 64, 8, 0
  .balign 16
  .fill 128, 8, 0
c_stack:
  .fill 160, 8, 0
TEST_DATA_END
