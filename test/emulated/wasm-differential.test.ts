/**
 * The WebAssembly tier against the reference interpreter. Random programs (integer ALU, M and the bit-manipulation
 * extensions Zba/Zbb/Zbc/Zbs, loads and stores of
 * every width, misaligned ones included, branches, loops, calls and returns through JALR, compressed
 * instructions, CSR reads of minstret, ECALL traps, AMOs, FP moves, stores into the code being run) and the ISA
 * programs run on both; after every slice of the compiled run — slices of one instruction make every region exit
 * a comparison point — the reference is stepped to the same retired-instruction count and every architectural
 * register (pc, privilege, x1..x31, f0..f31, the trap CSRs, minstret) and every byte of RAM must match.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { CSR_MEPC, CSR_MINSTRET, CSR_MSCRATCH, CSR_MTVEC, MSTATUS_FS_SHIFT } from "../../src/arch/riscv64/csr.ts";
import { encodeR, OPC_OP_FP } from "../../src/arch/riscv64/isa.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { parseElf } from "../../src/vmm/loader/elf.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, RAM_BASE } from "./fixture.ts";

const RAM_SIZE = 2 << 20;
const DATA = RAM_BASE + 0x8_0000;

function state(f: HartFixture): unknown {
  const h = f.hart;
  return {
    pc: h.pc,
    priv: h.priv,
    icount: h.icount,
    x: Array.from({ length: 32 }, (_, i) => [h.xlo[2 * i], h.xhi[2 * i]]),
    f: Array.from(h.fp.bits),
    fflags: h.fp.fflags,
    mstatus: h.mstatus,
    mcause: h.mcauseLo,
    mepc: h.mepc,
    mtval: h.mtval,
    reservation: [h.reservationValid, h.reservationAddr],
  };
}

/** First differing RAM byte, or undefined. */
function ramDifference(a: HartFixture, b: HartFixture): string | undefined {
  const x = a.ram.bytes;
  const y = b.ram.bytes;
  if (Buffer.compare(x, y) === 0) return undefined;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) return `RAM byte 0x${(RAM_BASE + i).toString(16)}: reference ${x[i]}, wasm ${y[i]}`;
  }
  return undefined;
}

/**
 * Run the WebAssembly tier in slices of `slice()` steps; after each, bring the reference to the same point and
 * compare everything. Returns the number of comparisons and the regions compiled.
 */
function compare(
  image: (f: HartFixture) => void,
  slices: number,
  slice: () => number,
): { comparisons: number; regions: number } {
  const wasm = makeHart({ ramSize: RAM_SIZE, arena: true });
  const ref = makeHart({ ramSize: RAM_SIZE });
  image(wasm);
  image(ref);
  let comparisons = 0;
  for (let s = 0; s < slices; s++) {
    wasm.run(slice(), "wasm");
    while (ref.hart.icount < wasm.hart.icount && ref.hart.stop === STOP_NONE) {
      if (ref.run(1) === 0) break;
    }
    // A trap does not retire: the compiled side may have taken one more at the same count.
    for (let extra = 0; extra < 2 && ref.hart.pc !== wasm.hart.pc && ref.hart.stop === STOP_NONE; extra++) {
      ref.run(1);
    }
    expect(state(wasm)).toEqual(state(ref));
    expect(ramDifference(ref, wasm)).toBeUndefined();
    comparisons++;
    if (wasm.hart.stop !== STOP_NONE) break;
  }
  return { comparisons, regions: wasm.memory.wasmTier?.stats.regions ?? 0 };
}

/** A deterministic pseudo-random source (xorshift32), so a failing seed replays. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed | 0 || 1;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x;
    return x >>> 0;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("Cannot pick from an empty list");
    return item;
  }
  bool(p = 0.5): boolean {
    return this.next() / 2 ** 32 < p;
  }
  /** A 64-bit value with interesting shapes: small, sign boundaries, all ones, random. */
  value(): bigint {
    switch (this.int(6)) {
      case 0:
        return BigInt(this.int(64)) - 32n;
      case 1:
        return this.pick([0n, 1n, -1n, 1n << 31n, (1n << 31n) - 1n, -(1n << 31n), 1n << 63n, (1n << 63n) - 1n]);
      case 2:
        return BigInt(this.next());
      default:
        return (BigInt(this.next()) << 32n) | BigInt(this.next());
    }
  }
}

// Registers the random code may write: s0 holds the data base, sp and ra are reserved for calls.
const POOL = [A.t0, A.t1, A.t2, A.t3, A.t4, A.t5, A.a0, A.a1, A.a2, A.a3, A.a4, A.a5, A.s1, A.s2, A.s3];
const RR = [
  A.add,
  A.sub,
  A.sll,
  A.slt,
  A.sltu,
  A.xor,
  A.srl,
  A.sra,
  A.or,
  A.and,
  A.mul,
  A.mulh,
  A.mulhsu,
  A.mulhu,
  A.div,
  A.divu,
  A.rem,
  A.remu,
  A.addw,
  A.subw,
  A.sllw,
  A.srlw,
  A.sraw,
  A.mulw,
  A.divw,
  A.divuw,
  A.remw,
  A.remuw,
  // The bit-manipulation extensions (Zba, Zbb, Zbc, Zbs).
  A.sh1add,
  A.sh2add,
  A.sh3add,
  A.addUw,
  A.sh1addUw,
  A.sh2addUw,
  A.sh3addUw,
  A.andn,
  A.orn,
  A.xnor,
  A.max,
  A.maxu,
  A.min,
  A.minu,
  A.rol,
  A.ror,
  A.rolw,
  A.rorw,
  A.clmul,
  A.clmulh,
  A.clmulr,
  A.bclr,
  A.bext,
  A.binv,
  A.bset,
];
/** Bit-manipulation instructions with one source register. */
const UNARY = [A.clz, A.ctz, A.cpop, A.clzw, A.ctzw, A.cpopw, A.sextB, A.sextH, A.zextH, A.orcB, A.rev8];
/** Bit-manipulation instructions with a 6-bit immediate (5-bit: roriw). */
const SHIFTS_BITMANIP = [A.slliUw, A.rori, A.bclri, A.bexti, A.binvi, A.bseti];
const RI = [A.addi, A.slti, A.sltiu, A.xori, A.ori, A.andi, A.addiw];
const SHIFTS = [A.slli, A.srli, A.srai];
const SHIFTS_W = [A.slliw, A.srliw, A.sraiw];
const LOADS = [A.lb, A.lh, A.lw, A.ld, A.lbu, A.lhu, A.lwu];
const STORES = [A.sb, A.sh, A.sw, A.sd];
/** fmv.d.x fd, rs1 / fmv.x.d rd, fs1 / fadd.d fd, fs1, fs2 (rm = dynamic). */
const fmvDX = (fd: number, rs1: number): number => encodeR(OPC_OP_FP, fd, 0, rs1, 0, 0x79);
const fmvXD = (rd: number, fs1: number): number => encodeR(OPC_OP_FP, rd, 0, fs1, 0, 0x71);
const faddD = (fd: number, fs1: number, fs2: number): number => encodeR(OPC_OP_FP, fd, 7, fs1, fs2, 0x01);

/** A random program: straight-line chunks, forward branches, counted loops, calls, traps and code patches. */
function randomProgram(seed: number): Uint8Array {
  const r = new Rng(seed);
  const p = new A.Program(RAM_BASE);
  let labels = 0;
  const fresh = (): string => `L${labels++}`;
  const reg = (): number => r.pick(POOL);
  p.emit(A.li(A.s0, DATA), A.li(A.sp, DATA + 0x4000));
  p.emit(A.li(A.t6, RAM_BASE + 0x7000), A.csrw(CSR_MTVEC, A.t6));
  p.emit(A.li(A.t6, 1 << MSTATUS_FS_SHIFT), A.csrs(0x300, A.t6)); // mstatus.FS = Initial
  for (const x of POOL) p.emit(A.li(x, r.value()));
  p.emit(A.li(A.s4, 3)); // outer iterations
  p.label("outer");
  const functions: string[] = [];
  const chunk = (): void => {
    const n = 1 + r.int(8);
    for (let k = 0; k < n; k++) {
      const kind = r.int(100);
      if (kind < 40) p.emit(r.pick(RR)(reg(), reg(), reg()));
      else if (kind < 52) p.emit(r.pick(RI)(reg(), reg(), r.int(4096) - 2048));
      else if (kind < 58) p.emit(r.pick(SHIFTS)(reg(), reg(), r.int(64)));
      else if (kind < 62) {
        // RV64I's W shifts, or the bit-manipulation extensions' unary and immediate forms.
        const form = r.int(4);
        if (form === 0) p.emit(r.pick(SHIFTS_W)(reg(), reg(), r.int(32)));
        else if (form === 1) p.emit(r.pick(UNARY)(reg(), reg()));
        else if (form === 2) p.emit(r.pick(SHIFTS_BITMANIP)(reg(), reg(), r.int(64)));
        else p.emit(A.roriw(reg(), reg(), r.int(32)));
      } else if (kind < 65) p.emit(A.lui(reg(), (r.next() & 0xfffff000) | 0));
      else if (kind < 67) p.emit(A.auipc(reg(), (r.next() & 0xfffff000) | 0));
      else if (kind < 80) {
        // A load or store in the data page, sometimes misaligned (the slow path performs those).
        const addr = reg();
        p.emit(A.andi(A.t6, addr, 0x7f8), A.add(A.t6, A.t6, A.s0));
        const off = r.bool(0.15) ? r.int(7) + 1 : 8 * r.int(8);
        if (r.bool()) p.emit(r.pick(LOADS)(reg(), A.t6, off));
        else p.emit(r.pick(STORES)(reg(), A.t6, off));
      } else if (kind < 84) {
        p.c(A.cAddi(r.pick([A.a0, A.a1, A.a2, A.a3, A.a4, A.a5]), r.int(63) - 31 || 1));
      } else if (kind < 86) {
        p.emit(A.csrr(reg(), r.bool() ? CSR_MINSTRET : CSR_MSCRATCH));
        if (r.bool()) p.emit(A.csrw(CSR_MSCRATCH, reg()));
      } else if (kind < 88) {
        p.emit(A.andi(A.t6, reg(), 0x7f8), A.add(A.t6, A.t6, A.s0));
        p.emit(r.pick([A.amoaddD, A.amoswapD, A.amoxorD, A.amomaxuD])(reg(), reg(), A.t6));
      } else if (kind < 90) {
        p.emit(fmvDX(1, reg()), fmvDX(2, reg()), faddD(3, 1, 2), fmvXD(reg(), 3));
      } else if (kind < 92) {
        p.emit(A.ecall());
      } else if (kind < 94) {
        p.emit(A.lrD(reg(), A.s0), A.scD(reg(), reg(), A.s0));
      } else {
        p.emit(A.fence());
      }
    }
  };
  const blocks = 4 + r.int(8);
  for (let b = 0; b < blocks; b++) {
    chunk();
    const form = r.int(5);
    if (form === 0) {
      // A forward branch over a chunk.
      const skip = fresh();
      p.ref(skip, (off) => r.pick([A.beq, A.bne, A.blt, A.bge, A.bltu, A.bgeu])(reg(), reg(), off));
      chunk();
      p.label(skip);
    } else if (form === 1) {
      // A counted loop (s5 counts down; the body never writes s5).
      const head = fresh();
      p.emit(A.li(A.s5, 2 + r.int(20)));
      p.label(head);
      chunk();
      p.emit(A.addi(A.s5, A.s5, -1));
      p.ref(head, (off) => A.bne(A.s5, A.zero, off));
    } else if (form === 2) {
      const fn = `F${functions.length}`;
      functions.push(fn);
      p.ref(fn, (off) => A.jal(A.ra, off));
    } else if (form === 3) {
      // Overwrite the instruction after the store (addi a0, a0, imm) with a new immediate, then run it.
      p.emit(A.li(A.t6, A.addi(A.a0, A.a0, r.int(2000) - 1000) | 0));
      p.emit(A.auipc(A.s5, 0), A.addi(A.s5, A.s5, 12), A.sw(A.t6, A.s5, 0));
      p.emit(A.addi(A.a0, A.a0, 1));
    }
  }
  p.emit(A.addi(A.s4, A.s4, -1));
  p.ref("outer", (off) => A.bne(A.s4, A.zero, off));
  p.label("end");
  p.ref("end", (off) => A.jal(A.zero, off));
  for (const fn of functions) {
    p.label(fn);
    chunk();
    p.emit(A.jalr(A.zero, A.ra, 0));
  }
  if (p.pc % 4 !== 0) p.c(A.cNop());
  while (p.pc < RAM_BASE + 0x7000) p.emit(A.addi(0, 0, 0));
  // The trap handler: skip the trapping instruction (ECALL: 4 bytes).
  p.emit(A.csrr(A.t6, CSR_MEPC), A.addi(A.t6, A.t6, 4), A.csrw(CSR_MEPC, A.t6), A.mret());
  return p.assemble();
}

/**
 * A loop that calls functions on three other pages (JAL out of the page, returns through JALR, a tail jump from
 * one page to the next, a fall-through across a page boundary) and on every iteration rewrites the first
 * instruction of one of them (no FENCE.I: the emulated hart invalidates exactly), so compiled regions chain to each
 * other and chaining must never reach a region whose page was written.
 */
function crossPageProgram(iterations: number): Uint8Array {
  const p = new A.Program(RAM_BASE);
  const pad = (to: number): void => {
    while (p.pc < to) p.emit(A.addi(0, 0, 0));
  };
  const f1 = RAM_BASE + 0x1000;
  const f2 = RAM_BASE + 0x2000;
  const f3 = RAM_BASE + 0x3000;
  p.emit(A.li(A.s4, iterations), A.li(A.a0, 1), A.li(A.a1, 7));
  p.emit(A.li(A.t4, A.addi(A.a0, A.a0, 0)), A.li(A.t6, f2));
  p.label("loop");
  p.ref("f1", (off) => A.jal(A.ra, off));
  // Patch f2's first instruction: addi a0, a0, (s4 & 0x3ff).
  p.emit(A.andi(A.t3, A.s4, 0x3ff), A.slli(A.t3, A.t3, 20), A.or(A.t5, A.t4, A.t3), A.sw(A.t5, A.t6, 0));
  p.ref("f2", (off) => A.jal(A.ra, off));
  p.emit(A.xor(A.a1, A.a1, A.a0), A.addi(A.s4, A.s4, -1));
  p.ref("loop", (off) => A.bne(A.s4, A.zero, off));
  p.label("end");
  p.ref("end", (off) => A.jal(A.zero, off));
  pad(f1);
  p.label("f1");
  p.emit(A.add(A.a0, A.a0, A.a1), A.slli(A.a2, A.a0, 3), A.xor(A.a0, A.a0, A.a2), A.jalr(A.zero, A.ra, 0));
  pad(f2);
  p.label("f2");
  p.emit(A.addi(A.a0, A.a0, 0), A.add(A.a1, A.a1, A.a0));
  p.ref("f3", (off) => A.jal(A.zero, off));
  pad(f3 - 8);
  // f3 starts 8 bytes before its page and falls through into the next one.
  p.label("f3");
  p.emit(A.addi(A.a0, A.a0, 3), A.addi(A.a1, A.a1, -5), A.mul(A.a2, A.a0, A.a1), A.jalr(A.zero, A.ra, 0));
  return p.assemble();
}

describe("differential: the WebAssembly tier against the reference interpreter", () => {
  test("regions chaining across pages, with code rewritten between calls", () => {
    const image = crossPageProgram(300);
    const lengths = new Rng(0x2545f491);
    const wasm = makeHart({ ramSize: RAM_SIZE, arena: true });
    const result = compare(
      (f) => f.write(RAM_BASE, image),
      400,
      () => 1 + lengths.int(500),
    );
    expect(result.comparisons).toBeGreaterThan(10);
    // The same program in one long run: most region runs must be chained ones.
    wasm.write(RAM_BASE, image);
    wasm.run(20_000, "wasm");
    expect(wasm.hart.stats.regionChains).toBeGreaterThan(wasm.hart.stats.regionEntries);
    const ref = makeHart({ ramSize: RAM_SIZE });
    ref.write(RAM_BASE, image);
    ref.run(wasm.hart.icount);
    expect(state(wasm)).toEqual(state(ref));
  });

  test("loads and stores grouped by base register: at page ends, misaligned, and into the region's own page", () => {
    // Each iteration loads four values through s0 and stores four through s1 (two access groups), then moves s0
    // by 4 and s1 by 12: the groups' bases are aligned or not, and their ranges come to straddle a page end;
    // the stores' page is also, in the second run, the page of the loop's own code (so no write entry: every
    // group store takes the slow path and invalidates the region).
    const program = (storeBase: number): Uint8Array => {
      const p = new A.Program(RAM_BASE);
      p.emit(A.li(A.s0, DATA + 0x1000 - 128), A.li(A.s1, storeBase), A.li(A.s4, 120));
      p.label("loop");
      p.emit(A.ld(A.t0, A.s0, 0), A.ld(A.t1, A.s0, 8), A.lw(A.t2, A.s0, 16), A.lbu(A.t3, A.s0, 23));
      p.emit(A.add(A.t0, A.t0, A.t1), A.xor(A.t0, A.t0, A.t2), A.add(A.t0, A.t0, A.t3));
      p.emit(A.sd(A.t0, A.s1, 0), A.sd(A.t1, A.s1, 8), A.sw(A.t2, A.s1, 16), A.sb(A.t3, A.s1, 31));
      p.emit(A.addi(A.s0, A.s0, 4), A.addi(A.s1, A.s1, 12), A.addi(A.s4, A.s4, -1));
      p.ref("loop", (off) => A.bne(A.s4, A.zero, off));
      p.label("end");
      p.ref("end", (off) => A.jal(A.zero, off));
      return p.assemble();
    };
    const pattern = Uint8Array.from({ length: 0x2000 }, (_, i) => (i * 151 + 7) & 0xff);
    for (const storeBase of [DATA + 0x3000 - 700, RAM_BASE + 0x800]) {
      const image = program(storeBase);
      const lengths = new Rng(storeBase);
      const result = compare(
        (f) => {
          f.write(DATA, pattern);
          f.write(RAM_BASE, image);
        },
        300,
        () => (lengths.bool(0.3) ? 1 : 1 + lengths.int(200)),
      );
      expect(result.comparisons).toBeGreaterThan(10);
      expect(result.regions).toBeGreaterThan(0);
    }
  });

  test("random programs, compared at every region exit and at random slice lengths", () => {
    let regions = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const image = randomProgram(seed);
        const lengths = new Rng(seed ^ 0x5bd1e995);
        const result = compare(
          (f) => f.write(RAM_BASE, image),
          400,
          () => (lengths.bool(0.5) ? 1 : 1 + lengths.int(300)),
        );
        regions += result.regions;
      }),
      { numRuns: 40 },
    );
    expect(regions).toBeGreaterThan(40);
  });

  const isaDir = join(import.meta.dir, "../guests/isa");
  for (const name of [
    "rv64i-alu",
    "rv64i-control",
    "rv64i-mem",
    "rv64m",
    "rv64a",
    "rv64c",
    "zicsr",
    "zicntr",
    "zifencei",
    "priv-trap",
    "priv-deleg",
    "vm-sv39",
    "h-gstage-sv39x4",
    "h-hlv",
    "fp/rv64ud",
  ]) {
    test(`ISA program ${name}`, () => {
      const image = parseElf(readFileSync(join(isaDir, `${name}.elf`)));
      const result = compare(
        (f) => {
          for (const seg of image.segments) f.write(seg.paddr, seg.data);
          f.hart.pc = image.entry;
        },
        3000,
        () => 1,
      );
      expect(result.comparisons).toBeGreaterThan(1);
      expect(result.regions).toBeGreaterThan(0);
      // Longer slices, so regions also chain to each other between comparisons (slices of 1 never do).
      const lengths = new Rng(0x9e3779b9);
      compare(
        (f) => {
          for (const seg of image.segments) f.write(seg.paddr, seg.data);
          f.hart.pc = image.entry;
        },
        3000,
        () => 1 + lengths.int(200),
      );
    });
  }
});
