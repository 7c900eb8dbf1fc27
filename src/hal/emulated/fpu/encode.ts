/**
 * Encoders for the F and D instructions executed by execFp (for tests and for whoever needs to assemble one).
 */
import {
  CVT_L,
  CVT_LU,
  CVT_W,
  CVT_WU,
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
} from "../../../arch/riscv64/fp.ts";
import { OPC_MADD, OPC_MSUB, OPC_NMADD, OPC_NMSUB, OPC_OP_FP } from "../../../arch/riscv64/isa.ts";

export type Precision = "s" | "d";
export type IntKind = "w" | "wu" | "l" | "lu";

const fmtOf = (p: Precision): number => (p === "d" ? FMT_D : FMT_S);
const intOf = (k: IntKind): number => ({ w: CVT_W, wu: CVT_WU, l: CVT_L, lu: CVT_LU })[k];

/** An OP-FP instruction word from its fields. */
export function encodeOpFp(funct5: number, fmt: number, rd: number, rs1: number, rs2: number, funct3: number) {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | OPC_OP_FP) >>> 0;
}

/** An R4-type fused multiply-add word. */
export function encodeR4(opcode: number, fmt: number, rd: number, rs1: number, rs2: number, rs3: number, rm: number) {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}

export type ArithOp = "fadd" | "fsub" | "fmul" | "fdiv";
const ARITH_FUNCT5: Record<ArithOp, number> = {
  fadd: FUNCT5_FADD,
  fsub: FUNCT5_FSUB,
  fmul: FUNCT5_FMUL,
  fdiv: FUNCT5_FDIV,
};

export function arith(op: ArithOp, p: Precision, rd: number, rs1: number, rs2: number, rm = RM_DYN): number {
  return encodeOpFp(ARITH_FUNCT5[op], fmtOf(p), rd, rs1, rs2, rm);
}

export function fsqrt(p: Precision, rd: number, rs1: number, rm = RM_DYN): number {
  return encodeOpFp(FUNCT5_FSQRT, fmtOf(p), rd, rs1, 0, rm);
}

export type FusedOp = "fmadd" | "fmsub" | "fnmsub" | "fnmadd";
const FUSED_OPCODE: Record<FusedOp, number> = {
  fmadd: OPC_MADD,
  fmsub: OPC_MSUB,
  fnmsub: OPC_NMSUB,
  fnmadd: OPC_NMADD,
};

export function fused(op: FusedOp, p: Precision, rd: number, rs1: number, rs2: number, rs3: number, rm = RM_DYN) {
  return encodeR4(FUSED_OPCODE[op], fmtOf(p), rd, rs1, rs2, rs3, rm);
}

export type SgnjOp = "fsgnj" | "fsgnjn" | "fsgnjx";
export function sgnj(op: SgnjOp, p: Precision, rd: number, rs1: number, rs2: number): number {
  const funct3 = { fsgnj: FUNCT3_FSGNJ, fsgnjn: FUNCT3_FSGNJN, fsgnjx: FUNCT3_FSGNJX }[op];
  return encodeOpFp(FUNCT5_FSGNJ, fmtOf(p), rd, rs1, rs2, funct3);
}

export function minMax(op: "fmin" | "fmax", p: Precision, rd: number, rs1: number, rs2: number): number {
  return encodeOpFp(FUNCT5_FMINMAX, fmtOf(p), rd, rs1, rs2, op === "fmin" ? FUNCT3_FMIN : FUNCT3_FMAX);
}

export function cmp(op: "feq" | "flt" | "fle", p: Precision, rd: number, rs1: number, rs2: number): number {
  const funct3 = { feq: FUNCT3_FEQ, flt: FUNCT3_FLT, fle: FUNCT3_FLE }[op];
  return encodeOpFp(FUNCT5_FCMP, fmtOf(p), rd, rs1, rs2, funct3);
}

export function fclass(p: Precision, rd: number, rs1: number): number {
  return encodeOpFp(FUNCT5_FMV_X_FCLASS, fmtOf(p), rd, rs1, 0, FUNCT3_FCLASS);
}

/** FCVT.<int>.<p>: float in f[rs1] to integer x[rd]. */
export function cvtToInt(k: IntKind, p: Precision, rd: number, rs1: number, rm = RM_DYN): number {
  return encodeOpFp(FUNCT5_FCVT_INT_FMT, fmtOf(p), rd, rs1, intOf(k), rm);
}

/** FCVT.<p>.<int>: integer x[rs1] to float f[rd]. */
export function cvtFromInt(p: Precision, k: IntKind, rd: number, rs1: number, rm = RM_DYN): number {
  return encodeOpFp(FUNCT5_FCVT_FMT_INT, fmtOf(p), rd, rs1, intOf(k), rm);
}

/** FCVT.S.D (to "s") or FCVT.D.S (to "d"). */
export function cvtFormat(to: Precision, rd: number, rs1: number, rm = RM_DYN): number {
  return encodeOpFp(FUNCT5_FCVT_FMT_FMT, fmtOf(to), rd, rs1, to === "s" ? FMT_D : FMT_S, rm);
}

/** FMV.X.W / FMV.X.D. */
export function fmvToX(p: Precision, rd: number, rs1: number): number {
  return encodeOpFp(FUNCT5_FMV_X_FCLASS, fmtOf(p), rd, rs1, 0, FUNCT3_FMV_X);
}

/** FMV.W.X / FMV.D.X. */
export function fmvFromX(p: Precision, rd: number, rs1: number): number {
  return encodeOpFp(FUNCT5_FMV_F_X, fmtOf(p), rd, rs1, 0, 0);
}
