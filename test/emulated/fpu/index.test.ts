/**
 * The execFp contract: register-file layout, decoding (every reserved encoding is FP_ILLEGAL and changes
 * nothing), x0, NaN-boxed writes, accrued flags and lastWroteState. Arithmetic results are checked by
 * property.test.ts (against the rational reference) and vectors.test.ts (QEMU-confirmed cases).
 */
import { describe, expect, test } from "bun:test";
import { CANONICAL_NAN_D_HI, CANONICAL_NAN_S, FFLAG_DZ, FFLAG_NV, FFLAG_NX } from "../../../src/arch/riscv64/fp.ts";
import { OPC_OP_FP } from "../../../src/arch/riscv64/isa.ts";
import * as E from "../../../src/hal/emulated/fpu/encode.ts";
import { execFp, FP_ILLEGAL, FP_OK, FpState } from "../../../src/hal/emulated/fpu/index.ts";
import { boxS, d, getF, IntRegs, run, s, setF } from "./testing.ts";

const SNAN_D = 0x7ff0000000000001n;
const CANONICAL_NAN_D = BigInt(CANONICAL_NAN_D_HI) << 32n;

function snapshot(fp: FpState, x: IntRegs) {
  return {
    f: Array.from({ length: 32 }, (_, i) => getF(fp, i)),
    x: Array.from({ length: 32 }, (_, i) => x.get(i)),
    fflags: fp.fflags,
    frm: fp.frm,
    dirty: fp.lastWroteState,
  };
}

/** A state with every register holding a distinct recognisable value. */
function filled(): { fp: FpState; x: IntRegs } {
  const fp = new FpState();
  const x = new IntRegs();
  for (let i = 0; i < 32; i++) {
    setF(fp, i, boxS(s(i + 0.5)));
    if (i !== 0) x.set(i, BigInt(i) * 0x0101010101010101n);
  }
  setF(fp, 9, d(3));
  return { fp, x };
}

describe("FpState", () => {
  test("f64 and bits view the same 32 registers, low word first", () => {
    const fp = new FpState();
    expect(fp.f64.length).toBe(32);
    expect(fp.bits.length).toBe(64);
    fp.f64[5] = 1;
    expect(fp.bits[10]).toBe(0);
    expect(fp.bits[11]).toBe(0x3ff00000);
    expect(getF(fp, 5)).toBe(d(1));
  });

  test("starts with zero flags, round-to-nearest and a clean state", () => {
    const fp = new FpState();
    expect([fp.fflags, fp.frm, fp.lastWroteState]).toEqual([0, 0, false]);
  });
});

describe("illegal encodings change nothing", () => {
  const cases: [string, number, number?][] = [
    ["rm = 5", E.arith("fadd", "d", 3, 1, 2, 5)],
    ["rm = 6", E.arith("fmul", "s", 3, 1, 2, 6)],
    ["dyn with frm = 5", E.arith("fadd", "d", 3, 1, 2, 7), 5],
    ["dyn with frm = 6", E.fsqrt("s", 3, 1, 7), 6],
    ["dyn with frm = 7", E.fused("fmadd", "d", 3, 1, 2, 4, 7), 7],
    ["fcvt.d.w with dyn and frm = 7", E.cvtFromInt("d", "w", 3, 1, 7), 7],
    ["fcvt.w.s with rm = 5", E.cvtToInt("w", "s", 3, 1, 5)],
    ["fcvt.d.s with rm = 6", E.cvtFormat("d", 3, 1, 6)],
    ["fmt = H (2)", E.encodeOpFp(0, 2, 3, 1, 2, 0)],
    ["fmt = Q (3)", E.encodeOpFp(0, 3, 3, 1, 2, 0)],
    ["fmadd.h", E.encodeR4(0x43, 2, 3, 1, 2, 4, 0)],
    ["fsqrt with rs2 = 1", E.encodeOpFp(0b01011, 1, 3, 1, 1, 0)],
    ["fsgnj with funct3 = 3", E.encodeOpFp(0b00100, 1, 3, 1, 2, 3)],
    ["fmin/fmax with funct3 = 2 (Zfa fminm)", E.encodeOpFp(0b00101, 0, 3, 1, 2, 2)],
    ["fcmp with funct3 = 3", E.encodeOpFp(0b10100, 1, 3, 1, 2, 3)],
    ["fcmp with funct3 = 4 (Zfa fleq)", E.encodeOpFp(0b10100, 1, 3, 1, 2, 4)],
    ["fcvt.w.d with rs2 = 4", E.encodeOpFp(0b11000, 1, 3, 1, 4, 0)],
    ["fcvt.d.<int> with rs2 = 8", E.encodeOpFp(0b11010, 1, 3, 1, 8, 0)],
    ["fcvt.s.d with rs2 = 0", E.encodeOpFp(0b01000, 0, 3, 1, 0, 0)],
    ["fcvt.d.s with rs2 = 1", E.encodeOpFp(0b01000, 1, 3, 1, 1, 0)],
    ["fcvt.d.h (rs2 = 2)", E.encodeOpFp(0b01000, 1, 3, 1, 2, 0)],
    ["Zfa fround.d (rs2 = 4)", E.encodeOpFp(0b01000, 1, 3, 1, 4, 0)],
    ["fmv.x.d with rs2 = 1", E.encodeOpFp(0b11100, 1, 3, 1, 1, 0)],
    ["fclass with funct3 = 2", E.encodeOpFp(0b11100, 1, 3, 1, 0, 2)],
    ["fmv.d.x with funct3 = 1", E.encodeOpFp(0b11110, 1, 3, 1, 0, 1)],
    ["Zfa fli.d (fmv.d.x with rs2 = 1)", E.encodeOpFp(0b11110, 1, 3, 1, 1, 0)],
    ["unassigned funct5 0b00110", E.encodeOpFp(0b00110, 1, 3, 1, 2, 0)],
    ["unassigned funct5 0b11111", E.encodeOpFp(0b11111, 0, 3, 1, 2, 0)],
    ["not an FP opcode (OP)", 0x002081b3],
  ];
  for (const [label, insn, frm] of cases) {
    test(label, () => {
      const { fp, x } = filled();
      fp.frm = frm ?? 0;
      fp.fflags = FFLAG_NX;
      const before = snapshot(fp, x);
      expect(run(insn, fp, x)).toBe(FP_ILLEGAL);
      expect(snapshot(fp, x)).toEqual(before);
    });
  }

  test("instructions without an rm field run whatever frm holds", () => {
    const { fp, x } = filled();
    fp.frm = 7;
    expect(run(E.sgnj("fsgnjn", "d", 3, 9, 9), fp, x)).toBe(FP_OK);
    expect(getF(fp, 3)).toBe(d(-3));
    expect(run(E.minMax("fmax", "d", 3, 9, 9), fp, x)).toBe(FP_OK);
    expect(run(E.cmp("feq", "d", 5, 9, 9), fp, x)).toBe(FP_OK);
    expect(x.get(5)).toBe(1n);
    expect(run(E.fclass("d", 5, 9), fp, x)).toBe(FP_OK);
    expect(run(E.fmvToX("d", 5, 9), fp, x)).toBe(FP_OK);
    expect(run(E.fmvFromX("s", 6, 5), fp, x)).toBe(FP_OK);
  });
});

describe("integer destinations", () => {
  const writers: [string, number][] = [
    ["feq.d", E.cmp("feq", "d", 0, 9, 9)],
    ["fclass.s", E.fclass("s", 0, 1)],
    ["fmv.x.d", E.fmvToX("d", 0, 9)],
    ["fmv.x.w", E.fmvToX("s", 0, 1)],
    ["fcvt.l.d", E.cvtToInt("l", "d", 0, 9, 0)],
    ["fcvt.w.s", E.cvtToInt("w", "s", 0, 1, 0)],
  ];
  for (const [label, insn] of writers) {
    test(`${label} with rd = x0 leaves x0 alone`, () => {
      const { fp, x } = filled();
      expect(run(insn, fp, x)).toBe(FP_OK);
      expect(x.lo[0]).toBe(0);
      expect(x.hi[0]).toBe(0);
    });
  }

  test("fcvt.w.d writes a sign-extended 32-bit result into both halves", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, d(-5.5));
    expect(run(E.cvtToInt("w", "d", 7, 1, 1), fp, x)).toBe(FP_OK);
    expect(x.get(7)).toBe(0xfffffffffffffffbn);
    expect(fp.fflags).toBe(FFLAG_NX);
  });

  test("fcvt.d.l reads both halves of the source register", () => {
    const fp = new FpState();
    const x = new IntRegs();
    x.set(8, -(1n << 40n));
    expect(run(E.cvtFromInt("d", "l", 3, 8, 0), fp, x)).toBe(FP_OK);
    expect(getF(fp, 3)).toBe(d(-(2 ** 40)));
  });
});

describe("results and state", () => {
  test("single-precision results are NaN-boxed, NaNs canonical", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, boxS(s(1.5)));
    setF(fp, 2, boxS(s(2)));
    expect(run(E.arith("fadd", "s", 3, 1, 2, 0), fp, x)).toBe(FP_OK);
    expect(getF(fp, 3)).toBe(boxS(s(3.5)));
    setF(fp, 2, boxS(0x7f800001n)); // signalling
    expect(run(E.arith("fmul", "s", 3, 1, 2, 0), fp, x)).toBe(FP_OK);
    expect(getF(fp, 3)).toBe(boxS(BigInt(CANONICAL_NAN_S)));
    expect(fp.fflags).toBe(FFLAG_NV);
  });

  test("double NaN results are the canonical NaN whatever the operands carry", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, 0xfff8dead0000beefn);
    setF(fp, 2, d(1));
    expect(run(E.arith("fsub", "d", 3, 1, 2, 0), fp, x)).toBe(FP_OK);
    expect(getF(fp, 3)).toBe(CANONICAL_NAN_D);
    expect(fp.fflags).toBe(0);
  });

  test("flags accrue across instructions", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, d(1));
    setF(fp, 2, d(0));
    setF(fp, 4, d(3));
    run(E.arith("fdiv", "d", 3, 1, 2, 0), fp, x);
    run(E.arith("fdiv", "d", 3, 1, 4, 0), fp, x);
    run(E.arith("fadd", "d", 3, 1, 4, 0), fp, x);
    expect(fp.fflags).toBe(FFLAG_DZ | FFLAG_NX);
  });

  test("lastWroteState: set by FP register writes and by new flags only", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, d(1));
    setF(fp, 2, SNAN_D);
    run(E.cmp("flt", "d", 5, 1, 1), fp, x);
    run(E.fclass("d", 5, 2), fp, x);
    run(E.fmvToX("d", 5, 2), fp, x);
    run(E.cvtToInt("l", "d", 5, 1, 0), fp, x);
    expect(fp.lastWroteState).toBe(false);
    run(E.cmp("feq", "d", 5, 1, 2), fp, x); // signalling NaN: NV
    expect(fp.lastWroteState).toBe(true);
    fp.lastWroteState = false;
    run(E.cmp("feq", "d", 5, 1, 2), fp, x); // NV already set: nothing changes
    expect(fp.lastWroteState).toBe(false);
    run(E.fmvFromX("d", 6, 5), fp, x);
    expect(fp.lastWroteState).toBe(true);
    fp.lastWroteState = false;
    run(E.arith("fadd", "d", 7, 1, 1, 0), fp, x);
    expect(fp.lastWroteState).toBe(true);
  });

  test("fmv.x.d and fmv.d.x move signalling NaNs bit for bit", () => {
    const fp = new FpState();
    const x = new IntRegs();
    setF(fp, 1, SNAN_D);
    expect(run(E.fmvToX("d", 5, 1), fp, x)).toBe(FP_OK);
    expect(x.get(5)).toBe(SNAN_D);
    expect(run(E.fmvFromX("d", 2, 5), fp, x)).toBe(FP_OK);
    expect(getF(fp, 2)).toBe(SNAN_D);
    expect(fp.fflags).toBe(0);
  });

  test("the opcode dispatch accepts exactly the five FP opcodes", () => {
    const fp = new FpState();
    const x = new IntRegs();
    let accepted = 0;
    for (let opcode = 0; opcode < 128; opcode++) {
      if (execFp(E.encodeR4(opcode, 1, 3, 1, 2, 4, 0), fp, x.lo, x.hi) === FP_OK) accepted++;
    }
    // 0x43, 0x47, 0x4b, 0x4f run fmadd-style; 0x53 with funct5 = rs3 field = 4 is FSGNJ.D.
    expect(accepted).toBe(5);
    expect(OPC_OP_FP).toBe(0x53);
  });
});
