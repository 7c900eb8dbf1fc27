/**
 * Physical memory protection: the CSR rules (WARL, granularity, locking), address matching (TOR, NA4, NAPOT),
 * the check for M (locked entries) and S/U, and executed accesses — including the TLB, which caches PMP's verdict
 * for whole pages and must neither cache a page an entry boundary cuts nor outlive a PMP change.
 */

import { describe, expect, test } from "bun:test";
import {
  CSR_MTVEC,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_PMPCFG2,
  PMP_A_NA4,
  PMP_A_NAPOT,
  PMP_A_SHIFT,
  PMP_A_TOR,
  PMP_L,
  PMP_R,
  PMP_W,
  PMP_X,
} from "../../src/arch/riscv64/csr.ts";
import {
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_STORE_ACCESS_FAULT,
  PRV_M,
  PRV_S,
  PRV_U,
} from "../../src/arch/riscv64/traps.ts";
import { csrRead, csrWrite } from "../../src/hal/emulated/csr-file.ts";
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE } from "../../src/hal/emulated/mmu.ts";
import { PMP_ALLOW_ONCE, PMP_ALLOW_PAGE, PMP_DENY, PmpState, pmpCheck } from "../../src/hal/emulated/pmp.ts";
import * as A from "./asm.ts";
import { type HartFixture, makeHart, RAM_BASE } from "./fixture.ts";

const NAPOT = PMP_A_NAPOT << PMP_A_SHIFT;
const TOR = PMP_A_TOR << PMP_A_SHIFT;
const NA4 = PMP_A_NA4 << PMP_A_SHIFT;
const RWX = PMP_R | PMP_W | PMP_X;

/** pmpaddr of a NAPOT region of `size` (a power of two >= 8) bytes at `base`. */
function napot(base: number, size: number): number {
  return base / 4 + size / 8 - 1;
}

function readCsr(f: HartFixture, csr: number): bigint {
  csrRead(f.hart, csr);
  return (BigInt(f.hart.csrHi >>> 0) << 32n) | BigInt(f.hart.csrLo >>> 0);
}

function writeCsr(f: HartFixture, csr: number, value: bigint | number): void {
  const v = BigInt.asUintN(64, BigInt(value));
  csrWrite(f.hart, csr, Number(v & 0xffff_ffffn) | 0, Number(v >> 32n) | 0);
}

/** pmpcfg0 with entry i's byte set to cfg[i]. */
function cfgWord(...cfg: number[]): bigint {
  return cfg.reduce((word, byte, i) => word | (BigInt(byte) << BigInt(8 * i)), 0n);
}

describe("PMP CSRs", () => {
  test("granularity G = 0: writing all ones to pmpaddr reads back bits 53:0 (how software finds G)", () => {
    const f = makeHart({ pmp: "reset" });
    writeCsr(f, CSR_PMPCFG0, 0);
    writeCsr(f, CSR_PMPADDR0, -1);
    expect(readCsr(f, CSR_PMPADDR0)).toBe((1n << 54n) - 1n);
    // The same value in every mode (with G = 0 no bit reads differently in OFF, TOR or NAPOT).
    for (const mode of [TOR, NA4, NAPOT, 0]) {
      writeCsr(f, CSR_PMPCFG0, mode);
      expect(readCsr(f, CSR_PMPADDR0)).toBe((1n << 54n) - 1n);
    }
  });

  test("pmpcfg is WARL: R=0 W=1 is stored as neither, bits 6:5 read zero; 16 entries in pmpcfg0 and pmpcfg2", () => {
    const f = makeHart({ pmp: "reset" });
    writeCsr(f, CSR_PMPCFG0, cfgWord(PMP_W, PMP_W | PMP_X, 0x60 | PMP_R, RWX | NAPOT));
    expect(readCsr(f, CSR_PMPCFG0)).toBe(cfgWord(0, PMP_X, PMP_R, RWX | NAPOT));
    writeCsr(f, CSR_PMPCFG2, -1n);
    expect(readCsr(f, CSR_PMPCFG2)).toBe(cfgWord(...Array.from({ length: 8 }, () => 0x9f)));
    // Entries 16..63 are read-only zero.
    writeCsr(f, CSR_PMPCFG0 + 4, -1n);
    expect(readCsr(f, CSR_PMPCFG0 + 4)).toBe(0n);
    writeCsr(f, CSR_PMPADDR0 + 16, -1n);
    expect(readCsr(f, CSR_PMPADDR0 + 16)).toBe(0n);
  });

  test("odd pmpcfg registers do not exist on RV64: illegal instruction", () => {
    const f = makeHart({ pmp: "reset" });
    const code = RAM_BASE + 0x1000;
    f.write(RAM_BASE + 0x100, [A.jal(0, 0)]);
    f.write(code, [...A.li(A.t0, RAM_BASE + 0x100), A.csrw(CSR_MTVEC, A.t0), A.csrr(A.a0, CSR_PMPCFG0 + 1)].flat());
    f.enter("M", code);
    f.run(20);
    expect(f.hart.mcauseLo).toBe(CAUSE_ILLEGAL_INSTRUCTION);
  });

  test("a locked entry ignores writes to its pmpcfg byte and pmpaddr; a locked TOR entry also locks pmpaddr[i-1]", () => {
    const f = makeHart({ pmp: "reset" });
    writeCsr(f, CSR_PMPADDR0, 0x100);
    writeCsr(f, CSR_PMPADDR0 + 1, 0x200);
    writeCsr(f, CSR_PMPADDR0 + 2, 0x300);
    writeCsr(f, CSR_PMPCFG0, cfgWord(PMP_R | NA4, PMP_R | TOR | PMP_L, PMP_L | RWX | NA4));
    writeCsr(f, CSR_PMPCFG0, cfgWord(0, 0, 0)); // entries 1 and 2 are locked: only entry 0 changes
    expect(readCsr(f, CSR_PMPCFG0)).toBe(cfgWord(0, PMP_R | TOR | PMP_L, PMP_L | RWX | NA4));
    writeCsr(f, CSR_PMPADDR0, 0x111); // entry 1 is a locked TOR: its lower bound is locked too
    writeCsr(f, CSR_PMPADDR0 + 1, 0x222);
    writeCsr(f, CSR_PMPADDR0 + 2, 0x333);
    writeCsr(f, CSR_PMPADDR0 + 3, 0x444); // entry 3 is unlocked (entry 4 is OFF)
    expect([0, 1, 2, 3].map((i) => readCsr(f, CSR_PMPADDR0 + i))).toEqual([0x100n, 0x200n, 0x300n, 0x444n]);
    // Reset unlocks everything.
    f.hart.reset(RAM_BASE);
    writeCsr(f, CSR_PMPADDR0 + 1, 0x222);
    expect(readCsr(f, CSR_PMPADDR0 + 1)).toBe(0x222n);
    expect(readCsr(f, CSR_PMPCFG0)).toBe(0n);
  });
});

describe("PMP matching and checks", () => {
  /** A PMP state with entries (cfg, pmpaddr) from index 0 on. */
  function pmpWith(...entries: Array<[number, number]>): PmpState {
    const pmp = new PmpState();
    entries.forEach(([cfg, addr], i) => {
      pmp.cfg[i] = cfg;
      pmp.addrLo[i] = (addr % 2 ** 32) | 0;
      pmp.addrHi[i] = Math.floor(addr / 2 ** 32);
    });
    pmp.recompute();
    return pmp;
  }

  test("OFF/TOR/NA4/NAPOT ranges; TOR of entry 0 starts at 0; an empty TOR matches nothing", () => {
    const pmp = pmpWith(
      [TOR | PMP_R, 0x1000 / 4],
      [NA4 | PMP_R, 0x2000 / 4],
      [NAPOT | PMP_R, napot(0x4000, 0x1000)],
      [NAPOT | PMP_R, 0x5000 / 4], // NAPOT with no trailing one: 8 bytes
      [TOR | PMP_R, 0x4000 / 4], // below pmpaddr[3]: empty
      [PMP_R, 0x9000 / 4], // OFF
    );
    expect([0, 1, 2, 3, 4, 5].map((i) => [pmp.lo[i], pmp.hi[i]])).toEqual([
      [0, 0x1000],
      [0x2000, 0x2004],
      [0x4000, 0x5000],
      [0x5000, 0x5008],
      [0, 0],
      [0, 0],
    ]);
    expect(pmp.active).toBe(4);
  });

  test("no entry: M succeeds, S and U fail; the lowest matching entry decides; all bytes must match", () => {
    expect(pmpCheck(new PmpState(), 0x8000_0000, 8, ACCESS_WRITE, PRV_M)).toBe(PMP_ALLOW_PAGE);
    expect(pmpCheck(new PmpState(), 0x8000_0000, 8, ACCESS_READ, PRV_S)).toBe(PMP_DENY);
    const pmp = pmpWith(
      [NA4 | 0, 0x8000_1000 / 4], // a 4-byte hole, no permissions
      [NAPOT | PMP_R | PMP_X, napot(0x8000_0000, 0x10_0000)], // 1 MiB read/execute
    );
    expect(pmpCheck(pmp, 0x8000_0010, 8, ACCESS_READ, PRV_S)).toBe(PMP_ALLOW_PAGE);
    expect(pmpCheck(pmp, 0x8000_0010, 8, ACCESS_WRITE, PRV_S)).toBe(PMP_DENY);
    expect(pmpCheck(pmp, 0x8000_0010, 4, ACCESS_EXEC, PRV_U)).toBe(PMP_ALLOW_PAGE);
    // The page holding the hole: other words are allowed, but not for the whole page.
    expect(pmpCheck(pmp, 0x8000_1008, 8, ACCESS_READ, PRV_S)).toBe(PMP_ALLOW_ONCE);
    expect(pmpCheck(pmp, 0x8000_1000, 4, ACCESS_READ, PRV_S)).toBe(PMP_DENY);
    // An 8-byte access that covers the hole and the word after it matches entry 0 only partly.
    expect(pmpCheck(pmp, 0x8000_0ffc, 8, ACCESS_READ, PRV_S)).toBe(PMP_DENY);
    // Past the 1 MiB region nothing matches.
    expect(pmpCheck(pmp, 0x8010_0000, 8, ACCESS_READ, PRV_S)).toBe(PMP_DENY);
    // An access straddling the region's end matches it partly.
    expect(pmpCheck(pmp, 0x800f_fffc, 8, ACCESS_READ, PRV_S)).toBe(PMP_DENY);
  });

  test("M-mode: unlocked entries do not restrict it; a locked one does", () => {
    const pmp = pmpWith([NAPOT | PMP_R, napot(0x8000_0000, 0x1000)]);
    expect(pmpCheck(pmp, 0x8000_0000, 8, ACCESS_WRITE, PRV_M)).toBe(PMP_ALLOW_PAGE);
    pmp.cfg[0] = NAPOT | PMP_R | PMP_L;
    pmp.recompute();
    expect(pmpCheck(pmp, 0x8000_0000, 8, ACCESS_WRITE, PRV_M)).toBe(PMP_DENY);
    expect(pmpCheck(pmp, 0x8000_0000, 8, ACCESS_READ, PRV_M)).toBe(PMP_ALLOW_PAGE);
    // Outside every entry M still succeeds, but the page is cut by the entry only where it overlaps.
    expect(pmpCheck(pmp, 0x9000_0000, 8, ACCESS_WRITE, PRV_M)).toBe(PMP_ALLOW_PAGE);
  });
});

describe("PMP on executed accesses", () => {
  const HANDLER = RAM_BASE + 0x100;
  const CODE = RAM_BASE + 0x1000;
  const DATA = RAM_BASE + 0x10_0000;

  /** A hart whose M trap handler spins at HANDLER, with `words` at CODE. */
  function hart(words: readonly number[]): HartFixture {
    const f = makeHart({ pmp: "reset" });
    f.write(HANDLER, [A.jal(0, 0)]);
    f.hart.mtvec = HANDLER;
    f.write(CODE, words);
    return f;
  }

  /** Entries: [0, DATA) RWX for S/U code and stacks, then `data` for the 4 KiB data page. */
  function protect(f: HartFixture, dataCfg: number): void {
    writeCsr(f, CSR_PMPADDR0, DATA / 4);
    writeCsr(f, CSR_PMPADDR0 + 1, napot(DATA, 0x1000));
    writeCsr(f, CSR_PMPCFG0, cfgWord(TOR | RWX, NAPOT | dataCfg));
  }

  test("S-mode: a read-only page can be read, a store to it is a store access fault with mtval = the address", () => {
    const f = hart(
      [...A.li(A.s1, DATA + 8), A.ld(A.a0, A.s1), A.ld(A.a1, A.s1), A.sd(A.a0, A.s1), A.addi(A.a2, 0, 1)].flat(),
    );
    protect(f, PMP_R);
    f.write64(DATA + 8, 0x1234n);
    f.enter("HS", CODE);
    f.run(30, "fast");
    expect(f.x(A.a1)).toBe(0x1234n);
    expect(f.hart.mcauseLo).toBe(CAUSE_STORE_ACCESS_FAULT);
    expect(f.hart.mtval).toBe(DATA + 8);
    expect(f.x(A.a2)).toBe(0n);
  });

  test("no entry matches: an S-mode fetch is an instruction access fault", () => {
    const f = hart([A.addi(A.a0, 0, 1)]);
    writeCsr(f, CSR_PMPCFG0, 0);
    f.enter("HS", CODE);
    f.run(5, "fast");
    expect(f.hart.mcauseLo).toBe(CAUSE_FETCH_ACCESS_FAULT);
    expect(f.hart.mepc).toBe(CODE);
  });

  test("a PMP change after a load filled the TLB takes effect at once (the TLB is flushed)", () => {
    const f = hart(
      [
        ...A.li(A.s1, DATA),
        A.ld(A.a0, A.s1), // fills the read TLB entry
        A.ecall(), // to M, which removes the read permission and returns
        A.ld(A.a1, A.s1), // must fault now
      ].flat(),
    );
    protect(f, PMP_R);
    f.write64(DATA, 7n);
    f.enter("HS", CODE);
    f.run(20, "fast");
    expect(f.x(A.a0)).toBe(7n);
    // In M at the handler after the ecall: take the permission away and return past the ecall.
    writeCsr(f, CSR_PMPCFG0, cfgWord(TOR | RWX, NAPOT));
    f.enter("HS", f.hart.mepc + 4);
    f.run(20, "fast");
    expect(f.hart.mcauseLo).toBe(CAUSE_LOAD_ACCESS_FAULT);
    expect(f.x(A.a1)).toBe(0n);
  });

  test("a page an entry boundary cuts is never cached: the word in a hole faults after its neighbours were read", () => {
    const f = hart(
      [
        ...A.li(A.s1, DATA),
        A.ld(A.a0, A.s1, 0),
        A.ld(A.a1, A.s1, 8),
        A.ld(A.a0, A.s1, 0),
        A.lw(A.a2, A.s1, 0x100), // the hole
      ].flat(),
    );
    // Entry 0: a 4-byte hole at DATA + 0x100 with no permissions; entry 1: the 2 GiB from RAM_BASE, RWX.
    writeCsr(f, CSR_PMPADDR0, (DATA + 0x100) / 4);
    writeCsr(f, CSR_PMPADDR0 + 1, napot(RAM_BASE, 2 ** 31));
    writeCsr(f, CSR_PMPCFG0, cfgWord(NA4, NAPOT | RWX));
    f.write64(DATA + 8, 9n);
    f.enter("HS", CODE);
    f.run(30, "fast");
    expect(f.x(A.a1)).toBe(9n);
    expect(f.hart.mcauseLo).toBe(CAUSE_LOAD_ACCESS_FAULT);
    expect(f.hart.mtval).toBe(DATA + 0x100);
  });

  test("a code page an entry cuts runs without the decode cache, up to the word it may not execute", () => {
    const f = hart([A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1)]);
    // Entry 0: CODE + 12, 4 bytes, readable but not executable; entry 1: the 2 GiB from RAM_BASE, RWX.
    writeCsr(f, CSR_PMPADDR0, (CODE + 12) / 4);
    writeCsr(f, CSR_PMPADDR0 + 1, napot(RAM_BASE, 2 ** 31));
    writeCsr(f, CSR_PMPCFG0, cfgWord(NA4 | PMP_R, NAPOT | RWX));
    for (const engine of ["fast", "jit", "reference"] as const) {
      f.setX(A.a0, 0);
      f.hart.mcauseLo = 0;
      f.enter("HS", CODE);
      f.run(10, engine);
      expect([engine, f.x(A.a0)]).toEqual([engine, 3n]);
      expect(f.hart.mcauseLo).toBe(CAUSE_FETCH_ACCESS_FAULT);
      expect(f.hart.mepc).toBe(CODE + 12);
    }
  });

  test("M-mode: a locked read-only entry stops its stores; without L the same entry does not", () => {
    const code = [...A.li(A.s1, DATA), A.sd(A.s1, A.s1), A.addi(A.a2, 0, 1)].flat();
    const unlocked = hart(code);
    protect(unlocked, PMP_R);
    unlocked.enter("M", CODE);
    unlocked.run(20, "fast");
    expect(unlocked.x(A.a2)).toBe(1n);
    const locked = hart(code);
    protect(locked, PMP_R | PMP_L);
    locked.enter("M", CODE);
    locked.run(20, "fast");
    expect(locked.hart.mcauseLo).toBe(CAUSE_STORE_ACCESS_FAULT);
    expect(locked.x(A.a2)).toBe(0n);
  });

  test("page-table walks are S-mode reads: a walk PMP does not let read faults the access with an access fault", () => {
    const f = makeHart({ pmp: "reset" });
    expect(f.hart.pmp.active).toBe(0);
    // With satp on and no PMP entry, an S-mode load's walk cannot read the root table.
    f.write(HANDLER, [A.jal(0, 0)]);
    f.hart.mtvec = HANDLER;
    // Code runs in M (no translation); MPRV makes the load an S-mode, translated one.
    f.write(CODE, [...A.li(A.s1, 0x1000), A.ld(A.a0, A.s1)].flat());
    f.hart.satpLo = (RAM_BASE + 0x20_0000) / 4096;
    f.hart.satpHi = 8 << 28; // Sv39
    f.hart.mstatus |= (1 << 17) | (1 << 11); // MPRV, MPP = S
    f.hart.updateContext();
    f.enter("M", CODE);
    f.run(10, "fast");
    expect(f.hart.mcauseLo).toBe(CAUSE_LOAD_ACCESS_FAULT);
    expect(f.hart.mtval).toBe(0x1000);
  });
});
