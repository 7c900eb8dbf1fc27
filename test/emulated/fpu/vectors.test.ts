/**
 * Runs the cases of the bare-metal F/D programs (test/guests/isa/fp/), whose expected values QEMU's softfloat
 * confirms in test/isa-qemu.test.ts, directly through execFp, so a disagreement points at the FPU rather than
 * at the hart: the generated vector tables (*-vectors.S) and the hand-picked FP_OP / FP_OP_TO_X / FP_OP_X_TO_F
 * cases of rv64uf.S and rv64ud.S. FPU_VECTOR_DIR may name another directory of vector programs (e.g. a larger
 * generated set).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as E from "../../../src/hal/emulated/fpu/encode.ts";
import { FP_OK, FpState } from "../../../src/hal/emulated/fpu/index.ts";
import { getF, IntRegs, run, setF } from "./testing.ts";

const PROGRAM_DIR = join(import.meta.dir, "..", "..", "guests", "isa", "fp");
const DIR = process.env.FPU_VECTOR_DIR ?? PROGRAM_DIR;

const RM: Record<string, number> = { rne: 0, rtz: 1, rdn: 2, rup: 3, rmm: 4, dyn: 7 };

/** Registers of the FP_VECTORS convention: f1, f2, f4 sources, f3 destination; a1 source, a0 destination. */
const REG: Record<string, number> = { f1: 1, f2: 2, f3: 3, f4: 4, a0: 10, a1: 11 };

function reg(name: string | undefined): number {
  const r = name === undefined ? undefined : REG[name];
  if (r === undefined) throw new Error(`Cannot assemble: unknown register ${name}`);
  return r;
}

/** Encodes the few instruction forms the generated programs use. */
function assemble(text: string): number {
  const [mnemonic = "", rest = ""] = text.trim().split(/\s+(.*)/);
  const ops = rest.split(",").map((o) => o.trim());
  const parts = mnemonic.split(".");
  const name = parts[0] ?? "";
  const last = ops[ops.length - 1] ?? "";
  const rm = RM[last] ?? 7;
  const p = (x: string | undefined): E.Precision => {
    if (x === "s" || x === "d") return x;
    throw new Error(`Cannot assemble ${text}: bad precision ${x}`);
  };
  const k = (x: string | undefined): E.IntKind => {
    if (x === "w" || x === "wu" || x === "l" || x === "lu") return x;
    throw new Error(`Cannot assemble ${text}: bad integer type ${x}`);
  };
  switch (name) {
    case "fadd":
    case "fsub":
    case "fmul":
    case "fdiv":
      return E.arith(name, p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[2]), rm);
    case "fsqrt":
      return E.fsqrt(p(parts[1]), reg(ops[0]), reg(ops[1]), rm);
    case "fmadd":
    case "fmsub":
    case "fnmsub":
    case "fnmadd":
      return E.fused(name, p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[2]), reg(ops[3]), rm);
    case "fmin":
    case "fmax":
      return E.minMax(name, p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[2]));
    case "feq":
    case "flt":
    case "fle":
      return E.cmp(name, p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[2]));
    case "fsgnj":
    case "fsgnjn":
    case "fsgnjx":
      return E.sgnj(name, p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[2]));
    case "fabs":
      return E.sgnj("fsgnjx", p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[1]));
    case "fneg":
      return E.sgnj("fsgnjn", p(parts[1]), reg(ops[0]), reg(ops[1]), reg(ops[1]));
    case "fclass":
      return E.fclass(p(parts[1]), reg(ops[0]), reg(ops[1]));
    case "fcvt": {
      // fcvt.<dst>.<src>: one of them an integer type, or both s/d
      const dst = parts[1];
      const src = parts[2];
      if (dst === "s" || dst === "d") {
        // The assembler encodes rm = 0 for the exact FCVT.D.S and FCVT.D.{W,WU}, which take no rounding mode.
        if (src === "s" || src === "d") return E.cvtFormat(dst, reg(ops[0]), reg(ops[1]), ops.length > 2 ? rm : 0);
        return E.cvtFromInt(dst, k(src), reg(ops[0]), reg(ops[1]), ops.length > 2 ? rm : 0);
      }
      return E.cvtToInt(k(dst), p(src), reg(ops[0]), reg(ops[1]), rm);
    }
    default:
      throw new Error(`Cannot assemble ${text}: unknown mnemonic`);
  }
}

interface Group {
  readonly test: number;
  readonly insn: string;
  readonly resultIsFloat: boolean;
  readonly frm: number;
  readonly vectors: bigint[][];
}

/** The FP_VECTORS groups of a generated program, with their tables. */
function parseProgram(text: string): Group[] {
  const tables = new Map<string, bigint[][]>();
  let current: bigint[][] | undefined;
  for (const line of text.split("\n")) {
    const label = /^(vectors_\d+):/.exec(line);
    if (label?.[1] !== undefined) {
      current = [];
      tables.set(label[1], current);
      continue;
    }
    const data = /^\s*\.dword\s+(.*)$/.exec(line);
    if (data?.[1] !== undefined && current !== undefined) current.push(data[1].split(",").map((v) => BigInt(v.trim())));
  }
  const groups: Group[] = [];
  let frm = 0;
  for (const line of text.split("\n")) {
    const setFrm = /^\s*li t0, (\d+)$/.exec(line);
    if (setFrm?.[1] !== undefined) frm = Number(setFrm[1]);
    const m = /^\s*FP_VECTORS (\d+), (FP_RESULT_[FX]), (vectors_\d+), (\d+), (.*)$/.exec(line);
    if (m === null) continue;
    const [, test, kind, table, , insn] = m;
    const vectors = tables.get(table ?? "");
    if (test === undefined || insn === undefined || vectors === undefined) throw new Error(`Cannot parse ${line}`);
    groups.push({ test: Number(test), insn, resultIsFloat: kind === "FP_RESULT_F", frm, vectors });
  }
  return groups;
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith("-vectors.S"))
  .sort();

describe(`vector tables in ${DIR}`, () => {
  test("there are vector programs", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    test(file, () => {
      const groups = parseProgram(readFileSync(join(DIR, file), "utf8"));
      expect(groups.length).toBeGreaterThan(0);
      const failures: string[] = [];
      let count = 0;
      for (const g of groups) {
        const insn = assemble(g.insn);
        for (const [a = 0n, b = 0n, c = 0n, expected = 0n, flags = 0n] of g.vectors) {
          const fp = new FpState();
          const x = new IntRegs();
          setF(fp, 1, a);
          setF(fp, 2, b);
          setF(fp, 4, c);
          x.set(11, a);
          fp.frm = g.frm;
          expect(run(insn, fp, x)).toBe(FP_OK);
          const got = g.resultIsFloat ? getF(fp, 3) : x.get(10);
          count++;
          if (got !== expected || BigInt(fp.fflags) !== flags) {
            failures.push(
              `test ${g.test} (${g.insn}) a=0x${a.toString(16)} b=0x${b.toString(16)} c=0x${c.toString(16)}: ` +
                `got 0x${got.toString(16)} flags ${fp.fflags}, want 0x${expected.toString(16)} flags ${flags}`,
            );
          }
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
      expect(count).toBeGreaterThan(0);
    });
  }
});

// ---- the hand-picked cases of rv64uf.S / rv64ud.S ----

/** `#define NAME value` lines of a source (and of fp-test.h). */
function defines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^#define (\w+) (.*?)\s*(\/\*.*)?$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return out;
}

/** Evaluates an assembler constant expression (numbers, #defined names, parentheses, unary -, <<, |) as 64 bits. */
function evaluate(expr: string, names: Map<string, string>): bigint {
  const tokens = expr.match(/0x[0-9a-fA-F]+|\d+|\w+|<<|[|()-]/g) ?? [];
  let i = 0;
  const primary = (): bigint => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`Cannot evaluate ${expr}: unexpected end`);
    if (t === "(") {
      const v = or();
      i++; // ")"
      return v;
    }
    if (t === "-") return -primary();
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) return BigInt(t);
    const named = names.get(t);
    if (named === undefined) throw new Error(`Cannot evaluate ${expr}: unknown name ${t}`);
    return evaluate(named, names);
  };
  const shift = (): bigint => {
    let v = primary();
    while (tokens[i] === "<<") {
      i++;
      v <<= primary();
    }
    return v;
  };
  const or = (): bigint => {
    let v = shift();
    while (tokens[i] === "|") {
      i++;
      v |= shift();
    }
    return v;
  };
  return BigInt.asUintN(64, or());
}

interface HandCase {
  readonly line: string;
  readonly insn: number;
  readonly operands: bigint[]; // f1, f2, f4 images, or the integer in a1
  readonly intSource: boolean;
  readonly intResult: boolean;
  readonly expected: bigint;
  readonly flags: bigint;
}

function handCases(file: string): HandCase[] {
  const text = readFileSync(join(PROGRAM_DIR, file), "utf8");
  const names = new Map([...defines(readFileSync(join(PROGRAM_DIR, "fp-test.h"), "utf8")), ...defines(text)]);
  const cases: HandCase[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\/\*.*?\*\//g, "").trim();
    const m = /^(FP_OP|FP_OP_TO_X|FP_OP_X_TO_F) (.*)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const fields = m[2].split(",").map((f) => f.trim());
    const valueCount = m[1] === "FP_OP" ? 6 : m[1] === "FP_OP_TO_X" ? 5 : 4;
    const values = fields.slice(1, valueCount).map((f) => evaluate(f, names));
    const insn = assemble(fields.slice(valueCount).join(", "));
    const expected = values[values.length - 2] ?? 0n;
    const flags = values[values.length - 1] ?? 0n;
    cases.push({
      line,
      insn,
      operands: values.slice(0, values.length - 2),
      intSource: m[1] === "FP_OP_X_TO_F",
      intResult: m[1] === "FP_OP_TO_X",
      expected,
      flags,
    });
  }
  return cases;
}

describe("hand-picked cases of the F/D programs", () => {
  for (const file of ["rv64uf.S", "rv64ud.S"]) {
    test(file, () => {
      const cases = handCases(file);
      expect(cases.length).toBeGreaterThan(100);
      const failures: string[] = [];
      for (const c of cases) {
        const fp = new FpState();
        const x = new IntRegs();
        if (c.intSource) {
          x.set(11, c.operands[0] ?? 0n);
        } else {
          setF(fp, 1, c.operands[0] ?? 0n);
          setF(fp, 2, c.operands[1] ?? 0n);
          setF(fp, 4, c.operands[2] ?? 0n);
        }
        expect(run(c.insn, fp, x)).toBe(FP_OK);
        const got = c.intResult ? x.get(10) : getF(fp, 3);
        if (got !== c.expected || BigInt(fp.fflags) !== c.flags) {
          failures.push(`${c.line}: got 0x${got.toString(16)} flags ${fp.fflags}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});
