/*
 * Virtual-instruction exceptions (cause 22; privileged spec 8.6.1): instructions that would be legal in HS/U but
 * are not allowed with V = 1 trap as "virtual instruction" so the hypervisor can emulate them, while instructions
 * that are illegal even for HS (M-level CSRs) stay illegal instructions (cause 2). mtval is zero or the
 * instruction bits. Cause 22 cannot be delegated to VS; here it goes to M (and once, via medeleg, to HS).
 * Checked: VS access to hypervisor and VS CSRs (hstatus, hgatp, vsstatus by name), VS access to an M CSR
 * (illegal), HLV/HSV/HFENCE in VS and HLV in VU, WFI in VS with hstatus.VTW = 1, SRET in VS with VTSR = 1,
 * SFENCE.VMA in VS with VTVM = 1, WFI and hypervisor CSRs in VU, a counter with hcounteren clear and mcounteren
 * set; and that the same instructions work with those controls clear.
 *
 * Left out because QEMU 7.2 differs (checked in isa/axvisor/strict-h.S): in VU, supervisor CSRs, SRET,
 * SFENCE.VMA and HFENCE raise illegal instead of virtual instruction; satp access in VS with VTVM = 1 does not
 * trap; after HLV/HSV/HLVX/HFENCE virtual-instruction traps mtval holds a stale value (so mtval is checked only
 * for the others).
 */
#include "isa-test.h"

  .option norvc

/* Run `insn` in VS (vu = 0) or VU (vu = 1); it must trap to M with `cause` and, if tval = 1, mtval 0 or its
   bits. */
.macro EXPECT_V cause, vu, tval, insn:vararg
  CLEAR_TRAP m_trap
  .if \vu
  ENTER_VU .Lin\@
  .else
  ENTER_VS .Lin\@
  .endif
.Lin\@:
  EXPECT_TRAP_TO_HANDLER .Lback\@
.Linsn\@:
  \insn
  FAIL
.Lback\@:
  CHECK_TRAP m_trap, TR_CAUSE, \cause
  CHECK_TRAP_ADDR m_trap, TR_EPC, .Linsn\@
  .if \tval
  LOAD_TRAP a7, m_trap, TR_TVAL
  beqz a7, .Ltval\@
  la a6, .Linsn\@
  lwu a6, 0(a6)
  CHECK_REG a7, a6
.Ltval\@:
  .endif
  LOAD_TRAP a7, m_trap, TR_STATUS
  li a6, MSTATUS_MPV
  and a7, a7, a6
  CHECK_REG a7, a6
.endm

/* `insn` runs in VS (or VU) without trapping. */
.macro WORKS_IN_V vu, insn:vararg
  CLEAR_TRAP m_trap
  .if \vu
  ENTER_VU .Lin\@
  .else
  ENTER_VS .Lin\@
  .endif
.Lin\@:
  \insn
  RETURN_TO_M .Lback\@
.Lback\@:
  .if \vu
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_USER_ECALL
  .else
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_VIRTUAL_SUPERVISOR_ECALL
  .endif
  CHECK_TRAP m_trap, TR_COUNT, 1
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U
  csrw hstatus, zero

  /* --- CSRs --------------------------------------------------------------------------------------- */
  TEST 1
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, csrr a0, hstatus
  TEST 2
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, csrw hgatp, zero
  TEST 3
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, csrr a0, vsstatus
  TEST 4
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, csrr a0, hvip
  TEST 5                        /* M-level CSRs are illegal even for HS: illegal instruction */
  EXPECT_V CAUSE_ILLEGAL_INSTRUCTION, 0, 1, csrr a0, mstatus
  TEST 6
  EXPECT_V CAUSE_ILLEGAL_INSTRUCTION, 0, 1, csrr a0, CSR_MTVAL2
  TEST 8                        /* VU: hypervisor and VS CSRs */
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 1, 1, csrr a0, hstatus
  TEST 9
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 1, 1, csrr a0, vsscratch
  TEST 10                       /* and S CSRs work in VS */
  WORKS_IN_V 0, csrr a0, sstatus

  /* --- hypervisor instructions ------------------------------------------------------------------------- */
  TEST 11
  la a1, scratch
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 0, hlv.d a0, (a1)
  TEST 12
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 0, hsv.w a0, (a1)
  TEST 13
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 0, hlvx.wu a0, (a1)
  TEST 14
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 0, hfence.vvma
  TEST 15
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 0, hfence.gvma
  TEST 16
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 1, 0, hlv.w a0, (a1)
  TEST 18
  li a0, HSTATUS_VTW
  csrs hstatus, a0
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, wfi
  li a0, HSTATUS_VTW
  csrc hstatus, a0
  TEST 19
  li a0, HSTATUS_VTSR
  csrs hstatus, a0
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, sret
  li a0, HSTATUS_VTSR
  csrc hstatus, a0
  TEST 21
  li a0, HSTATUS_VTVM
  csrs hstatus, a0
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, sfence.vma
  li a0, HSTATUS_VTVM
  csrc hstatus, a0
  TEST 22                       /* with VTVM clear, satp (vsatp) and SFENCE.VMA work in VS */
  WORKS_IN_V 0, csrr a0, satp
  TEST 23
  WORKS_IN_V 0, sfence.vma
  TEST 25                       /* VU: WFI (mstatus.TW = 0) */
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 1, 1, wfi
  TEST 27                       /* mstatus.TW = 1 turns WFI in VS into an illegal instruction instead */
  li a0, MSTATUS_TW
  csrs mstatus, a0
  EXPECT_V CAUSE_ILLEGAL_INSTRUCTION, 0, 1, wfi
  li a0, MSTATUS_TW
  csrc mstatus, a0

  /* --- counters ------------------------------------------------------------------------------------ */
  TEST 28                       /* hcounteren.CY = 0 while mcounteren.CY = 1: virtual instruction */
  li a0, 7
  csrw mcounteren, a0
  li a0, 6
  csrw hcounteren, a0
  EXPECT_V CAUSE_VIRTUAL_INSTRUCTION, 0, 1, rdcycle a0
  TEST 29                       /* mcounteren.CY = 0: illegal instruction */
  li a0, 6
  csrw mcounteren, a0
  EXPECT_V CAUSE_ILLEGAL_INSTRUCTION, 0, 1, rdcycle a0
  li a0, 7
  csrw mcounteren, a0
  csrw hcounteren, a0
  TEST 30
  WORKS_IN_V 0, rdcycle a0

  /* --- a virtual-instruction exception delegated by medeleg goes to HS -------------------------------- */
  TEST 31
  la a0, s_trap_entry
  csrw stvec, a0
  la a0, isa_s_save
  csrw sscratch, a0
  li a0, 1 << CAUSE_VIRTUAL_INSTRUCTION
  csrw medeleg, a0
  csrw hedeleg, a0              /* read-only zero there: cause 22 cannot go to VS */
  CLEAR_TRAP s_trap
  ENTER_VS 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
2:
  csrr a0, hstatus
  FAIL
1:
  RETURN_TO_M 4f
4:
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_VIRTUAL_INSTRUCTION
  CHECK_TRAP_ADDR s_trap, TR_EPC, 2b
  LOAD_TRAP a0, s_trap, TR_HSTATUS
  li a1, HSTATUS_SPV
  and a0, a0, a1
  CHECK_REG a0, a1
  csrw medeleg, zero
  csrw hedeleg, zero

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 8
scratch:
  .dword 0
TEST_DATA_END
