/*
 * axvisor-specific two-stage translation checks where QEMU 7.2 differs from the spec (the fixture is
 * common/h-tables.inc with G-stage Sv39x4):
 * - Sv39x4 guest physical addresses are 41 bits: GPA bit 40 is an ordinary address bit (root index >= 1024),
 *   not a sign bit (QEMU 7.2 raises a guest-page fault);
 * - a G-stage fault on the implicit VS-stage table read is a guest-page fault of the original access type:
 *   store/AMO (23) for a store, instruction (20) for a fetch (QEMU 7.2 always reports a load, 21);
 * - MXR per stage: vsstatus.MXR makes execute-only pages readable at the VS stage only, the HS-level
 *   mstatus/sstatus.MXR at both stages (QEMU 7.2 applies vsstatus.MXR to both and ignores the HS-level bit);
 * - HLVX.WU/HU read execute-only memory (QEMU 7.2 raises a load access fault);
 * - HLV/HLVX/HSV apply the VS-stage permissions (8.3.1): HLV on an execute-only page is a load page fault,
 *   HLVX on a non-executable page too, a U page needs vsstatus.SUM with SPVP = 1, SPVP = 0 cannot reach
 *   supervisor pages; a fault taken into M sets mstatus.GVA (mtval holds a guest virtual address) (QEMU 7.2
 *   skips these checks, reports an access fault for the execute-only page and leaves GVA clear).
 *
 * QEMU-SKIP: QEMU 7.2 rejects GPA bit 40 in Sv39x4, reports walk faults as loads, mixes the MXR bits and
 * gets HLV/HLVX permission checks and GVA wrong
 */
#include "isa-test.h"

  .option norvc

#define G_LEVELS 3
#include "h-tables.inc"

#define GPA_TOP 0x10000000000 /* bit 40 */

/* A fault of an HLV/HSV executed in HS, taken into M: cause, mtval = the GVA, mstatus.GVA = 1, MPV = 0. */
.macro CHECK_HLV_FAULT cause, gva
  CHECK_TRAP m_trap, TR_CAUSE, \cause
  CHECK_TRAP m_trap, TR_TVAL, \gva
  LOAD_TRAP a7, m_trap, TR_STATUS
  li a6, MSTATUS_GVA | MSTATUS_MPV
  and a7, a7, a6
  CHECK a7, MSTATUS_GVA
.endm
#define GVA_TOP 0x1000a000

TEST_CODE_BEGIN
  REQUIRE_MISA MISA_H | MISA_S | MISA_U
  BUILD_H_TABLES
  G_MAP_LABEL GPA_TOP, page_g2, PTE_V | PTE_R | PTE_U | PTE_A, 0
  VS_MAP GVA_TOP, GPA_TOP, PTE_V | PTE_R | PTE_A, 0
  hfence.gvma
  hfence.vvma

  TEST 1                        /* GPA bit 40 */
  PROBE_VS vs_ld, GVA_TOP + 8
  PROBE_OK
  CHECK a0, 0x2222222200000008

  TEST 2                        /* a store whose VS-stage walk faults at the G stage: cause 23 */
  li a2, 1
  PROBE_VS vs_sd, GVA_BADWALK
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_STORE_GUEST_PAGE_FAULT
  CHECK_TRAP m_trap, TR_TVAL, GVA_BADWALK
  CHECK_TRAP m_trap, TR_TVAL2, (GPA_UNMAPPED + 8) >> 2
  TEST 3                        /* a fetch likewise: cause 20 */
  PROBE_VS vs_jr, GVA_BADWALK
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_FETCH_GUEST_PAGE_FAULT
  CHECK_TRAP m_trap, TR_TVAL, GVA_BADWALK
  CHECK_TRAP m_trap, TR_TVAL2, (GPA_UNMAPPED + 8) >> 2

  TEST 4                        /* vsstatus.MXR alone: the VS stage lets the load through, the G stage not */
  li a0, MSTATUS_MXR
  csrw vsstatus, a0
  PROBE_VS vs_lwu, GVA_XO
  CHECK_TRAP m_trap, TR_CAUSE, CAUSE_LOAD_GUEST_PAGE_FAULT
  CHECK_TRAP m_trap, TR_TVAL, GVA_XO
  CHECK_TRAP m_trap, TR_TVAL2, GPA_XO >> 2
  TEST 5                        /* the HS-level MXR alone: readable at both stages */
  csrw vsstatus, zero
  li a0, MSTATUS_MXR
  csrs mstatus, a0
  PROBE_VS vs_lwu, GVA_XO
  PROBE_OK
  li a0, MSTATUS_MXR
  csrc mstatus, a0

  TEST 6                        /* HLVX on an execute-only page (GVA_XO: X only at both stages) */
  li a0, HSTATUS_SPVP
  csrs hstatus, a0
  li a1, GVA_XO
  hlvx.wu a0, (a1)
  la a2, gx_code
  lwu a2, 0(a2)
  CHECK_REG a0, a2

  /* HLV permission checks, from HS; faults go to M (mtval = GVA, GVA = 1) and come back to HS */
  ENTER_S 3f
3:
  TEST 7                        /* HLV on an execute-only page: load page fault */
  CLEAR_TRAP m_trap
  li a1, GVA_XO
  EXPECT_TRAP 1f
  hlv.w a0, (a1)
  FAIL
1:
  CHECK_HLV_FAULT CAUSE_LOAD_PAGE_FAULT, GVA_XO
  TEST 8                        /* HLVX on a readable page without X: load page fault */
  CLEAR_TRAP m_trap
  li a1, GVA_HIGH
  EXPECT_TRAP 1f
  hlvx.wu a0, (a1)
  FAIL
1:
  CHECK_HLV_FAULT CAUSE_LOAD_PAGE_FAULT, GVA_HIGH
  TEST 9                        /* SPVP = 1 without vsstatus.SUM: a U page faults */
  csrw vsstatus, zero
  CLEAR_TRAP m_trap
  li a1, GVA_USER
  EXPECT_TRAP 1f
  hlv.d a0, (a1)
  FAIL
1:
  CHECK_HLV_FAULT CAUSE_LOAD_PAGE_FAULT, GVA_USER
  TEST 10                       /* SPVP = 0: a supervisor page faults, for HSV as a store */
  li a0, HSTATUS_SPVP
  csrc hstatus, a0
  CLEAR_TRAP m_trap
  li a1, GVA_HIGH
  EXPECT_TRAP 1f
  hsv.d a0, (a1)
  FAIL
1:
  CHECK_HLV_FAULT CAUSE_STORE_PAGE_FAULT, GVA_HIGH
  TEST 11                       /* a G-stage fault of HLV taken into M: mtval2 and GVA */
  li a0, HSTATUS_SPVP
  csrs hstatus, a0
  CLEAR_TRAP m_trap
  li a1, GVA_UNMAPPED + 0x10
  EXPECT_TRAP 1f
  hlv.d a0, (a1)
  FAIL
1:
  CHECK_HLV_FAULT CAUSE_LOAD_GUEST_PAGE_FAULT, GVA_UNMAPPED + 0x10
  CHECK_TRAP m_trap, TR_TVAL2, (GPA_UNMAPPED + 0x10) >> 2
  RETURN_TO_M 4f
4:

  csrw hgatp, zero
  csrw vsatp, zero
  TEST_PASS
  H_TABLES_CODE
TEST_CODE_END

TEST_DATA_BEGIN
  H_TABLES_DATA
TEST_DATA_END
  H_TABLES_BSS
