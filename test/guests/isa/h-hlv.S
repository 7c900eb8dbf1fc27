/*
 * Hypervisor virtual-machine load/store instructions (privileged spec 8.3.1): HLV.B/BU/H/HU/W/WU/D, HLVX.HU/WU
 * and HSV.B/H/W/D access memory as VS or VU would (two-stage translation with vsatp/hgatp; privilege from
 * hstatus.SPVP, vsstatus.SUM for VS), from M, HS, or U with hstatus.HU = 1.
 * - widths, sign and zero extension; stores of each width;
 * - HLVX reads executable memory;
 * - SPVP = 0 accesses as VU, SPVP = 1 as VS (a VS-stage U page with vsstatus.SUM);
 * - a G-stage fault is a guest-page fault (mtval = the GVA or 0, mtval2 = GPA >> 2 or 0), taken in M or, when
 *   delegated, in HS (hstatus.GVA = 1 with a nonzero stval, SPV = 0);
 * - U-mode: allowed with hstatus.HU = 1, illegal instruction without.
 * Uses the fixture of common/h-tables.inc (G-stage Sv39x4).
 *
 * Left out because QEMU 7.2 differs (checked in isa/axvisor/strict-h-gstage.S): QEMU 7.2 does not apply the
 * VS-stage permission checks to HLV/HLVX/HSV (no fault for HLVX on non-executable pages, for U pages without
 * SUM, for supervisor pages with SPVP = 0), raises a load access fault instead of a page fault for execute-only
 * pages, cannot HLVX execute-only pages, and leaves mstatus.GVA clear when such a fault is taken into M.
 */
#include "isa-test.h"

  .option norvc

#define G_LEVELS 3
#include "h-tables.inc"

/* GVA of a label in the identity gigapage, seen through the read-only VS gigapage at GVA_1G */
.macro GVA_OF reg, label
  la \reg, \label
  li t4, 0x80000000 - GVA_1G
  sub \reg, \reg, t4
.endm

/* The last trap was a fault in M with this cause and mtval in {0, gva}. (mstatus.GVA is checked in
   strict-h-gstage.S: QEMU 7.2 leaves it clear for HLV/HSV faults taken from HS.) */
.macro HLV_FAULT_M cause, gva
  CHECK_TRAP m_trap, TR_CAUSE, \cause
  LOAD_TRAP a7, m_trap, TR_TVAL
  beqz a7, .Lok\@
  CHECK a7, \gva
.Lok\@:
.endm

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U
  BUILD_H_TABLES
  li a0, HSTATUS_SPVP
  csrs hstatus, a0              /* access as VS */
  ENTER_S hs_tests              /* tests 1-9 run in HS-mode, where a hypervisor uses these instructions; their
                                   faults go to M and come back to HS */
hs_tests:
  TEST 1                        /* HLV.D through both stages */
  li a1, GVA_HIGH + 8
  hlv.d a0, (a1)
  CHECK a0, 0x1111111100000008

  TEST 2                        /* widths and extension: hlv_data = 80 ff 00 80 ff ff ff 7f | 88 77 66 55 44 33 22 91 */
  GVA_OF a1, hlv_data
  hlv.b a0, (a1)
  CHECK a0, 0xffffffffffffff80
  hlv.bu a0, (a1)
  CHECK a0, 0x80
  addi a3, a1, 2
  hlv.h a0, (a3)
  CHECK a0, 0xffffffffffff8000
  addi a3, a1, 2
  hlv.hu a0, (a3)
  CHECK a0, 0x8000
  addi a3, a1, 4
  hlv.w a0, (a3)
  CHECK a0, 0x7fffffff
  addi a3, a1, 0
  hlv.w a0, (a3)
  CHECK a0, 0xffffffff8000ff80
  addi a3, a1, 0
  hlv.wu a0, (a3)
  CHECK a0, 0x8000ff80
  addi a3, a1, 8
  hlv.d a0, (a3)
  CHECK a0, 0x9122334455667788

  TEST 3                        /* HSV of each width (GVA_HIGH is writable at both stages) */
  li a1, GVA_HIGH + 0x20
  li a2, -1
  hsv.d a2, (a1)
  li a2, 0x0102030405060708
  addi a3, a1, 0
  hsv.b a2, (a3)
  addi a3, a1, 2
  hsv.h a2, (a3)
  addi a3, a1, 4
  hsv.w a2, (a3)
  la a0, page_g1
  ld a0, 0x20(a0)
  CHECK a0, 0x050607080708ff08
  addi a3, a1, 8
  hsv.d a2, (a3)
  la a0, page_g1
  ld a0, 0x28(a0)
  CHECK a0, 0x0102030405060708

  TEST 4                        /* HLVX reads executable memory: gx_code through the RWX identity mapping */
  la a1, gx_code
  hlvx.wu a0, (a1)
  lwu a2, 0(a1)
  CHECK_REG a0, a2
  hlvx.hu a0, (a1)
  lhu a2, 0(a1)
  CHECK_REG a0, a2
  TEST 7                        /* G-stage faults: load and store guest-page faults */
  CLEAR_TRAP m_trap
  li a1, GVA_UNMAPPED + 0x10
  EXPECT_TRAP 1f
  hlv.d a0, (a1)
  FAIL
1:
  HLV_FAULT_M CAUSE_LOAD_GUEST_PAGE_FAULT, GVA_UNMAPPED + 0x10
  LOAD_TRAP a0, m_trap, TR_TVAL2
  beqz a0, 2f
  CHECK a0, (GPA_UNMAPPED + 0x10) >> 2
2:
  CLEAR_TRAP m_trap
  li a1, GVA_RO + 8
  EXPECT_TRAP 1f
  hsv.w a0, (a1)
  FAIL
1:
  HLV_FAULT_M CAUSE_STORE_GUEST_PAGE_FAULT, GVA_RO + 8

  TEST 8                        /* SPVP = 1 (VS) with vsstatus.SUM reaches a VS-stage U page */
  li a0, MSTATUS_SUM
  csrw vsstatus, a0
  li a1, GVA_USER
  hlv.d a0, (a1)
  CHECK a0, 0x1111111111111111
  csrw vsstatus, zero
  TEST 9                        /* SPVP = 0 (VU) reaches it too */
  li a0, HSTATUS_SPVP
  csrc hstatus, a0
  li a1, GVA_USER + 8
  hlv.d a0, (a1)
  CHECK a0, 0x1111111100000008
  li a0, HSTATUS_SPVP
  csrs hstatus, a0

  RETURN_TO_M 1f
1:
  TEST 10                       /* a delegated fault goes to HS with hstatus.GVA = 1, SPV = 0 */
  la a0, s_trap_entry
  csrw stvec, a0
  la a0, isa_s_save
  csrw sscratch, a0
  li a0, 1 << CAUSE_LOAD_GUEST_PAGE_FAULT
  csrw medeleg, a0
  CLEAR_TRAP s_trap
  ENTER_S 3f
3:
  li a1, GVA_HIGH + 8
  hlv.d s4, (a1)
  li a1, GVA_UNMAPPED + 0x30
  EXPECT_TRAP 1f                /* the HS handler returns to HS */
  hlv.d a0, (a1)
  FAIL
1:
  RETURN_TO_M 4f
4:
  csrw medeleg, zero
  CHECK s4, 0x1111111100000008
  CHECK_TRAP s_trap, TR_CAUSE, CAUSE_LOAD_GUEST_PAGE_FAULT
  LOAD_TRAP a0, s_trap, TR_HSTATUS
  andi a1, a0, HSTATUS_SPV
  CHECK a1, 0
  LOAD_TRAP a1, s_trap, TR_TVAL
  beqz a1, 5f
  CHECK a1, GVA_UNMAPPED + 0x30
  andi a1, a0, HSTATUS_GVA
  CHECK a1, HSTATUS_GVA
5:
  LOAD_TRAP a1, s_trap, TR_TVAL2
  beqz a1, 6f
  CHECK a1, (GPA_UNMAPPED + 0x30) >> 2
6:

  TEST 11                       /* U-mode with hstatus.HU = 1 may use HLV */
  li a0, HSTATUS_HU
  csrs hstatus, a0
  ENTER_U 3f
3:
  li a1, GVA_HIGH + 8
  hlv.d s4, (a1)
  RETURN_TO_M 4f
4:
  CHECK s4, 0x1111111100000008
  TEST 12                       /* ... and without HU it is an illegal instruction */
  li a0, HSTATUS_HU
  csrc hstatus, a0
  CLEAR_TRAP m_trap
  ENTER_U 3f
3:
  li a1, GVA_HIGH + 8
  EXPECT_TRAP_TO_HANDLER 1f
  hlv.d a0, (a1)
  FAIL
1:
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_ILLEGAL_INSTRUCTION

  csrw hgatp, zero
  csrw vsatp, zero
  TEST_PASS
  H_TABLES_CODE
TEST_CODE_END

TEST_DATA_BEGIN
  H_TABLES_DATA
  .balign 16
hlv_data:
  .byte 0x80, 0xff, 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f
  .byte 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x91
TEST_DATA_END
  H_TABLES_BSS
