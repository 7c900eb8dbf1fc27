/**
 * Exact binary64 arithmetic with BigInt significands, for the rare cases the error-free fast paths do not cover:
 * results that overflow or may be tiny, operands too large to split, and fused multiply-adds whose addend
 * cancels the product. Never on the common path (BigInt is slow on JavaScriptCore).
 */

import { FFLAG_NX, FFLAG_OF, FFLAG_UF, RM_RDN, RM_RMM, RM_RNE, RM_RTZ } from "../../../arch/riscv64/fp.ts";
import { f64Hi, f64Lo, pow2 } from "./bits.ts";
import { exactZeroSum, type FlagSink, overflowF64 } from "./round.ts";

/** binary64: bits of precision, smallest normal exponent, largest exponent, quantum exponent of subnormals. */
const F64_PRECISION = 53;
const F64_EMIN = -1022;
const F64_EMAX = 1023;
const F64_SUBNORMAL_QUANTUM_EXPONENT = -1074;

/** A finite binary64 as ±sig·2^exp (sig = 0 for zeros). */
interface Exact {
  neg: boolean;
  sig: bigint;
  exp: number;
}

function decompose(v: number): Exact {
  const hi = f64Hi(v);
  const lo = f64Lo(v);
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo >>> 0);
  const neg = hi < 0;
  if (biased === 0) return { neg, sig: fraction, exp: F64_SUBNORMAL_QUANTUM_EXPONENT };
  return { neg, sig: fraction | (1n << 52n), exp: biased - 1075 };
}

/** Number of significant bits of x > 0. */
function bitLength(x: bigint): number {
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(hex.charAt(0), 16)));
}

/** Whether (sig + sticky)·2^exp is a multiple of 2^qe. */
function isMultipleOf(sig: bigint, exp: number, sticky: boolean, qe: number): boolean {
  if (sticky) return false;
  const shift = qe - exp;
  if (shift <= 0) return true;
  return (sig & ((1n << BigInt(shift)) - 1n)) === 0n;
}

/**
 * The integer m with m·2^qe the rounding of the magnitude (sig + δ)·2^exp, where δ is 0 or, when `sticky`, a
 * positive amount smaller than one unit of sig.
 */
function roundSignificand(sig: bigint, exp: number, sticky: boolean, qe: number, rm: number, neg: boolean): bigint {
  const shift = qe - exp;
  let floor: bigint;
  // -1: exact; 0: below the midpoint; 1: on it; 2: above it.
  let position: number;
  if (shift <= 0) {
    floor = sig << BigInt(-shift);
    position = sticky ? 0 : -1;
  } else {
    const s = BigInt(shift);
    floor = sig >> s;
    const rest = sig - (floor << s);
    const half = 1n << (s - 1n);
    if (rest === 0n) position = sticky ? 0 : -1;
    else if (rest < half) position = 0;
    else if (rest === half) position = sticky ? 2 : 1;
    else position = 2;
  }
  if (position < 0) return floor;
  let up: boolean;
  switch (rm) {
    case RM_RNE:
      up = position === 2 || (position === 1 && (floor & 1n) === 1n);
      break;
    case RM_RTZ:
      up = false;
      break;
    case RM_RDN:
      up = neg;
      break;
    case RM_RMM:
      up = position >= 1;
      break;
    default: // RM_RUP
      up = !neg;
      break;
  }
  return up ? floor + 1n : floor;
}

/**
 * Rounds ±(sig + δ)·2^exp to binary64 (sig > 0; δ as in roundSignificand) and raises NX/UF/OF into `sink`.
 */
export function roundPackF64(sink: FlagSink, neg: boolean, sig: bigint, exp: number, sticky: boolean, rm: number) {
  const top = exp + bitLength(sig) - 1;
  // Rounded as if the exponent range were unbounded: decides overflow and (after rounding) tininess.
  const unboundedQe = top - (F64_PRECISION - 1);
  const unbounded = roundSignificand(sig, exp, sticky, unboundedQe, rm, neg);
  const unboundedTop = unbounded >> BigInt(F64_PRECISION) !== 0n ? top + 1 : top;
  if (unboundedTop > F64_EMAX) {
    sink.fflags |= FFLAG_OF | FFLAG_NX;
    return overflowF64(neg, rm);
  }
  if (top >= F64_EMIN) {
    if (!isMultipleOf(sig, exp, sticky, unboundedQe)) sink.fflags |= FFLAG_NX;
    const magnitude = Number(unbounded) * pow2(unboundedQe);
    return neg ? -magnitude : magnitude;
  }
  const rounded = roundSignificand(sig, exp, sticky, F64_SUBNORMAL_QUANTUM_EXPONENT, rm, neg);
  if (!isMultipleOf(sig, exp, sticky, F64_SUBNORMAL_QUANTUM_EXPONENT)) {
    sink.fflags |= FFLAG_NX;
    if (unboundedTop < F64_EMIN) sink.fflags |= FFLAG_UF;
  }
  const magnitude = Number(rounded) * pow2(F64_SUBNORMAL_QUANTUM_EXPONENT);
  return neg ? -magnitude : magnitude;
}

/**
 * round(a·b + c) for finite a, b, c with exactly one rounding, by exact BigInt arithmetic (plain addition is
 * the case b = 1). Zero results follow IEEE 754 6.3: a sum of two zeros keeps their common sign, any other
 * exact zero is +0 (-0 when rounding down).
 */
export function mulAddSlowF64(sink: FlagSink, a: number, b: number, c: number, rm: number): number {
  const x = decompose(a);
  const y = decompose(b);
  const z = decompose(c);
  const productNeg = x.neg !== y.neg;
  const productSig = x.sig * y.sig;
  if (productSig === 0n && z.sig === 0n) {
    // Zero plus zero: the common sign, else +0 (or -0 when rounding down).
    if (productNeg === z.neg) return productNeg ? -0 : 0;
    return exactZeroSum(rm);
  }
  const productExp = x.exp + y.exp;
  // Align both terms to the smaller exponent and add as signed integers.
  const exp = Math.min(productExp, z.exp);
  const p = productSig << BigInt(productExp - exp);
  const q = z.sig << BigInt(z.exp - exp);
  const sum = (productNeg ? -p : p) + (z.neg ? -q : q);
  if (sum === 0n) return exactZeroSum(rm);
  const neg = sum < 0n;
  return roundPackF64(sink, neg, neg ? -sum : sum, exp, false, rm);
}

/** round(a·b) for finite a, b. */
export function mulSlowF64(sink: FlagSink, a: number, b: number, rm: number): number {
  const x = decompose(a);
  const y = decompose(b);
  const neg = x.neg !== y.neg;
  const sig = x.sig * y.sig;
  if (sig === 0n) return neg ? -0 : 0;
  return roundPackF64(sink, neg, sig, x.exp + y.exp, false, rm);
}

/** round(a / b) for finite a and finite nonzero b. */
export function divSlowF64(sink: FlagSink, a: number, b: number, rm: number): number {
  const x = decompose(a);
  const y = decompose(b);
  const neg = x.neg !== y.neg;
  if (x.sig === 0n) return neg ? -0 : 0;
  // Shift the dividend so the quotient has at least 55 bits: enough for the rounding position plus a guard bit,
  // with the remainder folded into the sticky bit.
  const shift = Math.max(0, F64_PRECISION + 2 + bitLength(y.sig) - bitLength(x.sig));
  const dividend = x.sig << BigInt(shift);
  const quotient = dividend / y.sig;
  const sticky = quotient * y.sig !== dividend;
  return roundPackF64(sink, neg, quotient, x.exp - y.exp - shift, sticky, rm);
}

/** round(a + b) for finite a, b. */
export function addSlowF64(sink: FlagSink, a: number, b: number, rm: number): number {
  return mulAddSlowF64(sink, a, 1, b, rm);
}
