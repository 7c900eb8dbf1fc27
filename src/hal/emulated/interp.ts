/**
 * The fast block interpreter: runs a decoded block with the pc in a local, the common integer instructions and
 * the RAM fast paths inline, and everything else through `execute` (the reference semantics).
 *
 * Most of a Linux boot runs here: code that is executed a few thousand times does not pay back compiling it
 * (every fresh `new Function` body starts in JavaScriptCore's slowest tiers), while this one function is hot
 * and optimized once. The `case` labels are numeric literals (with the operation's name beside them) because
 * JavaScriptCore builds a jump table only for literal cases; `interp.test.ts` checks every literal against the
 * decoder's OP_* constants.
 */

import { mul64, out } from "./alu.ts";
import type { Block } from "./block.ts";
import { AMO_LR, AMO_SC, type Insn } from "./decode.ts";
import { amoResult, execute, transformedInstruction } from "./exec.ts";
import { EXEC_END, EXEC_TRAP, type Hart } from "./hart.ts";
import { TLB_MASK } from "./tlb.ts";

const TWO_POW_32 = 4294967296;

/** Run `b` once from `h.pc`. Returns the number of instructions retired (h.icount is advanced by as much). */
export function runBlock(h: Hart, b: Block): number {
  const insns = b.insns;
  const count = insns.length;
  const xlo = h.xlo;
  const xhi = h.xhi;
  const dt = h.dtlb;
  let pc = h.pc;
  let synced = 0;
  for (let k = 0; k < count; k++) {
    const d = insns[k];
    if (d === undefined) break;
    const rd = d.rd;
    switch (d.op) {
      case 1: // OP_LUI
        if (rd !== 0) {
          xlo[rd] = d.imm;
          xhi[rd] = d.imm >> 31;
        }
        pc += d.len;
        continue;
      case 2: // OP_AUIPC
        if (rd !== 0) {
          const v = pc + d.imm;
          xlo[rd] = v | 0;
          xhi[rd] = Math.floor(v / TWO_POW_32) | 0;
        }
        pc += d.len;
        continue;
      case 3: {
        // OP_JAL
        if (rd !== 0) {
          const l = pc + d.len;
          xlo[rd] = l | 0;
          xhi[rd] = Math.floor(l / TWO_POW_32) | 0;
        }
        h.pc = pc + d.imm;
        h.icount += k + 1 - synced;
        return k + 1;
      }
      case 4: {
        // OP_JALR
        let t = (xhi[d.rs1] ?? 0) * TWO_POW_32 + ((xlo[d.rs1] ?? 0) >>> 0) + d.imm;
        t -= t & 1;
        if (rd !== 0) {
          const l = pc + d.len;
          xlo[rd] = l | 0;
          xhi[rd] = Math.floor(l / TWO_POW_32) | 0;
        }
        h.pc = t;
        h.icount += k + 1 - synced;
        return k + 1;
      }
      case 5: // OP_BEQ
      case 6: // OP_BNE
      case 7: // OP_BLT
      case 8: // OP_BGE
      case 9: // OP_BLTU
      case 10: {
        // OP_BGEU
        const alo = xlo[d.rs1] ?? 0;
        const ahi = xhi[d.rs1] ?? 0;
        const blo = xlo[d.rs2] ?? 0;
        const bhi = xhi[d.rs2] ?? 0;
        let taken: boolean;
        switch (d.op) {
          case 5:
            taken = alo === blo && ahi === bhi;
            break;
          case 6:
            taken = alo !== blo || ahi !== bhi;
            break;
          case 7:
            taken = ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0);
            break;
          case 8:
            taken = !(ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0));
            break;
          case 9:
            taken = ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
            break;
          default:
            taken = !(ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0));
        }
        h.pc = pc + (taken ? d.imm : d.len);
        h.icount += k + 1 - synced;
        return k + 1;
      }
      case 11: // OP_LB
      case 12: // OP_LH
      case 13: // OP_LW
      case 14: // OP_LD
      case 15: // OP_LBU
      case 16: // OP_LHU
      case 17: {
        // OP_LWU
        const op = d.op;
        const width = op === 11 || op === 15 ? 1 : op === 12 || op === 16 ? 2 : op === 14 ? 8 : 4;
        const a = (xhi[d.rs1] ?? 0) * TWO_POW_32 + ((xlo[d.rs1] ?? 0) >>> 0) + d.imm;
        const i = (a >>> 12) & TLB_MASK;
        let v: number;
        let vh = 0;
        const view = dt.rview[i];
        if (dt.rtag[i] === a - (a & (4096 - width)) && view !== undefined) {
          const o = (a + (dt.rdelta[i] ?? 0)) | 0;
          switch (width) {
            case 1:
              v = view.getUint8(o);
              break;
            case 2:
              v = view.getUint16(o, true);
              break;
            case 4:
              v = view.getInt32(o, true);
              break;
            default:
              v = view.getInt32(o, true);
              vh = view.getInt32(o + 4, true);
          }
        } else {
          h.pc = pc;
          const r = h.loadSlow(a, width, transformedInstruction(d), d.len);
          if (r === undefined) {
            h.icount += k - synced;
            return k;
          }
          v = r;
          vh = h.ldHi;
        }
        if (rd !== 0) {
          switch (op) {
            case 11:
              v = (v << 24) >> 24;
              vh = v >> 31;
              break;
            case 12:
              v = (v << 16) >> 16;
              vh = v >> 31;
              break;
            case 13:
              vh = v >> 31;
              break;
            case 14:
              break;
            default:
              vh = 0;
          }
          xlo[rd] = v;
          xhi[rd] = vh;
        }
        pc += d.len;
        continue;
      }
      case 18: // OP_SB
      case 19: // OP_SH
      case 20: // OP_SW
      case 21: {
        // OP_SD
        const width = 1 << (d.op - 18);
        const a = (xhi[d.rs1] ?? 0) * TWO_POW_32 + ((xlo[d.rs1] ?? 0) >>> 0) + d.imm;
        const i = (a >>> 12) & TLB_MASK;
        const lo = xlo[d.rs2] ?? 0;
        const view = dt.wview[i];
        if (dt.wtag[i] === a - (a & (4096 - width)) && view !== undefined) {
          const o = (a + (dt.wdelta[i] ?? 0)) | 0;
          switch (width) {
            case 1:
              view.setUint8(o, lo & 0xff);
              break;
            case 2:
              view.setUint16(o, lo & 0xffff, true);
              break;
            case 4:
              view.setInt32(o, lo, true);
              break;
            default:
              view.setInt32(o, lo, true);
              view.setInt32(o + 4, xhi[d.rs2] ?? 0, true);
          }
        } else {
          h.pc = pc;
          if (!h.storeSlow(a, width, lo, xhi[d.rs2] ?? 0, transformedInstruction(d), d.len)) {
            h.icount += k - synced;
            return k;
          }
        }
        pc += d.len;
        continue;
      }
      case 22: {
        // OP_ADDI
        if (rd !== 0) {
          const a = xlo[d.rs1] ?? 0;
          const r = (a + d.imm) | 0;
          xhi[rd] = ((xhi[d.rs1] ?? 0) + (d.imm >> 31) + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          xlo[rd] = r;
        }
        pc += d.len;
        continue;
      }
      case 25: // OP_XORI
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) ^ (d.imm >> 31);
          xlo[rd] = (xlo[d.rs1] ?? 0) ^ d.imm;
        }
        pc += d.len;
        continue;
      case 26: // OP_ORI
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) | (d.imm >> 31);
          xlo[rd] = (xlo[d.rs1] ?? 0) | d.imm;
        }
        pc += d.len;
        continue;
      case 27: // OP_ANDI
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) & (d.imm >> 31);
          xlo[rd] = (xlo[d.rs1] ?? 0) & d.imm;
        }
        pc += d.len;
        continue;
      case 28: {
        // OP_SLLI
        if (rd !== 0) {
          const s = d.imm;
          const lo = xlo[d.rs1] ?? 0;
          const hi = xhi[d.rs1] ?? 0;
          if (s === 0) {
            xlo[rd] = lo;
            xhi[rd] = hi;
          } else if (s < 32) {
            xhi[rd] = (hi << s) | (lo >>> (32 - s));
            xlo[rd] = lo << s;
          } else {
            xhi[rd] = lo << (s - 32);
            xlo[rd] = 0;
          }
        }
        pc += d.len;
        continue;
      }
      case 29: // OP_SRLI
      case 30: {
        // OP_SRAI
        if (rd !== 0) {
          const s = d.imm;
          const lo = xlo[d.rs1] ?? 0;
          const hi = xhi[d.rs1] ?? 0;
          const arith = d.op === 30;
          if (s === 0) {
            xlo[rd] = lo;
            xhi[rd] = hi;
          } else if (s < 32) {
            xlo[rd] = (lo >>> s) | (hi << (32 - s));
            xhi[rd] = arith ? hi >> s : hi >>> s;
          } else {
            xlo[rd] = arith ? hi >> (s - 32) : hi >>> (s - 32);
            xhi[rd] = arith ? hi >> 31 : 0;
          }
        }
        pc += d.len;
        continue;
      }
      case 31: {
        // OP_ADD
        if (rd !== 0) {
          const a = xlo[d.rs1] ?? 0;
          const r = (a + (xlo[d.rs2] ?? 0)) | 0;
          xhi[rd] = ((xhi[d.rs1] ?? 0) + (xhi[d.rs2] ?? 0) + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          xlo[rd] = r;
        }
        pc += d.len;
        continue;
      }
      case 32: {
        // OP_SUB
        if (rd !== 0) {
          const a = xlo[d.rs1] ?? 0;
          const b2 = xlo[d.rs2] ?? 0;
          xhi[rd] = ((xhi[d.rs1] ?? 0) - (xhi[d.rs2] ?? 0) - (a >>> 0 < b2 >>> 0 ? 1 : 0)) | 0;
          xlo[rd] = (a - b2) | 0;
        }
        pc += d.len;
        continue;
      }
      case 34: // OP_SLT
      case 35: {
        // OP_SLTU
        if (rd !== 0) {
          const alo = xlo[d.rs1] ?? 0;
          const ahi = xhi[d.rs1] ?? 0;
          const blo = xlo[d.rs2] ?? 0;
          const bhi = xhi[d.rs2] ?? 0;
          const less =
            d.op === 34
              ? ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0)
              : ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
          xlo[rd] = less ? 1 : 0;
          xhi[rd] = 0;
        }
        pc += d.len;
        continue;
      }
      case 36: // OP_XOR
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) ^ (xhi[d.rs2] ?? 0);
          xlo[rd] = (xlo[d.rs1] ?? 0) ^ (xlo[d.rs2] ?? 0);
        }
        pc += d.len;
        continue;
      case 39: // OP_OR
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) | (xhi[d.rs2] ?? 0);
          xlo[rd] = (xlo[d.rs1] ?? 0) | (xlo[d.rs2] ?? 0);
        }
        pc += d.len;
        continue;
      case 40: // OP_AND
        if (rd !== 0) {
          xhi[rd] = (xhi[d.rs1] ?? 0) & (xhi[d.rs2] ?? 0);
          xlo[rd] = (xlo[d.rs1] ?? 0) & (xlo[d.rs2] ?? 0);
        }
        pc += d.len;
        continue;
      case 41: // OP_ADDIW
        if (rd !== 0) {
          const v = ((xlo[d.rs1] ?? 0) + d.imm) | 0;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 42: // OP_SLLIW
        if (rd !== 0) {
          const v = (xlo[d.rs1] ?? 0) << d.imm;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 43: // OP_SRLIW
        if (rd !== 0) {
          const v = ((xlo[d.rs1] ?? 0) >>> d.imm) | 0;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 44: // OP_SRAIW
        if (rd !== 0) {
          const v = (xlo[d.rs1] ?? 0) >> d.imm;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 45: // OP_ADDW
        if (rd !== 0) {
          const v = ((xlo[d.rs1] ?? 0) + (xlo[d.rs2] ?? 0)) | 0;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 46: // OP_SUBW
        if (rd !== 0) {
          const v = ((xlo[d.rs1] ?? 0) - (xlo[d.rs2] ?? 0)) | 0;
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 50: // OP_MUL
        if (rd !== 0) {
          mul64(xlo[d.rs1] ?? 0, xhi[d.rs1] ?? 0, xlo[d.rs2] ?? 0, xhi[d.rs2] ?? 0);
          xlo[rd] = out[0] ?? 0;
          xhi[rd] = out[1] ?? 0;
        }
        pc += d.len;
        continue;
      case 58: // OP_MULW
        if (rd !== 0) {
          const v = Math.imul(xlo[d.rs1] ?? 0, xlo[d.rs2] ?? 0);
          xlo[rd] = v;
          xhi[rd] = v >> 31;
        }
        pc += d.len;
        continue;
      case 63: // OP_FENCE
        pc += d.len;
        continue;
      case 79: // OP_AMO_W
      case 80: // OP_AMO_D
        if (atomicFast(h, d)) {
          pc += d.len;
          continue;
        }
        break;
      default:
        break;
    }
    // Everything else: the reference semantics, with the pc and instruction count written back first.
    h.pc = pc;
    h.icount += k - synced;
    synced = k;
    const r = execute(h, d);
    if (r === EXEC_TRAP) return k;
    h.icount++;
    synced = k + 1;
    if (r === EXEC_END) return k + 1;
    pc = h.pc;
  }
  h.pc = pc;
  h.icount += count - synced;
  return count;
}

/**
 * LR/SC/AMO through the data TLB. An aligned atomic on a page with a write entry (AMO, SC) or a read entry (LR)
 * works on the RAM view directly: such entries exist only for RAM pages that the current context may write (with
 * D already set) or read, and write entries never cover a page holding decoded code — everything
 * `Hart.atomicAddress` checks. Returns false, having changed nothing, when the TLB cannot serve the access; the
 * caller then runs `execute`, which translates, checks and raises as the reference interpreter does.
 */
export function atomicFast(h: Hart, d: Insn): boolean {
  const width = d.op === 79 ? 4 : 8; // OP_AMO_W : OP_AMO_D
  const xlo = h.xlo;
  const xhi = h.xhi;
  const va = (xhi[d.rs1] ?? 0) * TWO_POW_32 + ((xlo[d.rs1] ?? 0) >>> 0);
  const pageOff = va & 4095;
  if ((pageOff & (width - 1)) !== 0) return false; // misaligned: the slow path raises the fault
  const dt = h.dtlb;
  const i = (va >>> 12) & TLB_MASK;
  const vpage = va - pageOff;
  const funct5 = d.aux;
  const rd = d.rd;
  if (funct5 === AMO_LR) {
    const view = dt.rview[i];
    if (dt.rtag[i] !== vpage || view === undefined) return false;
    const o = (va + (dt.rdelta[i] ?? 0)) | 0;
    const lo = view.getInt32(o, true);
    const hi = width === 4 ? lo >> 31 : view.getInt32(o + 4, true);
    h.reservationValid = true;
    h.reservationAddr = (dt.rpage[i] ?? 0) + pageOff;
    if (rd !== 0) {
      xlo[rd] = lo;
      xhi[rd] = hi;
    }
    return true;
  }
  const view = dt.wview[i];
  if (dt.wtag[i] !== vpage || view === undefined) return false;
  const o = (va + (dt.wdelta[i] ?? 0)) | 0;
  const pa = (dt.wpage[i] ?? 0) + pageOff;
  const srcLo = xlo[d.rs2] ?? 0;
  const srcHi = xhi[d.rs2] ?? 0;
  if (funct5 === AMO_SC) {
    const ok = h.reservationValid && h.reservationAddr === pa;
    h.reservationValid = false;
    if (ok) {
      view.setInt32(o, srcLo, true);
      if (width === 8) view.setInt32(o + 4, srcHi, true);
    }
    if (rd !== 0) {
      xlo[rd] = ok ? 0 : 1;
      xhi[rd] = 0;
    }
    return true;
  }
  const oldLo = view.getInt32(o, true);
  const oldHi = width === 4 ? oldLo >> 31 : view.getInt32(o + 4, true);
  amoResult(funct5, width, oldLo, oldHi, srcLo, srcHi);
  view.setInt32(o, out[0] ?? 0, true);
  if (width === 8) view.setInt32(o + 4, out[1] ?? 0, true);
  if (rd !== 0) {
    xlo[rd] = oldLo;
    xhi[rd] = oldHi;
  }
  return true;
}

/** The literal case labels above, by the decoder's names (checked against decode.ts in interp.test.ts). */
export const INTERP_CASE_LITERALS: Readonly<Record<string, number>> = {
  OP_LUI: 1,
  OP_AUIPC: 2,
  OP_JAL: 3,
  OP_JALR: 4,
  OP_BEQ: 5,
  OP_BNE: 6,
  OP_BLT: 7,
  OP_BGE: 8,
  OP_BLTU: 9,
  OP_BGEU: 10,
  OP_LB: 11,
  OP_LH: 12,
  OP_LW: 13,
  OP_LD: 14,
  OP_LBU: 15,
  OP_LHU: 16,
  OP_LWU: 17,
  OP_SB: 18,
  OP_SH: 19,
  OP_SW: 20,
  OP_SD: 21,
  OP_ADDI: 22,
  OP_XORI: 25,
  OP_ORI: 26,
  OP_ANDI: 27,
  OP_SLLI: 28,
  OP_SRLI: 29,
  OP_SRAI: 30,
  OP_ADD: 31,
  OP_SUB: 32,
  OP_SLT: 34,
  OP_SLTU: 35,
  OP_XOR: 36,
  OP_OR: 39,
  OP_AND: 40,
  OP_ADDIW: 41,
  OP_SLLIW: 42,
  OP_SRLIW: 43,
  OP_SRAIW: 44,
  OP_ADDW: 45,
  OP_SUBW: 46,
  OP_MUL: 50,
  OP_MULW: 58,
  OP_FENCE: 63,
  OP_AMO_W: 79,
  OP_AMO_D: 80,
};
