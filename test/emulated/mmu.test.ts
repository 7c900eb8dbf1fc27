/**
 * Address translation: Sv39/Sv48 single stage, Sv39x4/Sv48x4 G-stage and two-stage walks (superpages,
 * misaligned superpages, A/D updates, MXR/SUM/U rules), guest-page-fault reporting (htval, htinst, GVA),
 * HLV/HLVX/HSV, and TLB invalidation by SFENCE.VMA / HFENCE.
 */
import { describe, expect, test } from "bun:test";
import { HSTATUS_GVA, HSTATUS_SPVP, MEDELEG_MASK, MSTATUS_MXR, MSTATUS_SUM } from "../../src/arch/riscv64/csr.ts";
import { TINST_PTE_READ_64, TINST_PTE_WRITE_64 } from "../../src/arch/riscv64/isa.ts";
import {
  GSTAGE_ROOT_ENTRIES,
  GSTAGE_ROOT_SIZE,
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  SATP_MODE_SV39,
  SATP_MODE_SV48,
} from "../../src/arch/riscv64/paging.ts";
import {
  CAUSE_FETCH_GUEST_PAGE_FAULT,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT,
  CAUSE_VIRTUAL_INSTRUCTION,
  PRV_M,
  PRV_S,
  PRV_U,
} from "../../src/arch/riscv64/traps.ts";
import { ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, translate } from "../../src/hal/emulated/mmu.ts";
import * as A from "./asm.ts";
import {
  type HartFixture,
  makeHart,
  A as PTE_A,
  D as PTE_D,
  pte,
  R,
  RAM_BASE,
  satp,
  setSatp,
  Tables,
  U,
  V,
  W,
  X,
} from "./fixture.ts";

const RWX = R | W | X;

function setVsatp(f: HartFixture, mode: number, root: number): void {
  [f.hart.vsatpLo, f.hart.vsatpHi] = satp(mode, root);
  f.hart.flushAllTlbs();
}

function setHgatp(f: HartFixture, mode: number, root: number, vmid = 1): void {
  [f.hart.hgatpLo, f.hart.hgatpHi] = satp(mode, root, vmid);
  f.hart.flushAllTlbs();
}

function tr(f: HartFixture, va: bigint, access: 0 | 1 | 2, priv: number, virt = false): unknown {
  const t = translate(f.hart, Number(BigInt.asIntN(64, va)), access, priv, virt, false);
  return t.ok ? { pa: t.pa } : { cause: t.cause, gpa: t.gpa, tinst: t.tinst };
}

describe("Sv39 / Sv48", () => {
  test("Sv39 4 KiB, 2 MiB and 1 GiB leaves; non-canonical addresses fault", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x1000n, RAM_BASE + 0x5000, 0, RWX | PTE_A | PTE_D);
    t.map(root, 3, 0x40_0000n, RAM_BASE + 0x20_0000, 1, R | PTE_A);
    t.map(root, 3, 0x4000_0000n, RAM_BASE, 2, R | PTE_A);
    setSatp(f, SATP_MODE_SV39, root);
    expect(tr(f, 0x1234n, ACCESS_READ, PRV_S)).toEqual({ pa: RAM_BASE + 0x5234 });
    expect(tr(f, 0x5f_fff8n, ACCESS_READ, PRV_S)).toEqual({ pa: RAM_BASE + 0x3f_fff8 });
    expect(tr(f, 0x7654_3210n, ACCESS_READ, PRV_S)).toEqual({ pa: RAM_BASE + 0x3654_3210 });
    expect(tr(f, 0x2000n, ACCESS_READ, PRV_S)).toEqual({ cause: CAUSE_LOAD_PAGE_FAULT, gpa: 0, tinst: 0 });
    expect(tr(f, 0x40_0000n, ACCESS_WRITE, PRV_S)).toEqual({ cause: CAUSE_STORE_PAGE_FAULT, gpa: 0, tinst: 0 });
    expect(tr(f, 0x40_0000n, ACCESS_EXEC, PRV_S)).toEqual({ cause: CAUSE_FETCH_PAGE_FAULT, gpa: 0, tinst: 0 });
    // Bit 39 set without the upper bits: not canonical.
    expect(tr(f, 1n << 39n, ACCESS_READ, PRV_S)).toEqual({ cause: CAUSE_LOAD_PAGE_FAULT, gpa: 0, tinst: 0 });
    // M-mode ignores satp.
    expect(tr(f, 0x1234n, ACCESS_READ, PRV_M)).toEqual({ pa: 0x1234 });
  });

  test("misaligned superpages fault", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x20_0000n, RAM_BASE + 0x1000, 1, R | PTE_A); // 2 MiB leaf at a 4 KiB-aligned PPN
    t.map(root, 3, 0x8000_0000n, RAM_BASE + 0x20_0000, 2, R | PTE_A); // 1 GiB leaf at a 2 MiB-aligned PPN
    setSatp(f, SATP_MODE_SV39, root);
    expect(tr(f, 0x20_0000n, ACCESS_READ, PRV_S)).toEqual({ cause: CAUSE_LOAD_PAGE_FAULT, gpa: 0, tinst: 0 });
    expect(tr(f, 0x8000_0000n, ACCESS_READ, PRV_S)).toEqual({ cause: CAUSE_LOAD_PAGE_FAULT, gpa: 0, tinst: 0 });
  });

  test("Sv48 four-level walk with a high (sign-extended) address and a 512 GiB-level pointer", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    const va = 0xffff_8000_1234_5000n;
    t.map(root, 4, va, RAM_BASE + 0x7000, 0, R | W | PTE_A | PTE_D);
    setSatp(f, SATP_MODE_SV48, root);
    expect(tr(f, va | 0x18n, ACCESS_WRITE, PRV_S)).toEqual({ pa: RAM_BASE + 0x7018 });
    expect(tr(f, 0x0000_8000_1234_5000n, ACCESS_READ, PRV_S)).toEqual({
      cause: CAUSE_LOAD_PAGE_FAULT,
      gpa: 0,
      tinst: 0,
    });
  });

  test("reserved encodings: W without R, PTE bits 63:54, non-leaf A/D/U all fault", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x1000n, RAM_BASE + 0x5000, 0, W | PTE_A | PTE_D);
    t.map(root, 3, 0x4000_0000n, RAM_BASE, 2, R | PTE_A);
    f.write64(root + 8, f.read64(root + 8) | (1n << 61n)); // PBMT bits in the 1 GiB leaf
    setSatp(f, SATP_MODE_SV39, root);
    expect(tr(f, 0x1000n, ACCESS_READ, PRV_S)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
    expect(tr(f, 0x4000_0000n, ACCESS_READ, PRV_S)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
    f.write64(root, f.read64(root) | BigInt(PTE_A)); // non-leaf with A set
    f.hart.flushAllTlbs();
    expect(tr(f, 0x1000n, ACCESS_READ, PRV_S)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
  });

  test("A and D are set by the hart (Svadu-style), D only by stores", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x1000n, RAM_BASE + 0x5000, 0, R | W);
    setSatp(f, SATP_MODE_SV39, root);
    const leafAddr = (): number => {
      const l1 = Number((f.read64(root) >> 10n) << 12n);
      const l0 = Number((f.read64(l1) >> 10n) << 12n);
      return l0 + 8;
    };
    expect(tr(f, 0x1000n, ACCESS_READ, PRV_S)).toEqual({ pa: RAM_BASE + 0x5000 });
    expect(f.read64(leafAddr()) & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A));
    expect(tr(f, 0x1000n, ACCESS_WRITE, PRV_S)).toEqual({ pa: RAM_BASE + 0x5000 });
    expect(f.read64(leafAddr()) & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A | PTE_D));
  });

  test("U pages: SUM for S loads/stores, never S fetches; S pages invisible to U; MXR reads X-only", () => {
    const f = makeHart();
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x1000n, RAM_BASE + 0x5000, 0, RWX | U | PTE_A | PTE_D);
    t.map(root, 3, 0x2000n, RAM_BASE + 0x6000, 0, RWX | PTE_A | PTE_D);
    t.map(root, 3, 0x3000n, RAM_BASE + 0x7000, 0, X | PTE_A);
    setSatp(f, SATP_MODE_SV39, root);
    expect(tr(f, 0x1000n, ACCESS_READ, PRV_S)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
    f.hart.mstatus |= MSTATUS_SUM;
    expect(tr(f, 0x1000n, ACCESS_WRITE, PRV_S)).toEqual({ pa: RAM_BASE + 0x5000 });
    expect(tr(f, 0x1000n, ACCESS_EXEC, PRV_S)).toMatchObject({ cause: CAUSE_FETCH_PAGE_FAULT });
    expect(tr(f, 0x1000n, ACCESS_EXEC, PRV_U)).toEqual({ pa: RAM_BASE + 0x5000 });
    expect(tr(f, 0x2000n, ACCESS_READ, PRV_U)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
    expect(tr(f, 0x3000n, ACCESS_READ, PRV_S)).toMatchObject({ cause: CAUSE_LOAD_PAGE_FAULT });
    f.hart.mstatus |= MSTATUS_MXR;
    expect(tr(f, 0x3000n, ACCESS_READ, PRV_S)).toEqual({ pa: RAM_BASE + 0x7000 });
  });
});

describe("G-stage and two-stage translation", () => {
  /** Guest RAM at GPA 0x8000_0000 → host RAM + 1 MiB (2 MiB leaf would need 2 MiB alignment: use 4 KiB leaves). */
  function guest(f: HartFixture, mode: "sv39x4" | "sv48x4"): { t: Tables; groot: number } {
    const t = new Tables(f);
    const groot = t.alloc(GSTAGE_ROOT_SIZE);
    t.alloc(); // keep the 16 KiB root whole
    t.alloc();
    t.alloc();
    const levels = mode === "sv39x4" ? 3 : 4;
    for (let off = 0; off < 0x10_0000; off += 0x1000) {
      t.map(
        groot,
        levels,
        BigInt(0x8000_0000 + off),
        RAM_BASE + 0x10_0000 + off,
        0,
        RWX | U | PTE_A | PTE_D,
        GSTAGE_ROOT_ENTRIES,
      );
    }
    setHgatp(f, mode === "sv39x4" ? HGATP_MODE_SV39X4 : HGATP_MODE_SV48X4, groot);
    return { t, groot };
  }

  test("Sv39x4: a 2048-entry root indexed by GPA[40:30]; GPAs beyond 41 bits fault; leaves need U", () => {
    const f = makeHart();
    const { t, groot } = guest(f, "sv39x4");
    expect(tr(f, 0x8000_0123n, ACCESS_READ, PRV_S, true)).toEqual({ pa: RAM_BASE + 0x10_0123 });
    // Root index 1500 (GPA 0x177_0000_0000) exists only because the root has 2048 entries.
    t.map(groot, 3, 0x177_0000_0000n, RAM_BASE + 0x3000, 0, R | U | PTE_A, GSTAGE_ROOT_ENTRIES);
    f.hart.flushAllTlbs();
    expect(tr(f, 0x177_0000_0010n, ACCESS_READ, PRV_S, true)).toEqual({ pa: RAM_BASE + 0x3010 });
    expect(tr(f, 1n << 41n, ACCESS_READ, PRV_S, true)).toEqual({
      cause: CAUSE_LOAD_GUEST_PAGE_FAULT,
      gpa: 2 ** 41,
      tinst: 0,
    });
    t.map(groot, 3, 0x9000_0000n, RAM_BASE + 0x3000, 0, R | PTE_A, GSTAGE_ROOT_ENTRIES); // U clear
    f.hart.flushAllTlbs();
    expect(tr(f, 0x9000_0000n, ACCESS_READ, PRV_S, true)).toEqual({
      cause: CAUSE_LOAD_GUEST_PAGE_FAULT,
      gpa: 0x9000_0000,
      tinst: 0,
    });
    expect(tr(f, 0x8000_0000n, ACCESS_READ, PRV_S, false)).toEqual({ pa: 0x8000_0000 }); // V=0 ignores hgatp
  });

  test("Sv48x4 G-stage with a 2 MiB leaf, and a misaligned one", () => {
    const f = makeHart();
    const t = new Tables(f);
    const groot = t.alloc(GSTAGE_ROOT_SIZE);
    t.next += 3 * 4096;
    t.map(groot, 4, 0x2_0000_0000_0000n, RAM_BASE, 1, RWX | U | PTE_A | PTE_D, GSTAGE_ROOT_ENTRIES);
    t.map(groot, 4, 0x40_0000n, RAM_BASE + 0x1000, 1, RWX | U | PTE_A | PTE_D, GSTAGE_ROOT_ENTRIES);
    setHgatp(f, HGATP_MODE_SV48X4, groot);
    expect(tr(f, 0x2_0000_0012_3456n, ACCESS_WRITE, PRV_U, true)).toEqual({ pa: RAM_BASE + 0x12_3456 });
    expect(tr(f, 0x40_0000n, ACCESS_READ, PRV_U, true)).toMatchObject({ cause: CAUSE_LOAD_GUEST_PAGE_FAULT });
  });

  test("two-stage: the VS-stage table lives in guest-physical memory", () => {
    const f = makeHart();
    const { t } = guest(f, "sv39x4");
    // VS-stage root at GPA 0x8000_8000 (host RAM + 1 MiB + 0x8000); tables are written through host addresses.
    const hostOf = (gpa: number): number => gpa - 0x8000_0000 + RAM_BASE + 0x10_0000;
    const vsRootGpa = 0x8000_8000;
    const l1Gpa = 0x8000_9000;
    const l0Gpa = 0x8000_a000;
    f.write64(hostOf(vsRootGpa) + 8 * 0, pte(l1Gpa, V));
    f.write64(hostOf(l1Gpa) + 8 * 0, pte(l0Gpa, V));
    f.write64(hostOf(l0Gpa) + 8 * 1, pte(0x8000_4000, V | R | W | PTE_A | PTE_D));
    setVsatp(f, SATP_MODE_SV39, vsRootGpa);
    expect(tr(f, 0x1abcn, ACCESS_READ, PRV_S, true)).toEqual({ pa: hostOf(0x8000_4abc) });
    // A VS-stage leaf pointing outside guest RAM: guest-page fault with the GPA.
    f.write64(hostOf(l0Gpa) + 8 * 2, pte(0x1000_0000, V | R | W | PTE_A | PTE_D));
    expect(tr(f, 0x2010n, ACCESS_WRITE, PRV_S, true)).toEqual({
      cause: CAUSE_STORE_GUEST_PAGE_FAULT,
      gpa: 0x1000_0010,
      tinst: 0,
    });
    // A VS-stage page-table pointer outside guest RAM: the implicit PTE read faults with pseudo-instruction 0x3000.
    f.write64(hostOf(l1Gpa) + 8 * 1, pte(0x2000_0000, V));
    expect(tr(f, 0x20_0000n, ACCESS_EXEC, PRV_S, true)).toEqual({
      cause: CAUSE_FETCH_GUEST_PAGE_FAULT,
      gpa: 0x2000_0000,
      tinst: TINST_PTE_READ_64,
    });
    // A VS-stage A/D update needs G-stage write permission on the PTE's page: 0x3020.
    t.map(t.alloc(), 3, 0n, 0, 0, 0); // (keep the allocator moving; unrelated)
    f.write64(hostOf(l0Gpa) + 8 * 3, pte(0x8000_4000, V | R | W)); // A clear: needs an update
    const groot = (f.hart.hgatpLo >>> 0) * 4096;
    t.map(groot, 3, BigInt(l0Gpa), hostOf(l0Gpa), 0, R | X | U | PTE_A | PTE_D, GSTAGE_ROOT_ENTRIES); // PTE page read-only
    f.hart.flushAllTlbs();
    expect(tr(f, 0x3000n, ACCESS_READ, PRV_S, true)).toEqual({
      cause: CAUSE_LOAD_GUEST_PAGE_FAULT,
      gpa: l0Gpa + 3 * 8,
      tinst: TINST_PTE_WRITE_64,
    });
  });
});

describe("guest-page-fault reporting, HLV/HSV and TLB invalidation (executed)", () => {
  /** Host RAM + 1 MiB is guest RAM at GPA 0x8000_0000 (identity GVA = GPA with vsatp = 0). */
  function vsGuest(): { f: HartFixture; t: Tables } {
    const f = makeHart();
    const t = new Tables(f);
    const groot = t.alloc(GSTAGE_ROOT_SIZE);
    t.next += 3 * 4096;
    for (let off = 0; off < 0x10_0000; off += 0x1000) {
      t.map(
        groot,
        3,
        BigInt(0x8000_0000 + off),
        RAM_BASE + 0x10_0000 + off,
        0,
        RWX | U | PTE_A | PTE_D,
        GSTAGE_ROOT_ENTRIES,
      );
    }
    setHgatp(f, HGATP_MODE_SV39X4, groot);
    f.hart.medeleg = MEDELEG_MASK; // everything to HS (the VMM's view)
    f.hart.stvec = RAM_BASE + 0x4000;
    f.hart.mtvec = RAM_BASE + 0x4000;
    f.write(RAM_BASE + 0x4000, [A.jal(0, 0)]);
    return { f, t };
  }

  test("a VS load from an unmapped GPA: stval = GVA, htval = GPA >> 2, htinst = transformed lw, GVA = 1", () => {
    const { f } = vsGuest();
    const code = 0x8000_0000;
    f.write(RAM_BASE + 0x10_0000, [...A.li(A.t0, 0x1000_0006), A.lw(A.a3, A.t0, 0x10)].flat());
    f.enter("VS", code);
    f.run(10);
    const h = f.hart;
    expect([h.scauseLo, h.stval, h.htval, h.sepc]).toEqual([
      CAUSE_LOAD_GUEST_PAGE_FAULT,
      0x1000_0016,
      0x1000_0016 >> 2,
      code + 8,
    ]);
    expect(h.htinst).toBe(0x03 | (A.a3 << 7) | (2 << 12)); // opcode LOAD, rd = a3, funct3 = 2, rs1 and offset zeroed
    expect(h.hstatus & HSTATUS_GVA).toBe(HSTATUS_GVA);
  });

  test("a compressed store's htinst is its 32-bit form with bit 1 clear", () => {
    const { f } = vsGuest();
    const p = new A.Program(0x8000_0000);
    p.emit(A.li(A.s0, 0x1000_0000));
    p.c(A.cSw(A.a1, A.s0, 8));
    f.write(RAM_BASE + 0x10_0000, p.assemble());
    f.enter("VS", 0x8000_0000);
    f.run(10);
    expect(f.hart.scauseLo).toBe(CAUSE_STORE_GUEST_PAGE_FAULT);
    expect(f.hart.htinst).toBe((A.sw(A.a1, 0, 0) & ~2) >>> 0);
  });

  test("HLV/HLVX/HSV from HS use vsatp/hgatp and SPVP; HLVX needs execute; VS gets virtual instruction", () => {
    const { f } = vsGuest();
    f.write64(RAM_BASE + 0x10_0100, 0x1122_3344_5566_7788n);
    const code = RAM_BASE + 0x1000;
    f.write(
      code,
      [
        ...A.li(A.t0, 0x8000_0100),
        A.hlvD(A.a0, A.t0),
        A.hlvBu(A.a1, A.t0),
        A.hlvxWu(A.a2, A.t0),
        A.li(A.t1, 0x42),
        A.hsvB(A.t1, A.t0),
      ].flat(),
    );
    f.hart.hstatus |= HSTATUS_SPVP;
    f.enter("HS", code);
    f.run(9);
    expect([f.x(A.a0), f.x(A.a1), f.x(A.a2)]).toEqual([0x1122_3344_5566_7788n, 0x88n, 0x5566_7788n]);
    expect(f.read64(RAM_BASE + 0x10_0100) & 0xffn).toBe(0x42n);
    const u = vsGuest().f;
    u.write(code, [A.hlvW(A.a0, A.zero)]);
    u.enter("U", code);
    u.run(1);
    expect(u.hart.scauseLo).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    const v = vsGuest().f;
    v.write(RAM_BASE + 0x10_0000, [A.hlvW(A.a0, A.zero)]);
    v.enter("VS", 0x8000_0000);
    v.run(1);
    expect(v.hart.scauseLo).toBe(CAUSE_VIRTUAL_INSTRUCTION);
  });

  test("translations are cached until SFENCE.VMA (by address or all)", () => {
    for (const fence of [A.sfenceVma(A.zero), A.sfenceVma(A.s1)]) {
      const f = makeHart();
      const t = new Tables(f);
      const root = t.alloc();
      t.map(root, 3, 0x1000n, RAM_BASE + 0x5000, 0, R | W | PTE_A | PTE_D);
      t.map(root, 3, 0x8000_0000n, RAM_BASE, 2, RWX | PTE_A | PTE_D); // identity for code and page tables
      setSatp(f, SATP_MODE_SV39, root);
      f.write64(RAM_BASE + 0x5000, 1n);
      f.write64(RAM_BASE + 0x6000, 2n);
      const l1 = Number((f.read64(root) >> 10n) << 12n);
      const leaf = Number((f.read64(l1) >> 10n) << 12n) + 8;
      const newPte = pte(RAM_BASE + 0x6000, R | W | V | PTE_A | PTE_D);
      const code = RAM_BASE + 0x1000;
      f.write(
        code,
        [
          ...A.li(A.s1, 0x1008),
          A.ld(A.a0, A.s1, -8),
          ...A.li(A.s2, leaf),
          ...A.li(A.s3, newPte),
          A.sd(A.s3, A.s2, 0), // the guest remaps the page itself: no flush until its fence
          A.ld(A.a1, A.s1, -8),
          fence,
          A.ld(A.a2, A.s1, -8),
        ].flat(),
      );
      f.enter("HS", code);
      f.run(40);
      expect([f.x(A.a0), f.x(A.a1), f.x(A.a2)]).toEqual([1n, 1n, 2n]);
    }
  });

  test("an addressed SFENCE.VMA drops every 4 KiB piece of a superpage containing the address", () => {
    const f = makeHart({ ramSize: 8 << 20 });
    const t = new Tables(f);
    const root = t.alloc();
    t.map(root, 3, 0x40_0000n, RAM_BASE + 0x40_0000, 1, R | W | PTE_A | PTE_D);
    t.map(root, 3, 0x8000_0000n, RAM_BASE, 2, RWX | PTE_A | PTE_D);
    setSatp(f, SATP_MODE_SV39, root);
    f.write64(RAM_BASE + 0x40_3000, 3n);
    f.write64(RAM_BASE + 0x60_3000, 4n);
    const l1 = Number((f.read64(root) >> 10n) << 12n);
    const code = RAM_BASE + 0x1000;
    f.write(
      code,
      [
        ...A.li(A.s1, 0x40_3000),
        A.ld(A.a0, A.s1),
        ...A.li(A.s2, l1 + 2 * 8),
        ...A.li(A.s3, pte(RAM_BASE + 0x60_0000, R | W | V | PTE_A | PTE_D)),
        A.sd(A.s3, A.s2, 0), // move the superpage
        ...A.li(A.s4, 0x40_0010), // flush another address inside it
        A.sfenceVma(A.s4),
        A.ld(A.a1, A.s1),
      ].flat(),
    );
    f.enter("HS", code);
    f.run(40);
    expect([f.x(A.a0), f.x(A.a1)]).toEqual([3n, 4n]);
  });
});
