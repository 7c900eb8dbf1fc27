/**
 * The WebAssembly interpreter and the WebAssembly tier's regions together (wasm/interp-module.ts): the interpreter
 * enters a region where one starts a block, a region's return to a page without one goes on in the interpreter,
 * and the interpreter keeps the counters the run loop compiles pages by (a page's region misses and its
 * interpreted volume), leaving the page to the run loop when one reaches the run loop's limit. Results are checked
 * against the reference interpreter.
 *
 * The program: page A loops, calling a function on page B (8 KiB away) each time. Page A gets its region by hand;
 * the landing threshold is out of reach, so page B is compiled only by the miss or volume rules.
 */

import { describe, expect, test } from "bun:test";
import {
  DEFAULT_ENGINE_OPTIONS,
  type EngineOptions,
  INTERPRETED_HOT_INSNS,
  REGION_MISS_THRESHOLD,
  runFast,
} from "../../src/hal/emulated/engine.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, RAM_BASE } from "./fixture.ts";

/** Regions compiled on the hart's thread (no compiler thread), never by landings. */
const OPTIONS: EngineOptions = {
  ...DEFAULT_ENGINE_OPTIONS,
  jit: true,
  wasm: true,
  wasmThreshold: 2 ** 30,
  wasmSync: true,
  wasmCompileThread: false,
};
const PAGE_B = RAM_BASE + 0x2000;

/** Page A calls page B's function `iterations` times; the function is `bodyLength` ALU instructions and a return. */
function program(iterations: number, bodyLength: number): { bytes: Uint8Array; entries: number[] } {
  const p = new A.Program(RAM_BASE);
  p.emit(A.li(A.s0, iterations), A.li(A.a0, 0), A.li(A.a1, 7));
  const loop = p.pc - RAM_BASE;
  p.label("loop");
  p.ref("f", (off) => A.jal(A.ra, off));
  const afterCall = p.pc - RAM_BASE;
  p.emit(A.addi(A.s0, A.s0, -1));
  p.ref("loop", (off) => A.bne(A.s0, A.zero, off));
  p.label("end");
  p.ref("end", (off) => A.jal(0, off));
  while (p.pc < PAGE_B) p.emit(A.addi(A.zero, A.zero, 0));
  p.label("f");
  for (let k = 0; k < bodyLength; k++) p.emit(k % 2 === 0 ? A.add(A.a0, A.a0, A.a1) : A.xori(A.a1, A.a1, k));
  p.emit(A.jalr(0, A.ra, 0));
  return { bytes: p.assemble(), entries: [0, loop, afterCall] };
}

/** Run `bytes` with page A's region compiled by hand (blocks at `entries`), until the end loop. */
function runWithRegionOnA(bytes: Uint8Array, entries: number[], steps: number): HartFixture {
  const f = makeHart({ ramSize: 1 << 20, arena: true });
  f.write(RAM_BASE, bytes);
  runFast(f.hart, 1, OPTIONS); // makes the tier (and decodes the first slot)
  const tier = f.memory.wasmTier;
  if (tier === undefined) throw new Error("no WebAssembly tier");
  const pageA = f.memory.codePage(f.ram, 0);
  const region = tier.compile(pageA, f.view, 0, { entries, optimizable: false }, { syncMaxBytes: Infinity });
  expect(region).toBeDefined();
  let used = 0;
  while (used < steps && f.hart.stop === STOP_NONE) {
    used += runFast(f.hart, steps - used, OPTIONS);
    f.hart.stop = STOP_NONE;
  }
  return f;
}

function expectReference(f: HartFixture, bytes: Uint8Array): void {
  const ref = makeHart({ ramSize: 1 << 20 });
  ref.write(RAM_BASE, bytes);
  ref.run(f.hart.icount);
  expect({ pc: f.hart.pc, a0: f.x(A.a0), a1: f.x(A.a1), s0: f.x(A.s0) }).toEqual({
    pc: ref.hart.pc,
    a0: ref.x(A.a0),
    a1: ref.x(A.a1),
    s0: ref.x(A.s0),
  });
}

describe("the WebAssembly interpreter and the regions", () => {
  test("the interpreter enters page A's region after each call returns, and page B's misses and volume are counted", () => {
    const iterations = 1000;
    const { bytes, entries } = program(iterations, 6);
    const f = runWithRegionOnA(bytes, entries, 40_000);
    expect(f.x(A.s0)).toBe(0n);
    expectReference(f, bytes);
    const stats = f.hart.stats;
    // The first entry is the run loop's; after that, every return from B lands on A's region in the interpreter.
    expect(stats.interpreterRegionEntries).toBeGreaterThanOrEqual(iterations - 5);
    expect(f.memory.wasmTier?.stats.regions).toBe(1);
    const pageB = f.memory.codePage(f.ram, 2);
    // Each call made in A's region left it for B, which has none: a miss of B each, counted by the run loop or
    // by the interpreter. (The run loop may run the first call itself, before A's fetch-TLB entry names its region.)
    expect(stats.regionReturnsNoRegion).toBeGreaterThanOrEqual(iterations - 2);
    expect(pageB.regionMisses).toBe(stats.regionReturnsNoRegion);
    // B's function (7 instructions) ran interpreted each time, counted on B's page although no run began there.
    expect(pageB.interpreted).toBe(7 * iterations);
  });

  test("at the run loop's miss limit, page B is left to the run loop, which compiles it", () => {
    const iterations = REGION_MISS_THRESHOLD + 500;
    const { bytes, entries } = program(iterations, 6);
    const f = runWithRegionOnA(bytes, entries, 200_000);
    expect(f.x(A.s0)).toBe(0n);
    expectReference(f, bytes);
    expect(f.memory.wasmTier?.stats.regions).toBe(2);
    expect(f.memory.codePage(f.ram, 2).region).toBeDefined();
  });

  test("at the run loop's volume limit, page B is left to the run loop, which compiles it", () => {
    // 300 instructions a call: the volume rule (INTERPRETED_HOT_INSNS) comes long before the miss rule.
    const bodyLength = 300;
    const iterations = Math.ceil(INTERPRETED_HOT_INSNS / bodyLength) + 200;
    expect(iterations).toBeLessThan(REGION_MISS_THRESHOLD);
    const { bytes, entries } = program(iterations, bodyLength);
    const f = runWithRegionOnA(bytes, entries, 4_000_000);
    expect(f.x(A.s0)).toBe(0n);
    expectReference(f, bytes);
    expect(f.memory.wasmTier?.stats.regions).toBe(2);
    expect(f.memory.codePage(f.ram, 2).regionMisses).toBeLessThan(REGION_MISS_THRESHOLD);
  });
});
