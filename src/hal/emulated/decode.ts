/**
 * The RV64GC + H decoder. A 32-bit word or a 16-bit compressed parcel becomes an `Insn` with an operation number
 * and its fields extracted once. Compressed instructions are first expanded to their 32-bit equivalent (the ISA
 * manual defines every RVC instruction that way), so the executor only knows 32-bit semantics; `len` and `raw`
 * keep what was actually fetched (for pc advance and illegal-instruction tval).
 *
 * Decoding is strict: any encoding the specification leaves reserved (and that this hart does not implement)
 * decodes to OP_ILLEGAL, so executing it raises illegal-instruction with tval = the instruction bits.
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
  OPC_MADD,
  OPC_MISC_MEM,
  OPC_MSUB,
  OPC_NMADD,
  OPC_NMSUB,
  OPC_OP,
  OPC_OP_32,
  OPC_OP_FP,
  OPC_OP_IMM,
  OPC_OP_IMM_32,
  OPC_STORE,
  OPC_STORE_FP,
  OPC_SYSTEM,
  OPCODE_MASK,
} from "../../arch/riscv64/isa.ts";

// Operation numbers. Grouped so that the executor's switch is dense.
export const OP_ILLEGAL = 0;
export const OP_LUI = 1;
export const OP_AUIPC = 2;
export const OP_JAL = 3;
export const OP_JALR = 4;
export const OP_BEQ = 5;
export const OP_BNE = 6;
export const OP_BLT = 7;
export const OP_BGE = 8;
export const OP_BLTU = 9;
export const OP_BGEU = 10;
export const OP_LB = 11;
export const OP_LH = 12;
export const OP_LW = 13;
export const OP_LD = 14;
export const OP_LBU = 15;
export const OP_LHU = 16;
export const OP_LWU = 17;
export const OP_SB = 18;
export const OP_SH = 19;
export const OP_SW = 20;
export const OP_SD = 21;
export const OP_ADDI = 22;
export const OP_SLTI = 23;
export const OP_SLTIU = 24;
export const OP_XORI = 25;
export const OP_ORI = 26;
export const OP_ANDI = 27;
export const OP_SLLI = 28;
export const OP_SRLI = 29;
export const OP_SRAI = 30;
export const OP_ADD = 31;
export const OP_SUB = 32;
export const OP_SLL = 33;
export const OP_SLT = 34;
export const OP_SLTU = 35;
export const OP_XOR = 36;
export const OP_SRL = 37;
export const OP_SRA = 38;
export const OP_OR = 39;
export const OP_AND = 40;
export const OP_ADDIW = 41;
export const OP_SLLIW = 42;
export const OP_SRLIW = 43;
export const OP_SRAIW = 44;
export const OP_ADDW = 45;
export const OP_SUBW = 46;
export const OP_SLLW = 47;
export const OP_SRLW = 48;
export const OP_SRAW = 49;
export const OP_MUL = 50;
export const OP_MULH = 51;
export const OP_MULHSU = 52;
export const OP_MULHU = 53;
export const OP_DIV = 54;
export const OP_DIVU = 55;
export const OP_REM = 56;
export const OP_REMU = 57;
export const OP_MULW = 58;
export const OP_DIVW = 59;
export const OP_DIVUW = 60;
export const OP_REMW = 61;
export const OP_REMUW = 62;
export const OP_FENCE = 63;
export const OP_FENCE_I = 64;
export const OP_ECALL = 65;
export const OP_EBREAK = 66;
export const OP_SRET = 67;
export const OP_MRET = 68;
export const OP_WFI = 69;
export const OP_SFENCE_VMA = 70;
export const OP_HFENCE_VVMA = 71;
export const OP_HFENCE_GVMA = 72;
export const OP_CSRRW = 73;
export const OP_CSRRS = 74;
export const OP_CSRRC = 75;
export const OP_CSRRWI = 76;
export const OP_CSRRSI = 77;
export const OP_CSRRCI = 78;
/** LR/SC/AMO, 32-bit: `aux` holds funct5. */
export const OP_AMO_W = 79;
/** LR/SC/AMO, 64-bit: `aux` holds funct5. */
export const OP_AMO_D = 80;
/** HLV/HLVX/HSV: `aux` holds the access kind (HYP_* below). */
export const OP_HLV = 81;
export const OP_HSV = 82;
export const OP_FLW = 83;
export const OP_FLD = 84;
export const OP_FSW = 85;
export const OP_FSD = 86;
/** OP-FP and the fused multiply-adds, executed by the FPU from `bits`. */
export const OP_FP = 87;
// The bit-manipulation extensions (Zba, Zbb, Zbc, Zbs). Numbered as one contiguous range (OP_SHADD..OP_BSETI)
// so every tier can tell them apart from the rest with two comparisons; the packed slot word (block.ts) has 7
// bits for the operation and reserves 0x7d..0x7f, so the range ends at 0x7c: SHADD/SHADD_UW and SEXT carry
// their variant in `imm` to fit.
/** SH1ADD/SH2ADD/SH3ADD: (rs1 << imm) + rs2, `imm` = 1..3. */
export const OP_SHADD = 88;
/** ADD.UW and SH1ADD.UW..SH3ADD.UW: (zext32(rs1) << imm) + rs2, `imm` = 0..3. */
export const OP_SHADD_UW = 89;
/** SLLI.UW: zext32(rs1) << imm. */
export const OP_SLLI_UW = 90;
export const OP_ANDN = 91;
export const OP_ORN = 92;
export const OP_XNOR = 93;
export const OP_CLZ = 94;
export const OP_CTZ = 95;
export const OP_CPOP = 96;
export const OP_CLZW = 97;
export const OP_CTZW = 98;
export const OP_CPOPW = 99;
export const OP_MAX = 100;
export const OP_MAXU = 101;
export const OP_MIN = 102;
export const OP_MINU = 103;
/** SEXT.B / SEXT.H: `imm` is the width sign-extended from (8 or 16). */
export const OP_SEXT = 104;
export const OP_ZEXT_H = 105;
export const OP_ROL = 106;
export const OP_ROR = 107;
export const OP_RORI = 108;
export const OP_ROLW = 109;
export const OP_RORW = 110;
export const OP_RORIW = 111;
export const OP_ORC_B = 112;
export const OP_REV8 = 113;
export const OP_CLMUL = 114;
export const OP_CLMULH = 115;
export const OP_CLMULR = 116;
export const OP_BCLR = 117;
export const OP_BEXT = 118;
export const OP_BINV = 119;
export const OP_BSET = 120;
export const OP_BCLRI = 121;
export const OP_BEXTI = 122;
export const OP_BINVI = 123;
export const OP_BSETI = 124;
export const OP_COUNT = 125;

/** Bytes a load (OP_LB..OP_LWU) reads. */
export function loadWidth(op: number): number {
  return op === OP_LB || op === OP_LBU ? 1 : op === OP_LH || op === OP_LHU ? 2 : op === OP_LD ? 8 : 4;
}

/** Whether `op` is one of the bit-manipulation operations (Zba, Zbb, Zbc, Zbs). */
export function isBitmanip(op: number): boolean {
  return op >= OP_SHADD && op <= OP_BSETI;
}

/**
 * Zihintpause's PAUSE: the FENCE encoding with predecessor W, successor 0 and every other field 0. Linux's
 * `cpu_relax()` emits it whatever the hart advertises (a hart without the extension runs it as a fence), so a
 * spin-wait loop is recognisable by it.
 */
const PAUSE_BITS = 0x0100000f;
/** The `imm` of a FENCE that is a PAUSE hint (other FENCEs have 0). */
export const FENCE_PAUSE = 1;

// Hypervisor load/store kinds (in `aux`): width in bytes | flags.
export const HYP_UNSIGNED = 0x10;
export const HYP_EXEC = 0x20;

/** One decoded instruction. A class, so every instance has the same shape (monomorphic property access). */
export class Insn {
  constructor(
    readonly op: number,
    readonly rd: number,
    readonly rs1: number,
    readonly rs2: number,
    /** Sign-extended immediate (a 32-bit signed value; bits 63..32 are its sign), CSR number, or shift amount. */
    readonly imm: number,
    /** Extra operation detail: AMO funct5, hypervisor access kind. */
    readonly aux: number,
    /** Length in bytes (2 for compressed, 4 otherwise). */
    readonly len: number,
    /** The 32-bit (expanded) instruction word, unsigned. */
    readonly bits: number,
    /** What was fetched: the 16-bit parcel for compressed instructions, else `bits`. */
    readonly raw: number,
  ) {}
}

/** Whether `d` is a PAUSE hint (a FENCE that Zihintpause marks with FENCE_PAUSE). */
export function isPauseHint(d: Insn): boolean {
  return d.op === OP_FENCE && d.imm === FENCE_PAUSE;
}

function illegal(raw: number, len: number): Insn {
  return new Insn(OP_ILLEGAL, 0, 0, 0, 0, 0, len, raw >>> 0, raw >>> 0);
}

const LOAD_OPS = [OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL] as const;
const STORE_OPS = [OP_SB, OP_SH, OP_SW, OP_SD] as const;
const BRANCH_OPS = [OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU] as const;
const M_OPS = [OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU] as const;
const M32_OPS = [OP_MULW, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW] as const;
const MINMAX_CLMUL_OPS = [OP_ILLEGAL, OP_CLMUL, OP_CLMULR, OP_CLMULH, OP_MIN, OP_MINU, OP_MAX, OP_MAXU] as const;
const CSR_OPS = [OP_ILLEGAL, OP_CSRRW, OP_CSRRS, OP_CSRRC, OP_ILLEGAL, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI] as const;

function at<T>(table: readonly T[], index: number, fallback: T): T {
  const value = table[index];
  return value === undefined ? fallback : value;
}

/**
 * Decoded instructions by word, shared by every decode of that word: an `Insn` is immutable, and code repeats its
 * words (the project's kernel: 1.2 M instruction slots, 166 k distinct words). A boot decodes each slot it runs
 * once (124 k in the project kernel's boot, 396 k in Debian's), at 70 ns a decode once JavaScriptCore has
 * optimized the decoder and ~380 ns before — most of a boot's decodes come before. A hit costs a compare.
 * 32-bit words go to a direct-mapped table (a collision just decodes again); compressed parcels, 16 bits, to a
 * table with a place for each. Both are bounded: at most DECODE_CACHE_WORDS + 2^16 `Insn`s per thread.
 */
const DECODE_CACHE_BITS = 15;
const DECODE_CACHE_WORDS = 1 << DECODE_CACHE_BITS;
/** The 32-bit table; an entry's word is its `bits` (decoded as fetched: 4 bytes, `raw` = `bits`). */
const cachedWordInsns = new Array<Insn | undefined>(DECODE_CACHE_WORDS).fill(undefined);
const cachedParcelInsns = new Array<Insn | undefined>(1 << 16).fill(undefined);

/** The place of 32-bit `word` (unsigned) in the table: a multiplicative hash, so nearby encodings spread out. */
export function decodeCacheIndex(word: number): number {
  return Math.imul(word, 0x9e3779b1) >>> (32 - DECODE_CACHE_BITS);
}

/** Decode a 32-bit instruction word (bits 1:0 must be 11) fetched as such. */
export function decode32(word: number): Insn {
  const bits = word >>> 0;
  const i = decodeCacheIndex(bits);
  const cached = cachedWordInsns[i];
  if (cached !== undefined && cached.bits === bits) return cached;
  const insn = decodeWord(bits, 4, bits);
  cachedWordInsns[i] = insn;
  return insn;
}

/** Decode a 32-bit word; `len`/`raw` describe what was fetched (decode16 passes a parcel's expansion). */
function decodeWord(word: number, len: number, raw: number): Insn {
  const bits = word >>> 0;
  const opcode = bits & OPCODE_MASK;
  const rd = (bits >>> 7) & 31;
  const funct3 = (bits >>> 12) & 7;
  const rs1 = (bits >>> 15) & 31;
  const rs2 = (bits >>> 20) & 31;
  const funct7 = bits >>> 25;
  const immI = (bits | 0) >> 20;
  const make = (op: number, imm: number, aux = 0): Insn =>
    op === OP_ILLEGAL ? illegal(raw, len) : new Insn(op, rd, rs1, rs2, imm, aux, len, bits, raw >>> 0);
  switch (opcode) {
    case OPC_LUI:
      return make(OP_LUI, bits & 0xfffff000);
    case OPC_AUIPC:
      return make(OP_AUIPC, bits & 0xfffff000);
    case OPC_JAL: {
      const imm =
        (((bits | 0) >> 31) << 20) |
        (((bits >>> 12) & 0xff) << 12) |
        (((bits >>> 20) & 1) << 11) |
        (((bits >>> 21) & 0x3ff) << 1);
      return make(OP_JAL, imm);
    }
    case OPC_JALR:
      return funct3 === 0 ? make(OP_JALR, immI) : illegal(raw, len);
    case OPC_BRANCH: {
      const imm =
        (((bits | 0) >> 31) << 12) |
        (((bits >>> 7) & 1) << 11) |
        (((bits >>> 25) & 0x3f) << 5) |
        (((bits >>> 8) & 0xf) << 1);
      return make(at(BRANCH_OPS, funct3, OP_ILLEGAL), imm);
    }
    case OPC_LOAD:
      return make(at(LOAD_OPS, funct3, OP_ILLEGAL), immI);
    case OPC_STORE: {
      const imm = (((bits | 0) >> 25) << 5) | ((bits >>> 7) & 0x1f);
      return funct3 < 4 ? make(at(STORE_OPS, funct3, OP_ILLEGAL), imm) : illegal(raw, len);
    }
    case OPC_OP_IMM:
      switch (funct3) {
        case 0:
          return make(OP_ADDI, immI);
        case 1:
          return decodeOpImmShiftLeft(bits, make, raw, len);
        case 2:
          return make(OP_SLTI, immI);
        case 3:
          return make(OP_SLTIU, immI);
        case 4:
          return make(OP_XORI, immI);
        case 5:
          return decodeOpImmShiftRight(bits, make, raw, len);
        case 6:
          return make(OP_ORI, immI);
        default:
          return make(OP_ANDI, immI);
      }
    case OPC_OP_IMM_32:
      switch (funct3) {
        case 0:
          return make(OP_ADDIW, immI);
        case 1:
          if (funct7 === 0) return make(OP_SLLIW, rs2);
          if (funct7 >>> 1 === 0x02) return make(OP_SLLI_UW, (bits >>> 20) & 63); // Zba
          if (funct7 === 0x30 && rs2 <= 2) return make(rs2 === 0 ? OP_CLZW : rs2 === 1 ? OP_CTZW : OP_CPOPW, 0);
          return illegal(raw, len);
        case 5:
          if (funct7 === 0) return make(OP_SRLIW, rs2);
          if (funct7 === 0x20) return make(OP_SRAIW, rs2);
          if (funct7 === 0x30) return make(OP_RORIW, rs2); // Zbb
          return illegal(raw, len);
        default:
          return illegal(raw, len);
      }
    case OPC_OP:
      if (funct7 === 0) {
        return make([OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND][funct3] ?? OP_ILLEGAL, 0);
      }
      if (funct7 === 0x20) {
        if (funct3 === 0) return make(OP_SUB, 0);
        if (funct3 === 5) return make(OP_SRA, 0);
        // Zbb: XNOR, ORN, ANDN.
        if (funct3 === 4) return make(OP_XNOR, 0);
        if (funct3 === 6) return make(OP_ORN, 0);
        if (funct3 === 7) return make(OP_ANDN, 0);
        return illegal(raw, len);
      }
      if (funct7 === 1) return make(at(M_OPS, funct3, OP_ILLEGAL), 0);
      return decodeOpBitmanip(funct7, funct3, make, raw, len);
    case OPC_OP_32:
      if (funct7 === 0) {
        if (funct3 === 0) return make(OP_ADDW, 0);
        if (funct3 === 1) return make(OP_SLLW, 0);
        if (funct3 === 5) return make(OP_SRLW, 0);
        return illegal(raw, len);
      }
      if (funct7 === 0x20) {
        if (funct3 === 0) return make(OP_SUBW, 0);
        if (funct3 === 5) return make(OP_SRAW, 0);
        return illegal(raw, len);
      }
      if (funct7 === 1) return make(at(M32_OPS, funct3, OP_ILLEGAL), 0);
      // Zba: ADD.UW (funct7 0000100), SH1ADD.UW..SH3ADD.UW (0010000, funct3 2/4/6); Zbb: ZEXT.H (the RV64 form of
      // PACKW with rs2 = x0: any other rs2 is Zbkb's PACKW, not implemented), ROLW, RORW.
      if (funct7 === 0x04) {
        if (funct3 === 0) return make(OP_SHADD_UW, 0);
        if (funct3 === 4 && rs2 === 0) return make(OP_ZEXT_H, 0);
        return illegal(raw, len);
      }
      if (funct7 === 0x10 && (funct3 === 2 || funct3 === 4 || funct3 === 6)) return make(OP_SHADD_UW, funct3 >>> 1);
      if (funct7 === 0x30 && funct3 === 1) return make(OP_ROLW, 0);
      if (funct7 === 0x30 && funct3 === 5) return make(OP_RORW, 0);
      return illegal(raw, len);
    case OPC_MISC_MEM:
      // FENCE's unused fields (rd, rs1, fm other than 0/8) are reserved for future use and, per the ISA manual,
      // must be ignored by implementations, so every FENCE encoding executes as a fence. FENCE.I likewise.
      if (funct3 === 0) return make(OP_FENCE, bits === PAUSE_BITS ? FENCE_PAUSE : 0);
      if (funct3 === 1) return make(OP_FENCE_I, 0);
      return illegal(raw, len);
    case OPC_AMO: {
      if (funct3 !== 2 && funct3 !== 3) return illegal(raw, len);
      const funct5 = funct7 >>> 2;
      switch (funct5) {
        case AMO_LR:
          if (rs2 !== 0) return illegal(raw, len);
          break;
        case AMO_SC:
        case AMO_ADD:
        case AMO_SWAP:
        case AMO_XOR:
        case AMO_OR:
        case AMO_AND:
        case AMO_MIN:
        case AMO_MAX:
        case AMO_MINU:
        case AMO_MAXU:
          break;
        default:
          return illegal(raw, len);
      }
      return make(funct3 === 2 ? OP_AMO_W : OP_AMO_D, 0, funct5);
    }
    case OPC_LOAD_FP:
      if (funct3 === 2) return make(OP_FLW, immI);
      if (funct3 === 3) return make(OP_FLD, immI);
      return illegal(raw, len);
    case OPC_STORE_FP: {
      const imm = (((bits | 0) >> 25) << 5) | ((bits >>> 7) & 0x1f);
      if (funct3 === 2) return make(OP_FSW, imm);
      if (funct3 === 3) return make(OP_FSD, imm);
      return illegal(raw, len);
    }
    case OPC_MADD:
    case OPC_MSUB:
    case OPC_NMSUB:
    case OPC_NMADD:
    case OPC_OP_FP:
      // The FPU validates fmt/rm/funct fields and reports FP_ILLEGAL for reserved ones.
      return make(OP_FP, 0);
    case OPC_SYSTEM:
      return decodeSystem(bits, rd, funct3, rs1, rs2, funct7, len, raw);
    default:
      return illegal(raw, len);
  }
}

type Make = (op: number, imm: number, aux?: number) => Insn;

/** OP-IMM funct3 001: SLLI, and Zbb's CLZ/CTZ/CPOP/SEXT.B/SEXT.H, Zbs's BCLRI/BINVI/BSETI. */
function decodeOpImmShiftLeft(bits: number, make: Make, raw: number, len: number): Insn {
  const funct6 = bits >>> 26;
  const shamt = (bits >>> 20) & 63;
  if (funct6 === 0) return make(OP_SLLI, shamt);
  if (funct6 === 0x12) return make(OP_BCLRI, shamt);
  if (funct6 === 0x1a) return make(OP_BINVI, shamt);
  if (funct6 === 0x0a) return make(OP_BSETI, shamt);
  // The count and sign-extend instructions have a fixed 12-bit field (funct7 0110000 and an rs2 selector).
  switch (bits >>> 20) {
    case 0x600:
      return make(OP_CLZ, 0);
    case 0x601:
      return make(OP_CTZ, 0);
    case 0x602:
      return make(OP_CPOP, 0);
    case 0x604:
      return make(OP_SEXT, 8);
    case 0x605:
      return make(OP_SEXT, 16);
    default:
      return illegal(raw, len);
  }
}

/** OP-IMM funct3 101: SRLI, SRAI, and Zbb's RORI/ORC.B/REV8, Zbs's BEXTI. */
function decodeOpImmShiftRight(bits: number, make: Make, raw: number, len: number): Insn {
  const funct6 = bits >>> 26;
  const shamt = (bits >>> 20) & 63;
  if (funct6 === 0) return make(OP_SRLI, shamt);
  if (funct6 === 0x10) return make(OP_SRAI, shamt);
  if (funct6 === 0x18) return make(OP_RORI, shamt);
  if (funct6 === 0x12) return make(OP_BEXTI, shamt);
  // ORC.B and RV64's REV8 have a fixed 12-bit field; the rest of those funct6 spaces is reserved.
  if (bits >>> 20 === 0x287) return make(OP_ORC_B, 0);
  if (bits >>> 20 === 0x6b8) return make(OP_REV8, 0);
  return illegal(raw, len);
}

/** OP with the bit-manipulation funct7 values (Zba shNadd, Zbb min/max and rotates, Zbc, Zbs). */
function decodeOpBitmanip(funct7: number, funct3: number, make: Make, raw: number, len: number): Insn {
  switch (funct7) {
    case 0x10: // SH1ADD, SH2ADD, SH3ADD
      return funct3 === 2 || funct3 === 4 || funct3 === 6 ? make(OP_SHADD, funct3 >>> 1) : illegal(raw, len);
    case 0x05: // CLMUL, CLMULR, CLMULH, MIN, MINU, MAX, MAXU
      return make(at(MINMAX_CLMUL_OPS, funct3, OP_ILLEGAL), 0);
    case 0x30: // ROL, ROR
      if (funct3 === 1) return make(OP_ROL, 0);
      if (funct3 === 5) return make(OP_ROR, 0);
      return illegal(raw, len);
    case 0x24: // BCLR, BEXT
      if (funct3 === 1) return make(OP_BCLR, 0);
      if (funct3 === 5) return make(OP_BEXT, 0);
      return illegal(raw, len);
    case 0x34: // BINV
      return funct3 === 1 ? make(OP_BINV, 0) : illegal(raw, len);
    case 0x14: // BSET
      return funct3 === 1 ? make(OP_BSET, 0) : illegal(raw, len);
    default:
      return illegal(raw, len);
  }
}

function decodeSystem(
  bits: number,
  rd: number,
  funct3: number,
  rs1: number,
  rs2: number,
  funct7: number,
  len: number,
  raw: number,
): Insn {
  const make = (op: number, imm: number, aux = 0): Insn => new Insn(op, rd, rs1, rs2, imm, aux, len, bits, raw >>> 0);
  if (funct3 === 0) {
    if (rd !== 0) return illegal(raw, len);
    switch (bits) {
      case INSN_ECALL:
        return make(OP_ECALL, 0);
      case INSN_EBREAK:
        return make(OP_EBREAK, 0);
      case INSN_SRET:
        return make(OP_SRET, 0);
      case INSN_MRET:
        return make(OP_MRET, 0);
      case INSN_WFI:
        return make(OP_WFI, 0);
      default:
        break;
    }
    if (funct7 === FUNCT7_SFENCE_VMA) return make(OP_SFENCE_VMA, 0);
    if (funct7 === FUNCT7_HFENCE_VVMA) return make(OP_HFENCE_VVMA, 0);
    if (funct7 === FUNCT7_HFENCE_GVMA) return make(OP_HFENCE_GVMA, 0);
    return illegal(raw, len);
  }
  if (funct3 === 4) {
    // Hypervisor virtual-machine loads and stores.
    switch (funct7) {
      case 0x30: // HLV.B, HLV.BU
        if (rs2 === 0) return make(OP_HLV, 0, 1);
        if (rs2 === 1) return make(OP_HLV, 0, 1 | HYP_UNSIGNED);
        return illegal(raw, len);
      case 0x32: // HLV.H, HLV.HU, HLVX.HU
        if (rs2 === 0) return make(OP_HLV, 0, 2);
        if (rs2 === 1) return make(OP_HLV, 0, 2 | HYP_UNSIGNED);
        if (rs2 === 3) return make(OP_HLV, 0, 2 | HYP_UNSIGNED | HYP_EXEC);
        return illegal(raw, len);
      case 0x34: // HLV.W, HLV.WU, HLVX.WU
        if (rs2 === 0) return make(OP_HLV, 0, 4);
        if (rs2 === 1) return make(OP_HLV, 0, 4 | HYP_UNSIGNED);
        if (rs2 === 3) return make(OP_HLV, 0, 4 | HYP_UNSIGNED | HYP_EXEC);
        return illegal(raw, len);
      case 0x36: // HLV.D
        return rs2 === 0 ? make(OP_HLV, 0, 8) : illegal(raw, len);
      case 0x31:
        return rd === 0 ? make(OP_HSV, 0, 1) : illegal(raw, len);
      case 0x33:
        return rd === 0 ? make(OP_HSV, 0, 2) : illegal(raw, len);
      case 0x35:
        return rd === 0 ? make(OP_HSV, 0, 4) : illegal(raw, len);
      case 0x37:
        return rd === 0 ? make(OP_HSV, 0, 8) : illegal(raw, len);
      default:
        return illegal(raw, len);
    }
  }
  const op = at(CSR_OPS, funct3, OP_ILLEGAL);
  return op === OP_ILLEGAL ? illegal(raw, len) : make(op, bits >>> 20);
}

// ---------------------------------------------------------------------------------------------------------------
// Compressed (RVC) expansion
// ---------------------------------------------------------------------------------------------------------------

/** Expand a 16-bit RVC parcel to its 32-bit equivalent, or return -1 for a reserved/illegal encoding. */
export function expandCompressed(parcel: number): number {
  const c = parcel & 0xffff;
  const quadrant = c & 3;
  const funct3 = c >>> 13;
  const rdP = ((c >>> 2) & 7) + 8; // rd'/rs2' in bits 4:2
  const rs1P = ((c >>> 7) & 7) + 8; // rs1'/rd' in bits 9:7
  const rd = (c >>> 7) & 31;
  const rs2 = (c >>> 2) & 31;
  // imm[5] = bit 12, imm[4:0] = bits 6:2, sign-extended (CI format)
  const immCI = (((((c >>> 12) & 1) << 5) | ((c >>> 2) & 31)) << 26) >> 26;
  const uimmCI = (((c >>> 12) & 1) << 5) | ((c >>> 2) & 31);
  if (quadrant === 0) {
    switch (funct3) {
      case 0: {
        const nzuimm =
          (((c >>> 11) & 3) << 4) | (((c >>> 7) & 0xf) << 6) | (((c >>> 6) & 1) << 2) | (((c >>> 5) & 1) << 3);
        if (nzuimm === 0) return -1; // also covers the all-zero parcel, which is defined illegal
        return encodeI(OPC_OP_IMM, rdP, 0, 2, nzuimm);
      }
      case 1: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 5) & 3) << 6);
        return encodeI(OPC_LOAD_FP, rdP, 3, rs1P, uimm);
      }
      case 2: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 6) & 1) << 2) | (((c >>> 5) & 1) << 6);
        return encodeI(OPC_LOAD, rdP, 2, rs1P, uimm);
      }
      case 3: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 5) & 3) << 6);
        return encodeI(OPC_LOAD, rdP, 3, rs1P, uimm);
      }
      case 5: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 5) & 3) << 6);
        return encodeS(OPC_STORE_FP, 3, rs1P, rdP, uimm);
      }
      case 6: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 6) & 1) << 2) | (((c >>> 5) & 1) << 6);
        return encodeS(OPC_STORE, 2, rs1P, rdP, uimm);
      }
      case 7: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 5) & 3) << 6);
        return encodeS(OPC_STORE, 3, rs1P, rdP, uimm);
      }
      default:
        return -1; // funct3 4 is reserved (Zcb is not implemented)
    }
  }
  if (quadrant === 1) {
    switch (funct3) {
      case 0: // C.ADDI (rd = 0 or imm = 0 are hints/NOP, still executed as addi)
        return encodeI(OPC_OP_IMM, rd, 0, rd, immCI);
      case 1: // C.ADDIW
        if (rd === 0) return -1;
        return encodeI(OPC_OP_IMM_32, rd, 0, rd, immCI);
      case 2: // C.LI
        return encodeI(OPC_OP_IMM, rd, 0, 0, immCI);
      case 3: {
        if (rd === 2) {
          const nzimm =
            (((((c >>> 12) & 1) << 9) |
              (((c >>> 6) & 1) << 4) |
              (((c >>> 5) & 1) << 6) |
              (((c >>> 3) & 3) << 7) |
              (((c >>> 2) & 1) << 5)) <<
              22) >>
            22;
          if (nzimm === 0) return -1;
          return encodeI(OPC_OP_IMM, 2, 0, 2, nzimm);
        }
        if (immCI === 0) return -1;
        return encodeU(OPC_LUI, rd, immCI << 12);
      }
      case 4: {
        const funct2 = (c >>> 10) & 3;
        if (funct2 === 0) return encodeI(OPC_OP_IMM, rs1P, 5, rs1P, uimmCI);
        if (funct2 === 1) return encodeI(OPC_OP_IMM, rs1P, 5, rs1P, 0x400 | uimmCI);
        if (funct2 === 2) return encodeI(OPC_OP_IMM, rs1P, 7, rs1P, immCI);
        const sub = (c >>> 5) & 3;
        if (((c >>> 12) & 1) === 0) {
          if (sub === 0) return encodeR(OPC_OP, rs1P, 0, rs1P, rdP, 0x20); // C.SUB
          if (sub === 1) return encodeR(OPC_OP, rs1P, 4, rs1P, rdP, 0); // C.XOR
          if (sub === 2) return encodeR(OPC_OP, rs1P, 6, rs1P, rdP, 0); // C.OR
          return encodeR(OPC_OP, rs1P, 7, rs1P, rdP, 0); // C.AND
        }
        if (sub === 0) return encodeR(OPC_OP_32, rs1P, 0, rs1P, rdP, 0x20); // C.SUBW
        if (sub === 1) return encodeR(OPC_OP_32, rs1P, 0, rs1P, rdP, 0); // C.ADDW
        return -1;
      }
      case 5: {
        const off =
          (((((c >>> 12) & 1) << 11) |
            (((c >>> 11) & 1) << 4) |
            (((c >>> 9) & 3) << 8) |
            (((c >>> 8) & 1) << 10) |
            (((c >>> 7) & 1) << 6) |
            (((c >>> 6) & 1) << 7) |
            (((c >>> 3) & 7) << 1) |
            (((c >>> 2) & 1) << 5)) <<
            20) >>
          20;
        return encodeJ(OPC_JAL, 0, off);
      }
      default: {
        // C.BEQZ (6) / C.BNEZ (7)
        const off =
          (((((c >>> 12) & 1) << 8) |
            (((c >>> 10) & 3) << 3) |
            (((c >>> 5) & 3) << 6) |
            (((c >>> 3) & 3) << 1) |
            (((c >>> 2) & 1) << 5)) <<
            23) >>
          23;
        return encodeB(OPC_BRANCH, funct3 === 6 ? 0 : 1, rs1P, 0, off);
      }
    }
  }
  if (quadrant === 2) {
    switch (funct3) {
      case 0: // C.SLLI
        return encodeI(OPC_OP_IMM, rd, 1, rd, uimmCI);
      case 1: {
        const uimm = (((c >>> 12) & 1) << 5) | (((c >>> 5) & 3) << 3) | (((c >>> 2) & 7) << 6);
        return encodeI(OPC_LOAD_FP, rd, 3, 2, uimm);
      }
      case 2: {
        if (rd === 0) return -1;
        const uimm = (((c >>> 12) & 1) << 5) | (((c >>> 4) & 7) << 2) | (((c >>> 2) & 3) << 6);
        return encodeI(OPC_LOAD, rd, 2, 2, uimm);
      }
      case 3: {
        if (rd === 0) return -1;
        const uimm = (((c >>> 12) & 1) << 5) | (((c >>> 5) & 3) << 3) | (((c >>> 2) & 7) << 6);
        return encodeI(OPC_LOAD, rd, 3, 2, uimm);
      }
      case 4: {
        if (((c >>> 12) & 1) === 0) {
          if (rs2 === 0) return rd === 0 ? -1 : encodeI(OPC_JALR, 0, 0, rd, 0); // C.JR
          return encodeR(OPC_OP, rd, 0, 0, rs2, 0); // C.MV
        }
        if (rs2 === 0) {
          if (rd === 0) return INSN_EBREAK; // C.EBREAK
          return encodeI(OPC_JALR, 1, 0, rd, 0); // C.JALR
        }
        return encodeR(OPC_OP, rd, 0, rd, rs2, 0); // C.ADD
      }
      case 5: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 7) & 7) << 6);
        return encodeS(OPC_STORE_FP, 3, 2, rs2, uimm);
      }
      case 6: {
        const uimm = (((c >>> 9) & 0xf) << 2) | (((c >>> 7) & 3) << 6);
        return encodeS(OPC_STORE, 2, 2, rs2, uimm);
      }
      default: {
        const uimm = (((c >>> 10) & 7) << 3) | (((c >>> 7) & 7) << 6);
        return encodeS(OPC_STORE, 3, 2, rs2, uimm);
      }
    }
  }
  return -1; // quadrant 3 is not a compressed instruction
}

/** Decode a 16-bit compressed parcel. */
export function decode16(parcel: number): Insn {
  const p = parcel & 0xffff;
  const cached = cachedParcelInsns[p];
  if (cached !== undefined) return cached;
  const expanded = expandCompressed(p);
  const insn = expanded < 0 ? illegal(p, 2) : decodeWord(expanded, 2, p);
  cachedParcelInsns[p] = insn;
  return insn;
}

/** Decode whatever starts with `lowParcel` (the full 32-bit word must be supplied for 32-bit instructions). */
export function decode(word: number): Insn {
  return (word & 3) === 3 ? decode32(word) : decode16(word & 0xffff);
}

/** True when the parcel starts a 32-bit instruction (we implement no encodings longer than 32 bits). */
export function isLongInstruction(lowParcel: number): boolean {
  return (lowParcel & 3) === 3;
}
