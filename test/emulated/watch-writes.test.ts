/**
 * Watched ranges (PhysicalMemory.watchWrites, HostMemory.watchWrites): a hart's store into one ends its run right
 * after the store, on every engine, so the VMM sees a memory mailbox's request (HTIF's tohost) at once; stores
 * elsewhere on the same page, and runs without a watch, go on as before.
 */

import { describe, expect, test } from "bun:test";
import { STOP_KICK } from "../../src/hal/emulated/hart.ts";
import * as A from "./asm.ts";
import { type Engine, makeHart, RAM_BASE } from "./fixture.ts";

/** Where the program stores: a page of its own, 8 KiB above the code. */
const DATA = RAM_BASE + 0x2000;
const ROUNDS = 1000;

/**
 * Store a0 = 1..ROUNDS at DATA + 8 (beside the watched doubleword), then once at DATA with `last` (a store, or an
 * AMO), then spin. Returns the program and the spin loop's address.
 */
function program(last: "sd" | "amoadd"): { code: Uint8Array; spin: number } {
  const p = new A.Program(RAM_BASE);
  p.emit(A.auipc(A.t0, DATA - RAM_BASE), A.li(A.a0, 0), A.li(A.a1, ROUNDS));
  p.label("loop");
  p.emit(A.addi(A.a0, A.a0, 1), A.sd(A.a0, A.t0, 8));
  p.ref("loop", (off) => A.bne(A.a0, A.a1, off));
  p.emit(last === "sd" ? A.sd(A.a0, A.t0, 0) : A.amoaddD(A.a2, A.a0, A.t0));
  p.label("spin");
  p.ref("spin", (off) => A.jal(A.zero, off));
  const code = p.assemble();
  return { code, spin: RAM_BASE + code.length - 4 };
}

const ENGINES: Engine[] = ["reference", "fast", "winterp", "jit", "wasm"];

describe("watched ranges", () => {
  for (const engine of ENGINES) {
    for (const last of ["sd", "amoadd"] as const) {
      test(`${engine}: a ${last} into a watched range ends the run right after it; stores beside it do not`, () => {
        const f = makeHart({ arena: true });
        const { code, spin } = program(last);
        f.write(RAM_BASE, code);
        f.memory.watchWrites(f.ram, DATA - RAM_BASE, 8);
        const retired = f.run(1_000_000, engine);
        expect(f.hart.stop).toBe(STOP_KICK);
        expect(f.hart.pc).toBe(spin);
        expect(f.read64(DATA)).toBe(BigInt(ROUNDS));
        expect(f.read64(DATA + 8)).toBe(BigInt(ROUNDS));
        // The prologue, ROUNDS iterations of three instructions and the store.
        expect(retired).toBe(3 + 3 * ROUNDS + 1);
        // Not watched any more than that: the next run spins to its budget.
        expect(f.run(100_000, engine)).toBeGreaterThanOrEqual(100_000);
      });
    }
  }

  test("without a watch the same program runs to its budget", () => {
    const f = makeHart({ arena: true });
    f.write(RAM_BASE, program("sd").code);
    expect(f.run(1_000_000, "wasm")).toBeGreaterThanOrEqual(1_000_000);
    expect(f.read64(DATA)).toBe(BigInt(ROUNDS));
  });

  test("a range at a page's end, and one outside the block, are clipped to the block", () => {
    const f = makeHart({ arena: true });
    f.memory.watchWrites(f.ram, f.ram.size - 4, 64);
    expect(f.ram.watchedRanges).toEqual([[f.ram.size - 4, f.ram.size]]);
    f.memory.watchWrites(f.ram, f.ram.size + 4096, 8);
    expect(f.ram.watchedRanges.length).toBe(1);
  });
});
