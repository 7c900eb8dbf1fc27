import { describe, expect, test } from "bun:test";
import { encodeI, encodeS, OPC_LOAD, OPC_OP_IMM, OPC_STORE, OPC_SYSTEM } from "../../../arch/riscv64/isa.ts";
import { decode32, type Insn } from "../decode.ts";
import { planAccessGroups } from "./access-groups.ts";

const SP = 2;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const ld = (rd: number, rs1: number, off: number): Insn => decode32(encodeI(OPC_LOAD, rd, 3, rs1, off));
const lw = (rd: number, rs1: number, off: number): Insn => decode32(encodeI(OPC_LOAD, rd, 2, rs1, off));
const sd = (rs2: number, rs1: number, off: number): Insn => decode32(encodeS(OPC_STORE, 3, rs1, rs2, off));
const sb = (rs2: number, rs1: number, off: number): Insn => decode32(encodeS(OPC_STORE, 0, rs1, rs2, off));
const addi = (rd: number, rs1: number, imm: number): Insn => decode32(encodeI(OPC_OP_IMM, rd, 0, rs1, imm));
const csrr = (rd: number): Insn => decode32(encodeI(OPC_SYSTEM, rd, 2, 0, 0x340));
/** As compile.ts: everything but CSR accesses (and other system instructions) is compiled inline here. */
const inline = (d: Insn): boolean => d.raw !== csrr(0).raw && (d.raw & 0x7f) !== OPC_SYSTEM;

describe("access groups", () => {
  test("a prologue's stores through sp form one group, its loads another; lone accesses stay alone", () => {
    const block = [sd(1, SP, 24), sd(8, SP, 16), sd(9, SP, 8), ld(A0, SP, 0), ld(A1, SP, 8), lw(A2, A0, 4)];
    const { groupOf, groups } = planAccessGroups(block, inline);
    expect(Array.from(groupOf)).toEqual([0, 0, 0, 1, 1, -1]);
    expect(groups[0]).toMatchObject({ base: SP, store: true, members: [0, 1, 2], minOffset: 8, endOffset: 32 });
    expect(groups[1]).toMatchObject({ base: SP, store: false, members: [3, 4], minOffset: 0, endOffset: 16 });
  });

  test("a new base value ends the group (a load into its own base is the last member)", () => {
    const block = [ld(A1, A0, 0), ld(A0, A0, 8), ld(A2, A0, 16), ld(A1, A0, 24), addi(A0, A0, 8), ld(A2, A0, 0)];
    const { groupOf, groups } = planAccessGroups(block, inline);
    expect(Array.from(groupOf)).toEqual([0, 0, 1, 1, -1, -1]);
    expect(groups.map((g) => g.members)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  test("a call into the hart ends every group; misaligned offsets and x0 bases are never members", () => {
    const block = [ld(A1, A0, 0), csrr(A2), ld(A1, A0, 8), sd(A1, A0, 4), sb(A1, A0, 3), ld(A1, 0, 8), ld(A2, 0, 16)];
    const { groupOf, groups } = planAccessGroups(block, inline);
    expect(Array.from(groupOf)).toEqual([-1, -1, -1, -1, -1, -1, -1]);
    expect(groups).toEqual([]);
  });

  test("the widest member sets the alignment the base needs", () => {
    const { groups } = planAccessGroups([sb(A1, SP, 3), sd(A1, SP, 8)], inline);
    expect(groups[0]).toMatchObject({ align: 8, minOffset: 3, endOffset: 16 });
  });
});
