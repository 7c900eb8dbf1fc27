/**
 * RV64 instruction encoding (unprivileged ISA 20191213 and the H extension): the major opcodes, the encoders of
 * the six base formats, the fixed words of the privileged instructions, the funct fields the VMM and the hart name,
 * and the pseudo-instructions htinst reports. The hart's decoder uses the encoders to expand compressed
 * instructions; the tests use them as a tiny assembler. Immediates are plain signed numbers; each encoder places
 * the bits where the ISA manual puts them.
 */

// ---------------------------------------------------------------------------------------------------------------
// Major opcodes (bits 6:0; "RISC-V base opcode map")
// ---------------------------------------------------------------------------------------------------------------
export const OPC_LOAD = 0x03;
export const OPC_LOAD_FP = 0x07;
export const OPC_MISC_MEM = 0x0f;
export const OPC_OP_IMM = 0x13;
export const OPC_AUIPC = 0x17;
export const OPC_OP_IMM_32 = 0x1b;
export const OPC_STORE = 0x23;
export const OPC_STORE_FP = 0x27;
export const OPC_AMO = 0x2f;
export const OPC_OP = 0x33;
export const OPC_LUI = 0x37;
export const OPC_OP_32 = 0x3b;
export const OPC_MADD = 0x43;
export const OPC_MSUB = 0x47;
export const OPC_NMSUB = 0x4b;
export const OPC_NMADD = 0x4f;
export const OPC_OP_FP = 0x53;
export const OPC_BRANCH = 0x63;
export const OPC_JALR = 0x67;
export const OPC_JAL = 0x6f;
export const OPC_SYSTEM = 0x73;
/** The opcode field (bits 6:0). */
export const OPCODE_MASK = 0x7f;

// ---------------------------------------------------------------------------------------------------------------
// Fixed instruction words (SYSTEM with funct3 = 0)
// ---------------------------------------------------------------------------------------------------------------
export const INSN_ECALL = 0x00000073;
export const INSN_EBREAK = 0x00100073;
export const INSN_SRET = 0x10200073;
export const INSN_MRET = 0x30200073;
export const INSN_WFI = 0x10500073;

/** funct7 of the SYSTEM fences (funct3 = 0, rd = 0). */
export const FUNCT7_SFENCE_VMA = 0x09;
export const FUNCT7_HFENCE_VVMA = 0x11;
export const FUNCT7_HFENCE_GVMA = 0x31;

// ---------------------------------------------------------------------------------------------------------------
// A extension: funct5 (bits 31:27) of OPC_AMO
// ---------------------------------------------------------------------------------------------------------------
export const AMO_ADD = 0x00;
export const AMO_SWAP = 0x01;
export const AMO_LR = 0x02;
export const AMO_SC = 0x03;
export const AMO_XOR = 0x04;
export const AMO_OR = 0x08;
export const AMO_AND = 0x0c;
export const AMO_MIN = 0x10;
export const AMO_MAX = 0x14;
export const AMO_MINU = 0x18;
export const AMO_MAXU = 0x1c;

// ---------------------------------------------------------------------------------------------------------------
// htinst / mtinst
// ---------------------------------------------------------------------------------------------------------------
/**
 * Pseudo-instructions for a guest-page fault taken by an implicit VS-stage page-table access (H extension,
 * "Transformed Instruction or Pseudoinstruction for mtinst or htinst"): a 64-bit read or write.
 */
export const TINST_PTE_READ_64 = 0x00003000;
export const TINST_PTE_WRITE_64 = 0x00003020;
/** In a transformed instruction, bit 1 clear means the trapping instruction was compressed (16 bits). */
export const TINST_32_BIT = 2;

// ---------------------------------------------------------------------------------------------------------------
// Encoders of the base formats
// ---------------------------------------------------------------------------------------------------------------
export function encodeR(opcode: number, rd: number, funct3: number, rs1: number, rs2: number, funct7: number): number {
  return ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode) >>> 0;
}

export function encodeI(opcode: number, rd: number, funct3: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode) >>> 0;
}

export function encodeS(opcode: number, funct3: number, rs1: number, rs2: number, imm: number): number {
  return (
    ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | opcode) >>> 0
  );
}

export function encodeB(opcode: number, funct3: number, rs1: number, rs2: number, imm: number): number {
  return (
    ((((imm >> 12) & 1) << 31) |
      (((imm >> 5) & 0x3f) << 25) |
      (rs2 << 20) |
      (rs1 << 15) |
      (funct3 << 12) |
      (((imm >> 1) & 0xf) << 8) |
      (((imm >> 11) & 1) << 7) |
      opcode) >>>
    0
  );
}

/** `imm` is the full 32-bit value whose upper 20 bits are encoded (as LUI/AUIPC see it). */
export function encodeU(opcode: number, rd: number, imm: number): number {
  return ((imm & 0xfffff000) | (rd << 7) | opcode) >>> 0;
}

export function encodeJ(opcode: number, rd: number, imm: number): number {
  return (
    ((((imm >> 20) & 1) << 31) |
      (((imm >> 1) & 0x3ff) << 21) |
      (((imm >> 11) & 1) << 20) |
      (((imm >> 12) & 0xff) << 12) |
      (rd << 7) |
      opcode) >>>
    0
  );
}
