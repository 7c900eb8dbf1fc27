/*
 * Sstc (supervisor timer compare, ratified 2021): with menvcfg.STCE = 1 the S-level timer interrupt is
 * mip.STIP = (time >= stimecmp), read-only in mip; S-mode programs its own deadline with no M-mode help.
 * - stimecmp = 0 raises STIP, a far deadline clears it, csrc mip cannot;
 * - a delegated STI arrives in S once time reaches the deadline;
 * - S-mode access to stimecmp is an illegal instruction when menvcfg.STCE = 0 or mcounteren.TM = 0.
 *
 * QEMU-MACHINES: virt
 * (Sstc needs the `time` CSR, which QEMU's `spike` machine does not provide; see zicntr.S.)
 */
#include "isa-test.h"

  .option norvc

#define DELTA 1000
#define WAIT_LIMIT 50000000

/* Wait until (mip & bit) == want, or fail. Clobbers a0, a2. */
.macro WAIT_MIP bit, want
  li a2, 1000000
.Lpoll\@:
  csrr a0, mip
  andi a0, a0, \bit
  li t5, \want
  beq a0, t5, .Ldone\@
  addi a2, a2, -1
  bnez a2, .Lpoll\@
  FAIL
.Ldone\@:
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S
  csrw mie, zero
  la a0, s_trap_entry
  csrw stvec, a0
  la a0, isa_s_save
  csrw sscratch, a0

  TEST 1                        /* STCE is writable */
  li a0, ENVCFG_STCE
  csrs CSR_MENVCFG, a0
  csrr a1, CSR_MENVCFG
  and a1, a1, a0
  CHECK_REG a1, a0

  TEST 2                        /* stimecmp = 0 -> STIP; not clearable through mip; far deadline clears it */
  csrw CSR_STIMECMP, zero
  WAIT_MIP MIP_STIP, MIP_STIP
  li a0, MIP_STIP
  csrc mip, a0
  csrr a0, mip
  andi a0, a0, MIP_STIP
  CHECK a0, MIP_STIP
  li a0, -1
  csrw CSR_STIMECMP, a0
  WAIT_MIP MIP_STIP, 0
  csrr a1, CSR_STIMECMP
  CHECK a1, -1

  TEST 3                        /* S programs a deadline; the delegated STI arrives in S after it */
  li a0, MIP_STIP
  csrw mideleg, a0
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  li a0, MIP_STIP
  csrw sie, a0
  rdtime s0
  addi s0, s0, DELTA
  EXPECT_TRAP_TO_HANDLER 2f
  csrw CSR_STIMECMP, s0
  csrsi sstatus, MSTATUS_SIE
  li s1, WAIT_LIMIT
  add s1, s0, s1
1:
  wfi
  rdtime a0
  bltu a0, s1, 1b
  FAIL
2:
  rdtime a0
  bltu a0, s0, 9f               /* too early */
  li a0, -1
  csrw CSR_STIMECMP, a0         /* S clears its own interrupt */
  csrr a0, sip
  andi a0, a0, MIP_STIP
  RETURN_TO_M 4f
9:
  FAIL
4:
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_TIMER
  CHECK_TRAP s_trap, TR_COUNT, 1
  CHECK a0, 0

  TEST 4                        /* STCE = 0: S-mode stimecmp access is illegal */
  li a0, ENVCFG_STCE
  csrc CSR_MENVCFG, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
  csrr a0, CSR_STIMECMP
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  li a0, ENVCFG_STCE
  csrs CSR_MENVCFG, a0

  TEST 5                        /* mcounteren.TM = 0: likewise */
  li a0, 2
  csrc mcounteren, a0
  CLEAR_TRAP m_trap
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
  csrw CSR_STIMECMP, zero
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION
  li a0, 2
  csrs mcounteren, a0
  csrr a0, mip                  /* the write did not happen: no STIP */
  andi a0, a0, MIP_STIP
  CHECK a0, 0

  csrw mideleg, zero
  csrw CSR_MENVCFG, zero
  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
