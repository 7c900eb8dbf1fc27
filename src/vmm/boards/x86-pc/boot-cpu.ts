/**
 * The CPU state for the Linux 64-bit boot protocol entry (and any guest entered in long mode): a flat GDT, an
 * empty IDT, identity-mapping page tables for the first GiB, and the registers (Documentation/arch/x86/boot.rst,
 * "64-bit Boot Protocol"; values as Firecracker's arch/x86_64/regs.rs).
 */

import {
  LARGE_PAGE_SIZE,
  PAGE_TABLE_ENTRIES,
  PAGE_TABLE_ENTRY_SIZE,
  PTE_PAGE_SIZE,
  PTE_PRESENT,
  PTE_USER,
  PTE_WRITABLE,
} from "../../../arch/x86_64/paging.ts";
import { segmentFromDescriptor, X86_DESCRIPTOR_SIZE } from "../../../arch/x86_64/segments.ts";
import {
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR4_PAE,
  X86_EFER_LMA,
  X86_EFER_LME,
  X86_RFLAGS_RESERVED,
} from "../../../arch/x86_64/system-registers.ts";
import type { X86VcpuState } from "../../../arch/x86_64/vcpu-state.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import {
  BOOT_GDT_ENTRIES,
  BOOT_GDT_START,
  BOOT_IDENTITY_MAP_SIZE,
  BOOT_IDT_START,
  BOOT_STACK_POINTER,
  PDE_START,
  PDPTE_START,
  PML4_START,
  ZERO_PAGE_START,
} from "./layout.ts";
import { LeWriter } from "./le-writer.ts";

/** Boot GDT descriptors (Intel SDM vol. 3A, 3.4.5), as Firecracker's: the board's choice of a flat 64-bit GDT. */
export const GDT_NULL = 0x0000_0000_0000_0000n;
/** 64-bit code: base 0, limit 0xfffff (G), P, DPL 0, S, type 0xb (execute/read, accessed), L. */
export const GDT_CODE64 = 0x00af_9b00_0000_ffffn;
/** Data: base 0, limit 0xfffff (G), P, DPL 0, S, type 0x3 (read/write, accessed), D/B. */
export const GDT_DATA = 0x00cf_9300_0000_ffffn;
/** TSS: P, type 0xb (busy 64-bit TSS). Linux loads its own; VMX requires a usable TR at entry. */
export const GDT_TSS = 0x008f_8b00_0000_ffffn;
export const BOOT_GDT: readonly bigint[] = [GDT_NULL, GDT_CODE64, GDT_DATA, GDT_TSS];
export const BOOT_CODE_SELECTOR = 0x08;
export const BOOT_DATA_SELECTOR = 0x10;
export const BOOT_TSS_SELECTOR = 0x18;

/** Write the boot GDT and the empty IDT. */
export function writeBootGdt(memory: GuestMemoryAccess): void {
  const gdt = new LeWriter(BOOT_GDT_ENTRIES * X86_DESCRIPTOR_SIZE);
  BOOT_GDT.forEach((entry, i) => gdt.u64(i * X86_DESCRIPTOR_SIZE, entry));
  memory.write(BOOT_GDT_START, gdt.bytes);
  memory.write(BOOT_IDT_START, new Uint8Array(8));
}

/** Identity-map [0, 1 GiB) with 2 MiB pages: PML4[0] -> PDPT[0] -> PD[0..511]. `user` sets U/S on every level. */
export function writeIdentityPageTables(memory: GuestMemoryAccess, options: { user?: boolean } = {}): void {
  const flags = PTE_PRESENT | PTE_WRITABLE | (options.user === true ? PTE_USER : 0n);
  memory.write(PML4_START, new LeWriter(PAGE_TABLE_ENTRY_SIZE).u64(0, BigInt(PDPTE_START) | flags).bytes);
  memory.write(PDPTE_START, new LeWriter(PAGE_TABLE_ENTRY_SIZE).u64(0, BigInt(PDE_START) | flags).bytes);
  const pd = new LeWriter(PAGE_TABLE_ENTRIES * PAGE_TABLE_ENTRY_SIZE);
  for (let i = 0; i < BOOT_IDENTITY_MAP_SIZE / LARGE_PAGE_SIZE; i++) {
    pd.u64(i * PAGE_TABLE_ENTRY_SIZE, BigInt(i * LARGE_PAGE_SIZE) | flags | PTE_PAGE_SIZE);
  }
  memory.write(PDE_START, pd.bytes);
}

export interface LongModeBootOptions {
  /** The 64-bit entry point (bzImage: load address + 0x200; ELF: e_entry). */
  readonly entry: number;
  /** RSI at entry: the zero page (boot_params) for Linux. Default ZERO_PAGE_START. */
  readonly bootParams?: number;
  /** Further general-purpose registers. */
  readonly gprs?: X86VcpuState["gprs"];
  /** Make the identity map user-accessible (test guests that drop to CPL3). */
  readonly userPages?: boolean;
}

/**
 * Write the GDT, IDT and page tables and return the vCPU state for a 64-bit entry: CS = 64-bit code, data
 * segments flat, TR = the TSS, CR3 = PML4, CR4.PAE, CR0.PE|PG, EFER.LME|LMA, RSP = RBP = BOOT_STACK_POINTER,
 * RSI = boot_params, RFLAGS = 0x2 (interrupts off).
 */
export function setupLongModeBoot(memory: GuestMemoryAccess, options: LongModeBootOptions): X86VcpuState {
  writeBootGdt(memory);
  writeIdentityPageTables(memory, options.userPages === true ? { user: true } : {});
  return longModeState(options);
}

/** The vCPU state of `setupLongModeBoot` without writing memory (application processors share the tables). */
export function longModeState(options: LongModeBootOptions): X86VcpuState {
  const code = segmentFromDescriptor(GDT_CODE64, BOOT_CODE_SELECTOR / X86_DESCRIPTOR_SIZE);
  const data = segmentFromDescriptor(GDT_DATA, BOOT_DATA_SELECTOR / X86_DESCRIPTOR_SIZE);
  const tss = segmentFromDescriptor(GDT_TSS, BOOT_TSS_SELECTOR / X86_DESCRIPTOR_SIZE);
  return {
    rip: options.entry,
    rflags: X86_RFLAGS_RESERVED,
    gprs: {
      rsp: BigInt(BOOT_STACK_POINTER),
      rbp: BigInt(BOOT_STACK_POINTER),
      rsi: BigInt(options.bootParams ?? ZERO_PAGE_START),
      ...options.gprs,
    },
    segments: { cs: code, ds: data, es: data, fs: data, gs: data, ss: data, tr: tss },
    gdt: { base: BOOT_GDT_START, limit: BOOT_GDT_ENTRIES * X86_DESCRIPTOR_SIZE - 1 },
    idt: { base: BOOT_IDT_START, limit: 7 },
    cr0: X86_CR0_PE | X86_CR0_PG,
    cr3: BigInt(PML4_START),
    cr4: X86_CR4_PAE,
    efer: X86_EFER_LME | X86_EFER_LMA,
  };
}
