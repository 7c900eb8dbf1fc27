/**
 * The WebAssembly interpreter (src/hal/emulated/wasm/interp-module.ts): where it runs, and the cases at the edges
 * of what it does itself (a store into the page it runs from, a guest write to instret, page crossings, the
 * slots it leaves to TypeScript), each against the reference interpreter. The broad comparisons (random programs,
 * the ISA programs, random words in every mode) are in differential.test.ts, isa-programs.test.ts and
 * fuzz.test.ts under the "winterp" engine.
 */

import { describe, expect, test } from "bun:test";
import { CSR_MINSTRET, CSR_SSTATUS, MSTATUS_FS, MSTATUS_SIE, MSTATUS_SUM } from "../../src/arch/riscv64/csr.ts";
import { MIP_SSIP, MIP_VSSIP } from "../../src/arch/riscv64/traps.ts";
import { Arena } from "../../src/hal/emulated/arena.ts";
import { DEFAULT_ENGINE_OPTIONS, runFast } from "../../src/hal/emulated/engine.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { CODE_PAGE_BYTES, CodePage } from "../../src/hal/emulated/phys-memory.ts";
import { TLB_MASK } from "../../src/hal/emulated/tlb.ts";
import { buildInterpreterModule } from "../../src/hal/emulated/wasm/interp-module.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, RAM_BASE } from "./fixture.ts";

/** Run `program` on the WebAssembly interpreter and on the reference interpreter; both must end alike. */
function againstReference(program: Uint8Array, steps: number): HartFixture {
  const wasm = makeHart({ ramSize: 1 << 20, arena: true });
  const ref = makeHart({ ramSize: 1 << 20 });
  for (const f of [wasm, ref]) f.write(RAM_BASE, program);
  let used = 0;
  while (used < steps && wasm.hart.stop === STOP_NONE) used += wasm.run(steps - used, "winterp");
  while (ref.hart.icount < wasm.hart.icount && ref.hart.stop === STOP_NONE) ref.run(1);
  const state = (f: HartFixture) => ({
    pc: f.hart.pc,
    icount: f.hart.icount,
    x: Array.from({ length: 32 }, (_, i) => f.x(i)),
    ram: Array.from({ length: 64 }, (_, i) => f.read64(RAM_BASE + 0x8000 + 8 * i)),
  });
  expect(state(wasm)).toEqual(state(ref));
  return wasm;
}

/**
 * Run `program` for `steps` on the WebAssembly interpreter and on the reference interpreter, each hart set up by
 * `prepare` first (its mode entered there); the caller compares what it needs.
 */
function onBoth(
  program: Uint8Array,
  steps: number,
  prepare: (f: HartFixture) => void,
): { wasm: HartFixture; ref: HartFixture } {
  const run = (engine: "winterp" | "reference"): HartFixture => {
    const f = makeHart({ ramSize: 1 << 20, arena: engine === "winterp" });
    f.write(RAM_BASE, program);
    prepare(f);
    for (let used = 0; used < steps; ) used += f.run(steps - used, engine);
    return f;
  };
  return { wasm: run("winterp"), ref: run("reference") };
}

describe("WebAssembly interpreter", () => {
  test("the module validates, threaded and not", () => {
    for (const threaded of [false, true]) expect(WebAssembly.validate(buildInterpreterModule(threaded))).toBe(true);
  });

  test("a code page's decode cache is in the arena when there is one, and ordinary arrays otherwise", () => {
    const arena = Arena.create();
    if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
    const inArena = new CodePage(arena);
    expect(inArena.arenaBase).toBeGreaterThan(0);
    expect(inArena.slots.buffer).toBe(arena.buffer);
    expect(inArena.heatStart.byteOffset + inArena.heatStart.byteLength).toBeLessThanOrEqual(
      inArena.arenaBase + CODE_PAGE_BYTES,
    );
    // The page-end sentinel is set in the arena copy as in the plain one.
    const plain = new CodePage();
    expect(plain.arenaBase).toBe(-1);
    expect(inArena.slots[4096]).toBe(plain.slots[4096]);
    // Two pages never overlap.
    const next = new CodePage(arena);
    expect(next.arenaBase).toBeGreaterThanOrEqual(inArena.arenaBase + CODE_PAGE_BYTES);
  });

  test("a loop of loads, stores, ALU operations and branches retires in WebAssembly, as the reference does", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.s0, RAM_BASE + 0x8000), A.li(A.t0, 0), A.li(A.s1, 200), A.li(A.s2, -7));
    p.label("loop");
    p.emit(A.andi(A.t1, A.t0, 0x1f8), A.add(A.t1, A.t1, A.s0), A.ld(A.t2, A.t1, 0), A.add(A.t2, A.t2, A.t0));
    p.emit(A.mul(A.t3, A.t2, A.s2), A.sraiw(A.t4, A.t3, 3), A.sltu(A.t5, A.t4, A.t3), A.sd(A.t2, A.t1, 0));
    p.emit(A.sw(A.t4, A.t1, 4), A.lbu(A.a0, A.t1, 5), A.lh(A.a1, A.t1, 6), A.subw(A.a2, A.a0, A.a1));
    p.emit(A.sll(A.a3, A.a2, A.t0), A.sra(A.a4, A.s2, A.t0), A.slti(A.a5, A.a4, -3), A.addi(A.t0, A.t0, 1));
    p.ref("loop", (off) => A.blt(A.t0, A.s1, off));
    p.emit(A.addi(A.zero, A.t0, 5)); // x0 stays 0
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 4000);
    expect(f.hart.stats.wasmInterpreted).toBeGreaterThan(3000);
    expect(f.x(0)).toBe(0n);
  });

  test("landings of backward branches and jumps are counted, of forward branches inside the page not, by both interpreters", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.t0, 0), A.li(A.s1, 100), A.li(A.a0, 0));
    p.label("loop");
    p.emit(A.addi(A.t0, A.t0, 1), A.andi(A.t1, A.t0, 1));
    p.ref("skip", (off) => A.beq(A.t1, A.zero, off)); // forward, taken every other time
    p.emit(A.addi(A.a0, A.a0, 1));
    p.label("skip");
    p.ref("loop", (off) => A.blt(A.t0, A.s1, off)); // backward, taken 99 times
    p.ref("call", (off) => A.jal(A.ra, off)); // forward jump: counted
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    p.label("call");
    p.emit(A.jalr(0, A.ra, 0)); // back to `end`: counted
    const program = p.assemble();
    // Thresholds nothing reaches: every landing is counted and nothing is compiled.
    const counting = { ...DEFAULT_ENGINE_OPTIONS, hotThreshold: 2 ** 30, hotLoopThreshold: 2 ** 30 };
    const heatAt = (wasmInterpreter: boolean): number[] => {
      const f = makeHart({ ramSize: 1 << 20, arena: true });
      f.write(RAM_BASE, program);
      let used = 0;
      while (used < 700) used += runFast(f.hart, 700 - used, { ...counting, wasmInterpreter });
      if (wasmInterpreter) expect(f.hart.stats.wasmInterpreted).toBeGreaterThan(600);
      expect(f.x(A.a0)).toBe(50n);
      const code = f.hart.itlb.xcode[(RAM_BASE >>> 12) & TLB_MASK];
      if (code === undefined) throw new Error("the program's page is not in the fetch TLB");
      return ["loop", "skip", "call", "end"].map((label) => code.heat[(p.address(label) - RAM_BASE) >> 1] ?? -1);
    };
    const inWasm = heatAt(true);
    expect(inWasm.slice(0, 3)).toEqual([99, 0, 1]); // loop, skip, call
    expect(inWasm[3]).toBeGreaterThan(1); // end: the return, then `j end` landing on itself
    expect(heatAt(false)).toEqual(inWasm);
  });

  test("a decoded page keeps whole instructions only for the slots TypeScript runs whole", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.s0, RAM_BASE + 0x8000), A.li(A.a0, 5), A.add(A.a1, A.a0, A.a0));
    p.label("store");
    p.emit(A.sd(A.a1, A.s0, 0)); // its first run misses the TLB copy: the slow path takes the whole instruction
    p.label("csr");
    p.emit(A.csrr(A.a2, CSR_MINSTRET), A.sd(A.a2, A.s0, 8)); // the second store hits the TLB copy
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 40);
    const code = f.hart.itlb.xcode[(RAM_BASE >>> 12) & TLB_MASK];
    if (code === undefined) throw new Error("the program's page is not in the fetch TLB");
    const kept = code.insns.flatMap((insn, slot) => (insn === undefined ? [] : [2 * slot]));
    expect(kept).toEqual([p.address("store") - RAM_BASE, p.address("csr") - RAM_BASE]);
    expect(code.count).toBeGreaterThan(6);
  });

  test.each(["HS", "VS"] as const)(
    "sstatus in %s-mode: reads and SIE turned on or off in WebAssembly, the rest in TypeScript, as the reference does",
    (mode) => {
      const p = new A.Program(RAM_BASE);
      p.emit(A.li(A.t0, MSTATUS_SIE), A.li(A.t1, MSTATUS_SUM));
      p.emit(A.csrr(A.a0, CSR_SSTATUS)); // read (FS dirty: SD set)
      p.emit(A.csrrci(A.a1, CSR_SSTATUS, MSTATUS_SIE)); // SIE off
      p.emit(A.csrrc(A.a2, CSR_SSTATUS, A.t0)); // nothing changes
      p.emit(A.csrrs(A.a3, CSR_SSTATUS, A.t0)); // SIE on (no interrupt pending)
      p.emit(A.csrrc(A.zero, CSR_SSTATUS, A.t0)); // SIE off, rd = x0
      p.emit(A.csrrs(A.a4, CSR_SSTATUS, A.t1)); // SUM on (the translation context): TypeScript
      p.emit(A.csrrwi(A.a5, CSR_SSTATUS, 0)); // everything writable off: TypeScript
      p.emit(A.csrrsi(A.a6, CSR_SSTATUS, 0), A.csrr(A.a7, CSR_MINSTRET)); // read; an M-mode CSR: an illegal instruction
      p.label("end");
      p.ref("end", (off) => A.jal(0, off));
      const program = p.assemble();
      const { wasm, ref } = onBoth(program, 30, (f) => {
        f.hart.mstatus |= MSTATUS_FS | MSTATUS_SIE;
        f.hart.vsstatus |= MSTATUS_FS | MSTATUS_SIE;
        f.hart.mtvec = p.address("end"); // the illegal instruction traps to M, to `end`
        f.enter(mode, RAM_BASE);
      });
      const state = (f: HartFixture) => ({
        x: Array.from({ length: 32 }, (_, i) => f.x(i)),
        mstatus: f.hart.mstatus,
        vsstatus: f.hart.vsstatus,
        pc: f.hart.pc,
        mcause: f.hart.mcauseLo,
      });
      expect(state(wasm)).toEqual(state(ref));
      expect(wasm.x(A.a0) >> 63n).toBe(1n); // SD
      expect(wasm.x(A.a1) & BigInt(MSTATUS_SIE)).toBe(BigInt(MSTATUS_SIE));
      // In TypeScript: SUM on, the write of 0, the M-mode CSR (which trapped).
      expect(wasm.hart.stats.wasmInterpreterSteps).toBe(3);
    },
  );

  test.each(["HS", "VS"] as const)(
    "in %s-mode, SIE turned on with a supervisor interrupt pending takes it right after the write, as the reference",
    (mode) => {
      const p = new A.Program(RAM_BASE);
      p.emit(A.li(A.t0, MSTATUS_SIE), A.li(A.a0, 1));
      p.emit(A.csrrs(A.a1, CSR_SSTATUS, A.t0)); // the interrupt is taken before the next instruction
      p.label("after");
      p.emit(A.li(A.a0, 2));
      p.label("spin");
      p.ref("spin", (off) => A.jal(0, off));
      p.label("handler");
      p.emit(A.li(A.a2, 3));
      p.label("end");
      p.ref("end", (off) => A.jal(0, off));
      const program = p.assemble();
      const { wasm, ref } = onBoth(program, 20, (f) => {
        f.hart.mstatus &= ~MSTATUS_SIE;
        f.hart.vsstatus &= ~MSTATUS_SIE;
        // A supervisor software interrupt, pending and enabled, delegated to HS (and to VS as VSSIP).
        f.hart.mideleg |= MIP_SSIP | MIP_VSSIP;
        f.hart.hideleg |= MIP_VSSIP;
        f.hart.mie |= mode === "HS" ? MIP_SSIP : MIP_VSSIP;
        if (mode === "HS") f.hart.mipSoft |= MIP_SSIP;
        else f.hart.hvip |= MIP_VSSIP;
        f.hart.stvec = p.address("handler");
        f.hart.vstvec = p.address("handler");
        f.enter(mode, RAM_BASE);
      });
      const state = (f: HartFixture) => ({
        x: Array.from({ length: 32 }, (_, i) => f.x(i)),
        pc: f.hart.pc,
        sepc: mode === "HS" ? f.hart.sepc : f.hart.vsepc,
        scause: mode === "HS" ? f.hart.scauseLo : f.hart.vscauseLo,
      });
      expect(state(wasm)).toEqual(state(ref));
      expect(wasm.x(A.a0)).toBe(1n); // taken before `li a0, 2`
      expect(wasm.x(A.a2)).toBe(3n);
      expect(state(wasm).sepc).toBe(p.address("after"));
    },
  );

  test("a decode asked for decodes the straight line after the slot, up to a jump", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.a0, 1));
    p.label("ecall");
    p.emit(A.ecall()); // a trap: what follows never runs
    p.label("after");
    p.emit(A.addi(A.a2, A.a2, 1));
    p.label("jump");
    p.ref("end", (off) => A.jal(0, off));
    p.label("beyond");
    p.emit(A.addi(A.a3, A.a3, 1));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = makeHart({ ramSize: 1 << 20, arena: true });
    f.write(RAM_BASE, p.assemble());
    f.hart.mtvec = p.address("end");
    f.run(3, "winterp");
    expect(f.hart.mcauseLo).toBe(11); // an environment call from M-mode
    expect(f.hart.pc).toBe(p.address("end"));
    const code = f.hart.itlb.xcode[(RAM_BASE >>> 12) & TLB_MASK];
    if (code === undefined) throw new Error("the program's page is not in the fetch TLB");
    const decoded = (label: string) => (code.slots[p.address(label) - RAM_BASE] ?? 0) !== 0;
    expect([decoded("ecall"), decoded("after"), decoded("jump"), decoded("beyond")]).toEqual([true, true, true, false]);
  });

  test("a store into the page it runs from changes the next instruction run from there", () => {
    // The store takes the slow path (the page holds code, so the write TLB never maps it), which drops the
    // page's decode cache under the running interpreter; the rewritten slot is decoded again.
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.a0, 1), A.li(A.t1, A.addi(A.a0, A.a0, 100)));
    // t0 = the address of the instruction after the store (auipc, addi and sw are 4 bytes each).
    p.emit(A.auipc(A.t0, 0), A.addi(A.t0, A.t0, 12), A.sw(A.t1, A.t0, 0));
    p.emit(A.addi(A.a0, A.a0, 1)); // becomes addi a0, a0, 100 before it runs
    p.emit(A.addi(A.a1, A.a0, 0));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 200);
    expect(f.x(A.a1)).toBe(101n);
  });

  test("a guest write to instret is kept, and the count goes on from it", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.t0, 5000), A.addi(A.a0, A.zero, 1), A.csrw(CSR_MINSTRET, A.t0), A.addi(A.a0, A.a0, 1));
    p.emit(A.addi(A.a0, A.a0, 1), A.csrr(A.a1, CSR_MINSTRET));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 100);
    expect(f.x(A.a1)).toBe(5002n);
  });

  test("calls, returns and falls through across pages, as the reference does", () => {
    // Code on three pages: straight-line code runs off the end of the first, a call lands on the third and
    // returns to the second.
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.s0, 0), A.li(A.s1, 40));
    p.label("again");
    while (p.pc < RAM_BASE + 0x1000 - 8) p.emit(A.addi(A.s0, A.s0, 3));
    p.emit(A.addi(A.s0, A.s0, 1), A.xori(A.s0, A.s0, 5), A.addi(A.s0, A.s0, 2)); // across the page end
    p.ref("far", (off) => A.jal(A.ra, off));
    p.emit(A.addi(A.s1, A.s1, -1));
    p.ref("again", (off) => A.bne(A.s1, A.zero, off));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    while (p.pc < RAM_BASE + 0x2010) p.emit(A.addi(A.zero, A.zero, 0));
    p.label("far");
    p.emit(A.slli(A.a0, A.s0, 1), A.add(A.s0, A.s0, A.a0), A.jalr(0, A.ra, 0));
    const f = againstReference(p.assemble(), 60_000);
    expect(f.hart.stats.wasmInterpreted).toBeGreaterThan(40_000);
  });

  test("AMOs, LR and SC run in WebAssembly (every operation, word and doubleword), as the reference does", () => {
    const p = new A.Program(RAM_BASE);
    // s0: the words, s1: the doublewords; operands with the sign bit set and clear in each width.
    p.emit(A.li(A.s0, RAM_BASE + 0x8000), A.li(A.s1, RAM_BASE + 0x8100), A.li(A.s2, 0));
    p.emit(A.li(A.a0, -0x1234_5678_9abc_def1n), A.li(A.a1, 0x7fff_fff3), A.li(A.a2, -3), A.li(A.a3, 0x8000_0001));
    p.label("loop");
    const word = [A.amoaddW, A.amoswapW, A.amoxorW, A.amoorW, A.amoandW];
    const wordOrder = [A.amominW, A.amomaxW, A.amominuW, A.amomaxuW];
    const dword = [A.amoaddD, A.amoswapD, A.amoxorD, A.amoorD, A.amoandD];
    const dwordOrder = [A.amominD, A.amomaxD, A.amominuD, A.amomaxuD];
    [...word, ...wordOrder].forEach((amo, k) => {
      p.emit(A.addi(A.t0, A.s0, 4 * k), amo(A.t1, [A.a0, A.a1, A.a2, A.a3][k % 4] ?? A.a0, A.t0));
      p.emit(A.add(A.s2, A.s2, A.t1));
    });
    [...dword, ...dwordOrder].forEach((amo, k) => {
      p.emit(A.addi(A.t0, A.s1, 8 * k), amo(A.t1, [A.a3, A.a2, A.a1, A.a0][k % 4] ?? A.a0, A.t0));
      p.emit(A.xor(A.s2, A.s2, A.t1));
    });
    p.emit(A.amoaddW(A.zero, A.a1, A.s0)); // rd = x0: the old value is dropped
    // An LR/SC pair, then the operands move on.
    p.emit(A.lrD(A.t2, A.s1), A.add(A.t2, A.t2, A.a2), A.scD(A.t3, A.t2, A.s1), A.add(A.s2, A.s2, A.t3));
    p.emit(A.slli(A.t4, A.a0, 7), A.xor(A.a0, A.a0, A.t4), A.addi(A.a1, A.a1, 0x35), A.addi(A.a2, A.a2, -11));
    p.emit(A.srli(A.t4, A.a3, 3), A.add(A.a3, A.a3, A.t4));
    p.ref("loop", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 3000);
    // Only the first accesses to each page (TLB fills) step into TypeScript.
    expect(f.hart.stats.wasmInterpreterSteps).toBeLessThan(10);
    expect(f.hart.stats.wasmInterpreted).toBeGreaterThan(2500);
  });

  test("LR and SC share the reservation with TypeScript: SC fails without one, at another address, or twice", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.s1, RAM_BASE + 0x8000), A.li(A.a2, 0x1234_5678_9abc_def0n), A.li(A.a3, 77));
    p.emit(A.sd(A.a3, A.s1, 0), A.sd(A.a3, A.s1, 8));
    p.emit(A.scD(A.t0, A.a2, A.s1), A.sd(A.t0, A.s1, 16)); // no reservation: fails, stores nothing
    // LR here, a CSR read in TypeScript between, SC here: succeeds.
    p.emit(A.lrD(A.t1, A.s1), A.csrr(A.t2, CSR_MINSTRET), A.scD(A.t0, A.a2, A.s1), A.sd(A.t0, A.s1, 24));
    p.emit(A.addi(A.s2, A.s1, 8));
    p.emit(A.lrW(A.t1, A.s1), A.scW(A.t0, A.a2, A.s2), A.sd(A.t0, A.s1, 32)); // another address: fails
    p.emit(A.lrD(A.t1, A.s2), A.scD(A.t0, A.a3, A.s2), A.scD(A.t3, A.a2, A.s2)); // the second SC fails
    p.emit(A.sd(A.t0, A.s1, 40), A.sd(A.t3, A.s1, 48), A.sd(A.t1, A.s1, 56));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 200);
    expect([16, 24, 32, 40, 48].map((o) => f.read64(RAM_BASE + 0x8000 + o))).toEqual([1n, 0n, 1n, 0n, 1n]);
    expect(f.read64(RAM_BASE + 0x8000)).toBe(0x1234_5678_9abc_def0n);
    // The CSR read, and the first store and load of the page (TLB fills).
    expect(f.hart.stats.wasmInterpreterSteps).toBeLessThanOrEqual(3);
  });

  test("the operations it leaves to TypeScript (bit manipulation, CSRs) run there", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.a0, -12345678901n), A.li(A.a1, 977), A.li(A.a2, 0));
    p.emit(A.clz(A.t0, A.a1), A.rol(A.t1, A.a0, A.a1), A.csrr(A.t2, CSR_MINSTRET));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 100);
    expect(f.hart.stats.wasmInterpreterSteps).toBeGreaterThanOrEqual(3);
  });

  test("high multiplies and divisions run here, with RISC-V's results for zero divisors and overflow", () => {
    const p = new A.Program(RAM_BASE);
    const ops = [A.mulh, A.mulhsu, A.mulhu, A.div, A.divu, A.rem, A.remu, A.divw, A.divuw, A.remw, A.remuw];
    // Operand pairs: mixed signs, a zero divisor, the most negative values by -1, 32-bit values with high junk.
    const pairs: [bigint, bigint][] = [
      [-12345678901n, 977n],
      [0x7654_3210_fedc_ba98n, -3n],
      [-(2n ** 63n), -1n],
      [-(2n ** 63n), 0n],
      [0x1234_5678_8000_0000n, -1n],
      [0xffff_ffff_0000_0007n, 0x5555_5555_ffff_fffdn],
      [-1n, -1n],
    ];
    // s0 points at the RAM againstReference compares; each result is stored there.
    p.emit(A.li(A.s0, RAM_BASE + 0x8000));
    let slot = 0;
    for (const [x, y] of pairs) {
      p.emit(A.li(A.a0, x), A.li(A.a1, y));
      for (const op of ops) p.emit(op(A.a2, A.a0, A.a1), A.sd(A.a2, A.s0, 8 * (slot++ % 64)));
    }
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const f = againstReference(p.assemble(), 400);
    expect(f.hart.icount).toBeGreaterThan(2 * pairs.length * ops.length);
    // (The first store fills the write TLB through TypeScript's slow path.)
    expect(f.hart.stats.wasmInterpreterSteps).toBeLessThanOrEqual(1);
  });
});
