/**
 * Warming a region up (wasm/warm-up.ts): entering it over scratch state, whatever its code does, returns at once
 * and touches nothing but the scratch memory.
 */

import { expect, test } from "bun:test";
import { baselineOnly } from "../../src/hal/emulated/wasm/baseline-only.ts";
import { compileRegion } from "../../src/hal/emulated/wasm/compile.ts";
import { planRegion } from "../../src/hal/emulated/wasm/region.ts";
import { WARM_UP_CALLS, warmUpRegion } from "../../src/hal/emulated/wasm/warm-up.ts";
import * as A from "./asm.ts";

const PAGE = 4096;

function moduleOf(program: Uint8Array, entries: number[], threaded: boolean): WebAssembly.Module {
  const page = new Uint8Array(PAGE);
  page.set(program);
  const plan = planRegion(new DataView(page.buffer), 0, entries);
  if (plan === undefined) throw new Error("nothing to compile");
  return new WebAssembly.Module(baselineOnly(compileRegion(plan, 0x10000, threaded).bytes));
}

test("every warm-up call returns, from a region that loops forever, loads, stores, makes an AMO and calls out", () => {
  const p = new A.Program(0);
  p.label("spin");
  p.ref("spin", (off) => A.jal(0, off)); // a self-loop: left by the limit check
  p.label("work");
  p.emit(A.addi(A.a0, A.a0, 1), A.sd(A.a0, A.a1, 0), A.ld(A.a2, A.a1, 8), A.amoaddD(A.a4, A.a1, A.a0));
  p.emit(A.csrr(A.a3, 0x100), A.ecall());
  p.ref("work", (off) => A.jal(0, off));
  const program = p.assemble();
  for (const threaded of [false, true]) {
    expect(warmUpRegion(moduleOf(program, [0], threaded))).toBe(WARM_UP_CALLS);
    expect(warmUpRegion(moduleOf(program, [p.address("work")], threaded))).toBe(WARM_UP_CALLS);
  }
});
