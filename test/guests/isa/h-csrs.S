/*
 * Hypervisor extension CSRs (privileged spec 1.12 chapter 8, H 1.0): which bits exist and how the VS CSRs stand
 * in for the S CSRs when V = 1.
 * - mideleg bits 2, 6, 10 (VS-level interrupts) read-only one;
 * - hedeleg: bits 0-8, 12, 13, 15 writable, bits 9, 10, 11, 20-23 read-only zero (table 8.2);
 * - hideleg: bits 2, 6, 10 writable, bits 1, 5, 9, 12 read-only zero; hvip: only 2, 6, 10 writable;
 *   hip.VSSIP is an alias of hvip.VSSIP (and of mip bit 2); hie's S-level bits read-only zero;
 * - hstatus fields read back; VSXL = 2 (RV64);
 * - mstatus.MPV and GVA are writable; mtval2/mtinst/htval/htinst are accessible;
 * - hgatp: Sv39x4 and Bare read back;
 * - the VS CSRs are readable and writable from HS, and in VS-mode the S CSR numbers reach them (sscratch is
 *   vsscratch, sstatus is vsstatus), leaving the HS copies alone.
 *
 * Left out because QEMU 7.2 differs: "A write to hgatp with an unsupported MODE value is not ignored as it is
 * for satp. Instead, the fields of hgatp are WARL in the normal way" (8.2.18), so MODE never reads back a
 * reserved value; QEMU 7.2 stores it. Checked in isa/axvisor/strict-h.S.
 */
#include "isa-test.h"

  .option norvc

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U

  TEST 1                        /* mideleg: the VS interrupt bits are read-only one */
  csrw mideleg, zero
  csrr a0, mideleg
  andi a0, a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  CHECK a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP

  TEST 2                        /* hedeleg */
  li a0, -1
  csrw hedeleg, a0
  csrr a0, hedeleg
  csrw hedeleg, zero
  li a1, 0x1ff | (1 << 12) | (1 << 13) | (1 << 15)
  and a2, a0, a1
  CHECK_REG a2, a1
  li a1, (1 << 9) | (1 << 10) | (1 << 11) | (0xf << 20)
  and a2, a0, a1
  CHECK a2, 0

  TEST 3                        /* hideleg */
  li a0, -1
  csrw hideleg, a0
  csrr a0, hideleg
  csrw hideleg, zero
  li a1, 0xffff
  and a0, a0, a1
  CHECK a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP

  TEST 4                        /* hvip */
  li a0, -1
  csrw hvip, a0
  csrr a0, hvip
  csrw hvip, zero
  li a1, 0xffff
  and a0, a0, a1
  CHECK a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP

  TEST 5                        /* hip.VSSIP = hvip.VSSIP = mip bit 2 */
  li a0, MIP_VSSIP
  csrs hip, a0
  csrr a1, hvip
  andi a1, a1, MIP_VSSIP
  CHECK a1, MIP_VSSIP
  csrr a1, mip
  andi a1, a1, MIP_VSSIP
  CHECK a1, MIP_VSSIP
  csrc mip, a0
  csrr a1, hvip
  CHECK a1, 0
  TEST 6                        /* hvip.VSTIP/VSEIP show in hip (where they are read-only) */
  li a0, MIP_VSTIP | MIP_VSEIP
  csrw hvip, a0
  csrr a1, hip
  andi a1, a1, MIP_VSTIP | MIP_VSEIP
  CHECK a1, MIP_VSTIP | MIP_VSEIP
  csrw hvip, zero

  TEST 7                        /* hie: VS bits writable (aliases of mie), S bits read-only zero */
  li a0, -1
  csrw hie, a0
  csrr a0, hie
  csrr a1, mie
  csrw hie, zero
  andi a2, a0, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  CHECK a2, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  li a2, MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_MSIP | MIP_MTIP | MIP_MEIP
  and a2, a0, a2
  CHECK a2, 0
  andi a1, a1, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  CHECK a1, MIP_VSSIP | MIP_VSTIP | MIP_VSEIP
  csrw mie, zero

  TEST 8                        /* hstatus fields */
  li a0, HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM | HSTATUS_VTW | HSTATUS_VTSR | HSTATUS_GVA
  csrs hstatus, a0
  csrr a1, hstatus
  and a2, a1, a0
  CHECK_REG a2, a0
  csrc hstatus, a0
  csrr a1, hstatus
  and a2, a1, a0
  CHECK a2, 0
  srli a1, a1, 32
  andi a1, a1, 3
  CHECK a1, 2                   /* VSXL: 64-bit VS-mode */

  TEST 9                        /* mstatus.MPV and GVA */
  li a0, MSTATUS_MPV | MSTATUS_GVA
  csrs mstatus, a0
  csrr a1, mstatus
  csrc mstatus, a0
  and a1, a1, a0
  CHECK_REG a1, a0

  TEST 10                       /* the H trap-value CSRs are accessible; each is WARL and "need only hold the
                                   values the implementation may write" (8.2.12, 8.2.13), possibly only zero:
                                   a value read back is either zero or what was written */
  .irp csr, htval, CSR_MTVAL2, htinst, CSR_MTINST
  li a0, 0x00002503
  csrw \csr, a0
  csrr a1, \csr
  beqz a1, 1f
  CHECK_REG a1, a0
1:
  .endr

  TEST 11                       /* hgatp: Sv39x4 and Bare read back */
  la a0, g_root
  srli a0, a0, PAGE_SHIFT
  li a1, HGATP_MODE_SV39X4 << SATP_MODE_SHIFT
  or a0, a0, a1
  csrw hgatp, a0
  csrr a1, hgatp
  CHECK_REG a1, a0
  csrw hgatp, zero
  csrr a1, hgatp
  CHECK a1, 0

  TEST 12                       /* VS CSRs from HS-level code (here M) */
  .irp csr, vstvec, vsscratch, vsepc, vstval
  li a0, 0x0000003fffff0000
  csrw \csr, a0
  csrr a1, \csr
  CHECK_REG a1, a0
  .endr
  li a0, 0x8000000000000005
  csrw vscause, a0
  csrr a1, vscause
  CHECK_REG a1, a0
  li a0, MSTATUS_SUM | MSTATUS_MXR
  csrw vsstatus, a0
  csrr a1, vsstatus
  and a1, a1, a0
  CHECK_REG a1, a0
  csrr a1, sstatus              /* the HS copy is separate */
  and a1, a1, a0
  CHECK a1, 0

  TEST 13                       /* in VS-mode, sscratch and sstatus are vsscratch and vsstatus */
  li a0, 0x1234
  csrw vsscratch, a0
  li a0, 0x9999
  csrw sscratch, a0
  csrw vsstatus, zero
  ENTER_VS 3f
3:
  csrr a0, sscratch
  li a1, 0x5678
  csrw sscratch, a1
  li a1, MSTATUS_SUM
  csrs sstatus, a1
  RETURN_TO_M 1f
1:
  CHECK a0, 0x1234
  csrr a0, vsscratch
  CHECK a0, 0x5678
  csrr a0, sscratch
  CHECK a0, 0x9999
  csrr a0, vsstatus
  li a1, MSTATUS_SUM
  and a0, a0, a1
  CHECK_REG a0, a1
  csrr a0, sstatus
  and a0, a0, a1
  CHECK a0, 0
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_VIRTUAL_SUPERVISOR_ECALL
  LOAD_TRAP a0, m_trap, TR_STATUS
  li a1, MSTATUS_MPV
  and a0, a0, a1
  CHECK_REG a0, a1              /* the ecall came from V = 1 */

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
  .bss
  .balign 16384
g_root:
  .fill 2048, 8, 0
