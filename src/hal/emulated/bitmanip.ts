/**
 * The bit-manipulation extensions' semantics (Zba, Zbb, Zbc, Zbs; unprivileged ISA manual, "B" chapter) on 64-bit
 * values split into int32 halves, the result to `out` ([lo, hi], alu.ts). One copy used by the reference
 * executor (exec.ts), the fast interpreter (interp.ts) and the JavaScript compiler (jit.ts); the WebAssembly
 * compiler re-implements the common ones with i64 instructions and is checked against this by the differential
 * tests.
 */

import { out, sll64 } from "./alu.ts";
import * as D from "./decode.ts";

/** Trailing zeros of an int32 (32 for 0). */
export function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Set bits of an int32. */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Byte-reverse an int32. */
export function bswap32(x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24) | 0;
}

/** ORC.B of one half: each nonzero byte becomes 0xff, each zero byte stays 0. */
export function orcb32(x: number): number {
  // (x & 0x7f..) + 0x7f.. sets a byte's top bit when its low seven bits are nonzero, with no carry out of the byte.
  const top = (((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
  return Math.imul(top >>> 7, 0xff);
}

/** Rotate (lo, hi) left by s (0..63) → out. */
function rotl64(lo: number, hi: number, s: number): void {
  let a = lo;
  let b = hi;
  let n = s & 63;
  if (n >= 32) {
    a = hi;
    b = lo;
    n -= 32;
  }
  if (n === 0) {
    out[0] = a;
    out[1] = b;
  } else {
    out[0] = (a << n) | (b >>> (32 - n));
    out[1] = (b << n) | (a >>> (32 - n));
  }
}

/** Rotate an int32 right by s (0..31). */
function rotr32(x: number, s: number): number {
  const n = s & 31;
  return n === 0 ? x : (x >>> n) | (x << (32 - n));
}

/** (alo, ahi) + (blo, bhi) → out. */
function add64(alo: number, ahi: number, blo: number, bhi: number): void {
  const lo = (alo + blo) | 0;
  out[0] = lo;
  out[1] = (ahi + bhi + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
}

const product = new Int32Array(4);

/**
 * The 128-bit carry-less product of a and b into `product` (4 words, least significant first): the XOR of a << i
 * for every set bit i of b.
 */
function clmul128(alo: number, ahi: number, blo: number, bhi: number): void {
  product.fill(0);
  for (let i = 0; i < 64; i++) {
    const bit = i < 32 ? (blo >>> i) & 1 : (bhi >>> (i - 32)) & 1;
    if (bit === 0) continue;
    const words = i >>> 5;
    const s = i & 31;
    // a << s spans three words: a's low word, high word and the bits shifted out of it.
    const w0 = alo << s;
    const w1 = s === 0 ? ahi : (ahi << s) | (alo >>> (32 - s));
    const w2 = s === 0 ? 0 : ahi >>> (32 - s);
    product[words] = (product[words] ?? 0) ^ w0;
    product[words + 1] = (product[words + 1] ?? 0) ^ w1;
    if (words + 2 < 4) product[words + 2] = (product[words + 2] ?? 0) ^ w2;
  }
}

function lessThan(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0);
}

function lessThanUnsigned(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
}

/**
 * Execute bit-manipulation operation `op` (an OP_SHADD..OP_BSETI of decode.ts) on rs1 = (alo, ahi), rs2 = (blo,
 * bhi) and the decoded `imm`; the result goes to `out`. An operation outside the range leaves `out` unchanged
 * (callers check `isBitmanip` first).
 */
export function bitmanip(op: number, alo: number, ahi: number, blo: number, bhi: number, imm: number): void {
  switch (op) {
    case D.OP_SHADD:
      sll64(alo, ahi, imm);
      add64(out[0] ?? 0, out[1] ?? 0, blo, bhi);
      return;
    case D.OP_SHADD_UW:
      sll64(alo, 0, imm);
      add64(out[0] ?? 0, out[1] ?? 0, blo, bhi);
      return;
    case D.OP_SLLI_UW:
      sll64(alo, 0, imm);
      return;
    case D.OP_ANDN:
      out[0] = alo & ~blo;
      out[1] = ahi & ~bhi;
      return;
    case D.OP_ORN:
      out[0] = alo | ~blo;
      out[1] = ahi | ~bhi;
      return;
    case D.OP_XNOR:
      out[0] = ~(alo ^ blo);
      out[1] = ~(ahi ^ bhi);
      return;
    case D.OP_CLZ:
      out[0] = ahi !== 0 ? Math.clz32(ahi) : 32 + Math.clz32(alo);
      out[1] = 0;
      return;
    case D.OP_CTZ:
      out[0] = alo !== 0 ? ctz32(alo) : 32 + ctz32(ahi);
      out[1] = 0;
      return;
    case D.OP_CPOP:
      out[0] = popcount32(alo) + popcount32(ahi);
      out[1] = 0;
      return;
    case D.OP_CLZW:
      out[0] = Math.clz32(alo);
      out[1] = 0;
      return;
    case D.OP_CTZW:
      out[0] = ctz32(alo);
      out[1] = 0;
      return;
    case D.OP_CPOPW:
      out[0] = popcount32(alo);
      out[1] = 0;
      return;
    case D.OP_MAX:
    case D.OP_MIN: {
      const pickB = lessThan(alo, ahi, blo, bhi) === (op === D.OP_MAX);
      out[0] = pickB ? blo : alo;
      out[1] = pickB ? bhi : ahi;
      return;
    }
    case D.OP_MAXU:
    case D.OP_MINU: {
      const pickB = lessThanUnsigned(alo, ahi, blo, bhi) === (op === D.OP_MAXU);
      out[0] = pickB ? blo : alo;
      out[1] = pickB ? bhi : ahi;
      return;
    }
    case D.OP_SEXT: {
      const v = imm === 8 ? (alo << 24) >> 24 : (alo << 16) >> 16;
      out[0] = v;
      out[1] = v >> 31;
      return;
    }
    case D.OP_ZEXT_H:
      out[0] = alo & 0xffff;
      out[1] = 0;
      return;
    case D.OP_ROL:
      rotl64(alo, ahi, blo & 63);
      return;
    case D.OP_ROR:
      rotl64(alo, ahi, (64 - (blo & 63)) & 63);
      return;
    case D.OP_RORI:
      rotl64(alo, ahi, (64 - (imm & 63)) & 63);
      return;
    case D.OP_ROLW: {
      const v = rotr32(alo, (32 - (blo & 31)) & 31);
      out[0] = v;
      out[1] = v >> 31;
      return;
    }
    case D.OP_RORW:
    case D.OP_RORIW: {
      const v = rotr32(alo, op === D.OP_RORW ? blo & 31 : imm & 31);
      out[0] = v;
      out[1] = v >> 31;
      return;
    }
    case D.OP_ORC_B:
      out[0] = orcb32(alo);
      out[1] = orcb32(ahi);
      return;
    case D.OP_REV8:
      out[0] = bswap32(ahi);
      out[1] = bswap32(alo);
      return;
    case D.OP_CLMUL:
    case D.OP_CLMULH:
    case D.OP_CLMULR: {
      clmul128(alo, ahi, blo, bhi);
      const p0 = product[0] ?? 0;
      const p1 = product[1] ?? 0;
      const p2 = product[2] ?? 0;
      const p3 = product[3] ?? 0;
      if (op === D.OP_CLMUL) {
        out[0] = p0;
        out[1] = p1;
      } else if (op === D.OP_CLMULH) {
        out[0] = p2;
        out[1] = p3;
      } else {
        // Bits 126..63 of the product.
        out[0] = (p1 >>> 31) | (p2 << 1);
        out[1] = (p2 >>> 31) | (p3 << 1);
      }
      return;
    }
    case D.OP_BCLR:
    case D.OP_BCLRI:
    case D.OP_BINV:
    case D.OP_BINVI:
    case D.OP_BSET:
    case D.OP_BSETI: {
      const index = (op === D.OP_BCLR || op === D.OP_BINV || op === D.OP_BSET ? blo : imm) & 63;
      const mlo = index < 32 ? 1 << index : 0;
      const mhi = index < 32 ? 0 : 1 << (index - 32);
      if (op === D.OP_BCLR || op === D.OP_BCLRI) {
        out[0] = alo & ~mlo;
        out[1] = ahi & ~mhi;
      } else if (op === D.OP_BINV || op === D.OP_BINVI) {
        out[0] = alo ^ mlo;
        out[1] = ahi ^ mhi;
      } else {
        out[0] = alo | mlo;
        out[1] = ahi | mhi;
      }
      return;
    }
    case D.OP_BEXT:
    case D.OP_BEXTI: {
      const index = (op === D.OP_BEXT ? blo : imm) & 63;
      out[0] = index < 32 ? (alo >>> index) & 1 : (ahi >>> (index - 32)) & 1;
      out[1] = 0;
      return;
    }
    default:
      return;
  }
}
