/**
 * RV64 instruction encoders for the six base formats. The decoder uses them to expand compressed instructions to
 * their 32-bit equivalents and to build transformed instructions (htinst/mtinst); the tests use them as a tiny
 * assembler. Immediates are plain signed numbers; each encoder places the bits where the ISA manual puts them.
 */

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

// Major opcodes (ISA manual, "RISC-V base opcode map").
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
