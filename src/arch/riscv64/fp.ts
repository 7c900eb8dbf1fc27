/**
 * The F and D extensions (unprivileged ISA 20191213, chapters 11-12): fcsr fields, rounding modes, the fields of
 * OP-FP instructions, FCLASS results and the canonical NaNs, with the spec's names. Their major opcodes are in
 * `isa.ts`.
 */

// ---- fcsr: fflags in bits 4:0, frm in bits 7:5 ----
export const FFLAGS_MASK = 0x1f;
export const FRM_SHIFT = 5;
export const FRM_MASK = 7;

// ---- fcsr.fflags: accrued exception flags (Table 11.2) ----
/** Invalid operation. */
export const FFLAG_NV = 0x10;
/** Divide by zero. */
export const FFLAG_DZ = 0x08;
/** Overflow. */
export const FFLAG_OF = 0x04;
/** Underflow. */
export const FFLAG_UF = 0x02;
/** Inexact. */
export const FFLAG_NX = 0x01;

// ---- rounding modes: the instruction's rm field and fcsr.frm (Table 11.1) ----
/** Round to nearest, ties to even. */
export const RM_RNE = 0;
/** Round towards zero. */
export const RM_RTZ = 1;
/** Round down (towards -infinity). */
export const RM_RDN = 2;
/** Round up (towards +infinity). */
export const RM_RUP = 3;
/** Round to nearest, ties to max magnitude. */
export const RM_RMM = 4;
/** In an instruction's rm field: use fcsr.frm. Invalid as a value of frm itself. */
export const RM_DYN = 7;

// ---- fmt field (bits 26:25) ----
export const FMT_S = 0;
export const FMT_D = 1;

// ---- OP-FP funct5 (bits 31:27) ----
export const FUNCT5_FADD = 0b00000;
export const FUNCT5_FSUB = 0b00001;
export const FUNCT5_FMUL = 0b00010;
export const FUNCT5_FDIV = 0b00011;
export const FUNCT5_FSGNJ = 0b00100;
export const FUNCT5_FMINMAX = 0b00101;
export const FUNCT5_FCVT_FMT_FMT = 0b01000;
export const FUNCT5_FSQRT = 0b01011;
export const FUNCT5_FCMP = 0b10100;
export const FUNCT5_FCVT_INT_FMT = 0b11000;
export const FUNCT5_FCVT_FMT_INT = 0b11010;
export const FUNCT5_FMV_X_FCLASS = 0b11100;
export const FUNCT5_FMV_F_X = 0b11110;

// ---- funct3 selectors of the ops that do not round ----
export const FUNCT3_FSGNJ = 0;
export const FUNCT3_FSGNJN = 1;
export const FUNCT3_FSGNJX = 2;
export const FUNCT3_FMIN = 0;
export const FUNCT3_FMAX = 1;
export const FUNCT3_FLE = 0;
export const FUNCT3_FLT = 1;
export const FUNCT3_FEQ = 2;
export const FUNCT3_FMV_X = 0;
export const FUNCT3_FCLASS = 1;

// ---- rs2 of FCVT to/from integers: the integer type ----
export const CVT_W = 0;
export const CVT_WU = 1;
export const CVT_L = 2;
export const CVT_LU = 3;

// ---- FCLASS result bits (Table 11.5) ----
export const FCLASS_NEG_INF = 1 << 0;
export const FCLASS_NEG_NORMAL = 1 << 1;
export const FCLASS_NEG_SUBNORMAL = 1 << 2;
export const FCLASS_NEG_ZERO = 1 << 3;
export const FCLASS_POS_ZERO = 1 << 4;
export const FCLASS_POS_SUBNORMAL = 1 << 5;
export const FCLASS_POS_NORMAL = 1 << 6;
export const FCLASS_POS_INF = 1 << 7;
export const FCLASS_SNAN = 1 << 8;
export const FCLASS_QNAN = 1 << 9;

// ---- canonical NaNs (section 11.3) ----
export const CANONICAL_NAN_S = 0x7fc00000;
/** High word of the canonical double NaN 0x7ff8000000000000 (the low word is 0). */
export const CANONICAL_NAN_D_HI = 0x7ff80000;
