/*
 * Machine-mode traps and trap return (privileged spec 3.1.6.1, 3.1.14-3.1.16, 3.3.1-3.3.2):
 * - ECALL from M, S and U: mcause 11 / 9 / 8, mepc = the ecall, mtval = 0, mstatus.MPP = the mode it came from;
 * - EBREAK: cause 3, mepc = the ebreak (mtval 0 or the pc: both allowed);
 * - illegal instruction: cause 2, mtval 0 or exactly the instruction bits (privileged instructions from lower
 *   modes, `unimp`, WFI with TW = 1, SRET with TSR = 1, satp and SFENCE.VMA with TVM = 1);
 * - the MIE/MPIE stack: a trap sets MPIE = MIE, MIE = 0; MRET sets MIE = MPIE, MPIE = 1, MPP = U (the least
 *   privileged mode); SRET likewise with SIE/SPIE/SPP.
 *
 * Left out because QEMU 7.2 differs: "If y != M, xRET also sets MPRV = 0" (privileged spec 1.12, 3.1.6.1). QEMU
 * 7.2 keeps MPRV (later QEMU releases clear it). "mepc[0] is always zero" (3.1.14; sepc likewise): QEMU 7.2 reads
 * back a written bit 0. Both are checked in isa/axvisor/strict-priv.S.
 */
#include "isa-test.h"

  .option norvc

/* The trap recorded in m_trap must be `cause` from privilege `prv` at `epc_label`. */
.macro CHECK_M_TRAP cause, prv, epc_label
  CHECK_TRAP m_trap, TR_CAUSE, \cause
  CHECK_TRAP_ADDR m_trap, TR_EPC, \epc_label
  LOAD_TRAP a7, m_trap, TR_STATUS
  srli a7, a7, 11
  andi a7, a7, 3
  CHECK a7, \prv
.endm

/* mtval must be 0 or the 32-bit instruction at insn_label. */
.macro CHECK_TVAL_BITS insn_label
  LOAD_TRAP a7, m_trap, TR_TVAL
  beqz a7, .Lok\@
  la a6, \insn_label
  lwu a6, 0(a6)
  CHECK_REG a7, a6
.Lok\@:
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S | MISA_U

  /* --- ECALL from each mode --------------------------------------------------------------------------- */
  TEST 1
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  ecall
  FAIL
1:
  CHECK_M_TRAP CAUSE_MACHINE_ECALL, PRV_M, 2b
  CHECK_TRAP m_trap, TR_TVAL, 0
  CHECK_TRAP m_trap, TR_COUNT, 1

  TEST 2
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  ecall
  FAIL
1:
  CHECK_M_TRAP CAUSE_SUPERVISOR_ECALL, PRV_S, 2b
  CHECK_TRAP m_trap, TR_TVAL, 0

  TEST 3
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  ecall
  FAIL
1:
  CHECK_M_TRAP CAUSE_USER_ECALL, PRV_U, 2b
  CHECK_TRAP m_trap, TR_TVAL, 0

  /* ECALL returning to the same mode continues after the resume label there */
  TEST 4
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  EXPECT_TRAP 1f
  ecall
  FAIL
1:
  li a0, 0x44                   /* still in U-mode: a U-mode ecall again takes us home */
  RETURN_TO_M 2f
2:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_USER_ECALL
  CHECK_TRAP m_trap, TR_COUNT, 2
  CHECK a0, 0x44

  /* --- EBREAK ----------------------------------------------------------------------------------------- */
  .irp prv, PRV_M, PRV_S, PRV_U
  TEST 5 + \prv
  CLEAR_TRAP m_trap
  .if \prv == PRV_S
  ENTER_S 3f
  .elseif \prv == PRV_U
  ENTER_U 3f
  .endif
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  ebreak
  FAIL
1:
  CHECK_M_TRAP CAUSE_BREAKPOINT, \prv, 2b
  LOAD_TRAP a0, m_trap, TR_TVAL
  beqz a0, 4f
  CHECK_ADDR a0, 2b             /* a nonzero mtval must be the faulting address */
4:
  .endr

  /* --- illegal instructions ---------------------------------------------------------------------------- */
  TEST 9                        /* unimp (csrrw x0, cycle, x0: a write to a read-only CSR) */
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
2:
  unimp
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_M, 2b
  CHECK_TVAL_BITS 2b

  TEST 10                       /* MRET in S */
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  mret
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_S, 2b
  CHECK_TVAL_BITS 2b

  TEST 11                       /* MRET and SRET in U */
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  mret
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_U, 2b
  CHECK_TVAL_BITS 2b
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  sret
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_U, 2b
  CHECK_TVAL_BITS 2b

  TEST 12                       /* SFENCE.VMA in U */
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  sfence.vma
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_U, 2b

  TEST 13                       /* TSR = 1: SRET in S is illegal */
  li a0, MSTATUS_TSR
  csrs mstatus, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  sret
  FAIL
1:
  li a0, MSTATUS_TSR
  csrc mstatus, a0
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_S, 2b
  CHECK_TVAL_BITS 2b

  TEST 14                       /* TVM = 1: satp access and SFENCE.VMA in S are illegal */
  li a0, MSTATUS_TVM
  csrs mstatus, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  csrr a0, satp
  FAIL
1:
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_S, 2b
  CHECK_TVAL_BITS 2b
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  sfence.vma
  FAIL
1:
  li a0, MSTATUS_TVM
  csrc mstatus, a0
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_S, 2b

  TEST 15                       /* TW = 1: WFI in S with nothing pending must trap (the time limit ends) */
  csrw mie, zero
  li a0, MSTATUS_TW
  csrs mstatus, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  wfi
  FAIL
1:
  li a0, MSTATUS_TW
  csrc mstatus, a0
  CHECK_M_TRAP CAUSE_ILLEGAL_INSTRUCTION, PRV_S, 2b
  CHECK_TVAL_BITS 2b

  TEST 16                       /* with TVM/TSR/TW clear, S may use satp, SFENCE.VMA and SRET */
  ENTER_S 3f
3:
  csrr a0, satp
  sfence.vma
  la a1, 4f
  csrw sepc, a1
  li a1, MSTATUS_SPP
  csrs sstatus, a1              /* SPP = S: stay in S */
  sret
  FAIL
4:
  RETURN_TO_M 5f
5:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_SUPERVISOR_ECALL

  /* --- the interrupt-enable stack --------------------------------------------------------------------- */
  TEST 17                       /* trap: MPIE = MIE (1), MIE = 0, MPP = M */
  csrw mie, zero                /* MIE = 1 with every interrupt masked: no interrupt can fire */
  li a0, MSTATUS_MPIE
  csrc mstatus, a0
  csrsi mstatus, MSTATUS_MIE
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
  ecall
1:
  LOAD_TRAP a0, m_trap, TR_STATUS
  andi a1, a0, MSTATUS_MIE
  CHECK a1, 0
  andi a1, a0, MSTATUS_MPIE
  CHECK a1, MSTATUS_MPIE
  /* the handler's MRET restored MIE = MPIE = 1 and set MPP to U (least privileged) */
  csrr a0, mstatus
  andi a1, a0, MSTATUS_MIE
  CHECK a1, MSTATUS_MIE
  andi a1, a0, MSTATUS_MPIE
  CHECK a1, MSTATUS_MPIE
  li a2, MSTATUS_MPP
  and a1, a0, a2
  CHECK a1, 0
  csrci mstatus, MSTATUS_MIE

  TEST 19                       /* SRET: SIE = SPIE, SPIE = 1, SPP = U, and privilege = old SPP */
  ENTER_S 3f
3:
  li a0, MSTATUS_SPP | MSTATUS_SIE
  csrc sstatus, a0              /* SPP = U */
  li a0, MSTATUS_SPIE
  csrs sstatus, a0              /* SPIE = 1 */
  la a0, 4f
  csrw sepc, a0
  sret
  FAIL
4:
  CLEAR_TRAP m_trap
  RETURN_TO_M 5f                /* an ecall from U proves the SRET went to U */
5:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_USER_ECALL
  LOAD_TRAP a0, m_trap, TR_STATUS
  andi a1, a0, MSTATUS_SIE
  CHECK a1, MSTATUS_SIE
  andi a1, a0, MSTATUS_SPIE
  CHECK a1, MSTATUS_SPIE
  andi a1, a0, MSTATUS_SPP
  CHECK a1, 0
  li a0, MSTATUS_SIE
  csrc mstatus, a0

  TEST 22                       /* MRET to M goes to mepc with MPP = M */
  la a0, 1f
  csrw mepc, a0
  li a0, MSTATUS_MPP
  csrs mstatus, a0
  mret
  FAIL
1:
  csrr a0, mstatus              /* still M: reading mstatus works */
  li a1, MSTATUS_MPP
  and a0, a0, a1
  CHECK a0, 0                   /* MPP = U after MRET */

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
