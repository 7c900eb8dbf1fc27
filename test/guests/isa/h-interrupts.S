/*
 * Virtual interrupts (privileged spec 8.2.3-8.2.5 hvip/hip/hie, 8.2.? hideleg, 8.6.2 trap causes):
 * - hvip.VSSIP/VSTIP/VSEIP inject VS-level interrupts; with hideleg they are taken in VS as the supervisor
 *   software/timer/external interrupts (vscause = interrupt 1, 5, 9), enabled by the VS's own sie and
 *   sstatus.SIE (vsie/vsstatus), always taken in VU;
 * - with hideleg clear they are taken in HS, with scause = interrupt 2, 6, 10, whatever sstatus.SIE says while
 *   V = 1;
 * - an interrupt delegated to VS is never taken while V = 0;
 * - vsip/vsie seen from HS follow hvip/hie for delegated bits and read zero for the others.
 *
 * Left out because QEMU 7.2 differs (checked in isa/axvisor/strict-h.S): in VS, sip.SSIP reads hvip.VSSIP and
 * clearing it clears hvip.VSSIP; vsip shows hvip.VSTIP/VSEIP (QEMU 7.2 shows neither).
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U
  csrw mie, zero
  csrw hvip, zero
  la a0, s_trap_entry
  csrw stvec, a0
  la a0, isa_s_save
  csrw sscratch, a0
  la a0, vs_trap_entry
  csrw vstvec, a0
  la a0, isa_vs_save
  csrw vsscratch, a0
  li a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  csrw hideleg, a0

  /* --- into VS ---------------------------------------------------------------------------------------- */
  .irp irq, IRQ_VS_SOFT, IRQ_VS_TIMER, IRQ_VS_EXT
  TEST 1 + \irq / 4             /* 1, 2, 3 */
  CLEAR_TRAP vs_trap
  li a0, 1 << \irq
  csrw hvip, a0
  csrw vsstatus, zero
  csrw vsie, zero
  ENTER_VS 3f
3:
  li a0, 1 << (\irq - 1)        /* the VS sees it as the supervisor interrupt one below */
  csrw sie, a0
  EXPECT_TRAP_TO_HANDLER 1f
  csrsi sstatus, MSTATUS_SIE
  FAIL
1:
  RETURN_TO_M 4f
4:
  csrw hvip, zero
  CHECK_TRAP vs_trap, TR_CAUSE, CAUSE_INTERRUPT | (\irq - 1)
  CHECK_TRAP vs_trap, TR_COUNT, 1
  csrr a0, vscause
  CHECK a0, CAUSE_INTERRUPT | (\irq - 1)
  .endr

  TEST 5                        /* vsip/vsie from M/HS: delegated bits follow hvip and hie */
  li a0, MIP_VSSIP
  csrw hvip, a0
  csrr a1, vsip
  CHECK a1, MIP_SSIP
  li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw vsie, a0
  csrr a1, hie
  andi a1, a1, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  CHECK a1, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  li a0, MIP_VSSIP
  csrc hideleg, a0              /* not delegated: vsip/vsie read zero there */
  csrr a1, vsip
  CHECK a1, 0
  csrr a1, vsie
  andi a1, a1, MIP_SSIP
  CHECK a1, 0
  li a0, MIP_VSSIP
  csrs hideleg, a0
  csrw hvip, zero
  csrw vsie, zero

  TEST 6                        /* in VU the VS interrupt is taken even with vsstatus.SIE = 0 */
  CLEAR_TRAP vs_trap
  li a0, MIP_SSIP
  csrw vsie, a0
  csrw vsstatus, zero
  li a0, MIP_VSSIP
  csrw hvip, a0
  EXPECT_TRAP_TO_HANDLER 1f     /* set before VU starts: the interrupt comes at once */
  ENTER_VU 2f
2:
  nop
  nop
  FAIL
1:
  RETURN_TO_M 4f                /* the VS handler returned to VS */
4:
  csrw hvip, zero
  csrw vsie, zero
  CHECK_TRAP vs_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_SOFT
  CHECK_TRAP_ADDR vs_trap, TR_EPC, 2b
  LOAD_TRAP a0, vs_trap, TR_STATUS
  andi a0, a0, MSTATUS_SPP
  CHECK a0, 0

  TEST 7                        /* delegated to VS: never taken in HS, even with sstatus.SIE = 1 */
  CLEAR_TRAP s_trap
  CLEAR_TRAP vs_trap
  li a0, MIP_SSIP
  csrw vsie, a0
  li a0, MIP_VSSIP
  csrw hvip, a0
  ENTER_S 3f
3:
  csrsi sstatus, MSTATUS_SIE
  nop
  nop
  csrci sstatus, MSTATUS_SIE
  RETURN_TO_M 4f
4:
  CHECK_TRAP s_trap, TR_COUNT, 0
  CHECK_TRAP vs_trap, TR_COUNT, 0
  csrw hvip, zero
  csrw vsie, zero

  /* --- into HS (hideleg clear) ----------------------------------------------------------------------------- */
  csrw hideleg, zero
  .irp irq, IRQ_VS_SOFT, IRQ_VS_TIMER, IRQ_VS_EXT
  TEST 8 + \irq / 4             /* 8, 9, 10 */
  CLEAR_TRAP s_trap
  CLEAR_TRAP vs_trap
  li a0, 1 << \irq
  csrw hie, a0
  csrw hvip, a0
  li a0, MSTATUS_SIE
  csrc mstatus, a0              /* HS's SIE = 0: V = 1 code is interrupted anyway */
  EXPECT_TRAP_TO_HANDLER 1f
  ENTER_VS 2f
2:
  nop
  nop
  FAIL
1:
  RETURN_TO_M 4f                /* the HS handler returned to HS */
4:
  csrw hvip, zero
  csrw hie, zero
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | \irq
  LOAD_TRAP a0, s_trap, TR_HSTATUS
  andi a0, a0, HSTATUS_SPV
  CHECK a0, HSTATUS_SPV
  CHECK_TRAP vs_trap, TR_COUNT, 0
  .endr

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
