/*
 * Machine-level CSR fields and their WARL/WPRI rules (privileged spec 3.1.1 misa, 3.1.6 mstatus, 3.1.7 mtvec,
 * 3.1.9 mip/mie, 4.1.1 sstatus):
 * - misa: MXL = 2 (RV64) and the I, M, A, C, S, U bits of this RV64GC hart;
 * - mstatus written with all ones: the implemented fields read back set (SIE MIE SPIE MPIE SPP MPP=M FS SUM MXR
 *   MPRV TVM TW TSR, SD because FS is dirty), and no WPRI bit; UXL = SXL = 2 (the only legal value on this hart,
 *   so a write of 0 reads back 2);
 * - MPP holds U, S and M;
 * - sstatus is a restricted view: it shows no M-only field, and writing it changes no M-only field;
 * - mtvec: the reserved MODE values (>= 2) never read back;
 * - mie: the standard M and S interrupt-enable bits are writable; mip: MSIP/MTIP/MEIP are not writable by csrw.
 *
 * Left out because QEMU 7.2 differs (checked in isa/axvisor/strict-priv.S): writing the reserved value 3 to UXL
 * (WARL) reads back 3, and MPP, which "can hold only privilege mode x and any implemented privilege mode lower
 * than x" (3.1.6.1), holds the reserved value 2.
 */
#include "isa-test.h"

  .option norvc

#define MSTATUS_WPRI_RV64 ((1 << 0) | (1 << 2) | (1 << 4) | (0x1ff << 23) | (0x7fffff << 40))
#define MSTATUS_M_ONLY (MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | \
                        MSTATUS_TSR | MSTATUS_SXL | MSTATUS_MBE | MSTATUS_SBE | MSTATUS_GVA | MSTATUS_MPV)

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_S | MISA_U

  TEST 1                        /* misa */
  csrr a0, misa
  srli a1, a0, 62
  CHECK a1, 2
  li a1, MISA_I | MISA_M | MISA_A | MISA_C | MISA_S | MISA_U | MISA_F | MISA_D
  and a2, a0, a1
  CHECK_REG a2, a1

  TEST 2                        /* mstatus written with all ones (except UXL/SXL, see the header) */
  csrr s0, mstatus
  li a0, ~(MSTATUS_UXL | MSTATUS_SXL)
  csrw mstatus, a0
  csrr a1, mstatus
  csrw mstatus, s0
  li a2, MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | \
         MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_SD
  and a3, a1, a2
  CHECK_REG a3, a2
  TEST 3                        /* UXL = SXL = 2 (XLEN 64 in U and S), and writing zeros there kept them */
  srli a3, s0, 32
  andi a3, a3, 0xf
  CHECK a3, 0xa
  srli a3, a1, 32
  andi a3, a3, 0xf
  CHECK a3, 0xa
  TEST 4                        /* no WPRI bit reads back set */
  li a2, MSTATUS_WPRI_RV64
  and a3, a1, a2
  CHECK a3, 0
  TEST 5                        /* this hart is little-endian only: UBE/SBE/MBE read zero */
  li a2, MSTATUS_UBE | MSTATUS_SBE | MSTATUS_MBE
  and a3, a1, a2
  CHECK a3, 0

  TEST 7                        /* MPP holds each supported mode */
  .irp prv, PRV_U, PRV_S, PRV_M
  li a0, MSTATUS_MPP
  csrc mstatus, a0
  li a0, \prv << 11
  csrs mstatus, a0
  csrr a1, mstatus
  srli a1, a1, 11
  andi a1, a1, 3
  CHECK a1, \prv
  .endr

  TEST 8                        /* sstatus shows no M-only field */
  li a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrs mstatus, a0
  csrr a1, sstatus
  li a2, MSTATUS_M_ONLY
  and a3, a1, a2
  CHECK a3, 0
  TEST 9                        /* writing sstatus (all zeros, then all ones but UXL) leaves them alone */
  csrw sstatus, zero
  csrr a1, mstatus
  li a2, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  and a3, a1, a2
  CHECK_REG a3, a2
  li a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrc mstatus, a0
  li a0, ~MSTATUS_UXL
  csrw sstatus, a0
  csrr a1, mstatus
  and a3, a1, a2
  CHECK a3, 0
  TEST 10                       /* ... while the S fields do change through it */
  csrr a1, sstatus
  li a2, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_FS
  and a3, a1, a2
  CHECK_REG a3, a2
  srli a3, a1, 32               /* UXL is visible in sstatus */
  andi a3, a3, 3
  CHECK a3, 2
  csrw mstatus, s0

  TEST 11                       /* mtvec: a reserved MODE never reads back */
  csrr s1, mtvec
  la a0, aligned_vector
  ori a0, a0, 2
  csrw mtvec, a0
  csrr a1, mtvec
  csrw mtvec, s1
  andi a1, a1, 3
  li a2, 2
  beq a1, a2, fail_fields
  TEST 12                       /* direct and vectored do */
  la a0, aligned_vector
  csrw mtvec, a0
  csrr a1, mtvec
  CHECK_REG a1, a0
  ori a0, a0, 1
  csrw mtvec, a0
  csrr a1, mtvec
  csrw mtvec, s1
  CHECK_REG a1, a0

  TEST 13                       /* mie: the M and S enable bits are writable */
  li a0, -1
  csrw mie, a0
  csrr a1, mie
  csrw mie, zero
  li a2, MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP
  and a3, a1, a2
  CHECK_REG a3, a2
  TEST 14                       /* mip: the M-level pending bits are not writable (they come from devices) */
  csrr a0, mip
  li a2, MIP_MSIP | MIP_MEIP
  and s2, a0, a2
  li a0, -1
  csrw mip, a0
  csrr a1, mip
  csrw mip, zero
  and a3, a1, a2
  CHECK_REG a3, s2
  TEST 15                       /* ... while SSIP/STIP/SEIP are (menvcfg.STCE = 0) */
  li a2, MIP_SSIP | MIP_STIP | MIP_SEIP
  and a3, a1, a2
  CHECK_REG a3, a2

  TEST 16                       /* mscratch, sscratch, mepc, mtval, stval hold 64-bit values */
  csrr s1, mscratch
  li a0, 0xa5a5a5a55a5a5a5a
  csrw mscratch, a0
  csrr a1, mscratch
  csrw mscratch, s1
  CHECK_REG a1, a0
  csrw sscratch, a0
  csrr a1, sscratch
  CHECK_REG a1, a0
  li a0, 0x0000003ffffffff0    /* a valid Sv39 address: mtval need not hold invalid ones */
  csrw mtval, a0
  csrr a1, mtval
  CHECK_REG a1, a0
  csrw stval, a0
  csrr a1, stval
  CHECK_REG a1, a0

  TEST_PASS
fail_fields:
  FAIL

  .balign 256
aligned_vector:
  j isa_m_trap_entry
TEST_CODE_END

TEST_DATA_BEGIN
TEST_DATA_END
