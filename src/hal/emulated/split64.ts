import { TWO_POW_32 } from "../../common/u64.ts";

/**
 * 64-bit values in the hart's two representations: a double holding the signed value (addresses, the pc, CSRs
 * that hold addresses), and two int32 halves (registers, CSRs that hold arbitrary data). A double is exact up to
 * 2^53; every address the hart can use fits.
 */

/** 2^32: joins and splits the halves. */
export { TWO_POW_32 } from "../../common/u64.ts";

/** The low half of a value held in a double. */
export function lowWord(v: number): number {
  return v | 0;
}

/** The high half of a value held in a double (its sign for negative values). */
export function highWord(v: number): number {
  return Math.floor(v / TWO_POW_32) | 0;
}

/** The signed value of (lo, hi) as a double. */
export function signedValue(lo: number, hi: number): number {
  return hi * TWO_POW_32 + (lo >>> 0);
}

/** The unsigned value of (lo, hi) as a double. */
export function unsignedValue(lo: number, hi: number): number {
  return (hi >>> 0) * TWO_POW_32 + (lo >>> 0);
}
