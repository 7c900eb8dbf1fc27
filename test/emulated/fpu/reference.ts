/**
 * A slow, independent model of the F and D extensions, for the tests only.
 *
 * Every finite value is an exact rational num/den (BigInt); an operation computes its exact result and rounds
 * it once to the destination format by integer division, with the flags decided from the exact value as IEEE
 * 754-2008 defines them (tininess after rounding, as RISC-V requires). It shares no code with the FPU: it
 * works on bit patterns as BigInt, and never uses the host's floating point.
 */

export type Mode = 0 | 1 | 2 | 3 | 4; // RNE RTZ RDN RUP RMM
const RNE = 0;
const RTZ = 1;
const RDN = 2;
const RUP = 3;
const RMM = 4;

export const NV = 0x10;
export const DZ = 0x08;
export const OF = 0x04;
export const UF = 0x02;
export const NX = 0x01;

export interface Format {
  readonly width: 32 | 64;
  readonly precision: number;
  readonly exponentBits: number;
  readonly emin: number;
  readonly emax: number;
}

export const BINARY32: Format = { width: 32, precision: 24, exponentBits: 8, emin: -126, emax: 127 };
export const BINARY64: Format = { width: 64, precision: 53, exponentBits: 11, emin: -1022, emax: 1023 };

export type Value =
  | { readonly kind: "nan"; readonly signalling: boolean }
  | { readonly kind: "inf"; readonly negative: boolean }
  | { readonly kind: "zero"; readonly negative: boolean }
  | { readonly kind: "finite"; readonly negative: boolean; readonly num: bigint; readonly den: bigint };

/** A result: the destination bits (a format-width pattern, or a 64-bit register for integers) and the flags. */
export interface Outcome {
  readonly bits: bigint;
  readonly flags: number;
}

const fractionBits = (f: Format): number => f.precision - 1;
const bias = (f: Format): number => f.emax;
const fieldMask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

export function canonicalNaN(f: Format): bigint {
  return f.width === 32 ? 0x7fc00000n : 0x7ff8000000000000n;
}

/** Decodes a bit pattern of format f. */
export function decode(f: Format, bits: bigint): Value {
  const negative = !!((bits >> BigInt(f.width - 1)) & 1n);
  const exponent = Number((bits >> BigInt(fractionBits(f))) & fieldMask(f.exponentBits));
  const fraction = bits & fieldMask(fractionBits(f));
  const allOnes = (1 << f.exponentBits) - 1;
  if (exponent === allOnes) {
    if (fraction === 0n) return { kind: "inf", negative };
    const quietBit = 1n << BigInt(fractionBits(f) - 1);
    return { kind: "nan", signalling: (fraction & quietBit) === 0n };
  }
  if (exponent === 0 && fraction === 0n) return { kind: "zero", negative };
  // value = significand · 2^(e - fractionBits), subnormals with e = emin and no hidden bit
  const significand = exponent === 0 ? fraction : fraction | (1n << BigInt(fractionBits(f)));
  const e = (exponent === 0 ? f.emin : exponent - bias(f)) - fractionBits(f);
  return e >= 0
    ? { kind: "finite", negative, num: significand << BigInt(e), den: 1n }
    : { kind: "finite", negative, num: significand, den: 1n << BigInt(-e) };
}

function signBit(f: Format, negative: boolean): bigint {
  return negative ? 1n << BigInt(f.width - 1) : 0n;
}

function infinityBits(f: Format, negative: boolean): bigint {
  return signBit(f, negative) | (fieldMask(f.exponentBits) << BigInt(fractionBits(f)));
}

function maxFiniteBits(f: Format, negative: boolean): bigint {
  return infinityBits(f, negative) - 1n;
}

function zeroBits(f: Format, negative: boolean): bigint {
  return signBit(f, negative);
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** floor(log2(num/den)) for num, den > 0. */
function floorLog2(num: bigint, den: bigint): number {
  let e = bitLength(num) - bitLength(den);
  // 2^e ≤ num/den < 2^(e+1) ?
  const atLeast = (k: number): boolean => (k >= 0 ? num >= den << BigInt(k) : num << BigInt(-k) >= den);
  while (!atLeast(e)) e -= 1;
  while (atLeast(e + 1)) e += 1;
  return e;
}

/** num/den rounded to a multiple of 2^q (as the integer multiplier), and whether that was inexact. */
function roundToMultiple(
  negative: boolean,
  num: bigint,
  den: bigint,
  q: number,
  rm: Mode,
): { n: bigint; inexact: boolean } {
  const N = q <= 0 ? num << BigInt(-q) : num;
  const D = q <= 0 ? den : den << BigInt(q);
  const n = N / D;
  const rest = N - n * D;
  if (rest === 0n) return { n, inexact: false };
  const twice = 2n * rest;
  let up: boolean;
  switch (rm) {
    case RNE:
      up = twice > D || (twice === D && n % 2n === 1n);
      break;
    case RMM:
      up = twice >= D;
      break;
    case RTZ:
      up = false;
      break;
    case RDN:
      up = negative;
      break;
    case RUP:
      up = !negative;
      break;
  }
  return { n: up ? n + 1n : n, inexact: true };
}

/** Rounds the nonzero exact value ±num/den to format f in mode rm. */
export function roundRational(f: Format, negative: boolean, num: bigint, den: bigint, rm: Mode): Outcome {
  const p = f.precision;
  const e = floorLog2(num, den);
  // With an unbounded exponent range: overflow and tininess are decided on this result.
  const qUnbounded = e - (p - 1);
  const unbounded = roundToMultiple(negative, num, den, qUnbounded, rm);
  const unboundedExponent = unbounded.n >= 1n << BigInt(p) ? e + 1 : e;
  if (unboundedExponent > f.emax) {
    const toInfinity = rm === RNE || rm === RMM || (rm === RUP && !negative) || (rm === RDN && negative);
    return { bits: toInfinity ? infinityBits(f, negative) : maxFiniteBits(f, negative), flags: OF | NX };
  }
  const tiny = unboundedExponent < f.emin;
  const q = Math.max(e, f.emin) - (p - 1);
  const { n, inexact } = roundToMultiple(negative, num, den, q, rm);
  const flags = (inexact ? NX : 0) | (inexact && tiny ? UF : 0);
  if (n === 0n) return { bits: zeroBits(f, negative), flags };
  // Encode n·2^q.
  let significand = n;
  let exponent = q + (p - 1);
  if (significand >= 1n << BigInt(p)) {
    significand >>= 1n;
    exponent += 1;
  }
  let biased: bigint;
  let fraction: bigint;
  if (significand < 1n << BigInt(p - 1)) {
    biased = 0n; // subnormal: q is the smallest quantum
    fraction = significand;
  } else {
    biased = BigInt(exponent + bias(f));
    fraction = significand - (1n << BigInt(p - 1));
  }
  return { bits: signBit(f, negative) | (biased << BigInt(fractionBits(f))) | fraction, flags };
}

// ---- exact arithmetic on Values ----

interface Rational {
  readonly num: bigint; // signed
  readonly den: bigint; // > 0
}

function toRational(v: Value): Rational {
  if (v.kind === "finite") return { num: v.negative ? -v.num : v.num, den: v.den };
  return { num: 0n, den: 1n };
}

function nan(f: Format, flags: number): Outcome {
  return { bits: canonicalNaN(f), flags };
}

/** Rounds an exact signed rational, or returns the given zero when it is 0. */
function roundSigned(f: Format, r: Rational, rm: Mode, zeroNegative: boolean): Outcome {
  if (r.num === 0n) return { bits: zeroBits(f, zeroNegative), flags: 0 };
  const negative = r.num < 0n;
  return roundRational(f, negative, negative ? -r.num : r.num, r.den, rm);
}

function isSignalling(v: Value): boolean {
  return v.kind === "nan" && v.signalling;
}

/** The sign of an exact zero sum of x and y (IEEE 754 6.3). */
function zeroSumNegative(x: Value, y: Value, rm: Mode): boolean {
  if (x.kind === "zero" && y.kind === "zero" && x.negative === y.negative) return x.negative;
  return rm === RDN;
}

function negate(v: Value): Value {
  if (v.kind === "nan") return v;
  return { ...v, negative: !v.negative };
}

export function refAdd(f: Format, a: bigint, b: bigint, rm: Mode, subtract = false): Outcome {
  const x = decode(f, a);
  const y0 = decode(f, b);
  if (x.kind === "nan" || y0.kind === "nan") return nan(f, isSignalling(x) || isSignalling(y0) ? NV : 0);
  const y = subtract ? negate(y0) : y0;
  if (x.kind === "inf" || y.kind === "inf") {
    if (x.kind === "inf" && y.kind === "inf" && x.negative !== y.negative) return nan(f, NV);
    const inf = x.kind === "inf" ? x : y;
    return { bits: infinityBits(f, inf.kind === "inf" && inf.negative), flags: 0 };
  }
  const rx = toRational(x);
  const ry = toRational(y);
  const sum = { num: rx.num * ry.den + ry.num * rx.den, den: rx.den * ry.den };
  return roundSigned(f, sum, rm, zeroSumNegative(x, y, rm));
}

export function refMul(f: Format, a: bigint, b: bigint, rm: Mode): Outcome {
  const x = decode(f, a);
  const y = decode(f, b);
  if (x.kind === "nan" || y.kind === "nan") return nan(f, isSignalling(x) || isSignalling(y) ? NV : 0);
  const negative = x.negative !== y.negative;
  if (x.kind === "inf" || y.kind === "inf") {
    if (x.kind === "zero" || y.kind === "zero") return nan(f, NV);
    return { bits: infinityBits(f, negative), flags: 0 };
  }
  const rx = toRational(x);
  const ry = toRational(y);
  return roundSigned(f, { num: rx.num * ry.num, den: rx.den * ry.den }, rm, negative);
}

export function refDiv(f: Format, a: bigint, b: bigint, rm: Mode): Outcome {
  const x = decode(f, a);
  const y = decode(f, b);
  if (x.kind === "nan" || y.kind === "nan") return nan(f, isSignalling(x) || isSignalling(y) ? NV : 0);
  const negative = x.negative !== y.negative;
  if (x.kind === "inf") {
    if (y.kind === "inf") return nan(f, NV);
    return { bits: infinityBits(f, negative), flags: 0 };
  }
  if (y.kind === "inf") return { bits: zeroBits(f, negative), flags: 0 };
  if (y.kind === "zero") {
    if (x.kind === "zero") return nan(f, NV);
    return { bits: infinityBits(f, negative), flags: DZ };
  }
  const rx = toRational(x);
  const ry = toRational(y);
  let num = rx.num * ry.den;
  let den = rx.den * ry.num;
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  return roundSigned(f, { num, den }, rm, negative);
}

/** floor(√y) for an integer y ≥ 0 (Newton's method). */
function isqrt(y: bigint): bigint {
  if (y < 2n) return y;
  let x = 1n << BigInt(Math.ceil(bitLength(y) / 2));
  for (;;) {
    const next = (x + y / x) >> 1n;
    if (next >= x) return x;
    x = next;
  }
}

export function refSqrt(f: Format, a: bigint, rm: Mode): Outcome {
  const x = decode(f, a);
  if (x.kind === "nan") return nan(f, x.signalling ? NV : 0);
  if (x.kind === "zero") return { bits: zeroBits(f, x.negative), flags: 0 };
  if (x.negative) return nan(f, NV);
  if (x.kind === "inf") return { bits: infinityBits(f, false), flags: 0 };
  // √(num/den)·2^k = √(num·4^k/den); floor of it is isqrt(floor(num·4^k/den)). With k chosen so that the root
  // has p + 10 integer bits, the grid 2^-k is finer than half the format's quantum there, so an inexact root can
  // be replaced by the midpoint of its 2^-k cell without changing any rounding decision.
  const e = floorLog2(x.num, x.den);
  const k = f.precision + 10 - Math.floor(e / 2);
  const scaledNum = k >= 0 ? x.num << BigInt(2 * k) : x.num;
  const scaledDen = k >= 0 ? x.den : x.den << BigInt(-2 * k);
  const s = isqrt(scaledNum / scaledDen);
  const exact = s * s * scaledDen === scaledNum;
  const num = exact ? s : 2n * s + 1n;
  const shift = exact ? k : k + 1;
  return shift >= 0
    ? roundRational(f, false, num, 1n << BigInt(shift), rm)
    : roundRational(f, false, num << BigInt(-shift), 1n, rm);
}

export type FusedOp = "fmadd" | "fmsub" | "fnmsub" | "fnmadd";

/** The fused multiply-adds as the spec defines them: ±(a·b) ± c with a single rounding. */
export function refFma(f: Format, op: FusedOp, a: bigint, b: bigint, c: bigint, rm: Mode): Outcome {
  const x = decode(f, a);
  const y = decode(f, b);
  const z = decode(f, c);
  const infTimesZero = (x.kind === "inf" && y.kind === "zero") || (x.kind === "zero" && y.kind === "inf");
  if (x.kind === "nan" || y.kind === "nan" || z.kind === "nan") {
    return nan(f, isSignalling(x) || isSignalling(y) || isSignalling(z) || infTimesZero ? NV : 0);
  }
  if (infTimesZero) return nan(f, NV);
  const productNegative = (x.negative !== y.negative) !== (op === "fnmsub" || op === "fnmadd");
  const addendNegative = z.negative !== (op === "fmsub" || op === "fnmadd");
  if (x.kind === "inf" || y.kind === "inf") {
    if (z.kind === "inf" && addendNegative !== productNegative) return nan(f, NV);
    return { bits: infinityBits(f, productNegative), flags: 0 };
  }
  if (z.kind === "inf") return { bits: infinityBits(f, addendNegative), flags: 0 };
  const magnitude = (v: Value): Rational => (v.kind === "finite" ? { num: v.num, den: v.den } : { num: 0n, den: 1n });
  const mx = magnitude(x);
  const my = magnitude(y);
  const mz = magnitude(z);
  const pNum = (productNegative ? -1n : 1n) * mx.num * my.num;
  const pDen = mx.den * my.den;
  const zNum = (addendNegative ? -1n : 1n) * mz.num;
  const sum = { num: pNum * mz.den + zNum * pDen, den: pDen * mz.den };
  const productZero = x.kind === "zero" || y.kind === "zero";
  let zeroNegative: boolean;
  if (productZero && z.kind === "zero" && productNegative === addendNegative) zeroNegative = productNegative;
  else zeroNegative = rm === RDN;
  return roundSigned(f, sum, rm, zeroNegative);
}

// ---- conversions ----

export type IntType = "w" | "wu" | "l" | "lu";
const MASK64 = (1n << 64n) - 1n;

function intRange(t: IntType): { min: bigint; max: bigint } {
  switch (t) {
    case "w":
      return { min: -(1n << 31n), max: (1n << 31n) - 1n };
    case "wu":
      return { min: 0n, max: (1n << 32n) - 1n };
    case "l":
      return { min: -(1n << 63n), max: (1n << 63n) - 1n };
    case "lu":
      return { min: 0n, max: (1n << 64n) - 1n };
  }
}

/** The 64-bit register image of an integer result (32-bit results sign-extended, as RV64 does). */
function registerImage(t: IntType, v: bigint): bigint {
  if (t === "w" || t === "wu") return BigInt.asUintN(64, BigInt.asIntN(32, v));
  return BigInt.asUintN(64, v);
}

/** FCVT.<int>.<fmt>: the 64-bit register image and the flags (spec Table 11.4). */
export function refToInt(f: Format, a: bigint, t: IntType, rm: Mode): Outcome {
  const x = decode(f, a);
  const { min, max } = intRange(t);
  if (x.kind === "nan") return { bits: registerImage(t, max), flags: NV };
  if (x.kind === "inf") return { bits: registerImage(t, x.negative ? min : max), flags: NV };
  if (x.kind === "zero") return { bits: 0n, flags: 0 };
  const { n, inexact } = roundToMultiple(x.negative, x.num, x.den, 0, rm);
  const v = x.negative ? -n : n;
  if (v < min || v > max) return { bits: registerImage(t, x.negative ? min : max), flags: NV };
  return { bits: registerImage(t, v), flags: inexact ? NX : 0 };
}

/** FCVT.<fmt>.<int> of the 64-bit register `reg`. */
export function refFromInt(f: Format, reg: bigint, t: IntType, rm: Mode): Outcome {
  let v: bigint;
  switch (t) {
    case "w":
      v = BigInt.asIntN(32, reg);
      break;
    case "wu":
      v = BigInt.asUintN(32, reg);
      break;
    case "l":
      v = BigInt.asIntN(64, reg & MASK64);
      break;
    case "lu":
      v = BigInt.asUintN(64, reg);
      break;
  }
  return roundSigned(f, { num: v, den: 1n }, rm, false);
}

/** FCVT.S.D and FCVT.D.S. */
export function refConvertFormat(from: Format, to: Format, a: bigint, rm: Mode): Outcome {
  const x = decode(from, a);
  if (x.kind === "nan") return nan(to, x.signalling ? NV : 0);
  if (x.kind === "inf") return { bits: infinityBits(to, x.negative), flags: 0 };
  if (x.kind === "zero") return { bits: zeroBits(to, x.negative), flags: 0 };
  return roundRational(to, x.negative, x.num, x.den, rm);
}

// ---- ops that do not round ----

function compareValues(x: Value, y: Value): number {
  const rx = toRational(x);
  const ry = toRational(y);
  const infinite = (v: Value): number => (v.kind === "inf" ? (v.negative ? -1 : 1) : 0);
  if (infinite(x) !== 0 || infinite(y) !== 0) return Math.sign(infinite(x) - infinite(y));
  const d = rx.num * ry.den - ry.num * rx.den;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** FEQ/FLT/FLE: the result (0 or 1) and the flags. */
export function refCompare(f: Format, op: "eq" | "lt" | "le", a: bigint, b: bigint): Outcome {
  const x = decode(f, a);
  const y = decode(f, b);
  if (x.kind === "nan" || y.kind === "nan") {
    const invalid = op !== "eq" || isSignalling(x) || isSignalling(y);
    return { bits: 0n, flags: invalid ? NV : 0 };
  }
  const c = compareValues(x, y);
  const result = op === "eq" ? c === 0 : op === "lt" ? c < 0 : c <= 0;
  return { bits: result ? 1n : 0n, flags: 0 };
}

/** FMIN/FMAX with the 2019 semantics. */
export function refMinMax(f: Format, op: "min" | "max", a: bigint, b: bigint): Outcome {
  const x = decode(f, a);
  const y = decode(f, b);
  const flags = isSignalling(x) || isSignalling(y) ? NV : 0;
  if (x.kind === "nan" && y.kind === "nan") return { bits: canonicalNaN(f), flags };
  if (x.kind === "nan") return { bits: b, flags };
  if (y.kind === "nan") return { bits: a, flags };
  let c = compareValues(x, y);
  if (c === 0 && x.kind === "zero" && y.kind === "zero") c = x.negative === y.negative ? 0 : x.negative ? -1 : 1;
  const pickA = op === "min" ? c <= 0 : c >= 0;
  return { bits: pickA ? a : b, flags };
}

/** FCLASS. */
export function refClass(f: Format, a: bigint): number {
  const x = decode(f, a);
  switch (x.kind) {
    case "nan":
      return x.signalling ? 1 << 8 : 1 << 9;
    case "inf":
      return x.negative ? 1 << 0 : 1 << 7;
    case "zero":
      return x.negative ? 1 << 3 : 1 << 4;
    case "finite": {
      const subnormal = ((a >> BigInt(fractionBits(f))) & fieldMask(f.exponentBits)) === 0n;
      if (x.negative) return subnormal ? 1 << 2 : 1 << 1;
      return subnormal ? 1 << 5 : 1 << 6;
    }
  }
}
