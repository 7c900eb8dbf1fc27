/*
 * Trap delegation to S-mode (privileged spec 3.1.8 medeleg/mideleg, 4.1.3 sip/sie, 4.1.1 sstatus):
 * - a delegated exception from U or S goes to stvec with scause/sepc/stval, sstatus.SPP = the mode it came from,
 *   SPIE = SIE, SIE = 0, and never reaches M; a trap taken in M is never delegated;
 * - a delegated interrupt (SSIP, STIP) is taken in S when sstatus.SIE = 1, always in U, never in M;
 *   an undelegated one goes to M; sip/sie show only delegated bits;
 * - SSIP is writable through sip from S-mode.
 *
 * Left out because QEMU 7.2 differs: "medeleg[11] is read-only zero" (3.1.8); QEMU 7.2 lets it be written.
 * Checked in isa/axvisor/strict-priv.S.
 */
#include "isa-test.h"

  .option norvc

/* s_trap must hold `cause` taken from privilege spp (0 = U, 1 = S) at `epc_label`. */
.macro CHECK_S_TRAP cause, spp, epc_label
  CHECK_TRAP s_trap, TR_CAUSE, \cause
  CHECK_TRAP_ADDR s_trap, TR_EPC, \epc_label
  LOAD_TRAP a7, s_trap, TR_STATUS
  andi a7, a7, MSTATUS_SPP
  CHECK a7, \spp << 8
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S | MISA_U
  la t0, s_trap_entry
  csrw stvec, t0
  la t0, isa_s_save
  csrw sscratch, t0

  TEST 1                        /* medeleg: the delegable exceptions used below are writable */
  li a0, -1
  csrw medeleg, a0
  csrr a0, medeleg
  li a1, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT)
  and a1, a0, a1
  CHECK a1, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, zero

  li a0, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, a0

  TEST 2                        /* ECALL from U goes to S: scause 8, SPP = U, stval = 0; checked in S */
  CLEAR_TRAP m_trap
  CLEAR_TRAP s_trap
  li a0, MSTATUS_SIE
  csrc mstatus, a0
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f     /* the S handler returns to S-mode at 1f */
2:
  ecall
  FAIL
1:
  CHECK_S_TRAP CAUSE_USER_ECALL, 0, 2b
  CHECK_TRAP s_trap, TR_TVAL, 0
  CHECK_TRAP s_trap, TR_COUNT, 1
  RETURN_TO_M 4f                /* ECALL from S is not delegated */
4:
  CHECK_TRAP m_trap, TR_COUNT, 1
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_SUPERVISOR_ECALL

  TEST 3                        /* illegal instruction from S goes to S with SPP = S, SPIE = old SIE, SIE = 0 */
  CLEAR_TRAP m_trap
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  csrsi sstatus, MSTATUS_SIE    /* no S interrupt is enabled in sie, so SIE = 1 is harmless */
  EXPECT_TRAP_TO_HANDLER 1f
2:
  unimp
  FAIL
1:
  CHECK_S_TRAP CAUSE_ILLEGAL_INSTRUCTION, 1, 2b
  LOAD_TRAP a0, s_trap, TR_STATUS
  andi a1, a0, MSTATUS_SIE
  CHECK a1, 0
  andi a1, a0, MSTATUS_SPIE
  CHECK a1, MSTATUS_SPIE
  LOAD_TRAP a0, s_trap, TR_TVAL
  beqz a0, 5f
  la a1, 2b
  lwu a1, 0(a1)
  CHECK_REG a0, a1
5:
  RETURN_TO_M 4f
4:
  CHECK_TRAP m_trap, TR_COUNT, 1  /* the unimp never reached M */

  TEST 4                        /* EBREAK from U goes to S */
  CLEAR_TRAP s_trap
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  ebreak
  FAIL
1:
  CHECK_S_TRAP CAUSE_BREAKPOINT, 0, 2b
  RETURN_TO_M 4f
4:

  TEST 5                        /* an exception in M is not delegated */
  CLEAR_TRAP m_trap
  CLEAR_TRAP s_trap
  EXPECT_TRAP 1f
2:
  unimp
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP s_trap, TR_COUNT, 0

  TEST 6                        /* an undelegated exception from S goes to M */
  csrw medeleg, zero
  CLEAR_TRAP m_trap
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
  unimp
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  CHECK_TRAP s_trap, TR_COUNT, 0

  /* --- interrupts ----------------------------------------------------------------------------------- */
  TEST 7                        /* sie/sip show only delegated interrupts */
  csrw mideleg, zero
  li a0, MIP_SSIP | MIP_STIP
  csrw mie, a0
  csrr a1, sie
  CHECK a1, 0
  li a0, MIP_SSIP
  csrw mideleg, a0
  csrr a1, sie
  CHECK a1, MIP_SSIP
  li a0, MIP_SSIP | MIP_STIP
  csrw mideleg, a0
  csrr a0, mideleg
  andi a0, a0, MIP_SSIP | MIP_STIP
  CHECK a0, MIP_SSIP | MIP_STIP   /* both writable (with H, the VS bits also read as one) */
  csrw mie, zero

  TEST 8                        /* an SSIP delegated to S is not taken in M, even with MIE = 1 */
  CLEAR_TRAP m_trap
  li a0, MIP_SSIP
  csrw mie, a0
  csrs mip, a0
  csrsi mstatus, MSTATUS_MIE
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP m_trap, TR_COUNT, 0

  TEST 9                        /* ... nor in S with SIE = 0 ... */
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  csrci sstatus, MSTATUS_SIE
  nop
  nop
  csrr a0, sip
  RETURN_TO_M 1f
1:
  CHECK_TRAP s_trap, TR_COUNT, 0
  CHECK a0, MIP_SSIP

  TEST 10                       /* ... but in S as soon as SIE = 1: scause = interrupt 1, sepc = next insn */
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
  csrsi sstatus, MSTATUS_SIE
2:
  nop
  FAIL
1:
  li a0, MIP_SSIP               /* clear it from S: SSIP is writable through sip */
  csrc sip, a0
  csrr a1, sip
  RETURN_TO_M 4f
4:
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_SOFT
  CHECK_TRAP_ADDR s_trap, TR_EPC, 2b
  CHECK a1, 0
  csrr a0, mip
  andi a0, a0, MIP_SSIP
  CHECK a0, 0

  TEST 11                       /* in U, a delegated S interrupt is taken whatever SIE says */
  CLEAR_TRAP s_trap
  li a0, MSTATUS_SIE
  csrc mstatus, a0
  li a0, MIP_STIP
  csrw mie, a0
  csrs mip, a0                  /* STIP is writable from M (menvcfg.STCE = 0) */
  EXPECT_TRAP_TO_HANDLER 1f     /* set before entering U: the interrupt comes at U's first instruction */
  ENTER_U 2f
2:
  nop
  nop
  FAIL
1:
  RETURN_TO_M 4f
4:
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_TIMER
  LOAD_TRAP a0, s_trap, TR_STATUS
  andi a0, a0, MSTATUS_SPP
  CHECK a0, 0
  li a0, MIP_STIP
  csrc mip, a0

  TEST 12                       /* an undelegated SSIP goes to M (mcause interrupt 1), also from S with SIE = 0 */
  csrw mideleg, zero
  CLEAR_TRAP m_trap
  li a0, MIP_SSIP
  csrw mie, a0
  csrs mip, a0
  EXPECT_TRAP_TO_HANDLER 1f
  ENTER_S 2f                    /* below M, M-level interrupts are enabled whatever MIE says */
2:
  nop
  nop
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_SOFT
  LOAD_TRAP a0, m_trap, TR_STATUS
  srli a0, a0, 11
  andi a0, a0, 3
  CHECK a0, PRV_S
  li a0, MIP_SSIP
  csrc mip, a0
  csrw mie, zero

  TEST_PASS

TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
