/**
 * Integer instruction groups (RV64I register/immediate ALU ops, the W forms, M) against a BigInt model, on random
 * operands, through all three execution paths: the reference interpreter, the fast block interpreter and
 * compiled blocks.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as A from "./asm.ts";
import { makeHart, RAM_BASE } from "./fixture.ts";

const M64 = (1n << 64n) - 1n;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const sext32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));

type Model = (a: bigint, b: bigint) => bigint;

const rOps: [string, (rd: number, rs1: number, rs2: number) => number, Model][] = [
  ["add", A.add, (a, b) => u64(a + b)],
  ["sub", A.sub, (a, b) => u64(a - b)],
  ["sll", A.sll, (a, b) => u64(a << (b & 63n))],
  ["slt", A.slt, (a, b) => (s64(a) < s64(b) ? 1n : 0n)],
  ["sltu", A.sltu, (a, b) => (a < b ? 1n : 0n)],
  ["xor", A.xor, (a, b) => a ^ b],
  ["srl", A.srl, (a, b) => a >> (b & 63n)],
  ["sra", A.sra, (a, b) => u64(s64(a) >> (b & 63n))],
  ["or", A.or, (a, b) => a | b],
  ["and", A.and, (a, b) => a & b],
  ["addw", A.addw, (a, b) => sext32(a + b)],
  ["subw", A.subw, (a, b) => sext32(a - b)],
  ["sllw", A.sllw, (a, b) => sext32(a << (b & 31n))],
  ["srlw", A.srlw, (a, b) => sext32((a & 0xffff_ffffn) >> (b & 31n))],
  ["sraw", A.sraw, (a, b) => sext32(BigInt.asIntN(32, a) >> (b & 31n))],
  ["mul", A.mul, (a, b) => u64(a * b)],
  ["mulh", A.mulh, (a, b) => u64((s64(a) * s64(b)) >> 64n)],
  ["mulhsu", A.mulhsu, (a, b) => u64((s64(a) * b) >> 64n)],
  ["mulhu", A.mulhu, (a, b) => (a * b) >> 64n],
  ["div", A.div, (a, b) => (b === 0n ? M64 : s64(a) === -(1n << 63n) && s64(b) === -1n ? a : u64(s64(a) / s64(b)))],
  ["divu", A.divu, (a, b) => (b === 0n ? M64 : a / b)],
  ["rem", A.rem, (a, b) => (b === 0n ? a : s64(a) === -(1n << 63n) && s64(b) === -1n ? 0n : u64(s64(a) % s64(b)))],
  ["remu", A.remu, (a, b) => (b === 0n ? a : a % b)],
  ["mulw", A.mulw, (a, b) => sext32(a * b)],
  [
    "divw",
    A.divw,
    (a, b) => {
      const x = BigInt.asIntN(32, a);
      const y = BigInt.asIntN(32, b);
      return y === 0n ? M64 : x === -(1n << 31n) && y === -1n ? sext32(x) : sext32(x / y);
    },
  ],
  [
    "divuw",
    A.divuw,
    (a, b) => {
      const x = a & 0xffff_ffffn;
      const y = b & 0xffff_ffffn;
      return y === 0n ? M64 : sext32(x / y);
    },
  ],
  [
    "remw",
    A.remw,
    (a, b) => {
      const x = BigInt.asIntN(32, a);
      const y = BigInt.asIntN(32, b);
      return y === 0n ? sext32(x) : x === -(1n << 31n) && y === -1n ? 0n : sext32(x % y);
    },
  ],
  [
    "remuw",
    A.remuw,
    (a, b) => {
      const x = a & 0xffff_ffffn;
      const y = b & 0xffff_ffffn;
      return y === 0n ? sext32(x) : sext32(x % y);
    },
  ],
];

const iOps: [
  string,
  (rd: number, rs1: number, imm: number) => number,
  (a: bigint, imm: number) => bigint,
  number,
  number,
][] = [
  ["addi", A.addi, (a, i) => u64(a + BigInt(i)), -2048, 2047],
  ["slti", A.slti, (a, i) => (s64(a) < BigInt(i) ? 1n : 0n), -2048, 2047],
  ["sltiu", A.sltiu, (a, i) => (a < u64(BigInt(i)) ? 1n : 0n), -2048, 2047],
  ["xori", A.xori, (a, i) => a ^ u64(BigInt(i)), -2048, 2047],
  ["ori", A.ori, (a, i) => a | u64(BigInt(i)), -2048, 2047],
  ["andi", A.andi, (a, i) => a & u64(BigInt(i)), -2048, 2047],
  ["slli", A.slli, (a, i) => u64(a << BigInt(i)), 0, 63],
  ["srli", A.srli, (a, i) => a >> BigInt(i), 0, 63],
  ["srai", A.srai, (a, i) => u64(s64(a) >> BigInt(i)), 0, 63],
  ["addiw", A.addiw, (a, i) => sext32(a + BigInt(i)), -2048, 2047],
  ["slliw", A.slliw, (a, i) => sext32(a << BigInt(i)), 0, 31],
  ["srliw", A.srliw, (a, i) => sext32((a & 0xffff_ffffn) >> BigInt(i)), 0, 31],
  ["sraiw", A.sraiw, (a, i) => sext32(BigInt.asIntN(32, a) >> BigInt(i)), 0, 31],
];

const operand = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, 2n, 31n, 32n, 63n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 1n << 63n, M64, M64 - 1n),
);

/** Execute one instruction (followed by an ebreak) on a fresh hart with each engine; returns rd. */
function run(word: number, a: bigint, b: bigint, engine: "reference" | "fast" | "jit"): bigint {
  const f = makeHart({ ramSize: 1 << 16 });
  f.write(RAM_BASE, [word, A.jal(0, 0)]);
  f.setX(A.a1, a);
  f.setX(A.a2, b);
  f.hart.pc = RAM_BASE;
  f.run(1, engine);
  return f.x(A.a0);
}

describe("integer instruction groups against a BigInt model", () => {
  for (const [name, enc, model] of rOps) {
    test(name, () => {
      fc.assert(
        fc.property(operand, operand, (a, b) => {
          const want = model(a, b);
          for (const engine of ["reference", "fast"] as const)
            expect([name, engine, run(enc(A.a0, A.a1, A.a2), a, b, engine)]).toEqual([name, engine, want]);
        }),
        { numRuns: 150 },
      );
      // Compiled blocks: a handful (each compile costs tens of microseconds).
      fc.assert(
        fc.property(operand, operand, (a, b) => expect(run(enc(A.a0, A.a1, A.a2), a, b, "jit")).toBe(model(a, b))),
        { numRuns: 15 },
      );
    });
  }
  for (const [name, enc, model, min, max] of iOps) {
    test(name, () => {
      fc.assert(
        fc.property(operand, fc.integer({ min, max }), (a, imm) => {
          const want = model(a, imm);
          for (const engine of ["reference", "fast", "jit"] as const)
            expect([name, engine, run(enc(A.a0, A.a1, imm), a, 0n, engine)]).toEqual([name, engine, want]);
        }),
        { numRuns: 40 },
      );
    });
  }
});
