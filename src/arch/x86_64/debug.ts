/**
 * The x86 debug registers (Intel SDM vol. 3B, 18.2 "Debug Registers"): DR0-DR3 hold linear addresses, DR7 enables
 * and qualifies them, DR6 says what fired. Also the CR4 bit for 5-level paging, which a debugger's page walk needs.
 */

/** DR0-DR3: the four address slots. */
export const X86_DEBUG_SLOTS = 4;

/** DR7.Ln: local enable of slot n (bit 2n). */
export function dr7LocalEnable(slot: number): bigint {
  return 1n << BigInt(2 * slot);
}

/** DR7.R/Wn (2 bits at 16 + 4n): what slot n watches. */
export const DR7_RW_EXECUTE = 0b00n;
export const DR7_RW_WRITE = 0b01n;
/** Reads or writes (x86 has no read-only data breakpoint). */
export const DR7_RW_ACCESS = 0b11n;
export function dr7ReadWrite(slot: number, rw: bigint): bigint {
  return rw << BigInt(16 + 4 * slot);
}

/** DR7.LENn (2 bits at 18 + 4n): 1, 2, 8 or 4 bytes, naturally aligned (execute slots use 1). */
export function dr7Length(slot: number, bytes: 1 | 2 | 4 | 8): bigint {
  const code = bytes === 1 ? 0b00n : bytes === 2 ? 0b01n : bytes === 8 ? 0b10n : 0b11n;
  return code << BigInt(18 + 4 * slot);
}

/** DR7.GE/LE: exact data breakpoints (recommended by the SDM whenever data slots are used). */
export const DR7_LE = 1n << 8n;
export const DR7_GE = 1n << 9n;

/** DR6.Bn: slot n fired. */
export function dr6Hit(slot: number): bigint {
  return 1n << BigInt(slot);
}
/** DR6.BS: a single step (RFLAGS.TF) trap. */
export const DR6_BS = 1n << 14n;

/** Exception vectors of debug events. */
export const X86_VECTOR_DB = 1;
export const X86_VECTOR_BP = 3;

/** CR4.LA57: 5-level paging (57-bit linear addresses). */
export const X86_CR4_LA57 = 1n << 12n;

/** `int3`, the one-byte breakpoint instruction (debuggers plant it for software breakpoints). */
export const X86_INT3 = 0xcc;
