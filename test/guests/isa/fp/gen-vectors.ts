/**
 * Generates the table-driven F/D conformance programs of this directory (*-vectors.S) from the BigInt rational
 * reference model (src/hal/emulated/fpu/reference.ts). Operands come from edge-biased generators with a fixed
 * seed and are picked so that every group covers as many distinct outcomes (flag sets, result classes) as it
 * can. The expected values are thereby independent of the FPU under test, and test/isa-qemu.test.ts checks
 * them against QEMU's softfloat, a third implementation.
 *
 * Usage: bun test/guests/isa/fp/gen-vectors.ts [--per-group N] [--out DIR]
 * then scripts/build-test-guests.sh to rebuild the ELFs.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import {
  floatBits,
  integerOperand,
  pairOf,
  sqrtOperand,
  toIntOperand,
  tripleOf,
} from "../../../emulated/fpu/arbitraries.ts";
import * as R from "../../../emulated/fpu/reference.ts";

const MODES = ["rne", "rtz", "rdn", "rup", "rmm"] as const;
type ModeName = (typeof MODES)[number];

interface Vector {
  readonly a: bigint;
  readonly b: bigint;
  readonly c: bigint;
  readonly expected: bigint;
  readonly flags: number;
}

interface Group {
  readonly title: string;
  /** FP_RESULT_F or FP_RESULT_X */
  readonly kind: "FP_RESULT_F" | "FP_RESULT_X";
  /** The instruction, with f1/f2/f4 (or a1) as sources and f3 (or a0) as destination. */
  readonly insn: string;
  /** frm to set before the group (for `dyn` instructions). */
  readonly frm: number | undefined;
  readonly vectors: readonly Vector[];
}

interface Program {
  readonly file: string;
  readonly description: string;
  readonly misa: string;
  readonly groups: Group[];
}

const args = process.argv.slice(2);
const perGroup = Number(args[args.indexOf("--per-group") + 1] ?? 24) || 24;
const outDir = args.includes("--out") ? (args[args.indexOf("--out") + 1] ?? ".") : import.meta.dir;

const hex = (v: bigint): string => `0x${v.toString(16).padStart(16, "0")}`;
const box = (v: bigint): bigint => 0xffffffff00000000n | v;

/** A deterministic seed per group title, so adding a group does not reshuffle the others. */
function seedOf(title: string): number {
  let h = 2166136261;
  for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 16777619);
  return h | 0;
}

/**
 * Picks `count` vectors from a pool of candidates, round-robin over outcome buckets (flags and the result's
 * top bits), so rare outcomes (underflow, overflow, invalid) are not crowded out by inexact ones.
 */
function pick(title: string, candidates: fc.Arbitrary<Vector>, count: number): Vector[] {
  const pool = fc.sample(candidates, { seed: seedOf(title), numRuns: count * 20 });
  const buckets = new Map<string, Vector[]>();
  for (const v of pool) {
    // flags, and the exponent field of a binary64 result or of a (boxed) binary32 one
    const key = `${v.flags}:${(v.expected >> 52n) & 0x7ffn}:${(v.expected >> 23n) & 0xffn}`;
    const bucket = buckets.get(key) ?? [];
    if (!bucket.some((u) => u.a === v.a && u.b === v.b && u.c === v.c)) bucket.push(v);
    buckets.set(key, bucket);
  }
  const lists = [...buckets.values()];
  const out: Vector[] = [];
  for (let round = 0; out.length < count && lists.some((l) => l.length > round); round++) {
    for (const list of lists) {
      const v = list[round];
      if (v !== undefined && out.length < count) out.push(v);
    }
  }
  return out;
}

function modeGroups(
  prefix: string,
  kind: Group["kind"],
  insn: (rm: string) => string,
  candidates: (mode: R.Mode) => fc.Arbitrary<Vector>,
  dynFrm: R.Mode,
): Group[] {
  const groups: Group[] = MODES.map((name: ModeName, mode) => {
    const title = `${prefix} ${name}`;
    return {
      title,
      kind,
      insn: insn(name),
      frm: undefined,
      vectors: pick(title, candidates(mode as R.Mode), perGroup),
    };
  });
  const title = `${prefix} dyn (frm=${MODES[dynFrm]})`;
  groups.push({ title, kind, insn: insn("dyn"), frm: dynFrm, vectors: pick(title, candidates(dynFrm), perGroup) });
  return groups;
}

// ---- operand images ----

type P = "s" | "d";
const fmt = (p: P): R.Format => (p === "d" ? R.BINARY64 : R.BINARY32);
/** Register images of binary32 operands: NaN-boxed, and now and then not (then they read as the canonical NaN). */
const imageArb = (p: P, bits: fc.Arbitrary<bigint>): fc.Arbitrary<[bigint, bigint]> =>
  p === "d"
    ? bits.map((v): [bigint, bigint] => [v, v])
    : fc
        .tuple(
          bits,
          fc.oneof({ arbitrary: fc.constant(true), weight: 19 }, { arbitrary: fc.constant(false), weight: 1 }),
        )
        .map(([v, boxed]): [bigint, bigint] => (boxed ? [box(v), v] : [0x0000000100000000n | v, 0x7fc00000n]));
const resultImage = (p: P, v: bigint): bigint => (p === "d" ? v : box(v));

function binaryCandidates(p: P, op: (a: bigint, b: bigint, m: R.Mode) => R.Outcome, m: R.Mode) {
  const f = fmt(p);
  return pairOf(f).chain(([a, b]) =>
    fc.tuple(imageArb(p, fc.constant(a)), imageArb(p, fc.constant(b))).map(([[ia, va], [ib, vb]]) => {
      const out = op(va, vb, m);
      return { a: ia, b: ib, c: 0n, expected: resultImage(p, out.bits), flags: out.flags };
    }),
  );
}

function arithProgram(p: P): Program {
  const f = fmt(p);
  const F = p.toUpperCase();
  const groups: Group[] = [];
  const ops = [
    ["fadd", (a: bigint, b: bigint, m: R.Mode) => R.refAdd(f, a, b, m)],
    ["fsub", (a: bigint, b: bigint, m: R.Mode) => R.refAdd(f, a, b, m, true)],
    ["fmul", (a: bigint, b: bigint, m: R.Mode) => R.refMul(f, a, b, m)],
    ["fdiv", (a: bigint, b: bigint, m: R.Mode) => R.refDiv(f, a, b, m)],
  ] as const;
  ops.forEach(([name, op], i) => {
    groups.push(
      ...modeGroups(
        `${name}.${p}`,
        "FP_RESULT_F",
        (rm) => `${name}.${p} f3, f1, f2, ${rm}`,
        (m) => binaryCandidates(p, op, m),
        ((i + 2) % 5) as R.Mode,
      ),
    );
  });
  groups.push(
    ...modeGroups(
      `fsqrt.${p}`,
      "FP_RESULT_F",
      (rm) => `fsqrt.${p} f3, f1, ${rm}`,
      (m) =>
        imageArb(p, sqrtOperand(f)).map(([ia, va]) => {
          const out = R.refSqrt(f, va, m);
          return { a: ia, b: 0n, c: 0n, expected: resultImage(p, out.bits), flags: out.flags };
        }),
      4,
    ),
  );
  return {
    file: `rv64u${p === "d" ? "d" : "f"}-arith-vectors.S`,
    description: `FADD/FSUB/FMUL/FDIV/FSQRT.${F} in every rounding mode (static and dynamic)`,
    misa: p === "d" ? "MISA_F | MISA_D" : "MISA_F | MISA_D",
    groups,
  };
}

function fmaProgram(p: P): Program {
  const f = fmt(p);
  const F = p.toUpperCase();
  const groups: Group[] = [];
  (["fmadd", "fmsub", "fnmsub", "fnmadd"] as const).forEach((op, i) => {
    groups.push(
      ...modeGroups(
        `${op}.${p}`,
        "FP_RESULT_F",
        (rm) => `${op}.${p} f3, f1, f2, f4, ${rm}`,
        (m) =>
          tripleOf(f).chain(([a, b, c]) =>
            imageArb(p, fc.constant(c)).map(([ic, vc]) => {
              const out = R.refFma(f, op, a, b, vc, m);
              const ia = p === "d" ? a : box(a);
              const ib = p === "d" ? b : box(b);
              return { a: ia, b: ib, c: ic, expected: resultImage(p, out.bits), flags: out.flags };
            }),
          ),
        ((i + 1) % 5) as R.Mode,
      ),
    );
  });
  return {
    file: `rv64u${p === "d" ? "d" : "f"}-fma-vectors.S`,
    description: `FMADD/FMSUB/FNMSUB/FNMADD.${F} (one rounding) in every rounding mode`,
    misa: "MISA_F | MISA_D",
    groups,
  };
}

function convertProgram(p: P): Program {
  const f = fmt(p);
  const F = p.toUpperCase();
  const groups: Group[] = [];
  (["w", "wu", "l", "lu"] as const).forEach((k, i) => {
    groups.push(
      ...modeGroups(
        `fcvt.${k}.${p}`,
        "FP_RESULT_X",
        (rm) => `fcvt.${k}.${p} a0, f1, ${rm}`,
        (m) =>
          imageArb(p, toIntOperand(f)).map(([ia, va]) => {
            const out = R.refToInt(f, va, k, m);
            return { a: ia, b: 0n, c: 0n, expected: out.bits, flags: out.flags };
          }),
        ((i + 3) % 5) as R.Mode,
      ),
    );
    const fromInt = (m: R.Mode): fc.Arbitrary<Vector> =>
      integerOperand.map((x) => {
        const out = R.refFromInt(f, x, k, m);
        return { a: x, b: 0n, c: 0n, expected: resultImage(p, out.bits), flags: out.flags };
      });
    if (p === "d" && (k === "w" || k === "wu")) {
      // Always exact, so the assembler takes no rounding mode (and the rm field is irrelevant).
      const title = `fcvt.d.${k}`;
      groups.push({
        title,
        kind: "FP_RESULT_F",
        insn: `fcvt.d.${k} f3, a1`,
        frm: undefined,
        vectors: pick(title, fromInt(0), perGroup),
      });
    } else {
      groups.push(
        ...modeGroups(
          `fcvt.${p}.${k}`,
          "FP_RESULT_F",
          (rm) => `fcvt.${p}.${k} f3, a1, ${rm}`,
          fromInt,
          ((i + 1) % 5) as R.Mode,
        ),
      );
    }
  });
  if (p === "d") {
    groups.push(
      ...modeGroups(
        "fcvt.s.d",
        "FP_RESULT_F",
        (rm) => `fcvt.s.d f3, f1, ${rm}`,
        (m) =>
          floatBits(R.BINARY64).map((a) => {
            const out = R.refConvertFormat(R.BINARY64, R.BINARY32, a, m);
            return { a, b: 0n, c: 0n, expected: box(out.bits), flags: out.flags };
          }),
        3,
      ),
    );
    const title = "fcvt.d.s";
    groups.push({
      title,
      kind: "FP_RESULT_F",
      insn: "fcvt.d.s f3, f1",
      frm: undefined,
      vectors: pick(
        title,
        imageArb("s", floatBits(R.BINARY32)).map(([ia, va]) => {
          const out = R.refConvertFormat(R.BINARY32, R.BINARY64, va, 0);
          return { a: ia, b: 0n, c: 0n, expected: out.bits, flags: out.flags };
        }),
        perGroup,
      ),
    });
  }
  return {
    file: `rv64u${p === "d" ? "d" : "f"}-cvt-vectors.S`,
    description:
      p === "d"
        ? "FCVT.{W,WU,L,LU}.D and FCVT.D.{W,WU,L,LU}, FCVT.S.D, FCVT.D.S in every rounding mode"
        : `FCVT.{W,WU,L,LU}.${F} and FCVT.${F}.{W,WU,L,LU} in every rounding mode`,
    misa: "MISA_F | MISA_D",
    groups,
  };
}

function miscProgram(p: P): Program {
  const f = fmt(p);
  const F = p.toUpperCase();
  const groups: Group[] = [];
  const two = (
    title: string,
    kind: Group["kind"],
    insn: string,
    op: (a: bigint, b: bigint) => R.Outcome,
    resultIsFloat: boolean,
  ): void => {
    groups.push({
      title,
      kind,
      insn,
      frm: undefined,
      vectors: pick(
        title,
        pairOf(f).chain(([a, b]) =>
          fc.tuple(imageArb(p, fc.constant(a)), imageArb(p, fc.constant(b))).map(([[ia, va], [ib, vb]]) => {
            const out = op(va, vb);
            return {
              a: ia,
              b: ib,
              c: 0n,
              expected: resultIsFloat ? resultImage(p, out.bits) : out.bits,
              flags: out.flags,
            };
          }),
        ),
        perGroup,
      ),
    });
  };
  for (const op of ["min", "max"] as const) {
    two(`f${op}.${p}`, "FP_RESULT_F", `f${op}.${p} f3, f1, f2`, (a, b) => R.refMinMax(f, op, a, b), true);
  }
  for (const op of ["eq", "lt", "le"] as const) {
    two(`f${op}.${p}`, "FP_RESULT_X", `f${op}.${p} a0, f1, f2`, (a, b) => R.refCompare(f, op, a, b), false);
  }
  const sign = 1n << BigInt(f.width - 1);
  const magnitude = sign - 1n;
  const sgnj: [string, (a: bigint, b: bigint) => bigint][] = [
    ["fsgnj", (a, b) => (a & magnitude) | (b & sign)],
    ["fsgnjn", (a, b) => (a & magnitude) | (~b & sign)],
    ["fsgnjx", (a, b) => a ^ (b & sign)],
  ];
  for (const [name, op] of sgnj) {
    two(`${name}.${p}`, "FP_RESULT_F", `${name}.${p} f3, f1, f2`, (a, b) => ({ bits: op(a, b), flags: 0 }), true);
  }
  const title = `fclass.${p}`;
  groups.push({
    title,
    kind: "FP_RESULT_X",
    insn: `fclass.${p} a0, f1`,
    frm: undefined,
    vectors: pick(
      title,
      imageArb(p, floatBits(f)).map(([ia, va]) => ({
        a: ia,
        b: 0n,
        c: 0n,
        expected: BigInt(R.refClass(f, va)),
        flags: 0,
      })),
      perGroup,
    ),
  });
  return {
    file: `rv64u${p === "d" ? "d" : "f"}-misc-vectors.S`,
    description: `FMIN/FMAX, FEQ/FLT/FLE, FSGNJ/FSGNJN/FSGNJX and FCLASS.${F}`,
    misa: "MISA_F | MISA_D",
    groups,
  };
}

function render(program: Program): string {
  const lines: string[] = [];
  lines.push("/*");
  lines.push(` * ${program.description}: table-driven.`);
  lines.push(" *");
  lines.push(
    " * GENERATED by gen-vectors.ts from the BigInt rational reference model (src/hal/emulated/fpu/reference.ts);",
  );
  lines.push(
    " * do not edit. Test n runs one instruction over a table of vectors (a, b, c, expected image, expected fflags);",
  );
  lines.push(" * a failure leaves the address of the failing entry in fp_failed_vector.");
  lines.push(" *");
  program.groups.forEach((g, i) => lines.push(` *   test ${i + 1}: ${g.title}`));
  lines.push(" */");
  lines.push('#include "isa-test.h"');
  lines.push('#include "fp-test.h"');
  lines.push("");
  lines.push("  .option norvc");
  lines.push("");
  lines.push("TEST_CODE_BEGIN");
  lines.push(`  REQUIRE_MISA ${program.misa}`);
  program.groups.forEach((g, i) => {
    lines.push("");
    lines.push(`  /* ${g.title} */`);
    if (g.frm !== undefined) {
      lines.push(`  li t0, ${g.frm}`);
      lines.push("  fsrm t0");
    }
    lines.push(`  FP_VECTORS ${i + 1}, ${g.kind}, vectors_${i + 1}, ${g.vectors.length}, ${g.insn}`);
  });
  lines.push("");
  lines.push("  TEST_PASS");
  lines.push("TEST_CODE_END");
  lines.push("");
  lines.push("TEST_DATA_BEGIN");
  lines.push("  FP_VECTORS_DATA");
  program.groups.forEach((g, i) => {
    lines.push("");
    lines.push(`  /* ${g.title}: a, b, c, expected, fflags */`);
    lines.push("  .balign 8");
    lines.push(`vectors_${i + 1}:`);
    for (const v of g.vectors) {
      lines.push(
        `  .dword ${hex(v.a)}, ${hex(v.b)}, ${hex(v.c)}, ${hex(v.expected)}, 0x${v.flags.toString(16).padStart(2, "0")}`,
      );
    }
  });
  lines.push("TEST_DATA_END");
  return `${lines.join("\n")}\n`;
}

const programs: Program[] = [];
for (const p of ["s", "d"] as const) {
  programs.push(arithProgram(p), fmaProgram(p), convertProgram(p), miscProgram(p));
}
for (const program of programs) {
  if (program.groups.length > 254) throw new Error(`${program.file}: ${program.groups.length} groups exceed 254 tests`);
  const path = join(outDir, program.file);
  writeFileSync(path, render(program));
  const total = program.groups.reduce((n, g) => n + g.vectors.length, 0);
  console.log(`wrote ${path}: ${program.groups.length} tests, ${total} vectors`);
}
