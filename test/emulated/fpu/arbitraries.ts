/**
 * fast-check generators of FP operands biased towards where rounding and flags are subtle (exponent extremes,
 * subnormals, few-bit significands that make ties and exact results, near-equal operands that cancel). Used by
 * the property tests and by the generator of the bare-metal vector programs (test/guests/isa/fp/).
 */
import fc from "fast-check";
import * as R from "./reference.ts";

/** Bit patterns of format f. */
export function floatBits(f: R.Format): fc.Arbitrary<bigint> {
  const fractionBits = f.precision - 1;
  const fractionMax = (1n << BigInt(fractionBits)) - 1n;
  const expMax = (1 << f.exponentBits) - 1;
  const bias = f.emax;
  const exponent = fc.oneof(
    fc.integer({ min: 0, max: expMax }),
    fc.constantFrom(0, 1, 2, expMax - 2, expMax - 1, expMax, bias - 1, bias, bias + 1),
    fc.integer({ min: bias - 40, max: bias + 40 }),
    fc.integer({ min: 0, max: f.precision + 2 }),
    fc.integer({ min: expMax - f.precision - 2, max: expMax - 1 }),
  );
  const fraction = fc.oneof(
    fc.bigInt({ min: 0n, max: fractionMax }),
    fc.constantFrom(0n, 1n, 2n, fractionMax, fractionMax - 1n, 1n << BigInt(fractionBits - 1)),
    // a few set bits: sums and products of these land on ties and exact results
    fc
      .array(fc.integer({ min: 0, max: fractionBits - 1 }), { maxLength: 3 })
      .map((positions) => positions.reduce((acc, i) => acc | (1n << BigInt(i)), 0n)),
    // all ones below a random position
    fc.integer({ min: 0, max: fractionBits }).map((n) => fractionMax >> BigInt(n)),
  );
  const composed = fc
    .tuple(fc.boolean(), exponent, fraction)
    .map(([neg, e, frac]) => (neg ? 1n << BigInt(f.width - 1) : 0n) | (BigInt(e) << BigInt(fractionBits)) | frac);
  return fc.oneof(
    { arbitrary: composed, weight: 6 },
    { arbitrary: fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n }), weight: 2 },
    { arbitrary: fc.constantFrom(...specials(f)), weight: 1 },
  );
}

/** Zeros, infinities, extremes, one and its neighbours, quiet and signalling NaNs, with both signs. */
export function specials(f: R.Format): bigint[] {
  const sign = 1n << BigInt(f.width - 1);
  const fractionBits = BigInt(f.precision - 1);
  const inf = ((1n << BigInt(f.exponentBits)) - 1n) << fractionBits;
  const one = BigInt(f.emax) << fractionBits;
  const base = [0n, inf, inf - 1n, 1n, 1n << fractionBits, (1n << fractionBits) - 1n, one, one + 1n, one - 1n];
  const nans = [inf | (1n << (fractionBits - 1n)), inf | 1n, inf | (1n << (fractionBits - 2n)), inf | (inf >> 1n)];
  return [...base, ...base.map((b) => b | sign), ...nans, ...nans.map((b) => b | sign)];
}

/** A second operand near the first (same or nearby exponent), to make cancellation and ties common. */
export function nearby(f: R.Format, a: bigint): fc.Arbitrary<bigint> {
  const fractionBits = BigInt(f.precision - 1);
  const expMax = (1 << f.exponentBits) - 1;
  const exponentOfA = Number((a >> fractionBits) & BigInt(expMax));
  return fc
    .tuple(
      fc.boolean(),
      fc.integer({ min: -(f.precision + 3), max: f.precision + 3 }),
      fc.bigInt({ min: -8n, max: 8n }),
      fc.boolean(),
    )
    .map(([neg, de, dFrac, keepFraction]) => {
      const e = Math.min(expMax - 1, Math.max(0, exponentOfA + de));
      const fractionMax = (1n << fractionBits) - 1n;
      let frac = keepFraction ? (a & fractionMax) + dFrac : dFrac < 0n ? fractionMax + dFrac : dFrac;
      if (frac < 0n) frac = 0n;
      if (frac > fractionMax) frac = fractionMax;
      return (neg ? 1n << BigInt(f.width - 1) : 0n) | (BigInt(e) << fractionBits) | frac;
    });
}

/** Two operands: independent, or the second near the first. */
export function pairOf(f: R.Format): fc.Arbitrary<[bigint, bigint]> {
  return fc.oneof(
    fc.tuple(floatBits(f), floatBits(f)),
    floatBits(f).chain((a) => nearby(f, a).map((b): [bigint, bigint] => [a, b])),
  );
}

/** Three FMA operands: independent, addend near a factor, or addend near ∓ the rounded product (cancellation). */
export function tripleOf(f: R.Format): fc.Arbitrary<[bigint, bigint, bigint]> {
  const mask = (1n << BigInt(f.width)) - 1n;
  const sign = 1n << BigInt(f.width - 1);
  return fc.oneof(
    fc.tuple(floatBits(f), floatBits(f), floatBits(f)),
    pairOf(f).chain(([a, b]) => nearby(f, a).map((c): [bigint, bigint, bigint] => [a, b, c])),
    pairOf(f).chain(([a, b]) => {
      const product = R.refMul(f, a, b, 0).bits;
      return fc
        .tuple(fc.bigInt({ min: -3n, max: 3n }), fc.boolean())
        .map(([delta, flip]): [bigint, bigint, bigint] => [a, b, ((product + delta) ^ (flip ? sign : 0n)) & mask]);
    }),
  );
}

/** Square-root operands: arbitrary patterns and exact squares. */
export function sqrtOperand(f: R.Format): fc.Arbitrary<bigint> {
  const fractionBits = BigInt(f.precision - 1);
  const square = fc
    .tuple(fc.integer({ min: 1, max: 2 ** Math.floor(f.precision / 2) }), fc.integer({ min: -60, max: 60 }))
    .map(([m, e]) => {
      const v = BigInt(m) * BigInt(m);
      const top = v.toString(2).length - 1;
      const biased = BigInt(f.emax + 2 * e + top);
      return (biased << fractionBits) | ((v << (fractionBits - BigInt(top))) & ((1n << fractionBits) - 1n));
    });
  return fc.oneof(floatBits(f), square);
}

/** Float operands for conversion to integers: arbitrary, or near the integer types' bounds and halfway cases. */
export function toIntOperand(f: R.Format): fc.Arbitrary<bigint> {
  const boundary = fc
    .tuple(
      fc.constantFrom(0, 1, 31, 32, 52, 53, 63, 64),
      fc.boolean(),
      fc.integer({ min: -6, max: 6 }),
      fc.constantFrom(0, 0.25, 0.5, 0.75),
    )
    .map(([e, neg, delta, frac]) => {
      const v = (neg ? -1 : 1) * (2 ** e + delta + frac);
      return f.width === 64 ? doubleBits(v) : singleBits(v);
    });
  return fc.oneof(floatBits(f), boundary);
}

/** 64-bit integer register images for conversion to floating point. */
export const integerOperand: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: -1000n, max: 1000n }).map((v) => BigInt.asUintN(64, v)),
  // few set bits: ties when rounding to 24 or 53 bits
  fc
    .array(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: 4 })
    .map((bits) => bits.reduce((acc, i) => acc | (1n << BigInt(i)), 0n)),
  fc
    .tuple(fc.constantFrom(24, 25, 31, 32, 53, 54, 63), fc.bigInt({ min: -5n, max: 5n }))
    .map(([e, delta]) => BigInt.asUintN(64, (1n << BigInt(e)) + delta)),
  // 32-bit values with random upper halves (W/WU must ignore them)
  fc
    .tuple(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.bigInt({ min: 0n, max: 0xffffffffn }))
    .map(([hi, lo]) => (hi << 32n) | lo),
);

/** binary64 bits of a JS number. */
export function doubleBits(v: number): bigint {
  return new BigUint64Array(new Float64Array([v]).buffer)[0] ?? 0n;
}

/** binary32 bits of a JS number rounded to single precision. */
export function singleBits(v: number): bigint {
  return BigInt(new Uint32Array(new Float32Array([v]).buffer)[0] ?? 0);
}
