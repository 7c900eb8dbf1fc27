/**
 * binary64 arithmetic: FADD/FSUB/FMUL/FDIV/FSQRT.D and the fused multiply-adds.
 *
 * The host's binary64 operations are correctly rounded to nearest-even, so RN(exact) comes for free; an
 * error-free transformation then gives the exact error, which decides inexactness and, in the other rounding
 * modes, whether to step one ulp. Results that could be tiny, overflow, or come from operands too large to split
 * go to the exact BigInt path. Operands are never NaN here: the caller propagates NaNs.
 */

import { FFLAG_DZ, FFLAG_NV, FFLAG_NX, RM_RNE } from "../../../arch/riscv64/fp.ts";
import { F64_MAX, F64_MIN_NORMAL } from "./constants.ts";
import { ERROR_FLOOR, NORMAL_SAFE, PRODUCT_LIMIT, SPLIT_LIMIT, twoProductError } from "./eft.ts";
import { type FlagSink, roundDirectedF64, roundResidualF64, zeroSum } from "./round.ts";
import { addSlowF64, divSlowF64, mulAddSlowF64, mulSlowF64 } from "./slow-f64.ts";

/**
 * Square roots of values outside [SQRT_LOW, SQRT_HIGH] are taken of the value scaled by 2^±200, and the root
 * is scaled back by 2^∓100 (exact: roots of binary64s are far from both ends of the range).
 */
const SQRT_LOW = 2 ** -900;
const SQRT_HIGH = 2 ** 1000;
const SQRT_SCALE_UP = 2 ** 200;
const SQRT_SCALE_DOWN = 2 ** -200;
const SQRT_UNSCALE_UP = 2 ** 100;
const SQRT_UNSCALE_DOWN = 2 ** -100;

/** round(a + b). FSUB is a + (-b). */
export function addF64(sink: FlagSink, a: number, b: number, rm: number): number {
  const r = a + b;
  if (r === 0) return zeroSum(a, b, rm);
  if (r - r !== 0) {
    if (r !== r) {
      sink.fflags |= FFLAG_NV; // ∞ - ∞
      return Number.NaN;
    }
    if (a - a !== 0 || b - b !== 0) return r; // an infinite operand: exact
    return addSlowF64(sink, a, b, rm); // overflow: the exact sum decides the flags and the saturation
  }
  // Accrued flags are sticky: once NX is set, round-to-nearest needs no error term.
  if (rm === RM_RNE && (sink.fflags & FFLAG_NX) !== 0) return r;
  const bVirtual = r - a;
  const e = a - (r - bVirtual) + (b - bVirtual);
  // TwoSum is exact only while its intermediates stay finite: near the top of the range `r - a` can round to
  // infinity (e.g. 0x7fefffffffffffff + 0xffdfffffffffffff), which leaves a NaN or infinite error term.
  if (e - e !== 0) return addSlowF64(sink, a, b, rm);
  // A sum below 2^-1021 is always exact, so a nonzero error means |r| ≥ 2^-1021: nothing here can be tiny.
  if (e === 0) return r;
  if (rm === RM_RNE) {
    sink.fflags |= FFLAG_NX;
    return r;
  }
  return roundResidualF64(sink, r, e, 0, rm);
}

/** round(a · b). */
export function mulF64(sink: FlagSink, a: number, b: number, rm: number): number {
  const r = a * b;
  if (r !== r) {
    sink.fflags |= FFLAG_NV; // 0 · ∞
    return Number.NaN;
  }
  const magnitude = Math.abs(r);
  // Round-to-nearest with NX already accrued: a finite result above the smallest normal needs nothing more
  // (no overflow, not tiny, and inexactness would change no flag).
  if (rm === RM_RNE && (sink.fflags & FFLAG_NX) !== 0 && magnitude > F64_MIN_NORMAL && magnitude !== Infinity) {
    return r;
  }
  if (magnitude === Infinity) {
    if (a - a !== 0 || b - b !== 0) return r;
    return mulSlowF64(sink, a, b, rm);
  }
  if (r === 0 && (a === 0 || b === 0)) return r;
  if (
    !(magnitude >= ERROR_FLOOR && magnitude <= PRODUCT_LIMIT) ||
    Math.abs(a) > SPLIT_LIMIT ||
    Math.abs(b) > SPLIT_LIMIT
  ) {
    return mulSlowF64(sink, a, b, rm);
  }
  const e = twoProductError(a, b, r);
  if (e === 0) return r;
  if (rm === RM_RNE) {
    sink.fflags |= FFLAG_NX;
    return r;
  }
  return roundResidualF64(sink, r, e, 0, rm);
}

/** round(a / b). */
export function divF64(sink: FlagSink, a: number, b: number, rm: number): number {
  if (b === 0) {
    if (a === 0) {
      sink.fflags |= FFLAG_NV; // 0 / 0
      return Number.NaN;
    }
    if (a - a === 0) sink.fflags |= FFLAG_DZ; // ∞ / 0 is an exact ∞
    return a / b;
  }
  const r = a / b;
  if (r !== r) {
    sink.fflags |= FFLAG_NV; // ∞ / ∞
    return Number.NaN;
  }
  if (a === 0 || a - a !== 0 || b - b !== 0) return r; // 0 / x, ∞ / x, x / ∞ are exact
  const magnitude = Math.abs(r);
  if (rm === RM_RNE && (sink.fflags & FFLAG_NX) !== 0 && magnitude > F64_MIN_NORMAL && magnitude !== Infinity) {
    return r; // as in mulF64
  }
  if (
    !(magnitude >= NORMAL_SAFE && magnitude <= SPLIT_LIMIT) ||
    Math.abs(b) > SPLIT_LIMIT ||
    !(Math.abs(a) >= ERROR_FLOOR && Math.abs(a) <= PRODUCT_LIMIT)
  ) {
    return divSlowF64(sink, a, b, rm);
  }
  // The residual a - r·b is a binary64 (r is the nearest quotient); a - RN(r·b) is exact by Sterbenz.
  const p = r * b;
  const residual = a - p - twoProductError(r, b, p);
  if (residual === 0) return r;
  // A quotient of binary64s is never a midpoint, so round-to-nearest (either tie rule) keeps r.
  return roundDirectedF64(sink, r, residual > 0 === b > 0 ? 1 : -1, rm);
}

/** round(√a). */
export function sqrtF64(sink: FlagSink, a: number, rm: number): number {
  if (a === 0 || a === Infinity) return a; // √±0 = ±0
  if (a < 0) {
    sink.fflags |= FFLAG_NV;
    return Number.NaN;
  }
  // Scale by an even power of two into a range where r·r and its error term are representable.
  let x = a;
  let unscale = 1;
  if (x < SQRT_LOW) {
    x *= SQRT_SCALE_UP;
    unscale = SQRT_UNSCALE_DOWN;
  } else if (x > SQRT_HIGH) {
    x *= SQRT_SCALE_DOWN;
    unscale = SQRT_UNSCALE_UP;
  }
  const r = Math.sqrt(x);
  if (rm === RM_RNE && (sink.fflags & FFLAG_NX) !== 0) return r * unscale;
  const p = r * r;
  const residual = x - p - twoProductError(r, r, p);
  if (residual === 0) return r * unscale;
  // A square root is never a midpoint either; the result is far from the ends of the range, so scaling back
  // is exact.
  return roundDirectedF64(sink, r, residual > 0 ? 1 : -1, rm) * unscale;
}

/**
 * round(a·b + c) with a single rounding (FMADD.D; the other three negate a and/or c first, which gives the
 * same signed-zero results as the spec's definitions). Raises NV for ∞·0.
 */
export function fmaF64(sink: FlagSink, a: number, b: number, c: number, rm: number): number {
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
  if (a === 0 || b === 0) {
    // An exact zero product: the sum is c, or a sum of zeros.
    return c !== 0 ? c : zeroSum(a * b, c, rm);
  }
  if (c === 0) return mulF64(sink, a, b, rm); // the exact sum is the (nonzero) product
  if (Math.abs(a) > SPLIT_LIMIT || Math.abs(b) > SPLIT_LIMIT) return mulAddSlowF64(sink, a, b, c, rm);
  const p = a * b;
  const pMagnitude = Math.abs(p);
  if (!(pMagnitude >= ERROR_FLOOR && pMagnitude <= PRODUCT_LIMIT)) return mulAddSlowF64(sink, a, b, c, rm);
  // Exact value = p + pl + c = s + se + pl = s + t + te = r + re + te.
  const pl = twoProductError(a, b, p);
  const s = p + c;
  let virtual = s - p;
  const se = p - (s - virtual) + (c - virtual);
  const t = se + pl;
  virtual = t - se;
  const te = se - (t - virtual) + (pl - virtual);
  const r = s + t;
  virtual = r - s;
  const re = s - (r - virtual) + (t - virtual);
  // With |t| < |r|/8 and |s| ≥ |t|, s, t, r and the midpoints next to r are all multiples of ulp(t) while
  // |te| ≤ ulp(t)/2: te can only break an exact tie in re or give the direction when re is 0. Otherwise (r
  // tiny or huge, or the addend cancelled most of the product) the exact path decides.
  const rMagnitude = Math.abs(r);
  const tMagnitude = Math.abs(t);
  if (
    !(rMagnitude >= NORMAL_SAFE && rMagnitude <= F64_MAX) ||
    !(tMagnitude * 8 < rMagnitude) ||
    !(Math.abs(s) >= tMagnitude)
  ) {
    return mulAddSlowF64(sink, a, b, c, rm);
  }
  if (te === 0) {
    if (re === 0) return r;
    if (rm === RM_RNE) {
      // r + re is the exact value and r its nearest (ties already went to even in r = s + t).
      sink.fflags |= FFLAG_NX;
      return r;
    }
  }
  return roundResidualF64(sink, r, re, te, rm);
}
