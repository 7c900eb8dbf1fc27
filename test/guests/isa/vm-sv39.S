/*
 * Sv39 address translation from S and U mode: 4 KiB, 2 MiB and 1 GiB pages, invalid and reserved entries,
 * permissions (R/W/X, U, SUM, MXR), A/D handling, SFENCE.VMA, MPRV. The checks are in common/vm-tests.inc.
 */
#include "isa-test.h"

  .option norvc

#define LEVELS 3
#define SATP_MODE SATP_MODE_SV39
#include "vm-tests.inc"
