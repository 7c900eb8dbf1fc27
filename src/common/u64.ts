/** 64-bit values held as two 32-bit halves in numbers, or as bigints at API edges. */

/** 2^32: the weight of a 64-bit value's high half. */
export const TWO_POW_32 = 4294967296;

/** All 64 bits set: the mask that wraps a bigint to an unsigned 64-bit value. */
export const U64_MASK = (1n << 64n) - 1n;
