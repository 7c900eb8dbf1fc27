/*
 * Macros for the F/D conformance programs in this directory (on top of common/isa-test.h).
 *
 * Operands and results are moved as whole 64-bit register images (FMV.D.X / FMV.X.D), so single-precision tests
 * see NaN-boxing: a binary32 operand is written as 0xffffffff_xxxxxxxx, and a binary32 result must come back
 * boxed the same way. These programs therefore need D as well as F.
 *
 * Register use: f1, f2, f4 operands, f3 result; a1 integer operand, a0 integer result; s0, s1 loop state;
 * t0-t2 scratch. fflags is cleared before each operation and checked after it.
 */
#ifndef AXVISOR_FP_TEST_H
#define AXVISOR_FP_TEST_H

/* fflags bits (unprivileged spec, Table 11.2) */
#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

/* Rounding modes */
#define RM_RNE 0
#define RM_RTZ 1
#define RM_RDN 2
#define RM_RUP 3
#define RM_RMM 4

/* Result kinds of FP_VECTORS */
#define FP_RESULT_F 0 /* the result is f3 */
#define FP_RESULT_X 1 /* the result is a0 */

/* Size of one vector-table entry: a, b, c, expected result, expected fflags (5 dwords). */
#define FP_VECTOR_SIZE 40

#ifdef __ASSEMBLER__

/* Load the 64-bit constant val into FP register freg (clobbers t0). */
.macro FLOAD_IMM freg, val
  li t0, \val
  fmv.d.x \freg, t0
.endm

/* The 64-bit image of freg must equal val, and fflags must equal flags (clobbers t0). */
.macro FCHECK freg, val, flags
  fmv.x.d t0, \freg
  CHECK t0, \val
  csrr t0, fflags
  CHECK t0, \flags
.endm

/*
 * Test n: `insn` (an instruction written with f1, f2, f4 as sources and f3 as destination) with the
 * given operand images must give the image `expected` and exactly the flags `flags`.
 */
.macro FP_OP n, a, b, c, expected, flags, insn:vararg
  TEST \n
  FLOAD_IMM f1, \a
  FLOAD_IMM f2, \b
  FLOAD_IMM f4, \c
  csrwi fflags, 0
  \insn
  FCHECK f3, \expected, \flags
.endm

/* Test n: `insn` writing a0 from FP sources f1/f2 (or an integer a1 for FP destinations, see FP_OP_X_TO_F). */
.macro FP_OP_TO_X n, a, b, expected, flags, insn:vararg
  TEST \n
  FLOAD_IMM f1, \a
  FLOAD_IMM f2, \b
  li a0, 0x5a5a5a5a5a5a5a5a
  csrwi fflags, 0
  \insn
  CHECK a0, \expected
  csrr t0, fflags
  CHECK t0, \flags
.endm

/* Test n: `insn` from the integer a1 = x into f3. */
.macro FP_OP_X_TO_F n, x, expected, flags, insn:vararg
  TEST \n
  li a1, \x
  csrwi fflags, 0
  \insn
  FCHECK f3, \expected, \flags
.endm

/*
 * Test n: run `insn` once per entry of `table` (count entries of FP_VECTOR_SIZE bytes: a, b, c, expected,
 * flags): f1 = a, f2 = b, f4 = c, a1 = a; then the result (f3's image for FP_RESULT_F, a0 for FP_RESULT_X)
 * must equal `expected` and fflags must equal `flags`. On a mismatch the entry's address is left in
 * fp_failed_vector (for a debugger or our emulator's tests) and test n fails.
 */
.macro FP_VECTORS n, kind, table, count, insn:vararg
  TEST \n
  la s0, \table
  li s1, \count
.Lfp_vec_loop\@:
  ld t0, 0(s0)
  fmv.d.x f1, t0
  mv a1, t0
  ld t0, 8(s0)
  fmv.d.x f2, t0
  ld t0, 16(s0)
  fmv.d.x f4, t0
  li a0, 0x5a5a5a5a5a5a5a5a
  fmv.d.x f3, a0
  csrwi fflags, 0
  \insn
  .if \kind == FP_RESULT_F
    fmv.x.d t1, f3
  .else
    mv t1, a0
  .endif
  ld t2, 24(s0)
  bne t1, t2, .Lfp_vec_fail\@
  csrr t1, fflags
  ld t2, 32(s0)
  bne t1, t2, .Lfp_vec_fail\@
  addi s0, s0, FP_VECTOR_SIZE
  addi s1, s1, -1
  bnez s1, .Lfp_vec_loop\@
  j .Lfp_vec_done\@
.Lfp_vec_fail\@:
  la t0, fp_failed_vector
  sd s0, 0(t0)
  FAIL
.Lfp_vec_done\@:
.endm

/*
 * Test n: `insn` must raise an illegal-instruction exception with mepc at it and mtval 0 or its bits, and
 * change neither f3 (preset to a marker) nor fflags (cleared). Clobbers t0, a6, a7.
 */
.macro FP_ILLEGAL n, insn:vararg
  TEST \n
  li t0, 0x5a5a5a5a5a5a5a5a
  fmv.d.x f3, t0
  csrwi fflags, 0
  CLEAR_TRAP m_trap
  EXPECT_TRAP .Lfp_ill_resume\@
.Lfp_ill_insn\@:
  \insn
  FAIL
.Lfp_ill_resume\@:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, .Lfp_ill_insn\@
  LOAD_TRAP a7, m_trap, TR_TVAL
  beqz a7, .Lfp_ill_tval_ok\@
  la a6, .Lfp_ill_insn\@
  lwu a6, 0(a6)
  CHECK_REG a7, a6
.Lfp_ill_tval_ok\@:
  fmv.x.d t0, f3
  CHECK t0, 0x5a5a5a5a5a5a5a5a
  csrr t0, fflags
  CHECK t0, 0
.endm

/*
 * Test n: with mstatus.FS = Off, `insn` must raise an illegal-instruction exception at it (FP registers and
 * fcsr are inaccessible, so nothing else is checked). Clobbers a6, a7.
 */
.macro FP_ILLEGAL_FS_OFF n, insn:vararg
  TEST \n
  CLEAR_TRAP m_trap
  EXPECT_TRAP .Lfp_off_resume\@
.Lfp_off_insn\@:
  \insn
  FAIL
.Lfp_off_resume\@:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, .Lfp_off_insn\@
.endm

/* The failed-vector slot FP_VECTORS writes (emit once in the data section). */
.macro FP_VECTORS_DATA
  .balign 8
  .globl fp_failed_vector
fp_failed_vector:
  .dword 0
.endm

#endif /* __ASSEMBLER__ */
#endif /* AXVISOR_FP_TEST_H */
