/**
 * Runs the WebAssembly interpreter (interp-module.ts) for the harts of one VM (on one thread): one instance over
 * the VM's arena, its imports bound to the hart it runs now. With the VM's WebAssembly tier, the instance shares
 * its region table and enters regions itself.
 */

import { PRV_S } from "../../../arch/riscv64/traps.ts";
import type { Arena } from "../arena.ts";
import { type Hart, STOP_NONE } from "../hart.ts";
import {
  HB_CHAIN_STOP,
  HB_DECODES,
  HB_INTERP_REGION_CALLS,
  HB_INTERP_REGION_INSNS,
  HB_INTERP_RETURNS,
  HB_MISS_LIMIT,
  HB_MSTATUS,
  HB_NEXT_PC,
  HB_RETURN_REASON,
  HB_SSTATUS_DIRECT,
  HB_VOLUME_LIMIT,
  HB_VSSTATUS,
} from "../hart-block.ts";
import { decodeSlotAt, STEP_END, STEP_NEXT, STEP_STOP, stepSlot } from "../interp.ts";
import { wakeupPending } from "../interrupts.ts";
import type { CodePage } from "../phys-memory.ts";
import { RETURN_NO_BLOCK, RETURN_NO_REGION } from "./compile.ts";
import { buildInterpreterModule, INTERP_IMPORT_MODULE, RETURN_NONE } from "./interp-module.ts";
import { RETURN_REASONS, type WasmTier } from "./tier.ts";

const NEXT_PC_INDEX = HB_NEXT_PC / 8;
const CHAIN_STOP_INDEX = HB_CHAIN_STOP / 4;
const REGION_CALLS_INDEX = HB_INTERP_REGION_CALLS / 4;
const REGION_INSNS_INDEX = HB_INTERP_REGION_INSNS / 4;
const DECODES_INDEX = HB_DECODES / 4;
const RETURNS_INDEX = HB_INTERP_RETURNS / 4;
const MISS_LIMIT_INDEX = HB_MISS_LIMIT / 4;
const RETURN_REASON_INDEX = HB_RETURN_REASON / 4;
const VOLUME_LIMIT_INDEX = HB_VOLUME_LIMIT / 8;
const SSTATUS_DIRECT_INDEX = HB_SSTATUS_DIRECT / 4;

/** The most region misses HB_MISS_LIMIT holds (an int32): never reached. */
const NO_MISS_LIMIT = 2 ** 30;

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
  /** The tier whose regions it enters (undefined: it enters none). */
  readonly #tier: WasmTier | undefined;
  // The hart running now, and h.icount when the running call began (for `step`).
  #hart: Hart | undefined;
  #icountBase = 0;
  /**
   * After `run`: whether it ended because a region it entered returned for want of a region or a block at the pc
   * it ended at (a miss the run loop counts, as after a region it entered itself).
   */
  missed = false;

  /**
   * `threaded`: harts on other threads share the arena's RAM. `tier`: the VM's WebAssembly tier, whose regions it
   * then enters itself.
   */
  constructor(arena: Arena, threaded: boolean, tier?: WasmTier) {
    this.#tier = tier;
    const instance = new WebAssembly.Instance(moduleFor(threaded), {
      [INTERP_IMPORT_MODULE]: {
        memory: arena.memory,
        regions: tier?.table ?? new WebAssembly.Table({ element: "anyfunc", initial: 1 }),
        decode: (vbase: number, off: number): number =>
          this.#hart === undefined ? 0 : decodeSlotAt(this.#hart, vbase, off),
        step: (vbase: number, off: number, retired: number): number => this.#step(vbase, off, retired),
        sieOn: (): number => this.#sieOn(),
      },
    });
    this.#run = instance.exports.run as unknown as RunFunction;
  }

  /** Whether it can run `h` from the page of `code`: both TLB copies and the decode cache are in the arena. */
  static canRun(h: Hart, code: CodePage): boolean {
    return code.arenaBase >= 0 && h.blockBase >= 0 && h.dtlb.wasmBase >= 0 && h.itlb.wasmBase >= 0;
  }

  /** Whether it enters the regions of `tier`. */
  entersRegionsOf(tier: WasmTier | undefined): boolean {
    return tier === this.#tier;
  }

  /**
   * `interpret(h, limit, heatMask)` (interp.ts), in WebAssembly: `h.pc` is on the page of `code` (so that
   * `canRun(h, code)` holds), which the fetch TLB maps. Returns the instructions retired, those of the regions it
   * entered included (h.stats tells them apart); h.pc and h.icount are up to date. A page it arrives on with
   * `volumeLimit` instructions interpreted (CodePage.interpreted), or where a region returned with `missLimit`
   * misses (CodePage.regionMisses), ends the run there, for the run loop to compile it.
   */
  run(
    h: Hart,
    code: CodePage,
    limit: number,
    heatMask: number,
    missLimit = NO_MISS_LIMIT,
    volumeLimit = Number.POSITIVE_INFINITY,
  ): number {
    const pc = h.pc;
    const off = pc & 4095;
    this.#hart = h;
    const base = h.icount;
    this.#icountBase = base;
    const tier = this.#tier;
    const hb = h.blockI32;
    if (tier !== undefined) tier.bind(h, base);
    else hb[CHAIN_STOP_INDEX] = 1;
    hb[RETURN_REASON_INDEX] = RETURN_NONE;
    hb[REGION_CALLS_INDEX] = 0;
    hb[REGION_INSNS_INDEX] = 0;
    hb[DECODES_INDEX] = 0;
    hb.fill(0, RETURNS_INDEX, RETURNS_INDEX + RETURN_REASONS);
    hb[MISS_LIMIT_INDEX] = Math.min(NO_MISS_LIMIT, Math.ceil(missLimit));
    hb[SSTATUS_DIRECT_INDEX] = h.priv !== PRV_S ? 0 : h.virt ? HB_VSSTATUS : HB_MSTATUS;
    h.blockF64[VOLUME_LIMIT_INDEX] = volumeLimit;
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
    const regionInsns = hb[REGION_INSNS_INDEX] ?? 0;
    const stats = h.stats;
    stats.wasmInterpreted += n - regionInsns;
    stats.regionInstructions += regionInsns;
    stats.decodes += hb[DECODES_INDEX] ?? 0;
    stats.regionEntries += hb[REGION_CALLS_INDEX] ?? 0;
    stats.interpreterRegionEntries += hb[REGION_CALLS_INDEX] ?? 0;
    if (tier === undefined) {
      this.missed = false;
      return n;
    }
    const reason = tier.unbind(h);
    this.missed = reason === RETURN_NO_REGION || reason === RETURN_NO_BLOCK;
    tier.noteInterpreterRun(h, reason, regionInsns);
    return n;
  }

  /**
   * The `sieOn` import: the interpreter wrote sstatus and turned SIE on (it counts the instruction). As `csrWrite`
   * and `csrWriteEndsRun` would, mark the interrupts to be looked at, and end the run (1) when one may be taken
   * now; else nothing can be taken, and regions may still be entered.
   */
  #sieOn(): number {
    const h = this.#hart;
    if (h === undefined) return 1;
    h.irqDirty = true;
    return wakeupPending(h) ? 1 : 0;
  }

  /** The `step` import: the slot at `off` of the page at `vbase`, after `retired` instructions of this call. */
  #step(vbase: number, off: number, retired: number): number {
    const h = this.#hart;
    if (h === undefined) return STEP_STOP;
    h.icount = this.#icountBase + retired;
    h.stats.wasmInterpreterSteps++;
    let r = stepSlot(h, vbase, off);
    // A kick (a store into a watched range, PhysicalMemory.watchWrites, or the VMM's) ends the run after this one.
    if (r === STEP_NEXT && h.kickRequested) r = STEP_END;
    if (r !== STEP_NEXT) h.blockF64[NEXT_PC_INDEX] = h.pc;
    // The run loop has something to do before the next region (an interrupt may have become deliverable: a
    // device write, an interrupt enable turned on): no region is entered before it has looked, as a region's own
    // slow paths tell it (WasmTier: HB_CHAIN_STOP). The interpreter goes on meanwhile, as before.
    else if (h.irqDirty || h.stop !== STOP_NONE) h.blockI32[CHAIN_STOP_INDEX] = 1;
    return r;
  }
}
