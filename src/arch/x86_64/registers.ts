/**
 * x86-64 general-purpose registers: their names, and the numbers the HAL uses for them (`HalVcpu.getGpr`/`setGpr`
 * and `HalVcpuSetup.gprs`). GPRs 0..15 are numbered in instruction-encoding order (the ModRM `reg` field extended
 * by REX.R: Intel SDM vol. 2A, 2.1.5, table 2-2); RIP and RFLAGS, which have no encoding number, get the
 * pseudo-numbers 16 and 17.
 */

export type X86GprName =
  | "rax"
  | "rcx"
  | "rdx"
  | "rbx"
  | "rsp"
  | "rbp"
  | "rsi"
  | "rdi"
  | "r8"
  | "r9"
  | "r10"
  | "r11"
  | "r12"
  | "r13"
  | "r14"
  | "r15";

/** The 16 GPRs in encoding order: `X86_GPR_NAMES[n]` is register number n. */
export const X86_GPR_NAMES = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
] as const satisfies readonly X86GprName[];

export const X86_GPR_COUNT = X86_GPR_NAMES.length;
/** RAX, register number 0 (the accumulator: return values of hypercalls and calls). */
export const X86_REG_RAX = 0;
/** Pseudo-number of RIP (past the 16 GPRs). */
export const X86_REG_RIP = 16;
/** Pseudo-number of RFLAGS. */
export const X86_REG_RFLAGS = 17;

/** The HAL number of GPR `name`. */
export function x86GprNumber(name: X86GprName): number {
  return X86_GPR_NAMES.indexOf(name);
}
