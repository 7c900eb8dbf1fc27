/**
 * A tiny RV64 assembler for tests: one function per instruction returning its encoding, `li` for 64-bit
 * constants, and a `Program` that lays words (and 16-bit compressed parcels) out with labels and branch fixups.
 */

import {
  AMO_ADD,
  AMO_AND,
  AMO_LR,
  AMO_MAX,
  AMO_MAXU,
  AMO_MIN,
  AMO_MINU,
  AMO_OR,
  AMO_SC,
  AMO_SWAP,
  AMO_XOR,
  encodeB,
  encodeI,
  encodeJ,
  encodeR,
  encodeS,
  encodeU,
  FUNCT7_HFENCE_GVMA,
  FUNCT7_HFENCE_VVMA,
  FUNCT7_SFENCE_VMA,
  INSN_EBREAK,
  INSN_ECALL,
  INSN_MRET,
  INSN_SRET,
  INSN_WFI,
  OPC_AMO,
  OPC_AUIPC,
  OPC_BRANCH,
  OPC_JAL,
  OPC_JALR,
  OPC_LOAD,
  OPC_LOAD_FP,
  OPC_LUI,
  OPC_MISC_MEM,
  OPC_OP,
  OPC_OP_32,
  OPC_OP_IMM,
  OPC_OP_IMM_32,
  OPC_STORE,
  OPC_STORE_FP,
  OPC_SYSTEM,
} from "../../src/arch/riscv64/isa.ts";
import {
  REG_A0,
  REG_A1,
  REG_A2,
  REG_A3,
  REG_A4,
  REG_A5,
  REG_A6,
  REG_A7,
  REG_GP,
  REG_RA,
  REG_S0,
  REG_S1,
  REG_S2,
  REG_S3,
  REG_S4,
  REG_S5,
  REG_SP,
  REG_T0,
  REG_T1,
  REG_T2,
  REG_T3,
  REG_T4,
  REG_T5,
  REG_T6,
  REG_TP,
  REG_ZERO,
} from "../../src/arch/riscv64/registers.ts";

// Register names (the numbers are the ABI's, from src/arch/riscv64/registers.ts).
export const zero = REG_ZERO,
  ra = REG_RA,
  sp = REG_SP,
  gp = REG_GP,
  tp = REG_TP,
  t0 = REG_T0,
  t1 = REG_T1,
  t2 = REG_T2,
  s0 = REG_S0,
  s1 = REG_S1;
export const a0 = REG_A0,
  a1 = REG_A1,
  a2 = REG_A2,
  a3 = REG_A3,
  a4 = REG_A4,
  a5 = REG_A5,
  a6 = REG_A6,
  a7 = REG_A7;
export const s2 = REG_S2,
  s3 = REG_S3,
  s4 = REG_S4,
  s5 = REG_S5,
  t3 = REG_T3,
  t4 = REG_T4,
  t5 = REG_T5,
  t6 = REG_T6;

export const lui = (rd: number, imm: number): number => encodeU(OPC_LUI, rd, imm);
export const auipc = (rd: number, imm: number): number => encodeU(OPC_AUIPC, rd, imm);
export const jal = (rd: number, off: number): number => encodeJ(OPC_JAL, rd, off);
export const jalr = (rd: number, rs1: number, off = 0): number => encodeI(OPC_JALR, rd, 0, rs1, off);
const br =
  (f3: number) =>
  (rs1: number, rs2: number, off: number): number =>
    encodeB(OPC_BRANCH, f3, rs1, rs2, off);
export const beq = br(0),
  bne = br(1),
  blt = br(4),
  bge = br(5),
  bltu = br(6),
  bgeu = br(7);
const ld_ =
  (f3: number) =>
  (rd: number, rs1: number, off = 0): number =>
    encodeI(OPC_LOAD, rd, f3, rs1, off);
export const lb = ld_(0),
  lh = ld_(1),
  lw = ld_(2),
  ld = ld_(3),
  lbu = ld_(4),
  lhu = ld_(5),
  lwu = ld_(6);
const st_ =
  (f3: number) =>
  (rs2: number, rs1: number, off = 0): number =>
    encodeS(OPC_STORE, f3, rs1, rs2, off);
export const sb = st_(0),
  sh = st_(1),
  sw = st_(2),
  sd = st_(3);
export const fld = (rd: number, rs1: number, off = 0): number => encodeI(OPC_LOAD_FP, rd, 3, rs1, off);
export const flw = (rd: number, rs1: number, off = 0): number => encodeI(OPC_LOAD_FP, rd, 2, rs1, off);
export const fsd = (rs2: number, rs1: number, off = 0): number => encodeS(OPC_STORE_FP, 3, rs1, rs2, off);
export const fsw = (rs2: number, rs1: number, off = 0): number => encodeS(OPC_STORE_FP, 2, rs1, rs2, off);
const opi =
  (f3: number) =>
  (rd: number, rs1: number, imm: number): number =>
    encodeI(OPC_OP_IMM, rd, f3, rs1, imm);
export const addi = opi(0),
  slti = opi(2),
  sltiu = opi(3),
  xori = opi(4),
  ori = opi(6),
  andi = opi(7);
export const slli = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 1, rs1, sh);
export const srli = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 5, rs1, sh);
export const srai = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 5, rs1, 0x400 | sh);
export const addiw = (rd: number, rs1: number, imm: number): number => encodeI(OPC_OP_IMM_32, rd, 0, rs1, imm);
export const slliw = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM_32, rd, 1, rs1, sh);
export const srliw = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM_32, rd, 5, rs1, sh);
export const sraiw = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM_32, rd, 5, rs1, 0x400 | sh);
const op =
  (f3: number, f7: number) =>
  (rd: number, rs1: number, rs2: number): number =>
    encodeR(OPC_OP, rd, f3, rs1, rs2, f7);
export const add = op(0, 0),
  sub = op(0, 0x20),
  sll = op(1, 0),
  slt = op(2, 0),
  sltu = op(3, 0),
  xor = op(4, 0);
export const srl = op(5, 0),
  sra = op(5, 0x20),
  or = op(6, 0),
  and = op(7, 0);
export const mul = op(0, 1),
  mulh = op(1, 1),
  mulhsu = op(2, 1),
  mulhu = op(3, 1);
export const div = op(4, 1),
  divu = op(5, 1),
  rem = op(6, 1),
  remu = op(7, 1);
const op32 =
  (f3: number, f7: number) =>
  (rd: number, rs1: number, rs2: number): number =>
    encodeR(OPC_OP_32, rd, f3, rs1, rs2, f7);
export const addw = op32(0, 0),
  subw = op32(0, 0x20),
  sllw = op32(1, 0),
  srlw = op32(5, 0),
  sraw = op32(5, 0x20);
export const mulw = op32(0, 1),
  divw = op32(4, 1),
  divuw = op32(5, 1),
  remw = op32(6, 1),
  remuw = op32(7, 1);
// The bit-manipulation extensions (Zba, Zbb, Zbc, Zbs).
export const sh1add = op(2, 0x10),
  sh2add = op(4, 0x10),
  sh3add = op(6, 0x10);
export const addUw = op32(0, 0x04),
  sh1addUw = op32(2, 0x10),
  sh2addUw = op32(4, 0x10),
  sh3addUw = op32(6, 0x10);
export const slliUw = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM_32, rd, 1, rs1, 0x080 | sh);
export const andn = op(7, 0x20),
  orn = op(6, 0x20),
  xnor = op(4, 0x20);
const unary =
  (opcode: number, f3: number, imm12: number) =>
  (rd: number, rs1: number): number =>
    encodeI(opcode, rd, f3, rs1, imm12);
export const clz = unary(OPC_OP_IMM, 1, 0x600),
  ctz = unary(OPC_OP_IMM, 1, 0x601),
  cpop = unary(OPC_OP_IMM, 1, 0x602),
  sextB = unary(OPC_OP_IMM, 1, 0x604),
  sextH = unary(OPC_OP_IMM, 1, 0x605),
  orcB = unary(OPC_OP_IMM, 5, 0x287),
  rev8 = unary(OPC_OP_IMM, 5, 0x6b8);
export const clzw = unary(OPC_OP_IMM_32, 1, 0x600),
  ctzw = unary(OPC_OP_IMM_32, 1, 0x601),
  cpopw = unary(OPC_OP_IMM_32, 1, 0x602);
export const zextH = (rd: number, rs1: number): number => encodeR(OPC_OP_32, rd, 4, rs1, 0, 0x04);
export const min = op(4, 0x05),
  minu = op(5, 0x05),
  max = op(6, 0x05),
  maxu = op(7, 0x05);
export const clmul = op(1, 0x05),
  clmulr = op(2, 0x05),
  clmulh = op(3, 0x05);
export const rol = op(1, 0x30),
  ror = op(5, 0x30),
  rolw = op32(1, 0x30),
  rorw = op32(5, 0x30);
export const rori = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 5, rs1, 0x600 | sh);
export const roriw = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM_32, rd, 5, rs1, 0x600 | sh);
export const bclr = op(1, 0x24),
  bext = op(5, 0x24),
  binv = op(1, 0x34),
  bset = op(1, 0x14);
export const bclri = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 1, rs1, 0x480 | sh);
export const bexti = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 5, rs1, 0x480 | sh);
export const binvi = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 1, rs1, 0x680 | sh);
export const bseti = (rd: number, rs1: number, sh: number): number => encodeI(OPC_OP_IMM, rd, 1, rs1, 0x280 | sh);
export const fence = (): number => encodeI(OPC_MISC_MEM, 0, 0, 0, 0x0ff);
export const fenceI = (): number => encodeI(OPC_MISC_MEM, 0, 1, 0, 0);
/** Zihintpause's PAUSE: FENCE with predecessor W and no successor. */
export const pause = (): number => encodeI(OPC_MISC_MEM, 0, 0, 0, 0x010);
export const ecall = (): number => INSN_ECALL;
export const ebreak = (): number => INSN_EBREAK;
export const sret = (): number => INSN_SRET;
export const mret = (): number => INSN_MRET;
export const wfi = (): number => INSN_WFI;
export const sfenceVma = (rs1 = 0, rs2 = 0): number => encodeR(OPC_SYSTEM, 0, 0, rs1, rs2, FUNCT7_SFENCE_VMA);
export const hfenceVvma = (rs1 = 0, rs2 = 0): number => encodeR(OPC_SYSTEM, 0, 0, rs1, rs2, FUNCT7_HFENCE_VVMA);
export const hfenceGvma = (rs1 = 0, rs2 = 0): number => encodeR(OPC_SYSTEM, 0, 0, rs1, rs2, FUNCT7_HFENCE_GVMA);
const csr_ =
  (f3: number) =>
  (rd: number, csr: number, rs1: number): number =>
    encodeI(OPC_SYSTEM, rd, f3, rs1, csr);
export const csrrw = csr_(1),
  csrrs = csr_(2),
  csrrc = csr_(3),
  csrrwi = csr_(5),
  csrrsi = csr_(6),
  csrrci = csr_(7);
export const csrr = (rd: number, csr: number): number => csrrs(rd, csr, 0);
export const csrw = (csr: number, rs1: number): number => csrrw(0, csr, rs1);
export const csrs = (csr: number, rs1: number): number => csrrs(0, csr, rs1);
export const csrc = (csr: number, rs1: number): number => csrrc(0, csr, rs1);
const amo =
  (f5: number, f3: number) =>
  (rd: number, rs2: number, rs1: number): number =>
    encodeR(OPC_AMO, rd, f3, rs1, rs2, f5 << 2);
export const lrW = (rd: number, rs1: number): number => amo(AMO_LR, 2)(rd, 0, rs1);
export const lrD = (rd: number, rs1: number): number => amo(AMO_LR, 3)(rd, 0, rs1);
export const scW = amo(AMO_SC, 2),
  scD = amo(AMO_SC, 3);
export const amoswapW = amo(AMO_SWAP, 2),
  amoaddW = amo(AMO_ADD, 2),
  amoxorW = amo(AMO_XOR, 2),
  amoandW = amo(AMO_AND, 2);
export const amoorW = amo(AMO_OR, 2),
  amominW = amo(AMO_MIN, 2),
  amomaxW = amo(AMO_MAX, 2),
  amominuW = amo(AMO_MINU, 2);
export const amomaxuW = amo(AMO_MAXU, 2);
export const amoswapD = amo(AMO_SWAP, 3),
  amoaddD = amo(AMO_ADD, 3),
  amoxorD = amo(AMO_XOR, 3),
  amoandD = amo(AMO_AND, 3);
export const amoorD = amo(AMO_OR, 3),
  amominD = amo(AMO_MIN, 3),
  amomaxD = amo(AMO_MAX, 3),
  amominuD = amo(AMO_MINU, 3);
export const amomaxuD = amo(AMO_MAXU, 3);
const hlv =
  (f7: number, r2: number) =>
  (rd: number, rs1: number): number =>
    encodeR(OPC_SYSTEM, rd, 4, rs1, r2, f7);
export const hlvB = hlv(0x30, 0),
  hlvBu = hlv(0x30, 1),
  hlvH = hlv(0x32, 0),
  hlvHu = hlv(0x32, 1);
export const hlvxHu = hlv(0x32, 3),
  hlvW = hlv(0x34, 0),
  hlvWu = hlv(0x34, 1),
  hlvxWu = hlv(0x34, 3);
export const hlvD = hlv(0x36, 0);
const hsv =
  (f7: number) =>
  (rs2: number, rs1: number): number =>
    encodeR(OPC_SYSTEM, 0, 4, rs1, rs2, f7);
export const hsvB = hsv(0x31),
  hsvH = hsv(0x33),
  hsvW = hsv(0x35),
  hsvD = hsv(0x37);

/** `li rd, value` for any 64-bit value: a list of instructions (lui/addi, shifted in 11/12-bit chunks). */
export function li(rd: number, value: bigint | number): number[] {
  const v = BigInt.asIntN(64, BigInt(value));
  if (v >= -2048n && v < 2048n) return [addi(rd, 0, Number(v))];
  if (v >= -(1n << 31n) && v < 1n << 31n) {
    const n = Number(v);
    const lo = (n << 20) >> 20;
    const hi = (n - lo) | 0;
    return lo === 0 ? [lui(rd, hi)] : [lui(rd, hi), addiw(rd, rd, lo)];
  }
  // Build the upper part recursively, then shift in the low 12 bits.
  const lo = Number(BigInt.asIntN(12, v));
  const upper = (v - BigInt(lo)) >> 12n;
  const shift = 12;
  const seq = li(rd, upper);
  seq.push(slli(rd, rd, shift));
  if (lo !== 0) seq.push(addi(rd, rd, lo));
  return seq;
}

/** A program under construction: 32-bit words and 16-bit parcels, labels, and pc-relative fixups. */
export class Program {
  readonly bytes: number[] = [];
  readonly #labels = new Map<string, number>();
  readonly #fixups: { at: number; label: string; make: (off: number) => number }[] = [];

  constructor(readonly base: number) {}

  get pc(): number {
    return this.base + this.bytes.length;
  }

  /** Append instructions (32-bit words). */
  emit(...words: (number | number[])[]): this {
    for (const w of words.flat()) {
      const u = w >>> 0;
      this.bytes.push(u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, (u >>> 24) & 0xff);
    }
    return this;
  }

  /** Append a 16-bit compressed parcel. */
  c(parcel: number): this {
    this.bytes.push(parcel & 0xff, (parcel >>> 8) & 0xff);
    return this;
  }

  label(name: string): this {
    this.#labels.set(name, this.pc);
    return this;
  }

  /** Emit an instruction whose offset to `label` is filled in at `assemble` time. */
  ref(label: string, make: (off: number) => number): this {
    this.#fixups.push({ at: this.bytes.length, label, make });
    return this.emit(0);
  }

  address(label: string): number {
    const a = this.#labels.get(label);
    if (a === undefined) throw new Error(`Cannot resolve label "${label}": not defined`);
    return a;
  }

  assemble(): Uint8Array {
    const out = Uint8Array.from(this.bytes);
    const view = new DataView(out.buffer);
    for (const f of this.#fixups) {
      const off = this.address(f.label) - (this.base + f.at);
      view.setUint32(f.at, f.make(off) >>> 0, true);
    }
    return out;
  }
}

/** c.lw rd', uimm(rs1') (registers x8..x15, uimm a multiple of 4 below 128). */
export function cLw(rd: number, rs1: number, uimm: number): number {
  return (
    (2 << 13) |
    (((uimm >> 3) & 7) << 10) |
    ((rs1 - 8) << 7) |
    (((uimm >> 2) & 1) << 6) |
    (((uimm >> 6) & 1) << 5) |
    ((rd - 8) << 2)
  );
}

/** c.sw rs2', uimm(rs1'). */
export function cSw(rs2: number, rs1: number, uimm: number): number {
  return (
    (6 << 13) |
    (((uimm >> 3) & 7) << 10) |
    ((rs1 - 8) << 7) |
    (((uimm >> 2) & 1) << 6) |
    (((uimm >> 6) & 1) << 5) |
    ((rs2 - 8) << 2)
  );
}

/** c.ld rd', uimm(rs1') (uimm a multiple of 8 below 256). */
export function cLd(rd: number, rs1: number, uimm: number): number {
  return (3 << 13) | (((uimm >> 3) & 7) << 10) | ((rs1 - 8) << 7) | (((uimm >> 6) & 3) << 5) | ((rd - 8) << 2);
}

/** c.addi rd, imm (imm in -32..31). */
export function cAddi(rd: number, imm: number): number {
  return (0 << 13) | (((imm >> 5) & 1) << 12) | (rd << 7) | ((imm & 31) << 2) | 1;
}

export const cNop = (): number => 0x0001;
export const cEbreak = (): number => 0x9002;
export const csrsi = (csr: number, uimm: number): number => csrrsi(0, csr, uimm);
export const csrci = (csr: number, uimm: number): number => csrrci(0, csr, uimm);
export const csrwi = (csr: number, uimm: number): number => csrrwi(0, csr, uimm);
