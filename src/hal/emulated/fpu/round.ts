/**
 * Rounding of exactly-known values to binary32 and binary64 in the five RISC-V rounding modes, with IEEE
 * 754-2008 exception flags as RISC-V chose them: tininess is detected after rounding (the result rounded as if
 * the exponent range were unbounded is below the smallest normal), and underflow is raised only when the tiny
 * result is also inexact.
 *
 * The exact value always arrives as a binary64 plus an error term that the caller computed with an error-free
 * transformation (TwoSum, TwoProduct, a division or square-root residual), so no BigInt is needed here.
 */

import { FFLAG_NX, FFLAG_OF, FFLAG_UF, RM_RDN, RM_RMM, RM_RNE, RM_RTZ, RM_RUP } from "../../../arch/riscv64/fp.ts";
import { f64Exponent, f64IsOdd, f64IsPowerOfTwo, f64NextAway, f64NextTowardZero, pow2 } from "./bits.ts";
import { F32_MAX, F64_MAX } from "./constants.ts";

/** Where accrued exception flags go (FpState satisfies it). */
export interface FlagSink {
  fflags: number;
}

/** 2^128: the first binary32 magnitude beyond the format (unbounded-exponent results at or above it overflow). */
const F32_OVERFLOW_THRESHOLD = 2 ** 128;
/** 2^-126: binary32 results below this magnitude (after rounding with an unbounded exponent) are tiny. */
const F32_TINY_THRESHOLD = 2 ** -126;
/** Exponent of the quantum of binary32 subnormals, 2^-149. */
const F32_SUBNORMAL_QUANTUM_EXPONENT = -149;
/** Smallest binary32 normal exponent. */
const F32_EMIN = -126;
/** Fraction bits of binary32. */
const F32_FRACTION_BITS = 23;

// Position of the exact value relative to the two grid points around it (used by roundMagnitude).
const POSITION_LOW = 0; // strictly between the lower point and the midpoint
const POSITION_TIE = 1; // exactly on the midpoint
const POSITION_HIGH = 2; // strictly between the midpoint and the upper point

/**
 * Rounds a nonnegative magnitude `a` (a binary64) to a multiple of 2^qe, where the exact magnitude is `a` nudged
 * by less than half a binary64 ulp in the direction `above` (+1 above `a`, -1 below, 0 exactly `a`).
 *
 * The grid points and their midpoints are multiples of 2^(qe-1), which are binary64 numbers themselves: so the
 * exact value lies on the same side of each of them as `a` does, except when `a` sits exactly on one, in which
 * case `above` says where the exact value really is. That is what makes binary64-then-binary32 rounding exact
 * here (no double-rounding error), whatever produced `a`.
 */
function roundMagnitude(a: number, above: number, qe: number, rm: number, neg: boolean): number {
  const m = a * pow2(-qe);
  let floor = Math.floor(m);
  const fraction = m - floor;
  let position: number;
  if (fraction === 0) {
    if (above === 0) return a;
    if (above > 0) {
      position = POSITION_LOW;
    } else {
      floor -= 1;
      position = POSITION_HIGH;
    }
  } else if (fraction === 0.5) {
    position = above === 0 ? POSITION_TIE : above > 0 ? POSITION_HIGH : POSITION_LOW;
  } else {
    position = fraction < 0.5 ? POSITION_LOW : POSITION_HIGH;
  }
  let up: boolean;
  switch (rm) {
    case RM_RNE:
      up = position === POSITION_HIGH || (position === POSITION_TIE && floor % 2 === 1);
      break;
    case RM_RTZ:
      up = false;
      break;
    case RM_RDN:
      up = neg;
      break;
    case RM_RUP:
      up = !neg;
      break;
    default: // RM_RMM
      up = position !== POSITION_LOW;
      break;
  }
  return (up ? floor + 1 : floor) * pow2(qe);
}

/** The result of an overflow: infinity or the largest finite value, by rounding mode and sign. */
function overflowMagnitude(neg: boolean, rm: number, max: number): number {
  switch (rm) {
    case RM_RTZ:
      return max;
    case RM_RDN:
      return neg ? Infinity : max;
    case RM_RUP:
      return neg ? max : Infinity;
    default: // RNE and RMM carry everything beyond the largest finite value's half-ulp to infinity
      return Infinity;
  }
}

/** ±infinity or ±largest finite binary64 for an overflowed result, by rounding mode. */
export function overflowF64(neg: boolean, rm: number): number {
  const magnitude = overflowMagnitude(neg, rm, F64_MAX);
  return neg ? -magnitude : magnitude;
}

/** The sign of an exact zero sum of operands of opposite signs (IEEE 754 6.3): -0 only when rounding down. */
export function exactZeroSum(rm: number): number {
  return rm === RM_RDN ? -0 : 0;
}

/**
 * The exact zero a + b (a = -b, or both zeros) with IEEE 754 6.3's sign: two zeros of the same sign keep it,
 * anything else gives +0, or -0 when rounding down.
 */
export function zeroSum(a: number, b: number, rm: number): number {
  if (a === 0 && b === 0 && 1 / a < 0 === 1 / b < 0) return a;
  return exactZeroSum(rm);
}

/**
 * Rounds to binary32 the exact value `d + ε`, where `d` is a finite nonzero binary64 and ε is smaller than half
 * an ulp of `d` with sign `dir` (-1, 0, +1). Raises NX/UF/OF into `sink`. Returns a binary32 value (or ±∞).
 */
export function roundToF32(sink: FlagSink, d: number, dir: number, rm: number): number {
  const neg = d < 0;
  const a = neg ? -d : d;
  const above = neg ? -dir : dir;
  let e = f64Exponent(a);
  // A power of two approached from below lies in the binade under it: round with that binade's quantum.
  if (above < 0 && f64IsPowerOfTwo(a)) e -= 1;
  const qe = e < F32_EMIN ? F32_SUBNORMAL_QUANTUM_EXPONENT : e - F32_FRACTION_BITS;
  const magnitude = roundMagnitude(a, above, qe, rm, neg);
  if (magnitude >= F32_OVERFLOW_THRESHOLD) {
    // Normal range: the bounded rounding above is also the unbounded one, so this is a true overflow.
    sink.fflags |= FFLAG_OF | FFLAG_NX;
    const saturated = overflowMagnitude(neg, rm, F32_MAX);
    return neg ? -saturated : saturated;
  }
  if (above === 0 && magnitude === a) return d;
  sink.fflags |= FFLAG_NX;
  if (e < F32_EMIN) {
    // Tininess after rounding: round again as if the exponent were unbounded. Below 2^-150 nothing can round up
    // to 2^-126, so the value is tiny without computing it.
    if (e < F32_SUBNORMAL_QUANTUM_EXPONENT - 1) {
      sink.fflags |= FFLAG_UF;
    } else if (roundMagnitude(a, above, e - F32_FRACTION_BITS, rm, neg) < F32_TINY_THRESHOLD) {
      sink.fflags |= FFLAG_UF;
    }
  }
  return neg ? -magnitude : magnitude;
}

/**
 * Final rounding of a binary64 result known as `r + ε`, where `r` = RN(exact) is finite and normal with
 * |r| ≥ 2^-1021 (so nothing is tiny), ε ≠ 0 has sign `dir`, and the exact value is not a midpoint (true of
 * division and square root). Raises NX, and OF when stepping to infinity.
 */
export function roundDirectedF64(sink: FlagSink, r: number, dir: number, rm: number): number {
  sink.fflags |= FFLAG_NX;
  let result: number;
  switch (rm) {
    case RM_RTZ:
      // The exact value is further from zero than r exactly when ε has r's sign.
      result = r > 0 === dir > 0 ? r : f64NextTowardZero(r);
      break;
    case RM_RDN:
      result = dir > 0 ? r : r > 0 ? f64NextTowardZero(r) : f64NextAway(r);
      break;
    case RM_RUP:
      result = dir < 0 ? r : r > 0 ? f64NextAway(r) : f64NextTowardZero(r);
      break;
    default: // RNE and RMM agree when the exact value is not a midpoint: r is the nearest
      return r;
  }
  if (result === Infinity || result === -Infinity) sink.fflags |= FFLAG_OF;
  return result;
}

/**
 * Final rounding of a binary64 result known exactly as `r + e + e2`, where `r` is finite with |r| ≥ 2^-1021,
 * r = RN(r + e) (|e| is at most half the gap to r's neighbour), and e2 is finer than the binary64 grid around
 * the midpoint: it only matters when e itself is exactly a half-gap (then it breaks the tie) or e is zero (then
 * it gives the direction). Raises NX, and OF when the result is infinite.
 */
export function roundResidualF64(sink: FlagSink, r: number, e: number, e2: number, rm: number): number {
  const dir = e > 0 ? 1 : e < 0 ? -1 : e2 > 0 ? 1 : e2 < 0 ? -1 : 0;
  if (dir === 0) return r;
  const neighbour = r > 0 === dir > 0 ? f64NextAway(r) : f64NextTowardZero(r);
  // Both differences are exact: adjacent binary64s, and twice a small error term.
  let position = POSITION_LOW;
  if (2 * e === neighbour - r) {
    position = e2 === 0 ? POSITION_TIE : e2 > 0 === dir > 0 ? POSITION_HIGH : POSITION_LOW;
  }
  let result: number;
  switch (rm) {
    case RM_RNE:
      result = position === POSITION_HIGH || (position === POSITION_TIE && f64IsOdd(r)) ? neighbour : r;
      break;
    case RM_RMM:
      result =
        position === POSITION_HIGH || (position === POSITION_TIE && Math.abs(neighbour) > Math.abs(r)) ? neighbour : r;
      break;
    default:
      return roundDirectedF64(sink, r, dir, rm);
  }
  sink.fflags |= FFLAG_NX;
  if (result === Infinity || result === -Infinity) sink.fflags |= FFLAG_OF;
  return result;
}
