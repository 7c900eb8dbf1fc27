/*
 * RV64I integer computation: register-register and register-immediate ALU operations, shifts (64-bit and the
 * W forms, which operate on the low 32 bits and sign-extend the 32-bit result), LUI and AUIPC, and writes to x0.
 * Unprivileged spec, chapters "RV32I Base Integer Instruction Set" 2.4 and "RV64I" 5.2.
 */
#include "isa-test.h"

  .option norvc  /* the base encodings, not their compressed equivalents */

TEST_CODE_BEGIN

  /* ADD / SUB: wrap modulo 2^64 */
  TEST_RR 1, add, 0, 0, 0
  TEST_RR 2, add, 0x0000000100000000, 0x00000000ffffffff, 1
  TEST_RR 3, add, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RR 4, add, 0, -1, 1
  TEST_RR 5, add, 0xfffffffffffffffe, -1, -1
  TEST_RR 6, sub, 0xffffffffffffffff, 0, 1
  TEST_RR 7, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
  TEST_RR 8, sub, 0x0000000100000001, 0x0000000100000000, -1

  /* SLT / SLTU: signed and unsigned compare */
  TEST_RR 9, slt, 1, -1, 0
  TEST_RR 10, slt, 0, 0, -1
  TEST_RR 11, slt, 1, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 12, slt, 0, 5, 5
  TEST_RR 13, sltu, 0, -1, 0
  TEST_RR 14, sltu, 1, 0, -1
  TEST_RR 15, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 16, sltu, 1, 0x7fffffffffffffff, 0x8000000000000000

  /* Logic */
  TEST_RR 17, xor, 0xf00ff00ff00ff00f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f
  TEST_RR 18, or, 0xff0fff0fff0fff0f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f
  TEST_RR 19, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f

  /* Shifts: 64-bit forms use rs2[5:0] */
  TEST_RR 20, sll, 0x8000000000000000, 1, 63
  TEST_RR 21, sll, 2, 1, 65            /* shift amount 65 & 63 = 1 */
  TEST_RR 22, sll, 0xffffffff00000000, 0xffffffff, 32
  TEST_RR 23, srl, 1, 0x8000000000000000, 63
  TEST_RR 24, srl, 0x00000000ffffffff, 0xffffffffffffffff, 32
  TEST_RR 25, srl, 0x4000000000000000, 0x8000000000000000, 0xffffffffffffff41 /* & 63 = 1 */
  TEST_RR 26, sra, 0xffffffffffffffff, 0x8000000000000000, 63
  TEST_RR 27, sra, 0xffffffffc0000000, 0x8000000000000000, 33
  TEST_RR 28, sra, 0x0000000000000001, 0x4000000000000000, 62

  /* Immediate forms: 12-bit sign-extended immediates */
  TEST_RI 29, addi, 0x0000000000000800, 0x1000, -2048
  TEST_RI 30, addi, 0x00000000000007ff, 0, 2047
  TEST_RI 31, addi, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RI 32, slti, 1, -2049, -2048
  TEST_RI 33, slti, 0, 0, -1
  TEST_RI 34, sltiu, 1, 0, -1           /* -1 sign-extends to 2^64-1 before the unsigned compare */
  TEST_RI 35, sltiu, 0, -1, 2047
  TEST_RI 36, sltiu, 1, 0, 1            /* seqz */
  TEST_RI 37, xori, 0xfffffffffffff0f0, 0x0f0f, -1 /* not */
  TEST_RI 38, xori, 0x0000000000000fff, 0xf0f, 0xf0
  TEST_RI 39, ori, 0xfffffffffffff800, 0, -2048
  TEST_RI 40, andi, 0x0000000012345678, 0x0000000012345678, -1
  TEST_RI 41, andi, 0x0000000000000678, 0xffffffff12345678, 0x7ff
  TEST_RI 42, slli, 0x8000000000000000, 1, 63
  TEST_RI 43, slli, 0x0000012345678000, 0x12345678, 12
  TEST_RI 44, srli, 0x0000000000000001, 0x8000000000000000, 63
  TEST_RI 45, srli, 0x00ffffffffffffff, -1, 8
  TEST_RI 46, srai, 0xffffffffffffffff, 0x8000000000000000, 63
  TEST_RI 47, srai, 0xfff0000000000000, 0x8000000000000000, 11
  TEST_RI 48, srai, 0x0000000000000010, 0x0000000000000100, 4

  /* W forms: operate on the low 32 bits, sign-extend the 32-bit result (the upper source bits are ignored) */
  TEST_RR 49, addw, 0xffffffff80000000, 0x000000007fffffff, 1
  TEST_RR 50, addw, 0, 0xffffffff00000000, 0x1234567800000000
  TEST_RR 51, addw, 0x0000000000000002, 0x1234567800000001, 0xabcdef0000000001
  TEST_RR 52, subw, 0x000000007fffffff, 0xffffffff80000000, 1
  TEST_RR 53, subw, 0xffffffffffffffff, 0x0000000100000000, 1
  TEST_RR 54, sllw, 0xffffffff80000000, 1, 31
  TEST_RR 55, sllw, 0x0000000000000002, 1, 33            /* rs2[4:0] = 1 */
  TEST_RR 56, sllw, 0x0000000012345678, 0xabcdef0012345678, 0
  TEST_RR 57, srlw, 0x0000000000000001, 0xffffffff80000000, 31
  TEST_RR 58, srlw, 0xffffffff80000000, 0x0000000080000000, 0 /* shift by 0 still sign-extends */
  TEST_RR 59, srlw, 0x0000000000ffffff, 0x12345678ffffffff, 8
  TEST_RR 60, sraw, 0xffffffffffffffff, 0x0000000080000000, 31
  TEST_RR 61, sraw, 0xfffffffff8000000, 0x0000000080000000, 36 /* rs2[4:0] = 4 */
  TEST_RR 62, sraw, 0x0000000000000001, 0xffffffff40000000, 30
  TEST_RI 63, addiw, 0xffffffff80000000, 0x000000007fffffff, 1
  TEST_RI 64, addiw, 0xffffffffffffffff, 0x1234567800000000, -1
  TEST_RI 65, addiw, 0x000000007fffffff, 0xffffffff7fffffff, 0 /* sext.w */
  TEST_RI 66, slliw, 0xffffffff80000000, 0x0000000000000001, 31
  TEST_RI 67, slliw, 0x0000000034567800, 0xff00000012345678, 8
  TEST_RI 68, srliw, 0x0000000000000001, 0x0000000080000000, 31
  TEST_RI 69, srliw, 0xffffffff80000000, 0x0000000080000000, 0
  TEST_RI 70, srliw, 0x000000000fffffff, 0xffffffffffffffff, 4
  TEST_RI 71, sraiw, 0xffffffffffffffff, 0x0000000080000000, 31
  TEST_RI 72, sraiw, 0xfffffffff8000000, 0x0000000080000000, 4
  TEST_RI 73, sraiw, 0x0000000000000123, 0xffffffff00001234, 4

  /* LUI: imm << 12, sign-extended from bit 31 */
  TEST 74
  lui a0, 0x12345
  CHECK a0, 0x0000000012345000
  TEST 75
  lui a0, 0x80000
  CHECK a0, 0xffffffff80000000
  TEST 76
  lui a0, 0xfffff
  CHECK a0, 0xfffffffffffff000

  /* AUIPC: pc of the auipc + (imm << 12), sign-extended */
  TEST 77
1:
  auipc a0, 0
  la a1, 1b
  CHECK_REG a0, a1
  TEST 78
2:
  auipc a0, 0x1
  la a1, 2b
  li a2, 0x1000
  add a1, a1, a2
  CHECK_REG a0, a1
  TEST 79
3:
  auipc a0, 0xfffff            /* pc - 4096 */
  la a1, 3b
  li a2, -4096
  add a1, a1, a2
  CHECK_REG a0, a1
  TEST 80
4:
  auipc a0, 0x80000            /* pc - 2^31 */
  la a1, 4b
  li a2, 0xffffffff80000000
  add a1, a1, a2
  CHECK_REG a0, a1

  /* x0 ignores writes and reads as zero */
  TEST 81
  li a1, 5
  addi x0, a1, 7
  add x0, a1, a1
  lui x0, 0x12345
  CHECK x0, 0
  TEST 82
  li a1, 0x1234
  add a0, x0, a1
  CHECK a0, 0x1234
  sub a0, x0, a1
  CHECK a0, -0x1234

  /* NOP encodings and HINTs (rd = x0) have no architectural effect */
  TEST 83
  li a0, 42
  nop
  slli x0, a0, 3
  CHECK a0, 42

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
