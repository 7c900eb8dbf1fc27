/*
 * F extension on RV64, hand-picked cases (unprivileged spec 20191213, chapter 11 and the NaN-boxing rules of
 * 12.2): arithmetic and flags in the rounding modes where they differ, subnormals and tininess after rounding,
 * canonical and signalling NaNs, FMIN/FMAX (2019), comparisons, FCLASS, the FCVT table (11.4) with RV64's
 * sign-extension of 32-bit results, FMV.X.W / FMV.W.X, and NaN-boxing: every single-precision result is written
 * with the upper 32 bits all ones, an operand that is not so boxed reads as the canonical NaN, while FLW/FSW and
 * the FMV transfers move raw bits. Operands are loaded and results read as whole registers (FMV.D.X/FMV.X.D),
 * so this program needs D too.
 */
#include "isa-test.h"
#include "fp-test.h"

  .option norvc

#define BOX 0xffffffff00000000
#define ONE (BOX | 0x3f800000)
#define TWO (BOX | 0x40000000)
#define THREE (BOX | 0x40400000)
#define MINUS_ONE (BOX | 0xbf800000)
#define PZERO (BOX | 0x00000000)
#define NZERO (BOX | 0x80000000)
#define PINF (BOX | 0x7f800000)
#define NINF (BOX | 0xff800000)
#define SMAX (BOX | 0x7f7fffff)
#define SMIN_NORMAL (BOX | 0x00800000)
#define SMIN_SUB (BOX | 0x00000001)
#define QNAN (BOX | 0x7fc00000) /* the canonical NaN */
#define QNAN_PAYLOAD (BOX | 0x7fc00123)
#define SNAN (BOX | 0x7f800123)
#define NSNAN (BOX | 0xffa00001)

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_F | MISA_D

  /* ---- FADD / FSUB ---- */
  FP_OP 1, BOX | 0x40200000, ONE, 0, BOX | 0x40600000, 0, fadd.s f3, f1, f2, rne /* 2.5 + 1 = 3.5 */
  FP_OP 2, BOX | 0xc49a6333, BOX | 0x3f8ccccd, 0, BOX | 0xc49a4000, FFLAG_NX, fadd.s f3, f1, f2, rne
  FP_OP 3, BOX | 0x40490fdb, BOX | 0x322bcc77, 0, BOX | 0x40490fdb, FFLAG_NX, fadd.s f3, f1, f2, dyn
  /* 1 + 2^-24 is a tie */
  FP_OP 4, ONE, BOX | 0x33800000, 0, ONE, FFLAG_NX, fadd.s f3, f1, f2, rne
  FP_OP 5, ONE, BOX | 0x33800000, 0, BOX | 0x3f800001, FFLAG_NX, fadd.s f3, f1, f2, rmm
  FP_OP 6, ONE, BOX | 0x33800000, 0, BOX | 0x3f800001, FFLAG_NX, fadd.s f3, f1, f2, rup
  FP_OP 7, ONE, BOX | 0x33800000, 0, ONE, FFLAG_NX, fadd.s f3, f1, f2, rdn
  FP_OP 8, BOX | 0x3f800001, BOX | 0x33800000, 0, BOX | 0x3f800002, FFLAG_NX, fadd.s f3, f1, f2, rne
  FP_OP 9, MINUS_ONE, BOX | 0xb3800000, 0, BOX | 0xbf800001, FFLAG_NX, fadd.s f3, f1, f2, rdn
  FP_OP 10, MINUS_ONE, BOX | 0xb3800000, 0, MINUS_ONE, FFLAG_NX, fadd.s f3, f1, f2, rtz
  /* a tiny addend far below the rounding position still makes the result inexact and moves directed modes */
  FP_OP 11, ONE, SMIN_SUB, 0, ONE, FFLAG_NX, fadd.s f3, f1, f2, rne
  FP_OP 12, ONE, SMIN_SUB, 0, BOX | 0x3f800001, FFLAG_NX, fadd.s f3, f1, f2, rup
  FP_OP 13, ONE, BOX | 0x80000001, 0, BOX | 0x3f7fffff, FFLAG_NX, fadd.s f3, f1, f2, rtz
  /* exact zero sums */
  FP_OP 14, TWO, BOX | 0xc0000000, 0, PZERO, 0, fadd.s f3, f1, f2, rne
  FP_OP 15, TWO, BOX | 0xc0000000, 0, NZERO, 0, fadd.s f3, f1, f2, rdn
  FP_OP 16, NZERO, NZERO, 0, NZERO, 0, fadd.s f3, f1, f2, rne
  FP_OP 17, PZERO, PZERO, 0, NZERO, 0, fsub.s f3, f1, f2, rdn
  /* overflow */
  FP_OP 18, SMAX, SMAX, 0, PINF, FFLAG_OF | FFLAG_NX, fadd.s f3, f1, f2, rne
  FP_OP 19, SMAX, SMAX, 0, SMAX, FFLAG_OF | FFLAG_NX, fadd.s f3, f1, f2, rtz
  FP_OP 20, BOX | 0xff7fffff, BOX | 0xff7fffff, 0, BOX | 0xff7fffff, FFLAG_OF | FFLAG_NX, fadd.s f3, f1, f2, rup
  FP_OP 21, BOX | 0xff7fffff, BOX | 0xff7fffff, 0, NINF, FFLAG_OF | FFLAG_NX, fadd.s f3, f1, f2, rdn
  /* NaNs */
  FP_OP 22, PINF, NINF, 0, QNAN, FFLAG_NV, fadd.s f3, f1, f2, rne
  FP_OP 23, QNAN_PAYLOAD, ONE, 0, QNAN, 0, fadd.s f3, f1, f2, rne
  FP_OP 24, ONE, SNAN, 0, QNAN, FFLAG_NV, fsub.s f3, f1, f2, rne
  FP_OP 25, PINF, PINF, 0, QNAN, FFLAG_NV, fsub.s f3, f1, f2, rne

  /* ---- NaN-boxing: an operand whose upper half is not all ones is the canonical (quiet) NaN ---- */
  FP_OP 26, 0x000000003f800000, ONE, 0, QNAN, 0, fadd.s f3, f1, f2, rne
  FP_OP 27, ONE, 0xfffffffe3f800000, 0, QNAN, 0, fmul.s f3, f1, f2, rne
  /* even a signalling pattern underneath is not signalling once unboxed */
  FP_OP 28, 0x7fffffff7f800001, ONE, 0, QNAN, 0, fadd.s f3, f1, f2, rne
  /* a boxed double register: f1 = 1.0 as binary64 */
  FP_OP 29, 0x3ff0000000000000, ONE, 0, QNAN, 0, fadd.s f3, f1, f2, rne

  /* ---- FMUL ---- */
  FP_OP 30, BOX | 0xc49a6333, BOX | 0xbf8ccccd, 0, BOX | 0x44a9d385, FFLAG_NX, fmul.s f3, f1, f2, rne
  FP_OP 31, SMAX, TWO, 0, PINF, FFLAG_OF | FFLAG_NX, fmul.s f3, f1, f2, rne
  FP_OP 32, PZERO, NINF, 0, QNAN, FFLAG_NV, fmul.s f3, f1, f2, rne
  FP_OP 33, SMIN_SUB, BOX | 0x3f000000, 0, PZERO, FFLAG_UF | FFLAG_NX, fmul.s f3, f1, f2, rne
  FP_OP 34, SMIN_SUB, BOX | 0x3f000000, 0, SMIN_SUB, FFLAG_UF | FFLAG_NX, fmul.s f3, f1, f2, rmm
  /* 2^-126 · (1 - 2^-24): rounds up to 2^-126 but is tiny after rounding with an unbounded exponent */
  FP_OP 35, SMIN_NORMAL, BOX | 0x3f7fffff, 0, SMIN_NORMAL, FFLAG_UF | FFLAG_NX, fmul.s f3, f1, f2, rne
  FP_OP 36, SMIN_NORMAL, BOX | 0x3f000000, 0, BOX | 0x00400000, 0, fmul.s f3, f1, f2, rne

  /* ---- FDIV / FSQRT ---- */
  FP_OP 37, ONE, THREE, 0, BOX | 0x3eaaaaab, FFLAG_NX, fdiv.s f3, f1, f2, rne
  FP_OP 38, ONE, THREE, 0, BOX | 0x3eaaaaaa, FFLAG_NX, fdiv.s f3, f1, f2, rtz
  FP_OP 39, MINUS_ONE, THREE, 0, BOX | 0xbeaaaaab, FFLAG_NX, fdiv.s f3, f1, f2, rdn
  FP_OP 40, ONE, NZERO, 0, NINF, FFLAG_DZ, fdiv.s f3, f1, f2, rne
  FP_OP 41, NZERO, PZERO, 0, QNAN, FFLAG_NV, fdiv.s f3, f1, f2, rne
  FP_OP 42, TWO, 0, 0, BOX | 0x3fb504f3, FFLAG_NX, fsqrt.s f3, f1, rne
  FP_OP 43, TWO, 0, 0, BOX | 0x3fb504f4, FFLAG_NX, fsqrt.s f3, f1, rup
  FP_OP 44, BOX | 0x40490fdb, 0, 0, BOX | 0x3fe2dfc5, FFLAG_NX, fsqrt.s f3, f1, rne /* √π */
  FP_OP 45, BOX | 0x41800000, 0, 0, BOX | 0x40800000, 0, fsqrt.s f3, f1, rne /* √16 */
  FP_OP 46, MINUS_ONE, 0, 0, QNAN, FFLAG_NV, fsqrt.s f3, f1, rne
  FP_OP 47, NZERO, 0, 0, NZERO, 0, fsqrt.s f3, f1, rne

  /* ---- fused multiply-add ---- */
  FP_OP 48, ONE, BOX | 0x40200000, ONE, BOX | 0x40600000, 0, fmadd.s f3, f1, f2, f4, rne
  FP_OP 49, ONE, BOX | 0x40200000, ONE, BOX | 0xc0600000, 0, fnmadd.s f3, f1, f2, f4, rne
  FP_OP 50, ONE, BOX | 0x40200000, ONE, BOX | 0x3fc00000, 0, fmsub.s f3, f1, f2, f4, rne
  FP_OP 51, ONE, BOX | 0x40200000, ONE, BOX | 0xbfc00000, 0, fnmsub.s f3, f1, f2, f4, rne
  /* (1 + 2^-12)(1 - 2^-12) - 1 = -2^-24 exactly */
  FP_OP 52, BOX | 0x3f800800, BOX | 0x3f7ff000, MINUS_ONE, BOX | 0xb3800000, 0, fmadd.s f3, f1, f2, f4, rne
  FP_OP 53, PINF, PZERO, QNAN_PAYLOAD, QNAN, FFLAG_NV, fmadd.s f3, f1, f2, f4, rne
  FP_OP 54, ONE, ONE, ONE, NZERO, 0, fmsub.s f3, f1, f2, f4, rdn
  /* an unboxed addend is the canonical NaN */
  FP_OP 55, ONE, ONE, 0x3f800000, QNAN, 0, fmadd.s f3, f1, f2, f4, rne

  /* ---- FMIN / FMAX ---- */
  FP_OP 56, NZERO, PZERO, 0, NZERO, 0, fmin.s f3, f1, f2
  FP_OP 57, NZERO, PZERO, 0, PZERO, 0, fmax.s f3, f1, f2
  FP_OP 58, QNAN_PAYLOAD, ONE, 0, ONE, 0, fmin.s f3, f1, f2
  FP_OP 59, SNAN, MINUS_ONE, 0, MINUS_ONE, FFLAG_NV, fmax.s f3, f1, f2
  FP_OP 60, SNAN, QNAN_PAYLOAD, 0, QNAN, FFLAG_NV, fmax.s f3, f1, f2
  FP_OP 61, 0x3f800000, TWO, 0, TWO, 0, fmin.s f3, f1, f2 /* unboxed: a (quiet) NaN, so the other */

  /* ---- FEQ / FLT / FLE ---- */
  FP_OP_TO_X 62, ONE, ONE, 1, 0, feq.s a0, f1, f2
  FP_OP_TO_X 63, NZERO, PZERO, 1, 0, fle.s a0, f1, f2
  FP_OP_TO_X 64, NZERO, PZERO, 0, 0, flt.s a0, f1, f2
  FP_OP_TO_X 65, QNAN_PAYLOAD, ONE, 0, 0, feq.s a0, f1, f2
  FP_OP_TO_X 66, SNAN, ONE, 0, FFLAG_NV, feq.s a0, f1, f2
  FP_OP_TO_X 67, ONE, QNAN_PAYLOAD, 0, FFLAG_NV, flt.s a0, f1, f2
  FP_OP_TO_X 68, 0x3f800000, ONE, 0, 0, feq.s a0, f1, f2
  FP_OP_TO_X 69, 0x3f800000, ONE, 0, FFLAG_NV, fle.s a0, f1, f2

  /* ---- FCLASS ---- */
  FP_OP_TO_X 70, NINF, 0, 1 << 0, 0, fclass.s a0, f1
  FP_OP_TO_X 71, MINUS_ONE, 0, 1 << 1, 0, fclass.s a0, f1
  FP_OP_TO_X 72, BOX | 0x807fffff, 0, 1 << 2, 0, fclass.s a0, f1
  FP_OP_TO_X 73, NZERO, 0, 1 << 3, 0, fclass.s a0, f1
  FP_OP_TO_X 74, PZERO, 0, 1 << 4, 0, fclass.s a0, f1
  FP_OP_TO_X 75, SMIN_SUB, 0, 1 << 5, 0, fclass.s a0, f1
  FP_OP_TO_X 76, SMIN_NORMAL, 0, 1 << 6, 0, fclass.s a0, f1
  FP_OP_TO_X 77, PINF, 0, 1 << 7, 0, fclass.s a0, f1
  FP_OP_TO_X 78, NSNAN, 0, 1 << 8, 0, fclass.s a0, f1
  FP_OP_TO_X 79, QNAN_PAYLOAD, 0, 1 << 9, 0, fclass.s a0, f1
  FP_OP_TO_X 80, 0x00000000ff800000, 0, 1 << 9, 0, fclass.s a0, f1 /* unboxed -∞ is the canonical NaN */

  /* ---- FCVT to integers ---- */
  FP_OP_TO_X 81, BOX | 0x4079999a, 0, 3, FFLAG_NX, fcvt.w.s a0, f1, rtz /* 3.9 */
  FP_OP_TO_X 82, BOX | 0xc079999a, 0, -4, FFLAG_NX, fcvt.w.s a0, f1, rdn
  FP_OP_TO_X 83, BOX | 0xc0200000, 0, -2, FFLAG_NX, fcvt.w.s a0, f1, rne /* -2.5 */
  FP_OP_TO_X 84, BOX | 0xc0200000, 0, -3, FFLAG_NX, fcvt.w.s a0, f1, rmm
  FP_OP_TO_X 85, BOX | 0x4f000000, 0, 0x7fffffff, FFLAG_NV, fcvt.w.s a0, f1, rtz /* 2^31 */
  FP_OP_TO_X 86, BOX | 0xcf000000, 0, 0xffffffff80000000, 0, fcvt.w.s a0, f1, rtz /* -2^31 */
  FP_OP_TO_X 87, QNAN, 0, 0x7fffffff, FFLAG_NV, fcvt.w.s a0, f1, rtz
  FP_OP_TO_X 88, 0x000000003f800000, 0, 0x7fffffff, FFLAG_NV, fcvt.w.s a0, f1, rtz /* unboxed: NaN */
  FP_OP_TO_X 89, NINF, 0, 0xffffffff80000000, FFLAG_NV, fcvt.w.s a0, f1, rtz
  FP_OP_TO_X 90, BOX | 0x4f7fffff, 0, 0xffffffffffffff00, 0, fcvt.wu.s a0, f1, rtz /* 2^32 - 256, sign-extended */
  FP_OP_TO_X 91, BOX | 0x4f800000, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.wu.s a0, f1, rtz /* 2^32 */
  FP_OP_TO_X 92, BOX | 0xbf000000, 0, 0, FFLAG_NX, fcvt.wu.s a0, f1, rtz /* -0.5 */
  FP_OP_TO_X 93, BOX | 0xbf000000, 0, 0, FFLAG_NV, fcvt.wu.s a0, f1, rdn /* -0.5 rounds to -1 */
  FP_OP_TO_X 94, NINF, 0, 0, FFLAG_NV, fcvt.wu.s a0, f1, rtz
  FP_OP_TO_X 95, QNAN, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.wu.s a0, f1, rtz
  FP_OP_TO_X 96, BOX | 0x5f000000, 0, 0x7fffffffffffffff, FFLAG_NV, fcvt.l.s a0, f1, rtz /* 2^63 */
  FP_OP_TO_X 97, BOX | 0xdf000000, 0, 0x8000000000000000, 0, fcvt.l.s a0, f1, rtz /* -2^63 */
  FP_OP_TO_X 98, QNAN, 0, 0x7fffffffffffffff, FFLAG_NV, fcvt.l.s a0, f1, rtz
  FP_OP_TO_X 99, BOX | 0x5f800000, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.lu.s a0, f1, rtz /* 2^64 */
  FP_OP_TO_X 100, BOX | 0x5f7fffff, 0, 0xffffff0000000000, 0, fcvt.lu.s a0, f1, rtz
  FP_OP_TO_X 101, MINUS_ONE, 0, 0, FFLAG_NV, fcvt.lu.s a0, f1, rtz

  /* ---- FCVT from integers: results NaN-boxed ---- */
  FP_OP_X_TO_F 102, 0x12345678ffffffff, MINUS_ONE, 0, fcvt.s.w f3, a1, rne
  FP_OP_X_TO_F 103, 0x12345678ffffffff, BOX | 0x4f800000, FFLAG_NX, fcvt.s.wu f3, a1, rne
  FP_OP_X_TO_F 104, 0x12345678ffffffff, BOX | 0x4f7fffff, FFLAG_NX, fcvt.s.wu f3, a1, rtz
  FP_OP_X_TO_F 105, 0x0000000001000001, BOX | 0x4b800000, FFLAG_NX, fcvt.s.l f3, a1, rne /* 2^24 + 1: tie */
  FP_OP_X_TO_F 106, 0x0000000001000001, BOX | 0x4b800001, FFLAG_NX, fcvt.s.l f3, a1, rmm
  /* 2^60 + 2^36 + 1: just above a tie; rounding to binary64 first would make it a tie and lose the 1 */
  FP_OP_X_TO_F 107, 0x1000001000000001, BOX | 0x5d800001, FFLAG_NX, fcvt.s.l f3, a1, rne
  FP_OP_X_TO_F 108, 0x1000001000000000, BOX | 0x5d800000, FFLAG_NX, fcvt.s.l f3, a1, rne
  FP_OP_X_TO_F 109, 0xffffffffffffffff, BOX | 0x5f800000, FFLAG_NX, fcvt.s.lu f3, a1, rne
  FP_OP_X_TO_F 110, 0xffffffffffffffff, MINUS_ONE, 0, fcvt.s.l f3, a1, rne

  /* ---- transfers move raw bits: FMV.X.W sign-extends bit 31 and ignores the box; FMV.W.X boxes ---- */
  TEST 111
  li a1, 0x123456789abcdef0
  fmv.d.x f5, a1
  fmv.x.w a0, f5
  CHECK a0, 0xffffffff9abcdef0
  li a1, 0xffffffff7f800001 /* a signalling NaN stays as it is */
  fmv.d.x f5, a1
  fmv.x.w a0, f5
  CHECK a0, 0x000000007f800001
  csrr t0, fflags
  CHECK t0, 0
  TEST 112
  li a1, 0x0123456780000001
  fmv.w.x f6, a1
  fmv.x.d a0, f6
  CHECK a0, 0xffffffff80000001

  /* ---- sign injection: bit-exact on boxed operands; an unboxed operand is the canonical NaN ---- */
  FP_OP 113, SNAN, MINUS_ONE, 0, BOX | 0xff800123, 0, fsgnj.s f3, f1, f2
  FP_OP 114, ONE, MINUS_ONE, 0, ONE, 0, fsgnjn.s f3, f1, f2
  FP_OP 115, MINUS_ONE, MINUS_ONE, 0, ONE, 0, fsgnjx.s f3, f1, f2
  FP_OP 116, 0x00000000bf800000, MINUS_ONE, 0, BOX | 0xffc00000, 0, fsgnj.s f3, f1, f2
  FP_OP 117, MINUS_ONE, 0x00000000bf800000, 0, MINUS_ONE, 0, fsgnjx.s f3, f1, f2 /* canonical NaN: sign + (raw bits would flip it) */
  FP_OP 118, MINUS_ONE, 0, 0, ONE, 0, fabs.s f3, f1
  FP_OP 119, ONE, 0, 0, MINUS_ONE, 0, fneg.s f3, f1

  /* ---- FLW boxes, FSW stores the low word whatever the upper half holds ---- */
  TEST 120
  la a2, fp_data
  flw f7, 0(a2)
  fmv.x.d a0, f7
  CHECK a0, 0xffffffff7f800123
  li a1, 0x0123456789abcdef
  fmv.d.x f8, a1
  fsw f8, 8(a2)
  lwu a0, 8(a2)
  CHECK a0, 0x89abcdef
  lwu a0, 12(a2)
  CHECK a0, 0
  csrr t0, fflags
  CHECK t0, 0

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 8
fp_data:
  .word 0x7f800123, 0x55555555
  .dword 0
TEST_DATA_END
