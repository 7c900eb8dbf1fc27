/*
 * Sv48 address translation: the Sv39 checks of common/vm-tests.inc on a four-level table, plus a 512 GiB page
 * (a level-3 leaf) and the Sv48 canonical-address rule (bits 63:48 equal bit 47).
 */
#include "isa-test.h"

  .option norvc

#define LEVELS 4
#define SATP_MODE SATP_MODE_SV48
#include "vm-tests.inc"
