/**
 * Segment registers and descriptor tables as a VMM loads them: the hidden (cached) part of a segment register, and
 * the decoding of a GDT descriptor into it (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors", figure 3-8, and 3.4.3
 * "Segment Registers"). Real-mode segments follow 20.1.1 "Address Translation in Real-Address Mode".
 */

/** The hidden part of a segment register: what the CPU caches when a selector is loaded. */
export interface X86Segment {
  readonly base: number;
  /** Byte-granular limit (a 4 KiB-granular descriptor limit is already scaled). */
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
  /** G: limit in 4 KiB units in the descriptor (`limit` is always in bytes). */
  readonly g: boolean;
  readonly avl: boolean;
  /** The register holds no usable segment (a null selector, or a descriptor that is not present). */
  readonly unusable?: boolean;
}

/** GDTR / IDTR: a descriptor table's linear base and its limit (size in bytes - 1). */
export interface X86DescriptorTable {
  readonly base: number;
  readonly limit: number;
}

export type X86SegmentRegister = "cs" | "ds" | "es" | "fs" | "gs" | "ss" | "tr" | "ldt";

/** Size of a GDT/LDT descriptor (a 64-bit TSS or LDT descriptor takes two slots). */
export const X86_DESCRIPTOR_SIZE = 8;
/** Type field values of code and data segments (table 3-1 "Code- and Data-Segment Types"). */
export const X86_SEGMENT_TYPE_DATA_RW_ACCESSED = 0x3;
export const X86_SEGMENT_TYPE_CODE_RX_ACCESSED = 0xb;

/** A real-mode segment: base = selector << 4, a 64 KiB limit, present, read/write (data) or execute/read (code). */
export function realModeSegment(selector: number, code: boolean): X86Segment {
  return {
    base: (selector & 0xffff) << 4,
    limit: 0xffff,
    selector: selector & 0xffff,
    type: code ? X86_SEGMENT_TYPE_CODE_RX_ACCESSED : X86_SEGMENT_TYPE_DATA_RW_ACCESSED,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: false,
    g: false,
    avl: false,
  };
}

/** The segment register contents that loading selector `index * 8` (GDT, RPL 0) with `descriptor` gives. */
export function segmentFromDescriptor(descriptor: bigint, index: number): X86Segment {
  const bits = (shift: bigint, mask: bigint): number => Number((descriptor >> shift) & mask);
  const g = bits(55n, 1n) === 1;
  const rawLimit = bits(0n, 0xffffn) | (bits(48n, 0xfn) << 16);
  const present = bits(47n, 1n) === 1;
  return {
    base: (bits(16n, 0xff_ffffn) | (bits(56n, 0xffn) << 24)) >>> 0,
    // The cached limit is byte-granular: a 4 KiB-granular limit is scaled and its low 12 bits filled.
    limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
    selector: index * X86_DESCRIPTOR_SIZE,
    type: bits(40n, 0xfn),
    present,
    dpl: bits(45n, 3n),
    db: bits(54n, 1n) === 1,
    s: bits(44n, 1n) === 1,
    l: bits(53n, 1n) === 1,
    g,
    avl: bits(52n, 1n) === 1,
    unusable: !present,
  };
}
