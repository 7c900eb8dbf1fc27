/**
 * Bits of the x86 system registers a VMM sets when it builds a vCPU's boot state: CR0, CR4 and EFER (Intel SDM
 * vol. 3A, 2.5 "Control Registers" and 2.2.1 "Extended Feature Enable Register") and RFLAGS (vol. 1, 3.4.3, and
 * vol. 3A, 2.3 "System Flags and Fields in the EFLAGS Register"). 64-bit registers, so bigint.
 */

// CR0
/** Protection Enable: protected mode. */
export const X86_CR0_PE = 1n << 0n;
/** Monitor Coprocessor. */
export const X86_CR0_MP = 1n << 1n;
/** Extension Type: hard-wired to 1 on every processor since the i486. */
export const X86_CR0_ET = 1n << 4n;
/** Numeric Error: native x87 error reporting. */
export const X86_CR0_NE = 1n << 5n;
/** Write Protect: supervisor writes honour read-only pages. */
export const X86_CR0_WP = 1n << 16n;
/** Alignment Mask. */
export const X86_CR0_AM = 1n << 18n;
/** Paging. */
export const X86_CR0_PG = 1n << 31n;

// CR4
/** Physical Address Extension: required for long mode. */
export const X86_CR4_PAE = 1n << 5n;
/** OS supports FXSAVE/FXRSTOR (enables SSE). */
export const X86_CR4_OSFXSR = 1n << 9n;
/** OS handles unmasked SIMD floating-point exceptions. */
export const X86_CR4_OSXMMEXCPT = 1n << 10n;

// IA32_EFER
/** SYSCALL Enable. */
export const X86_EFER_SCE = 1n << 0n;
/** Long Mode Enable. */
export const X86_EFER_LME = 1n << 8n;
/** Long Mode Active (set by the CPU when paging is enabled with LME; a VMM loading state sets it itself). */
export const X86_EFER_LMA = 1n << 10n;
/** No-Execute Enable. */
export const X86_EFER_NXE = 1n << 11n;

// RFLAGS
/** Bit 1 is reserved and always reads 1: the smallest valid RFLAGS value is 0x2. */
export const X86_RFLAGS_RESERVED = 1n << 1n;
/** Interrupt Enable Flag. */
export const X86_RFLAGS_IF = 1n << 9n;
/** I/O Privilege Level 3 (bits 12-13): code at any CPL may use IN/OUT (test guests report from ring 3 that way). */
export const X86_RFLAGS_IOPL3 = 3n << 12n;
