/*
 * axvisor-specific two-stage translation checks where QEMU 7.2 differs from the spec (the fixture is
 * common/h-tables.inc with G-stage Sv39x4):
 * - Sv39x4 guest physical addresses are 41 bits: GPA bit 40 is an ordinary address bit (root index >= 1024),
 *   not a sign bit (QEMU 7.2 raises a guest-page fault);
 * - a G-stage fault on the implicit VS-stage table read is a guest-page fault of the original access type:
 *   store/AMO (23) for a store, instruction (20) for a fetch (QEMU 7.2 always reports a load, 21);
 * - MXR per stage: vsstatus.MXR makes execute-only pages readable at the VS stage only, the HS-level
 *   mstatus/sstatus.MXR at both stages (QEMU 7.2 applies vsstatus.MXR to both and ignores the HS-level bit).
 *
 * QEMU-SKIP: QEMU 7.2 rejects GPA bit 40 in Sv39x4, reports walk faults as loads and mixes the MXR bits
 */
#include "isa-test.h"

  .option norvc

#define G_LEVELS 3
#include "h-tables.inc"

#define GPA_TOP 0x10000000000 /* bit 40 */
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

  csrw hgatp, zero
  csrw vsatp, zero
  TEST_PASS
  H_TABLES_CODE
TEST_CODE_END

TEST_DATA_BEGIN
  H_TABLES_DATA
TEST_DATA_END
  H_TABLES_BSS
