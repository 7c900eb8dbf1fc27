/**
 * Helpers around the x86 vCPU state of `HalVcpuSetup.x86` (the types live in src/hal/types.ts): register names in
 * encoding order, architectural bits, and builders for real-mode and protected-mode states used by the KVM backend
 * and its tests. The Linux boot code in `src/vmm/x86/` builds the 64-bit boot protocol state.
 */

import type { X86DescriptorTable, X86GprName, X86Segment, X86VcpuState } from "../types.ts";

export type { X86DescriptorTable, X86GprName, X86Segment, X86VcpuState };

/** x86-64 general-purpose registers in instruction-encoding order (the `reg` of `getGpr`/`setGpr`). */
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
/** `getGpr`/`setGpr` numbers past the 16 GPRs. */
export const X86_REG_RIP = 16;
export const X86_REG_RFLAGS = 17;

// Architectural bits (Intel SDM vol. 3, 2.5 and 2.2.1)
export const X86_CR0_PE = 1n << 0n;
export const X86_CR0_MP = 1n << 1n;
export const X86_CR0_ET = 1n << 4n;
export const X86_CR0_NE = 1n << 5n;
export const X86_CR0_WP = 1n << 16n;
export const X86_CR0_AM = 1n << 18n;
export const X86_CR0_PG = 1n << 31n;
export const X86_CR4_PAE = 1n << 5n;
export const X86_CR4_OSFXSR = 1n << 9n;
export const X86_CR4_OSXMMEXCPT = 1n << 10n;
export const X86_EFER_SCE = 1n << 0n;
export const X86_EFER_LME = 1n << 8n;
export const X86_EFER_LMA = 1n << 10n;
export const X86_EFER_NXE = 1n << 11n;
export const X86_RFLAGS_RESERVED = 1n << 1n;
export const X86_RFLAGS_IF = 1n << 9n;
/** IOPL = 3 lets CPL3 code use in/out (test guests report from ring 3 that way). */
export const X86_RFLAGS_IOPL3 = 3n << 12n;

/** A real-mode data segment (selector << 4 = base, 64 KiB limit). */
export function realModeSegment(selector: number, code: boolean): X86Segment {
  return {
    base: (selector & 0xffff) << 4,
    limit: 0xffff,
    selector: selector & 0xffff,
    type: code ? 0xb : 0x3,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: false,
    g: false,
    avl: false,
  };
}

/**
 * Real mode at `entry` (below 1 MiB): CS base = entry & 0xf0000, IP = entry & 0xffff, the other data segments
 * 0 (so absolute offsets below 64 KiB address memory directly), paging and protection off.
 */
export function realModeState(entry: number, gprs: X86VcpuState["gprs"] = {}): X86VcpuState {
  if (!Number.isInteger(entry) || entry < 0 || entry >= 0x10_0000) {
    throw new RangeError(`Cannot enter real mode at 0x${entry.toString(16)}: the entry must be below 1 MiB`);
  }
  const data = realModeSegment(0, false);
  return {
    rip: entry & 0xffff,
    rflags: X86_RFLAGS_RESERVED,
    gprs,
    segments: { cs: realModeSegment((entry >>> 4) & 0xf000, true), ds: data, es: data, fs: data, gs: data, ss: data },
    cr0: X86_CR0_ET,
    cr4: 0n,
    efer: 0n,
  };
}
