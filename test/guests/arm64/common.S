/* puts: print the string at x1 on the PL011 (clobbers x0-x3). Included at the end of each guest. */
#include "guest.h"
.text
puts:
  ldr x0, =UART_BASE
1:
  ldrb w2, [x1], #1
  cbz w2, 3f
2:
  ldr w3, [x0, #UART_FR]
  tbnz w3, #5, 2b
  strb w2, [x0, #UART_DR]
  b 1b
3:
  ret

/* puthex: print x4 as 16 hex digits (clobbers x0-x3, x5, x6). */
puthex:
  ldr x0, =UART_BASE
  mov x5, #60
1:
  lsr x6, x4, x5
  and x6, x6, #0xf
  cmp x6, #10
  add x2, x6, #'0'
  add x3, x6, #('a' - 10)
  csel x2, x3, x2, ge
  strb w2, [x0, #UART_DR]
  subs x5, x5, #4
  b.ge 1b
  ret

/* power off through PSCI SYSTEM_OFF; never returns. */
poweroff:
  PSCI PSCI_SYSTEM_OFF
  b .
