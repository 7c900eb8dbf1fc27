import { describe, expect, test } from "bun:test";
import { I32, I64, ModuleBuilder, Op, writeI32Leb, writeI64Leb, writeU32Leb } from "./emit.ts";

function leb(write: (out: number[]) => void): number[] {
  const out: number[] = [];
  write(out);
  return out;
}

describe("LEB128", () => {
  test("unsigned values encode as the spec's examples", () => {
    expect(leb((o) => writeU32Leb(o, 0))).toEqual([0]);
    expect(leb((o) => writeU32Leb(o, 127))).toEqual([0x7f]);
    expect(leb((o) => writeU32Leb(o, 128))).toEqual([0x80, 0x01]);
    expect(leb((o) => writeU32Leb(o, 624485))).toEqual([0xe5, 0x8e, 0x26]);
    expect(leb((o) => writeU32Leb(o, 0xffffffff))).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });
  test("signed 32-bit values", () => {
    expect(leb((o) => writeI32Leb(o, 0))).toEqual([0]);
    expect(leb((o) => writeI32Leb(o, -1))).toEqual([0x7f]);
    expect(leb((o) => writeI32Leb(o, 63))).toEqual([0x3f]);
    expect(leb((o) => writeI32Leb(o, 64))).toEqual([0xc0, 0x00]);
    expect(leb((o) => writeI32Leb(o, -123456))).toEqual([0xc0, 0xbb, 0x78]);
    expect(leb((o) => writeI32Leb(o, -(2 ** 31)))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });
  test("signed 64-bit values from halves", () => {
    expect(leb((o) => writeI64Leb(o, 0, 0))).toEqual([0]);
    expect(leb((o) => writeI64Leb(o, -1, -1))).toEqual([0x7f]);
    expect(leb((o) => writeI64Leb(o, 0, 1))).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(leb((o) => writeI64Leb(o, 0, -(2 ** 31)))).toEqual([
      0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f,
    ]);
  });
});

describe("modules", () => {
  test("a function with i64 arithmetic, a loop and an imported call compiles and runs", () => {
    const m = new ModuleBuilder();
    const twice = m.importFunction("env", "twice", [I32], [I32]);
    // sum(n) = twice(n) + (the 64-bit sum 1..n, high word xor low word)
    const { index, body: f } = m.defineFunction([I32], [I32]);
    const acc = f.local(I64);
    const i = f.local(I64);
    f.get(0).op(Op.i64ExtendI32U).set(i);
    f.block(Op.block).block(Op.loop);
    f.get(i).op(Op.i64Eqz).opU(Op.brIf, 1);
    f.get(acc).get(i).i64(0, 1).op(Op.i64Mul).op(Op.i64Add).set(acc);
    f.get(i).i64(1, 0).op(Op.i64Sub).set(i);
    f.opU(Op.br, 0).op(Op.end).op(Op.end);
    f.get(0).opU(Op.call, twice);
    f.get(acc).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).op(Op.i32Add);
    m.exportFunction("sum", index);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), {
      env: { twice: (x: number) => 2 * x },
    });
    const sum = instance.exports.sum as (n: number) => number;
    // (sum 1..n) << 32, so the high word is the sum itself.
    expect(sum(10)).toBe(20 + 55);
    expect(sum(1000)).toBe(2000 + 500500);
  });
  test("a shared imported memory is read and written", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    const m = new ModuleBuilder();
    m.importMemory("env", "memory", 1, 2, true);
    const { index, body: f } = m.defineFunction([I32], []);
    f.get(0).get(0).mem(Op.i64Load, 3, 8).i64(5, 0).op(Op.i64Add).mem(Op.i64Store, 3, 16);
    m.exportFunction("bump", index);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { memory } });
    const view = new DataView(memory.buffer);
    view.setBigInt64(108, -7n, true);
    (instance.exports.bump as (p: number) => void)(100);
    expect(view.getBigInt64(116, true)).toBe(-2n);
  });
});
