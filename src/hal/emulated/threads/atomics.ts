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
