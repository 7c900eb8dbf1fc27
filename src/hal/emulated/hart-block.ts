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
/** f64: the virtual address of the page whose region runs now (set at entry and when a region chains to another). */
export const HB_VBASE = 16;
/** i32: the region table slot of the region running now (wasm/tier.ts). */
export const HB_REGION = 24;
/**
 * i32: nonzero when a region must return to the run loop instead of chaining to the next region: set by the slow
 * paths when an interrupt may have become pending, a kick or a stop was asked, or when chaining is off.
 */
export const HB_CHAIN_STOP = 28;
/** i32: arena offset of the fetch TLB set's WebAssembly copy (tlb.ts WASM_TLB_EXEC_*), 0 when it has none. */
export const HB_ITLB = 32;
/** i32: chains from one region to the next since the run loop entered the first (counted by the regions). */
export const HB_CHAINS = 36;
/** i32: why the last region returned to the run loop (wasm/compile.ts RETURN_*). */
export const HB_RETURN_REASON = 40;
/** i32: mstatus's low word (`Hart.mstatus`), where the WebAssembly interpreter reads and writes sstatus. */
export const HB_MSTATUS = 44;
/** i32: vsstatus (`Hart.vsstatus`), what sstatus is in VS-mode. */
export const HB_VSSTATUS = 48;
/**
 * i32: where sstatus is for the current WebAssembly interpreter run: HB_MSTATUS in HS-mode, HB_VSSTATUS in
 * VS-mode, 0 in M- and U-mode; set by the run loop for each run (privilege and V change only at traps and returns,
 * which end the run). The interpreter reads sstatus there, and writes it where only SIE goes off or nothing
 * changes (wasm/interp-module.ts); every other CSR access goes to TypeScript.
 */
export const HB_SSTATUS_DIRECT = 52;
/**
 * int64 x 32: x0..x31, little-endian, so that compiled code and the WebAssembly interpreter read and write a
 * register as one i64 (`Hart.xlo`/`Hart.xhi` are views of its words: see `registerWords`).
 */
export const HB_X = 64;
/**
 * What the WebAssembly interpreter (wasm/interp-module.ts) and the run loop exchange about the regions the
 * interpreter enters itself (a slot with a region block) and that return to it (the next pc has no region):
 * - i32: regions entered during the current run, and the instructions they retired;
 */
export const HB_INTERP_REGION_CALLS = 320;
export const HB_INTERP_REGION_INSNS = 324;
/**
 * - i32: the region misses of a page (a region returned to a pc there for want of a region or a block:
 *   CodePage.regionMisses) at which the interpreter leaves that pc to the run loop, which compiles the page;
 */
export const HB_MISS_LIMIT = 328;
/**
 * - f64: the instructions interpreted on a page (CodePage.interpreted) at which the interpreter, arriving on the
 *   page, leaves it to the run loop, which compiles it (Infinity: never);
 */
export const HB_VOLUME_LIMIT = 336;
/** - i32 x 6: regions' returns into the interpreter during the current run, by reason (wasm/compile.ts RETURN_*). */
export const HB_INTERP_RETURNS = 344;
/** - i32: slots the WebAssembly interpreter decoded itself during the current run (wasm/decode-emit.ts). */
export const HB_DECODES = 368;
/**
 * The LR/SC reservation (Hart.reservationValid, Hart.reservationAddr), where the WebAssembly interpreter takes and
 * checks it: i32 valid, f64 its physical address.
 */
export const HB_RESERVATION_VALID = 372;
export const HB_RESERVATION_ADDR = 376;
/** The block's size (a multiple of 64, so blocks of several harts never share a cache line). */
export const HART_BLOCK_BYTES = 512;

/** The number of integer registers (x0..x31). */
const REGISTERS = 32;

/**
 * Views of the integer registers stored as HB_X stores them (32 little-endian int64 from `byteOffset`): register
 * r's low word is `lo[2 * r]` and its high word `hi[2 * r]` (`hi` starts one word later), as the TypeScript hart
 * works on them.
 */
export function registerWords(buffer: ArrayBufferLike, byteOffset: number): { lo: Int32Array; hi: Int32Array } {
  return {
    lo: new Int32Array(buffer, byteOffset, 2 * REGISTERS),
    hi: new Int32Array(buffer, byteOffset + 4, 2 * REGISTERS - 1),
  };
}
