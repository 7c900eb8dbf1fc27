/**
 * The decoder in WebAssembly, for the WebAssembly interpreter (interp-module.ts): the slot words of the
 * instructions a boot runs most, decoded where the interpreter finds a slot not decoded yet, without a call into
 * TypeScript. The project kernel's boot decodes ~118 k slots; in TypeScript that was ~60 ms of the hart's thread
 * (~2.3 us a call early in the boot, while JavaScriptCore has not optimized the decoder yet) and ~150 ms of its
 * JIT threads' time optimizing the decoder.
 *
 * It decodes what `decode` (decode.ts) turns into an operation whose slot holds all the TypeScript paths need
 * (interp.ts `keepsInsn`): RV64I's integer operations, loads, stores, branches and jumps, the M extension, and the
 * compressed forms of those. It leaves everything else to TypeScript by answering 0: the operations whose slots
 * keep their `Insn` (fences, system and CSR instructions, atomics, the hypervisor's loads and stores, floating
 * point), the bit-manipulation extensions, and every encoding that decodes as illegal. A slot it fills is the one
 * `packSlot`/`slotImmediate` (block.ts) make of `decode`'s result: the operation, and the rd, rs1 and rs2 fields
 * of the (expanded) 32-bit word, whatever the instruction uses them for. test/emulated/wasm-decode.test.ts checks
 * that against `decode` for every compressed parcel and for 32-bit words of every major opcode.
 */

import {
  OPC_AUIPC,
  OPC_BRANCH,
  OPC_JAL,
  OPC_JALR,
  OPC_LOAD,
  OPC_LUI,
  OPC_OP,
  OPC_OP_32,
  OPC_OP_IMM,
  OPC_OP_IMM_32,
  OPC_STORE,
} from "../../../arch/riscv64/isa.ts";
import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import { SLOT_DECODED, SLOT_LONG, SLOT_RD_SHIFT, SLOT_RS1_SHIFT, SLOT_RS2_SHIFT } from "../block.ts";
import * as D from "../decode.ts";
import { HB_DECODES } from "../hart-block.ts";
import { CODE_PAGE_COUNT, CODE_PAGE_HOST, CODE_PAGE_MARKED, CODE_PAGE_SLOTS } from "../phys-memory.ts";
import { type FunctionBody, I32, Labels, type ModuleBuilder, Op } from "./emit.ts";

/** An expression: code that pushes one i32. */
type Expr = (f: FunctionBody) => void;

const lit =
  (value: number): Expr =>
  (f) => {
    f.i32(value | 0);
  };
const local =
  (index: number): Expr =>
  (f) => {
    f.get(index);
  };
const binary =
  (opcode: number) =>
  (a: Expr, b: Expr): Expr =>
  (f) => {
    a(f);
    b(f);
    f.op(opcode);
  };
const shl = (a: Expr, n: number): Expr => (n === 0 ? a : binary(Op.i32Shl)(a, lit(n)));
const shr = (a: Expr, n: number): Expr => (n === 0 ? a : binary(Op.i32ShrU)(a, lit(n)));
const sar = (a: Expr, n: number): Expr => (n === 0 ? a : binary(Op.i32ShrS)(a, lit(n)));
const and = (a: Expr, mask: number): Expr => binary(Op.i32And)(a, lit(mask));
const or =
  (...terms: Expr[]): Expr =>
  (f) => {
    terms.forEach((term, k) => {
      term(f);
      if (k > 0) f.op(Op.i32Or);
    });
  };
/** Bits [shift, shift + width) of `from`, moved to bit `to`. */
const field = (from: Expr, shift: number, width: number, to: number): Expr =>
  shl(and(shr(from, shift), (1 << width) - 1), to);
/** `value` (in its low `width` bits) sign-extended. */
const sext = (value: Expr, width: number): Expr => sar(shl(value, 32 - width), 32 - width);
const eq = (a: Expr, value: number): Expr => binary(Op.i32Eq)(a, lit(value));
const ltU = (a: Expr, value: number): Expr => binary(Op.i32LtU)(a, lit(value));
const plus = (a: Expr, value: number): Expr => binary(Op.i32Add)(a, lit(value));

/**
 * Statements over expressions in `f`: set a local, and run `then` when `cond` (an i32) is not 0 (an `if` opened
 * on `L`, the function's labels).
 */
function statements(
  f: FunctionBody,
  L: Labels,
): {
  set: (index: number, e: Expr) => void;
  when: (cond: Expr, then: () => void) => void;
} {
  return {
    set: (index, e) => {
      e(f);
      f.set(index);
    },
    when: (cond, then) => {
      cond(f);
      L.open(Op.if);
      then();
      L.end();
    },
  };
}

// The encoders of isa.ts (encodeI ...), as expressions.
const encodeR = (opcode: number, rd: Expr, funct3: number, rs1: Expr, rs2: Expr, funct7: number): Expr =>
  or(lit(funct7 << 25), shl(rs2, 20), shl(rs1, 15), lit(funct3 << 12), shl(rd, 7), lit(opcode));
const encodeI = (opcode: number, rd: Expr, funct3: number, rs1: Expr, imm: Expr): Expr =>
  or(shl(and(imm, 0xfff), 20), shl(rs1, 15), lit(funct3 << 12), shl(rd, 7), lit(opcode));
const encodeS = (opcode: number, funct3: number, rs1: Expr, rs2: Expr, imm: Expr): Expr =>
  or(field(imm, 5, 7, 25), shl(rs2, 20), shl(rs1, 15), lit(funct3 << 12), field(imm, 0, 5, 7), lit(opcode));
const encodeB = (opcode: number, funct3: number, rs1: Expr, rs2: Expr, imm: Expr): Expr =>
  or(
    field(imm, 12, 1, 31),
    field(imm, 5, 6, 25),
    shl(rs2, 20),
    shl(rs1, 15),
    lit(funct3 << 12),
    field(imm, 1, 4, 8),
    field(imm, 11, 1, 7),
    lit(opcode),
  );
const encodeU = (opcode: number, rd: Expr, imm: Expr): Expr => or(and(imm, 0xfffff000 | 0), shl(rd, 7), lit(opcode));
const encodeJ = (opcode: number, rd: Expr, imm: Expr): Expr =>
  or(
    field(imm, 20, 1, 31),
    field(imm, 1, 10, 21),
    field(imm, 11, 1, 20),
    field(imm, 12, 8, 12),
    shl(rd, 7),
    lit(opcode),
  );

/** Not decoded here (expandCompressed's answer for what it leaves to TypeScript). */
const NOT_HERE = -1;

/**
 * The body of `expand(parcel: i32) -> i32`: the 32-bit word a compressed parcel (bits 1:0 not 11) stands for, as
 * decode.ts `expandCompressed` makes it, or -1 for a reserved encoding and for those the decoder here leaves to
 * TypeScript anyway (the floating-point loads and stores, C.EBREAK).
 */
function emitExpandCompressed(f: FunctionBody): void {
  const c = 0;
  const C = local(c);
  const rdP = f.local(I32);
  const rs1P = f.local(I32);
  const rd = f.local(I32);
  const rs2 = f.local(I32);
  const immCI = f.local(I32);
  const uimmCI = f.local(I32);
  const t = f.local(I32);
  const L = new Labels(f);
  const { set, when } = statements(f, L);
  const give = (e: Expr): void => {
    e(f);
    f.op(Op.return);
  };
  const reserved = (): void => give(lit(NOT_HERE));
  set(rdP, binary(Op.i32Add)(field(C, 2, 3, 0), lit(8)));
  set(rs1P, binary(Op.i32Add)(field(C, 7, 3, 0), lit(8)));
  set(rd, field(C, 7, 5, 0));
  set(rs2, field(C, 2, 5, 0));
  set(uimmCI, or(field(C, 12, 1, 5), field(C, 2, 5, 0)));
  set(immCI, sext(local(uimmCI), 6));
  const RDP = local(rdP);
  const RS1P = local(rs1P);
  const RD = local(rd);
  const RS2 = local(rs2);
  const IMMCI = local(immCI);
  const UIMMCI = local(uimmCI);
  const X0 = lit(0);
  const SP = lit(2);

  // One case per (quadrant, funct3): quadrant * 8 + funct3; quadrant 3 is never asked for.
  const cases = 24;
  for (let k = cases; k >= 0; k--) L.open(Op.block, `q${k}`);
  or(shl(and(C, 3), 3), field(C, 13, 3, 0))(f);
  f.brTable(
    Array.from({ length: cases }, (_, k) => L.depthOf(`q${k}`)),
    L.depthOf(`q${cases}`),
  );
  for (let k = 0; k <= cases; k++) {
    L.end();
    const quadrant = k >> 3;
    const funct3 = k & 7;
    if (k === cases) {
      reserved();
      continue;
    }
    if (quadrant === 0) {
      // The word and doubleword loads and stores through rs1' (C.LW, C.LD, C.SW, C.SD), C.ADDI4SPN.
      const uimmW = or(field(C, 10, 3, 3), field(C, 6, 1, 2), field(C, 5, 1, 6));
      const uimmD = or(field(C, 10, 3, 3), field(C, 5, 2, 6));
      if (funct3 === 0) {
        set(t, or(field(C, 11, 2, 4), field(C, 7, 4, 6), field(C, 6, 1, 2), field(C, 5, 1, 3)));
        when(eq(local(t), 0), reserved);
        give(encodeI(OPC_OP_IMM, RDP, 0, SP, local(t)));
      } else if (funct3 === 2) give(encodeI(OPC_LOAD, RDP, 2, RS1P, uimmW));
      else if (funct3 === 3) give(encodeI(OPC_LOAD, RDP, 3, RS1P, uimmD));
      else if (funct3 === 6) give(encodeS(OPC_STORE, 2, RS1P, RDP, uimmW));
      else if (funct3 === 7) give(encodeS(OPC_STORE, 3, RS1P, RDP, uimmD));
      else reserved(); // 1, 5: C.FLD, C.FSD (TypeScript's); 4: reserved
      continue;
    }
    if (quadrant === 1) {
      switch (funct3) {
        case 0: // C.ADDI
          give(encodeI(OPC_OP_IMM, RD, 0, RD, IMMCI));
          break;
        case 1: // C.ADDIW
          when(eq(RD, 0), reserved);
          give(encodeI(OPC_OP_IMM_32, RD, 0, RD, IMMCI));
          break;
        case 2: // C.LI
          give(encodeI(OPC_OP_IMM, RD, 0, X0, IMMCI));
          break;
        case 3: // C.ADDI16SP, C.LUI
          when(eq(RD, 2), () => {
            set(
              t,
              sext(
                or(field(C, 12, 1, 9), field(C, 6, 1, 4), field(C, 5, 1, 6), field(C, 3, 2, 7), field(C, 2, 1, 5)),
                10,
              ),
            );
            when(eq(local(t), 0), reserved);
            give(encodeI(OPC_OP_IMM, SP, 0, SP, local(t)));
          });
          when(eq(IMMCI, 0), reserved);
          give(encodeU(OPC_LUI, RD, shl(IMMCI, 12)));
          break;
        case 4: {
          // C.SRLI, C.SRAI, C.ANDI; C.SUB, C.XOR, C.OR, C.AND, C.SUBW, C.ADDW.
          set(t, field(C, 10, 2, 0));
          when(eq(local(t), 0), () => give(encodeI(OPC_OP_IMM, RS1P, 5, RS1P, UIMMCI)));
          when(eq(local(t), 1), () => give(encodeI(OPC_OP_IMM, RS1P, 5, RS1P, or(lit(0x400), UIMMCI))));
          when(eq(local(t), 2), () => give(encodeI(OPC_OP_IMM, RS1P, 7, RS1P, IMMCI)));
          set(t, or(field(C, 12, 1, 2), field(C, 5, 2, 0)));
          const rr = (opcode: number, funct3: number, funct7: number): Expr =>
            encodeR(opcode, RS1P, funct3, RS1P, RDP, funct7);
          const forms = [
            rr(OPC_OP, 0, 0x20),
            rr(OPC_OP, 4, 0),
            rr(OPC_OP, 6, 0),
            rr(OPC_OP, 7, 0),
            rr(OPC_OP_32, 0, 0x20),
            rr(OPC_OP_32, 0, 0),
          ];
          forms.forEach((form, sub) => when(eq(local(t), sub), () => give(form)));
          reserved();
          break;
        }
        case 5: {
          // C.J
          const offset = or(
            field(C, 12, 1, 11),
            field(C, 11, 1, 4),
            field(C, 9, 2, 8),
            field(C, 8, 1, 10),
            field(C, 7, 1, 6),
            field(C, 6, 1, 7),
            field(C, 3, 3, 1),
            field(C, 2, 1, 5),
          );
          give(encodeJ(OPC_JAL, X0, sext(offset, 12)));
          break;
        }
        default: {
          // C.BEQZ, C.BNEZ
          const offset = or(
            field(C, 12, 1, 8),
            field(C, 10, 2, 3),
            field(C, 5, 2, 6),
            field(C, 3, 2, 1),
            field(C, 2, 1, 5),
          );
          give(encodeB(OPC_BRANCH, funct3 === 6 ? 0 : 1, RS1P, X0, sext(offset, 9)));
        }
      }
      continue;
    }
    // Quadrant 2: C.SLLI, the stack-pointer loads and stores, C.JR/C.MV/C.JALR/C.ADD.
    switch (funct3) {
      case 0:
        give(encodeI(OPC_OP_IMM, RD, 1, RD, UIMMCI));
        break;
      case 2:
        when(eq(RD, 0), reserved);
        give(encodeI(OPC_LOAD, RD, 2, SP, or(field(C, 12, 1, 5), field(C, 4, 3, 2), field(C, 2, 2, 6))));
        break;
      case 3:
        when(eq(RD, 0), reserved);
        give(encodeI(OPC_LOAD, RD, 3, SP, or(field(C, 12, 1, 5), field(C, 5, 2, 3), field(C, 2, 3, 6))));
        break;
      case 4:
        when(eq(field(C, 12, 1, 0), 0), () => {
          when(eq(RS2, 0), () => {
            when(eq(RD, 0), reserved);
            give(encodeI(OPC_JALR, X0, 0, RD, X0)); // C.JR
          });
          give(encodeR(OPC_OP, RD, 0, X0, RS2, 0)); // C.MV
        });
        when(eq(RS2, 0), () => {
          when(eq(RD, 0), reserved); // C.EBREAK: TypeScript's
          give(encodeI(OPC_JALR, lit(1), 0, RD, X0)); // C.JALR
        });
        give(encodeR(OPC_OP, RD, 0, RD, RS2, 0)); // C.ADD
        break;
      case 6:
        give(encodeS(OPC_STORE, 2, SP, RS2, or(field(C, 9, 4, 2), field(C, 7, 2, 6))));
        break;
      case 7:
        give(encodeS(OPC_STORE, 3, SP, RS2, or(field(C, 10, 3, 3), field(C, 7, 3, 6))));
        break;
      default:
        reserved(); // 1, 5: C.FLDSP, C.FSDSP (TypeScript's)
    }
  }
  f.i32(NOT_HERE);
}

/** Push the operation `values[index]` (each below 256) for an i32 `index` in 0..7 pushed by `index`. */
function lookup8(f: FunctionBody, values: readonly number[], index: Expr): void {
  let lo = 0;
  let hi = 0;
  values.forEach((v, k) => {
    if (k < 4) lo |= (v & 0xff) << (8 * k);
    else hi |= (v & 0xff) << (8 * (k - 4));
  });
  f.i64(lo, hi);
  index(f);
  f.i32(3).op(Op.i32Shl).op(Op.i64ExtendI32U).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
}

/**
 * The body of `decodeWord(bits: i32) -> (op: i32, imm: i32)`: `decode`'s operation and `slotImmediate` for a
 * 32-bit word (bits 1:0 = 11), or op 0 (OP_ILLEGAL) for what it leaves to TypeScript (see the file's comment).
 */
function emitDecodeWord(f: FunctionBody): void {
  const bits = 0;
  const B = local(bits);
  const funct3 = f.local(I32);
  const funct7 = f.local(I32);
  const F3 = local(funct3);
  const F7 = local(funct7);
  const L = new Labels(f);
  const immI = sar(B, 20);
  const give = (op: Expr, imm: Expr): void => {
    op(f);
    imm(f);
    f.op(Op.return);
  };
  const none = (): void => give(lit(D.OP_ILLEGAL), lit(0));
  const { set, when } = statements(f, L);
  const table =
    (values: readonly number[], index: Expr): Expr =>
    (g) =>
      lookup8(g, values, index);
  set(funct3, field(B, 12, 3, 0));
  set(funct7, shr(B, 25));

  const opcodes = [
    OPC_LUI,
    OPC_AUIPC,
    OPC_JAL,
    OPC_JALR,
    OPC_BRANCH,
    OPC_LOAD,
    OPC_STORE,
    OPC_OP_IMM,
    OPC_OP_IMM_32,
    OPC_OP,
    OPC_OP_32,
  ];
  // Dispatch on opcode[6:2]; the default is left to TypeScript.
  const targets = new Array<number>(32).fill(opcodes.length);
  opcodes.forEach((opcode, k) => {
    targets[opcode >>> 2] = k;
  });
  for (let k = opcodes.length; k >= 0; k--) L.open(Op.block, `o${k}`);
  field(B, 2, 5, 0)(f);
  f.brTable(
    targets.map((k) => L.depthOf(`o${k}`)),
    L.depthOf(`o${opcodes.length}`),
  );
  for (let k = 0; k <= opcodes.length; k++) {
    L.end();
    switch (opcodes[k]) {
      case OPC_LUI:
        give(lit(D.OP_LUI), and(B, 0xfffff000 | 0));
        break;
      case OPC_AUIPC:
        give(lit(D.OP_AUIPC), and(B, 0xfffff000 | 0));
        break;
      case OPC_JAL:
        give(lit(D.OP_JAL), or(shl(sar(B, 31), 20), field(B, 12, 8, 12), field(B, 20, 1, 11), field(B, 21, 10, 1)));
        break;
      case OPC_JALR:
        when(eq(F3, 0), () => give(lit(D.OP_JALR), immI));
        none();
        break;
      case OPC_BRANCH: {
        const ops = [D.OP_BEQ, D.OP_BNE, 0, 0, D.OP_BLT, D.OP_BGE, D.OP_BLTU, D.OP_BGEU];
        give(table(ops, F3), or(shl(sar(B, 31), 12), field(B, 7, 1, 11), field(B, 25, 6, 5), field(B, 8, 4, 1)));
        break;
      }
      case OPC_LOAD:
        give(table([D.OP_LB, D.OP_LH, D.OP_LW, D.OP_LD, D.OP_LBU, D.OP_LHU, D.OP_LWU, 0], F3), immI);
        break;
      case OPC_STORE:
        when(ltU(F3, 4), () => give(plus(F3, D.OP_SB), or(shl(sar(B, 25), 5), field(B, 7, 5, 0))));
        none();
        break;
      case OPC_OP_IMM: {
        const shamt = field(B, 20, 6, 0);
        const funct6 = shr(B, 26);
        // SLLI, SRLI, SRAI; the other shift encodings are the bit-manipulation extensions' (TypeScript's).
        when(eq(F3, 1), () => {
          when(eq(funct6, 0), () => give(lit(D.OP_SLLI), shamt));
          none();
        });
        when(eq(F3, 5), () => {
          when(eq(funct6, 0), () => give(lit(D.OP_SRLI), shamt));
          when(eq(funct6, 0x10), () => give(lit(D.OP_SRAI), shamt));
          none();
        });
        give(table([D.OP_ADDI, 0, D.OP_SLTI, D.OP_SLTIU, D.OP_XORI, 0, D.OP_ORI, D.OP_ANDI], F3), immI);
        break;
      }
      case OPC_OP_IMM_32: {
        const shamt = field(B, 20, 5, 0);
        when(eq(F3, 0), () => give(lit(D.OP_ADDIW), immI));
        when(eq(F3, 1), () => {
          when(eq(F7, 0), () => give(lit(D.OP_SLLIW), shamt));
          none();
        });
        when(eq(F3, 5), () => {
          when(eq(F7, 0), () => give(lit(D.OP_SRLIW), shamt));
          when(eq(F7, 0x20), () => give(lit(D.OP_SRAIW), shamt));
        });
        none();
        break;
      }
      case OPC_OP: {
        const base = [D.OP_ADD, D.OP_SLL, D.OP_SLT, D.OP_SLTU, D.OP_XOR, D.OP_SRL, D.OP_OR, D.OP_AND];
        when(eq(F7, 0), () => give(table(base, F3), lit(0)));
        when(eq(F7, 0x20), () => give(table([D.OP_SUB, 0, 0, 0, 0, D.OP_SRA, 0, 0], F3), lit(0)));
        when(eq(F7, 1), () => give(plus(F3, D.OP_MUL), lit(0)));
        none();
        break;
      }
      case OPC_OP_32: {
        const base = [D.OP_ADDW, D.OP_SLLW, 0, 0, 0, D.OP_SRLW, 0, 0];
        when(eq(F7, 0), () => give(table(base, F3), lit(0)));
        when(eq(F7, 0x20), () => give(table([D.OP_SUBW, 0, 0, 0, 0, D.OP_SRAW, 0, 0], F3), lit(0)));
        const m32 = [D.OP_MULW, 0, 0, 0, D.OP_DIVW, D.OP_DIVUW, D.OP_REMW, D.OP_REMUW];
        when(eq(F7, 1), () => give(table(m32, F3), lit(0)));
        none();
        break;
      }
      default:
        none();
    }
  }
  f.i32(D.OP_ILLEGAL).i32(0);
}

/**
 * The body of `decodeSlot(hb: i32, code: i32, off: i32) -> i32`: decode the slot at page offset `off` of the decode
 * cache at `code` (CodePage.arenaBase) into it, as interp.ts `decodeSlot` does, and return its word; 0 when it
 * leaves the slot to TypeScript: what `decodeWord` leaves, an instruction that straddles the page's end, a page
 * whose bytes are not in the arena (CODE_PAGE_HOST 0), and a page not marked as code (CODE_PAGE_MARKED 0; marking
 * it drops the harts' write-TLB entries for it, which PhysicalMemory.codePage does). Counts the decode in the
 * hart's block (HB_DECODES) and the page's count (CODE_PAGE_COUNT).
 */
function emitDecodeSlot(f: FunctionBody, expand: number, decodeWord: number): void {
  const hb = 0;
  const code = 1;
  const off = 2;
  const host = f.local(I32);
  const bits = f.local(I32);
  const long = f.local(I32);
  const op = f.local(I32);
  const imm = f.local(I32);
  const L = new Labels(f);
  const leave = (): void => {
    f.i32(0).op(Op.return);
  };
  f.get(code).mem(Op.i32Load, 2, CODE_PAGE_MARKED).op(Op.i32Eqz);
  f.get(code).mem(Op.i32Load, 2, CODE_PAGE_HOST).tee(host).op(Op.i32Eqz).op(Op.i32Or);
  L.open(Op.if);
  leave();
  L.end();
  f.get(host).get(off).op(Op.i32Add).mem(Op.i32Load16U, 1, 0).tee(bits).i32(3).op(Op.i32And).i32(3).op(Op.i32Eq);
  f.tee(long);
  L.open(Op.if);
  // A 32-bit instruction: one that straddles the page's end is the run loop's (SLOT_STRADDLE).
  f.get(off)
    .i32(PAGE_SIZE - 4)
    .op(Op.i32GtU);
  L.open(Op.if);
  leave();
  L.end();
  f.get(bits).get(host).get(off).op(Op.i32Add).mem(Op.i32Load16U, 1, 2).i32(16).op(Op.i32Shl).op(Op.i32Or).set(bits);
  f.op(Op.else);
  f.get(bits).opU(Op.call, expand).tee(bits).i32(-1).op(Op.i32Eq);
  L.open(Op.if);
  leave();
  L.end();
  L.end();
  f.get(bits).opU(Op.call, decodeWord).set(imm).tee(op).op(Op.i32Eqz);
  L.open(Op.if);
  leave();
  L.end();
  // The immediate, then the word that says the slot is decoded.
  const slot = (): void => {
    f.get(code).get(off).i32(2).op(Op.i32Shl).op(Op.i32Add);
  };
  slot();
  f.get(imm).mem(Op.i32Store, 2, CODE_PAGE_SLOTS + 4);
  slot();
  or(
    local(op),
    field(local(bits), 7, 5, SLOT_RD_SHIFT),
    field(local(bits), 15, 5, SLOT_RS1_SHIFT),
    field(local(bits), 20, 5, SLOT_RS2_SHIFT),
    (g) => {
      g.get(long).i32(SLOT_LONG).op(Op.i32Mul);
    },
    lit(SLOT_DECODED),
  )(f);
  f.tee(op).mem(Op.i32Store, 2, CODE_PAGE_SLOTS);
  f.get(code).get(code).mem(Op.i32Load, 2, CODE_PAGE_COUNT).i32(1).op(Op.i32Add).mem(Op.i32Store, 2, CODE_PAGE_COUNT);
  f.get(hb).get(hb).mem(Op.i32Load, 2, HB_DECODES).i32(1).op(Op.i32Add).mem(Op.i32Store, 2, HB_DECODES);
  f.get(op);
}

/**
 * Define the decoder's three functions in `m` (`expand`, `decodeWord`, `decodeSlot`); returns the index of
 * `decodeSlot(hb: i32, code: i32, off: i32) -> i32`. The module must import the arena's memory.
 */
export function defineDecoder(m: ModuleBuilder): number {
  const expand = m.defineFunction([I32], [I32]);
  emitExpandCompressed(expand.body);
  const decodeWord = m.defineFunction([I32], [I32, I32]);
  emitDecodeWord(decodeWord.body);
  const slot = m.defineFunction([I32, I32, I32], [I32]);
  emitDecodeSlot(slot.body, expand.index, decodeWord.index);
  return slot.index;
}
