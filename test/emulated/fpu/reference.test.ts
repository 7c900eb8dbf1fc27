/**
 * Known answers for the rational reference model (which the property tests trust, and whose generated tables
 * QEMU's softfloat confirms): decoding, each rounding mode, ties, overflow thresholds, tininess after rounding,
 * square roots, and the integer-conversion table.
 */
import { describe, expect, test } from "bun:test";
import * as R from "./reference.ts";

const D = R.BINARY64;
const S = R.BINARY32;
const ONE_D = 0x3ff0000000000000n;

/** A decoded finite value as "[-]num/den" in lowest terms. */
function ratio(v: R.Value): string {
  if (v.kind !== "finite") return v.kind;
  let [a, b] = [v.num, v.den];
  while (b !== 0n) [a, b] = [b, a % b];
  return `${v.negative ? "-" : ""}${v.num / a}/${v.den / a}`;
}

describe("decode", () => {
  test("finite values, zeros, infinities, NaNs", () => {
    expect(ratio(R.decode(D, ONE_D))).toBe("1/1");
    expect(ratio(R.decode(D, 1n))).toBe(`1/${1n << 1074n}`);
    expect(ratio(R.decode(S, 0xc0400000n))).toBe("-3/1");
    expect(ratio(R.decode(D, 0x3fd8000000000000n))).toBe("3/8");
    expect(R.decode(D, 0x8000000000000000n)).toEqual({ kind: "zero", negative: true });
    expect(R.decode(S, 0xff800000n)).toEqual({ kind: "inf", negative: true });
    expect(R.decode(S, 0x7fc00000n)).toEqual({ kind: "nan", signalling: false });
    expect(R.decode(D, 0x7ff0000000000001n)).toEqual({ kind: "nan", signalling: true });
  });
});

describe("roundRational", () => {
  test("1/3 in each mode", () => {
    const got = [0, 1, 2, 3, 4].map((m) => R.roundRational(D, false, 1n, 3n, m as R.Mode));
    expect(got.map((o) => o.bits)).toEqual([
      0x3fd5555555555555n,
      0x3fd5555555555555n,
      0x3fd5555555555555n,
      0x3fd5555555555556n,
      0x3fd5555555555555n,
    ]);
    expect(got.every((o) => o.flags === R.NX)).toBe(true);
  });

  test("ties: even for RNE, away for RMM", () => {
    // 1 + 2^-24 + 2^-23·k … in binary32: 1 + 2^-24 is a tie between 1 and 1 + 2^-23
    const num = (1n << 24n) + 1n;
    const den = 1n << 24n;
    expect(R.roundRational(S, false, num, den, 0).bits).toBe(0x3f800000n);
    expect(R.roundRational(S, false, num, den, 4).bits).toBe(0x3f800001n);
    expect(R.roundRational(S, true, num, den, 4).bits).toBe(0xbf800001n);
    // 1 + 3·2^-24 is a tie whose even neighbour is above
    expect(R.roundRational(S, false, (1n << 24n) + 3n, den, 0).bits).toBe(0x3f800002n);
  });

  test("overflow: by mode and sign, and only when the unbounded result exceeds the largest finite value", () => {
    const big = 1n << 1024n;
    expect(R.roundRational(D, false, big, 1n, 0)).toEqual({ bits: 0x7ff0000000000000n, flags: R.OF | R.NX });
    expect(R.roundRational(D, false, big, 1n, 1)).toEqual({ bits: 0x7fefffffffffffffn, flags: R.OF | R.NX });
    expect(R.roundRational(D, true, big, 1n, 3)).toEqual({ bits: 0xffefffffffffffffn, flags: R.OF | R.NX });
    expect(R.roundRational(D, true, big, 1n, 2)).toEqual({ bits: 0xfff0000000000000n, flags: R.OF | R.NX });
    // MAX + a quarter ulp: RNE stays at MAX without overflow; RUP overflows
    const max = ((1n << 53n) - 1n) << 971n;
    expect(R.roundRational(D, false, (max << 2n) + (1n << 971n), 4n, 0)).toEqual({
      bits: 0x7fefffffffffffffn,
      flags: R.NX,
    });
    expect(R.roundRational(D, false, (max << 2n) + (1n << 971n), 4n, 3)).toEqual({
      bits: 0x7ff0000000000000n,
      flags: R.OF | R.NX,
    });
  });

  test("tininess is detected after rounding", () => {
    // 2^-1022 - 2^-1075 rounds (bounded) to 2^-1022, but with an unbounded exponent to 2^-1022 - 2^-1075: tiny
    const tiny = R.roundRational(D, false, (1n << 53n) - 1n, 1n << 1075n, 0);
    expect(tiny).toEqual({ bits: 0x0010000000000000n, flags: R.UF | R.NX });
    // 2^-1022 - 2^-1076 rounds to 2^-1022 with an unbounded exponent too: not tiny, no underflow
    const notTiny = R.roundRational(D, false, (1n << 54n) - 1n, 1n << 1076n, 0);
    expect(notTiny).toEqual({ bits: 0x0010000000000000n, flags: R.NX });
    // RTZ keeps the unbounded result below 2^-1022: tiny
    expect(R.roundRational(D, false, (1n << 54n) - 1n, 1n << 1076n, 1)).toEqual({
      bits: 0x000fffffffffffffn,
      flags: R.UF | R.NX,
    });
    // an exact subnormal is not an underflow
    expect(R.roundRational(D, false, 3n, 1n << 1074n, 0)).toEqual({ bits: 3n, flags: 0 });
    // below half the smallest subnormal: zero (or the smallest subnormal rounding up)
    expect(R.roundRational(S, true, 1n, 1n << 151n, 0)).toEqual({ bits: 0x80000000n, flags: R.UF | R.NX });
    expect(R.roundRational(S, false, 1n, 1n << 151n, 3)).toEqual({ bits: 1n, flags: R.UF | R.NX });
  });
});

describe("operations", () => {
  test("square roots", () => {
    expect(R.refSqrt(D, 0x4010000000000000n, 0)).toEqual({ bits: 0x4000000000000000n, flags: 0 });
    expect(R.refSqrt(D, 0x4000000000000000n, 0)).toEqual({ bits: 0x3ff6a09e667f3bcdn, flags: R.NX });
    expect(R.refSqrt(D, 0x4000000000000000n, 3)).toEqual({ bits: 0x3ff6a09e667f3bcdn, flags: R.NX });
    expect(R.refSqrt(D, 0x4000000000000000n, 1)).toEqual({ bits: 0x3ff6a09e667f3bccn, flags: R.NX });
    expect(R.refSqrt(D, 1n, 0)).toEqual({ bits: 0x1e60000000000000n, flags: 0 });
    expect(R.refSqrt(S, 0x80000000n, 0)).toEqual({ bits: 0x80000000n, flags: 0 });
    expect(R.refSqrt(S, 0xbf800000n, 0)).toEqual({ bits: 0x7fc00000n, flags: R.NV });
  });

  test("fused multiply-add rounds once", () => {
    // (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60
    expect(R.refFma(D, "fmadd", 0x3ff0000000400000n, 0x3fefffffff800000n, 0xbff0000000000000n, 0)).toEqual({
      bits: 0xbc30000000000000n,
      flags: 0,
    });
    expect(R.refFma(D, "fmadd", 0x7ff0000000000000n, 0n, 0x7ff8000000000001n, 0).flags).toBe(R.NV);
  });

  test("conversions to integers saturate as Table 11.4 says", () => {
    expect(R.refToInt(D, 0x7ff8000000000000n, "w", 0)).toEqual({ bits: 0x7fffffffn, flags: R.NV });
    expect(R.refToInt(D, 0x7ff8000000000000n, "wu", 0)).toEqual({ bits: 0xffffffffffffffffn, flags: R.NV });
    expect(R.refToInt(D, 0xfff0000000000000n, "l", 0)).toEqual({ bits: 0x8000000000000000n, flags: R.NV });
    expect(R.refToInt(D, 0xbfe0000000000000n, "lu", 1)).toEqual({ bits: 0n, flags: R.NX });
    expect(R.refToInt(D, 0xbfe8000000000000n, "lu", 0)).toEqual({ bits: 0n, flags: R.NV });
    expect(R.refToInt(D, 0x41e0000000000000n, "wu", 0)).toEqual({ bits: 0xffffffff80000000n, flags: 0 });
  });
});
