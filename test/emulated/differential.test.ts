/**
 * Differential trace: the fast path (block cache, fast interpreter, and blocks compiled on first use) against
 * the reference interpreter. After every slice of the fast run, the reference hart is stepped to the same
 * retired-instruction count and the architectural state (pc, privilege, x1..x31, f0..f31, key CSRs) must match.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CSR_MEPC, CSR_MTVEC } from "../../src/arch/riscv64/csr.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { parseElf } from "../../src/vmm/loader/elf.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, RAM_BASE } from "./fixture.ts";

function snapshot(f: HartFixture): unknown {
  const h = f.hart;
  return {
    pc: h.pc,
    priv: h.priv,
    virt: h.virt,
    icount: h.icount,
    x: Array.from({ length: 32 }, (_, i) => [h.xlo[2 * i], h.xhi[2 * i]]),
    f: Array.from(h.fp.bits),
    mstatus: h.mstatus,
    mcause: h.mcauseLo,
    mepc: h.mepc,
  };
}

function load(f: HartFixture, image: Uint8Array): void {
  f.write(RAM_BASE, image);
}

/** Run both engines in lock-step slices; returns the number of comparisons made. */
function compare(
  image: (f: HartFixture) => void,
  mode: "jit" | "fast" | "winterp",
  slices: number,
  slice: number,
): number {
  const fast = makeHart({ ramSize: 16 << 20, arena: mode === "winterp" });
  const ref = makeHart({ ramSize: 16 << 20 });
  image(fast);
  image(ref);
  let comparisons = 0;
  for (let s = 0; s < slices; s++) {
    fast.run(slice, mode);
    while (ref.hart.icount < fast.hart.icount && ref.hart.stop === STOP_NONE) {
      if (ref.run(1) === 0) break;
    }
    // A trap does not retire: the fast side may have taken one more (at the same count). Let the reference
    // take it too; if that step retires an instruction instead, the states will differ and the test fails.
    for (let extra = 0; extra < 2 && ref.hart.pc !== fast.hart.pc && ref.hart.stop === STOP_NONE; extra++) {
      ref.run(1);
    }
    expect(snapshot(ref)).toEqual(snapshot(fast));
    comparisons++;
    if (fast.hart.stop !== STOP_NONE) break; // MMIO or halt: both stopped at the same place
  }
  return comparisons;
}

function mixedProgram(): Uint8Array {
  const p = new A.Program(RAM_BASE);
  p.emit(A.li(A.s0, RAM_BASE + 0x10000), A.li(A.s1, 0x3f8), A.li(A.s2, 0x9e3779b97f4a7c15n), A.li(A.a0, 1));
  p.emit(A.li(A.t6, RAM_BASE + 0x800), A.csrw(CSR_MTVEC, A.t6)); // mtvec → handler below
  p.label("outer");
  p.emit(A.li(A.t0, 0));
  p.label("inner");
  p.emit(
    A.and(A.t1, A.t0, A.s1),
    A.add(A.t1, A.t1, A.s0),
    A.ld(A.t2, A.t1, 0),
    A.lw(A.t3, A.t1, 4),
    A.lhu(A.t4, A.t1, 2),
  );
  p.emit(A.mul(A.t3, A.a0, A.s2), A.mulh(A.t5, A.t3, A.s2), A.xor(A.t2, A.t2, A.t3), A.sd(A.t2, A.t1, 0));
  p.emit(A.divu(A.a5, A.t2, A.a0), A.remw(A.a6, A.t2, A.t0), A.sraiw(A.a7, A.t2, 3), A.sltu(A.a4, A.t2, A.t3));
  p.c(A.cAddi(A.a3, -3));
  p.emit(A.srli(A.t4, A.t2, 7), A.andi(A.t4, A.t4, 1));
  p.ref("skip", (off) => A.beq(A.t4, A.zero, off));
  p.ref("func", (off) => A.jal(A.ra, off));
  p.label("skip");
  p.emit(A.addi(A.t0, A.t0, 8), A.li(A.t5, 0x400));
  p.ref("inner", (off) => A.blt(A.t0, A.t5, off));
  p.emit(A.addi(A.a0, A.a0, 1), A.ecall()); // a trap every outer iteration
  p.ref("outer", (off) => A.jal(0, off));
  p.label("func");
  p.emit(A.lw(A.a1, A.s0, 8), A.addiw(A.a1, A.a1, 3), A.sw(A.a1, A.s0, 8), A.slli(A.a2, A.a1, 35));
  p.emit(A.amoaddD(A.a4, A.a2, A.s0), A.jalr(0, A.ra, 0));
  if (p.pc % 4 !== 0) p.c(A.cNop());
  while (p.pc < RAM_BASE + 0x800) p.emit(A.addi(0, 0, 0));
  // Handler: skip the ecall.
  p.emit(A.csrr(A.t6, CSR_MEPC), A.addi(A.t6, A.t6, 4), A.csrw(CSR_MEPC, A.t6), A.mret());
  return p.assemble();
}

/** Every bit-manipulation instruction (Zba, Zbb, Zbc, Zbs) on a random register choice from a seed. */
function bitmanipProgram(seed: number): Uint8Array {
  let state = seed | 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const pool = [A.t0, A.t1, A.t2, A.t3, A.t4, A.a1, A.a2, A.a3, A.a4, A.a5, A.s1, A.s2];
  const reg = (): number => pool[next() % pool.length] ?? A.t0;
  const binary = [A.sh1add, A.sh2add, A.sh3add, A.addUw, A.sh1addUw, A.sh2addUw, A.sh3addUw, A.andn, A.orn, A.xnor];
  binary.push(A.max, A.maxu, A.min, A.minu, A.rol, A.ror, A.rolw, A.rorw, A.clmul, A.clmulh, A.clmulr);
  binary.push(A.bclr, A.bext, A.binv, A.bset);
  const unary = [A.clz, A.ctz, A.cpop, A.clzw, A.ctzw, A.cpopw, A.sextB, A.sextH, A.zextH, A.orcB, A.rev8];
  const immediate = [A.slliUw, A.rori, A.bclri, A.bexti, A.binvi, A.bseti];
  const p = new A.Program(RAM_BASE);
  p.emit(A.li(A.s3, 0x9e3779b97f4a7c15n), A.li(A.s4, 300));
  for (const r of pool) p.emit(A.li(r, (BigInt(next()) << 32n) | BigInt(next())));
  p.label("loop");
  for (let k = 0; k < 48; k++) {
    const kind = next() % 4;
    if (kind === 0) p.emit(A.roriw(reg(), reg(), next() % 32));
    else if (kind === 1) p.emit((unary[next() % unary.length] ?? A.clz)(reg(), reg()));
    else if (kind === 2) p.emit((immediate[next() % immediate.length] ?? A.rori)(reg(), reg(), next() % 64));
    else p.emit((binary[next() % binary.length] ?? A.andn)(reg(), reg(), reg()));
    // Keep the values varied: mix a multiplicative hash into one register now and then.
    if (next() % 6 === 0) p.emit(A.mul(A.t5, reg(), A.s3), A.xor(reg(), reg(), A.t5));
  }
  p.emit(A.addi(A.s4, A.s4, -1));
  p.ref("loop", (off) => A.bne(A.s4, A.zero, off));
  p.label("end");
  p.ref("end", (off) => A.jal(0, off));
  return p.assemble();
}

describe("differential trace: fast path vs reference interpreter", () => {
  for (const mode of ["fast", "winterp", "jit"] as const) {
    test(`mixed integer program (${mode})`, () => {
      const n = compare((f) => load(f, mixedProgram()), mode, 60, 997);
      expect(n).toBe(60);
    });
    test(`random bit-manipulation programs (${mode})`, () => {
      for (const seed of [1, 0x1234567, 0x7eadbeef, 0x55aa55aa]) {
        const n = compare((f) => load(f, bitmanipProgram(seed)), mode, 40, 499);
        expect(n).toBe(40);
      }
    });
  }

  const isaDir = join(import.meta.dir, "../guests/isa");
  for (const name of [
    "rv64i-alu",
    "rv64i-control",
    "rv64i-mem",
    "rv64m",
    "rv64a",
    "rv64c",
    "zicsr",
    "priv-trap",
    "vm-sv39",
  ]) {
    for (const mode of ["jit", "winterp"] as const) {
      test(`ISA program ${name} (${mode})`, () => {
        const image = parseElf(readFileSync(join(isaDir, `${name}.elf`)));
        const n = compare(
          (f) => {
            for (const seg of image.segments) f.write(seg.paddr, seg.data);
            f.hart.pc = image.entry;
          },
          mode,
          400,
          97,
        );
        expect(n).toBeGreaterThan(1);
      });
    }
  }
});
