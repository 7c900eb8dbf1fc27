/**
 * The part of a hart's state that lives in the VM's arena (arena.ts), where compiled regions (wasm/) and the
 * thread that owns the devices can reach it: the integer registers, and a small control area through which
 * compiled code and its slow-path calls exchange what does not fit a call's arguments and results.
 *
 * Byte offsets from the start of the hart's block:
 */

/** f64: the pc at which execution continues after a compiled region returns (written by the region or a call). */
export const HB_NEXT_PC = 0;
/** i64 (two int32 words): the value of the last slow-path load made for compiled code. */
export const HB_LOAD_VALUE = 8;
/** int32 x 32: the low words of x0..x31 (`Hart.xlo`). */
export const HB_XLO = 64;
/** int32 x 32: the high words of x0..x31 (`Hart.xhi`). */
export const HB_XHI = 192;
/** The block's size (a multiple of 64, so blocks of several harts never share a cache line). */
export const HART_BLOCK_BYTES = 512;
