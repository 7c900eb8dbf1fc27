/**
 * The WebAssembly tier at run time: one per VM (per thread), over the VM's arena. It compiles a page's hot code
 * into a region (region.ts, compile.ts), enters regions for the engine (`enter`), and answers their calls: the
 * load and store slow paths and `execute` for every instruction a region does not compile inline.
 *
 * Compile cost is measured per region (time to build, validate and instantiate its module, and its size), so the
 * engine can weigh what compiling a page costs against how hot it is (engine.ts) and the benchmarks can print it.
 *
 * Invalidation: a region belongs to its page's `CodePage`, which is cleared whenever the page is written — by a
 * hart's store (stores to pages holding code always take the slow path, tlb.ts), an AMO, a page-table walk's A/D
 * update, or software outside the harts (`HostMemory.notifyWritten` → `PhysicalMemory.externalWrite`). Clearing
 * marks the region invalid; a region running at that moment is told by the call that did the write and returns
 * right after the writing instruction.
 */

import type { Arena } from "../arena.ts";
import { SLOT_COMPILED, SLOT_DECODED, SLOTS_PER_PAGE } from "../block.ts";
import type { Insn } from "../decode.ts";
import * as D from "../decode.ts";
import { execCsr, execute, transformedInstruction } from "../exec.ts";
import { EXEC_END, EXEC_NEXT, EXEC_TRAP, type Hart } from "../hart.ts";
import { HB_LOAD_VALUE, HB_NEXT_PC } from "../hart-block.ts";
import { atomicFast } from "../interp.ts";
import { loadSlow, storeSlow } from "../memory-slow.ts";
import type { CodePage } from "../phys-memory.ts";
import { TWO_POW_32 } from "../split64.ts";
import { compileRegion, ENTRY_MAP_BYTES, IMPORT_MODULE, NO_BLOCK } from "./compile.ts";
import { planRegion } from "./region.ts";

type RegionFunction = (hb: number, tlb: number, vbase: number, entry: number, limit: number) => number;

/** A page's compiled code. */
export class WasmRegion {
  valid = true;
  constructor(
    readonly run: RegionFunction,
    readonly insns: readonly Insn[],
    readonly offsets: readonly number[],
    /** The page's entry map (one block index per 2-byte slot, NO_BLOCK where none starts). */
    readonly entries: Uint16Array,
    /** Offsets of the block starts. */
    readonly blockStarts: readonly number[],
    /** The entry offsets it was planned from. */
    readonly entryOffsets: readonly number[],
  ) {}
}

/** Compile statistics of a tier (printed by the benchmarks). */
export class TierStats {
  regions = 0;
  /** Regions compiled again with more entries. */
  recompiles = 0;
  instructions = 0;
  bytes = 0;
  /** Milliseconds spent generating, compiling and instantiating modules. */
  compileMs = 0;
  /** Regions dropped because their page was written. */
  invalidations = 0;
  /** Regions that could not be compiled (nothing to compile, or the arena is full). */
  failures = 0;
}

const NEXT_PC_INDEX = HB_NEXT_PC / 8;
const LOAD_LO_INDEX = HB_LOAD_VALUE / 4;
const LOAD_HI_INDEX = HB_LOAD_VALUE / 4 + 1;
const LOAD_WIDTH: Record<number, number> = {
  [D.OP_LB]: 1,
  [D.OP_LH]: 2,
  [D.OP_LW]: 4,
  [D.OP_LD]: 8,
  [D.OP_LBU]: 1,
  [D.OP_LHU]: 2,
  [D.OP_LWU]: 4,
};

export class WasmTier {
  readonly stats = new TierStats();
  readonly #arena: Arena;
  readonly #threaded: boolean;
  readonly #imports: Bun.WebAssembly.Imports;
  // The region running now and what its calls need (set by `enter`).
  #hart: Hart | undefined;
  #running: WasmRegion | undefined;
  #vbase = 0;
  #icountBase = 0;

  constructor(arena: Arena, threaded: boolean) {
    this.#arena = arena;
    this.#threaded = threaded;
    this.#imports = {
      [IMPORT_MODULE]: {
        memory: arena.memory,
        load: (idx: number, vaLo: number, vaHi: number, retired: number): number =>
          this.#load(idx, vaLo, vaHi, retired),
        store: (idx: number, vaLo: number, vaHi: number, lo: number, hi: number, retired: number): number =>
          this.#store(idx, vaLo, vaHi, lo, hi, retired),
        exec: (idx: number, retired: number): number => this.#exec(idx, retired),
      },
    };
  }

  /**
   * Run `region` (its page mapped at `vbase`) from block `block` until it returns: at least `limit` instructions,
   * a trap, or an exit from the region. Returns the instructions retired; h.pc and h.icount are up to date.
   */
  enter(h: Hart, region: WasmRegion, vbase: number, block: number, limit: number): number {
    this.#hart = h;
    this.#running = region;
    this.#vbase = vbase;
    const base = h.icount;
    this.#icountBase = base;
    const n = region.run(h.blockBase, h.dtlb.wasmBase, vbase, block, limit);
    h.icount = base + n;
    h.pc = h.blockF64[NEXT_PC_INDEX] ?? 0;
    this.#running = undefined;
    return n;
  }

  /**
   * Compile the code of `code`'s page (its bytes at `base` in `view`) reachable from `entries`, replacing the
   * page's region if it has one. Returns the region, or undefined when nothing could be compiled.
   */
  compile(code: CodePage, view: DataView, base: number, entries: readonly number[]): WasmRegion | undefined {
    const started = performance.now();
    const plan = planRegion(view, base, entries);
    if (plan === undefined) {
      this.stats.failures++;
      return undefined;
    }
    let mapBase = code.entryMapBase;
    if (mapBase < 0) {
      mapBase = this.#arena.allocate(ENTRY_MAP_BYTES, 64) ?? -1;
      if (mapBase < 0) {
        this.stats.failures++;
        return undefined;
      }
      code.entryMapBase = mapBase;
    }
    const compiled = compileRegion(plan, mapBase, this.#threaded);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(compiled.bytes), this.#imports);
    const run = instance.exports.run as RegionFunction;
    const map = new Uint16Array(this.#arena.buffer, mapBase, SLOTS_PER_PAGE);
    const old = code.region;
    if (old !== undefined) {
      old.valid = false;
      // Slots the new region does not start a block at go back to the interpreter (decoded afresh).
      for (const start of old.blockStarts) code.ops[start >> 1] = 0;
      this.stats.recompiles++;
    }
    map.fill(NO_BLOCK);
    compiled.blockStarts.forEach((start, k) => {
      map[start >> 1] = k;
      code.ops[start >> 1] = SLOT_COMPILED | SLOT_DECODED;
    });
    const region = new WasmRegion(run, compiled.insns, compiled.offsets, map, compiled.blockStarts, entries);
    code.region = region;
    const s = this.stats;
    s.regions++;
    s.instructions += plan.insnCount;
    s.bytes += compiled.bytes.length;
    s.compileMs += performance.now() - started;
    return region;
  }

  #load(idx: number, vaLo: number, vaHi: number, retired: number): number {
    const h = this.#hart;
    const region = this.#running;
    const d = region?.insns[idx];
    if (h === undefined || region === undefined || d === undefined) return 1;
    h.pc = this.#vbase + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    const v = loadSlow(h, vaHi * TWO_POW_32 + (vaLo >>> 0), LOAD_WIDTH[d.op] ?? 8, transformedInstruction(d), d.len);
    if (!h.loadOk) {
      h.blockF64[NEXT_PC_INDEX] = h.pc;
      return 1;
    }
    h.blockI32[LOAD_LO_INDEX] = v;
    h.blockI32[LOAD_HI_INDEX] = h.ldHi;
    return 0;
  }

  #store(idx: number, vaLo: number, vaHi: number, lo: number, hi: number, retired: number): number {
    const h = this.#hart;
    const region = this.#running;
    const d = region?.insns[idx];
    if (h === undefined || region === undefined || d === undefined) return 1;
    h.pc = this.#vbase + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    const width = 1 << (d.op - D.OP_SB);
    if (!storeSlow(h, vaHi * TWO_POW_32 + (vaLo >>> 0), width, lo, hi, transformedInstruction(d), d.len)) {
      h.blockF64[NEXT_PC_INDEX] = h.pc;
      return 1;
    }
    if (!region.valid) {
      this.stats.invalidations++;
      return 2;
    }
    return 0;
  }

  #exec(idx: number, retired: number): number {
    const h = this.#hart;
    const region = this.#running;
    const d = region?.insns[idx];
    if (h === undefined || region === undefined || d === undefined) return EXEC_TRAP;
    h.pc = this.#vbase + (region.offsets[idx] ?? 0);
    h.icount = this.#icountBase + retired;
    let r: number;
    if ((d.op === D.OP_AMO_W || d.op === D.OP_AMO_D) && atomicFast(h, d)) {
      h.pc += d.len;
      r = EXEC_NEXT;
    } else if (d.op >= D.OP_CSRRW && d.op <= D.OP_CSRRCI) {
      r = execCsr(h, d);
    } else {
      r = execute(h, d);
    }
    // An AMO or FP store into this region's own page: leave right after it.
    if (r === EXEC_NEXT && !region.valid) {
      this.stats.invalidations++;
      r = EXEC_END;
    }
    h.blockF64[NEXT_PC_INDEX] = h.pc;
    return r;
  }
}
