import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  encodeI,
  encodeR,
  encodeS,
  OPC_LOAD,
  OPC_LOAD_FP,
  OPC_OP,
  OPC_OP_IMM,
  OPC_STORE,
} from "../../arch/riscv64/isa.ts";
import * as D from "./decode.ts";

describe("decode32", () => {
  test("fields and sign-extended immediates", () => {
    const addi = D.decode32(encodeI(OPC_OP_IMM, 5, 0, 6, -1));
    expect([addi.op, addi.rd, addi.rs1, addi.imm, addi.len]).toEqual([D.OP_ADDI, 5, 6, -1, 4]);
    // jal x1, -4 ; beq x1, x2, -2048 ; lui x3, 0xfffff
    expect(D.decode32(0xffdff0ef).imm).toBe(-4);
    expect(D.decode32(0x80208063).imm).toBe(-4096);
    expect(D.decode32(0xfffff1b7).imm).toBe(0xfffff000 | 0);
    const sd = D.decode32(encodeS(OPC_STORE, 3, 2, 8, -16));
    expect([sd.op, sd.rs1, sd.rs2, sd.imm]).toEqual([D.OP_SD, 2, 8, -16]);
  });

  test("reserved encodings are illegal", () => {
    const illegal = [
      encodeI(OPC_OP_IMM, 1, 1, 1, 0x040), // slli with imm[11:6] = 1
      0x0200109b, // slliw with imm[5] set
      encodeI(OPC_LOAD, 1, 7, 1, 0), // load funct3 7
      encodeS(OPC_STORE, 4, 1, 1, 0), // store funct3 4
      encodeR(OPC_OP, 1, 0, 1, 1, 0x02), // OP funct7 2
      0x1015202f, // lr.w with rs2 = 1
      encodeI(OPC_LOAD_FP, 1, 4, 1, 0), // vector load width
      0x00000000,
      0xffffffff,
      0x00200073, // uret is gone
      0x7b200073, // dret is not implemented
      0x000000f3, // ecall with rd != 0
    ];
    for (const w of illegal) expect([w.toString(16), D.decode32(w).op]).toEqual([w.toString(16), D.OP_ILLEGAL]);
  });

  test("PAUSE (Zihintpause) is a FENCE marked as a pause hint; other FENCE encodings are plain fences", () => {
    const pause = D.decode32(0x0100000f);
    expect(pause.op).toBe(D.OP_FENCE);
    expect(pause.imm).toBe(D.FENCE_PAUSE);
    expect(D.decode32(0x0ff0000f).imm).toBe(0); // fence iorw, iorw
    expect(D.decode32(0x0100008f).imm).toBe(0); // the same hint bits with rd = x1: not PAUSE
    expect(D.decode32(0x8330000f).imm).toBe(0); // fence.tso
  });

  test("system instructions, CSR ops and hypervisor loads/stores", () => {
    expect(D.decode32(0x10500073).op).toBe(D.OP_WFI);
    expect(D.decode32(0x12000073).op).toBe(D.OP_SFENCE_VMA);
    expect(D.decode32(0x22000073).op).toBe(D.OP_HFENCE_VVMA);
    expect(D.decode32(0x62000073).op).toBe(D.OP_HFENCE_GVMA);
    const csr = D.decode32(0x34102f73); // csrr t5, mepc
    expect([csr.op, csr.rd, csr.imm]).toEqual([D.OP_CSRRS, 30, 0x341]);
    const hlvx = D.decode32(0x6832c573 >>> 0); // hlvx.wu a0, (t0) = funct7 0x34, rs2 3
    expect([hlvx.op, hlvx.aux]).toEqual([D.OP_HLV, 4 | D.HYP_UNSIGNED | D.HYP_EXEC]);
  });
});

describe("compressed expansion", () => {
  const cases: [string, number, number][] = [
    ["c.addi4spn a0, sp, 16", 0x0808, encodeI(OPC_OP_IMM, 10, 0, 2, 16)],
    ["c.lw a1, 4(a0)", 0x414c, encodeI(OPC_LOAD, 11, 2, 10, 4)],
    ["c.ld a1, 8(a0)", 0x650c, encodeI(OPC_LOAD, 11, 3, 10, 8)],
    ["c.fld fa1, 8(a0)", 0x250c, encodeI(OPC_LOAD_FP, 11, 3, 10, 8)],
    ["c.sd a1, 8(a0)", 0xe50c, encodeS(OPC_STORE, 3, 10, 11, 8)],
    ["c.addi a0, -1", 0x157d, encodeI(OPC_OP_IMM, 10, 0, 10, -1)],
    ["c.addiw a0, 1", 0x2505, encodeI(0x1b, 10, 0, 10, 1)],
    ["c.li a0, 31", 0x457d, encodeI(OPC_OP_IMM, 10, 0, 0, 31)],
    ["c.addi16sp sp, -64", 0x7139, encodeI(OPC_OP_IMM, 2, 0, 2, -64)],
    ["c.lui a0, 1", 0x6505, 0x00001537],
    ["c.srli a0, 63", 0x917d, encodeI(OPC_OP_IMM, 10, 5, 10, 63)],
    ["c.srai a0, 1", 0x8505, encodeI(OPC_OP_IMM, 10, 5, 10, 0x401)],
    ["c.andi a0, -1", 0x997d, encodeI(OPC_OP_IMM, 10, 7, 10, -1)],
    ["c.sub a0, a1", 0x8d0d, encodeR(OPC_OP, 10, 0, 10, 11, 0x20)],
    ["c.subw a0, a1", 0x9d0d, encodeR(0x3b, 10, 0, 10, 11, 0x20)],
    ["c.j -2", 0xbffd, 0xfffff06f],
    ["c.beqz a0, -2", 0xdd7d, 0xfe050fe3],
    ["c.slli a0, 32", 0x1502, encodeI(OPC_OP_IMM, 10, 1, 10, 32)],
    ["c.ldsp a0, 8(sp)", 0x6522, encodeI(OPC_LOAD, 10, 3, 2, 8)],
    ["c.jr ra", 0x8082, encodeI(0x67, 0, 0, 1, 0)],
    ["c.mv a0, a1", 0x852e, encodeR(OPC_OP, 10, 0, 0, 11, 0)],
    ["c.ebreak", 0x9002, 0x00100073],
    ["c.jalr a0", 0x9502, encodeI(0x67, 1, 0, 10, 0)],
    ["c.add a0, a1", 0x952e, encodeR(OPC_OP, 10, 0, 10, 11, 0)],
    ["c.sdsp a0, 8(sp)", 0xe42a, encodeS(OPC_STORE, 3, 2, 10, 8)],
    ["c.fsdsp fa0, 8(sp)", 0xa42a, encodeS(0x27, 3, 2, 10, 8)],
  ];
  for (const [name, parcel, expanded] of cases) {
    test(name, () => {
      expect(D.expandCompressed(parcel).toString(16)).toBe((expanded >>> 0).toString(16));
      const insn = D.decode16(parcel);
      expect([insn.len, insn.raw, insn.bits]).toEqual([2, parcel, expanded >>> 0]);
    });
  }

  test("reserved compressed encodings are illegal", () => {
    for (const parcel of [
      0x0000,
      0x0008 & 0,
      0x6001 /* c.lui x0? hint ok */ & 0,
      0x2001 /* c.addiw x0 */,
      0x6101 /* c.addi16sp 0 */,
      0x6501 & 0x6fff /* c.lui a0, 0 */,
      0x4002 /* c.lwsp x0 */,
      0x6002 /* c.ldsp x0 */,
      0x8002 /* c.jr x0 */,
      0x8000 /* quadrant 0 funct3 4 */,
      0x9d41 /* c.subw funct reserved 10 */,
    ]) {
      expect([parcel.toString(16), D.decode16(parcel).op]).toEqual([parcel.toString(16), D.OP_ILLEGAL]);
    }
  });

  test("decoding never throws and every expansion re-decodes as a 32-bit instruction", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (parcel) => {
        if ((parcel & 3) === 3) return;
        const e = D.expandCompressed(parcel);
        const insn = D.decode16(parcel);
        if (e < 0) expect(insn.op).toBe(D.OP_ILLEGAL);
        else expect(insn.op).toBe(D.decode32(e).op);
      }),
      { numRuns: 20000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (w) => void D.decode32((w | 3) >>> 0)),
      { numRuns: 20000 },
    );
  });
});

describe("decode cache", () => {
  test("each word gets its own decoding, also after another word took its place in the table", () => {
    const first = encodeI(OPC_OP_IMM, 5, 0, 6, 42) >>> 0; // addi x5, x6, 42
    // Another addi x?, x6 (other rd and immediate) that falls on the same place.
    let other = -1;
    let otherRd = 0;
    for (let k = 1; k < 1 << 17 && other < 0; k++) {
      const candidate = encodeI(OPC_OP_IMM, k & 31, 0, 6, (k >> 5) - 2048) >>> 0;
      if (candidate !== first && D.decodeCacheIndex(candidate) === D.decodeCacheIndex(first)) {
        other = candidate;
        otherRd = k & 31;
      }
    }
    expect(other).toBeGreaterThanOrEqual(0);
    const a = D.decode32(first);
    const b = D.decode32(other);
    const c = D.decode32(first);
    expect([a.op, a.rd, a.rs1, a.imm, a.bits, a.len]).toEqual([D.OP_ADDI, 5, 6, 42, first, 4]);
    expect([b.op, b.rd, b.rs1, b.bits, b.imm]).toEqual([D.OP_ADDI, otherRd, 6, other, (other | 0) >> 20]);
    expect(c).toEqual(a);
    expect(D.decode32(first)).toBe(c); // a hit shares the decoded instruction
  });

  test("a compressed parcel and its 32-bit expansion keep their own lengths and fetched bits", () => {
    const parcel = 0x1141; // c.addi sp, -16
    const expansion = D.expandCompressed(parcel) >>> 0;
    const wide = D.decode32(expansion);
    const narrow = D.decode16(parcel);
    expect([narrow.op, narrow.len, narrow.raw, narrow.imm]).toEqual([D.OP_ADDI, 2, parcel, -16]);
    expect([wide.op, wide.len, wide.raw, wide.imm]).toEqual([D.OP_ADDI, 4, expansion, -16]);
    expect(D.decode16(parcel)).toBe(narrow);
    expect(D.decode32(expansion)).toBe(wide);
  });
});
