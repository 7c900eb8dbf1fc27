/**
 * The bit-manipulation extensions (Zba, Zbb, Zbc, Zbs), instruction by instruction: a BigInt model written from
 * the unprivileged ISA manual's "B" chapter, checked on random and edge operands through every execution path
 * (the reference interpreter, the fast interpreter, blocks compiled to JavaScript and to WebAssembly); edge values
 * the chapter calls out with literal results; and the reserved encodings around them, which stay illegal.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CAUSE_ILLEGAL_INSTRUCTION } from "../../src/arch/riscv64/traps.ts";
import { decode32, OP_ILLEGAL } from "../../src/hal/emulated/decode.ts";
import * as A from "./asm.ts";
import { type Engine, makeHart, RAM_BASE } from "./fixture.ts";

const M64 = (1n << 64n) - 1n;
const M32 = 0xffff_ffffn;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const sext32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));

function clzN(v: bigint, bits: number): bigint {
  for (let i = bits - 1; i >= 0; i--) if ((v >> BigInt(i)) & 1n) return BigInt(bits - 1 - i);
  return BigInt(bits);
}
function ctzN(v: bigint, bits: number): bigint {
  for (let i = 0; i < bits; i++) if ((v >> BigInt(i)) & 1n) return BigInt(i);
  return BigInt(bits);
}
function cpopN(v: bigint, bits: number): bigint {
  let n = 0n;
  for (let i = 0; i < bits; i++) n += (v >> BigInt(i)) & 1n;
  return n;
}
function rotl(v: bigint, s: bigint, bits: number): bigint {
  const mask = (1n << BigInt(bits)) - 1n;
  const n = s % BigInt(bits);
  return ((v << n) | (v >> ((BigInt(bits) - n) % BigInt(bits)))) & mask;
}
/** The 128-bit carry-less product. */
function clmulFull(a: bigint, b: bigint): bigint {
  let r = 0n;
  for (let i = 0n; i < 64n; i++) if ((b >> i) & 1n) r ^= a << i;
  return r;
}
function bytesOf(v: bigint): bigint[] {
  return Array.from({ length: 8 }, (_, i) => (v >> BigInt(8 * i)) & 0xffn);
}
function fromBytes(bytes: bigint[]): bigint {
  return bytes.reduce((acc, b, i) => acc | (b << BigInt(8 * i)), 0n);
}

type Model = (a: bigint, b: bigint) => bigint;
type Enc = (rd: number, rs1: number, rs2: number) => number;

const rOps: [string, Enc, Model][] = [
  ["sh1add", A.sh1add, (a, b) => u64((a << 1n) + b)],
  ["sh2add", A.sh2add, (a, b) => u64((a << 2n) + b)],
  ["sh3add", A.sh3add, (a, b) => u64((a << 3n) + b)],
  ["add.uw", A.addUw, (a, b) => u64((a & M32) + b)],
  ["sh1add.uw", A.sh1addUw, (a, b) => u64(((a & M32) << 1n) + b)],
  ["sh2add.uw", A.sh2addUw, (a, b) => u64(((a & M32) << 2n) + b)],
  ["sh3add.uw", A.sh3addUw, (a, b) => u64(((a & M32) << 3n) + b)],
  ["andn", A.andn, (a, b) => a & ~b & M64],
  ["orn", A.orn, (a, b) => (a | ~b) & M64],
  ["xnor", A.xnor, (a, b) => ~(a ^ b) & M64],
  ["max", A.max, (a, b) => (s64(a) > s64(b) ? a : b)],
  ["maxu", A.maxu, (a, b) => (a > b ? a : b)],
  ["min", A.min, (a, b) => (s64(a) < s64(b) ? a : b)],
  ["minu", A.minu, (a, b) => (a < b ? a : b)],
  ["rol", A.rol, (a, b) => rotl(a, b & 63n, 64)],
  ["ror", A.ror, (a, b) => rotl(a, (64n - (b & 63n)) % 64n, 64)],
  ["rolw", A.rolw, (a, b) => sext32(rotl(a & M32, b & 31n, 32))],
  ["rorw", A.rorw, (a, b) => sext32(rotl(a & M32, (32n - (b & 31n)) % 32n, 32))],
  ["clmul", A.clmul, (a, b) => clmulFull(a, b) & M64],
  ["clmulh", A.clmulh, (a, b) => clmulFull(a, b) >> 64n],
  ["clmulr", A.clmulr, (a, b) => (clmulFull(a, b) >> 63n) & M64],
  ["bclr", A.bclr, (a, b) => a & ~(1n << (b & 63n)) & M64],
  ["bext", A.bext, (a, b) => (a >> (b & 63n)) & 1n],
  ["binv", A.binv, (a, b) => a ^ (1n << (b & 63n))],
  ["bset", A.bset, (a, b) => a | (1n << (b & 63n))],
];

const unaryOps: [string, (rd: number, rs1: number) => number, (a: bigint) => bigint][] = [
  ["clz", A.clz, (a) => clzN(a, 64)],
  ["ctz", A.ctz, (a) => ctzN(a, 64)],
  ["cpop", A.cpop, (a) => cpopN(a, 64)],
  ["clzw", A.clzw, (a) => clzN(a & M32, 32)],
  ["ctzw", A.ctzw, (a) => ctzN(a & M32, 32)],
  ["cpopw", A.cpopw, (a) => cpopN(a & M32, 32)],
  ["sext.b", A.sextB, (a) => u64(BigInt.asIntN(8, a))],
  ["sext.h", A.sextH, (a) => u64(BigInt.asIntN(16, a))],
  ["zext.h", A.zextH, (a) => a & 0xffffn],
  ["orc.b", A.orcB, (a) => fromBytes(bytesOf(a).map((b) => (b === 0n ? 0n : 0xffn)))],
  ["rev8", A.rev8, (a) => fromBytes(bytesOf(a).reverse())],
];

const iOps: [string, (rd: number, rs1: number, imm: number) => number, (a: bigint, i: number) => bigint, number][] = [
  ["slli.uw", A.slliUw, (a, i) => u64((a & M32) << BigInt(i)), 63],
  ["rori", A.rori, (a, i) => rotl(a, (64n - BigInt(i)) % 64n, 64), 63],
  ["roriw", A.roriw, (a, i) => sext32(rotl(a & M32, (32n - BigInt(i)) % 32n, 32)), 31],
  ["bclri", A.bclri, (a, i) => a & ~(1n << BigInt(i)) & M64, 63],
  ["bexti", A.bexti, (a, i) => (a >> BigInt(i)) & 1n, 63],
  ["binvi", A.binvi, (a, i) => a ^ (1n << BigInt(i)), 63],
  ["bseti", A.bseti, (a, i) => a | (1n << BigInt(i)), 63],
];

const operand = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(
    0n,
    1n,
    2n,
    31n,
    32n,
    33n,
    63n,
    64n,
    0x7fn,
    0x80n,
    0x8000n,
    0x7fff_ffffn,
    0x8000_0000n,
    M32,
    1n << 63n,
    (1n << 63n) - 1n,
    M64,
    0x0100_0000_0000_0001n,
  ),
);

/** Execute one instruction (followed by a jump to itself) on a fresh hart with `engine`; returns rd (a0). */
function run(word: number, a: bigint, b: bigint, engine: Engine): bigint {
  const f = makeHart({ ramSize: 1 << 16, arena: engine === "wasm" });
  f.write(RAM_BASE, [word, A.jal(0, 0)]);
  f.setX(A.a1, a);
  f.setX(A.a2, b);
  f.hart.pc = RAM_BASE;
  f.run(1, engine);
  expect(f.hart.pc).toBe(RAM_BASE + 4); // retired, no trap
  return f.x(A.a0);
}

const ENGINES: readonly Engine[] = ["reference", "fast", "jit", "wasm"];

describe("bit-manipulation instructions against a BigInt model, on every execution path", () => {
  for (const [name, enc, model] of rOps) {
    test(name, () => {
      fc.assert(
        fc.property(operand, operand, (a, b) => {
          const want = model(a, b);
          for (const engine of ["reference", "fast"] as const)
            expect([name, engine, run(enc(A.a0, A.a1, A.a2), a, b, engine)]).toEqual([name, engine, want]);
        }),
        { numRuns: 120 },
      );
      // The compiling tiers: fewer runs (each one compiles a block or a module).
      fc.assert(
        fc.property(operand, operand, (a, b) => {
          for (const engine of ["jit", "wasm"] as const)
            expect([name, engine, run(enc(A.a0, A.a1, A.a2), a, b, engine)]).toEqual([name, engine, model(a, b)]);
        }),
        { numRuns: 12 },
      );
    });
  }
  for (const [name, enc, model] of unaryOps) {
    test(name, () => {
      fc.assert(
        fc.property(operand, (a) => {
          for (const engine of ENGINES)
            expect([name, engine, run(enc(A.a0, A.a1), a, 0n, engine)]).toEqual([name, engine, model(a)]);
        }),
        { numRuns: 25 },
      );
    });
  }
  for (const [name, enc, model, max] of iOps) {
    test(name, () => {
      fc.assert(
        fc.property(operand, fc.integer({ min: 0, max }), (a, imm) => {
          for (const engine of ENGINES)
            expect([name, engine, run(enc(A.a0, A.a1, imm), a, 0n, engine)]).toEqual([name, engine, model(a, imm)]);
        }),
        { numRuns: 25 },
      );
    });
  }
});

describe("edge values with their results from the specification", () => {
  const one = (word: number, a: bigint, b = 0n): bigint[] => ENGINES.map((e) => run(word, a, b, e));
  const all = (v: bigint): bigint[] => ENGINES.map(() => v);
  test("counts: clz/ctz of 0 are XLEN (64), the W forms 32; cpop of all ones is 64, cpopw 32", () => {
    expect(one(A.clz(A.a0, A.a1), 0n)).toEqual(all(64n));
    expect(one(A.ctz(A.a0, A.a1), 0n)).toEqual(all(64n));
    expect(one(A.clzw(A.a0, A.a1), 0xffff_ffff_0000_0000n)).toEqual(all(32n)); // the upper word is ignored
    expect(one(A.ctzw(A.a0, A.a1), 0n)).toEqual(all(32n));
    expect(one(A.cpop(A.a0, A.a1), M64)).toEqual(all(64n));
    expect(one(A.cpopw(A.a0, A.a1), M64)).toEqual(all(32n));
    expect(one(A.clz(A.a0, A.a1), 1n)).toEqual(all(63n));
    expect(one(A.ctz(A.a0, A.a1), 1n << 63n)).toEqual(all(63n));
    expect(one(A.clzw(A.a0, A.a1), 0x8000_0000n)).toEqual(all(0n));
  });
  test("W forms sign-extend their 32-bit result; rotate amounts use the low 5 bits (≥ 32 wraps)", () => {
    // rorw by 33 = rorw by 1: 0x0000_0001 → 0x8000_0000, sign-extended.
    expect(one(A.rorw(A.a0, A.a1, A.a2), 1n, 33n)).toEqual(all(0xffff_ffff_8000_0000n));
    // rolw by 32 = rolw by 0; the upper word of rs1 is ignored, the result's sign comes from bit 31.
    expect(one(A.rolw(A.a0, A.a1, A.a2), 0x1234_5678_8765_4321n, 32n)).toEqual(all(0xffff_ffff_8765_4321n));
    expect(one(A.roriw(A.a0, A.a1, 31), 0x4000_0000n)).toEqual(all(0xffff_ffff_8000_0000n));
    expect(one(A.rol(A.a0, A.a1, A.a2), 0x8000_0000_0000_0001n, 64n + 1n)).toEqual(all(3n)); // amount mod 64
  });
  test("rev8 and orc.b", () => {
    expect(one(A.rev8(A.a0, A.a1), 0x0102_0304_0506_0708n)).toEqual(all(0x0807_0605_0403_0201n));
    expect(one(A.orcB(A.a0, A.a1), 0x0100_8000_0001_7f00n)).toEqual(all(0xff00_ff00_00ff_ff00n));
  });
  test("sign and zero extension: sext.b, sext.h, zext.h, add.uw, slli.uw", () => {
    expect(one(A.sextB(A.a0, A.a1), 0x1234_5680n)).toEqual(all(0xffff_ffff_ffff_ff80n));
    expect(one(A.sextH(A.a0, A.a1), 0x7fffn)).toEqual(all(0x7fffn));
    expect(one(A.zextH(A.a0, A.a1), M64)).toEqual(all(0xffffn));
    expect(one(A.addUw(A.a0, A.a1, A.a2), 0xffff_ffff_ffff_ffffn, 1n)).toEqual(all(0x1_0000_0000n));
    expect(one(A.slliUw(A.a0, A.a1, 63), 0xffff_ffff_0000_0001n)).toEqual(all(1n << 63n));
  });
  test("carry-less multiply identities: by 1, by 0, clmulr = bits 126..63, clmulh of squares", () => {
    const a = 0xdead_beef_0123_4567n;
    expect(one(A.clmul(A.a0, A.a1, A.a2), a, 1n)).toEqual(all(a));
    expect(one(A.clmulh(A.a0, A.a1, A.a2), a, 1n)).toEqual(all(0n));
    expect(one(A.clmul(A.a0, A.a1, A.a2), a, 0n)).toEqual(all(0n));
    // x * 2^63: the low word keeps a's bit 0 at bit 63, clmulh holds a >> 1, clmulr (>> 63) gives a back.
    expect(one(A.clmul(A.a0, A.a1, A.a2), a, 1n << 63n)).toEqual(all(1n << 63n));
    expect(one(A.clmulh(A.a0, A.a1, A.a2), a, 1n << 63n)).toEqual(all(a >> 1n));
    expect(one(A.clmulr(A.a0, A.a1, A.a2), a, 1n << 63n)).toEqual(all(a));
    // Squaring spreads bits: (x^k)^2 = x^(2k), so clmul(2^40, 2^40) = 2^80: clmulh = 2^16.
    expect(one(A.clmulh(A.a0, A.a1, A.a2), 1n << 40n, 1n << 40n)).toEqual(all(1n << 16n));
  });
  test("single-bit operations take the index modulo 64", () => {
    expect(one(A.bset(A.a0, A.a1, A.a2), 0n, 64n + 63n)).toEqual(all(1n << 63n));
    expect(one(A.bext(A.a0, A.a1, A.a2), 1n << 32n, 32n)).toEqual(all(1n));
    expect(one(A.bclri(A.a0, A.a1, 63), M64)).toEqual(all(M64 >> 1n));
    expect(one(A.binvi(A.a0, A.a1, 0), 1n)).toEqual(all(0n));
  });
  test("min/max compare signed, minu/maxu unsigned", () => {
    expect(one(A.max(A.a0, A.a1, A.a2), M64, 1n)).toEqual(all(1n));
    expect(one(A.maxu(A.a0, A.a1, A.a2), M64, 1n)).toEqual(all(M64));
    expect(one(A.min(A.a0, A.a1, A.a2), 1n << 63n, 0n)).toEqual(all(1n << 63n));
    expect(one(A.minu(A.a0, A.a1, A.a2), 1n << 63n, 0n)).toEqual(all(0n));
  });
});

describe("reserved encodings next to the bit-manipulation instructions stay illegal", () => {
  const rd = 10;
  const rs1 = 11;
  const I = (opcode: number, f3: number, imm12: number): number =>
    ((imm12 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode) >>> 0;
  const R = (opcode: number, f3: number, f7: number, rs2: number): number =>
    ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode) >>> 0;
  const reserved: [string, number][] = [
    ["clz-space rs2 = 3", I(0x13, 1, 0x603)],
    ["clz-space rs2 = 6..31", I(0x13, 1, 0x61f)],
    ["clzw-space rs2 = 4 (no sext.b.w)", I(0x1b, 1, 0x604)],
    ["orc.b with another low field", I(0x13, 5, 0x288)],
    ["rev8 of RV32 (0x698)", I(0x13, 5, 0x698)],
    ["rev8 with another low field", I(0x13, 5, 0x6b9)],
    ["brev8 (Zbkb, not implemented)", I(0x13, 5, 0x687)],
    ["zext.h with rs2 ≠ 0 (packw, Zbkb)", R(0x3b, 4, 0x04, 1)],
    ["zext.h in OP (pack, Zbkb)", R(0x33, 4, 0x04, 0)],
    ["funct7 0000101 funct3 0", R(0x33, 0, 0x05, 2)],
    ["sh1add funct3 1/3/5/7", R(0x33, 1, 0x10, 2)],
    ["sh1add.uw funct3 0", R(0x3b, 0, 0x10, 2)],
    ["roriw with shamt[5] set", R(0x1b, 5, 0x31, 2)],
    ["rolw-space funct3 2", R(0x3b, 2, 0x30, 2)],
    ["binv funct3 5", R(0x33, 5, 0x34, 2)],
    ["bset funct3 5", R(0x33, 5, 0x14, 2)],
    ["bclr funct3 2", R(0x33, 2, 0x24, 2)],
    ["binvi in OP-IMM funct3 5", I(0x13, 5, 0x680)],
    ["xperm (Zbkx, not implemented)", R(0x33, 2, 0x14, 2)],
  ];
  for (const [name, word] of reserved) {
    test(`${name} (0x${word.toString(16)}) decodes illegal and traps with tval = the word`, () => {
      expect(decode32(word).op).toBe(OP_ILLEGAL);
      for (const engine of ENGINES) {
        const f = makeHart({ ramSize: 1 << 16, arena: engine === "wasm" });
        f.hart.mtvec = RAM_BASE + 0x100;
        f.write(RAM_BASE, [word, A.jal(0, 0)]);
        f.hart.pc = RAM_BASE;
        f.run(1, engine);
        expect([engine, f.hart.mcauseLo, f.hart.mtval, f.hart.pc]).toEqual([
          engine,
          CAUSE_ILLEGAL_INSTRUCTION,
          word,
          RAM_BASE + 0x100,
        ]);
      }
    });
  }
  test("in VS-mode a reserved encoding is an illegal instruction (not a virtual instruction)", () => {
    const word = I(0x13, 1, 0x603);
    const f = makeHart({ ramSize: 1 << 16 });
    f.hart.mtvec = RAM_BASE + 0x100;
    f.write(RAM_BASE, [word]);
    f.enter("VS", RAM_BASE);
    f.run(1);
    expect(f.hart.mcauseLo).toBe(CAUSE_ILLEGAL_INSTRUCTION);
  });
});
