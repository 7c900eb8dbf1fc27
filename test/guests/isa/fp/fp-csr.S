/*
 * The floating-point control and status register and the rules around the F/D instructions that are not
 * arithmetic (unprivileged spec 20191213 section 11.2, privileged spec 1.12 section 3.1.6.6):
 * - fcsr = frm (bits 7:5) | fflags (bits 4:0); bits 31:8 read as zero; frm and fflags are views of it.
 * - Flags accrue (OR) until software clears them; a dynamic-rounding instruction uses frm.
 * - A reserved rounding mode (rm 5 or 6, or rm 7 with frm 5-7) is an illegal instruction, also for operations
 *   that never round (FCVT.D.W); instructions without an rm field are unaffected by frm.
 * - fmt 2 (H) and 3 (Q) are not implemented here: illegal.
 * - mstatus.FS = Off makes every F/D instruction and fcsr/frm/fflags access illegal; an instruction that writes
 *   FP state makes FS Dirty (and mstatus.SD set).
 */
#include "isa-test.h"
#include "fp-test.h"

  .option norvc

#define ONE 0x3ff0000000000000
#define THREE 0x4008000000000000

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_F | MISA_D

  /* ---- fcsr, frm, fflags ---- */
  TEST 1
  li a1, 0xff
  csrw fcsr, a1
  csrr a0, fcsr
  CHECK a0, 0xff
  csrr a0, frm
  CHECK a0, 7
  csrr a0, fflags
  CHECK a0, 0x1f
  TEST 2
  li a1, -1
  csrw fcsr, a1
  csrr a0, fcsr
  CHECK a0, 0xff /* bits 31:8 (and above) read as zero */
  TEST 3
  csrw fcsr, zero
  li a1, 0xfd
  csrw frm, a1
  csrr a0, frm
  CHECK a0, 5
  csrr a0, fcsr
  CHECK a0, 0xa0
  li a1, 0xf3
  csrw fflags, a1
  csrr a0, fflags
  CHECK a0, 0x13
  csrr a0, fcsr
  CHECK a0, 0xb3
  TEST 4
  li a1, 0x6a
  fscsr a0, a1 /* swap */
  CHECK a0, 0xb3
  csrr a0, fcsr
  CHECK a0, 0x6a
  li a1, 1
  fsrm a0, a1
  CHECK a0, 3
  fsflags a0, zero
  CHECK a0, 0x0a
  csrr a0, fcsr
  CHECK a0, 0x20
  TEST 5
  csrsi fflags, FFLAG_NV | FFLAG_UF
  csrci fflags, FFLAG_UF
  csrr a0, fflags
  CHECK a0, FFLAG_NV
  csrw fcsr, zero

  /* ---- flags accrue; dynamic rounding follows frm ---- */
  TEST 6
  FLOAD_IMM f1, ONE
  FLOAD_IMM f2, THREE
  fcvt.d.w f5, zero
  fdiv.d f3, f1, f5, rne /* DZ */
  fdiv.d f3, f1, f2, rne /* NX */
  fadd.d f3, f1, f2, rne /* exact: nothing new */
  csrr a0, fflags
  CHECK a0, FFLAG_DZ | FFLAG_NX
  TEST 7
  li a1, RM_RUP
  fsrm a1
  fdiv.d f3, f1, f2 /* dyn */
  fmv.x.d a0, f3
  CHECK a0, 0x3fd5555555555556
  li a1, RM_RTZ
  fsrm a1
  fdiv.d f3, f1, f2, dyn
  fmv.x.d a0, f3
  CHECK a0, 0x3fd5555555555555
  fdiv.d f3, f1, f2, rup /* a static mode overrides frm */
  fmv.x.d a0, f3
  CHECK a0, 0x3fd5555555555556
  csrw fcsr, zero

  /* ---- reserved rounding modes ---- */
  FLOAD_IMM f1, ONE
  FLOAD_IMM f2, THREE
  FP_ILLEGAL 8, .insn r OP_FP, 5, 0x01, f3, f1, f2 /* fadd.d, rm = 5 */
  FP_ILLEGAL 9, .insn r OP_FP, 6, 0x01, f3, f1, f2 /* fadd.d, rm = 6 */
  FP_ILLEGAL 10, .insn r OP_FP, 5, 0x00, f3, f1, f2 /* fadd.s, rm = 5 */
  FP_ILLEGAL 11, .insn r4 MADD, 6, 0x1, f3, f1, f2, f4 /* fmadd.d, rm = 6 */
  li a1, 5
  fsrm a1
  FP_ILLEGAL 12, fadd.d f3, f1, f2, dyn
  li a1, 6
  fsrm a1
  FP_ILLEGAL 13, fsqrt.s f3, f1, dyn
  li a1, 7
  fsrm a1
  FP_ILLEGAL 14, fmadd.d f3, f1, f2, f4, dyn
  FP_ILLEGAL 15, fcvt.w.d a0, f1, dyn
  FP_ILLEGAL 16, .insn r OP_FP, 7, 0x69, f3, a1, x0 /* fcvt.d.w: exact, but rm = dyn with frm = 7 */
  FP_ILLEGAL 17, fcvt.s.d f3, f1, dyn
  /* no rm field: frm does not matter */
  TEST 18
  fsgnj.d f3, f1, f2
  fmin.d f3, f1, f2
  feq.d a0, f1, f2
  fclass.d a0, f1
  fmv.x.d a0, f1
  CHECK a0, ONE
  /* a static mode is fine whatever frm holds */
  fadd.d f3, f1, f2, rne
  fmv.x.d a0, f3
  CHECK a0, 0x4010000000000000
  csrw fcsr, zero

  /* ---- unimplemented formats and encodings ---- */
  FP_ILLEGAL 19, .insn r OP_FP, 0, 0x03, f3, f1, f2 /* fadd.q */
  FP_ILLEGAL 20, .insn r OP_FP, 0, 0x2d, f3, f1, f1 /* fsqrt.d with rs2 = 1 */
  FP_ILLEGAL 21, .insn r OP_FP, 3, 0x11, f3, f1, f2 /* fsgnj.d with funct3 = 3 */
  FP_ILLEGAL 22, .insn r OP_FP, 3, 0x51, a0, f1, f2 /* fcmp.d with funct3 = 3 */
  FP_ILLEGAL 23, .insn r OP_FP, 2, 0x71, a0, f1, f0 /* fmv.x.d / fclass.d with funct3 = 2 */
  FP_ILLEGAL 24, .insn r OP_FP, 0, 0x61, a0, f1, f5 /* fcvt.<int>.d with rs2 = 5 */
  FP_ILLEGAL 25, .insn r OP_FP, 0, 0x21, f3, f1, f2 /* fcvt.d.<fmt> with rs2 = 2 (H) */

  /* ---- mstatus.FS ---- */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  FP_ILLEGAL_FS_OFF 26, fadd.d f3, f1, f2
  FP_ILLEGAL_FS_OFF 27, fmv.x.d a0, f1
  FP_ILLEGAL_FS_OFF 28, fmv.d.x f3, zero
  FP_ILLEGAL_FS_OFF 29, csrr a0, fcsr
  FP_ILLEGAL_FS_OFF 30, csrw fflags, zero
  FP_ILLEGAL_FS_OFF 31, csrr a0, frm
  FP_ILLEGAL_FS_OFF 32, fld f3, 0(sp)
  FP_ILLEGAL_FS_OFF 33, fsw f1, 0(sp)
  FP_ILLEGAL_FS_OFF 34, fmadd.s f3, f1, f2, f4
  FP_ILLEGAL_FS_OFF 35, fcvt.s.w f3, zero
  TEST 36
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  fadd.d f3, f1, f2
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3 /* Dirty */
  srli a1, a0, 63
  CHECK a1, 1 /* SD */
  TEST 37
  /* Clean, then a write of fflags only: Dirty again */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 2 << 13
  csrs mstatus, t0
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 2
  csrwi fflags, FFLAG_NX
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3
  TEST 38
  /* Clean, then an FP load: Dirty */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 2 << 13
  csrs mstatus, t0
  fld f3, 0(sp)
  csrr a0, mstatus
  srli a1, a0, 13
  andi a1, a1, 3
  CHECK a1, 3

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
