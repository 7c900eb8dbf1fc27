/**
 * Property tests: execFp against the BigInt rational reference (reference.ts), comparing result bits and the
 * accrued flags for every rounding operation, in every rounding mode (static and dynamic), starting from random
 * accrued flags so that the "NX already set" shortcuts are exercised too.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as E from "../../../src/hal/emulated/fpu/encode.ts";
import { FP_OK, FpState } from "../../../src/hal/emulated/fpu/index.ts";
import { floatBits, integerOperand, pairOf, sqrtOperand, toIntOperand, tripleOf } from "./arbitraries.ts";
import * as R from "./reference.ts";
import { boxS, getF, IntRegs, run, setF } from "./testing.ts";

const NUM_RUNS = Number(process.env.FPU_PROPERTY_RUNS ?? 3000);

type P = E.Precision;
const formatOf = (p: P): R.Format => (p === "d" ? R.BINARY64 : R.BINARY32);

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
            check(
              `${op}.${p} ${hex(a)} ${hex(b)} rm=${m.mode}`,
              getF(fp, 3),
              fp.fflags,
              {
                bits: resultRegister(p, want.bits),
                flags: want.flags,
              },
              flags0,
            );
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }

    test(`fsqrt.${p}`, () => {
      fc.assert(
        fc.property(sqrtOperand(f), boxedArb, modeArb, flagsArb, (a, boxA, m, flags0) => {
          const fp = new FpState();
          const x = new IntRegs();
          setF(fp, 1, registerOf(p, a, boxA));
          fp.frm = m.frm;
          fp.fflags = flags0;
          expect(run(E.fsqrt(p, 3, 1, m.field), fp, x)).toBe(FP_OK);
          const want = R.refSqrt(f, operandOf(p, a, boxA), m.mode);
          check(
            `fsqrt.${p} ${hex(a)} rm=${m.mode}`,
            getF(fp, 3),
            fp.fflags,
            {
              bits: resultRegister(p, want.bits),
              flags: want.flags,
            },
            flags0,
          );
        }),
        { numRuns: NUM_RUNS },
      );
    });

    for (const op of ["fmadd", "fmsub", "fnmsub", "fnmadd"] as const) {
      test(`${op}.${p}`, () => {
        const triple = tripleOf(f);
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
            check(
              `${op}.${p} ${hex(a)} ${hex(b)} ${hex(c)} rm=${m.mode}`,
              getF(fp, 4),
              fp.fflags,
              {
                bits: resultRegister(p, want.bits),
                flags: want.flags,
              },
              flags0,
            );
          }),
          { numRuns: NUM_RUNS },
        );
      });
    }

    for (const k of ["w", "wu", "l", "lu"] as const) {
      test(`fcvt.${k}.${p}`, () => {
        fc.assert(
          fc.property(toIntOperand(f), boxedArb, modeArb, flagsArb, (a, boxA, m, flags0) => {
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
        fc.assert(
          fc.property(integerOperand, modeArb, flagsArb, (v, m, flags0) => {
            const fp = new FpState();
            const x = new IntRegs();
            x.set(6, v);
            fp.frm = m.frm;
            fp.fflags = flags0;
            expect(run(E.cvtFromInt(p, k, 3, 6, m.field), fp, x)).toBe(FP_OK);
            const want = R.refFromInt(f, v, k, m.mode);
            check(
              `fcvt.${p}.${k} ${hex(v)} rm=${m.mode}`,
              getF(fp, 3),
              fp.fflags,
              {
                bits: resultRegister(p, want.bits),
                flags: want.flags,
              },
              flags0,
            );
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
            check(
              `${op}.${p} ${hex(a)} ${hex(b)}`,
              getF(fp, 3),
              fp.fflags,
              {
                bits: resultRegister(p, want.bits),
                flags: want.flags,
              },
              flags0,
            );
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
      check(
        `fcvt.s.d ${hex(a)} rm=${m.mode}`,
        getF(fp, 3),
        fp.fflags,
        { bits: boxS(toS.bits), flags: toS.flags },
        flags0,
      );
      fp.fflags = flags0;
      expect(run(E.cvtFormat("d", 4, 2, m.field), fp, x)).toBe(FP_OK);
      const toD = R.refConvertFormat(R.BINARY32, R.BINARY64, operandOf("s", b, boxB), m.mode);
      check(`fcvt.d.s ${hex(b)} rm=${m.mode}`, getF(fp, 4), fp.fflags, toD, flags0);
    }),
    { numRuns: NUM_RUNS * 2 },
  );
});

// ---- regressions: counterexamples the properties found, kept as fixed cases ----

describe("regressions found by the property tests", () => {
  test("fcvt to integers of ±0.49999999999999994 and ±1.4999999999999998 in every rounding mode (the fraction x - floor rounded to a false tie)", () => {
    const values = [0xbfdf_ffff_ffff_ffffn, 0x3fdf_ffff_ffff_ffffn, 0xbff7_ffff_ffff_ffffn, 0x3ff7_ffff_ffff_ffffn];
    for (const a of values) {
      for (const k of ["w", "wu", "l", "lu"] as const) {
        for (const mode of [0, 1, 2, 3, 4] as const) {
          const fp = new FpState();
          const x = new IntRegs();
          setF(fp, 1, a);
          fp.fflags = 0;
          expect(run(E.cvtToInt(k, "d", 5, 1, mode), fp, x)).toBe(FP_OK);
          check(`fcvt.${k}.d ${hex(a)} rm=${mode}`, x.get(5), fp.fflags, R.refToInt(R.BINARY64, a, k, mode), 0);
        }
      }
    }
  });

  test("fadd.d near the top of the range in every rounding mode (TwoSum's intermediate overflowed)", () => {
    const a = 0xffdf_ffff_ffff_ffffn;
    const b = 0x7fef_ffff_ffff_ffffn;
    for (const mode of [0, 1, 2, 3, 4] as const) {
      for (const [x, y, negate] of [
        [a, b, false],
        [b, a, false],
        [b, a ^ (1n << 63n), true],
      ] as const) {
        const fp = new FpState();
        setF(fp, 1, x);
        setF(fp, 2, y);
        fp.frm = mode;
        fp.fflags = 0;
        expect(run(E.arith(negate ? "fsub" : "fadd", "d", 3, 1, 2, 7), fp, new IntRegs())).toBe(FP_OK);
        check(
          `${negate ? "fsub" : "fadd"}.d ${hex(x)} ${hex(y)} rm=${mode}`,
          getF(fp, 3),
          fp.fflags,
          R.refAdd(R.BINARY64, x, y, mode, negate),
          0,
        );
      }
    }
  });
});
