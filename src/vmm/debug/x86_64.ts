/**
 * The GDB view of an x86-64 vCPU (KVM): GDB's amd64 register numbering (rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp,
 * r8..r15 = 0..15, rip = 16, eflags = 17, cs, ss, ds, es, fs, gs = 18..23, the x87 registers 24..39) in the
 * org.gnu.gdb.i386.core feature, and a page walk (4- or 5-level long-mode paging) for guest-virtual memory access.
 *
 * The x87 registers are part of the feature GDB requires, but the HAL does not give them to the debugger yet:
 * they read as unavailable. Segment selectors are read-only here (a debugger changing one would need the whole
 * descriptor).
 */

import { X86_CR4_LA57, X86_INT3 } from "../../arch/x86_64/debug.ts";
import { PTE_PAGE_SIZE, PTE_PRESENT } from "../../arch/x86_64/paging.ts";
import { X86_REG_RFLAGS, X86_REG_RIP } from "../../arch/x86_64/registers.ts";
import { X86_CR0_PG, X86_EFER_LMA } from "../../arch/x86_64/system-registers.ts";
import type { GuestMemoryAccess, HalVcpu, X86DebugSpecialRegisters } from "../../hal/types.ts";
import type { GdbArchitecture, GdbTranslation } from "./gdb-arch.ts";

export const AMD64_RIP_REGNUM = 16;
export const AMD64_EFLAGS_REGNUM = 17;
const AMD64_FIRST_SEGMENT_REGNUM = 18;
const AMD64_FIRST_X87_REGNUM = 24;
const AMD64_CORE_REGISTERS = 40;

/** GDB's names of regnums 0..15 and the HAL's x86 numbering of each (0..15 = rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..). */
const GPRS: ReadonlyArray<readonly [name: string, halReg: number]> = [
  ["rax", 0],
  ["rbx", 3],
  ["rcx", 1],
  ["rdx", 2],
  ["rsi", 6],
  ["rdi", 7],
  ["rbp", 5],
  ["rsp", 4],
  ...Array.from({ length: 8 }, (_, i) => [`r${i + 8}`, i + 8] as const),
];
const SEGMENTS = ["cs", "ss", "ds", "es", "fs", "gs"] as const;
const X87_CONTROL = ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] as const;

/** Bits 51:12 of a page-table entry or CR3: the next table's or the page's physical address. */
const ADDRESS_MASK = 0x000f_ffff_ffff_f000n;
const LEVEL_BITS = 9n;
const PAGE_SHIFT = 12n;

function targetXml(): string {
  const reg = (name: string, regnum: number, bitsize: number, type: string): string =>
    `<reg name="${name}" bitsize="${bitsize}" regnum="${regnum}" type="${type}"/>`;
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    "<target>",
    "<architecture>i386:x86-64</architecture>",
    '<feature name="org.gnu.gdb.i386.core">',
    ...GPRS.map(([name], i) => reg(name, i, 64, i === 6 || i === 7 ? "data_ptr" : "int64")),
    reg("rip", AMD64_RIP_REGNUM, 64, "code_ptr"),
    reg("eflags", AMD64_EFLAGS_REGNUM, 32, "int32"),
    ...SEGMENTS.map((name, i) => reg(name, AMD64_FIRST_SEGMENT_REGNUM + i, 32, "int32")),
    ...Array.from({ length: 8 }, (_, i) => reg(`st${i}`, AMD64_FIRST_X87_REGNUM + i, 80, "i387_ext")),
    ...X87_CONTROL.map((name, i) => reg(name, AMD64_FIRST_X87_REGNUM + 8 + i, 32, "int")),
    "</feature>",
    "</target>",
  ].join("\n");
}

function registerSize(_vcpu: HalVcpu, regnum: number): number | undefined {
  if (!Number.isInteger(regnum) || regnum < 0 || regnum >= AMD64_CORE_REGISTERS) return undefined;
  if (regnum <= AMD64_RIP_REGNUM) return 8;
  if (regnum >= AMD64_FIRST_X87_REGNUM && regnum < AMD64_FIRST_X87_REGNUM + 8) return 10;
  return 4;
}

function special(vcpu: HalVcpu): X86DebugSpecialRegisters | undefined {
  return vcpu.debug?.x86?.specialRegisters();
}

function readRegister(vcpu: HalVcpu, regnum: number): bigint | undefined {
  const gpr = GPRS[regnum];
  if (gpr !== undefined) return vcpu.getGpr(gpr[1]);
  if (regnum === AMD64_RIP_REGNUM) return vcpu.getGpr(X86_REG_RIP);
  if (regnum === AMD64_EFLAGS_REGNUM) return vcpu.getGpr(X86_REG_RFLAGS) & 0xffff_ffffn;
  const segment = SEGMENTS[regnum - AMD64_FIRST_SEGMENT_REGNUM];
  if (segment !== undefined) {
    const s = special(vcpu);
    return s === undefined ? undefined : BigInt(s.selectors[segment]);
  }
  // The x87 registers: not available through the HAL yet.
  return undefined;
}

function writeRegister(vcpu: HalVcpu, regnum: number, value: bigint): boolean {
  const gpr = GPRS[regnum];
  if (gpr !== undefined) {
    vcpu.setGpr(gpr[1], value);
    return true;
  }
  if (regnum === AMD64_RIP_REGNUM) {
    vcpu.setGpr(X86_REG_RIP, value);
    return true;
  }
  if (regnum === AMD64_EFLAGS_REGNUM) {
    const high = vcpu.getGpr(X86_REG_RFLAGS) & ~0xffff_ffffn;
    vcpu.setGpr(X86_REG_RFLAGS, high | (value & 0xffff_ffffn));
    return true;
  }
  return false;
}

/**
 * Translate `va` through the vCPU's page tables: physical when paging is off; 4-level (or, with CR4.LA57, 5-level)
 * long-mode paging with 1 GiB and 2 MiB pages. 32-bit and PAE paging outside long mode are not walked (an error).
 */
export function translateX86(vcpu: HalVcpu, memory: GuestMemoryAccess, va: bigint): GdbTranslation {
  const s = special(vcpu);
  const addr = BigInt.asUintN(64, va);
  const pageSpan = (gpa: number): number => 0x1000 - (gpa % 0x1000);
  if (s === undefined || (s.cr0 & X86_CR0_PG) === 0n) {
    if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `no memory at 0x${addr.toString(16)}` };
    const gpa = Number(addr);
    return { ok: true, gpa, span: pageSpan(gpa) };
  }
  if ((s.efer & X86_EFER_LMA) === 0n) {
    return {
      ok: false,
      reason: "the vCPU uses 32-bit or PAE paging, which the debugger does not walk (long mode only)",
    };
  }
  const levels = (s.cr4 & X86_CR4_LA57) !== 0n ? 5 : 4;
  const vaBits = BigInt(12 + 9 * levels);
  const signed = BigInt.asIntN(64, va);
  if (BigInt.asIntN(Number(vaBits), signed) !== signed) {
    return { ok: false, reason: `0x${addr.toString(16)} is not a canonical ${vaBits}-bit address` };
  }
  let table = s.cr3 & ADDRESS_MASK;
  for (let level = levels; level >= 1; level--) {
    const shift = PAGE_SHIFT + LEVEL_BITS * BigInt(level - 1);
    const index = (addr >> shift) & 0x1ffn;
    const entryAddr = Number(table + index * 8n);
    if (!memory.contains(entryAddr, 8)) {
      return { ok: false, reason: `the page table entry at 0x${entryAddr.toString(16)} is outside guest memory` };
    }
    const entry = memory.readU64(entryAddr);
    if ((entry & PTE_PRESENT) === 0n) return { ok: false, reason: `0x${addr.toString(16)} is not mapped` };
    if (level === 1 || ((level === 2 || level === 3) && (entry & PTE_PAGE_SIZE) !== 0n)) {
      const pageMask = (1n << shift) - 1n;
      const gpa = Number((entry & ADDRESS_MASK & ~pageMask) | (addr & pageMask));
      return { ok: true, gpa, span: pageSpan(gpa) };
    }
    table = entry & ADDRESS_MASK;
  }
  return { ok: false, reason: `0x${addr.toString(16)} is not mapped` };
}

export const X86_64_GDB: GdbArchitecture = {
  name: "i386:x86-64",
  targetXml,
  gRegisters: Array.from({ length: AMD64_FIRST_X87_REGNUM }, (_, i) => i),
  registerSize,
  readRegister,
  writeRegister,
  pcRegnum: AMD64_RIP_REGNUM,
  pc: (vcpu) => vcpu.getGpr(X86_REG_RIP),
  translate: translateX86,
  breakpointInstruction: Uint8Array.of(X86_INT3),
};
