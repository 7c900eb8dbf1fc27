/*
 * Zicsr: CSRRW/CSRRS/CSRRC and the immediate forms (5-bit zero-extended uimm), the x0 rules and the illegal
 * accesses around them.
 * - CSRRS/CSRRC with rs1 = x0 and CSRRSI/CSRRCI with uimm = 0 do not write: no exception on a read-only CSR.
 * - CSRRW/CSRRWI always write: illegal instruction on a read-only CSR (address bits 11:10 = 0b11), even with
 *   rd = x0 or a zero value.
 * - A CSR above the current privilege (address bits 9:8), or one that does not exist, is an illegal instruction;
 *   mtval holds either zero or the instruction bits (both allowed by the privileged spec 3.1.16; a nonzero mtval
 *   must be exactly the bits).
 * Unprivileged spec chapter 9 "Zicsr", privileged spec 2.1 "CSR Address Mapping Conventions".
 *
 * Left out because QEMU 7.2 differs: CSRRS/CSRRC with rs1 != x0 holding zero on a read-only CSR. Table 9.1 of
 * the unprivileged spec says it writes (so it must trap); QEMU does not trap. It is checked in
 * isa/axvisor/strict-priv.S, which does not run on QEMU.
 */
#include "isa-test.h"

  .option norvc

/* The instruction at `insn_label` must have trapped as illegal with mepc there and mtval 0 or its bits. */
.macro CHECK_ILLEGAL_AT insn_label
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, \insn_label
  LOAD_TRAP a7, m_trap, TR_TVAL
  beqz a7, .Ltval_ok\@
  la a6, \insn_label
  lwu a6, 0(a6)
  CHECK_REG a7, a6
.Ltval_ok\@:
.endm

/* `insn` (one instruction) must raise an illegal-instruction exception (in the current mode). */
.macro TEST_ILLEGAL n, insn:vararg
  TEST \n
  CLEAR_TRAP m_trap
  EXPECT_TRAP .Lresume\@
.Linsn\@:
  \insn
  FAIL
.Lresume\@:
  CHECK_ILLEGAL_AT .Linsn\@
.endm

TEST_CODE_BEGIN

  /* CSRRW: rd = old value, CSR = rs1 */
  TEST 1
  li a1, 0x0123456789abcdef
  csrw sscratch, a1
  li a2, 0xfedcba9876543210
  csrrw a0, sscratch, a2
  CHECK a0, 0x0123456789abcdef
  csrr a0, sscratch
  CHECK a0, 0xfedcba9876543210

  /* CSRRW with rd = rs1: old value read before the write */
  TEST 2
  li a1, 0x55
  csrrw a1, sscratch, a1
  CHECK a1, 0xfedcba9876543210
  csrr a0, sscratch
  CHECK a0, 0x55

  /* CSRRS / CSRRC: set and clear bits of rs1 */
  TEST 3
  li a1, 0xf0f0
  csrw sscratch, a1
  li a2, 0x8000000000000f0f
  csrrs a0, sscratch, a2
  CHECK a0, 0xf0f0
  csrr a0, sscratch
  CHECK a0, 0x800000000000ffff
  li a2, 0x80000000000000ff
  csrrc a0, sscratch, a2
  CHECK a0, 0x800000000000ffff
  csrr a0, sscratch
  CHECK a0, 0xff00

  /* Immediate forms: uimm is 5 bits, zero-extended */
  TEST 4
  csrrwi a0, sscratch, 31
  CHECK a0, 0xff00
  csrr a0, sscratch
  CHECK a0, 31
  csrrci a0, sscratch, 0x11
  CHECK a0, 31
  csrr a0, sscratch
  CHECK a0, 0x0e
  csrrsi a0, sscratch, 0x10
  CHECK a0, 0x0e
  csrr a0, sscratch
  CHECK a0, 0x1e
  csrrwi zero, sscratch, 0
  csrr a0, sscratch
  CHECK a0, 0

  /* rd = x0 still writes */
  TEST 5
  li a1, 77
  csrrw zero, sscratch, a1
  csrr a0, sscratch
  CHECK a0, 77

  /* The M-level scratch register holds its value too (restored: the trap handler uses it) */
  TEST 6
  li a1, 0x1234
  csrrw a2, mscratch, a1
  csrr a0, mscratch
  csrw mscratch, a2
  CHECK a0, 0x1234

  /* Reading read-only CSRs with the non-writing forms does not trap */
  TEST 7
  csrrs a0, mhartid, zero
  CHECK a0, 0
  csrrc a0, mhartid, zero
  CHECK a0, 0
  csrrsi a0, mvendorid, 0
  csrrci a0, marchid, 0
  csrrs a0, mimpid, zero
  csrr a0, misa                /* misa is read/write (WARL) but reading never traps */
  CHECK x0, 0

  /* Writing read-only CSRs traps */
  TEST_ILLEGAL 8, csrrw a0, mhartid, a1
  TEST_ILLEGAL 9, csrrw zero, mvendorid, zero   /* rd = x0 and a zero value: still a write */
  TEST_ILLEGAL 10, csrrwi a0, mhartid, 0        /* CSRRWI writes even with uimm = 0 */
  TEST 11
  li a1, 1
  TEST_ILLEGAL 12, csrrs a0, marchid, a1
  TEST_ILLEGAL 13, csrrsi a0, mimpid, 1
  TEST_ILLEGAL 14, csrrci a0, mhartid, 4
  TEST_ILLEGAL 15, csrrw zero, cycle, zero      /* user counters are read-only (0xC00) */
  TEST_ILLEGAL 16, csrrs zero, time, a1

  /* A CSR number no standard extension allocates, in the custom M range (0x7c0), does not exist here */
  TEST_ILLEGAL 17, csrr a0, 0x7c0
  TEST_ILLEGAL 18, csrrs a0, 0x7c0, zero

  /* Privilege: S-mode cannot touch M CSRs, U-mode cannot touch S CSRs; mstatus.MPP tells where it came from */
  TEST 20
  CLEAR_TRAP m_trap
  ENTER_S 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
3:
  csrr a0, mstatus
  FAIL
2:
  CHECK_ILLEGAL_AT 3b
  LOAD_TRAP a0, m_trap, TR_STATUS
  srli a0, a0, 11
  andi a0, a0, 3
  CHECK a0, PRV_S                  /* mstatus.MPP says where it came from */

  TEST 21
  CLEAR_TRAP m_trap
  ENTER_U 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
3:
  csrr a0, sscratch
  FAIL
2:
  CHECK_ILLEGAL_AT 3b
  LOAD_TRAP a0, m_trap, TR_STATUS
  srli a0, a0, 11
  andi a0, a0, 3
  CHECK a0, PRV_U

  TEST 22                           /* S-mode can use its own CSRs */
  ENTER_S 1f
1:
  li a1, 0x99
  csrw sscratch, a1
  csrr a0, sscratch
  RETURN_TO_M 2f
2:
  CHECK a0, 0x99

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
