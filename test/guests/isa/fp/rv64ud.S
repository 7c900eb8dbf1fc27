/*
 * D extension on RV64, hand-picked cases (unprivileged spec 20191213, chapters 11-12): arithmetic in the rounding
 * modes where they differ, exception flags (NV, DZ, OF, UF with tininess after rounding, NX), signed zeros,
 * canonical NaNs, signalling-NaN handling, a fused multiply-add that only a single rounding gets right, the
 * 2019 FMIN/FMAX semantics, quiet vs signalling comparisons, FCLASS, the FCVT saturation table (11.4),
 * bit-exact moves and sign injection, and FLD/FSD with their compressed forms. The *-vectors programs beside
 * this one sweep the same operations over generated tables.
 */
#include "isa-test.h"
#include "fp-test.h"

  .option norvc

#define ONE 0x3ff0000000000000
#define TWO 0x4000000000000000
#define MINUS_ONE 0xbff0000000000000
#define PZERO 0x0000000000000000
#define NZERO 0x8000000000000000
#define PINF 0x7ff0000000000000
#define NINF 0xfff0000000000000
#define DMAX 0x7fefffffffffffff
#define DMIN_NORMAL 0x0010000000000000
#define DMIN_SUB 0x0000000000000001
#define QNAN 0x7ff8000000000000 /* the canonical NaN */
#define QNAN_PAYLOAD 0x7ff8000000000123
#define SNAN 0x7ff0000000000123
#define NSNAN 0xfff4000000000001

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_F | MISA_D

  /* ---- FADD / FSUB ---- */
  FP_OP 1, 0x4004000000000000, ONE, 0, 0x400c000000000000, 0, fadd.d f3, f1, f2, rne /* 2.5 + 1 = 3.5 */
  FP_OP 2, 0xc0934c6666666666, 0x3ff199999999999a, 0, 0xc093480000000000, FFLAG_NX, fadd.d f3, f1, f2, rne /* -1235.1 + 1.1 */
  FP_OP 3, 0x400921fb53c8d4f1, 0x3e45798ee2308c3a, 0, 0x400921fb55206ddf, FFLAG_NX, fadd.d f3, f1, f2, dyn
  /* 1 + 2^-53 is a tie: even (1) for RNE, away (1 + 2^-52) for RMM and RUP, 1 for RTZ and RDN */
  FP_OP 4, ONE, 0x3ca0000000000000, 0, ONE, FFLAG_NX, fadd.d f3, f1, f2, rne
  FP_OP 5, ONE, 0x3ca0000000000000, 0, 0x3ff0000000000001, FFLAG_NX, fadd.d f3, f1, f2, rmm
  FP_OP 6, ONE, 0x3ca0000000000000, 0, 0x3ff0000000000001, FFLAG_NX, fadd.d f3, f1, f2, rup
  FP_OP 7, ONE, 0x3ca0000000000000, 0, ONE, FFLAG_NX, fadd.d f3, f1, f2, rtz
  /* (1 + 2^-52) + 2^-53 is a tie whose even neighbour is above */
  FP_OP 8, 0x3ff0000000000001, 0x3ca0000000000000, 0, 0x3ff0000000000002, FFLAG_NX, fadd.d f3, f1, f2, rne
  FP_OP 9, 0x3ff0000000000001, 0x3ca0000000000000, 0, 0x3ff0000000000001, FFLAG_NX, fadd.d f3, f1, f2, rdn
  /* -1 - 2^-53: RDN goes away from zero, RUP towards it */
  FP_OP 10, MINUS_ONE, 0xbca0000000000000, 0, 0xbff0000000000001, FFLAG_NX, fadd.d f3, f1, f2, rdn
  FP_OP 11, MINUS_ONE, 0xbca0000000000000, 0, MINUS_ONE, FFLAG_NX, fadd.d f3, f1, f2, rup
  /* exact zero sums: +0, except -0 when rounding down; -0 + -0 = -0 */
  FP_OP 12, TWO, 0xc000000000000000, 0, PZERO, 0, fadd.d f3, f1, f2, rne
  FP_OP 13, TWO, 0xc000000000000000, 0, NZERO, 0, fadd.d f3, f1, f2, rdn
  FP_OP 14, TWO, TWO, 0, PZERO, 0, fsub.d f3, f1, f2, rup
  FP_OP 15, NZERO, NZERO, 0, NZERO, 0, fadd.d f3, f1, f2, rne
  FP_OP 16, PZERO, NZERO, 0, PZERO, 0, fadd.d f3, f1, f2, rne
  FP_OP 17, PZERO, NZERO, 0, NZERO, 0, fadd.d f3, f1, f2, rdn
  FP_OP 18, PZERO, PZERO, 0, NZERO, 0, fsub.d f3, f1, f2, rdn
  /* overflow: infinity to nearest, the largest finite value when rounding towards zero */
  FP_OP 19, DMAX, DMAX, 0, PINF, FFLAG_OF | FFLAG_NX, fadd.d f3, f1, f2, rne
  FP_OP 20, DMAX, DMAX, 0, DMAX, FFLAG_OF | FFLAG_NX, fadd.d f3, f1, f2, rtz
  FP_OP 21, 0xffefffffffffffff, 0xffefffffffffffff, 0, 0xffefffffffffffff, FFLAG_OF | FFLAG_NX, fadd.d f3, f1, f2, rup
  /* MAX + half an ulp: a tie that rounds to infinity (the even side) to nearest, and stays MAX (no overflow)
     when rounding towards zero */
  FP_OP 22, DMAX, 0x7c90000000000000, 0, PINF, FFLAG_OF | FFLAG_NX, fadd.d f3, f1, f2, rne
  FP_OP 23, DMAX, 0x7c90000000000000, 0, DMAX, FFLAG_NX, fadd.d f3, f1, f2, rtz
  /* infinities and NaNs */
  FP_OP 24, PINF, NINF, 0, QNAN, FFLAG_NV, fadd.d f3, f1, f2, rne
  FP_OP 25, PINF, PINF, 0, QNAN, FFLAG_NV, fsub.d f3, f1, f2, rne
  FP_OP 26, PINF, DMAX, 0, PINF, 0, fadd.d f3, f1, f2, rne
  FP_OP 27, QNAN_PAYLOAD, ONE, 0, QNAN, 0, fadd.d f3, f1, f2, rne
  FP_OP 28, ONE, SNAN, 0, QNAN, FFLAG_NV, fadd.d f3, f1, f2, rne
  FP_OP 29, NSNAN, QNAN_PAYLOAD, 0, QNAN, FFLAG_NV, fsub.d f3, f1, f2, rne
  /* subnormal sums are exact */
  FP_OP 30, DMIN_SUB, 0x000ffffffffffffe, 0, 0x000fffffffffffff, 0, fadd.d f3, f1, f2, rne
  FP_OP 31, 0x000fffffffffffff, DMIN_SUB, 0, DMIN_NORMAL, 0, fadd.d f3, f1, f2, rne

  /* ---- FMUL ---- */
  FP_OP 32, 0x4004000000000000, ONE, 0, 0x4004000000000000, 0, fmul.d f3, f1, f2, rne
  FP_OP 33, 0xc0934c6666666666, 0xbff199999999999a, 0, 0x40953a70a3d70a3d, FFLAG_NX, fmul.d f3, f1, f2, rne
  FP_OP 34, PZERO, PINF, 0, QNAN, FFLAG_NV, fmul.d f3, f1, f2, rne
  FP_OP 35, NZERO, TWO, 0, NZERO, 0, fmul.d f3, f1, f2, rne
  FP_OP 36, NINF, NINF, 0, PINF, 0, fmul.d f3, f1, f2, rne
  /* 2^-1074 · 0.5 is a tie between 0 and 2^-1074: 0 (even) to nearest, 2^-1074 rounding up; both underflow */
  FP_OP 37, DMIN_SUB, 0x3fe0000000000000, 0, PZERO, FFLAG_UF | FFLAG_NX, fmul.d f3, f1, f2, rne
  FP_OP 38, DMIN_SUB, 0x3fe0000000000000, 0, DMIN_SUB, FFLAG_UF | FFLAG_NX, fmul.d f3, f1, f2, rup
  FP_OP 39, 0x8000000000000001, 0x3fe0000000000000, 0, NZERO, FFLAG_UF | FFLAG_NX, fmul.d f3, f1, f2, rtz
  /* 2^-1022 · (1 - 2^-53) = 2^-1022 - 2^-1075: rounds to 2^-1022, but with an unbounded exponent it would
     stay below 2^-1022, so it is tiny (tininess after rounding) and underflows */
  FP_OP 40, DMIN_NORMAL, 0x3fefffffffffffff, 0, DMIN_NORMAL, FFLAG_UF | FFLAG_NX, fmul.d f3, f1, f2, rne
  /* an exact subnormal product raises nothing */
  FP_OP 41, DMIN_NORMAL, 0x3fe0000000000000, 0, 0x0008000000000000, 0, fmul.d f3, f1, f2, rne
  FP_OP 42, DMAX, TWO, 0, PINF, FFLAG_OF | FFLAG_NX, fmul.d f3, f1, f2, rmm
  FP_OP 43, DMAX, 0xc000000000000000, 0, 0xffefffffffffffff, FFLAG_OF | FFLAG_NX, fmul.d f3, f1, f2, rup

  /* ---- FDIV ---- */
  FP_OP 44, ONE, 0x4008000000000000, 0, 0x3fd5555555555555, FFLAG_NX, fdiv.d f3, f1, f2, rne
  FP_OP 45, ONE, 0x4008000000000000, 0, 0x3fd5555555555556, FFLAG_NX, fdiv.d f3, f1, f2, rup
  FP_OP 46, MINUS_ONE, 0x4008000000000000, 0, 0xbfd5555555555556, FFLAG_NX, fdiv.d f3, f1, f2, rdn
  FP_OP 47, MINUS_ONE, 0x4008000000000000, 0, 0xbfd5555555555555, FFLAG_NX, fdiv.d f3, f1, f2, rtz
  FP_OP 48, ONE, PZERO, 0, PINF, FFLAG_DZ, fdiv.d f3, f1, f2, rne
  FP_OP 49, ONE, NZERO, 0, NINF, FFLAG_DZ, fdiv.d f3, f1, f2, rne
  FP_OP 50, PZERO, PZERO, 0, QNAN, FFLAG_NV, fdiv.d f3, f1, f2, rne
  FP_OP 51, PINF, PZERO, 0, PINF, 0, fdiv.d f3, f1, f2, rne
  FP_OP 52, PINF, NINF, 0, QNAN, FFLAG_NV, fdiv.d f3, f1, f2, rne
  FP_OP 53, ONE, NINF, 0, NZERO, 0, fdiv.d f3, f1, f2, rne
  FP_OP 54, 0x4014000000000000, 0x4004000000000000, 0, TWO, 0, fdiv.d f3, f1, f2, rne /* 5 / 2.5 */

  /* ---- FSQRT ---- */
  FP_OP 55, TWO, 0, 0, 0x3ff6a09e667f3bcd, FFLAG_NX, fsqrt.d f3, f1, rne
  FP_OP 56, TWO, 0, 0, 0x3ff6a09e667f3bcc, FFLAG_NX, fsqrt.d f3, f1, rtz
  FP_OP 57, 0x4010000000000000, 0, 0, TWO, 0, fsqrt.d f3, f1, rne
  FP_OP 58, MINUS_ONE, 0, 0, QNAN, FFLAG_NV, fsqrt.d f3, f1, rne
  FP_OP 59, NZERO, 0, 0, NZERO, 0, fsqrt.d f3, f1, rne
  FP_OP 60, NINF, 0, 0, QNAN, FFLAG_NV, fsqrt.d f3, f1, rne
  FP_OP 61, PINF, 0, 0, PINF, 0, fsqrt.d f3, f1, rne
  FP_OP 62, DMIN_SUB, 0, 0, 0x1e60000000000000, 0, fsqrt.d f3, f1, rne /* √2^-1074 = 2^-537 */
  FP_OP 63, SNAN, 0, 0, QNAN, FFLAG_NV, fsqrt.d f3, f1, rne

  /* ---- fused multiply-add ---- */
  FP_OP 64, ONE, 0x4004000000000000, ONE, 0x400c000000000000, 0, fmadd.d f3, f1, f2, f4, rne
  FP_OP 65, ONE, 0x4004000000000000, ONE, 0xc00c000000000000, 0, fnmadd.d f3, f1, f2, f4, rne
  FP_OP 66, ONE, 0x4004000000000000, ONE, 0x3ff8000000000000, 0, fmsub.d f3, f1, f2, f4, rne
  FP_OP 67, ONE, 0x4004000000000000, ONE, 0xbff8000000000000, 0, fnmsub.d f3, f1, f2, f4, rne
  /* (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly; a separate multiply would round the product to 1 */
  FP_OP 68, 0x3ff0000000400000, 0x3fefffffff800000, MINUS_ONE, 0xbc30000000000000, 0, fmadd.d f3, f1, f2, f4, rne
  /* ∞·0 is invalid even with a quiet-NaN addend */
  FP_OP 69, PINF, PZERO, QNAN_PAYLOAD, QNAN, FFLAG_NV, fmadd.d f3, f1, f2, f4, rne
  FP_OP 70, ONE, QNAN_PAYLOAD, ONE, QNAN, 0, fmadd.d f3, f1, f2, f4, rne
  FP_OP 71, ONE, ONE, SNAN, QNAN, FFLAG_NV, fmadd.d f3, f1, f2, f4, rne
  FP_OP 72, PINF, ONE, NINF, QNAN, FFLAG_NV, fmadd.d f3, f1, f2, f4, rne
  FP_OP 73, PINF, ONE, PINF, QNAN, FFLAG_NV, fmsub.d f3, f1, f2, f4, rne
  /* signed zeros: (+0·x) + -0 = +0; -(+0·x) - (+0) = -0; exact cancellation gives +0, -0 when rounding down */
  FP_OP 74, PZERO, ONE, NZERO, PZERO, 0, fmadd.d f3, f1, f2, f4, rne
  FP_OP 75, PZERO, ONE, PZERO, NZERO, 0, fnmadd.d f3, f1, f2, f4, rne
  FP_OP 76, ONE, ONE, ONE, PZERO, 0, fmsub.d f3, f1, f2, f4, rne
  FP_OP 77, ONE, ONE, ONE, NZERO, 0, fmsub.d f3, f1, f2, f4, rdn
  FP_OP 78, ONE, ONE, ONE, PZERO, 0, fnmsub.d f3, f1, f2, f4, rup
  /* a product that overflows alone but not with the addend: the single rounding sees the exact sum */
  FP_OP 79, DMAX, TWO, 0xffefffffffffffff, DMAX, 0, fmadd.d f3, f1, f2, f4, rne

  /* ties of the exact sum: 1·1 + 2^-53 */
  FP_OP 178, ONE, ONE, 0x3ca0000000000000, ONE, FFLAG_NX, fmadd.d f3, f1, f2, f4, rne
  FP_OP 179, ONE, ONE, 0x3ca0000000000000, 0x3ff0000000000001, FFLAG_NX, fmadd.d f3, f1, f2, f4, rmm
  FP_OP 180, ONE, ONE, 0x3ca0000000000000, 0xbff0000000000001, FFLAG_NX, fnmadd.d f3, f1, f2, f4, rmm
  /* (1 - 2^-53)·2^-1023 + 2^-1023 = 2^-1022 - 2^-1076: to nearest it rounds to 2^-1022 even with an unbounded
     exponent (a tie, to even), so it is not tiny: NX only. Rounding towards zero it is tiny: UF. */
  FP_OP 181, 0x3fefffffffffffff, 0x0008000000000000, 0x0008000000000000, DMIN_NORMAL, FFLAG_NX, fmadd.d f3, f1, f2, f4, rne
  FP_OP 182, 0x3fefffffffffffff, 0x0008000000000000, 0x0008000000000000, 0x000fffffffffffff, FFLAG_UF | FFLAG_NX, fmadd.d f3, f1, f2, f4, rtz

  /* ---- FMIN / FMAX (2019: a single NaN is ignored; -0 < +0) ---- */
  FP_OP 80, NZERO, PZERO, 0, NZERO, 0, fmin.d f3, f1, f2
  FP_OP 81, PZERO, NZERO, 0, NZERO, 0, fmin.d f3, f1, f2
  FP_OP 82, NZERO, PZERO, 0, PZERO, 0, fmax.d f3, f1, f2
  FP_OP 83, QNAN_PAYLOAD, ONE, 0, ONE, 0, fmin.d f3, f1, f2
  FP_OP 84, MINUS_ONE, QNAN_PAYLOAD, 0, MINUS_ONE, 0, fmax.d f3, f1, f2
  FP_OP 85, SNAN, ONE, 0, ONE, FFLAG_NV, fmax.d f3, f1, f2
  FP_OP 86, QNAN_PAYLOAD, SNAN, 0, QNAN, FFLAG_NV, fmin.d f3, f1, f2
  FP_OP 87, NINF, DMAX, 0, NINF, 0, fmin.d f3, f1, f2
  FP_OP 88, 0x4004000000000000, 0x400c000000000000, 0, 0x400c000000000000, 0, fmax.d f3, f1, f2

  /* ---- FEQ / FLT / FLE: FEQ is quiet, FLT and FLE signal on any NaN ---- */
  FP_OP_TO_X 89, ONE, ONE, 1, 0, feq.d a0, f1, f2
  FP_OP_TO_X 90, NZERO, PZERO, 1, 0, feq.d a0, f1, f2
  FP_OP_TO_X 91, NZERO, PZERO, 0, 0, flt.d a0, f1, f2
  FP_OP_TO_X 92, NZERO, PZERO, 1, 0, fle.d a0, f1, f2
  FP_OP_TO_X 93, QNAN_PAYLOAD, ONE, 0, 0, feq.d a0, f1, f2
  FP_OP_TO_X 94, SNAN, ONE, 0, FFLAG_NV, feq.d a0, f1, f2
  FP_OP_TO_X 95, QNAN_PAYLOAD, ONE, 0, FFLAG_NV, flt.d a0, f1, f2
  FP_OP_TO_X 96, ONE, QNAN_PAYLOAD, 0, FFLAG_NV, fle.d a0, f1, f2
  FP_OP_TO_X 97, QNAN, QNAN, 0, 0, feq.d a0, f1, f2
  FP_OP_TO_X 98, NINF, DMAX, 1, 0, flt.d a0, f1, f2
  FP_OP_TO_X 99, TWO, ONE, 0, 0, fle.d a0, f1, f2

  /* ---- FCLASS: one of ten bits ---- */
  FP_OP_TO_X 100, NINF, 0, 1 << 0, 0, fclass.d a0, f1
  FP_OP_TO_X 101, MINUS_ONE, 0, 1 << 1, 0, fclass.d a0, f1
  FP_OP_TO_X 102, 0x800fffffffffffff, 0, 1 << 2, 0, fclass.d a0, f1
  FP_OP_TO_X 103, NZERO, 0, 1 << 3, 0, fclass.d a0, f1
  FP_OP_TO_X 104, PZERO, 0, 1 << 4, 0, fclass.d a0, f1
  FP_OP_TO_X 105, DMIN_SUB, 0, 1 << 5, 0, fclass.d a0, f1
  FP_OP_TO_X 106, DMIN_NORMAL, 0, 1 << 6, 0, fclass.d a0, f1
  FP_OP_TO_X 107, PINF, 0, 1 << 7, 0, fclass.d a0, f1
  FP_OP_TO_X 108, NSNAN, 0, 1 << 8, 0, fclass.d a0, f1
  FP_OP_TO_X 109, QNAN_PAYLOAD, 0, 1 << 9, 0, fclass.d a0, f1

  /* ---- FCVT to integers (Table 11.4): NV and saturation when out of range or NaN, never NX with NV ---- */
  FP_OP_TO_X 110, 0x400f333333333333, 0, 3, FFLAG_NX, fcvt.w.d a0, f1, rtz /* 3.9 */
  FP_OP_TO_X 111, 0xc00f333333333333, 0, -3, FFLAG_NX, fcvt.w.d a0, f1, rtz
  FP_OP_TO_X 112, 0xc00f333333333333, 0, -4, FFLAG_NX, fcvt.w.d a0, f1, rne
  FP_OP_TO_X 113, 0x4004000000000000, 0, 2, FFLAG_NX, fcvt.w.d a0, f1, rne /* 2.5: tie to even */
  FP_OP_TO_X 114, 0x4004000000000000, 0, 3, FFLAG_NX, fcvt.w.d a0, f1, rmm
  FP_OP_TO_X 115, 0xc004000000000000, 0, -3, FFLAG_NX, fcvt.w.d a0, f1, rmm
  FP_OP_TO_X 116, 0xc004000000000000, 0, -2, FFLAG_NX, fcvt.w.d a0, f1, rup
  FP_OP_TO_X 117, 0x3fe0000000000000, 0, 1, FFLAG_NX, fcvt.w.d a0, f1, rup
  FP_OP_TO_X 118, 0x41e0000000000000, 0, 0x7fffffff, FFLAG_NV, fcvt.w.d a0, f1, rtz /* 2^31 */
  FP_OP_TO_X 119, 0xc1e0000000200000, 0, 0xffffffff80000000, FFLAG_NV, fcvt.w.d a0, f1, rtz /* -2^31 - 1 */
  FP_OP_TO_X 120, 0xc1e0000000000000, 0, 0xffffffff80000000, 0, fcvt.w.d a0, f1, rtz /* -2^31 */
  FP_OP_TO_X 121, 0xc1e00000001fffff, 0, 0xffffffff80000000, FFLAG_NX, fcvt.w.d a0, f1, rtz /* -2^31 - 0.99… */
  FP_OP_TO_X 122, QNAN, 0, 0x7fffffff, FFLAG_NV, fcvt.w.d a0, f1, rtz
  FP_OP_TO_X 123, NSNAN, 0, 0x7fffffff, FFLAG_NV, fcvt.w.d a0, f1, rtz
  FP_OP_TO_X 124, NINF, 0, 0xffffffff80000000, FFLAG_NV, fcvt.w.d a0, f1, rtz
  FP_OP_TO_X 125, PINF, 0, 0x7fffffff, FFLAG_NV, fcvt.w.d a0, f1, rtz
  /* WU: 32-bit results are sign-extended on RV64, so 2^32 - 1 reads as all ones */
  FP_OP_TO_X 126, 0x41efffffffe00000, 0, 0xffffffffffffffff, 0, fcvt.wu.d a0, f1, rtz
  FP_OP_TO_X 127, 0x41e0000000000000, 0, 0xffffffff80000000, 0, fcvt.wu.d a0, f1, rtz /* 2^31 */
  FP_OP_TO_X 128, 0xbfe0000000000000, 0, 0, FFLAG_NX, fcvt.wu.d a0, f1, rtz /* -0.5 rounds to 0: in range */
  FP_OP_TO_X 129, 0xbfe8000000000000, 0, 0, FFLAG_NV, fcvt.wu.d a0, f1, rne /* -0.75 rounds to -1 */
  FP_OP_TO_X 130, MINUS_ONE, 0, 0, FFLAG_NV, fcvt.wu.d a0, f1, rtz
  FP_OP_TO_X 131, QNAN, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.wu.d a0, f1, rtz
  FP_OP_TO_X 132, 0x41f0000000000000, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.wu.d a0, f1, rtz /* 2^32 */
  FP_OP_TO_X 133, 0x43e0000000000000, 0, 0x7fffffffffffffff, FFLAG_NV, fcvt.l.d a0, f1, rtz /* 2^63 */
  FP_OP_TO_X 134, 0xc3e0000000000000, 0, 0x8000000000000000, 0, fcvt.l.d a0, f1, rtz /* -2^63 */
  FP_OP_TO_X 135, 0x43dfffffffffffff, 0, 0x7ffffffffffffc00, 0, fcvt.l.d a0, f1, rtz
  FP_OP_TO_X 136, QNAN, 0, 0x7fffffffffffffff, FFLAG_NV, fcvt.l.d a0, f1, rtz
  FP_OP_TO_X 137, NINF, 0, 0x8000000000000000, FFLAG_NV, fcvt.l.d a0, f1, rtz
  FP_OP_TO_X 138, 0x43f0000000000000, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.lu.d a0, f1, rtz /* 2^64 */
  FP_OP_TO_X 139, 0x43efffffffffffff, 0, 0xfffffffffffff800, 0, fcvt.lu.d a0, f1, rtz
  FP_OP_TO_X 140, MINUS_ONE, 0, 0, FFLAG_NV, fcvt.lu.d a0, f1, rtz
  FP_OP_TO_X 141, QNAN, 0, 0xffffffffffffffff, FFLAG_NV, fcvt.lu.d a0, f1, rtz
  FP_OP_TO_X 142, NZERO, 0, 0, 0, fcvt.lu.d a0, f1, rtz

  /* ---- FCVT from integers ---- */
  FP_OP_X_TO_F 143, 0x12345678ffffffff, MINUS_ONE, 0, fcvt.d.w f3, a1 /* only the low 32 bits count */
  FP_OP_X_TO_F 144, 0x12345678ffffffff, 0x41efffffffe00000, 0, fcvt.d.wu f3, a1
  FP_OP_X_TO_F 145, 0x0020000000000001, 0x4340000000000000, FFLAG_NX, fcvt.d.l f3, a1, rne /* 2^53 + 1: tie */
  FP_OP_X_TO_F 146, 0x0020000000000001, 0x4340000000000001, FFLAG_NX, fcvt.d.l f3, a1, rup
  FP_OP_X_TO_F 147, 0x0020000000000001, 0x4340000000000001, FFLAG_NX, fcvt.d.l f3, a1, rmm
  FP_OP_X_TO_F 148, 0xffdfffffffffffff, 0xc340000000000001, FFLAG_NX, fcvt.d.l f3, a1, rdn /* -(2^53 + 1) */
  FP_OP_X_TO_F 149, 0x8000000000000000, 0xc3e0000000000000, 0, fcvt.d.l f3, a1, rne
  FP_OP_X_TO_F 150, 0xffffffffffffffff, 0x43f0000000000000, FFLAG_NX, fcvt.d.lu f3, a1, rne
  FP_OP_X_TO_F 151, 0xffffffffffffffff, 0x43efffffffffffff, FFLAG_NX, fcvt.d.lu f3, a1, rtz
  FP_OP_X_TO_F 152, 0, PZERO, 0, fcvt.d.l f3, a1, rdn /* integer zero is +0 in every mode */

  /* ---- FCVT.S.D / FCVT.D.S ---- */
  FP_OP 153, 0x3fd5555555555555, 0, 0, 0xffffffff3eaaaaab, FFLAG_NX, fcvt.s.d f3, f1, rne /* 1/3 */
  FP_OP 154, 0x3fd5555555555555, 0, 0, 0xffffffff3eaaaaaa, FFLAG_NX, fcvt.s.d f3, f1, rtz
  FP_OP 155, DMAX, 0, 0, 0xffffffff7f800000, FFLAG_OF | FFLAG_NX, fcvt.s.d f3, f1, rne
  FP_OP 156, DMAX, 0, 0, 0xffffffff7f7fffff, FFLAG_OF | FFLAG_NX, fcvt.s.d f3, f1, rtz
  FP_OP 157, DMIN_SUB, 0, 0, 0xffffffff00000000, FFLAG_UF | FFLAG_NX, fcvt.s.d f3, f1, rne
  FP_OP 158, DMIN_SUB, 0, 0, 0xffffffff00000001, FFLAG_UF | FFLAG_NX, fcvt.s.d f3, f1, rup
  FP_OP 159, 0x36a0000000000000, 0, 0, 0xffffffff00000001, 0, fcvt.s.d f3, f1, rne /* 2^-149 exactly */
  FP_OP 160, SNAN, 0, 0, 0xffffffff7fc00000, FFLAG_NV, fcvt.s.d f3, f1, rne
  FP_OP 161, QNAN_PAYLOAD, 0, 0, 0xffffffff7fc00000, 0, fcvt.s.d f3, f1, rne
  FP_OP 162, NINF, 0, 0, 0xffffffffff800000, 0, fcvt.s.d f3, f1, rne
  FP_OP 163, 0xffffffff3eaaaaab, 0, 0, 0x3fd5555560000000, 0, fcvt.d.s f3, f1
  FP_OP 164, 0xffffffff7f800001, 0, 0, QNAN, FFLAG_NV, fcvt.d.s f3, f1 /* signalling */
  FP_OP 165, 0x000000003f800000, 0, 0, QNAN, 0, fcvt.d.s f3, f1 /* not NaN-boxed: the canonical NaN */
  FP_OP 166, 0xffffffff00000001, 0, 0, 0x36a0000000000000, 0, fcvt.d.s f3, f1 /* subnormal: exact */

  /* ---- moves and sign injection are bit-exact: no canonicalization, no flags ---- */
  TEST 167
  li a1, SNAN
  fmv.d.x f5, a1
  fmv.x.d a0, f5
  CHECK a0, SNAN
  csrr t0, fflags
  CHECK t0, 0
  FP_OP 168, SNAN, ONE, 0, 0x7ff0000000000123, 0, fsgnj.d f3, f1, f2
  FP_OP 169, SNAN, ONE, 0, 0xfff0000000000123, 0, fsgnjn.d f3, f1, f2
  FP_OP 170, NSNAN, MINUS_ONE, 0, 0x7ff4000000000001, 0, fsgnjx.d f3, f1, f2
  FP_OP 171, ONE, NZERO, 0, MINUS_ONE, 0, fsgnj.d f3, f1, f2
  FP_OP 172, MINUS_ONE, MINUS_ONE, 0, ONE, 0, fsgnjx.d f3, f1, f2
  FP_OP 173, MINUS_ONE, 0, 0, ONE, 0, fabs.d f3, f1
  FP_OP 174, ONE, 0, 0, MINUS_ONE, 0, fneg.d f3, f1
  /* rd = rs1 = rs2 */
  TEST 175
  FLOAD_IMM f6, MINUS_ONE
  fsgnjn.d f6, f6, f6
  fmv.x.d a0, f6
  CHECK a0, ONE

  /* ---- FLD / FSD move raw bits (signalling NaNs included) ---- */
  TEST 176
  la a2, fp_data
  fld f7, 0(a2)
  fsd f7, 16(a2)
  ld a0, 16(a2)
  CHECK a0, SNAN
  fld f8, 8(a2)
  fmv.x.d a0, f8
  CHECK a0, 0x0123456789abcdef
  fsd f8, 24(a2)
  ld a0, 24(a2)
  CHECK a0, 0x0123456789abcdef
  csrr t0, fflags
  CHECK t0, 0

  /* compressed forms: C.FLD, C.FSD, C.FLDSP, C.FSDSP */
  TEST 177
  la s0, fp_data
  mv a3, sp
  addi sp, s0, 32
  .option push
  .option rvc
  c.fld fs0, 8(s0)
  c.fsd fs0, 32(s0)
  c.fldsp fs1, 0(sp)
  c.fsdsp fs1, 8(sp)
  .option pop
  mv sp, a3
  ld a0, 40(s0)
  CHECK a0, 0x0123456789abcdef
  fmv.x.d a0, fs1
  CHECK a0, 0x0123456789abcdef

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 8
fp_data:
  .dword SNAN
  .dword 0x0123456789abcdef
  .dword 0, 0, 0, 0
TEST_DATA_END
