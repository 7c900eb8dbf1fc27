/**
 * binary32 arithmetic: FADD/FSUB/FMUL/FDIV/FSQRT.S and the fused multiply-adds.
 *
 * Operands are binary32 values held in JS numbers. Each operation is done in binary64, where it is exact
 * (products) or comes with its exact error (TwoSum for sums, the residual for quotients and roots); the binary64
 * result plus the sign of that error is then rounded to binary32 (round.ts), which gives correctly rounded
 * results and flags in every mode. Operands are never NaN here: the caller propagates NaNs.
 */

import { FFLAG_DZ, FFLAG_NV, FFLAG_NX, RM_RNE } from "../../../arch/riscv64/fp.ts";
import { F32_MAX, F32_MIN_NORMAL } from "./constants.ts";
import { twoProductError } from "./eft.ts";
import { exactZeroSum, type FlagSink, roundToF32, zeroSum } from "./round.ts";

/**
 * Rounds the binary64 `d` (with the exact value d + ε, sign(ε) = dir) to binary32, for d coming from +, -, ×,
 * ÷ or √ of binary32 operands (or exact). Round-to-nearest in the normal range is Math.fround: binary64 has
 * 53 ≥ 2·24 + 2 bits, so rounding first to binary64 and then to binary32 equals rounding once (Figueroa 1995).
 */
export function finishF32(sink: FlagSink, d: number, dir: number, rm: number): number {
  if (rm === RM_RNE) {
    const f = Math.fround(d);
    if (Math.abs(d) >= F32_MIN_NORMAL && Math.abs(f) <= F32_MAX) {
      if (f !== d || dir !== 0) sink.fflags |= FFLAG_NX;
      return f;
    }
  }
  return roundToF32(sink, d, dir, rm);
}

/** round(a + b). FSUB is a + (-b). */
export function addF32(sink: FlagSink, a: number, b: number, rm: number): number {
  const d = a + b;
  if (d === 0) return zeroSum(a, b, rm);
  if (d - d !== 0) {
    if (d !== d) {
      sink.fflags |= FFLAG_NV; // ∞ - ∞
      return Number.NaN;
    }
    return d; // an infinite operand (binary32 sums cannot overflow binary64)
  }
  const bVirtual = d - a;
  const e = a - (d - bVirtual) + (b - bVirtual);
  return finishF32(sink, d, e > 0 ? 1 : e < 0 ? -1 : 0, rm);
}

/** round(a · b). */
export function mulF32(sink: FlagSink, a: number, b: number, rm: number): number {
  const d = a * b; // exact: 48 significant bits, magnitude within [2^-298, 2^256]
  if (d !== d) {
    sink.fflags |= FFLAG_NV; // 0 · ∞
    return Number.NaN;
  }
  if (d === 0 || d - d !== 0) return d;
  return finishF32(sink, d, 0, rm);
}

/** round(a / b). */
export function divF32(sink: FlagSink, a: number, b: number, rm: number): number {
  if (b === 0) {
    if (a === 0) {
      sink.fflags |= FFLAG_NV; // 0 / 0
      return Number.NaN;
    }
    if (a - a === 0) sink.fflags |= FFLAG_DZ;
    return a / b;
  }
  const d = a / b;
  if (d !== d) {
    sink.fflags |= FFLAG_NV; // ∞ / ∞
    return Number.NaN;
  }
  if (a === 0 || a - a !== 0 || b - b !== 0) return d;
  // Residual a - d·b of the binary64 quotient (operands within 2^±277, so TwoProduct is exact).
  const p = d * b;
  const residual = a - p - twoProductError(d, b, p);
  return finishF32(sink, d, residual === 0 ? 0 : residual > 0 === b > 0 ? 1 : -1, rm);
}

/** round(√a). */
export function sqrtF32(sink: FlagSink, a: number, rm: number): number {
  if (a === 0 || a === Infinity) return a;
  if (a < 0) {
    sink.fflags |= FFLAG_NV;
    return Number.NaN;
  }
  const d = Math.sqrt(a);
  const p = d * d;
  const residual = a - p - twoProductError(d, d, p);
  return finishF32(sink, d, residual === 0 ? 0 : residual > 0 ? 1 : -1, rm);
}

/**
 * round(a·b + c) with a single rounding (FMADD.S; the other three negate a and/or c first). The product is
 * exact in binary64 and TwoSum gives the sum's exact error. Raises NV for ∞·0.
 */
export function fmaF32(sink: FlagSink, a: number, b: number, c: number, rm: number): number {
  if (a - a !== 0 || b - b !== 0) {
    if (a === 0 || b === 0) {
      sink.fflags |= FFLAG_NV; // ∞ · 0
      return Number.NaN;
    }
    const product = a * b;
    if (c - c !== 0 && c !== product) {
      sink.fflags |= FFLAG_NV; // ∞ - ∞
      return Number.NaN;
    }
    return product;
  }
  if (c - c !== 0) return c;
  const p = a * b;
  if (p === 0) return c !== 0 ? c : zeroSum(p, c, rm);
  if (c === 0) return finishF32(sink, p, 0, rm);
  const d = p + c;
  if (d === 0) return exactZeroSum(rm);
  const bVirtual = d - p;
  const e = p - (d - bVirtual) + (c - bVirtual);
  // Not finishF32: a fused sum can land exactly on a binary32 midpoint after rounding to binary64, so the
  // error's sign must take part in the rounding.
  return roundToF32(sink, d, e > 0 ? 1 : e < 0 ? -1 : 0, rm);
}
