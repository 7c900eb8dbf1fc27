/**
 * Register helpers for the FPU tests: BigInt views of FpState registers and of the integer register halves.
 */
import { execFp, type FpState } from "../../../src/hal/emulated/fpu/index.ts";
import { registerWords } from "../../../src/hal/emulated/hart-block.ts";

export function setF(fp: FpState, i: number, bits: bigint): void {
  fp.bits[2 * i] = Number(BigInt.asIntN(32, bits));
  fp.bits[2 * i + 1] = Number(BigInt.asIntN(32, bits >> 32n));
}

export function getF(fp: FpState, i: number): bigint {
  return (BigInt((fp.bits[2 * i + 1] ?? 0) >>> 0) << 32n) | BigInt((fp.bits[2 * i] ?? 0) >>> 0);
}

/** A binary32 pattern NaN-boxed into a 64-bit register image. */
export function boxS(bits32: bigint): bigint {
  return 0xffffffff00000000n | (bits32 & 0xffffffffn);
}

/** An integer register file as the hart keeps it (register i's words at index 2 * i). */
export class IntRegs {
  readonly #words = registerWords(new ArrayBuffer(32 * 8), 0);
  readonly lo = this.#words.lo;
  readonly hi = this.#words.hi;

  set(i: number, v: bigint): void {
    this.lo[2 * i] = Number(BigInt.asIntN(32, v));
    this.hi[2 * i] = Number(BigInt.asIntN(32, v >> 32n));
  }

  get(i: number): bigint {
    return (BigInt((this.hi[2 * i] ?? 0) >>> 0) << 32n) | BigInt((this.lo[2 * i] ?? 0) >>> 0);
  }
}

/** Runs one instruction; returns execFp's status. */
export function run(insn: number, fp: FpState, x: IntRegs): number {
  return execFp(insn, fp, x.lo, x.hi);
}

/** binary64 bits of a JS number. */
export function d(v: number): bigint {
  const f = new Float64Array([v]);
  return new BigUint64Array(f.buffer)[0] ?? 0n;
}

/** binary32 bits of a JS number (which must be exactly representable). */
export function s(v: number): bigint {
  const f = new Float32Array([v]);
  if (f[0] !== v && !(Number.isNaN(v) && Number.isNaN(f[0]))) throw new RangeError(`${v} is not a binary32 value`);
  return BigInt(new Uint32Array(f.buffer)[0] ?? 0);
}
