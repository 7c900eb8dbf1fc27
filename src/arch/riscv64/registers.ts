/**
 * The integer registers x0..x31 by their ABI names (RISC-V psABI, "Integer Register Convention"). The SBI and the
 * Linux boot protocol pass arguments in a0..a7.
 */

export const REG_ZERO = 0;
export const REG_RA = 1;
export const REG_SP = 2;
export const REG_GP = 3;
export const REG_TP = 4;
export const REG_T0 = 5;
export const REG_T1 = 6;
export const REG_T2 = 7;
export const REG_S0 = 8;
export const REG_S1 = 9;
export const REG_A0 = 10;
export const REG_A1 = 11;
export const REG_A2 = 12;
export const REG_A3 = 13;
export const REG_A4 = 14;
export const REG_A5 = 15;
export const REG_A6 = 16;
export const REG_A7 = 17;
export const REG_S2 = 18;
export const REG_S3 = 19;
export const REG_S4 = 20;
export const REG_S5 = 21;
export const REG_S6 = 22;
export const REG_S7 = 23;
export const REG_S8 = 24;
export const REG_S9 = 25;
export const REG_S10 = 26;
export const REG_S11 = 27;
export const REG_T3 = 28;
export const REG_T4 = 29;
export const REG_T5 = 30;
export const REG_T6 = 31;

/** Number of integer registers (RV64I; RV64E would have 16). */
export const GPR_COUNT = 32;

/** Number of floating-point registers (F/D: f0..f31). */
export const FPR_COUNT = 32;
