/**
 * Error-free transformations on binary64 (Dekker 1971, Knuth's TwoSum): the exact rounding error of a product,
 * from which the fast paths learn whether a result is exact and on which side of it the true value lies.
 */

/** Veltkamp's splitting constant 2^27 + 1: splits a binary64 into two halves of at most 26 bits each. */
const SPLITTER = 134217729;

/** Operands above this magnitude may overflow SPLITTER·x; products of them go to the slow path. */
export const SPLIT_LIMIT = 2 ** 995;

/**
 * Products above this magnitude go to the slow path: the partial product aHi·bHi can be a little larger than
 * a·b and overflow near the top of the range.
 */
export const PRODUCT_LIMIT = 2 ** 1000;

/**
 * Products below this magnitude may have error terms below the smallest subnormal (so TwoProduct would not be
 * exact): their partial products are about |a·b|·2^-106, and 2^-960·2^-106 is still ≥ 2^-1074.
 */
export const ERROR_FLOOR = 2 ** -960;

/** Results at least this large are normal and stay normal after a one-ulp step, so no tininess is possible. */
export const NORMAL_SAFE = 2 ** -1021;

/**
 * The exact a·b − p, where p = RN(a·b), for |a|, |b| ≤ SPLIT_LIMIT and ERROR_FLOOR ≤ |p| ≤ PRODUCT_LIMIT (Dekker's product,
 * evaluated in the order of Shewchuk's Two_Product_Tail, whose every step is exact).
 */
export function twoProductError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  t = SPLITTER * b;
  const bHi = t - (t - b);
  const bLo = b - bHi;
  const err1 = p - aHi * bHi;
  const err2 = err1 - aLo * bHi;
  const err3 = err2 - aHi * bLo;
  return aLo * bLo - err3;
}
