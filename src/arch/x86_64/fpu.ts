/**
 * x87 and SSE state after initialisation (Intel SDM vol. 1, "x87 FPU Control Word" and "MXCSR Control and Status
 * Register"; vol. 3A, "Processor Management and Initialization", table "IA-32 and Intel 64 Processor States
 * Following Power-up, Reset, or INIT").
 */

/** The x87 control word after FNINIT: all exceptions masked, 64-bit precision, round to nearest. */
export const X87_FCW_DEFAULT = 0x37f;
/** MXCSR at reset: all SIMD exceptions masked, round to nearest, no flush-to-zero. */
export const MXCSR_DEFAULT = 0x1f80;
