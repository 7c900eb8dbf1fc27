/*
 * axvisor-specific: details where our hart follows the letter of the privileged spec 1.12 and QEMU 7.2 does not,
 * or where the spec allows a choice and our hart makes the stricter one. Conformance programs elsewhere leave
 * these out with a comment pointing here.
 * - CSRRS/CSRRC with rs1 != x0 holding zero write the CSR (unprivileged spec table 9.1), so on a read-only CSR
 *   they raise an illegal instruction (QEMU 7.2 does not trap);
 * - "If y != M, xRET also sets MPRV = 0" (privileged 3.1.6.1) for MRET and SRET (QEMU 7.2 keeps MPRV);
 * - "mepc[0] is always zero", sepc likewise (3.1.14, 4.1.7): a written bit 0 reads back as 0 (QEMU 7.2 keeps it);
 * - "medeleg[11] is read-only zero" (3.1.8): ECALL from M cannot be delegated (QEMU 7.2 lets the bit be set);
 * - our choices: mtval of an illegal instruction is always the instruction bits (the spec also allows 0), and
 *   instret counts exactly the retired instructions (QEMU counts host ticks).
 *
 * QEMU-SKIP: QEMU 7.2 differs on CSRRS with a zero register, MPRV on xRET, mepc[0] and medeleg[11] (see above)
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S | MISA_U

  TEST 1                        /* CSRRS/CSRRC with a zero-valued register on read-only CSRs */
  li a1, 0
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  csrrs a0, mhartid, a1
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, 2b
  TEST 2
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  csrrc a0, cycle, a1
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION

  TEST 3                        /* mtval = the instruction bits, for several illegal instructions */
  .irp insn, "csrrw a0, mhartid, a1", "unimp", "csrr a0, 0x7c0", "mret"
  CLEAR_TRAP m_trap
  ENTER_S 3f                    /* (mret is only illegal below M; the others are illegal in S too) */
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  \insn
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  la a6, 2b
  lwu a6, 0(a6)
  CHECK_TRAP_REG m_trap, TR_TVAL, a6
  .endr
  TEST 4                        /* a reserved compressed encoding: mtval holds its 16 bits, zero-extended */
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  .hword 0x4002                 /* C.LWSP with rd = x0: reserved */
  .hword 0x0001
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP_ADDR m_trap, TR_EPC, 2b
  CHECK_TRAP m_trap, TR_TVAL, 0x4002

  TEST 5                        /* MRET to S clears MPRV */
  li a0, MSTATUS_MPRV
  csrs mstatus, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  RETURN_TO_M 1f
1:
  LOAD_TRAP a0, m_trap, TR_STATUS
  li a1, MSTATUS_MPRV
  and a0, a0, a1
  CHECK a0, 0

  TEST 6                        /* SRET (executed in M) to U clears MPRV */
  li a0, MSTATUS_MPRV
  csrs mstatus, a0
  li a0, MSTATUS_SPP
  csrc mstatus, a0
  la a0, 3f
  csrw sepc, a0
  CLEAR_TRAP m_trap
  sret
  FAIL
3:
  RETURN_TO_M 1f
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_USER_ECALL
  LOAD_TRAP a0, m_trap, TR_STATUS
  li a1, MSTATUS_MPRV
  and a0, a0, a1
  CHECK a0, 0

  TEST 7                        /* mepc[0] and sepc[0] read as zero */
  csrr a2, mepc
  li a0, 0x80001233
  csrw mepc, a0
  csrr a1, mepc
  csrw mepc, a2
  CHECK a1, 0x80001232
  li a0, 0x80001235
  csrw sepc, a0
  csrr a1, sepc
  CHECK a1, 0x80001234

  TEST 9                        /* medeleg[11] is read-only zero */
  li a0, -1
  csrw medeleg, a0
  csrr a0, medeleg
  csrw medeleg, zero
  li a1, 1 << CAUSE_MACHINE_ECALL
  and a0, a0, a1
  CHECK a0, 0

  TEST 8                        /* instret counts retired instructions exactly: the reads are 11 apart */
  rdinstret a0
  nop
  nop
  nop
  nop
  nop
  nop
  nop
  nop
  nop
  nop
  rdinstret a1
  sub a1, a1, a0
  CHECK a1, 11

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
