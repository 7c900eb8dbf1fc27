/*
 * M extension on RV64: MUL/MULH/MULHSU/MULHU, DIV/DIVU/REM/REMU and the W forms MULW/DIVW/DIVUW/REMW/REMUW,
 * including the cases the spec defines instead of trapping (unprivileged spec 7.2, table "Semantics for division
 * by zero and division overflow"): x/0 gives quotient all ones and remainder x; the most negative number / -1
 * gives quotient = dividend and remainder 0. The W forms use the low 32 bits and sign-extend the 32-bit result.
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_M

  /* MUL: low 64 bits */
  TEST_RR 1, mul, 0, 0, 12345
  TEST_RR 2, mul, 0x0000000000000006, 2, 3
  TEST_RR 3, mul, 0xfffffffffffffffa, -2, 3
  TEST_RR 4, mul, 0x0000000000000001, -1, -1
  TEST_RR 5, mul, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 6, mul, 0xfffffffe00000001, 0xffffffff, 0xffffffff
  TEST_RR 7, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321

  /* MULH (signed x signed), MULHSU (signed x unsigned), MULHU (unsigned x unsigned): high 64 bits */
  TEST_RR 8, mulh, 0, 2, 3
  TEST_RR 9, mulh, 0xffffffffffffffff, -2, 3
  TEST_RR 10, mulh, 0, -1, -1
  TEST_RR 11, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 12, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 13, mulh, 0x014b66dc33f6acdc, 0x123456789abcdef0, 0x123456789abcdef0
  TEST_RR 14, mulhsu, 0xffffffffffffffff, -1, 1
  TEST_RR 15, mulhsu, 0xffffffffffffffff, -1, -1     /* -1 * (2^64 - 1) = -(2^64) + 1: high half all ones */
  TEST_RR 16, mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 17, mulhsu, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x8000000000000000
  TEST_RR 18, mulhu, 0xfffffffffffffffe, -1, -1
  TEST_RR 19, mulhu, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 20, mulhu, 0, 0xffffffff, 0xffffffff
  TEST_RR 21, mulhu, 0x0121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321

  /* DIV / DIVU: round towards zero */
  TEST_RR 22, div, 3, 20, 6
  TEST_RR 23, div, 0xfffffffffffffffd, -20, 6
  TEST_RR 24, div, 0xfffffffffffffffd, 20, -6
  TEST_RR 25, div, 3, -20, -6
  TEST_RR 26, divu, 3, 20, 6
  TEST_RR 27, divu, 0x2aaaaaaaaaaaaaa7, -20, 6
  TEST_RR 28, divu, 0, 20, -6
  /* REM / REMU: the sign of the remainder follows the dividend */
  TEST_RR 29, rem, 2, 20, 6
  TEST_RR 30, rem, 0xfffffffffffffffe, -20, 6
  TEST_RR 31, rem, 2, 20, -6
  TEST_RR 32, rem, 0xfffffffffffffffe, -20, -6
  TEST_RR 33, remu, 2, 20, 6
  TEST_RR 34, remu, 2, -20, 6                        /* (2^64 - 20) mod 6 = 2 */
  TEST_RR 35, remu, 20, 20, -6

  /* divide by zero */
  TEST_RR 36, div, 0xffffffffffffffff, 7, 0
  TEST_RR 37, div, 0xffffffffffffffff, -7, 0
  TEST_RR 38, divu, 0xffffffffffffffff, 7, 0
  TEST_RR 39, rem, 7, 7, 0
  TEST_RR 40, rem, 0xfffffffffffffff9, -7, 0
  TEST_RR 41, remu, 0xfffffffffffffff9, -7, 0
  TEST_RR 42, div, 0xffffffffffffffff, 0, 0
  TEST_RR 43, rem, 0, 0, 0
  /* signed overflow: -2^63 / -1 */
  TEST_RR 44, div, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 45, rem, 0, 0x8000000000000000, -1
  TEST_RR 46, divu, 0, 0x8000000000000000, -1
  TEST_RR 47, remu, 0x8000000000000000, 0x8000000000000000, -1

  /* MULW: low 32 bits of the product, sign-extended; upper source bits ignored */
  TEST_RR 48, mulw, 0x0000000000000006, 0xffffffff00000002, 0x1234567800000003
  TEST_RR 49, mulw, 0xffffffff80000000, 0x40000000, 2
  TEST_RR 50, mulw, 0x0000000000000001, 0xffffffff, 0xffffffff
  TEST_RR 51, mulw, 0, 0x10000, 0x10000
  /* DIVW / DIVUW / REMW / REMUW */
  TEST_RR 52, divw, 0xfffffffffffffffd, 0x00000000ffffffec, 6 /* -20 / 6 in 32 bits */
  TEST_RR 53, divw, 3, 0xffffffff00000014, 0x0000000100000006
  TEST_RR 54, divuw, 0x000000002aaaaaa7, 0x00000000ffffffec, 6
  TEST_RR 55, divuw, 0xfffffffffffffffe, 0xfffffffe, 1       /* 0xfffffffe / 1 sign-extends */
  TEST_RR 56, remw, 0xfffffffffffffffe, 0x00000000ffffffec, 6
  TEST_RR 57, remuw, 2, 0x00000000ffffffec, 6
  TEST_RR 58, remuw, 0xffffffff80000000, 0x80000000, 0x80000001 /* 32-bit remainder with bit 31 set */
  /* W forms: divide by zero and overflow in 32 bits */
  TEST_RR 59, divw, 0xffffffffffffffff, 5, 0x100000000         /* divisor's low 32 bits are zero */
  TEST_RR 60, divuw, 0xffffffffffffffff, 5, 0
  TEST_RR 61, remw, 0xffffffff80000000, 0x80000000, 0          /* remainder = sign-extended dividend */
  TEST_RR 62, remuw, 0x0000000000000005, 0xffffffff00000005, 0
  TEST_RR 63, divw, 0xffffffff80000000, 0x80000000, -1         /* -2^31 / -1 */
  TEST_RR 64, remw, 0, 0x80000000, -1

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
