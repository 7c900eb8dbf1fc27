/**
 * LR/SC and AMOs on every engine. The fast paths do atomics through the data TLB when it has an entry for the
 * page; these tests warm the TLB first so that path is the one taken (checked through `stats.atomicsSlow`), and
 * compare every result with a BigInt model, the reservation rules, alignment faults, and stores of code.
 */
import { describe, expect, test } from "bun:test";
import { CAUSE_MISALIGNED_STORE } from "../../src/arch/riscv64/traps.ts";
import * as A from "./asm.ts";
import { makeHart, RAM_BASE } from "./fixture.ts";

const DATA = RAM_BASE + 0x4000;
const ENGINES = ["reference", "fast", "jit", "wasm"] as const;
const MASK64 = (1n << 64n) - 1n;

const sext = (v: bigint, bits: number): bigint => BigInt.asIntN(bits, v);

/** What the AMO writes back, computed on signed/unsigned BigInts of the access width. */
function model(name: string, old: bigint, src: bigint, bits: number): bigint {
  const so = sext(old, bits);
  const ss = sext(src, bits);
  const uo = BigInt.asUintN(bits, old);
  const us = BigInt.asUintN(bits, src);
  switch (name) {
    case "swap":
      return us;
    case "add":
      return BigInt.asUintN(bits, uo + us);
    case "xor":
      return uo ^ us;
    case "and":
      return uo & us;
    case "or":
      return uo | us;
    case "min":
      return BigInt.asUintN(bits, so < ss ? so : ss);
    case "max":
      return BigInt.asUintN(bits, so > ss ? so : ss);
    case "minu":
      return uo < us ? uo : us;
    default:
      return uo > us ? uo : us;
  }
}

const AMOS: Record<
  string,
  readonly [(rd: number, rs2: number, rs1: number) => number, (rd: number, rs2: number, rs1: number) => number]
> = {
  swap: [A.amoswapW, A.amoswapD],
  add: [A.amoaddW, A.amoaddD],
  xor: [A.amoxorW, A.amoxorD],
  and: [A.amoandW, A.amoandD],
  or: [A.amoorW, A.amoorD],
  min: [A.amominW, A.amominD],
  max: [A.amomaxW, A.amomaxD],
  minu: [A.amominuW, A.amominuD],
  maxu: [A.amomaxuW, A.amomaxuD],
};

const VALUES = [
  0n,
  1n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x8000_0000_0000_0000n,
  MASK64,
  0x1234_5678_9abc_def0n,
];

describe("atomics on the TLB fast path", () => {
  // "wasm, shared RAM": regions compiled for harts on threads (atomic read-modify-writes; the rest through
  // threads/atomics.ts), run by this one hart.
  for (const [engine, shared] of [...ENGINES.map((e) => [e, false] as const), ["wasm", true] as const]) {
    test(`every AMO, W and D, against a BigInt model (${engine}${shared ? ", shared RAM" : ""})`, () => {
      for (const [name, [amoW, amoD]] of Object.entries(AMOS)) {
        for (const [bits, amo] of [
          [32, amoW],
          [64, amoD],
        ] as const) {
          for (const old of VALUES) {
            for (const src of [VALUES[3] ?? 0n, VALUES[7] ?? 0n, VALUES[8] ?? 0n, 5n]) {
              const f = makeHart({ arena: engine === "wasm" });
              f.hart.sharedMemory = shared;
              f.write64(DATA, old);
              f.write64(DATA + 8, 0x5555_5555_5555_5555n);
              // A load and a store to the page first: the read and write TLB entries exist before the AMO.
              f.write(
                RAM_BASE,
                [
                  ...A.li(A.s0, DATA),
                  ...A.li(A.a1, src),
                  A.ld(A.t0, A.s0, 8),
                  A.sd(A.t0, A.s0, 8),
                  amo(A.a0, A.a1, A.s0),
                  A.jal(0, 0),
                ].flat(),
              );
              f.hart.pc = RAM_BASE;
              f.run(40, engine);
              const width = BigInt.asUintN(bits, old);
              const expectedRd = BigInt.asUintN(64, sext(width, bits));
              const written = model(name, old, src, bits);
              const expectedMem = bits === 32 ? (old & ~0xffff_ffffn) | written : written;
              expect({ name, bits, old, src, rd: f.x(A.a0), mem: f.read64(DATA) }).toEqual({
                name,
                bits,
                old,
                src,
                rd: expectedRd,
                mem: expectedMem,
              });
              if (engine !== "reference" && !shared) expect(f.hart.stats.atomicsSlow).toBe(0);
            }
          }
        }
      }
    });
  }
  for (const engine of ENGINES) {
    test(`LR/SC: success, failure without a reservation, failure at another address (${engine})`, () => {
      const f = makeHart({ arena: engine === "wasm" });
      f.write64(DATA, 0x1111n);
      f.write64(DATA + 16, 0x2222n);
      f.write(
        RAM_BASE,
        [
          ...A.li(A.s0, DATA),
          ...A.li(A.a1, 0xabcd),
          A.ld(A.t0, A.s0, 0),
          A.sd(A.t0, A.s0, 0), // warm the read and write entries
          A.lrD(A.a2, A.s0), // a2 = 0x1111, reservation on DATA
          A.scD(A.a3, A.a1, A.s0), // succeeds: a3 = 0, DATA = 0xabcd
          A.scD(A.a4, A.a2, A.s0), // no reservation: a4 = 1, DATA unchanged
          A.addi(A.s1, A.s0, 16),
          A.lrW(A.a5, A.s0), // reservation on DATA (word)
          A.scW(A.a6, A.a1, A.s1), // another address: fails, DATA + 16 unchanged
          A.scW(A.a7, A.a1, A.s0), // the failed SC cleared the reservation: fails too
          A.jal(0, 0),
        ].flat(),
      );
      f.hart.pc = RAM_BASE;
      f.run(40, engine);
      expect([f.x(A.a2), f.x(A.a3), f.x(A.a4), f.x(A.a5), f.x(A.a6), f.x(A.a7)]).toEqual([
        0x1111n,
        0n,
        1n,
        0xabcdn,
        1n,
        1n,
      ]);
      expect([f.read64(DATA), f.read64(DATA + 16)]).toEqual([0xabcdn, 0x2222n]);
    });

    test(`a misaligned AMO raises address-misaligned even when the page is in the TLB (${engine})`, () => {
      const f = makeHart({ arena: engine === "wasm" });
      f.hart.mtvec = RAM_BASE + 0x800;
      f.write(RAM_BASE + 0x800, [A.jal(0, 0)]);
      f.write(
        RAM_BASE,
        [
          ...A.li(A.s0, DATA),
          A.ld(A.t0, A.s0, 0),
          A.sd(A.t0, A.s0, 0),
          A.addi(A.s0, A.s0, 4),
          A.amoaddD(A.a0, A.t0, A.s0),
          A.jal(0, 0),
        ].flat(),
      );
      f.hart.pc = RAM_BASE;
      f.run(20, engine);
      expect([f.hart.mcauseLo, f.hart.mtval]).toEqual([CAUSE_MISALIGNED_STORE, DATA + 4]);
    });

    test(`an AMO onto a page of code drops its decoded blocks, also after the page was written as data (${engine})`, () => {
      const f = makeHart({ arena: engine === "wasm" });
      const func = RAM_BASE + 0x1000; // its own page
      const ret = A.jalr(0, A.ra, 0);
      const one = A.addi(A.a0, A.zero, 1);
      const two = A.addi(A.a0, A.zero, 2);
      const p = new A.Program(RAM_BASE);
      p.emit(A.li(A.s0, func), A.li(A.t0, (BigInt(ret) << 32n) | BigInt(one)));
      p.emit(A.sd(A.t0, A.s0, 0)); // write the function as data: fills a write entry for its page
      p.emit(A.jalr(A.ra, A.s0, 0)); // call it: a0 = 1, and its page now holds code
      p.emit(A.addi(A.s1, A.a0, 0), A.li(A.t1, two));
      p.emit(A.amoswapW(A.zero, A.t1, A.s0), A.fenceI()); // patch its first instruction
      p.emit(A.jalr(A.ra, A.s0, 0), A.jal(0, 0)); // a0 = 2
      f.write(RAM_BASE, p.assemble());
      f.hart.pc = RAM_BASE;
      f.run(60, engine);
      expect([f.x(A.s1), f.x(A.a0)]).toEqual([1n, 2n]);
    });
  }
});
