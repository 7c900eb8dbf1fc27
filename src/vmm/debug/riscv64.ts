/**
 * The GDB view of a RISC-V hart (RV64GC, and H on the emulated backend): GDB's own register numbering (x0..x31 =
 * 0..31, pc = 32, f0..f31 = 33..64, CSR n = 65 + n, the virtual `priv` register = 65 + 4096), the features
 * org.gnu.gdb.riscv.cpu, .fpu, .csr and .virtual, and a page-table walk for guest-virtual memory access.
 *
 * Which CSRs the description lists depends on what the debugged code is: a guest of a hypervisor VM runs with
 * V = 1 and sees the supervisor and user CSRs (`sstatus` is its vsstatus, as the hart substitutes them), so only
 * those are listed; a bare-machine hart is the whole machine, and its M, S and H CSRs are listed. Either way only
 * CSRs the hart says it implements appear.
 */

import {
  CSR_CYCLE,
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_HCOUNTEREN,
  CSR_HEDELEG,
  CSR_HENVCFG,
  CSR_HGATP,
  CSR_HIDELEG,
  CSR_HIE,
  CSR_HIP,
  CSR_HSTATUS,
  CSR_HTIMEDELTA,
  CSR_HTINST,
  CSR_HTVAL,
  CSR_HVIP,
  CSR_INSTRET,
  CSR_MARCHID,
  CSR_MCAUSE,
  CSR_MCOUNTEREN,
  CSR_MCOUNTINHIBIT,
  CSR_MCYCLE,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MHARTID,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIMPID,
  CSR_MINSTRET,
  CSR_MIP,
  CSR_MISA,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTINST,
  CSR_MTVAL,
  CSR_MTVAL2,
  CSR_MTVEC,
  CSR_MVENDORID,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_PMPCFG2,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SCOUNTEREN,
  CSR_SENVCFG,
  CSR_SEPC,
  CSR_SIE,
  CSR_SIP,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
  CSR_TIME,
  CSR_VSATP,
  CSR_VSCAUSE,
  CSR_VSEPC,
  CSR_VSIE,
  CSR_VSIP,
  CSR_VSSCRATCH,
  CSR_VSSTATUS,
  CSR_VSTIMECMP,
  CSR_VSTVAL,
  CSR_VSTVEC,
} from "../../arch/riscv64/csr.ts";
import {
  ATP_MODE_SHIFT,
  ATP_PPN_BITS,
  LEVEL_BITS,
  PAGE_SHIFT,
  PAGE_SIZE,
  PTE_PPN_SHIFT,
  PTE_R,
  PTE_SIZE,
  PTE_V,
  PTE_W,
  PTE_X,
  SATP_MODE_BARE,
  SATP_MODE_SV39,
  SATP_MODE_SV48,
  SV39_LEVELS,
  SV39_VA_BITS,
  SV48_LEVELS,
  SV48_VA_BITS,
} from "../../arch/riscv64/paging.ts";
import { GPR_COUNT } from "../../arch/riscv64/registers.ts";
import { PRV_M } from "../../arch/riscv64/traps.ts";
import type { GuestMemoryAccess, HalVcpu, RiscvDebugRegisters } from "../../hal/types.ts";
import type { GdbArchitecture, GdbTranslation } from "./gdb-arch.ts";

/** GDB's RISC-V register numbers (gdb/riscv-tdep.h). */
export const RISCV_PC_REGNUM = 32;
export const RISCV_FIRST_FP_REGNUM = 33;
export const RISCV_FIRST_CSR_REGNUM = 65;
export const RISCV_PRIV_REGNUM = RISCV_FIRST_CSR_REGNUM + 4096;

const XREG_NAMES = [
  "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
  "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
] as const; // biome-ignore format: one ABI name per register, in register order

const FREG_NAMES = [
  "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
  "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
] as const; // biome-ignore format: one ABI name per register, in register order

/** The CSRs a guest of a hypervisor VM (V = 1) sees, by the names the privileged spec gives them. */
const GUEST_CSRS: ReadonlyArray<readonly [name: string, csr: number]> = [
  ["cycle", CSR_CYCLE],
  ["time", CSR_TIME],
  ["instret", CSR_INSTRET],
  ["sstatus", CSR_SSTATUS],
  ["sie", CSR_SIE],
  ["stvec", CSR_STVEC],
  ["scounteren", CSR_SCOUNTEREN],
  ["senvcfg", CSR_SENVCFG],
  ["sscratch", CSR_SSCRATCH],
  ["sepc", CSR_SEPC],
  ["scause", CSR_SCAUSE],
  ["stval", CSR_STVAL],
  ["sip", CSR_SIP],
  ["stimecmp", CSR_STIMECMP],
  ["satp", CSR_SATP],
];

/** What a bare-machine hart adds: the machine and hypervisor CSRs and the VS copies. */
const MACHINE_CSRS: ReadonlyArray<readonly [name: string, csr: number]> = [
  ["mvendorid", CSR_MVENDORID],
  ["marchid", CSR_MARCHID],
  ["mimpid", CSR_MIMPID],
  ["mhartid", CSR_MHARTID],
  ["mstatus", CSR_MSTATUS],
  ["misa", CSR_MISA],
  ["medeleg", CSR_MEDELEG],
  ["mideleg", CSR_MIDELEG],
  ["mie", CSR_MIE],
  ["mtvec", CSR_MTVEC],
  ["mcounteren", CSR_MCOUNTEREN],
  ["menvcfg", CSR_MENVCFG],
  ["mcountinhibit", CSR_MCOUNTINHIBIT],
  ["mscratch", CSR_MSCRATCH],
  ["mepc", CSR_MEPC],
  ["mcause", CSR_MCAUSE],
  ["mtval", CSR_MTVAL],
  ["mip", CSR_MIP],
  ["mtinst", CSR_MTINST],
  ["mtval2", CSR_MTVAL2],
  ["mcycle", CSR_MCYCLE],
  ["minstret", CSR_MINSTRET],
  ["pmpcfg0", CSR_PMPCFG0],
  ["pmpcfg2", CSR_PMPCFG2],
  ...Array.from({ length: 16 }, (_, i) => [`pmpaddr${i}`, CSR_PMPADDR0 + i] as const),
  ["hstatus", CSR_HSTATUS],
  ["hedeleg", CSR_HEDELEG],
  ["hideleg", CSR_HIDELEG],
  ["hie", CSR_HIE],
  ["htimedelta", CSR_HTIMEDELTA],
  ["hcounteren", CSR_HCOUNTEREN],
  ["henvcfg", CSR_HENVCFG],
  ["htval", CSR_HTVAL],
  ["hip", CSR_HIP],
  ["hvip", CSR_HVIP],
  ["htinst", CSR_HTINST],
  ["hgatp", CSR_HGATP],
  ["vsstatus", CSR_VSSTATUS],
  ["vsie", CSR_VSIE],
  ["vstvec", CSR_VSTVEC],
  ["vsscratch", CSR_VSSCRATCH],
  ["vsepc", CSR_VSEPC],
  ["vscause", CSR_VSCAUSE],
  ["vstval", CSR_VSTVAL],
  ["vsip", CSR_VSIP],
  ["vsatp", CSR_VSATP],
  ["vstimecmp", CSR_VSTIMECMP],
];

/** fflags, frm and fcsr are described in the FPU feature (as GDB and QEMU do), not in the CSR feature. */
const FP_CSRS: ReadonlyArray<readonly [name: string, csr: number]> = [
  ["fflags", CSR_FFLAGS],
  ["frm", CSR_FRM],
  ["fcsr", CSR_FCSR],
];

function debugRegisters(vcpu: HalVcpu): RiscvDebugRegisters | undefined {
  return vcpu.debug?.riscv;
}

/** The CSRs `vcpu` shows a debugger: the guest's or the machine's set, those the hart implements. */
function csrsOf(vcpu: HalVcpu): ReadonlyArray<readonly [name: string, csr: number]> {
  const regs = debugRegisters(vcpu);
  if (regs === undefined) return [];
  const all = regs.privilege().virtualized ? GUEST_CSRS : [...GUEST_CSRS, ...MACHINE_CSRS];
  return all.filter(([, csr]) => regs.readCsr(csr) !== undefined);
}

function reg(name: string, regnum: number, type: string, group: string): string {
  return `<reg name="${name}" bitsize="64" regnum="${regnum}" type="${type}" group="${group}"/>`;
}

function targetXml(vcpu: HalVcpu): string {
  const cpu = [
    ...XREG_NAMES.map((name, i) => reg(name, i, i === 2 ? "data_ptr" : i === 1 ? "code_ptr" : "int", "general")),
    reg("pc", RISCV_PC_REGNUM, "code_ptr", "general"),
  ];
  const lines = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    "<target>",
    "<architecture>riscv:rv64</architecture>",
    '<feature name="org.gnu.gdb.riscv.cpu">',
    ...cpu,
    "</feature>",
  ];
  if (debugRegisters(vcpu) !== undefined) {
    lines.push(
      '<feature name="org.gnu.gdb.riscv.fpu">',
      ...FREG_NAMES.map((name, i) => reg(name, RISCV_FIRST_FP_REGNUM + i, "ieee_double", "float")),
      ...FP_CSRS.map(([name, csr]) => reg(name, RISCV_FIRST_CSR_REGNUM + csr, "int", "float")),
      "</feature>",
      '<feature name="org.gnu.gdb.riscv.csr">',
      ...csrsOf(vcpu).map(([name, csr]) => reg(name, RISCV_FIRST_CSR_REGNUM + csr, "int", "csr")),
      "</feature>",
      '<feature name="org.gnu.gdb.riscv.virtual">',
      reg("priv", RISCV_PRIV_REGNUM, "int", "general"),
      "</feature>",
    );
  }
  lines.push("</target>");
  return lines.join("\n");
}

function isCsrRegnum(regnum: number): boolean {
  return regnum >= RISCV_FIRST_CSR_REGNUM && regnum < RISCV_PRIV_REGNUM;
}

function registerSize(vcpu: HalVcpu, regnum: number): number | undefined {
  if (!Number.isInteger(regnum) || regnum < 0) return undefined;
  if (regnum <= RISCV_PC_REGNUM) return 8;
  const regs = debugRegisters(vcpu);
  if (regs === undefined) return undefined;
  if (regnum < RISCV_FIRST_CSR_REGNUM || regnum === RISCV_PRIV_REGNUM) return 8;
  if (isCsrRegnum(regnum)) return regs.readCsr(regnum - RISCV_FIRST_CSR_REGNUM) === undefined ? undefined : 8;
  return undefined;
}

function pcOf(vcpu: HalVcpu): bigint {
  const ops = vcpu.riscv;
  if (ops === undefined) throw new Error(`Cannot read the pc of vCPU ${vcpu.id}: it has no RISC-V operations`);
  return ops.getPc();
}

function readRegister(vcpu: HalVcpu, regnum: number): bigint | undefined {
  if (regnum >= 0 && regnum < GPR_COUNT) return vcpu.getGpr(regnum);
  if (regnum === RISCV_PC_REGNUM) return pcOf(vcpu);
  const regs = debugRegisters(vcpu);
  if (regs === undefined) return undefined;
  if (regnum >= RISCV_FIRST_FP_REGNUM && regnum < RISCV_FIRST_CSR_REGNUM) {
    return regs.getFpr(regnum - RISCV_FIRST_FP_REGNUM);
  }
  if (regnum === RISCV_PRIV_REGNUM) return BigInt(regs.privilege().priv);
  if (isCsrRegnum(regnum)) return regs.readCsr(regnum - RISCV_FIRST_CSR_REGNUM);
  return undefined;
}

function writeRegister(vcpu: HalVcpu, regnum: number, value: bigint): boolean {
  if (regnum >= 0 && regnum < GPR_COUNT) {
    vcpu.setGpr(regnum, value);
    return true;
  }
  if (regnum === RISCV_PC_REGNUM) {
    if (vcpu.riscv === undefined) return false;
    vcpu.riscv.setPc(value);
    return true;
  }
  const regs = debugRegisters(vcpu);
  if (regs === undefined) return false;
  if (regnum >= RISCV_FIRST_FP_REGNUM && regnum < RISCV_FIRST_CSR_REGNUM) {
    regs.setFpr(regnum - RISCV_FIRST_FP_REGNUM, value);
    return true;
  }
  if (isCsrRegnum(regnum)) return regs.writeCsr(regnum - RISCV_FIRST_CSR_REGNUM, value);
  // The privilege level is the hart's state, not something a debugger may set from here.
  return false;
}

/**
 * Translate `va` through the satp the current mode uses (vsatp for a V = 1 guest: the hart substitutes it), by
 * reading the page tables through guest memory. Permissions are ignored (a debugger may read what the code it
 * stopped may not); accessed/dirty bits are neither needed nor set.
 */
export function translateRiscv(vcpu: HalVcpu, memory: GuestMemoryAccess, va: bigint): GdbTranslation {
  const regs = debugRegisters(vcpu);
  const pageSpan = (addr: number): number => PAGE_SIZE - (addr % PAGE_SIZE);
  const physical = (): GdbTranslation => {
    const pa = BigInt.asUintN(64, va);
    if (pa > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `no memory at 0x${pa.toString(16)}` };
    return { ok: true, gpa: Number(pa), span: pageSpan(Number(pa)) };
  };
  if (regs === undefined || regs.privilege().priv === PRV_M) return physical();
  const satp = regs.readCsr(CSR_SATP) ?? 0n;
  const mode = Number(satp >> BigInt(ATP_MODE_SHIFT));
  if (mode === SATP_MODE_BARE) return physical();
  if (mode !== SATP_MODE_SV39 && mode !== SATP_MODE_SV48) {
    return { ok: false, reason: `satp mode ${mode} is not a translation scheme this hart has` };
  }
  const levels = mode === SATP_MODE_SV39 ? SV39_LEVELS : SV48_LEVELS;
  const vaBits = mode === SATP_MODE_SV39 ? SV39_VA_BITS : SV48_VA_BITS;
  const signed = BigInt.asIntN(64, va);
  if (BigInt.asIntN(vaBits, signed) !== signed) {
    return { ok: false, reason: `0x${BigInt.asUintN(64, va).toString(16)} is not a canonical Sv${vaBits} address` };
  }
  const unsigned = BigInt.asUintN(vaBits, signed);
  let table = (satp & ((1n << BigInt(ATP_PPN_BITS)) - 1n)) << BigInt(PAGE_SHIFT);
  for (let level = levels - 1; level >= 0; level--) {
    const shift = BigInt(PAGE_SHIFT + LEVEL_BITS * level);
    const index = (unsigned >> shift) & ((1n << BigInt(LEVEL_BITS)) - 1n);
    const pteAddr = Number(table + index * BigInt(PTE_SIZE));
    if (!memory.contains(pteAddr, PTE_SIZE)) {
      return { ok: false, reason: `the page table entry at 0x${pteAddr.toString(16)} is outside guest memory` };
    }
    const pte = memory.readU64(pteAddr);
    const flags = Number(pte & 0xffn);
    if ((flags & PTE_V) === 0 || ((flags & PTE_R) === 0 && (flags & PTE_W) !== 0)) {
      return { ok: false, reason: `0x${BigInt.asUintN(64, va).toString(16)} is not mapped` };
    }
    const ppn = (pte >> BigInt(PTE_PPN_SHIFT)) & ((1n << BigInt(ATP_PPN_BITS)) - 1n);
    if ((flags & (PTE_R | PTE_X)) === 0) {
      table = ppn << BigInt(PAGE_SHIFT);
      continue;
    }
    const pageMask = (1n << shift) - 1n;
    const pa = ((ppn << BigInt(PAGE_SHIFT)) & ~pageMask) | (unsigned & pageMask);
    const gpa = Number(pa);
    return { ok: true, gpa, span: pageSpan(gpa) };
  }
  return { ok: false, reason: `0x${BigInt.asUintN(64, va).toString(16)} is not mapped` };
}

export const RISCV64_GDB: GdbArchitecture = {
  name: "riscv:rv64",
  targetXml,
  gRegisters: Array.from({ length: RISCV_PC_REGNUM + 1 }, (_, i) => i),
  registerSize,
  readRegister,
  writeRegister,
  pcRegnum: RISCV_PC_REGNUM,
  pc: pcOf,
  translate: translateRiscv,
};
