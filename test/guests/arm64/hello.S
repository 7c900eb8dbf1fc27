/* hello: print a line on the PL011 and power off through PSCI SYSTEM_OFF (checks PSCI_VERSION >= 0.2 first). */
#include "guest.h"
.global _start
.text
_start:
  PRINT msg_hello
  PSCI PSCI_VERSION
  mov x4, x0
  /* PSCI 0.2 or later: major in bits 31-16. */
  cmp x0, #2
  b.lt 1f
  PRINT msg_psci
  bl puthex
  PRINT msg_nl
  b poweroff
1:
  PRINT msg_old
  b poweroff

.section .rodata
msg_hello: .asciz "hello from arm64\n"
msg_psci:  .asciz "psci version "
msg_old:   .asciz "psci version too old\n"
msg_nl:    .asciz "\n"
.text
#include "common.S"
