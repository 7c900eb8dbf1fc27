/*
 * axvisor-specific: details where our hart follows the letter of the privileged spec 1.12 and QEMU 7.2 does not,
 * or where the spec allows a choice and our hart makes the stricter one. Conformance programs elsewhere leave
 * these out with a comment pointing here.
 * - CSRRS/CSRRC with rs1 != x0 holding zero write the CSR (unprivileged spec table 9.1), so on a read-only CSR
 *   they raise an illegal instruction (QEMU 7.2 does not trap);
 * - "If y != M, xRET also sets MPRV = 0" (privileged 3.1.6.1) for MRET and SRET (QEMU 7.2 keeps MPRV);
 * - "mepc[0] is always zero", sepc likewise (3.1.14, 4.1.7): a written bit 0 reads back as 0 (QEMU 7.2 keeps it);
 * - "medeleg[11] is read-only zero" (3.1.8): ECALL from M cannot be delegated (QEMU 7.2 lets the bit be set);
 * - interrupt priority MEI > MSI > MTI > SEI > SSI > STI (3.1.9) (QEMU 7.2 takes the lowest number first);
 * - WARL fields never hold reserved values: mstatus.MPP = 2 and UXL/SXL = 3 do not read back (QEMU 7.2 keeps
 *   them);
 * - our choices: mtval of an illegal instruction is always the instruction bits (the spec also allows 0), and
 *   instret counts exactly the retired instructions (QEMU counts host ticks).
 *
 * QEMU-SKIP: QEMU 7.2 differs on CSRRS with a zero register, MPRV on xRET, mepc[0], medeleg[11], MPP, UXL and
 * interrupt priority (see above)
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

  TEST 10                       /* MPP = 2 (reserved) does not read back */
  csrr s0, mstatus
  li a0, MSTATUS_MPP
  csrc mstatus, a0
  li a0, 2 << 11
  csrs mstatus, a0
  csrr a1, mstatus
  srli a1, a1, 11
  andi a1, a1, 3
  li a2, 2
  beq a1, a2, 9f
  TEST 11                       /* UXL/SXL = 3 (reserved) does not read back: they stay 2 */
  li a0, MSTATUS_UXL | MSTATUS_SXL
  csrs mstatus, a0
  csrr a1, mstatus
  csrw mstatus, s0
  srli a1, a1, 32
  andi a1, a1, 0xf
  CHECK a1, 0xa
  j 8f
9:
  FAIL
8:

  TEST 12                       /* priority MTI > SEI > SSI > STI, all pending and going to M */
  csrw mideleg, zero
  li a0, CLINT_MTIMECMP
  sd zero, 0(a0)                /* MTIP */
  li a0, MIP_SEIP | MIP_SSIP | MIP_STIP
  csrs mip, a0
  li a2, 100000
1:
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  li a0, MIP_MTIP | MIP_SEIP | MIP_SSIP | MIP_STIP
  csrw mie, a0
  CLEAR_TRAP m_trap
  .irp irq, IRQ_M_TIMER, IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER
  EXPECT_TRAP_TO_HANDLER 3f
  csrsi mstatus, MSTATUS_MIE
  FAIL
3:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | \irq
  li a0, 1 << \irq             /* disable the one just taken */
  csrc mie, a0
  .endr
  li a0, -1
  li a1, CLINT_MTIMECMP
  sd a0, 0(a1)
  li a0, MIP_SEIP | MIP_SSIP | MIP_STIP
  csrc mip, a0
  csrw mie, zero

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
