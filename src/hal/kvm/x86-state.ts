/**
 * The x86 vCPU state a VMM hands to the KVM backend before the first run (what `HalVcpuSetup` cannot express in
 * an arch-neutral way): segment registers, descriptor tables, control registers, EFER and the general-purpose
 * registers. The Linux boot code in `src/vmm/x86/` builds one of these for the 64-bit boot protocol entry; tests
 * build real-mode and protected-mode ones.
 *
 * Until `src/hal/types.ts` grows an x86 part of `HalVcpuSetup` (proposed: `x86?: X86VcpuState`), the KVM backend
 * accepts it as `KvmVcpuSetup.x86` and through `KvmVcpu.setupX86`.
 */

/** The hidden part of a segment register, as KVM exposes it (struct kvm_segment). */
export interface X86Segment {
  readonly base: number;
  readonly limit: number;
  readonly selector: number;
  /** The 4-bit type field of the descriptor (e.g. 0xb = execute/read, accessed; 0x3 = read/write, accessed). */
  readonly type: number;
  readonly present: boolean;
  readonly dpl: number;
  /** D/B: 32-bit default operand size. */
  readonly db: boolean;
  /** S: code/data (true) or system (false) segment. */
  readonly s: boolean;
  /** L: 64-bit code segment. */
  readonly l: boolean;
  /** G: limit in 4 KiB units. `limit` above is always the byte-granular limit KVM expects. */
  readonly g: boolean;
  readonly avl: boolean;
  readonly unusable?: boolean;
}

export interface X86DescriptorTable {
  readonly base: number;
  readonly limit: number;
}

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
] as const;
export type X86GprName = (typeof X86_GPR_NAMES)[number];
/** `getGpr`/`setGpr` numbers past the 16 GPRs. */
export const X86_REG_RIP = 16;
export const X86_REG_RFLAGS = 17;

export interface X86VcpuState {
  readonly rip: number;
  /** Default 0x2 (the reserved bit 1 set, interrupts off). */
  readonly rflags?: bigint;
  readonly gprs?: Partial<Readonly<Record<X86GprName, bigint>>>;
  /** Segment registers; those not given keep KVM's reset value. */
  readonly segments?: Partial<Readonly<Record<"cs" | "ds" | "es" | "fs" | "gs" | "ss" | "tr" | "ldt", X86Segment>>>;
  readonly gdt?: X86DescriptorTable;
  readonly idt?: X86DescriptorTable;
  readonly cr0?: bigint;
  readonly cr3?: bigint;
  readonly cr4?: bigint;
  readonly efer?: bigint;
  /**
   * Local APIC LINT0 (in-kernel irqchip only): "extint" (default) wires the 8259 PIC to the CPU as on a PC
   * ("virtual wire"); "masked" for machines that tell the guest there is no 8259 (hardware-reduced ACPI): Linux
   * then never programs or masks the PIC, and an IRQ that KVM also routes to it would arrive on LINT0 with the
   * PIC's reset vector base 0 (IRQ 4 as vector 4, #OF).
   */
  readonly lint0?: "extint" | "masked";
}

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
