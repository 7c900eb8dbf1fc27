/*
 * Long mode at 0x10000 with the boot IDT (limit 7, one null gate): UD2 raises #UD, whose gate is not present
 * (#NP... then #DF), and #DF's gate is outside the IDT: a triple fault, which shuts the (virtual) machine down.
 * (A real-mode variant with `int3` never exits on this host's PVM /dev/kvm, which emulates CPL0 code and loops
 * on it; long-mode faults give KVM_EXIT_SHUTDOWN everywhere.)
 */
	.code64
	.text
	.globl _start
_start:
	ud2
1:	jmp 1b
