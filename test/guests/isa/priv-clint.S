/*
 * Machine interrupts from the CLINT (SiFive layout at 0x0200_0000: msip +0, mtimecmp +0x4000, mtime +0xbff8;
 * the same on QEMU spike, QEMU virt and our board) and WFI (privileged spec 3.1.9, 3.2.1, 3.3.3):
 * - msip = 1/0 sets/clears mip.MSIP; mtimecmp <= mtime sets mip.MTIP, a later mtimecmp clears it; neither bit
 *   is writable through mip;
 * - a timer interrupt arrives once mtime reaches mtimecmp (mcause = interrupt 7), a software interrupt right
 *   after the msip store (mcause = interrupt 3);
 * - WFI returns once an interrupt is pending and enabled in mie, even with mstatus.MIE = 0 (no trap then);
 * - below M, M interrupts are taken whatever mstatus.MIE says;
 * - priority among pending M-mode interrupts: MSI before MTI.
 * Timer deadlines are 1000 ticks (100 us at 10 MHz) ahead; waits are bounded so a lost interrupt fails.
 *
 * Left out because QEMU 7.2 differs: the full order MEI > MSI > MTI > SEI > SSI > STI (3.1.9). QEMU 7.2 without
 * AIA takes the lowest-numbered pending interrupt (SSI before MTI). Checked in isa/axvisor/strict-priv.S.
 */
#include "isa-test.h"

  .option norvc

#define DELTA 1000
#define WAIT_LIMIT 50000000             /* ticks (5 s at 10 MHz) before a missing interrupt is a failure */

/* a0 = mtime */
.macro READ_MTIME reg
  li \reg, CLINT_MTIME
  ld \reg, 0(\reg)
.endm

/* mtimecmp = value in reg (one 64-bit store) */
.macro SET_MTIMECMP reg
  li t0, CLINT_MTIMECMP
  sd \reg, 0(t0)
.endm

.macro SET_MSIP value
  li t0, CLINT_MSIP
  li t1, \value
  sw t1, 0(t0)
.endm

TEST_CODE_BEGIN
  csrw mie, zero
  li a0, -1
  SET_MTIMECMP a0

  TEST 1                        /* msip <-> mip.MSIP */
  SET_MSIP 1
  li a2, 100000
1:
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  bnez a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  SET_MSIP 0
  li a2, 100000
1:
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  beqz a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:

  TEST 2                        /* mtimecmp <= mtime: MTIP; csrc mip cannot clear it; mtimecmp = -1 clears it */
  SET_MTIMECMP zero
  li a2, 100000
1:
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  li a0, MIP_MTIP
  csrc mip, a0
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  CHECK a0, MIP_MTIP
  li a0, -1
  SET_MTIMECMP a0
  li a2, 100000
1:
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  beqz a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:

  TEST 3                        /* the timer interrupt arrives at the deadline */
  CLEAR_TRAP m_trap
  READ_MTIME s0
  addi s0, s0, DELTA
  li a0, MIP_MTIP
  csrw mie, a0
  EXPECT_TRAP_TO_HANDLER 2f
  SET_MTIMECMP s0
  csrsi mstatus, MSTATUS_MIE
  li s1, WAIT_LIMIT
  add s1, s0, s1
1:
  wfi
  READ_MTIME a0
  bltu a0, s1, 1b
  FAIL                          /* no interrupt within the limit */
2:
  READ_MTIME a0
  bltu a0, s0, fail_clint       /* early */
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_M_TIMER
  CHECK_TRAP m_trap, TR_COUNT, 1
  li a0, -1
  SET_MTIMECMP a0
  csrw mie, zero

  TEST 4                        /* WFI wakes up for an enabled interrupt even with mstatus.MIE = 0; no trap */
  CLEAR_TRAP m_trap
  csrci mstatus, MSTATUS_MIE
  li a0, MIP_MTIP
  csrw mie, a0
  READ_MTIME s0
  addi s0, s0, DELTA
  SET_MTIMECMP s0
  li s1, WAIT_LIMIT
  add s1, s0, s1
1:
  wfi                           /* (WFI may also return early: the loop checks) */
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 2f
  READ_MTIME a0
  bltu a0, s1, 1b
  FAIL
2:
  READ_MTIME a0
  bltu a0, s0, fail_clint
  CHECK_TRAP m_trap, TR_COUNT, 0
  li a0, -1
  SET_MTIMECMP a0
  csrw mie, zero

  TEST 5                        /* software interrupt right after the msip store */
  CLEAR_TRAP m_trap
  li a0, MIP_MSIP
  csrw mie, a0
  csrsi mstatus, MSTATUS_MIE
  EXPECT_TRAP_TO_HANDLER 2f
  SET_MSIP 1
  li a2, 100000
1:
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  SET_MSIP 0
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_M_SOFT
  LOAD_TRAP a0, m_trap, TR_STATUS
  andi a0, a0, MSTATUS_MPIE     /* MIE was 1 when it was taken */
  CHECK a0, MSTATUS_MPIE
  csrw mie, zero

  TEST 6                        /* from U-mode an M interrupt is taken even though mstatus.MIE = 0 */
  CLEAR_TRAP m_trap
  csrci mstatus, MSTATUS_MIE
  li a0, MIP_MSIP
  csrw mie, a0
  ENTER_U 3f
3:
  EXPECT_TRAP_TO_HANDLER 2f
  SET_MSIP 1                    /* U may store to the CLINT: no paging, PMP allows everything */
  li a2, 100000
1:
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  SET_MSIP 0
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_M_SOFT
  LOAD_TRAP a0, m_trap, TR_STATUS
  srli a0, a0, 11
  andi a0, a0, 3
  CHECK a0, PRV_U
  csrw mie, zero

  TEST 7                        /* priority: MSI before MTI, both pending at once */
  CLEAR_TRAP m_trap
  SET_MSIP 1
  SET_MTIMECMP zero
  li a2, 100000                 /* wait until both are visible in mip */
1:
  csrr a0, mip
  andi a0, a0, MIP_MSIP | MIP_MTIP
  li a1, MIP_MSIP | MIP_MTIP
  beq a0, a1, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  li a0, MIP_MSIP | MIP_MTIP
  csrw mie, a0
  EXPECT_TRAP_TO_HANDLER 3f
  csrsi mstatus, MSTATUS_MIE
  FAIL
3:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_M_SOFT
  SET_MSIP 0
  li a2, 100000                 /* wait for the msip store to land in mip */
1:
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  beqz a0, 2f
  addi a2, a2, -1
  bnez a2, 1b
  FAIL
2:
  EXPECT_TRAP_TO_HANDLER 3f
  csrsi mstatus, MSTATUS_MIE    /* the handler returned with MIE = 0: enable again */
  FAIL
3:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_M_TIMER
  li a0, -1
  SET_MTIMECMP a0
  csrw mie, zero
  CHECK_TRAP m_trap, TR_COUNT, 2

  TEST_PASS
fail_clint:
  FAIL
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
