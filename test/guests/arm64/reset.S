/* reset: print a line and ask for a reset through PSCI SYSTEM_RESET (the VMM stops or reboots, per on_reset). */
#include "guest.h"
.global _start
.text
_start:
  PRINT msg_reset
  PSCI PSCI_SYSTEM_RESET
  b .

.section .rodata
msg_reset: .asciz "reset\n"
.text
#include "common.S"
