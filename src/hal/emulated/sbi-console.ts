/**
 * SBI console output answered on the hart (RiscvVcpuOps.answerConsoleOnHart, turned on by the VMM): legacy
 * console_putchar and DBCN console_write_byte from a hypervisor VM's VS-mode, which Linux's `earlycon=sbi` and its
 * hvc console make once per byte. Each byte was a whole exit before: the trap into HS-mode, an `SbiCall` exit (eight
 * registers made BigInts), the VMM's dispatcher and its return registers, the run loop entered again. That code
 * runs too rarely to get optimized, ~10 us a byte: ~45 ms of the project kernel's 0.5 s boot (4.5 k bytes).
 *
 * Exactness against the VMM's dispatcher (src/vmm/boards/riscv-virt/sbi.ts), whose answers these are:
 * - the extension and function ids compare as whole 64-bit registers, as the dispatcher's do;
 * - console_putchar writes a0's low byte and returns 0 in a0 alone (the legacy convention);
 * - console_write_byte writes a0's low byte and returns SBI_SUCCESS, or SBI_ERR_FAILED when the console took no
 *   byte, in a0, and 0 in a1;
 * - every other call (console_write and console_read, whose buffers are guest-physical, getchar, ...) still exits.
 */

import { REG_A0, REG_A1, REG_A6, REG_A7 } from "../../arch/riscv64/registers.ts";
import {
  SBI_ERR_FAILED,
  SBI_EXT_0_1_CONSOLE_PUTCHAR,
  SBI_EXT_DBCN,
  SBI_EXT_DBCN_CONSOLE_WRITE_BYTE,
} from "../../arch/riscv64/sbi.ts";
import type { Hart } from "./hart.ts";

/** Where answered console output goes: the VMM's console; returns the bytes it took. */
export type SbiConsoleWrite = (bytes: Uint8Array) => number;

const PUTCHAR = Number(SBI_EXT_0_1_CONSOLE_PUTCHAR);
const DBCN = Number(SBI_EXT_DBCN);
const WRITE_BYTE = Number(SBI_EXT_DBCN_CONSOLE_WRITE_BYTE);
const FAILED = Number(SBI_ERR_FAILED);

/** Whether register `r` holds exactly `value` (a non-negative 32-bit number) as a 64-bit value. */
function holds(h: Hart, r: number, value: number): boolean {
  return h.xhi[2 * r] === 0 && h.xlo[2 * r] === value;
}

/** Set register `r` to the 64-bit value of the int32 `value`, sign-extended. */
function setSigned(h: Hart, r: number, value: number): void {
  h.xlo[2 * r] = value;
  h.xhi[2 * r] = value < 0 ? -1 : 0;
}

/**
 * The VS-mode `ecall` hart `h` is executing, if it is console output to answer here: write its byte with `write`,
 * set the return registers, and return true (the caller moves the pc past the ecall); false leaves the ecall to
 * trap as usual.
 */
export function answerSbiConsole(h: Hart, write: SbiConsoleWrite): boolean {
  if (holds(h, REG_A7, PUTCHAR)) {
    write(Uint8Array.of((h.xlo[2 * REG_A0] ?? 0) & 0xff));
    setSigned(h, REG_A0, 0);
    return true;
  }
  if (holds(h, REG_A7, DBCN) && holds(h, REG_A6, WRITE_BYTE)) {
    const written = write(Uint8Array.of((h.xlo[2 * REG_A0] ?? 0) & 0xff));
    setSigned(h, REG_A0, written === 1 ? 0 : FAILED);
    setSigned(h, REG_A1, 0);
    return true;
  }
  return false;
}
