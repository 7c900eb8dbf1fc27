/**
 * Loads and stores: misaligned accesses are performed (also across a page boundary), a fault on the second page
 * reports that page's address and leaves memory untouched, stores drop decoded code of the page they hit
 * (self-modifying code after FENCE.I), and bare-machine non-RAM accesses stop the hart as MMIO.
 */
import { describe, expect, test } from "bun:test";
import { SATP_MODE_SV39 } from "../../src/arch/riscv64/paging.ts";
import { CAUSE_STORE_PAGE_FAULT } from "../../src/arch/riscv64/traps.ts";
import { STOP_MMIO } from "../../src/hal/emulated/hart.ts";
import * as A from "./asm.ts";
import { makeHart, A as PTE_A, D as PTE_D, pte, R, RAM_BASE, V, W, X } from "./fixture.ts";

describe("memory accesses", () => {
  for (const engine of ["reference", "fast", "jit"] as const) {
    test(`misaligned loads and stores, also across pages (${engine})`, () => {
      const f = makeHart();
      f.write64(RAM_BASE + 0x2ffc, 0x1122_3344_5566_7788n);
      f.write64(RAM_BASE + 0x3004, 0x99aa_bbcc_ddee_ff00n);
      f.write(
        RAM_BASE,
        [
          ...A.li(A.s0, RAM_BASE + 0x2ffd),
          A.ld(A.a0, A.s0, 0),
          A.lw(A.a1, A.s0, 1),
          A.lhu(A.a2, A.s0, 2),
          ...A.li(A.t0, 0x0102_0304_0506_0708n),
          A.sd(A.t0, A.s0, 3),
          A.ld(A.a3, A.s0, 3),
          A.jal(0, 0),
        ].flat(),
      );
      f.hart.pc = RAM_BASE;
      f.run(40, engine);
      expect(f.x(A.a0)).toBe(0x0011_2233_4455_6677n);
      expect(f.x(A.a1)).toBe(0x3344_5566n);
      expect(f.x(A.a3)).toBe(0x0102_0304_0506_0708n);
      expect(f.x(A.a2)).toBe(0x4455n);
      expect(f.read64(RAM_BASE + 0x3000)).toBe(0x0102_0304_0506_0708n);
    });
  }

  test("a page-crossing store whose second page faults reports that page and writes nothing", () => {
    const f = makeHart();
    const root = RAM_BASE + 0x10_0000;
    const l1 = root + 0x1000;
    const l0 = root + 0x2000;
    f.write64(root, pte(l1, V));
    f.write64(l1, pte(l0, V));
    f.write64(l0 + 8, pte(RAM_BASE + 0x5000, V | R | W | PTE_A | PTE_D)); // VA 0x1000 only; 0x2000 unmapped
    f.write64(root + 2 * 8, pte(RAM_BASE, V | R | W | X | PTE_A | PTE_D)); // 1 GiB identity at 0x8000_0000
    f.hart.satpLo = root / 4096;
    f.hart.satpHi = SATP_MODE_SV39 << 28;
    f.hart.mtvec = RAM_BASE + 0x800;
    f.write(RAM_BASE + 0x800, [A.jal(0, 0)]);
    f.write(RAM_BASE, [...A.li(A.s0, 0x1ffc), A.li(A.t0, -1), A.sd(A.t0, A.s0, 0)].flat());
    f.enter("HS", RAM_BASE);
    f.run(10);
    expect([f.hart.mcauseLo, f.hart.mtval]).toEqual([CAUSE_STORE_PAGE_FAULT, 0x2000]);
    expect(f.read64(RAM_BASE + 0x5ff8)).toBe(0n);
  });

  test("stores to code drop its decoded blocks: the new instruction runs after FENCE.I", () => {
    for (const engine of ["fast", "jit"] as const) {
      const f = makeHart();
      // loop: a0 += 1 (patched to a0 += 100 by the program itself), then count down a1.
      const patched = A.addi(A.a0, A.a0, 100);
      f.write(
        RAM_BASE,
        [
          ...A.li(A.a1, 3),
          A.addi(A.a0, A.a0, 1), // +0x4 (li a1, 3 is one instruction)
          A.addi(A.a1, A.a1, -1),
          A.bne(A.a1, A.zero, -8),
          ...A.li(A.t0, patched),
          ...A.li(A.t1, RAM_BASE + 4),
          A.sw(A.t0, A.t1, 0),
          A.fenceI(),
          ...A.li(A.a1, 2),
          A.jal(0, -(4 * 12)),
        ].flat(),
      );
      f.hart.pc = RAM_BASE;
      f.run(60, engine);
      // 3 × 1 before the patch, then 2 × 100 (and the loop keeps going from there).
      expect(f.x(A.a0) >= 203n).toBe(true);
      expect(f.x(A.a0) % 100n).toBe(3n);
    }
  });

  test("bare-machine: a load from a non-RAM physical address stops the hart with the MMIO record", () => {
    const f = makeHart({ mmioExits: true });
    f.write(RAM_BASE, [...A.li(A.s0, 0x1000_0000), A.lh(A.a0, A.s0, 6)].flat());
    f.hart.pc = RAM_BASE;
    f.run(10);
    const h = f.hart;
    expect([h.stop, h.mmioAddr, h.mmioWidth, h.mmioIsWrite, h.mmioLen, h.pc]).toEqual([
      STOP_MMIO,
      0x1000_0006,
      2,
      false,
      4,
      RAM_BASE + 4,
    ]);
    expect(h.mmioTinst).toBe(0x03 | (A.a0 << 7) | (1 << 12));
  });
});
