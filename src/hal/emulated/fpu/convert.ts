/**
 * FCVT between floating-point and integer types (W, WU, L, LU), and between binary32 and binary64.
 *
 * Float → integer follows the spec's Table 11.4: NaN and values that round outside the integer's range raise
 * NV (not NX) and give the saturated value (NaN → the largest positive); a 32-bit result is sign-extended to
 * 64 bits on RV64, FCVT.WU included.
 */

import { CVT_L, CVT_W, CVT_WU, FFLAG_NV, FFLAG_NX, RM_RDN, RM_RMM, RM_RNE, RM_RTZ } from "../../../arch/riscv64/fp.ts";
import { TWO_POW_32 } from "../split64.ts";
import { finishF32 } from "./arith-f32.ts";
import { type FlagSink, roundResidualF64, roundToF32 } from "./round.ts";

const TWO_POW_31 = 2 ** 31;
const TWO_POW_52 = 2 ** 52;
const TWO_POW_63 = 2 ** 63;
const TWO_POW_64 = 2 ** 64;
const INT32_MIN_WORD = -0x80000000;

/** x rounded to an integral binary64 in mode rm (x finite or infinite; NaN excluded). */
export function roundToIntegral(x: number, rm: number): number {
  if (!(Math.abs(x) < TWO_POW_52)) return x; // already integral (or infinite)
  const floor = Math.floor(x);
  if (x === floor) return x;
  // Compare x with the midpoint floor + 0.5 (exact below 2^52) rather than compute the fraction x - floor, which
  // rounds for small negative x: -0.49999999999999994 - -1 is 0.5 in binary64, a false tie.
  const mid = floor + 0.5;
  switch (rm) {
    case RM_RNE:
      if (x !== mid) return x < mid ? floor : floor + 1;
      return floor % 2 === 0 ? floor : floor + 1;
    case RM_RTZ:
      return x < 0 ? floor + 1 : floor;
    case RM_RDN:
      return floor;
    case RM_RMM:
      if (x !== mid) return x < mid ? floor : floor + 1;
      return x < 0 ? floor : floor + 1;
    default: // RM_RUP
      return floor + 1;
  }
}

/**
 * FCVT.{W,WU,L,LU}.{S,D}: converts x (a binary32 or binary64 value, possibly NaN) to the integer type `type`
 * (CVT_W...CVT_LU) and writes it to x[rd] (nothing for x0; flags are raised anyway).
 */
export function convertToInt(
  sink: FlagSink,
  x: number,
  type: number,
  rm: number,
  xlo: Int32Array,
  xhi: Int32Array,
  rd: number,
): void {
  let lo: number;
  let hi: number;
  const rounded = x !== x ? Number.NaN : roundToIntegral(x, rm);
  let inRange: boolean;
  switch (type) {
    case CVT_W:
      inRange = rounded >= -TWO_POW_31 && rounded < TWO_POW_31;
      break;
    case CVT_WU:
      inRange = rounded >= 0 && rounded < TWO_POW_32; // -0 and negatives rounding to -0 are in range
      break;
    case CVT_L:
      inRange = rounded >= -TWO_POW_63 && rounded < TWO_POW_63;
      break;
    default: // CVT_LU
      inRange = rounded >= 0 && rounded < TWO_POW_64;
      break;
  }
  if (inRange) {
    if (rounded !== x) sink.fflags |= FFLAG_NX;
    if (type === CVT_W || type === CVT_WU) {
      lo = rounded | 0; // ToInt32: the low 32 bits, which for WU ≥ 2^31 are negative as a signed word
      hi = lo >> 31;
    } else {
      const high = Math.floor(rounded / TWO_POW_32);
      lo = (rounded - high * TWO_POW_32) | 0;
      hi = high | 0;
    }
  } else {
    sink.fflags |= FFLAG_NV;
    const negative = rounded < 0; // NaN saturates to the largest positive value
    switch (type) {
      case CVT_W:
        lo = negative ? INT32_MIN_WORD : 0x7fffffff;
        hi = negative ? -1 : 0;
        break;
      case CVT_WU:
        lo = negative ? 0 : -1; // 0xffffffff, sign-extended
        hi = lo;
        break;
      case CVT_L:
        lo = negative ? 0 : -1;
        hi = negative ? INT32_MIN_WORD : 0x7fffffff;
        break;
      default: // CVT_LU
        lo = negative ? 0 : -1;
        hi = lo;
        break;
    }
  }
  if (rd !== 0) {
    xlo[2 * rd] = lo;
    xhi[2 * rd] = hi;
  }
}

/** The upper word's weight in a 64-bit integer: hi·2^32, signed for L and unsigned for LU (exact). */
function integerHighPart(hi: number, type: number): number {
  return type === CVT_L ? hi * TWO_POW_32 : (hi >>> 0) * TWO_POW_32;
}

/** FCVT.D.{W,WU,L,LU}: the integer in (lo, hi) as a binary64. */
export function convertIntToF64(sink: FlagSink, lo: number, hi: number, type: number, rm: number): number {
  if (type === CVT_W) return lo;
  if (type === CVT_WU) return lo >>> 0;
  // value = high·2^32 + low exactly; r = RN(value) and e its exact error (TwoSum).
  const high = integerHighPart(hi, type);
  const low = lo >>> 0;
  const r = high + low;
  const virtual = r - high;
  const e = high - (r - virtual) + (low - virtual);
  if (e === 0) return r;
  // e ≠ 0 needs |value| > 2^53, far inside the normal range.
  if (rm === RM_RNE) {
    sink.fflags |= FFLAG_NX;
    return r;
  }
  return roundResidualF64(sink, r, e, 0, rm);
}

/** FCVT.S.{W,WU,L,LU}: the integer in (lo, hi) as a binary32. */
export function convertIntToF32(sink: FlagSink, lo: number, hi: number, type: number, rm: number): number {
  if (type === CVT_W || type === CVT_WU) {
    const v = type === CVT_W ? lo : lo >>> 0;
    return v === 0 ? 0 : finishF32(sink, v, 0, rm); // exact in binary64: one rounding
  }
  const high = integerHighPart(hi, type);
  const low = lo >>> 0;
  const r = high + low;
  if (r === 0) return 0;
  const virtual = r - high;
  const e = high - (r - virtual) + (low - virtual);
  // Rounded twice (to binary64, then binary32) the value could land on a binary32 midpoint: the error's sign
  // takes part in the second rounding.
  return roundToF32(sink, r, e > 0 ? 1 : e < 0 ? -1 : 0, rm);
}

/** FCVT.S.D of a non-NaN binary64. */
export function convertF64ToF32(sink: FlagSink, x: number, rm: number): number {
  if (x === 0 || x - x !== 0) return x; // ±0, ±∞
  return finishF32(sink, x, 0, rm);
}
