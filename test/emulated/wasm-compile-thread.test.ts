/**
 * Regions compiled on the compiler thread (wasm/compile-service.ts): the hart posts a copy of the page and goes on
 * interpreting; the region is installed when the run loop finds the reply, unless the page was written meanwhile.
 * Either way the architectural result is the reference interpreter's.
 */

import { describe, expect, test } from "bun:test";
import {
  COMPILE_AT_FIRST_LANDING,
  DEFAULT_ENGINE_OPTIONS,
  type EngineOptions,
  runFast,
} from "../../src/hal/emulated/engine.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { CompileService, compileService } from "../../src/hal/emulated/wasm/compile-service.ts";
import { compileJob } from "../../src/hal/emulated/wasm/compile-thread.ts";
import { ModuleCache } from "../../src/hal/emulated/wasm/module-cache.ts";
import { COLD_SYNC_MAX_INSNS } from "../../src/hal/emulated/wasm/tier.ts";
import * as A from "./asm.ts";
import { compileSumLoopPage, type HartFixture, sumLoop as loop, makeHart, RAM_BASE } from "./fixture.ts";

/** Compile at the first landing, on the compiler thread. */
const ON_THREAD: EngineOptions = { ...COMPILE_AT_FIRST_LANDING, wasmSync: false };
const PAGE = 4096;

function run(f: HartFixture, steps: number): void {
  f.hart.stop = STOP_NONE;
  runFast(f.hart, steps, ON_THREAD);
}

/**
 * Until `f`'s tier has no compile outstanding, turn the event loop and call `deliver` (which delivers the compiler
 * thread's replies); by default the run loop delivers them, in runs of a few instructions.
 */
async function untilDelivered(f: HartFixture, deliver = (): void => run(f, 10)): Promise<void> {
  const stats = f.memory.wasmTier?.stats;
  const deadline = Date.now() + 20_000;
  while ((stats?.pending ?? 0) > 0) {
    if (Date.now() > deadline) throw new Error("the compiler thread did not answer within 20 s");
    await Bun.sleep(1);
    deliver();
  }
}

describe("WebAssembly tier, compiler thread", () => {
  test("is available on the main thread", () => {
    expect(compileService()).toBeDefined();
  });

  test("a hot page is compiled there while the hart interprets, then runs compiled with the reference's result", async () => {
    // Started first: a region this small asked for before would be compiled on the hart's thread (COLD_SYNC_MAX_INSNS).
    compileService()?.start();
    const f = makeHart({ arena: true });
    const n = 2_000_000;
    f.write(RAM_BASE, loop(n));
    run(f, 1000);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.threadCompiles).toBe(1);
    expect(stats?.syncCompiles).toBe(0);
    expect(f.hart.icount).toBeGreaterThan(100); // interpreting meanwhile
    await untilDelivered(f);
    expect(stats?.regions).toBe(1);
    expect(stats?.threadMs).toBeGreaterThan(0);
    const before = f.hart.stats.regionInstructions;
    while (f.x(A.a1) !== 0n) run(f, 1_000_000);
    expect(f.hart.stats.regionInstructions - before).toBeGreaterThan(n); // the loop ran in the region
    expect(f.x(A.a0)).toBe((BigInt(n) * BigInt(n + 1)) / 2n);
    const ref = makeHart();
    ref.write(RAM_BASE, loop(n));
    ref.run(f.hart.icount);
    expect(f.hart.pc).toBe(ref.hart.pc);
    expect(f.x(A.a0)).toBe(ref.x(A.a0));
  });

  test("a page written while its region compiles there drops the region", async () => {
    compileService()?.start(); // (as above)
    const f = makeHart({ arena: true });
    const n = 2_000_000;
    f.write(RAM_BASE, loop(n));
    // One step only: the compile is asked for at the first landing, and the run loop looks for replies only before
    // a step, so its reply cannot have been delivered yet when the page is written below. (With ten steps, a warm
    // compiler thread's reply sometimes came back within them once the interpreter ran in WebAssembly.)
    run(f, 1);
    const stats = f.memory.wasmTier?.stats;
    expect(stats?.pending).toBe(1);
    // Patch the loop's add into a sub: the module being compiled is now stale. The add is the fourth instruction
    // from the end (add, addi, bne, jal).
    const patched = loop(n);
    patched.set(new A.Program(RAM_BASE).emit(A.sub(A.a0, A.a0, A.a1)).assemble(), patched.length - 16);
    f.write(RAM_BASE, patched);
    const at = { pc: f.hart.pc, a0: f.x(A.a0), a1: f.x(A.a1), icount: f.hart.icount };
    // Deliver without running past the patch first.
    await untilDelivered(f, () => compileService()?.deliver());
    expect(stats?.discarded).toBe(1);
    expect(stats?.regions).toBe(0);
    while (f.x(A.a1) !== 0n) run(f, 1_000_000);
    const ref = makeHart();
    ref.write(RAM_BASE, patched);
    ref.hart.pc = at.pc;
    ref.setX(A.a0, at.a0);
    ref.setX(A.a1, at.a1);
    ref.run(f.hart.icount - at.icount);
    expect(f.x(A.a0)).toBe(ref.x(A.a0));
    expect(f.hart.pc).toBe(ref.hart.pc);
  });

  test("a second VM running the same page gets the module the thread kept, without a compile's cost", async () => {
    // A loop count no other test uses: the page's bytes are this test's own, so the first compile is a real one.
    const n = 1_234_567;
    const runToEnd = async (): Promise<HartFixture> => {
      const f = makeHart({ arena: true });
      f.write(RAM_BASE, loop(n));
      run(f, 1000);
      await untilDelivered(f);
      while (f.x(A.a1) !== 0n) run(f, 1_000_000);
      expect(f.x(A.a0)).toBe((BigInt(n) * BigInt(n + 1)) / 2n);
      return f;
    };
    const first = await runToEnd();
    expect(first.memory.wasmTier?.stats.cachedCompiles).toBe(0);
    const cost = first.memory.wasmTier?.cost.ms;
    const second = await runToEnd();
    const stats = second.memory.wasmTier?.stats;
    expect(stats?.threadCompiles).toBe(1);
    expect(stats?.cachedCompiles).toBe(1);
    expect(stats?.regions).toBe(1);
    expect(second.memory.wasmTier?.cost.ms).toBe(cost ?? -1); // a kept module says nothing of a compile's cost
  });

  test("a job whose inputs the cache has is answered from it; a page differing in one byte is compiled", () => {
    const cache = new ModuleCache();
    const page = new Uint8Array(PAGE);
    page.set(loop(10));
    const job = { id: 1, page, entries: [0], mapBase: 0x10000, threaded: false, optimizable: false };
    const compiled = compileJob(job, cache);
    const again = compileJob({ ...job, id: 2 }, cache);
    expect(compiled.kind === "compiled" && !compiled.cached).toBe(true);
    expect(again.kind === "compiled" && again.cached).toBe(true);
    if (compiled.kind !== "compiled" || again.kind !== "compiled") return;
    expect(again.id).toBe(2);
    expect(again.module).toBe(compiled.module);
    expect(again.offsets).toEqual(compiled.offsets);
    const changed = page.slice();
    changed.set(loop(11));
    const other = compileJob({ ...job, id: 3, page: changed }, cache);
    expect(other.kind === "compiled" && !other.cached).toBe(true);
  });

  test("before the thread is started a small region is compiled on the hart's thread (and the thread started); a larger one goes to it", async () => {
    const f = makeHart({ arena: true });
    f.write(RAM_BASE, loop(1000));
    f.write(RAM_BASE + PAGE, loop(1000, COLD_SYNC_MAX_INSNS)); // more instructions than COLD_SYNC_MAX_INSNS
    runFast(f.hart, 1, DEFAULT_ENGINE_OPTIONS); // makes the tier; nothing is hot yet
    const tier = f.memory.wasmTier;
    if (tier === undefined) throw new Error("no WebAssembly tier");
    const request = { entries: [0], optimizable: false };
    const small = f.memory.codePage(f.ram, 0);
    const large = f.memory.codePage(f.ram, 1);

    const service = new CompileService();
    expect(tier.compile(small, f.view, 0, request, { syncMaxBytes: 0, thread: service })).toBeDefined();
    expect(tier.stats.coldSyncCompiles).toBe(1);
    expect(tier.stats.threadCompiles).toBe(0);
    expect(service.started).toBe(true);
    expect(service.outstanding).toBe(0);
    // Started now: the next small region goes to it too.
    const again = f.memory.codePage(f.ram, 2);
    f.write(RAM_BASE + 2 * PAGE, loop(7));
    expect(tier.compile(again, f.view, 2 * PAGE, request, { syncMaxBytes: 0, thread: service })).toBeUndefined();
    expect(tier.stats.threadCompiles).toBe(1);

    const fresh = new CompileService();
    expect(tier.compile(large, f.view, PAGE, request, { syncMaxBytes: 0, thread: fresh })).toBeUndefined();
    expect(tier.stats.coldSyncCompiles).toBe(1);
    expect(tier.stats.threadCompiles).toBe(2);
    await untilDelivered(f, () => {
      service.deliver();
      fresh.deliver();
    });
    expect(tier.stats.regions).toBe(3);
  });

  test("the thread is started by the first job, not before", async () => {
    const service = new CompileService();
    expect(service.started).toBe(false);
    expect(service.hasReplies).toBe(false);
    service.deliver(); // nothing to deliver, nothing started
    expect(service.started).toBe(false);
    const reply = compileSumLoopPage(service);
    expect(service.started).toBe(true);
    expect((await reply)?.kind).toBe("compiled");
  });

  test("a job compiles a page copy to a module; a page with nothing to compile from its entries is `empty`", () => {
    const page = new Uint8Array(PAGE);
    page.set(loop(10));
    const job = { id: 7, page, entries: [0], mapBase: 0x10000, threaded: false, optimizable: false };
    const reply = compileJob(job);
    expect(reply.kind).toBe("compiled");
    if (reply.kind !== "compiled") return;
    expect(reply.id).toBe(7);
    expect(reply.module).toBeInstanceOf(WebAssembly.Module);
    expect(reply.offsets[0]).toBe(0);
    expect(reply.blockStarts[0]).toBe(0);
    // A 32-bit instruction whose second half would be on the next page: nothing to compile from there.
    const straddling = new Uint8Array(PAGE);
    straddling.set([0x13, 0x05], PAGE - 2); // the low half of `addi a0, a0, 0`
    expect(compileJob({ ...job, page: straddling, entries: [PAGE - 2] }).kind).toBe("empty");
  });
});
