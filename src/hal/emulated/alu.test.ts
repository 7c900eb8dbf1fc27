import { expect, test } from "bun:test";
import fc from "fast-check";
import { div32, div64, divu32, divu64, mul64, mulh64, mulhsu64, mulhu64, out } from "./alu.ts";

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(
    0n,
    1n,
    2n,
    1000n,
    1_000_000_000n,
    (1n << 32n) - 1n,
    1n << 32n,
    (1n << 63n) - 1n,
    1n << 63n,
    (1n << 64n) - 1n,
  ),
);
const lo = (v: bigint): number => Number(v & 0xffff_ffffn) | 0;
const hi = (v: bigint): number => Number(v >> 32n) | 0;
const result = (): bigint => (BigInt.asUintN(32, BigInt(out[1] ?? 0)) << 32n) | BigInt.asUintN(32, BigInt(out[0] ?? 0));
const s = (v: bigint): bigint => BigInt.asIntN(64, v);

test("multiplication matches BigInt", () => {
  fc.assert(
    fc.property(u64, u64, (a, b) => {
      mul64(lo(a), hi(a), lo(b), hi(b));
      expect(result()).toBe(BigInt.asUintN(64, a * b));
      mulhu64(lo(a), hi(a), lo(b), hi(b));
      expect(result()).toBe((a * b) >> 64n);
      mulh64(lo(a), hi(a), lo(b), hi(b));
      expect(result()).toBe(BigInt.asUintN(64, (s(a) * s(b)) >> 64n));
      mulhsu64(lo(a), hi(a), lo(b), hi(b));
      expect(result()).toBe(BigInt.asUintN(64, (s(a) * b) >> 64n));
    }),
    { numRuns: 5000 },
  );
});

test("division matches RISC-V semantics (division by zero, overflow) and BigInt", () => {
  fc.assert(
    fc.property(u64, u64, fc.boolean(), (a, b, rem) => {
      div64(lo(a), hi(a), lo(b), hi(b), rem);
      const sa = s(a);
      const sb = s(b);
      const want =
        sb === 0n ? (rem ? sa : -1n) : sa === -(1n << 63n) && sb === -1n ? (rem ? 0n : sa) : rem ? sa % sb : sa / sb;
      expect(result()).toBe(BigInt.asUintN(64, want));
      divu64(lo(a), hi(a), lo(b), hi(b), rem);
      const uwant = b === 0n ? (rem ? a : (1n << 64n) - 1n) : rem ? a % b : a / b;
      expect(result()).toBe(uwant);
    }),
    { numRuns: 20000 },
  );
  expect(div32(-0x8000_0000, -1, false)).toBe(-0x8000_0000);
  expect(div32(7, 0, true)).toBe(7);
  expect(divu32(-1, 0, false)).toBe(-1);
  expect(divu32(-1, 2, false)).toBe(0x7fff_ffff);
});
