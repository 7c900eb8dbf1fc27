/**
 * The axvisor-ts hypercall interface on x86, the guest-visible contract between a guest and this VMM (the x86 form
 * of what SBI extension 0x485643 is on RISC-V). A guest makes a hypercall with an `out` (any width) to
 * AXVISOR_HYPERCALL_PORT: the call number in RAX, up to six arguments in RDI, RSI, RCX, RBX, R8, R9; the result comes
 * back in RAX. This is not the Linux syscall order: DX must hold the port for `out`, and real-mode code can reach
 * the first four.
 *
 * 0x0cf0 is unused on PCs: PCI configuration mechanism #1 uses 0xcf8-0xcff (0xcf9 is the reset control register),
 * mechanism #2 uses 0xc000-0xcfff with 0xcf8/0xcfa, EISA slot ids sit at 0xzc80.
 */

import type { X86GprName } from "./registers.ts";

export const AXVISOR_HYPERCALL_PORT = 0x0cf0;
/** Where the guest puts the call number, and where it finds the result. */
export const AXVISOR_HYPERCALL_NR_REG = "rax" satisfies X86GprName;
export const AXVISOR_HYPERCALL_RESULT_REG = "rax" satisfies X86GprName;
/** The argument registers, in order. */
export const AXVISOR_HYPERCALL_ARG_REGS = [
  "rdi",
  "rsi",
  "rcx",
  "rbx",
  "r8",
  "r9",
] as const satisfies readonly X86GprName[];
