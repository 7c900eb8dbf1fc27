/*
 * Zicntr and the counter-enable CSRs:
 * - cycle and instret increase while code runs; the M-mode mcycle/minstret are writable and count on from the
 *   written value;
 * - time reads the CLINT's mtime (a shadow of it: mtime before <= time <= mtime after) and moves forward;
 * - S-mode may read cycle/time/instret only when the mcounteren bit (CY 0, TM 1, IR 2) is set, U-mode only when
 *   both mcounteren and scounteren allow it; otherwise an illegal instruction.
 * Exact counts are implementation-specific (QEMU counts host ticks), so only increases are checked here; the
 * exact instret count is checked in isa/axvisor/strict-priv.S.
 * Unprivileged spec chapter 10 "Counters", privileged spec 3.1.11 and 4.1.5 (mcounteren/scounteren).
 *
 * QEMU-MACHINES: virt
 * (QEMU's `spike` machine, like Spike itself, has no `time` CSR: reading it traps so that M-mode firmware can
 * emulate it, which the spec allows. QEMU `virt` implements it from the CLINT's mtime.)
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN

  TEST 1                        /* cycle increases over a loop */
  rdcycle a0
  li a2, 1000
1:
  addi a2, a2, -1
  bnez a2, 1b
  rdcycle a1
  bleu a1, a0, fail_cntr

  TEST 2                        /* instret increases over a loop */
  rdinstret a0
  li a2, 1000
1:
  addi a2, a2, -1
  bnez a2, 1b
  rdinstret a1
  bleu a1, a0, fail_cntr

  TEST 3                        /* minstret and mcycle are writable and count on from the written value */
  li a2, 0x100000000
  csrw minstret, a2
  csrr a0, minstret
  bltu a0, a2, fail_cntr
  li a3, 0x100000000 + 100000000
  bgeu a0, a3, fail_cntr
  csrw mcycle, a2
  csrr a0, mcycle
  bltu a0, a2, fail_cntr
  bgeu a0, a3, fail_cntr
  rdinstret a1                  /* the user alias reads the same counter */
  bltu a1, a2, fail_cntr

  TEST 4                        /* time shadows mtime */
  li a3, CLINT_MTIME
  ld a0, 0(a3)
  rdtime a1
  ld a2, 0(a3)
  bltu a1, a0, fail_cntr
  bltu a2, a1, fail_cntr

  TEST 5                        /* time moves forward (10 MHz: a few thousand iterations are plenty) */
  rdtime a0
  li a2, 10000000
1:
  rdtime a1
  bne a1, a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  j fail_cntr
2:
  bltu a1, a0, fail_cntr

  TEST 6                        /* S-mode reads with mcounteren set */
  li a0, 7
  csrw mcounteren, a0
  ENTER_S 1f
1:
  rdcycle a0
  rdtime a1
  rdinstret a2
  RETURN_TO_M 2f
2:
  beqz a1, fail_cntr

  /* S-mode: each counter traps when its mcounteren bit is clear */
  .irp bit, 0, 1, 2
  TEST 7 + \bit
  li a0, 7 & ~(1 << \bit)
  csrw mcounteren, a0
  CLEAR_TRAP m_trap
  ENTER_S 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
  .if \bit == 0
  rdcycle a0
  .elseif \bit == 1
  rdtime a0
  .else
  rdinstret a0
  .endif
  FAIL
2:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  .endr

  TEST 10                       /* U-mode: needs scounteren as well */
  li a0, 7
  csrw mcounteren, a0
  csrw scounteren, zero
  CLEAR_TRAP m_trap
  ENTER_U 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
  rdtime a0
  FAIL
2:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION

  TEST 11
  li a0, 2                      /* TM only */
  csrw scounteren, a0
  ENTER_U 1f
1:
  rdtime a0
  RETURN_TO_M 2f
2:
  beqz a0, fail_cntr
  CLEAR_TRAP m_trap
  ENTER_U 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
  rdcycle a0
  FAIL
2:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION

  TEST 12                       /* U-mode with mcounteren clear but scounteren set: still illegal */
  li a0, 7
  csrw scounteren, a0
  csrw mcounteren, zero
  CLEAR_TRAP m_trap
  ENTER_U 1f
1:
  EXPECT_TRAP_TO_HANDLER 2f
  rdinstret a0
  FAIL
2:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  li a0, 7
  csrw mcounteren, a0

  TEST_PASS
fail_cntr:
  FAIL
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
