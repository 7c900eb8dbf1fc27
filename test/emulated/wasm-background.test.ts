/**
 * The WebAssembly tier's background compile: a hot page's region larger than WASM_SYNC_MAX_BYTES is asked for, the
 * hart goes on interpreting, and the region is installed once the module is ready — unless the page was written
 * meanwhile, then it is dropped. A smaller region is compiled on the hart's thread and runs at once. Either way
 * the architectural result is the reference interpreter's. A region that keeps running until the run loop's limit
 * is compiled again for JavaScriptCore's optimizing tier (a promotion).
 */

import { describe, expect, test } from "bun:test";
import { Arena } from "../../src/hal/emulated/arena.ts";
import {
  COLD_COST_FACTOR,
  COLD_MIN_HEAT_RATE,
  COMPILE_AT_FIRST_LANDING,
  DEFAULT_ENGINE_OPTIONS,
  INTERPRETED_HOT_INSNS_OFF_THREAD,
  MAX_HEAT_COST_FACTOR,
  MIN_HEAT_RATE,
  runFast,
  WASM_HOT_THRESHOLD,
  WASM_SYNC_MAX_BYTES,
} from "../../src/hal/emulated/engine.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { OPTIMIZABLE_MAX_BYTES } from "../../src/hal/emulated/wasm/baseline-only.ts";
import { compileService } from "../../src/hal/emulated/wasm/compile-service.ts";
import {
  COLD_REGION_COST_MS,
  MAX_COST_FACTOR,
  OMG_COST_NS_PER_BYTE,
  OMG_GAIN_NS_PER_INSN,
  RegionCostEstimate,
  threadRegionCost,
  WARM_REGION_COST_MS,
  WasmTier,
} from "../../src/hal/emulated/wasm/tier.ts";
import * as A from "./asm.ts";
import { type HartFixture, sumLoop as loop, makeHart, RAM_BASE } from "./fixture.ts";

/**
 * Compile at the first landing, on the hart's thread as without a compiler thread (wasm-compile-thread.test.ts tests
 * that one): small regions at once, larger in the background.
 */
const BACKGROUND = { ...COMPILE_AT_FIRST_LANDING, wasmSync: false, wasmCompileThread: false };

/** Loads of the page's own code before the loop: each compiles to an inline TLB lookup, making the region large. */
const LARGE_PREFIX_LOADS = 900;

function runBackground(f: HartFixture, steps: number): void {
  f.hart.stop = STOP_NONE;
  runFast(f.hart, steps, BACKGROUND);
}

describe("WebAssembly tier, background compile", () => {
  test("a small region is compiled on the hart's thread and runs at once", () => {
    const f = makeHart({ arena: true });
    f.write(RAM_BASE, loop(100_000));
    runBackground(f, 1_000_000);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.bytes).toBeLessThanOrEqual(WASM_SYNC_MAX_BYTES);
    expect(stats?.syncCompiles).toBe(1);
    expect(stats?.pending).toBe(0);
    expect(stats?.regions).toBe(1);
    const ref = makeHart();
    ref.write(RAM_BASE, loop(100_000));
    ref.run(f.hart.icount);
    expect(f.x(A.a0)).toBe(5_000_050_000n);
    expect(f.hart.pc).toBe(ref.hart.pc);
  });

  test("a large region is installed after its background compile finishes and runs from then on", async () => {
    const f = makeHart({ arena: true });
    f.write(RAM_BASE, loop(100_000, LARGE_PREFIX_LOADS));
    runBackground(f, 1000);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.bytes).toBeGreaterThan(WASM_SYNC_MAX_BYTES);
    expect(stats?.syncCompiles).toBe(0);
    expect(stats?.pending).toBe(1);
    expect(stats?.regions).toBe(0);
    // Still interpreting while the module compiles: the loop makes progress.
    expect(f.hart.icount).toBeGreaterThan(100);
    while ((stats?.pending ?? 0) > 0) await Bun.sleep(1);
    expect(stats?.regions).toBe(1);
    runBackground(f, 1_000_000);
    const ref = makeHart();
    ref.write(RAM_BASE, loop(100_000, LARGE_PREFIX_LOADS));
    ref.run(f.hart.icount);
    expect(f.x(A.a0)).toBe(5_000_050_000n);
    expect(f.hart.pc).toBe(ref.hart.pc);
    expect(f.x(A.a0)).toBe(ref.x(A.a0));
  });

  test("a page written while its region compiles in the background drops the region", async () => {
    const f = makeHart({ arena: true });
    f.write(RAM_BASE, loop(100_000, LARGE_PREFIX_LOADS));
    runBackground(f, 1000);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.pending).toBe(1);
    // Patch the loop's add into a sub: the module being compiled is now stale. The add is the fourth
    // instruction from the end (add, addi, bne, jal).
    const patched = loop(100_000, LARGE_PREFIX_LOADS);
    patched.set(new A.Program(RAM_BASE).emit(A.sub(A.a0, A.a0, A.a1)).assemble(), patched.length - 16);
    f.write(RAM_BASE, patched);
    const at = { pc: f.hart.pc, a0: f.x(A.a0), a1: f.x(A.a1) };
    while ((stats?.pending ?? 0) > 0) await Bun.sleep(1);
    expect(stats?.discarded).toBe(1);
    expect(stats?.regions).toBe(0);
    runBackground(f, 1_000_000);
    // The reference interpreter on the patched code, from the state when the patch landed, agrees.
    const ref = makeHart();
    ref.write(RAM_BASE, patched);
    ref.hart.pc = at.pc;
    ref.setX(A.a0, at.a0);
    ref.setX(A.a1, at.a1);
    ref.run(1_000_000);
    expect(f.x(A.a1)).toBe(0n);
    expect(f.x(A.a0)).toBe(ref.x(A.a0));
    expect(f.hart.pc).toBe(ref.hart.pc);
  });

  test("a region that keeps running until the limit is compiled again for the optimizing tier once that pays, with the same result", () => {
    const f = makeHart({ arena: true });
    const n = 40_000_000; // 3 instructions per iteration
    // Loads before the loop make the region larger than OPTIMIZABLE_MAX_BYTES (a smaller one is left to the
    // optimizing tier from its first compile, see the next test) and small enough to be promoted within the run.
    f.write(RAM_BASE, loop(n, 16));
    f.hart.stop = STOP_NONE;
    let promotedAt = 0;
    while (f.x(A.a1) !== 0n || f.hart.icount === 0) {
      runFast(f.hart, 1_000_000, COMPILE_AT_FIRST_LANDING);
      if (promotedAt === 0 && (f.memory.wasmTier?.stats.promotions ?? 0) > 0) promotedAt = f.hart.icount;
    }
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.promotions).toBe(1);
    expect(stats?.regions).toBe(2); // the baseline-only region and its replacement
    expect((stats?.bytes ?? 0) / 2).toBeGreaterThan(OPTIMIZABLE_MAX_BYTES);
    // Not before OMG's gain on as many instructions again pays for compiling the region's bytes (counted twice in
    // `bytes`: the region and its replacement).
    const bytes = stats?.bytes ?? 0;
    expect(promotedAt * OMG_GAIN_NS_PER_INSN).toBeGreaterThanOrEqual(((bytes / 2) * OMG_COST_NS_PER_BYTE) | 0);
    expect(f.x(A.a0)).toBe((BigInt(n) * BigInt(n + 1)) / 2n);
  });

  test("a small region may be optimized from its first compile: it is never compiled again for it", () => {
    const f = makeHart({ arena: true });
    const n = 20_000_000;
    f.write(RAM_BASE, loop(n));
    f.hart.stop = STOP_NONE;
    while (f.x(A.a1) !== 0n || f.hart.icount === 0) runFast(f.hart, 1_000_000, COMPILE_AT_FIRST_LANDING);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.bytes).toBeLessThanOrEqual(OPTIMIZABLE_MAX_BYTES);
    expect(stats?.regions).toBe(1);
    expect(stats?.promotions).toBe(0);
    expect(stats?.optimizableRegions).toBe(1);
    expect(f.x(A.a0)).toBe((BigInt(n) * BigInt(n + 1)) / 2n);
  });
});

describe("compile thresholds follow the measured cost of a region", () => {
  test("a tier starts at the cold generator's cost, and its factor falls to 1 as regions come cheap", () => {
    const arena = Arena.create();
    if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
    const tier = new WasmTier(arena, false, true, new RegionCostEstimate());
    // Regions compiled on the hart's thread are not dearer at first: the factor applies with a compiler thread.
    expect(tier.costFactor).toBe(1);
    tier.compileThread = compileService();
    expect(tier.compileThread).toBeDefined();
    expect(tier.cost.ms).toBe(COLD_REGION_COST_MS);
    expect(tier.costFactor).toBe(Math.min(MAX_COST_FACTOR, COLD_REGION_COST_MS / WARM_REGION_COST_MS));
    // Dearer than the cap: the factor stops there.
    for (let k = 0; k < 40; k++) tier.cost.note(1000);
    expect(tier.costFactor).toBe(MAX_COST_FACTOR);
    // Warm regions: the average comes down to their cost, and the thresholds to their usual values.
    for (let k = 0; k < 200; k++) tier.cost.note(WARM_REGION_COST_MS / 2);
    expect(tier.cost.ms).toBeCloseTo(WARM_REGION_COST_MS / 2, 3);
    expect(tier.costFactor).toBe(1);
  });

  /** A hart running `program` at RAM_BASE with a tier of its own whose estimate starts cold, as a process's first. */
  function coldTier(program: Uint8Array): {
    f: HartFixture;
    tier: WasmTier;
    requested: () => number;
    run: (until: number) => void;
  } {
    const f = makeHart({ arena: true });
    const arena = f.memory.arena;
    if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
    const tier = new WasmTier(arena, false, true, new RegionCostEstimate());
    f.memory.wasmTier = tier;
    f.write(RAM_BASE, program);
    const run = (until: number): void => {
      while (f.hart.icount < until) {
        f.hart.stop = STOP_NONE;
        runFast(f.hart, until - f.hart.icount, DEFAULT_ENGINE_OPTIONS);
      }
    };
    return { f, tier, requested: () => tier.stats.pending + tier.stats.regions + tier.stats.failures, run };
  }

  /** `body` additions and a jump back to the first: the loop's head is landed on once every body + 1 instructions. */
  function additionLoop(body: number): Uint8Array {
    const p = new A.Program(RAM_BASE);
    p.label("top");
    for (let k = 0; k < body; k++) p.emit(A.addi(A.a0, A.a0, 1));
    p.ref("top", (off) => A.jal(0, off));
    return p.assemble();
  }

  const COLD_FACTOR = Math.min(MAX_COST_FACTOR, COLD_REGION_COST_MS / WARM_REGION_COST_MS);

  test("a cold tier compiles a page run long interpreted at the whole cost factor times the volume", () => {
    // 900 additions and a jump back: landings far too rare for the heat rule, one page of volume.
    const { tier, requested, run } = coldTier(additionLoop(900));
    expect(COLD_FACTOR).toBeGreaterThan(MAX_HEAT_COST_FACTOR);
    const threshold = INTERPRETED_HOT_INSNS_OFF_THREAD * COLD_FACTOR;
    run(threshold - 10_000);
    expect(tier.costFactor).toBe(COLD_FACTOR);
    expect(requested()).toBe(0);
    run(threshold + 10_000);
    expect(requested()).toBe(1);
  });

  test("while compiling is dear the heat rule takes only loops landed on at COLD_MIN_HEAT_RATE, at most MAX_HEAT_COST_FACTOR times the landings", () => {
    expect(COLD_FACTOR).toBeGreaterThan(COLD_COST_FACTOR);
    // Landed on every 101 instructions: above MIN_HEAT_RATE, below COLD_MIN_HEAT_RATE.
    const body = 100;
    expect(1 / (body + 1)).toBeGreaterThan(MIN_HEAT_RATE);
    expect(1 / (body + 1)).toBeLessThan(COLD_MIN_HEAT_RATE);
    const landings = WASM_HOT_THRESHOLD * MAX_HEAT_COST_FACTOR;
    // Twice the landings the heat rule would want, still short of the volume rule's threshold.
    const enough = 2 * landings * (body + 1);
    expect(enough).toBeLessThan(INTERPRETED_HOT_INSNS_OFF_THREAD * COLD_FACTOR);
    const cold = coldTier(additionLoop(body));
    cold.run(enough);
    expect(cold.requested()).toBe(0);
    // The same loop once regions come cheap: compiled at the usual threshold.
    const warm = coldTier(additionLoop(body));
    for (let k = 0; k < 200; k++) warm.tier.cost.note(WARM_REGION_COST_MS);
    warm.run(2 * WASM_HOT_THRESHOLD * (body + 1));
    expect(warm.requested()).toBe(1);
    // A tight loop is compiled cold, at MAX_HEAT_COST_FACTOR times the landings rather than the whole factor.
    const tight = coldTier(additionLoop(3));
    tight.run(landings * 4 - 10_000);
    expect(tight.requested()).toBe(0);
    tight.run(landings * 4 + 2 * 1024 * 4);
    expect(tight.requested()).toBe(1);
  });

  test("the tiers of a thread share one estimate: a VM made after regions came cheap starts warm", () => {
    const arena = Arena.create();
    if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
    const shared = new RegionCostEstimate();
    const first = new WasmTier(arena, false, true, shared);
    first.compileThread = compileService();
    for (let k = 0; k < 200; k++) first.cost.note(WARM_REGION_COST_MS / 2);
    const second = new WasmTier(arena, false, true, shared);
    second.compileThread = first.compileThread;
    expect(second.costFactor).toBe(1);
    // By default a tier follows its thread's estimate.
    expect(new WasmTier(arena, false).cost).toBe(threadRegionCost);
  });
});
