/**
 * Runs the WebAssembly interpreter (interp-module.ts) for the harts of one VM (on one thread): one instance over
 * the VM's arena, its imports bound to the hart it runs now.
 */

import type { Arena } from "../arena.ts";
import type { Hart } from "../hart.ts";
import { HB_NEXT_PC } from "../hart-block.ts";
import { decodeSlotAt, STEP_NEXT, STEP_STOP, stepSlot } from "../interp.ts";
import type { CodePage } from "../phys-memory.ts";
import { buildInterpreterModule, INTERP_IMPORT_MODULE } from "./interp-module.ts";

const NEXT_PC_INDEX = HB_NEXT_PC / 8;

type RunFunction = (
  hb: number,
  dtlb: number,
  itlb: number,
  vbase: number,
  off: number,
  code: number,
  limit: number,
  heatMask: number,
  icount: number,
) => number;

/** The module, compiled once per process for each kind (threaded or not). */
const modules = new Map<boolean, WebAssembly.Module>();

function moduleFor(threaded: boolean): WebAssembly.Module {
  let module = modules.get(threaded);
  if (module === undefined) {
    module = new WebAssembly.Module(buildInterpreterModule(threaded));
    modules.set(threaded, module);
  }
  return module;
}

export class WasmInterpreter {
  readonly #run: RunFunction;
  // The hart running now, and h.icount when the running call began (for `step`).
  #hart: Hart | undefined;
  #icountBase = 0;

  /** `threaded`: harts on other threads share the arena's RAM. */
  constructor(arena: Arena, threaded: boolean) {
    const instance = new WebAssembly.Instance(moduleFor(threaded), {
      [INTERP_IMPORT_MODULE]: {
        memory: arena.memory,
        decode: (vbase: number, off: number): number =>
          this.#hart === undefined ? 0 : decodeSlotAt(this.#hart, vbase, off),
        step: (vbase: number, off: number, retired: number): number => this.#step(vbase, off, retired),
      },
    });
    this.#run = instance.exports.run as unknown as RunFunction;
  }

  /** Whether it can run `h` from the page of `code`: both TLB copies and the decode cache are in the arena. */
  static canRun(h: Hart, code: CodePage): boolean {
    return code.arenaBase >= 0 && h.blockBase >= 0 && h.dtlb.wasmBase >= 0 && h.itlb.wasmBase >= 0;
  }

  /**
   * `interpret(h, limit, heatMask)` (interp.ts), in WebAssembly: `h.pc` is on the page of `code` (so that
   * `canRun(h, code)` holds), which the fetch TLB maps. Returns the instructions retired; h.pc and h.icount are
   * up to date.
   */
  run(h: Hart, code: CodePage, limit: number, heatMask: number): number {
    const pc = h.pc;
    const off = pc & 4095;
    this.#hart = h;
    const base = h.icount;
    this.#icountBase = base;
    const n = this.#run(
      h.blockBase,
      h.dtlb.wasmBase,
      h.itlb.wasmBase,
      pc - off,
      off,
      code.arenaBase,
      limit,
      heatMask,
      base,
    );
    h.icount = this.#icountBase + n;
    h.pc = h.blockF64[NEXT_PC_INDEX] ?? 0;
    this.#hart = undefined;
    return n;
  }

  /** The `step` import: the slot at `off` of the page at `vbase`, after `retired` instructions of this call. */
  #step(vbase: number, off: number, retired: number): number {
    const h = this.#hart;
    if (h === undefined) return STEP_STOP;
    h.icount = this.#icountBase + retired;
    h.stats.wasmInterpreterSteps++;
    const r = stepSlot(h, vbase, off);
    if (r !== STEP_NEXT) h.blockF64[NEXT_PC_INDEX] = h.pc;
    return r;
  }
}
