/*
 * Sstc for guests (Sstc 1.0 with the H extension): with menvcfg.STCE = henvcfg.STCE = 1, VS-mode's stimecmp is
 * vstimecmp and VSTIP = (time + htimedelta >= vstimecmp), without any hypervisor involvement.
 * - VS reads time + htimedelta as `time`;
 * - vstimecmp written from M/HS drives hip.VSTIP (also with a large htimedelta);
 * - VS programs a deadline through stimecmp and takes the interrupt (hideleg VSTIP: vscause = interrupt 5) once
 *   its time reaches it; writing a far deadline clears it.
 *
 * QEMU-MACHINES: virt
 * (needs the `time` CSR, which QEMU's `spike` machine does not provide; see zicntr.S.)
 */
#include "isa-test.h"

  .option norvc

#define DELTA 1000
#define WAIT_LIMIT 50000000
#define BIG_DELTA 0x10000000000          /* 2^40 ticks: far beyond anything mtime reaches in a test */

.macro WAIT_MIP bit, want
  li a2, 1000000
.Lpoll\@:
  csrr a0, mip
  li t5, \bit
  and a0, a0, t5
  li t5, \want
  beq a0, t5, .Ldone\@
  addi a2, a2, -1
  bnez a2, .Lpoll\@
  FAIL
.Ldone\@:
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U
  csrw mie, zero
  la a0, vs_trap_entry
  csrw vstvec, a0
  la a0, isa_vs_save
  csrw vsscratch, a0
  li a0, ENVCFG_STCE
  csrs CSR_MENVCFG, a0
  csrs CSR_HENVCFG, a0

  TEST 1                        /* henvcfg.STCE is writable */
  csrr a1, CSR_HENVCFG
  li a0, ENVCFG_STCE
  and a1, a1, a0
  CHECK_REG a1, a0

  TEST 2                        /* VS time = time + htimedelta */
  li a0, BIG_DELTA
  csrw htimedelta, a0
  ENTER_VS 3f
3:
  rdtime a0
  RETURN_TO_M 4f
4:
  li a1, BIG_DELTA
  bltu a0, a1, fail_vst
  rdtime a2
  add a2, a2, a1
  bltu a2, a0, fail_vst         /* not ahead of time + delta read afterwards */

  TEST 3                        /* vstimecmp drives VSTIP through time + htimedelta */
  li a0, -1
  csrw CSR_VSTIMECMP, a0
  WAIT_MIP MIP_VSTIP, 0
  li a0, BIG_DELTA              /* raw time < 2^40 <= time + htimedelta */
  csrw CSR_VSTIMECMP, a0
  WAIT_MIP MIP_VSTIP, MIP_VSTIP
  li a0, -1
  csrw CSR_VSTIMECMP, a0
  WAIT_MIP MIP_VSTIP, 0
  csrw htimedelta, zero

  TEST 4                        /* VS programs its own deadline and takes the interrupt in VS */
  li a0, MIP_VSTIP
  csrw hideleg, a0
  CLEAR_TRAP vs_trap
  csrw vsstatus, zero
  ENTER_VS 3f
3:
  li a0, MIP_STIP
  csrw sie, a0
  rdtime s0
  addi s0, s0, DELTA
  EXPECT_TRAP_TO_HANDLER 2f
  csrw CSR_STIMECMP, s0          /* = vstimecmp */
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
  bltu a0, s0, 9f               /* early */
  li a0, -1
  csrw CSR_STIMECMP, a0
  csrr a1, sip
  RETURN_TO_M 4f
9:
  FAIL
4:
  CHECK_TRAP vs_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_TIMER
  CHECK_TRAP vs_trap, TR_COUNT, 1
  andi a1, a1, MIP_STIP
  CHECK a1, 0
  csrr a0, CSR_VSTIMECMP         /* what VS wrote landed in vstimecmp */
  CHECK a0, -1

  csrw hideleg, zero
  csrw CSR_HENVCFG, zero
  csrw CSR_MENVCFG, zero
  TEST_PASS
fail_vst:
  FAIL
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
