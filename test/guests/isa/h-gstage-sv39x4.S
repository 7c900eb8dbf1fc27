/*
 * Two-stage translation: VS-stage Sv39 over G-stage Sv39x4 (hgatp MODE 8, 41-bit guest physical addresses, a
 * 16 KiB root table). The checks are in common/h-gstage.inc, the tables in common/h-tables.inc.
 */
#include "isa-test.h"

  .option norvc

#define G_LEVELS 3
#include "h-tables.inc"
#include "h-gstage.inc"
