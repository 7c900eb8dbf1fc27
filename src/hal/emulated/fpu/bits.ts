/**
 * Bit-level views of IEEE 754 numbers without allocation.
 *
 * The scratch arrays below carry no state from one call to the next (every function writes before it reads),
 * so sharing them between FpState instances is safe on JavaScript's single thread.
 */

const f64Scratch = new Float64Array(1);
/** [low word, high word] of f64Scratch (little-endian host, as the whole emulator assumes). */
const f64Words = new Int32Array(f64Scratch.buffer);
const f32Scratch = new Float32Array(1);
const f32Word = new Int32Array(f32Scratch.buffer);

/** The binary32 bit pattern of v rounded to single precision (round to nearest even, as a Float32Array store). */
export function f32Bits(v: number): number {
  f32Scratch[0] = v;
  return f32Word[0] ?? 0;
}

/**
 * The value of a binary32 bit pattern. A NaN pattern yields some NaN (the engine may canonicalize it), so callers
 * classify NaNs from the bits, never from the returned value.
 */
export function f32FromBits(bits: number): number {
  f32Word[0] = bits;
  return f32Scratch[0] ?? 0;
}

/** High word (sign, exponent, top 20 fraction bits) of a binary64. */
export function f64Hi(v: number): number {
  f64Scratch[0] = v;
  return f64Words[1] ?? 0;
}

/** Low word of a binary64. */
export function f64Lo(v: number): number {
  f64Scratch[0] = v;
  return f64Words[0] ?? 0;
}

/** The binary64 with the given words. */
export function f64FromWords(hi: number, lo: number): number {
  f64Words[0] = lo;
  f64Words[1] = hi;
  return f64Scratch[0] ?? 0;
}

/** Biased exponent field (0..2047) of a binary64. */
export function f64BiasedExponent(v: number): number {
  f64Scratch[0] = v;
  return ((f64Words[1] ?? 0) >>> 20) & 0x7ff;
}

/** Whether the significand of a nonzero finite binary64 is odd (its last fraction bit is 1). */
export function f64IsOdd(v: number): boolean {
  f64Scratch[0] = v;
  return ((f64Words[0] ?? 0) & 1) !== 0;
}

/** Whether a finite nonzero binary64 is an exact power of two (zero fraction field, normal). */
export function f64IsPowerOfTwo(v: number): boolean {
  f64Scratch[0] = v;
  const hi = f64Words[1] ?? 0;
  return (f64Words[0] ?? 0) === 0 && (hi & 0xfffff) === 0 && (hi & 0x7ff00000) !== 0;
}

/**
 * The binary64 one unit in the last place further from zero than v (v finite, nonzero). The largest finite
 * value steps to infinity, which is what overflow in a directed rounding mode needs.
 */
export function f64NextAway(v: number): number {
  f64Scratch[0] = v;
  const lo = ((f64Words[0] ?? 0) + 1) | 0;
  f64Words[0] = lo;
  if (lo === 0) f64Words[1] = ((f64Words[1] ?? 0) + 1) | 0;
  return f64Scratch[0] ?? 0;
}

/** The binary64 one unit in the last place closer to zero than v (v finite, nonzero). */
export function f64NextTowardZero(v: number): number {
  f64Scratch[0] = v;
  const lo = f64Words[0] ?? 0;
  f64Words[0] = (lo - 1) | 0;
  if (lo === 0) f64Words[1] = ((f64Words[1] ?? 0) - 1) | 0;
  return f64Scratch[0] ?? 0;
}

/** Smallest exponent k with 2^k representable in binary64 (the smallest subnormal). */
export const POW2_MIN_EXPONENT = -1074;
/** Largest exponent k with 2^k finite in binary64. */
export const POW2_MAX_EXPONENT = 1023;

/** 2^k for every k in [-1074, 1023], built from bit patterns so no library rounding is involved. */
const POW2_TABLE: Float64Array = (() => {
  const table = new Float64Array(POW2_MAX_EXPONENT - POW2_MIN_EXPONENT + 1);
  for (let k = POW2_MIN_EXPONENT; k <= POW2_MAX_EXPONENT; k++) {
    if (k >= -1022) {
      table[k - POW2_MIN_EXPONENT] = f64FromWords((k + 1023) << 20, 0);
    } else {
      // Subnormal: a single fraction bit at position k + 1074 of the 52-bit field.
      const position = k - POW2_MIN_EXPONENT;
      table[k - POW2_MIN_EXPONENT] =
        position >= 32 ? f64FromWords(1 << (position - 32), 0) : f64FromWords(0, 1 << position);
    }
  }
  return table;
})();

/** 2^k exactly, for an integer k in [-1074, 1023]. */
export function pow2(k: number): number {
  return POW2_TABLE[k - POW2_MIN_EXPONENT] ?? Number.NaN;
}

/**
 * floor(log2(|v|)) for a finite nonzero binary64, subnormals included (their exponent is below -1022).
 */
export function f64Exponent(v: number): number {
  f64Scratch[0] = v;
  const hi = f64Words[1] ?? 0;
  const biased = (hi >>> 20) & 0x7ff;
  if (biased !== 0) return biased - 1023;
  // Subnormal: value = fraction * 2^-1074, so the exponent is the leading fraction bit's position - 1074.
  const fracHi = hi & 0xfffff;
  if (fracHi !== 0) return 32 + (31 - Math.clz32(fracHi)) - 1074;
  return 31 - Math.clz32(f64Words[0] ?? 0) - 1074;
}
