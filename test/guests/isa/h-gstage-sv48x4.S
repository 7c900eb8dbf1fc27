/*
 * Two-stage translation: VS-stage Sv39 over G-stage Sv48x4 (hgatp MODE 9, 50-bit guest physical addresses, a
 * 16 KiB root table, four levels). The checks are in common/h-gstage.inc, the tables in common/h-tables.inc.
 */
#include "isa-test.h"

  .option norvc

#define G_LEVELS 4
#include "h-tables.inc"
#include "h-gstage.inc"
