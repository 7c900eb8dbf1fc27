/**
 * Getting a region's machine code made before the hart first runs it, on the thread that compiled its module.
 *
 * `new WebAssembly.Module` in JavaScriptCore only validates a module and prepares it for IPInt, its WebAssembly
 * interpreter; the baseline compiler (BBQ) compiles a function only once it has been entered or has looped often
 * enough, on a helper thread, while the calls go on in IPInt ~20x slower (measured: a 1,500-operation loop body
 * took 0.27-0.34 ms a call for its first 6-7 calls, then 0.014 ms). So each region posted by the compiler thread
 * ran its first few hundred blocks interpreted on the hart's thread. A module's code is shared by its instances
 * on every thread (for one kind of memory), so entering the region here, over scratch state in a memory of the
 * arena's kind, has the tier-up happen before the hart gets the module (or, with IPInt switched off, the baseline
 * compile itself). Debian's 6.12 boot to init (4 alternating pairs): 3.48 -> 3.18 s, hart-thread CPU 3.34 ->
 * 3.02 s.
 *
 * The scratch state makes every call leave at once: a limit of 0 (a block's transfer checks it), chaining
 * stopped, TLB copies whose entries are all empty (every load and store takes the slow path), and slow-path
 * imports that report a fault. Nothing outside the scratch memory is touched, whatever the region's code.
 */

import { ARENA_MAX_PAGES } from "../arena.ts";
import { HART_BLOCK_BYTES, HB_CHAIN_STOP } from "../hart-block.ts";
import {
  TAG_EMPTY,
  TLB_SIZE,
  WASM_TLB_BYTES,
  WASM_TLB_EXEC_TAG,
  WASM_TLB_READ_TAG,
  WASM_TLB_WRITE_TAG,
} from "../tlb.ts";
import { IMPORT_MODULE } from "./compile.ts";

/** Entries that have JavaScriptCore tier a region up (20 were not always enough, 100 always were). */
export const WARM_UP_CALLS = 256;
/** The scratch hart block and data-TLB copy, in a scratch memory of SCRATCH_PAGES WebAssembly pages. */
const SCRATCH_HART_BLOCK = 4096;
const SCRATCH_TLB = SCRATCH_HART_BLOCK + HART_BLOCK_BYTES;
const SCRATCH_PAGES = Math.ceil((SCRATCH_TLB + WASM_TLB_BYTES) / 65536);
/** What the slow-path imports return: a fault, or (exec) anything but EXEC_NEXT: the region leaves. */
const FAULT = 1;

type RegionRun = (hb: number, tlb: number, vbase: number, block: number, limit: number, n: number) => number;

/** This thread's scratch imports, made on first use. */
let scratch: Bun.WebAssembly.Imports | undefined;

function scratchImports(): Bun.WebAssembly.Imports {
  if (scratch !== undefined) return scratch;
  // Made as the arena's memory is (arena.ts), so that JavaScriptCore gives it the same kind.
  const memory = new WebAssembly.Memory({ initial: SCRATCH_PAGES, maximum: ARENA_MAX_PAGES, shared: true });
  const words = new Int32Array(memory.buffer);
  words[(SCRATCH_HART_BLOCK + HB_CHAIN_STOP) / 4] = 1;
  for (const tags of [WASM_TLB_READ_TAG, WASM_TLB_WRITE_TAG, WASM_TLB_EXEC_TAG])
    for (let i = 0; i < TLB_SIZE; i++) words[(SCRATCH_TLB + tags + 8 * i) / 4] = TAG_EMPTY;
  scratch = {
    [IMPORT_MODULE]: {
      memory,
      regions: new WebAssembly.Table({ element: "anyfunc", initial: 1 }),
      load: (): number => FAULT,
      store: (): number => FAULT,
      exec: (): number => FAULT,
    },
  };
  return scratch;
}

/**
 * Enter the region of `module` WARM_UP_CALLS times over scratch state (see above). Returns how many of the calls
 * returned (the others trapped, which does not keep the entry from counting).
 */
export function warmUpRegion(module: WebAssembly.Module): number {
  const run = new WebAssembly.Instance(module, scratchImports()).exports.run as unknown as RegionRun;
  let returned = 0;
  for (let k = 0; k < WARM_UP_CALLS; k++) {
    try {
      run(SCRATCH_HART_BLOCK, SCRATCH_TLB, 0, 0, 0, 0);
      returned++;
    } catch {
      // A trap in the scratch run: it was entered all the same.
    }
  }
  return returned;
}
