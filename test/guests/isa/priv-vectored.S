/*
 * Vectored trap vectors (privileged spec 3.1.7 mtvec, 4.1.2 stvec): with MODE = 1, exceptions go to BASE and an
 * interrupt with cause n goes to BASE + 4 * n; direct mode (MODE = 0) sends everything to BASE.
 * Each vector slot records its index in `m_slot` / `s_slot` and then runs the framework handler.
 * Checked for M (ecall; MSI via the CLINT; MTI; SSI, STI and SEI left undelegated through mip) and for S (a
 * delegated SSI and STI; a delegated exception). The tables are 256-byte aligned, which any BASE alignment an
 * implementation may require for vectored mode up to 64 entries satisfies.
 */
#include "isa-test.h"

  .option norvc

/* Vector table with 16 slots; slot i records i in `slot_var`, then jumps to `handler`. */
.macro VECTOR_TABLE name, slot_var, handler, scratch_csr
  .balign 256
\name:
  .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
  j \name\()_slot\i
  .endr
  .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
\name\()_slot\i:
  csrrw sp, \scratch_csr, sp
  sd t0, 24(sp)
  sd t1, 32(sp)
  la t0, \slot_var
  li t1, \i
  sd t1, 0(t0)
  ld t0, 24(sp)
  ld t1, 32(sp)
  csrrw sp, \scratch_csr, sp
  j \handler
  .endr
.endm

/* Take one M interrupt (pending bit already set) through the vectored mtvec and check slot and cause. */
.macro TAKE_M_IRQ irq
  li a0, 1 << \irq
  csrw mie, a0
  EXPECT_TRAP_TO_HANDLER .Ltaken\@
  csrsi mstatus, MSTATUS_MIE
  li a2, 100000
.Lwait\@:
  addi a2, a2, -1
  bnez a2, .Lwait\@
  FAIL
.Ltaken\@:
  csrw mie, zero
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | \irq
  la a0, m_slot
  ld a0, 0(a0)
  CHECK a0, \irq
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S
  csrw mie, zero
  li a0, -1
  li a1, CLINT_MTIMECMP
  sd a0, 0(a1)

  TEST 1                        /* vectored mtvec reads back with MODE = 1 */
  la a0, m_vectors
  ori a0, a0, 1
  csrw mtvec, a0
  csrr a1, mtvec
  CHECK_REG a1, a0

  TEST 2                        /* an exception goes to BASE (slot 0) */
  la a0, m_slot
  li a1, -1
  sd a1, 0(a0)
  CLEAR_TRAP m_trap
  EXPECT_TRAP 1f
  ecall
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_MACHINE_ECALL
  la a0, m_slot
  ld a0, 0(a0)
  CHECK a0, 0

  TEST 3                        /* MSI -> slot 3 */
  li a0, CLINT_MSIP
  li a1, 1
  sw a1, 0(a0)
  TAKE_M_IRQ IRQ_M_SOFT
  li a0, CLINT_MSIP
  sw zero, 0(a0)

  TEST 4                        /* MTI -> slot 7 */
  li a1, CLINT_MTIMECMP
  sd zero, 0(a1)
  TAKE_M_IRQ IRQ_M_TIMER
  li a0, -1
  li a1, CLINT_MTIMECMP
  sd a0, 0(a1)

  TEST 5                        /* undelegated SSI -> slot 1, STI -> slot 5, SEI -> slot 9 */
  csrw mideleg, zero
  li a0, MIP_SSIP
  csrs mip, a0
  TAKE_M_IRQ IRQ_S_SOFT
  li a0, MIP_SSIP
  csrc mip, a0
  TEST 6
  li a0, MIP_STIP
  csrs mip, a0
  TAKE_M_IRQ IRQ_S_TIMER
  li a0, MIP_STIP
  csrc mip, a0
  TEST 7
  li a0, MIP_SEIP
  csrs mip, a0
  TAKE_M_IRQ IRQ_S_EXT
  li a0, MIP_SEIP
  csrc mip, a0

  TEST 8                        /* direct mode again: an interrupt goes to BASE */
  la a0, m_vectors
  csrw mtvec, a0
  la a0, m_slot
  li a1, -1
  sd a1, 0(a0)
  li a0, MIP_SSIP
  csrs mip, a0
  csrw mie, a0
  EXPECT_TRAP_TO_HANDLER 1f
  csrsi mstatus, MSTATUS_MIE
  FAIL
1:
  csrw mie, zero
  li a0, MIP_SSIP
  csrc mip, a0
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_SOFT
  la a0, m_slot
  ld a0, 0(a0)
  CHECK a0, 0
  la a0, isa_m_trap_entry
  csrw mtvec, a0

  /* --- S-mode vectored stvec ------------------------------------------------------------------------- */
  la a0, s_vectors
  ori a0, a0, 1
  csrw stvec, a0
  la a0, isa_s_save
  csrw sscratch, a0
  li a0, MIP_SSIP | MIP_STIP
  csrw mideleg, a0
  li a0, 1 << CAUSE_BREAKPOINT
  csrw medeleg, a0

  TEST 9                        /* stvec reads back with MODE = 1 */
  csrr a1, stvec
  la a0, s_vectors
  ori a0, a0, 1
  CHECK_REG a1, a0

  TEST 10                       /* a delegated SSI -> S slot 1 */
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  li a0, MIP_SSIP
  csrw sie, a0
  csrs sip, a0
  EXPECT_TRAP_TO_HANDLER 1f
  csrsi sstatus, MSTATUS_SIE
  FAIL
1:
  csrw sie, zero
  li a0, MIP_SSIP
  csrc sip, a0
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_SOFT
  la a0, s_slot
  ld a0, 0(a0)
  CHECK a0, IRQ_S_SOFT

  TEST 11                       /* a delegated STI (pending bit set by M) -> S slot 5 */
  RETURN_TO_M 4f
4:
  li a0, MIP_STIP
  csrs mip, a0
  ENTER_S 3f
3:
  li a0, MIP_STIP
  EXPECT_TRAP_TO_HANDLER 1f
  csrw sie, a0
  csrsi sstatus, MSTATUS_SIE
  FAIL
1:
  csrw sie, zero
  RETURN_TO_M 4f
4:
  li a0, MIP_STIP
  csrc mip, a0
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_INTERRUPT | IRQ_S_TIMER
  la a0, s_slot
  ld a0, 0(a0)
  CHECK a0, IRQ_S_TIMER

  TEST 12                       /* a delegated exception -> S BASE (slot 0) */
  ENTER_S 3f
3:
  EXPECT_TRAP_TO_HANDLER 1f
  ebreak
  FAIL
1:
  RETURN_TO_M 4f
4:
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_BREAKPOINT
  la a0, s_slot
  ld a0, 0(a0)
  CHECK a0, 0

  csrw medeleg, zero
  csrw mideleg, zero
  TEST_PASS

  VECTOR_TABLE m_vectors, m_slot, isa_m_trap_entry, mscratch
  VECTOR_TABLE s_vectors, s_slot, s_trap_entry, sscratch
TEST_CODE_END

TEST_DATA_BEGIN
m_slot:
  .dword -1
s_slot:
  .dword -1
TEST_DATA_END
