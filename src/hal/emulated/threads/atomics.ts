/**
 * LR/SC and AMOs on RAM that harts on other threads share (the arena's shared memory): every read-modify-write is
 * atomic with respect to the other threads. 32-bit ones use Int32Array Atomics; 64-bit ones a compare-and-exchange
 * loop on BigInt64Array (Atomics has no 64-bit operations on int32 pairs). `offset` is the byte offset in the
 * arena, naturally aligned (the callers have checked alignment: misaligned atomics trap before reaching here).
 * The old value comes back as [lo, hi] in `atomicOld`; 32-bit values sign-extended.
 */

import { AMO_ADD, AMO_AND, AMO_OR, AMO_SWAP, AMO_XOR } from "../../../arch/riscv64/isa.ts";
import { out } from "../alu.ts";
import { amoResult } from "../exec.ts";

export const atomicOld = new Int32Array(2);

let words = new Int32Array(0);
let doubles = new BigInt64Array(0);

/** Views of the current buffer of `memory` covering `offset` (a shared memory's buffer grows, never moves). */
function views(memory: WebAssembly.Memory, offset: number): void {
  if (offset + 8 > words.byteLength || words.buffer !== memory.buffer) {
    const buffer = memory.buffer;
    words = new Int32Array(buffer);
    doubles = new BigInt64Array(buffer);
  }
}

function split(value: bigint): void {
  atomicOld[0] = Number(BigInt.asIntN(32, value));
  atomicOld[1] = Number(value >> 32n);
}

function join(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

/** LR: an atomic read. */
export function atomicLoad(memory: WebAssembly.Memory, offset: number, width: number): void {
  views(memory, offset);
  if (width === 4) {
    const v = Atomics.load(words, offset >> 2);
    atomicOld[0] = v;
    atomicOld[1] = v >> 31;
  } else split(Atomics.load(doubles, offset >> 3));
}

/** SC: store [lo, hi] only if memory still holds [expectLo, expectHi]. Returns whether it stored. */
export function atomicStoreConditional(
  memory: WebAssembly.Memory,
  offset: number,
  width: number,
  expectLo: number,
  expectHi: number,
  lo: number,
  hi: number,
): boolean {
  views(memory, offset);
  if (width === 4) return Atomics.compareExchange(words, offset >> 2, expectLo, lo) === expectLo;
  const expected = join(expectLo, expectHi);
  return Atomics.compareExchange(doubles, offset >> 3, expected, join(lo, hi)) === expected;
}

/** An AMO (funct5) with source [srcLo, srcHi]: old value to `atomicOld`. */
export function atomicReadModifyWrite(
  memory: WebAssembly.Memory,
  offset: number,
  width: number,
  funct5: number,
  srcLo: number,
  srcHi: number,
): void {
  views(memory, offset);
  if (width === 4) {
    const index = offset >> 2;
    let old: number;
    switch (funct5) {
      case AMO_SWAP:
        old = Atomics.exchange(words, index, srcLo);
        break;
      case AMO_ADD:
        old = Atomics.add(words, index, srcLo);
        break;
      case AMO_XOR:
        old = Atomics.xor(words, index, srcLo);
        break;
      case AMO_AND:
        old = Atomics.and(words, index, srcLo);
        break;
      case AMO_OR:
        old = Atomics.or(words, index, srcLo);
        break;
      default:
        for (;;) {
          old = Atomics.load(words, index);
          amoResult(funct5, 4, old, old >> 31, srcLo, srcHi);
          if (Atomics.compareExchange(words, index, old, out[0] ?? 0) === old) break;
        }
    }
    atomicOld[0] = old;
    atomicOld[1] = old >> 31;
    return;
  }
  const index = offset >> 3;
  for (;;) {
    const old = Atomics.load(doubles, index);
    const oldLo = Number(BigInt.asIntN(32, old));
    const oldHi = Number(old >> 32n);
    amoResult(funct5, 8, oldLo, oldHi, srcLo, srcHi);
    if (Atomics.compareExchange(doubles, index, old, join(out[0] ?? 0, out[1] ?? 0)) === old) {
      atomicOld[0] = oldLo;
      atomicOld[1] = oldHi;
      return;
    }
  }
}

/**
 * Plain aligned doubleword loads and stores (LD/SD, FLD/FSD, page-table entries) on RAM that harts on other threads
 * share. RVWMO makes an aligned doubleword access single-copy atomic: another hart sees all of a store or none of
 * it. The JS tiers move a doubleword as two 32-bit halves, so on shared RAM they come here instead, where one wasm
 * `i64.atomic.load`/`i64.atomic.store` moves all 8 bytes (no BigInt on the way: the value crosses as two i32
 * halves, the high one through a wasm global). One small module per thread, instantiated over the arena's memory on
 * first use.
 */
interface Doubleword {
  /** Load the doubleword at `offset` (8-aligned): returns the low half; `hi()` then gives the high half. */
  readonly load: (offset: number) => number;
  readonly hi: () => number;
  readonly store: (offset: number, lo: number, hi: number) => void;
  /** Replace [expectLo, expectHi] by [lo, hi] if memory holds it; returns the old low half (`hi()`: the high). */
  readonly compareExchange: (offset: number, expectLo: number, expectHi: number, lo: number, hi: number) => number;
}

let doubleword: Doubleword | undefined;
let doublewordMemory: WebAssembly.Memory | undefined;

/** The module's bytes (hand-assembled: four functions, one i64 global, the memory imported as "m" "memory"). */
function doublewordModule(): Uint8Array {
  const I32 = 0x7f;
  const I64 = 0x7e;
  const atomic = (op: number) => [0xfe, op, 3, 0]; // align 2^3, offset 0
  const join = (loIndex: number, hiIndex: number) => [
    0x20,
    loIndex,
    0xad, // local.get lo; i64.extend_i32_u
    0x20,
    hiIndex,
    0xad,
    0x42,
    32,
    0x86, // local.get hi; i64.extend_i32_u; i64.const 32; i64.shl
    0x84, // i64.or
  ];
  // size, no locals, the code, end
  const body = (code: number[]) => [code.length + 2, 0, ...code, 0x0b];
  const section = (id: number, contents: number[]) => [id, contents.length, ...contents];
  const load = body([0x20, 0, ...atomic(0x11), 0x24, 0, 0x23, 0, 0xa7]);
  const hi = body([0x23, 0, 0x42, 32, 0x88, 0xa7]);
  const store = body([0x20, 0, ...join(1, 2), ...atomic(0x18)]);
  const cas = body([0x20, 0, ...join(1, 2), ...join(3, 4), ...atomic(0x49), 0x24, 0, 0x23, 0, 0xa7]);
  const name = (text: string) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  const exported = (text: string, index: number) => [...name(text), 0x00, index];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [
      4,
      0x60,
      1,
      I32,
      1,
      I32, // (i32) -> i32
      0x60,
      0,
      1,
      I32, // () -> i32
      0x60,
      3,
      I32,
      I32,
      I32,
      0, // (i32, i32, i32) -> ()
      0x60,
      5,
      I32,
      I32,
      I32,
      I32,
      I32,
      1,
      I32, // (i32 x5) -> i32
    ]),
    // memory "m" "memory": shared, 0 .. 65536 pages (any arena fits)
    ...section(2, [1, ...name("m"), ...name("memory"), 0x02, 0x03, 0x00, 0x80, 0x80, 0x04]),
    ...section(3, [4, 0, 1, 2, 3]),
    ...section(6, [1, I64, 0x01, 0x42, 0x00, 0x0b]),
    ...section(7, [4, ...exported("load", 0), ...exported("hi", 1), ...exported("store", 2), ...exported("cas", 3)]),
    ...section(10, [4, ...load, ...hi, ...store, ...cas]),
  ]);
}

function doublewordOps(memory: WebAssembly.Memory): Doubleword {
  if (doubleword !== undefined && doublewordMemory === memory) return doubleword;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(doublewordModule()), { m: { memory } });
  const e = instance.exports as Record<string, unknown>;
  doubleword = {
    load: e.load as Doubleword["load"],
    hi: e.hi as Doubleword["hi"],
    store: e.store as Doubleword["store"],
    compareExchange: e.cas as Doubleword["compareExchange"],
  };
  doublewordMemory = memory;
  return doubleword;
}

/** The doubleword at `offset` of `memory` (8-aligned) as one access: [lo, hi] in `atomicOld`. */
export function loadDoubleword(memory: WebAssembly.Memory, offset: number): void {
  const ops = doublewordOps(memory);
  atomicOld[0] = ops.load(offset);
  atomicOld[1] = ops.hi();
}

/** Store [lo, hi] at `offset` of `memory` (8-aligned) as one access. */
export function storeDoubleword(memory: WebAssembly.Memory, offset: number, lo: number, hi: number): void {
  doublewordOps(memory).store(offset, lo, hi);
}

/**
 * Replace the doubleword at `offset` by [lo, hi] if it still holds [expectLo, expectHi] (a page-table walker's
 * A/D update). Returns whether it did; the value found is in `atomicOld` either way.
 */
export function compareExchangeDoubleword(
  memory: WebAssembly.Memory,
  offset: number,
  expectLo: number,
  expectHi: number,
  lo: number,
  hi: number,
): boolean {
  const ops = doublewordOps(memory);
  const oldLo = ops.compareExchange(offset, expectLo, expectHi, lo, hi);
  const oldHi = ops.hi();
  atomicOld[0] = oldLo;
  atomicOld[1] = oldHi;
  return oldLo === expectLo && oldHi === expectHi;
}
