/**
 * Numeric limits of the IEEE 754 formats the FPU computes in. The RISC-V facts (fcsr fields, rounding modes,
 * instruction fields, canonical NaNs) are in `src/arch/riscv64/fp.ts`.
 */

// ---- binary32 / binary64 limits ----
/** Largest finite binary32, (2 - 2^-23) * 2^127. */
export const F32_MAX = 3.4028234663852886e38;
/** Smallest normal binary32, 2^-126. */
export const F32_MIN_NORMAL = 1.1754943508222875e-38;
/** Largest finite binary64. */
export const F64_MAX = Number.MAX_VALUE;
/** Smallest normal binary64, 2^-1022. */
export const F64_MIN_NORMAL = 2.2250738585072014e-308;
