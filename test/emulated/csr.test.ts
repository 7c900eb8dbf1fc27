/**
 * CSR masking, WARL behaviour and access checks (privileged spec 1.12 + H + Sstc), through executed CSR
 * instructions so the decode → check → substitute → read/write path is what is tested.
 */
import { describe, expect, test } from "bun:test";
import {
  COUNTEREN_TM,
  CSR_CYCLE,
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_HEDELEG,
  CSR_HENVCFG,
  CSR_HGATP,
  CSR_HGEIP,
  CSR_HIDELEG,
  CSR_HIP,
  CSR_HSTATUS,
  CSR_HVIP,
  CSR_INSTRET,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MHARTID,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIP,
  CSR_MISA,
  CSR_MSTATUS,
  CSR_MTVEC,
  CSR_MVENDORID,
  CSR_SATP,
  CSR_SIP,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_STVEC,
  CSR_TIME,
  CSR_VSATP,
  CSR_VSEPC,
  CSR_VSIE,
  CSR_VSIP,
  CSR_VSSTATUS,
  ENVCFG_HI_STCE,
  FS_DIRTY,
  FS_INITIAL,
  HSTATUS_VTVM,
  MSTATUS_FS_SHIFT,
  MSTATUS_MIE,
  MSTATUS_MPP,
  MSTATUS_TVM,
} from "../../src/arch/riscv64/csr.ts";
import { CAUSE_ILLEGAL_INSTRUCTION, CAUSE_VIRTUAL_INSTRUCTION } from "../../src/arch/riscv64/traps.ts";
import { HSTATUS_WRITE_MASK, MSTATUS_WRITE_MASK, SSTATUS_WRITE_MASK } from "../../src/hal/emulated/constants.ts";
import * as A from "./asm.ts";
import { type HartFixture, type Mode, makeHart, RAM_BASE } from "./fixture.ts";

const ALL = 0xffff_ffff_ffff_ffffn;

/** Execute `csrrw t0, csr, t1` in `mode` with t1 = value; returns the trap cause (or -1) and t0. */
function csrSwap(f: HartFixture, mode: Mode, csr: number, value: bigint): { cause: number; old: bigint } {
  const pc = RAM_BASE + 0x1000;
  f.write(pc, [A.csrrw(A.t0, csr, A.t1)]);
  f.hart.mtvec = RAM_BASE + 0x3000;
  f.setX(A.t1, value);
  f.setX(A.t0, 0x5a5an);
  f.enter(mode, pc);
  f.hart.mcauseLo = -1;
  f.run(1);
  const trapped = f.hart.pc === RAM_BASE + 0x3000;
  return { cause: trapped ? f.hart.mcauseLo : -1, old: f.x(A.t0) };
}

/** Read a CSR from M-mode with `csrr` (no write side effects). */
function csrRead(f: HartFixture, csr: number): bigint {
  const pc = RAM_BASE + 0x2000;
  f.write(pc, [A.csrr(A.t0, csr)]);
  f.enter("M", pc);
  f.run(1);
  return f.x(A.t0);
}

/** Write then read back a CSR from M-mode. */
function writeRead(f: HartFixture, csr: number, value: bigint): bigint {
  csrSwap(f, "M", csr, value);
  return csrRead(f, csr);
}

describe("CSR WARL masks", () => {
  test("mstatus: writable fields only, SXL/UXL fixed at 64-bit, MPP WARL, SD follows FS", () => {
    const f = makeHart();
    const v = writeRead(f, CSR_MSTATUS, ALL);
    // SIE MIE SPIE MPIE SPP MPP FS MPRV SUM MXR TVM TW TSR | UXL=2 SXL=2 GVA MPV SD
    expect(v & 0xffff_ffffn).toBe(BigInt(MSTATUS_WRITE_MASK >>> 0));
    expect((v >> 32n) & 0xfn).toBe(0xan);
    expect((v >> 38n) & 3n).toBe(3n);
    expect(v >> 63n).toBe(1n);
    // MPP = 2 (reserved) leaves the field unchanged.
    const f2 = makeHart();
    writeRead(f2, CSR_MSTATUS, 1n << 11n);
    expect((writeRead(f2, CSR_MSTATUS, 2n << 11n) >> 11n) & 3n).toBe(1n);
    expect(writeRead(f2, CSR_MSTATUS, 0n) >> 63n).toBe(0n);
  });

  test("sstatus is a view of mstatus; vsstatus has the same layout", () => {
    const f = makeHart();
    writeRead(f, CSR_MSTATUS, ALL);
    const s = writeRead(f, CSR_SSTATUS, ALL);
    expect(s).toBe(BigInt(SSTATUS_WRITE_MASK >>> 0) | (2n << 32n) | (1n << 63n));
    const vs = writeRead(f, CSR_VSSTATUS, ALL);
    expect(vs).toBe(BigInt(SSTATUS_WRITE_MASK >>> 0) | (2n << 32n) | (1n << 63n));
    writeRead(f, CSR_SSTATUS, 0n);
    expect(csrRead(f, CSR_MSTATUS) & BigInt(MSTATUS_MIE | MSTATUS_MPP)).toBe(BigInt(MSTATUS_MIE | MSTATUS_MPP));
  });

  test("misa is rv64 imafdch + su and ignores writes; mhartid, mvendorid read-only", () => {
    const f = makeHart();
    const misa = writeRead(f, CSR_MISA, 0n);
    expect(misa >> 62n).toBe(2n);
    const letters = [..."ACDFHIMSU"].reduce((m, c) => m | (1n << BigInt(c.charCodeAt(0) - 65)), 0n);
    expect(misa & 0x3ff_ffffn).toBe(letters);
    expect(csrSwap(f, "M", CSR_MHARTID, 5n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(csrSwap(f, "M", CSR_MVENDORID, 5n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
  });

  test("medeleg/mideleg/hedeleg/hideleg masks; mideleg VS bits read-only one", () => {
    const f = makeHart();
    expect(writeRead(f, CSR_MEDELEG, ALL)).toBe(0xf0b7ffn);
    expect(writeRead(f, CSR_MIDELEG, 0n)).toBe(0x1444n);
    expect(writeRead(f, CSR_MIDELEG, ALL)).toBe(0x1666n);
    expect(writeRead(f, CSR_HEDELEG, ALL)).toBe(0xb1ffn);
    expect(writeRead(f, CSR_HIDELEG, ALL)).toBe(0x444n);
  });

  test("mie/mip/hvip/hip/sip/vsip/vsie aliasing", () => {
    const f = makeHart();
    expect(writeRead(f, CSR_MIE, ALL)).toBe(0x1eeen);
    writeRead(f, CSR_MIE, 0n);
    writeRead(f, CSR_HIDELEG, ALL);
    writeRead(f, CSR_MIDELEG, ALL);
    // mip: SSIP, STIP, SEIP and VSSIP are writable by M; the machine bits are not.
    expect(writeRead(f, CSR_MIP, ALL)).toBe(0x226n);
    expect(writeRead(f, CSR_HVIP, ALL)).toBe(0x444n);
    expect(writeRead(f, CSR_HIP, 0n)).toBe(0x440n); // VSSIP cleared through hip; VSTIP/VSEIP stay (hvip)
    expect(writeRead(f, CSR_VSIP, 2n)).toBe((0x444n >> 1n) & 0x222n);
    expect(writeRead(f, CSR_VSIE, ALL)).toBe(0x222n);
    expect(csrRead(f, CSR_MIE) & 0x444n).toBe(0x444n);
    expect(csrRead(f, CSR_SIP)).toBe(0x222n);
    // hideleg cleared: vsip/vsie read zero.
    writeRead(f, CSR_HIDELEG, 0n);
    expect(writeRead(f, CSR_VSIP, 0n)).toBe(0n);
  });

  test("satp/vsatp ignore writes of unsupported modes; hgatp keeps VMIDLEN = 14 and zeroes PPN[1:0]", () => {
    const f = makeHart();
    const sv39 = (8n << 60n) | (0xabcdn << 44n) | 0x12345n;
    expect(writeRead(f, CSR_SATP, sv39)).toBe(sv39);
    expect(writeRead(f, CSR_SATP, 10n << 60n)).toBe(sv39); // Sv57: unsupported, no effect
    expect(writeRead(f, CSR_VSATP, (9n << 60n) | 7n)).toBe((9n << 60n) | 7n);
    const h = writeRead(f, CSR_HGATP, (8n << 60n) | (ALL >> 4n));
    expect(h >> 60n).toBe(8n);
    expect((h >> 44n) & 0xffffn).toBe(0x3fffn);
    expect(h & 3n).toBe(0n);
    expect(writeRead(f, CSR_HGATP, 5n << 60n)).toBe(h);
  });

  test("xtvec keeps direct/vectored modes; xepc clears bit 0", () => {
    const f = makeHart();
    expect(writeRead(f, CSR_MTVEC, 0x8000_0103n)).toBe(0x8000_0101n);
    expect(writeRead(f, CSR_STVEC, 0xffff_ffff_8000_0001n)).toBe(0xffff_ffff_8000_0001n);
    expect(writeRead(f, CSR_MEPC, 0x8000_0003n)).toBe(0x8000_0002n);
    expect(writeRead(f, CSR_VSEPC, 0xffff_ffff_ffff_ffffn)).toBe(0xffff_ffff_ffff_fffen);
  });

  test("hstatus: VSXL fixed, VGEIN read-only zero (GEILEN = 0)", () => {
    const f = makeHart();
    const v = writeRead(f, CSR_HSTATUS, ALL);
    expect(v >> 32n).toBe(2n);
    expect((v >> 12n) & 0x3fn).toBe(0n);
    expect(v & 0xffff_ffffn).toBe(BigInt(HSTATUS_WRITE_MASK >>> 0));
  });

  test("menvcfg.STCE gates henvcfg.STCE", () => {
    const f = makeHart();
    expect(writeRead(f, CSR_HENVCFG, ALL)).toBe(1n);
    expect(writeRead(f, CSR_MENVCFG, ALL)).toBe((1n << 63n) | 1n);
    expect(writeRead(f, CSR_HENVCFG, ALL)).toBe((1n << 63n) | 1n);
    writeRead(f, CSR_MENVCFG, 0n);
    expect(writeRead(f, CSR_HENVCFG, 0n) >> 63n).toBe(0n);
  });

  test("fcsr/fflags/frm alias each other; FS Off makes them illegal; writes set FS and SD dirty", () => {
    const f = makeHart();
    expect(csrSwap(f, "M", CSR_FCSR, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    writeRead(f, CSR_MSTATUS, BigInt(FS_INITIAL << MSTATUS_FS_SHIFT));
    expect(writeRead(f, CSR_FCSR, 0xffn)).toBe(0xffn);
    expect(csrRead(f, CSR_FRM)).toBe(7n);
    expect(csrRead(f, CSR_FFLAGS)).toBe(0x1fn);
    const ms = writeRead(f, CSR_MSTATUS, BigInt(FS_DIRTY << MSTATUS_FS_SHIFT));
    expect((ms >> 13n) & 3n).toBe(3n);
    expect(ms >> 63n).toBe(1n);
  });
});

describe("CSR access checks", () => {
  test("privilege from the CSR number and read-only CSRs", () => {
    const f = makeHart();
    expect(csrSwap(f, "HS", CSR_MSTATUS, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(csrSwap(f, "U", CSR_SSTATUS, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(csrSwap(f, "HS", CSR_HSTATUS, 0n).cause).toBe(-1);
    expect(csrSwap(f, "HS", CSR_VSSTATUS, 0n).cause).toBe(-1);
    expect(csrSwap(f, "M", CSR_CYCLE, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION); // read-only
    expect(csrSwap(f, "M", 0x7c0, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION); // not implemented
  });

  test("V=1: hypervisor and VS CSRs raise virtual instruction; supervisor CSRs are substituted", () => {
    const f = makeHart();
    expect(csrSwap(f, "VS", CSR_HSTATUS, 0n).cause).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    expect(csrSwap(f, "VS", CSR_VSSTATUS, 0n).cause).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    expect(csrSwap(f, "VS", CSR_MSTATUS, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(csrSwap(f, "VU", CSR_SSTATUS, 0n).cause).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    expect(csrSwap(f, "VU", CSR_HGEIP, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION); // read-only: illegal first
    // sscratch from VS reaches vsscratch.
    csrSwap(f, "VS", CSR_SSCRATCH, 0x1234n);
    expect(f.hart.vsscratchLo).toBe(0x1234);
    expect(f.hart.sscratchLo).toBe(0);
    csrSwap(f, "VS", CSR_SATP, (8n << 60n) | 5n);
    expect(f.hart.vsatpLo).toBe(5);
    expect(f.hart.satpLo).toBe(0);
  });

  test("writing a read-only counter is illegal even in M-mode", () => {
    const f = makeHart();
    expect(csrSwap(f, "M", CSR_TIME, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
  });

  test("counter reads (csrr) follow the Zicntr enable rules", () => {
    const f = makeHart();
    const read = (mode: Mode, csr: number): number => {
      const pc = RAM_BASE + 0x1000;
      f.write(pc, [A.csrr(A.t0, csr)]);
      f.hart.mtvec = RAM_BASE + 0x3000;
      f.enter(mode, pc);
      f.run(1);
      return f.hart.pc === RAM_BASE + 0x3000 ? f.hart.mcauseLo : -1;
    };
    f.hart.mcounteren = 0;
    expect(read("M", CSR_TIME)).toBe(-1);
    expect(read("HS", CSR_TIME)).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    f.hart.mcounteren = 2;
    expect(read("HS", CSR_TIME)).toBe(-1);
    expect(read("U", CSR_TIME)).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(read("VS", CSR_TIME)).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    f.hart.hcounteren = 2;
    expect(read("VS", CSR_TIME)).toBe(-1);
    expect(read("VU", CSR_TIME)).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    f.hart.scounteren = 2;
    expect(read("VU", CSR_TIME)).toBe(-1);
    expect(read("U", CSR_TIME)).toBe(-1);
    f.hart.mcounteren = 0;
    expect(read("VU", CSR_TIME)).toBe(CAUSE_ILLEGAL_INSTRUCTION);
  });

  test("time reads the clock (+ htimedelta when V=1); instret counts retired instructions", () => {
    const f = makeHart();
    f.time = 1000;
    f.hart.mcounteren = f.hart.hcounteren = -1;
    f.hart.htimedeltaLo = 500;
    const pc = RAM_BASE + 0x1000;
    f.write(pc, [A.csrr(A.t0, CSR_TIME), A.csrr(A.t1, CSR_INSTRET), A.addi(0, 0, 0), A.csrr(A.t2, CSR_INSTRET)]);
    f.enter("VS", pc);
    f.run(4);
    expect(f.x(A.t0)).toBe(1500n);
    expect(f.x(A.t2) - f.x(A.t1)).toBe(2n);
  });

  test("instret stays exact past 2^31 and 2^32 retired instructions (icount is a double)", () => {
    for (const engine of ["reference", "fast"] as const) {
      const f = makeHart();
      f.hart.mcounteren = f.hart.hcounteren = -1;
      f.hart.icount = 2 ** 32 - 2;
      const pc = RAM_BASE + 0x1000;
      f.write(pc, [A.csrr(A.t1, CSR_INSTRET), A.addi(0, 0, 0), A.addi(0, 0, 0), A.csrr(A.t2, CSR_INSTRET)]);
      f.enter("HS", pc);
      f.run(4, engine);
      expect(f.x(A.t1)).toBe(2n ** 32n - 2n);
      expect(f.x(A.t2)).toBe(2n ** 32n + 1n);
      expect(f.hart.icount).toBe(2 ** 32 + 2);
    }
  });
  test("TVM/VTVM guard satp; Sstc stimecmp needs STCE and TM", () => {
    const f = makeHart();
    f.hart.mstatus |= MSTATUS_TVM;
    expect(csrSwap(f, "HS", CSR_SATP, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    expect(csrSwap(f, "VS", CSR_SATP, 0n).cause).toBe(-1); // TVM does not apply to vsatp
    f.hart.hstatus |= HSTATUS_VTVM;
    expect(csrSwap(f, "VS", CSR_SATP, 0n).cause).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    expect(csrSwap(f, "HS", CSR_STIMECMP, 0n).cause).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    f.hart.menvcfgHi = ENVCFG_HI_STCE;
    f.hart.mcounteren = COUNTEREN_TM;
    expect(csrSwap(f, "HS", CSR_STIMECMP, 0n).cause).toBe(-1);
    expect(csrSwap(f, "VS", CSR_STIMECMP, 0n).cause).toBe(CAUSE_VIRTUAL_INSTRUCTION);
    f.hart.hcounteren = COUNTEREN_TM;
    f.hart.henvcfgHi = ENVCFG_HI_STCE;
    csrSwap(f, "VS", CSR_STIMECMP, 77n);
    expect(f.hart.vstimecmpLo).toBe(77);
    expect(f.hart.stimecmpLo).toBe(0);
  });

  test("illegal instruction tval holds the instruction bits", () => {
    const f = makeHart();
    const insn = A.csrrw(A.t0, CSR_MSTATUS, A.t1);
    csrSwap(f, "HS", CSR_MSTATUS, 0n);
    expect(f.hart.mtval).toBe(insn >>> 0);
  });
});
