/* mmio-loop: the benchmark guest. One 32-bit store to the test device's scratch per iteration, forever. */
#include "guest.h"
.global _start
.text
_start:
  ldr x0, =(TEST_DEV_BASE + TEST_DEV_SCRATCH)
  mov w1, #0
1:
  str w1, [x0]
  add w1, w1, #1
  b 1b
