import { describe, expect, test } from "bun:test";
import { BASELINE_ONLY_BODY_BYTES, baselineOnly, moduleForTier, OPTIMIZABLE_MAX_BYTES } from "./baseline-only.ts";
import { I32, I64, ModuleBuilder, Op } from "./emit.ts";

/** The size of each function body in a module's code section (section 10), read with the spec's layout. */
function bodySizes(module: Uint8Array): number[] {
  const u32 = (p: number): [number, number] => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = module[p++] ?? 0;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return [v, p];
      shift += 7;
    }
  };
  let pos = 8;
  while (pos < module.length) {
    const id = module[pos] ?? 0;
    const [size, start] = u32(pos + 1);
    if (id === 10) {
      const [count, first] = u32(start);
      const sizes: number[] = [];
      let p = first;
      for (let f = 0; f < count; f++) {
        const [bodySize, body] = u32(p);
        sizes.push(bodySize);
        p = body + bodySize;
      }
      return sizes;
    }
    pos = start + size;
  }
  return [];
}

/** A module exporting `sum(n)` (a loop over i64 locals) and `twice(x)`, small functions both. */
function twoFunctions(): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder();
  const { index, body: f } = m.defineFunction([I32], [I32]);
  const acc = f.local(I64);
  const i = f.local(I64);
  f.get(0).op(Op.i64ExtendI32U).set(i);
  f.block(Op.block).block(Op.loop);
  f.get(i).op(Op.i64Eqz).opU(Op.brIf, 1);
  f.get(acc).get(i).op(Op.i64Add).set(acc);
  f.get(i).i64(1, 0).op(Op.i64Sub).set(i);
  f.opU(Op.br, 0).op(Op.end).op(Op.end);
  f.get(acc).op(Op.i32WrapI64);
  m.exportFunction("sum", index);
  const twice = m.defineFunction([I32], [I32]);
  twice.body.get(0).get(0).op(Op.i32Add);
  m.exportFunction("twice", twice.index);
  return m.encode();
}

describe("baselineOnly", () => {
  test("every function body grows past JavaScriptCore's OMG size limit and computes what it did", () => {
    const original = twoFunctions();
    const padded = baselineOnly(original);
    expect(bodySizes(original).every((s) => s < 1000)).toBe(true);
    expect(bodySizes(padded)).toEqual([BASELINE_ONLY_BODY_BYTES, BASELINE_ONLY_BODY_BYTES]);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(padded), {});
    const sum = instance.exports.sum as (n: number) => number;
    const twice = instance.exports.twice as (x: number) => number;
    expect(sum(10)).toBe(55);
    expect(sum(100_000)).toBe(705_082_704); // 5000050000 wrapped to 32 bits
    expect(twice(21)).toBe(42);
  });
  test("bodies of every length modulo the filler's pair come out valid and exactly at the limit", () => {
    for (let extra = 0; extra < 12; extra++) {
      const m = new ModuleBuilder();
      const { index, body: f } = m.defineFunction([], [I32]);
      for (let k = 0; k < extra; k++) f.op(Op.nop);
      f.i32(7);
      m.exportFunction("seven", index);
      const padded = baselineOnly(m.encode());
      expect(bodySizes(padded)).toEqual([BASELINE_ONLY_BODY_BYTES]);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(padded), {});
      expect((instance.exports.seven as () => number)()).toBe(7);
    }
  });
  test("a module whose bodies are already past the limit comes back unchanged", () => {
    const padded = baselineOnly(twoFunctions());
    expect(baselineOnly(padded)).toEqual(padded);
  });
  test("a truncated module is an error naming the section", () => {
    const original = twoFunctions();
    expect(() => baselineOnly(original.subarray(0, original.length - 3))).toThrow(/section 10 at byte/);
  });
});

describe("moduleForTier", () => {
  /** A module of one function `seven` whose body has `nops` nops before its result. */
  const withNops = (nops: number): Uint8Array<ArrayBuffer> => {
    const m = new ModuleBuilder();
    const { index, body: f } = m.defineFunction([], [I32]);
    for (let k = 0; k < nops; k++) f.op(Op.nop);
    f.i32(7);
    m.exportFunction("seven", index);
    return m.encode();
  };
  test("a module of at most OPTIMIZABLE_MAX_BYTES is left as it is and may be optimized", () => {
    const small = withNops(100);
    expect(small.length).toBeLessThanOrEqual(OPTIMIZABLE_MAX_BYTES);
    expect(moduleForTier(small, false)).toEqual({ bytes: small, optimizable: true });
    // The longest module of this shape within the limit (LEB128 sizes grow with the body), and one nop more.
    let nops = 100 + OPTIMIZABLE_MAX_BYTES - small.length;
    while (withNops(nops).length > OPTIMIZABLE_MAX_BYTES) nops--;
    expect(OPTIMIZABLE_MAX_BYTES - withNops(nops).length).toBeLessThan(4);
    expect(moduleForTier(withNops(nops), false).optimizable).toBe(true);
    expect(moduleForTier(withNops(nops + 1), false).optimizable).toBe(false);
  });
  test("a larger one is padded for the baseline tier unless asked to be optimizable", () => {
    const large = withNops(OPTIMIZABLE_MAX_BYTES);
    expect(large.length).toBeGreaterThan(OPTIMIZABLE_MAX_BYTES);
    const padded = moduleForTier(large, false);
    expect(padded.optimizable).toBe(false);
    expect(bodySizes(padded.bytes)).toEqual([BASELINE_ONLY_BODY_BYTES]);
    expect(moduleForTier(large, true)).toEqual({ bytes: large, optimizable: true });
  });
});
