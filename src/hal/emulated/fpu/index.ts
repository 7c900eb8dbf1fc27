/**
 * The F and D extensions of the emulated RV64 hart (RISC-V unprivileged ISA 20191213, chapters 11-12).
 *
 * The hart owns decoding of loads/stores (FLW/FLD/FSW/FSD), the fcsr CSRs and mstatus.FS; it hands every
 * OP-FP / FMADD / FMSUB / FNMSUB / FNMADD instruction to `execFp`, which decodes and executes it against the
 * FP register file in `FpState` and the integer register halves, or reports it illegal without changing any
 * state.
 */

import {
  CANONICAL_NAN_D_HI,
  CANONICAL_NAN_S,
  CVT_LU,
  FCLASS_NEG_INF,
  FCLASS_NEG_NORMAL,
  FCLASS_NEG_SUBNORMAL,
  FCLASS_NEG_ZERO,
  FCLASS_POS_INF,
  FCLASS_POS_NORMAL,
  FCLASS_POS_SUBNORMAL,
  FCLASS_POS_ZERO,
  FCLASS_QNAN,
  FCLASS_SNAN,
  FFLAG_NV,
  FMT_D,
  FMT_S,
  FUNCT3_FCLASS,
  FUNCT3_FEQ,
  FUNCT3_FLE,
  FUNCT3_FLT,
  FUNCT3_FMAX,
  FUNCT3_FMIN,
  FUNCT3_FMV_X,
  FUNCT3_FSGNJ,
  FUNCT3_FSGNJN,
  FUNCT3_FSGNJX,
  FUNCT5_FADD,
  FUNCT5_FCMP,
  FUNCT5_FCVT_FMT_FMT,
  FUNCT5_FCVT_FMT_INT,
  FUNCT5_FCVT_INT_FMT,
  FUNCT5_FDIV,
  FUNCT5_FMINMAX,
  FUNCT5_FMUL,
  FUNCT5_FMV_F_X,
  FUNCT5_FMV_X_FCLASS,
  FUNCT5_FSGNJ,
  FUNCT5_FSQRT,
  FUNCT5_FSUB,
  RM_DYN,
  RM_RMM,
} from "../../../arch/riscv64/fp.ts";
import { OPC_MADD, OPC_MSUB, OPC_NMADD, OPC_NMSUB, OPC_OP_FP } from "../../../arch/riscv64/isa.ts";
import { addF32, divF32, fmaF32, mulF32, sqrtF32 } from "./arith-f32.ts";
import { addF64, divF64, fmaF64, mulF64, sqrtF64 } from "./arith-f64.ts";
import { f32Bits, f32FromBits } from "./bits.ts";
import { convertF64ToF32, convertIntToF32, convertIntToF64, convertToInt } from "./convert.ts";

/** The FP register file and the fcsr fields the FPU reads and accrues. */
export class FpState {
  /** f0..f31 as binary64 values. Never read a NaN's payload through this view: the engine may change it. */
  readonly f64: Float64Array;
  /** The same 256 bytes as words: bits[2*i] = low word of f[i], bits[2*i+1] = high word (little-endian host). */
  readonly bits: Int32Array;
  /** fcsr.fflags: NV DZ OF UF NX in bits 4..0. */
  fflags = 0;
  /** fcsr.frm: 0..4 valid; 5, 6 and 7 make dynamic-rounding instructions illegal. */
  frm = 0;
  /** Set by execFp when it changed an FP register or fflags (the hart then makes mstatus.FS Dirty). */
  lastWroteState = false;

  constructor() {
    const buffer = new ArrayBuffer(32 * 8);
    this.f64 = new Float64Array(buffer);
    this.bits = new Int32Array(buffer);
  }
}

/** execFp executed the instruction. */
export const FP_OK = 0;
/** execFp found a reserved encoding or rounding mode; nothing was changed (the hart raises illegal instruction). */
export const FP_ILLEGAL = 1;

/**
 * Executes one OP-FP (opcode 0x53) or fused multiply-add (0x43, 0x47, 0x4b, 0x4f) instruction. xlo/xhi are the
 * integer register words (Hart.xlo/xhi: register r at index 2 * r); x0 is never written. Returns FP_OK or FP_ILLEGAL.
 */
export function execFp(insn: number, fp: FpState, xlo: Int32Array, xhi: Int32Array): number {
  const opcode = insn & 0x7f;
  const fmt = (insn >>> 25) & 3;
  if (fmt !== FMT_S && fmt !== FMT_D) return FP_ILLEGAL; // H and Q are not implemented
  const flagsBefore = fp.fflags;
  let status: number;
  if (opcode === OPC_OP_FP) {
    status = fmt === FMT_D ? execOpFpD(insn, fp, xlo, xhi) : execOpFpS(insn, fp, xlo, xhi);
  } else if (opcode === OPC_MADD || opcode === OPC_MSUB || opcode === OPC_NMSUB || opcode === OPC_NMADD) {
    status = execFused(insn, opcode, fmt, fp);
  } else {
    return FP_ILLEGAL;
  }
  if (fp.fflags !== flagsBefore) fp.lastWroteState = true;
  return status;
}

/** The effective rounding mode of an instruction's rm field, or -1 when it is reserved (5, 6, or 7 with frm > 4). */
function roundingMode(insn: number, fp: FpState): number {
  const rm = (insn >>> 12) & 7;
  const effective = rm === RM_DYN ? fp.frm : rm;
  return effective >= 0 && effective <= RM_RMM ? effective : -1;
}

// ---- register access ----

/** The binary32 operand in f[i]: its value, or NaN when it is not NaN-boxed (it then counts as canonical). */
function readS(fp: FpState, i: number): number {
  return fp.bits[2 * i + 1] === -1 ? f32FromBits(fp.bits[2 * i] ?? 0) : Number.NaN;
}

/** The binary32 bit pattern f[i] stands for: its low word if NaN-boxed, else the canonical NaN. */
function sBits(fp: FpState, i: number): number {
  return fp.bits[2 * i + 1] === -1 ? (fp.bits[2 * i] ?? 0) : CANONICAL_NAN_S;
}

function isSignalingS(fp: FpState, i: number): boolean {
  const w = sBits(fp, i);
  return (w & 0x7fc00000) === 0x7f800000 && (w & 0x003fffff) !== 0;
}

function isSignalingD(fp: FpState, i: number): boolean {
  const hi = fp.bits[2 * i + 1] ?? 0;
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x0007ffff) | (fp.bits[2 * i] ?? 0)) !== 0;
}

/** Writes a binary64 result; any NaN becomes the canonical NaN. */
function writeD(fp: FpState, rd: number, v: number): void {
  if (v !== v) {
    fp.bits[2 * rd] = 0;
    fp.bits[2 * rd + 1] = CANONICAL_NAN_D_HI;
  } else {
    fp.f64[rd] = v;
  }
  fp.lastWroteState = true;
}

/** Writes a binary32 result NaN-boxed; any NaN becomes the canonical NaN. */
function writeS(fp: FpState, rd: number, v: number): void {
  fp.bits[2 * rd] = v !== v ? CANONICAL_NAN_S : f32Bits(v);
  fp.bits[2 * rd + 1] = -1;
  fp.lastWroteState = true;
}

/** Writes a 64-bit integer result (as two words) to x[rd], unless rd is x0. */
function writeX(xlo: Int32Array, xhi: Int32Array, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    xlo[2 * rd] = lo;
    xhi[2 * rd] = hi;
  }
}

// ---- ops that do not round ----

/** FMIN/FMAX (2019 semantics): -0 < +0; a single NaN operand yields the other; two NaNs the canonical NaN. */
function minMax(a: number, b: number, max: boolean): number {
  if (a !== a) return b; // NaN when both are
  if (b !== b) return a;
  if (a === b) {
    if (a !== 0) return a;
    const aNegative = 1 / a < 0;
    const bNegative = 1 / b < 0;
    return max ? (aNegative && bNegative ? -0 : 0) : aNegative || bNegative ? -0 : 0;
  }
  return max === a > b ? a : b;
}

/** FEQ/FLT/FLE on non-NaN-checked values: 1 or 0. */
function compare(a: number, b: number, funct3: number): number {
  if (funct3 === FUNCT3_FEQ) return a === b ? 1 : 0;
  if (funct3 === FUNCT3_FLT) return a < b ? 1 : 0;
  return a <= b ? 1 : 0;
}

/** FCLASS from the sign, the biased exponent (all ones = expMax), and whether the fraction is zero / quiet. */
function classify(negative: boolean, exponent: number, expMax: number, fractionZero: boolean, quiet: boolean) {
  if (exponent === expMax) {
    if (fractionZero) return negative ? FCLASS_NEG_INF : FCLASS_POS_INF;
    return quiet ? FCLASS_QNAN : FCLASS_SNAN;
  }
  if (exponent === 0) {
    if (fractionZero) return negative ? FCLASS_NEG_ZERO : FCLASS_POS_ZERO;
    return negative ? FCLASS_NEG_SUBNORMAL : FCLASS_POS_SUBNORMAL;
  }
  return negative ? FCLASS_NEG_NORMAL : FCLASS_POS_NORMAL;
}

/** Bit 31 of the FSGNJ (funct3 0), FSGNJN (1) or FSGNJX (2) result, from the words holding the two signs. */
function injectedSign(funct3: number, x: number, y: number): number {
  switch (funct3) {
    case FUNCT3_FSGNJ:
      return y & 0x80000000;
    case FUNCT3_FSGNJN:
      return ~y & 0x80000000;
    default: // FUNCT3_FSGNJX
      return (x ^ y) & 0x80000000;
  }
}

// ---- OP-FP, binary64 ----

function execOpFpD(insn: number, fp: FpState, xlo: Int32Array, xhi: Int32Array): number {
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f = fp.f64;
  switch (insn >>> 27) {
    case FUNCT5_FADD:
    case FUNCT5_FSUB:
    case FUNCT5_FMUL:
    case FUNCT5_FDIV: {
      const rm = roundingMode(insn, fp);
      if (rm < 0) return FP_ILLEGAL;
      const a = f[rs1] ?? 0;
      const b = f[rs2] ?? 0;
      let r: number;
      if (a !== a || b !== b) {
        if (isSignalingD(fp, rs1) || isSignalingD(fp, rs2)) fp.fflags |= FFLAG_NV;
        r = Number.NaN;
      } else {
        switch (insn >>> 27) {
          case FUNCT5_FADD:
            r = addF64(fp, a, b, rm);
            break;
          case FUNCT5_FSUB:
            r = addF64(fp, a, -b, rm);
            break;
          case FUNCT5_FMUL:
            r = mulF64(fp, a, b, rm);
            break;
          default:
            r = divF64(fp, a, b, rm);
            break;
        }
      }
      writeD(fp, rd, r);
      return FP_OK;
    }
    case FUNCT5_FSQRT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 !== 0) return FP_ILLEGAL;
      const a = f[rs1] ?? 0;
      if (a !== a) {
        if (isSignalingD(fp, rs1)) fp.fflags |= FFLAG_NV;
        writeD(fp, rd, Number.NaN);
      } else {
        writeD(fp, rd, sqrtF64(fp, a, rm));
      }
      return FP_OK;
    }
    case FUNCT5_FSGNJ: {
      if (funct3 > FUNCT3_FSGNJX) return FP_ILLEGAL;
      const hi1 = fp.bits[2 * rs1 + 1] ?? 0;
      const sign = injectedSign(funct3, hi1, fp.bits[2 * rs2 + 1] ?? 0);
      fp.bits[2 * rd] = fp.bits[2 * rs1] ?? 0; // the payload travels unchanged: FSGNJ is not arithmetic
      fp.bits[2 * rd + 1] = (hi1 & 0x7fffffff) | sign;
      fp.lastWroteState = true;
      return FP_OK;
    }
    case FUNCT5_FMINMAX: {
      if (funct3 !== FUNCT3_FMIN && funct3 !== FUNCT3_FMAX) return FP_ILLEGAL;
      if (isSignalingD(fp, rs1) || isSignalingD(fp, rs2)) fp.fflags |= FFLAG_NV;
      writeD(fp, rd, minMax(f[rs1] ?? 0, f[rs2] ?? 0, funct3 === FUNCT3_FMAX));
      return FP_OK;
    }
    case FUNCT5_FCVT_FMT_FMT: {
      // FCVT.D.S: exact, NaNs become canonical (the spec's rm field is still checked, as Spike and QEMU do).
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 !== FMT_S) return FP_ILLEGAL;
      if (isSignalingS(fp, rs1)) fp.fflags |= FFLAG_NV;
      writeD(fp, rd, readS(fp, rs1));
      return FP_OK;
    }
    case FUNCT5_FCMP: {
      if (funct3 !== FUNCT3_FEQ && funct3 !== FUNCT3_FLT && funct3 !== FUNCT3_FLE) return FP_ILLEGAL;
      const a = f[rs1] ?? 0;
      const b = f[rs2] ?? 0;
      let result = 0;
      if (a !== a || b !== b) {
        // FEQ is a quiet comparison (NV only for signalling NaNs); FLT and FLE signal on any NaN.
        if (funct3 !== FUNCT3_FEQ || isSignalingD(fp, rs1) || isSignalingD(fp, rs2)) fp.fflags |= FFLAG_NV;
      } else {
        result = compare(a, b, funct3);
      }
      writeX(xlo, xhi, rd, result, 0);
      return FP_OK;
    }
    case FUNCT5_FCVT_INT_FMT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 > CVT_LU) return FP_ILLEGAL;
      convertToInt(fp, f[rs1] ?? 0, rs2, rm, xlo, xhi, rd);
      return FP_OK;
    }
    case FUNCT5_FCVT_FMT_INT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 > CVT_LU) return FP_ILLEGAL;
      writeD(fp, rd, convertIntToF64(fp, xlo[2 * rs1] ?? 0, xhi[2 * rs1] ?? 0, rs2, rm));
      return FP_OK;
    }
    case FUNCT5_FMV_X_FCLASS: {
      if (rs2 !== 0) return FP_ILLEGAL;
      const hi = fp.bits[2 * rs1 + 1] ?? 0;
      const lo = fp.bits[2 * rs1] ?? 0;
      if (funct3 === FUNCT3_FMV_X) {
        writeX(xlo, xhi, rd, lo, hi);
      } else if (funct3 === FUNCT3_FCLASS) {
        const fractionZero = (hi & 0xfffff) === 0 && lo === 0;
        writeX(xlo, xhi, rd, classify(hi < 0, (hi >>> 20) & 0x7ff, 0x7ff, fractionZero, (hi & 0x80000) !== 0), 0);
      } else {
        return FP_ILLEGAL;
      }
      return FP_OK;
    }
    case FUNCT5_FMV_F_X: {
      if (rs2 !== 0 || funct3 !== 0) return FP_ILLEGAL;
      fp.bits[2 * rd] = xlo[2 * rs1] ?? 0;
      fp.bits[2 * rd + 1] = xhi[2 * rs1] ?? 0;
      fp.lastWroteState = true;
      return FP_OK;
    }
    default:
      return FP_ILLEGAL;
  }
}

// ---- OP-FP, binary32 ----

function execOpFpS(insn: number, fp: FpState, xlo: Int32Array, xhi: Int32Array): number {
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  switch (insn >>> 27) {
    case FUNCT5_FADD:
    case FUNCT5_FSUB:
    case FUNCT5_FMUL:
    case FUNCT5_FDIV: {
      const rm = roundingMode(insn, fp);
      if (rm < 0) return FP_ILLEGAL;
      const a = readS(fp, rs1);
      const b = readS(fp, rs2);
      let r: number;
      if (a !== a || b !== b) {
        if (isSignalingS(fp, rs1) || isSignalingS(fp, rs2)) fp.fflags |= FFLAG_NV;
        r = Number.NaN;
      } else {
        switch (insn >>> 27) {
          case FUNCT5_FADD:
            r = addF32(fp, a, b, rm);
            break;
          case FUNCT5_FSUB:
            r = addF32(fp, a, -b, rm);
            break;
          case FUNCT5_FMUL:
            r = mulF32(fp, a, b, rm);
            break;
          default:
            r = divF32(fp, a, b, rm);
            break;
        }
      }
      writeS(fp, rd, r);
      return FP_OK;
    }
    case FUNCT5_FSQRT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 !== 0) return FP_ILLEGAL;
      const a = readS(fp, rs1);
      if (a !== a) {
        if (isSignalingS(fp, rs1)) fp.fflags |= FFLAG_NV;
        writeS(fp, rd, Number.NaN);
      } else {
        writeS(fp, rd, sqrtF32(fp, a, rm));
      }
      return FP_OK;
    }
    case FUNCT5_FSGNJ: {
      if (funct3 > FUNCT3_FSGNJX) return FP_ILLEGAL;
      const x = sBits(fp, rs1);
      const sign = injectedSign(funct3, x, sBits(fp, rs2));
      fp.bits[2 * rd] = (x & 0x7fffffff) | sign;
      fp.bits[2 * rd + 1] = -1;
      fp.lastWroteState = true;
      return FP_OK;
    }
    case FUNCT5_FMINMAX: {
      if (funct3 !== FUNCT3_FMIN && funct3 !== FUNCT3_FMAX) return FP_ILLEGAL;
      if (isSignalingS(fp, rs1) || isSignalingS(fp, rs2)) fp.fflags |= FFLAG_NV;
      writeS(fp, rd, minMax(readS(fp, rs1), readS(fp, rs2), funct3 === FUNCT3_FMAX));
      return FP_OK;
    }
    case FUNCT5_FCVT_FMT_FMT: {
      // FCVT.S.D
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 !== FMT_D) return FP_ILLEGAL;
      const a = fp.f64[rs1] ?? 0;
      if (a !== a) {
        if (isSignalingD(fp, rs1)) fp.fflags |= FFLAG_NV;
        writeS(fp, rd, Number.NaN);
      } else {
        writeS(fp, rd, convertF64ToF32(fp, a, rm));
      }
      return FP_OK;
    }
    case FUNCT5_FCMP: {
      if (funct3 !== FUNCT3_FEQ && funct3 !== FUNCT3_FLT && funct3 !== FUNCT3_FLE) return FP_ILLEGAL;
      const a = readS(fp, rs1);
      const b = readS(fp, rs2);
      let result = 0;
      if (a !== a || b !== b) {
        if (funct3 !== FUNCT3_FEQ || isSignalingS(fp, rs1) || isSignalingS(fp, rs2)) fp.fflags |= FFLAG_NV;
      } else {
        result = compare(a, b, funct3);
      }
      writeX(xlo, xhi, rd, result, 0);
      return FP_OK;
    }
    case FUNCT5_FCVT_INT_FMT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 > CVT_LU) return FP_ILLEGAL;
      convertToInt(fp, readS(fp, rs1), rs2, rm, xlo, xhi, rd);
      return FP_OK;
    }
    case FUNCT5_FCVT_FMT_INT: {
      const rm = roundingMode(insn, fp);
      if (rm < 0 || rs2 > CVT_LU) return FP_ILLEGAL;
      writeS(fp, rd, convertIntToF32(fp, xlo[2 * rs1] ?? 0, xhi[2 * rs1] ?? 0, rs2, rm));
      return FP_OK;
    }
    case FUNCT5_FMV_X_FCLASS: {
      if (rs2 !== 0) return FP_ILLEGAL;
      if (funct3 === FUNCT3_FMV_X) {
        // A transfer, not an operation: the raw low word, whatever the upper half holds.
        const w = fp.bits[2 * rs1] ?? 0;
        writeX(xlo, xhi, rd, w, w >> 31);
      } else if (funct3 === FUNCT3_FCLASS) {
        const w = sBits(fp, rs1);
        const fractionZero = (w & 0x7fffff) === 0;
        writeX(xlo, xhi, rd, classify(w < 0, (w >>> 23) & 0xff, 0xff, fractionZero, (w & 0x400000) !== 0), 0);
      } else {
        return FP_ILLEGAL;
      }
      return FP_OK;
    }
    case FUNCT5_FMV_F_X: {
      if (rs2 !== 0 || funct3 !== 0) return FP_ILLEGAL;
      fp.bits[2 * rd] = xlo[2 * rs1] ?? 0;
      fp.bits[2 * rd + 1] = -1;
      fp.lastWroteState = true;
      return FP_OK;
    }
    default:
      return FP_ILLEGAL;
  }
}

// ---- FMADD / FMSUB / FNMSUB / FNMADD ----

function execFused(insn: number, opcode: number, fmt: number, fp: FpState): number {
  const rm = roundingMode(insn, fp);
  if (rm < 0) return FP_ILLEGAL;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const rs3 = insn >>> 27;
  // FMSUB: a·b - c; FNMSUB: -(a·b) + c; FNMADD: -(a·b) - c. Negating the operands instead of the result gives
  // the spec's signed zeros (an exact zero sum is +0 unless rounding down, whatever the negations).
  const negateProduct = opcode === OPC_NMSUB || opcode === OPC_NMADD;
  const negateAddend = opcode === OPC_MSUB || opcode === OPC_NMADD;
  const d = fmt === FMT_D;
  let a: number;
  let b: number;
  let c: number;
  if (d) {
    a = fp.f64[rs1] ?? 0;
    b = fp.f64[rs2] ?? 0;
    c = fp.f64[rs3] ?? 0;
  } else {
    a = readS(fp, rs1);
    b = readS(fp, rs2);
    c = readS(fp, rs3);
  }
  if (negateProduct) a = -a;
  if (negateAddend) c = -c;
  let r: number;
  if (a !== a || b !== b || c !== c) {
    const signaling = d
      ? isSignalingD(fp, rs1) || isSignalingD(fp, rs2) || isSignalingD(fp, rs3)
      : isSignalingS(fp, rs1) || isSignalingS(fp, rs2) || isSignalingS(fp, rs3);
    // ∞·0 is invalid even when the addend is a quiet NaN (spec section 11.6).
    const infinityTimesZero = (a - a !== 0 && a === a && b === 0) || (b - b !== 0 && b === b && a === 0);
    if (signaling || infinityTimesZero) fp.fflags |= FFLAG_NV;
    r = Number.NaN;
  } else {
    r = d ? fmaF64(fp, a, b, c, rm) : fmaF32(fp, a, b, c, rm);
  }
  if (d) writeD(fp, rd, r);
  else writeS(fp, rd, r);
  return FP_OK;
}
