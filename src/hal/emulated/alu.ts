/**
 * 64-bit integer arithmetic on split 32-bit halves (lo, hi as signed int32), for the operations that need more
 * than a line: multiply-high and division. Results go to `out` ([lo, hi]); the array carries no state from one
 * call to the next, so sharing it between harts is safe on JavaScript's single thread.
 *
 * Multiplication uses 16-bit limbs so every partial product is exact in a double. Division uses doubles when
 * both operands fit in 53 bits (with an exact correction step) and BigInt otherwise (rare: measured BigInt costs
 * are only acceptable off the hot path).
 */

import { TWO_POW_32 } from "./split64.ts";

export const out = new Int32Array(2);

const limbsA = new Float64Array(4);
const limbsB = new Float64Array(4);
const prod = new Float64Array(8);

/** High 32 bits of the unsigned 64-bit product of two unsigned 32-bit values. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

/** Low 64 bits of a 64×64 product → out. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  out[0] = Math.imul(alo, blo);
  out[1] = (mulhu32(alo >>> 0, blo >>> 0) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** High 64 bits of the unsigned 128-bit product → out. */
export function mulhu64(alo: number, ahi: number, blo: number, bhi: number): void {
  limbsA[0] = alo & 0xffff;
  limbsA[1] = alo >>> 16;
  limbsA[2] = ahi & 0xffff;
  limbsA[3] = ahi >>> 16;
  limbsB[0] = blo & 0xffff;
  limbsB[1] = blo >>> 16;
  limbsB[2] = bhi & 0xffff;
  limbsB[3] = bhi >>> 16;
  prod.fill(0);
  for (let i = 0; i < 4; i++) {
    const ai = limbsA[i] ?? 0;
    if (ai === 0) continue;
    for (let j = 0; j < 4; j++) {
      const k = i + j;
      prod[k] = (prod[k] ?? 0) + ai * (limbsB[j] ?? 0);
    }
  }
  // Propagate carries: each column holds < 4 * 2^32 + carry, exact in a double.
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    const v = (prod[k] ?? 0) + carry;
    const limb = v % 65536;
    carry = (v - limb) / 65536;
    prod[k] = limb;
  }
  out[0] = ((prod[4] ?? 0) + (prod[5] ?? 0) * 65536) | 0;
  out[1] = ((prod[6] ?? 0) + (prod[7] ?? 0) * 65536) | 0;
}

/** High 64 bits of the signed × signed product → out. */
export function mulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulhu64(alo, ahi, blo, bhi);
  let lo = out[0] ?? 0;
  let hi = out[1] ?? 0;
  // mulh(a, b) = mulhu(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)  (mod 2^64)
  if (ahi < 0) {
    const nlo = (lo - blo) | 0;
    hi = (hi - bhi - (lo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
    lo = nlo;
  }
  if (bhi < 0) {
    const nlo = (lo - alo) | 0;
    hi = (hi - ahi - (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
    lo = nlo;
  }
  out[0] = lo;
  out[1] = hi;
}

/** High 64 bits of signed a × unsigned b → out. */
export function mulhsu64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulhu64(alo, ahi, blo, bhi);
  let lo = out[0] ?? 0;
  let hi = out[1] ?? 0;
  if (ahi < 0) {
    const nlo = (lo - blo) | 0;
    hi = (hi - bhi - (lo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
    lo = nlo;
  }
  out[0] = lo;
  out[1] = hi;
}

function toBigSigned(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

function toBigUnsigned(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function fromBig(v: bigint): void {
  const u = BigInt.asUintN(64, v);
  out[0] = Number(u & 0xffffffffn) | 0;
  out[1] = Number(u >> 32n) | 0;
}

function setNumber(v: number): void {
  // v is an integer with |v| < 2^63 (signed results) or < 2^64 (unsigned); ToInt32 keeps the low word exactly
  // and floor division gives the high word.
  out[0] = v | 0;
  out[1] = Math.floor(v / TWO_POW_32) | 0;
}

/** Whether (lo, hi) as a signed value fits in ±2^53. */
function fitsSigned53(hi: number): boolean {
  return hi >= -0x200000 && hi < 0x200000;
}

/**
 * Signed 64-bit division (DIV / REM), RISC-V semantics: x/0 = -1, x%0 = x, MIN/-1 = MIN, MIN%-1 = 0.
 * `rem` selects the remainder.
 */
export function div64(alo: number, ahi: number, blo: number, bhi: number, rem: boolean): void {
  if (blo === 0 && bhi === 0) {
    if (rem) {
      out[0] = alo;
      out[1] = ahi;
    } else {
      out[0] = -1;
      out[1] = -1;
    }
    return;
  }
  if (fitsSigned53(ahi) && fitsSigned53(bhi)) {
    const a = ahi * TWO_POW_32 + (alo >>> 0);
    const b = bhi * TWO_POW_32 + (blo >>> 0);
    let q = Math.trunc(a / b);
    // The rounded quotient can be off by one for large operands; fix it with the exact remainder.
    let r = a - q * b;
    if (r !== 0 && Math.sign(r) !== Math.sign(a)) {
      q += Math.sign(a) === Math.sign(b) ? -1 : 1;
      r = a - q * b;
    } else if (Math.abs(r) >= Math.abs(b)) {
      q += Math.sign(a) === Math.sign(b) ? 1 : -1;
      r = a - q * b;
    }
    setNumber(rem ? r : q);
    return;
  }
  const negA = ahi < 0;
  const negB = bhi < 0;
  // |b| < 2^32: divide magnitudes exactly without BigInt, then fix the signs (truncating division).
  if ((bhi === 0 && blo !== 0) || (bhi === -1 && blo !== 0)) {
    let mlo = alo;
    let mhi = ahi;
    if (negA) {
      mlo = -alo | 0;
      mhi = (~ahi + (alo === 0 ? 1 : 0)) | 0;
    }
    const mb = negB ? -blo >>> 0 : blo >>> 0;
    if (mb !== 0) {
      const r = divu64by32(mlo, mhi, mb);
      let qlo = out[0] ?? 0;
      let qhi = out[1] ?? 0;
      if (rem) {
        // The remainder has the dividend's sign.
        out[0] = negA ? -r | 0 : r | 0;
        out[1] = negA && r !== 0 ? -1 : 0;
        return;
      }
      if (negA !== negB) {
        const nlo = -qlo | 0;
        qhi = (~qhi + (qlo === 0 ? 1 : 0)) | 0;
        qlo = nlo;
      }
      out[0] = qlo;
      out[1] = qhi;
      return;
    }
  }
  const a = toBigSigned(alo, ahi);
  const b = toBigSigned(blo, bhi);
  if (b === -1n && a === -(1n << 63n)) {
    if (rem) {
      out[0] = 0;
      out[1] = 0;
    } else {
      out[0] = alo;
      out[1] = ahi;
    }
    return;
  }
  fromBig(rem ? a % b : a / b);
}

/**
 * Exact unsigned division of a 64-bit value by a nonzero 32-bit divisor, in 16-bit steps so every intermediate
 * stays below 2^53. Quotient → out, returns the remainder.
 */
function divu64by32(alo: number, ahi: number, b: number): number {
  const ah = ahi >>> 0;
  const al = alo >>> 0;
  const qhi = Math.floor(ah / b);
  let r = ah - qhi * b;
  let x = r * 65536 + (al >>> 16);
  let q1 = Math.floor(x / b);
  r = x - q1 * b;
  // The double division can round up when x / b is just below an integer: correct with the exact remainder.
  if (r < 0) {
    q1 -= 1;
    r += b;
  }
  x = r * 65536 + (al & 0xffff);
  let q0 = Math.floor(x / b);
  r = x - q0 * b;
  if (r < 0) {
    q0 -= 1;
    r += b;
  }
  out[0] = (q1 * 65536 + q0) | 0;
  out[1] = qhi | 0;
  return r;
}

/** Unsigned 64-bit division (DIVU / REMU): x/0 = 2^64-1, x%0 = x. */
export function divu64(alo: number, ahi: number, blo: number, bhi: number, rem: boolean): void {
  if (blo === 0 && bhi === 0) {
    if (rem) {
      out[0] = alo;
      out[1] = ahi;
    } else {
      out[0] = -1;
      out[1] = -1;
    }
    return;
  }
  if (ahi >>> 0 < 0x200000 && bhi >>> 0 < 0x200000) {
    const a = (ahi >>> 0) * TWO_POW_32 + (alo >>> 0);
    const b = (bhi >>> 0) * TWO_POW_32 + (blo >>> 0);
    let q = Math.floor(a / b);
    let r = a - q * b;
    if (r < 0) {
      q -= 1;
      r += b;
    } else if (r >= b) {
      q += 1;
      r -= b;
    }
    setNumber(rem ? r : q);
    return;
  }
  if (bhi === 0) {
    const r = divu64by32(alo, ahi, blo >>> 0);
    if (rem) {
      out[0] = r | 0;
      out[1] = 0;
    }
    return;
  }
  const a = toBigUnsigned(alo, ahi);
  const b = toBigUnsigned(blo, bhi);
  fromBig(rem ? a % b : a / b);
}

/** 32-bit signed division (DIVW / REMW) of the low words; the result is sign-extended by the caller. */
export function div32(a: number, b: number, rem: boolean): number {
  if (b === 0) return rem ? a : -1;
  if (a === -0x80000000 && b === -1) return rem ? 0 : a;
  return rem ? (a % b) | 0 : (a / b) | 0;
}

/** 32-bit unsigned division (DIVUW / REMUW). */
export function divu32(a: number, b: number, rem: boolean): number {
  const ua = a >>> 0;
  const ub = b >>> 0;
  if (ub === 0) return rem ? a : -1;
  return rem ? (ua % ub) | 0 : Math.floor(ua / ub) | 0;
}

/** Shift left logical of a 64-bit value by 0..63 → out. */
export function sll64(lo: number, hi: number, s: number): void {
  if (s === 0) {
    out[0] = lo;
    out[1] = hi;
  } else if (s < 32) {
    out[1] = (hi << s) | (lo >>> (32 - s));
    out[0] = lo << s;
  } else {
    out[1] = lo << (s - 32);
    out[0] = 0;
  }
}
