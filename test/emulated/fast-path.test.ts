/**
 * The fast path's own machinery, checked against the reference interpreter where it has an equivalent:
 * - data-TLB entries are tagged by two 32-bit address words: addresses that differ only above bit 31 (or only
 *   in the sign-extended upper half) must never share an entry;
 * - the interpreter follows control across pages from the per-page decode caches: fall-through into the next
 *   page, a 4-byte instruction straddling the page end, JALR to an untranslated page, a branch into another
 *   page;
 * - what gets compiled under the default engine options: a hot self-loop, but not a loop that is entered only
 *   now and then.
 */
import { describe, expect, test } from "bun:test";
import { SATP_MODE_SV39 } from "../../src/arch/riscv64/paging.ts";
import { DEFAULT_ENGINE_OPTIONS, runFast } from "../../src/hal/emulated/engine.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, A as PTE_A, D as PTE_D, R, RAM_BASE, setSatp, Tables, W, X } from "./fixture.ts";

const ENGINES = ["reference", "fast", "jit"] as const;

/**
 * A hart (with an arena for the wasm engine) under Sv39: RAM mapped 1:1 by a gigapage at 0x8000_0000 (the code
 * runs there), and each [va, pa] of `pages` a 4 KiB read/write data page with A and D set.
 */
function pagedHart(engine: "fast" | "wasm", pages: readonly (readonly [bigint, number])[]): HartFixture {
  const f = makeHart({ ramSize: 8 << 20, arena: engine === "wasm" });
  const t = new Tables(f);
  const root = t.alloc();
  t.map(root, 3, 0x8000_0000n, RAM_BASE, 2, R | W | X | PTE_A | PTE_D);
  for (const [va, pa] of pages) t.map(root, 3, va, pa, 0, R | W | PTE_A | PTE_D);
  setSatp(f, SATP_MODE_SV39, root);
  return f;
}

describe("fast path", () => {
  for (const engine of ENGINES) {
    test(`addresses equal in their low 32 bits map through separate TLB entries (${engine})`, () => {
      const f = makeHart({ ramSize: 8 << 20 });
      const t = new Tables(f);
      const root = t.alloc();
      // Three virtual pages with the same low word 0x1000 (so the same TLB index and low tag): plain, bit 37
      // set, and a sign-extended upper half. Each maps to its own physical page.
      const pages = [
        { va: 0x1000n, pa: RAM_BASE + 0x40_0000, value: 111n },
        { va: 0x20_0000_1000n, pa: RAM_BASE + 0x40_1000, value: 222n },
        { va: 0xffff_ffc0_0000_1000n, pa: RAM_BASE + 0x40_2000, value: 333n },
      ];
      for (const p of pages) {
        t.map(root, 3, p.va, p.pa, 0, R | W | PTE_A | PTE_D);
        f.write64(p.pa, p.value);
      }
      t.map(root, 3, 0x8000_0000n, RAM_BASE, 2, R | W | X | PTE_A | PTE_D);
      setSatp(f, SATP_MODE_SV39, root);
      const code = RAM_BASE + 0x1000;
      f.write(
        code,
        [
          ...A.li(A.s0, pages[0]?.va ?? 0n),
          ...A.li(A.s1, pages[1]?.va ?? 0n),
          ...A.li(A.s2, pages[2]?.va ?? 0n),
          A.ld(A.a0, A.s0, 0),
          A.ld(A.a1, A.s1, 0),
          A.ld(A.a2, A.s2, 0),
          A.ld(A.a3, A.s0, 0), // again, after the other two took the entry
          ...A.li(A.t0, 7),
          A.sd(A.t0, A.s1, 8),
          A.ld(A.a4, A.s0, 8), // the store went to the second page only
          A.ld(A.a5, A.s1, 8),
          A.sw(A.t0, A.s2, 16),
          A.lw(A.a6, A.s0, 16),
          A.lw(A.a7, A.s2, 16),
          A.jal(0, 0),
        ].flat(),
      );
      f.enter("HS", code);
      f.run(80, engine);
      expect([f.x(A.a0), f.x(A.a1), f.x(A.a2), f.x(A.a3)]).toEqual([111n, 222n, 333n, 111n]);
      expect([f.x(A.a4), f.x(A.a5), f.x(A.a6), f.x(A.a7)]).toEqual([0n, 7n, 0n, 7n]);
      expect([f.read64(RAM_BASE + 0x40_0008), f.read64(RAM_BASE + 0x40_1008)]).toEqual([0n, 7n]);
    });
  }

  for (const engine of ["fast", "wasm"] as const) {
    test(`misaligned loads and stores inside a page are served by its TLB entries, without a walk each (${engine})`, () => {
      const data = RAM_BASE + 0x40_0000;
      const f = pagedHart(engine, [[0x1000n, data]]);
      f.write64(data + 0x100, 0x1122_3344_5566_7788n);
      f.write64(data + 0x108, 0x99aa_bbcc_ddee_ff00n);
      const code = RAM_BASE + 0x1000;
      const body = [
        ...A.li(A.s0, 0x1000),
        A.ld(A.a0, A.s0, 0x100), // aligned: fills the read entry
        A.ld(A.a1, A.s0, 0x103), // misaligned, same page
        A.lw(A.a2, A.s0, 0x105),
        A.lh(A.a3, A.s0, 0x107),
        ...A.li(A.t0, 0x0102_0304),
        A.sd(A.t0, A.s0, 0x200), // aligned: fills the write entry
        A.sw(A.t0, A.s0, 0x20a), // misaligned, same page
        A.sd(A.t0, A.s0, 0x211),
        A.jal(0, 0),
      ].flat();
      f.write(code, body);
      f.enter("HS", code);
      f.run(body.length + 4, engine);
      // The 16 bytes at data + 0x100, little-endian, and an n-byte field of them at `off`.
      const bytes = 0x99aa_bbcc_ddee_ff00_1122_3344_5566_7788n;
      const field = (off: number, n: number): bigint => (bytes >> BigInt(8 * off)) & ((1n << BigInt(8 * n)) - 1n);
      expect(f.x(A.a1)).toBe(field(3, 8));
      expect(f.x(A.a2)).toBe(BigInt.asUintN(64, BigInt.asIntN(32, field(5, 4))));
      expect(f.x(A.a3)).toBe(BigInt.asUintN(64, BigInt.asIntN(16, field(7, 2))));
      expect(f.read64(data + 0x208)).toBe(0x0000_0102_0304_0000n);
      expect(f.read64(data + 0x210)).toBe(0x0000_0001_0203_0400n);
      const s = f.hart.stats;
      expect(s.misalignedTlbHits).toBe(5);
      expect(s.walks).toBe(3); // the code page, the aligned load and the aligned store: none for the other five
    });

    test(`accesses through one base register that straddle two pages mapped apart read and write both (${engine})`, () => {
      // VA 0x1000 and 0x2000 map to physical pages 0x40_0000 and 0x60_0000 apart: a group of accesses through s0
      // = 0x1ff8 covers the end of one and the start of the other (regions check a group's range once, per page).
      const low = RAM_BASE + 0x40_0000;
      const high = RAM_BASE + 0x60_0000;
      const f = pagedHart(engine, [
        [0x1000n, low],
        [0x2000n, high],
      ]);
      f.write64(low + 0xff0, 0x1111n);
      f.write64(low + 0xff8, 0x2222n);
      f.write64(high, 0x3333n);
      f.write64(low + 0x1000, 0xbadn); // the physical page after `low`: never read
      const code = RAM_BASE + 0x1000;
      const body = [
        ...A.li(A.s0, 0x1ff8),
        ...A.li(A.s4, 3),
        A.ld(A.a0, A.s0, -8),
        A.ld(A.a1, A.s0, 0),
        A.ld(A.a2, A.s0, 8),
        A.sd(A.a2, A.s0, -8),
        A.sd(A.a0, A.s0, 8),
        A.addi(A.s4, A.s4, -1),
        A.bne(A.s4, A.zero, -24), // back to the first load
        A.jal(0, 0),
      ].flat();
      f.write(code, body);
      f.enter("HS", code);
      f.run(200, engine);
      // Three rounds of: a0 = [low+ff0], a2 = [high]; [low+ff0] = a2; [high] = a0 (a swap, three times).
      expect([f.x(A.a0), f.x(A.a1), f.x(A.a2)]).toEqual([0x1111n, 0x2222n, 0x3333n]);
      expect([f.read64(low + 0xff0), f.read64(high), f.read64(low + 0x1000)]).toEqual([0x3333n, 0x1111n, 0xbadn]);
    });

    test(`atomics on a page that only atomics touch walk once per page and access kind (${engine})`, () => {
      const data = RAM_BASE + 0x40_0000;
      const f = pagedHart(engine, [
        [0x1000n, data],
        [0x2000n, data + 0x1000],
      ]);
      f.write64(data, 40n);
      const code = RAM_BASE + 0x1000;
      const body = [
        ...A.li(A.s0, 0x1000),
        ...A.li(A.s1, 0x2000),
        A.addi(A.a1, 0, 1),
        ...Array.from({ length: 4 }, () => A.amoaddD(A.a0, A.a1, A.s0)), // AMOs: the write entry
        A.lrD(A.a2, A.s1), // LR on the other page: its read entry
        A.lrD(A.a2, A.s1),
        A.scD(A.a3, A.a1, A.s1), // SC needs a write entry of that page: one more walk
        A.lrD(A.a2, A.s1),
        A.scD(A.a3, A.a1, A.s1),
        A.jal(0, 0),
      ].flat();
      f.write(code, body);
      f.enter("HS", code);
      f.run(body.length + 4, engine);
      expect(f.read64(data)).toBe(44n);
      expect([f.x(A.a0), f.x(A.a3), f.read64(data + 0x1000)]).toEqual([43n, 0n, 1n]);
      const s = f.hart.stats;
      // The code page, the AMO page (write), the LR/SC page (read, then write): 4, however many atomics.
      expect(s.walks).toBe(4);
    });
  }

  test("control crosses pages: fall-through, a straddling instruction, JALR to a new page, a branch back", () => {
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.t0, RAM_BASE + 0x2000), A.li(A.a0, 0));
    p.ref("tail", (off) => A.jal(0, off));
    while (p.pc < RAM_BASE + 0xff0) p.c(A.cNop());
    p.label("tail");
    p.emit(A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1)); // 0xff0..0xffb
    p.c(A.cAddi(A.a0, 4)); // 0xffc
    p.emit(A.addi(A.a0, A.a0, 16)); // 0xffe..0x1001: straddles the page end
    p.emit(A.addi(A.a0, A.a0, 32)); // 0x1002: in the next page
    p.emit(A.jalr(0, A.t0, 0)); // to 0x2000, a page not fetched yet
    while (p.pc < RAM_BASE + 0x1010) p.c(A.cNop());
    p.label("back");
    p.emit(A.addi(A.a0, A.a0, 128), A.jal(0, 0));
    while (p.pc < RAM_BASE + 0x2000) p.c(A.cNop());
    p.emit(A.addi(A.a0, A.a0, 64));
    p.ref("back", (off) => A.beq(A.zero, A.zero, off)); // into the previous page
    const image = p.assemble();
    const results = ENGINES.map((engine) => {
      const f = makeHart();
      f.write(RAM_BASE, image);
      f.hart.pc = RAM_BASE;
      f.run(40, engine);
      return { engine, a0: f.x(A.a0), pc: f.hart.pc - RAM_BASE };
    });
    const expected = 1 + 1 + 1 + 4 + 16 + 32 + 64 + 128;
    for (const r of results) expect(r).toEqual({ engine: r.engine, a0: BigInt(expected), pc: 0x1014 });
  });

  test("default options compile a hot self-loop", () => {
    const f = makeHart();
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.a0, 100_000), A.li(A.a1, 0));
    p.label("loop");
    p.emit(A.addi(A.a1, A.a1, 3), A.addi(A.a0, A.a0, -1));
    p.ref("loop", (off) => A.bne(A.a0, A.zero, off));
    p.emit(A.jal(0, 0));
    f.write(RAM_BASE, p.assemble());
    f.hart.pc = RAM_BASE;
    f.hart.stop = STOP_NONE;
    runFast(f.hart, 400_000, DEFAULT_ENGINE_OPTIONS);
    expect(f.x(A.a1)).toBe(300_000n);
    expect(f.hart.stats.compiles).toBeGreaterThanOrEqual(1);
  });

  test("default options leave a loop alone when it is entered only now and then", () => {
    const f = makeHart();
    const p = new A.Program(RAM_BASE);
    p.emit(A.li(A.a3, 0));
    p.label("outer");
    for (let i = 0; i < 1200; i++) p.emit(A.addi(A.a2, A.a2, 1)); // straight-line work between the loop's runs
    p.emit(A.li(A.a0, 2));
    p.label("inner"); // two iterations per entry: one landing per ~1200 instructions, below MIN_HEAT_RATE
    p.emit(A.addi(A.a3, A.a3, 1), A.addi(A.a0, A.a0, -1));
    p.ref("inner", (off) => A.bne(A.a0, A.zero, off));
    p.ref("outer", (off) => A.jal(0, off));
    f.write(RAM_BASE, p.assemble());
    f.hart.pc = RAM_BASE;
    f.hart.stop = STOP_NONE;
    runFast(f.hart, 3_000_000, DEFAULT_ENGINE_OPTIONS);
    expect(f.x(A.a3)).toBeGreaterThan(4000n); // the inner loop ran thousands of times...
    expect(f.hart.stats.compiles).toBe(0); // ...but never at a rate worth compiling
  });

  test("default options compile a moderately hot function once no new code is being met", () => {
    const f = makeHart();
    const p = new A.Program(RAM_BASE);
    p.label("outer");
    for (let i = 0; i < 250; i++) p.emit(A.addi(A.a2, A.a2, 1));
    p.ref("func", (off) => A.jal(A.ra, off)); // one call per ~260 instructions: between the two rates
    p.ref("outer", (off) => A.jal(0, off));
    p.label("func");
    p.emit(
      A.addi(A.a3, A.a3, 1),
      A.xor(A.a4, A.a4, A.a3),
      A.slli(A.a5, A.a4, 2),
      A.add(A.a6, A.a6, A.a5),
      A.jalr(0, A.ra, 0),
    );
    f.write(RAM_BASE, p.assemble());
    f.hart.pc = RAM_BASE;
    f.hart.stop = STOP_NONE;
    runFast(f.hart, 12_000_000, DEFAULT_ENGINE_OPTIONS);
    expect(f.x(A.a3)).toBeGreaterThan(40_000n);
    expect(f.hart.codeChurn).toBeLessThan(1e-6); // the whole program was decoded long ago
    expect(f.hart.stats.compiles).toBeGreaterThanOrEqual(1);
  });
});
