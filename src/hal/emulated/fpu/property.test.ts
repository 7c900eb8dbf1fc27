/**
 * Property tests: execFp against the BigInt rational reference (reference.ts), comparing result bits and the
 * accrued flags for every rounding operation, in every rounding mode (static and dynamic), starting from random
 * accrued flags so that the "NX already set" shortcuts are exercised too.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as E from "./encode.ts";
import { FP_OK, FpState } from "./index.ts";
import * as R from "./reference.ts";
import { boxS, getF, IntRegs, run, setF } from "./testing.ts";

const NUM_RUNS = Number(process.env.FPU_PROPERTY_RUNS ?? 3000);

type P = E.Precision;
const formatOf = (p: P): R.Format => (p === "d" ? R.BINARY64 : R.BINARY32);

// ---- generators ----

/** Bit patterns of format f, biased towards the places where rounding and flags are subtle. */
function floatBits(f: R.Format): fc.Arbitrary<bigint> {
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

function specials(f: R.Format): bigint[] {
  const sign = 1n << BigInt(f.width - 1);
  const fractionBits = BigInt(f.precision - 1);
  const inf = ((1n << BigInt(f.exponentBits)) - 1n) << fractionBits;
  const one = BigInt(f.emax) << fractionBits;
  const base = [0n, inf, inf - 1n, 1n, 1n << fractionBits, (1n << fractionBits) - 1n, one, one + 1n, one - 1n];
  const nans = [inf | (1n << (fractionBits - 1n)), inf | 1n, inf | (1n << (fractionBits - 2n)), inf | (inf >> 1n)];
  return [...base, ...base.map((b) => b | sign), ...nans, ...nans.map((b) => b | sign)];
}

/** A second operand near the first (same or nearby exponent), to make cancellation and ties common. */
function nearby(f: R.Format, a: bigint): fc.Arbitrary<bigint> {
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

function pairOf(f: R.Format): fc.Arbitrary<[bigint, bigint]> {
  return fc.oneof(
    fc.tuple(floatBits(f), floatBits(f)),
    floatBits(f).chain((a) => nearby(f, a).map((b): [bigint, bigint] => [a, b])),
  );
}

/** Register image of an operand: binary64 as is; binary32 NaN-boxed, except now and then (then it reads as NaN). */
function registerOf(p: P, bits: bigint, boxed: boolean): bigint {
  if (p === "d") return bits;
  return boxed ? boxS(bits) : bits | 0x1234_5678_0000_0000n;
}

/** The operand as the reference sees it (an unboxed binary32 is the canonical NaN). */
function operandOf(p: P, bits: bigint, boxed: boolean): bigint {
  return p === "s" && !boxed ? 0x7fc00000n : bits;
}

/** The expected destination register image of a float result. */
function resultRegister(p: P, bits: bigint): bigint {
  return p === "d" ? bits : boxS(bits);
}

/** rm field and frm: a static mode, or DYN with frm holding the mode. */
const modeArb = fc.oneof(
  fc.integer({ min: 0, max: 4 }).map((m) => ({ field: m, frm: (m * 3 + 1) % 5, mode: m as R.Mode })),
  fc.integer({ min: 0, max: 4 }).map((m) => ({ field: 7, frm: m, mode: m as R.Mode })),
);
const boxedArb = fc.oneof({ arbitrary: fc.constant(true), weight: 15 }, { arbitrary: fc.constant(false), weight: 1 });
const flagsArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 31 }), fc.constant(R.NX));

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function check(label: string, gotBits: bigint, gotFlags: number, want: R.Outcome, initialFlags: number): void {
  const wantFlags = want.flags | initialFlags;
  if (gotBits !== want.bits || gotFlags !== wantFlags) {
    throw new Error(
      `${label}: got ${hex(gotBits)} flags ${gotFlags.toString(2)}, want ${hex(want.bits)} flags ${wantFlags.toString(2)}`,
    );
  }
}

// ---- properties ----

for (const p of ["s", "d"] as const) {
  const f = formatOf(p);
  describe(`${p === "d" ? "D" : "F"} extension against the rational reference`, () => {
    for (const op of ["fadd", "fsub", "fmul", "fdiv"] as const) {
      test(`${op}.${p}`, () => {
        fc.assert(
          fc.property(pairOf(f), boxedArb, boxedArb, modeArb, flagsArb, ([a, b], boxA, boxB, m, flags0) => {
            const fp = new FpState();
            const x = new IntRegs();
            setF(fp, 1, registerOf(p, a, boxA));
            setF(fp, 2, registerOf(p, b, boxB));
            fp.frm = m.frm;
            fp.fflags = flags0;
            expect(run(E.arith(op, p, 3, 1, 2, m.field), fp, x)).toBe(FP_OK);
            const ea = operandOf(p, a, boxA);
            const eb = operandOf(p, b, boxB);
            const want =
              op === "fadd"
                ? R.refAdd(f, ea, eb, m.mode)
                : op === "fsub"
                  ? R.refAdd(f, ea, eb, m.mode, true)
                  : op === "fmul"
                    ? R.refMul(f, ea, eb, m.mode)
                    : R.refDiv(f, ea, eb, m.mode);
            check(`${op}.${p} ${hex(a)} ${hex(b)} rm=${m.mode}`, getF(fp, 3), fp.fflags, {
              bits: resultRegister(p, want.bits),
              flags: want.flags,
            }, flags0);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }

    test(`fsqrt.${p}`, () => {
      const fractionBits = BigInt(f.precision - 1);
      // Exact squares as well as arbitrary values.
      const square = fc
        .tuple(fc.integer({ min: 1, max: 2 ** Math.floor(f.precision / 2) }), fc.integer({ min: -60, max: 60 }))
        .map(([m, e]) => {
          const v = BigInt(m) * BigInt(m);
          const top = v.toString(2).length - 1;
          const biased = BigInt(f.emax + 2 * e + top);
          return (biased << fractionBits) | ((v << (fractionBits - BigInt(top))) & ((1n << fractionBits) - 1n));
        });
      fc.assert(
        fc.property(fc.oneof(floatBits(f), square), boxedArb, modeArb, flagsArb, (a, boxA, m, flags0) => {
          const fp = new FpState();
          const x = new IntRegs();
          setF(fp, 1, registerOf(p, a, boxA));
          fp.frm = m.frm;
          fp.fflags = flags0;
          expect(run(E.fsqrt(p, 3, 1, m.field), fp, x)).toBe(FP_OK);
          const want = R.refSqrt(f, operandOf(p, a, boxA), m.mode);
          check(`fsqrt.${p} ${hex(a)} rm=${m.mode}`, getF(fp, 3), fp.fflags, {
            bits: resultRegister(p, want.bits),
            flags: want.flags,
          }, flags0);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    for (const op of ["fmadd", "fmsub", "fnmsub", "fnmadd"] as const) {
      test(`${op}.${p}`, () => {
        // The addend is arbitrary, near one factor, or near ∓ the rounded product (heavy cancellation).
        const triple = fc.oneof(
          fc.tuple(floatBits(f), floatBits(f), floatBits(f)),
          pairOf(f).chain(([a, b]) => nearby(f, a).map((c): [bigint, bigint, bigint] => [a, b, c])),
          pairOf(f).chain(([a, b]) => {
            const product = R.refMul(f, a, b, 0).bits;
            const sign = 1n << BigInt(f.width - 1);
            return fc
              .tuple(fc.bigInt({ min: -3n, max: 3n }), fc.boolean())
              .map(([delta, flip]): [bigint, bigint, bigint] => [a, b, ((product + delta) ^ (flip ? sign : 0n)) & ((1n << BigInt(f.width)) - 1n)]);
          }),
        );
        fc.assert(
          fc.property(triple, boxedArb, modeArb, flagsArb, ([a, b, c], boxC, m, flags0) => {
            const fp = new FpState();
            const x = new IntRegs();
            setF(fp, 1, registerOf(p, a, true));
            setF(fp, 2, registerOf(p, b, true));
            setF(fp, 3, registerOf(p, c, boxC));
            fp.frm = m.frm;
            fp.fflags = flags0;
            expect(run(E.fused(op, p, 4, 1, 2, 3, m.field), fp, x)).toBe(FP_OK);
            const want = R.refFma(f, op, a, b, operandOf(p, c, boxC), m.mode);
            check(`${op}.${p} ${hex(a)} ${hex(b)} ${hex(c)} rm=${m.mode}`, getF(fp, 4), fp.fflags, {
              bits: resultRegister(p, want.bits),
              flags: want.flags,
            }, flags0);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }

    for (const k of ["w", "wu", "l", "lu"] as const) {
      test(`fcvt.${k}.${p}`, () => {
        // Values around the integer boundaries and halfway cases, plus arbitrary patterns.
        const boundary = fc
          .tuple(
            fc.constantFrom(0, 1, 31, 32, 52, 53, 63, 64),
            fc.boolean(),
            fc.integer({ min: -6, max: 6 }),
            fc.constantFrom(0, 0.25, 0.5, 0.75),
          )
          .map(([e, neg, delta, frac]) => {
            const v = (neg ? -1 : 1) * (2 ** e + delta + frac);
            return p === "d" ? R.BINARY64 && doubleBits(v) : floatBitsOf(v);
          });
        fc.assert(
          fc.property(fc.oneof(floatBits(f), boundary), boxedArb, modeArb, flagsArb, (a, boxA, m, flags0) => {
            const fp = new FpState();
            const x = new IntRegs();
            x.set(5, 0x5555_5555_5555_5555n);
            setF(fp, 1, registerOf(p, a, boxA));
            fp.frm = m.frm;
            fp.fflags = flags0;
            expect(run(E.cvtToInt(k, p, 5, 1, m.field), fp, x)).toBe(FP_OK);
            const want = R.refToInt(f, operandOf(p, a, boxA), k, m.mode);
            check(`fcvt.${k}.${p} ${hex(a)} rm=${m.mode}`, x.get(5), fp.fflags, want, flags0);
          }),
          { numRuns: NUM_RUNS },
        );
      });

      test(`fcvt.${p}.${k}`, () => {
        const integer = fc.oneof(
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
          fc.tuple(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.bigInt({ min: 0n, max: 0xffffffffn })).map(
            ([hi, lo]) => (hi << 32n) | lo,
          ),
        );
        fc.assert(
          fc.property(integer, modeArb, flagsArb, (v, m, flags0) => {
            const fp = new FpState();
            const x = new IntRegs();
            x.set(6, v);
            fp.frm = m.frm;
            fp.fflags = flags0;
            expect(run(E.cvtFromInt(p, k, 3, 6, m.field), fp, x)).toBe(FP_OK);
            const want = R.refFromInt(f, v, k, m.mode);
            check(`fcvt.${p}.${k} ${hex(v)} rm=${m.mode}`, getF(fp, 3), fp.fflags, {
              bits: resultRegister(p, want.bits),
              flags: want.flags,
            }, flags0);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }

    test(`fmin/fmax/feq/flt/fle/fclass.${p}`, () => {
      fc.assert(
        fc.property(pairOf(f), boxedArb, boxedArb, flagsArb, ([a, b], boxA, boxB, flags0) => {
          const ea = operandOf(p, a, boxA);
          const eb = operandOf(p, b, boxB);
          for (const op of ["fmin", "fmax"] as const) {
            const fp = new FpState();
            const x = new IntRegs();
            setF(fp, 1, registerOf(p, a, boxA));
            setF(fp, 2, registerOf(p, b, boxB));
            fp.fflags = flags0;
            expect(run(E.minMax(op, p, 3, 1, 2), fp, x)).toBe(FP_OK);
            const want = R.refMinMax(f, op === "fmin" ? "min" : "max", ea, eb);
            check(`${op}.${p} ${hex(a)} ${hex(b)}`, getF(fp, 3), fp.fflags, {
              bits: resultRegister(p, want.bits),
              flags: want.flags,
            }, flags0);
          }
          for (const op of ["feq", "flt", "fle"] as const) {
            const fp = new FpState();
            const x = new IntRegs();
            x.set(7, -1n);
            setF(fp, 1, registerOf(p, a, boxA));
            setF(fp, 2, registerOf(p, b, boxB));
            fp.fflags = flags0;
            expect(run(E.cmp(op, p, 7, 1, 2), fp, x)).toBe(FP_OK);
            const want = R.refCompare(f, op === "feq" ? "eq" : op === "flt" ? "lt" : "le", ea, eb);
            check(`${op}.${p} ${hex(a)} ${hex(b)}`, x.get(7), fp.fflags, want, flags0);
          }
          const fp = new FpState();
          const x = new IntRegs();
          setF(fp, 1, registerOf(p, a, boxA));
          expect(run(E.fclass(p, 8, 1), fp, x)).toBe(FP_OK);
          check(`fclass.${p} ${hex(a)}`, x.get(8), fp.fflags, { bits: BigInt(R.refClass(f, ea)), flags: 0 }, 0);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });
}

test("fcvt.s.d and fcvt.d.s against the rational reference", () => {
  fc.assert(
    fc.property(floatBits(R.BINARY64), floatBits(R.BINARY32), boxedArb, modeArb, flagsArb, (a, b, boxB, m, flags0) => {
      const fp = new FpState();
      const x = new IntRegs();
      setF(fp, 1, a);
      setF(fp, 2, registerOf("s", b, boxB));
      fp.frm = m.frm;
      fp.fflags = flags0;
      expect(run(E.cvtFormat("s", 3, 1, m.field), fp, x)).toBe(FP_OK);
      const toS = R.refConvertFormat(R.BINARY64, R.BINARY32, a, m.mode);
      check(`fcvt.s.d ${hex(a)} rm=${m.mode}`, getF(fp, 3), fp.fflags, { bits: boxS(toS.bits), flags: toS.flags }, flags0);
      fp.fflags = flags0;
      expect(run(E.cvtFormat("d", 4, 2, m.field), fp, x)).toBe(FP_OK);
      const toD = R.refConvertFormat(R.BINARY32, R.BINARY64, operandOf("s", b, boxB), m.mode);
      check(`fcvt.d.s ${hex(b)} rm=${m.mode}`, getF(fp, 4), fp.fflags, toD, flags0);
    }),
    { numRuns: NUM_RUNS * 2 },
  );
});

function doubleBits(v: number): bigint {
  return new BigUint64Array(new Float64Array([v]).buffer)[0] ?? 0n;
}

function floatBitsOf(v: number): bigint {
  return BigInt(new Uint32Array(new Float32Array([v]).buffer)[0] ?? 0);
}
