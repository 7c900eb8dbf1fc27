/**
 * The fast interpreter: runs from the per-page decode caches (`CodePage`, format in block.ts), with the pc as a
 * page base plus an offset in locals, the common integer instructions and the RAM fast paths inline, and
 * everything else through `execute` (the reference semantics).
 *
 * Most of a Linux boot runs here: code that is executed a few thousand times does not pay back compiling it
 * (every fresh `new Function` body starts in JavaScriptCore's slowest tiers), while this one function is hot
 * and optimized once. It keeps going across instructions, branches and jumps inside the page and into other
 * pages whose fetch translation is in the TLB, so there is no per-block dispatch; it returns to `runFast` only
 * at a fetch-TLB miss, after an instruction that may change translation, privilege or interrupt state
 * (`execute` says EXEC_END), at a trap, at a compiled block, at a slot that just became hot, or when `limit`
 * instructions have retired. The decoded words are 8 bytes per instruction, so the working set of a Linux boot's
 * decoded code stays in the host's caches, where one object per instruction did not.
 *
 * The `case` labels are numeric literals (with the operation's name beside them) because JavaScriptCore builds
 * a jump table only for literal cases; `interp.test.ts` checks every literal against the decoder's OP_*
 * constants.
 */

import { AMO_LR, AMO_SC } from "../../arch/riscv64/isa.ts";
import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import { div32, div64, divu32, divu64, mul64, mulh64, mulhsu64, mulhu64, out } from "./alu.ts";
import { bitmanip } from "./bitmanip.ts";
import { packSlot, SLOT_DECODED, SLOT_OP_MASK, SLOT_STRADDLE, slotImmediate } from "./block.ts";
import { decode16, decode32, type Insn, loadWidth, OP_BGEU, OP_FENCE, OP_FP, OP_ILLEGAL, OP_JAL } from "./decode.ts";
import { amoResult, execCsr, execute, transformedInstruction } from "./exec.ts";
import { EXEC_END, EXEC_TRAP, type Hart } from "./hart.ts";
import { loadSharedDoubleword, loadSlow, storeSharedDoubleword, storeSlow } from "./memory-slow.ts";
import { type CodePage, type MemBlock, PhysicalMemory } from "./phys-memory.ts";
import { TWO_POW_32 } from "./split64.ts";
import { TLB_MASK } from "./tlb.ts";

/**
 * Whether a slot of operation `op` keeps its decoded instruction (CodePage.insns): those `execute` and the CSR
 * and atomic paths run (OP_ILLEGAL, which is also SLOT_EXECUTE, and OP_FENCE..OP_FP). Every other operation's
 * paths take what they need from the slot (`aluRare`, the interpreters' own cases), except a load's or store's
 * slow path, which decodes it again (`slotInsn`).
 */
function keepsInsn(op: number): boolean {
  return op === OP_ILLEGAL || (op >= OP_FENCE && op <= OP_FP);
}

/** The instruction at `off` of a page (its bytes at `base` in `view`), which must not straddle the page's end. */
function decodeAt(view: DataView, base: number, off: number): Insn {
  const low = view.getUint16((base + off) | 0, true);
  if ((low & 3) !== 3) return decode16(low);
  return decode32((low | (view.getUint16((base + off + 2) | 0, true) << 16)) >>> 0);
}

/**
 * Decode the instruction at `off` of a page (its bytes at `base` in `view`) into slot `off >> 1` of `code`, and
 * return the packed word. The page is (re)marked as code first: a store since the page was last cleared may
 * have refilled write-TLB entries for it, which must go before anything decoded from it is used.
 */
function decodeSlot(h: Hart, code: CodePage, view: DataView, base: number, off: number, mem: MemBlock): number {
  const pageIndex = base >>> 12;
  if (!PhysicalMemory.pageHasCode(mem, pageIndex)) h.memory.codePage(mem, pageIndex);
  h.stats.decodes++;
  let w: number;
  if ((view.getUint16((base + off) | 0, true) & 3) === 3 && off + 4 > PAGE_SIZE) {
    w = SLOT_STRADDLE | SLOT_DECODED; // the uncached path fetches both halves through the TLB
  } else {
    const insn = decodeAt(view, base, off);
    if (keepsInsn(insn.op)) code.insns[off >> 1] = insn;
    code.slots[off + 1] = slotImmediate(insn);
    w = packSlot(insn);
  }
  code.slots[off] = w;
  code.count++;
  return w;
}

/**
 * The decoded instruction of the decoded slot at `off` of `code` (its page's bytes at `base` in `view`): the one
 * it keeps (`keepsInsn`), or decoded again and kept.
 */
function slotInsn(code: CodePage, view: DataView, base: number, off: number): Insn {
  const kept = code.insns[off >> 1];
  if (kept !== undefined) return kept;
  const insn = decodeAt(view, base, off);
  code.insns[off >> 1] = insn;
  return insn;
}

/**
 * Unsigned order of two int32 words as signed order: `(a ^ FLIP_SIGN) < (b ^ FLIP_SIGN)` iff `a >>> 0 < b >>> 0`.
 * The high words of BLTU/BGEU compared as `>>> 0` values held in variables became doubles past 2^31, and every
 * register with bit 63 set made JavaScriptCore leave `interpret`'s optimized code (an int32 "Overflow" exit) until
 * it recompiled it; these stay int32.
 */
const FLIP_SIGN = -0x8000_0000;

/**
 * Run from `h.pc`, whose fetch translation the caller has just checked is in `h.itlb`. Returns the number of
 * instructions retired (h.icount is advanced by as much) with h.pc at the next instruction to run. With
 * `heatMask` >= 0, landings of jumps and of taken branches are counted per slot, and a slot whose count has all the
 * mask's bits clear is handed back to `runFast` to be considered for compiling.
 *
 * A taken branch forward inside the page goes on as straight-line code does: its landing is not counted and the
 * limit is not checked. Its target is reached from where control came onto that stretch of code (a landing that
 * was counted, or the page's arrival), so it is neither a loop nor an entry a region needs; and a forward run stays
 * inside the page. Counting every taken branch cost the WebAssembly interpreter ~6% of the project kernel's
 * pty_init phase (mostly forward branches around kobject and sysfs error paths).
 */
export function interpret(h: Hart, limit: number, heatMask: number): number {
  const xlo = h.xlo;
  const xhi = h.xhi;
  // Whether harts on other threads share this hart's RAM (threads/): their doublewords move as one access.
  const shared = h.sharedMemory;
  // The data TLB's arrays (h.dtlb cannot change until an instruction that ends the run).
  const dt = h.dtlb;
  const rlo = dt.rlo;
  const rhi = dt.rhi;
  const roff = dt.roff;
  const rview = dt.rview;
  const wlo = dt.wlo;
  const whi = dt.whi;
  const woff = dt.woff;
  const wview = dt.wview;
  const it = h.itlb;
  let off = h.pc & 4095;
  let vbase = h.pc - off;
  const ti = (h.pc >>> 12) & TLB_MASK;
  const c0 = it.xcode[ti];
  const v0 = it.xview[ti];
  const m0 = it.xblock[ti];
  if (it.xtag[ti] !== vbase || c0 === undefined || v0 === undefined || m0 === undefined) return 0;
  let code = c0;
  let view = v0;
  let mem = m0;
  let slots = c0.slots;
  let heat = c0.heat;
  let heatStart = c0.heatStart;
  let base = (vbase + (it.xdelta[ti] ?? 0)) | 0;
  const counting = heatMask >= 0;
  let n = 0;
  let synced = 0;
  // Every exit leaves through the end of this loop with h.pc set (by the trap, when there was one): a rarely
  // taken exit path of its own would be code JavaScriptCore has never seen run, and reaching it would throw the
  // whole function out of optimized code.
  run: for (;;) {
    const s = off >> 1;
    let w = slots[off] ?? 0;
    if (w === 0) w = decodeSlot(h, code, view, base, off, mem);
    const rd = (w >>> 7) & 31;
    const rs1 = (w >>> 12) & 31;
    const rs2 = (w >>> 17) & 31;
    const len = 2 + ((w >>> 21) & 2);
    const imm = slots[off + 1] ?? 0;
    /** Target of a control transfer, as an offset from `vbase`. */
    let t: number;
    switch (w & 0x7f) {
      case 1: // OP_LUI
        if (rd !== 0) {
          xlo[2 * rd] = imm;
          xhi[2 * rd] = imm >> 31;
        }
        off += len;
        n++;
        continue;
      case 2: // OP_AUIPC
        if (rd !== 0) {
          const v = vbase + off + imm;
          xlo[2 * rd] = v | 0;
          xhi[2 * rd] = Math.floor(v / TWO_POW_32) | 0;
        }
        off += len;
        n++;
        continue;
      case 3: // OP_JAL
        if (rd !== 0) {
          const l = vbase + off + len;
          xlo[2 * rd] = l | 0;
          xhi[2 * rd] = Math.floor(l / TWO_POW_32) | 0;
        }
        n++;
        t = off + imm;
        break;
      case 4: {
        // OP_JALR
        let a = (xhi[2 * rs1] ?? 0) * TWO_POW_32 + ((xlo[2 * rs1] ?? 0) >>> 0) + imm;
        a -= a & 1;
        if (rd !== 0) {
          const l = vbase + off + len;
          xlo[2 * rd] = l | 0;
          xhi[2 * rd] = Math.floor(l / TWO_POW_32) | 0;
        }
        n++;
        t = a - vbase;
        break;
      }
      case 5: // OP_BEQ
        n++;
        if (xlo[2 * rs1] === xlo[2 * rs2] && xhi[2 * rs1] === xhi[2 * rs2]) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      case 6: // OP_BNE
        n++;
        if (xlo[2 * rs1] !== xlo[2 * rs2] || xhi[2 * rs1] !== xhi[2 * rs2]) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      case 7: {
        // OP_BLT
        n++;
        const ahi = xhi[2 * rs1] ?? 0;
        const bhi = xhi[2 * rs2] ?? 0;
        if (ahi < bhi || (ahi === bhi && (xlo[2 * rs1] ?? 0) >>> 0 < (xlo[2 * rs2] ?? 0) >>> 0)) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      }
      case 8: {
        // OP_BGE
        n++;
        const ahi = xhi[2 * rs1] ?? 0;
        const bhi = xhi[2 * rs2] ?? 0;
        if (!(ahi < bhi || (ahi === bhi && (xlo[2 * rs1] ?? 0) >>> 0 < (xlo[2 * rs2] ?? 0) >>> 0))) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      }
      case 9: {
        // OP_BLTU
        n++;
        const ahi = (xhi[2 * rs1] ?? 0) ^ FLIP_SIGN;
        const bhi = (xhi[2 * rs2] ?? 0) ^ FLIP_SIGN;
        if (ahi < bhi || (ahi === bhi && (xlo[2 * rs1] ?? 0) >>> 0 < (xlo[2 * rs2] ?? 0) >>> 0)) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      }
      case 10: {
        // OP_BGEU
        n++;
        const ahi = (xhi[2 * rs1] ?? 0) ^ FLIP_SIGN;
        const bhi = (xhi[2 * rs2] ?? 0) ^ FLIP_SIGN;
        if (!(ahi < bhi || (ahi === bhi && (xlo[2 * rs1] ?? 0) >>> 0 < (xlo[2 * rs2] ?? 0) >>> 0))) {
          if (imm > 0 && off + imm < PAGE_SIZE) {
            off += imm;
            continue;
          }
          t = off + imm;
          break;
        }
        off += len;
        continue;
      }
      case 11: // OP_LB
      case 12: // OP_LH
      case 13: // OP_LW
      case 14: // OP_LD
      case 15: // OP_LBU
      case 16: // OP_LHU
      case 17: {
        // OP_LWU
        const op = w & 0x7f;
        const width = op === 11 || op === 15 ? 1 : op === 12 || op === 16 ? 2 : op === 14 ? 8 : 4;
        // The address as (low, high) words: the TLB probe stays in int32 arithmetic.
        const x = xlo[2 * rs1] ?? 0;
        const lo = (x + imm) | 0;
        const hi = ((((xhi[2 * rs1] ?? 0) + (imm >> 31)) | 0) + (lo >>> 0 < x >>> 0 ? 1 : 0)) | 0;
        const i = (lo >>> 12) & TLB_MASK;
        let v: number;
        let vh = 0;
        const rv = rview[i];
        if (rlo[i] === (lo & (-4096 | (width - 1))) && rhi[i] === hi && rv !== undefined) {
          const o = (lo + (roff[i] ?? 0)) | 0;
          if (width === 1) v = rv.getUint8(o);
          else if (width === 2) v = rv.getUint16(o, true);
          else if (width === 8 && shared) {
            // RAM that harts on other threads share: the doubleword as one access (single-copy atomicity).
            v = loadSharedDoubleword(h, rv, o);
            vh = h.ldHi;
          } else {
            // Words and doublewords read their low word at one call site. With a site of its own, LW's was in
            // some boots first reached after JavaScriptCore had optimized `interpret` (the early boot code it
            // profiled loads doublewords and bytes): ~100 exits there for want of profiling, one of the causes of
            // the optimized code being thrown away and compiled again (bench/emulated-linux-stats.ts counts them).
            v = rv.getInt32(o, true);
            if (width === 8) vh = rv.getInt32(o + 4, true);
          }
        } else {
          h.pc = vbase + off;
          const tinst = transformedInstruction(slotInsn(code, view, base, off));
          v = loadSlow(h, hi * TWO_POW_32 + (lo >>> 0), width, tinst, len);
          if (!h.loadOk) break run;
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
          xlo[2 * rd] = v;
          xhi[2 * rd] = vh;
        }
        off += len;
        n++;
        continue;
      }
      case 18: // OP_SB
      case 19: // OP_SH
      case 20: // OP_SW
      case 21: {
        // OP_SD
        const width = 1 << ((w & 0x7f) - 18);
        const x = xlo[2 * rs1] ?? 0;
        const lo = (x + imm) | 0;
        const hi = ((((xhi[2 * rs1] ?? 0) + (imm >> 31)) | 0) + (lo >>> 0 < x >>> 0 ? 1 : 0)) | 0;
        const i = (lo >>> 12) & TLB_MASK;
        const data = xlo[2 * rs2] ?? 0;
        const wv = wview[i];
        if (wlo[i] === (lo & (-4096 | (width - 1))) && whi[i] === hi && wv !== undefined) {
          const o = (lo + (woff[i] ?? 0)) | 0;
          if (width === 1) wv.setUint8(o, data & 0xff);
          else if (width === 2) wv.setUint16(o, data & 0xffff, true);
          else if (width === 8 && shared) storeSharedDoubleword(h, wv, o, data, xhi[2 * rs2] ?? 0);
          else {
            // One call site for the low word of words and doublewords, as for loads above.
            wv.setInt32(o, data, true);
            if (width === 8) wv.setInt32(o + 4, xhi[2 * rs2] ?? 0, true);
          }
        } else {
          h.pc = vbase + off;
          const tinst = transformedInstruction(slotInsn(code, view, base, off));
          const a = hi * TWO_POW_32 + (lo >>> 0);
          if (!storeSlow(h, a, width, data, xhi[2 * rs2] ?? 0, tinst, len)) break run;
          if (h.kickRequested) {
            // The store touched a watched range (PhysicalMemory.watchWrites): the run ends after it.
            off += len;
            n++;
            h.pc = vbase + off;
            break run;
          }
        }
        off += len;
        n++;
        continue;
      }
      case 22: // OP_ADDI
        if (rd !== 0) {
          // High words: every sum is truncated at once (`| 0`); a three-term int32 sum can overflow int32, which
          // JavaScriptCore's optimized code treats as a speculation failure.
          const a = xlo[2 * rs1] ?? 0;
          const r = (a + imm) | 0;
          xhi[2 * rd] = ((((xhi[2 * rs1] ?? 0) + (imm >> 31)) | 0) + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          xlo[2 * rd] = r;
        }
        off += len;
        n++;
        continue;
      case 25: // OP_XORI
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) ^ (imm >> 31);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) ^ imm;
        }
        off += len;
        n++;
        continue;
      case 26: // OP_ORI
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) | (imm >> 31);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) | imm;
        }
        off += len;
        n++;
        continue;
      case 27: // OP_ANDI
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) & (imm >> 31);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) & imm;
        }
        off += len;
        n++;
        continue;
      case 28: // OP_SLLI
        if (rd !== 0) {
          const sh = imm;
          const lo = xlo[2 * rs1] ?? 0;
          const hi = xhi[2 * rs1] ?? 0;
          if (sh === 0) {
            xlo[2 * rd] = lo;
            xhi[2 * rd] = hi;
          } else if (sh < 32) {
            xhi[2 * rd] = (hi << sh) | (lo >>> (32 - sh));
            xlo[2 * rd] = lo << sh;
          } else {
            xhi[2 * rd] = lo << (sh - 32);
            xlo[2 * rd] = 0;
          }
        }
        off += len;
        n++;
        continue;
      case 29: // OP_SRLI
      case 30: {
        // OP_SRAI
        if (rd !== 0) {
          const sh = imm;
          const lo = xlo[2 * rs1] ?? 0;
          const hi = xhi[2 * rs1] ?? 0;
          const arith = (w & 0x7f) === 30;
          if (sh === 0) {
            xlo[2 * rd] = lo;
            xhi[2 * rd] = hi;
          } else if (sh < 32) {
            xlo[2 * rd] = (lo >>> sh) | (hi << (32 - sh));
            // (`| 0`: a uint32 result above 2^31 would not be an int32 to JavaScriptCore and leave optimized code.)
            xhi[2 * rd] = arith ? hi >> sh : (hi >>> sh) | 0;
          } else {
            xlo[2 * rd] = arith ? hi >> (sh - 32) : (hi >>> (sh - 32)) | 0;
            xhi[2 * rd] = arith ? hi >> 31 : 0;
          }
        }
        off += len;
        n++;
        continue;
      }
      case 31: // OP_ADD
        if (rd !== 0) {
          const a = xlo[2 * rs1] ?? 0;
          const r = (a + (xlo[2 * rs2] ?? 0)) | 0;
          xhi[2 * rd] = ((((xhi[2 * rs1] ?? 0) + (xhi[2 * rs2] ?? 0)) | 0) + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          xlo[2 * rd] = r;
        }
        off += len;
        n++;
        continue;
      case 32: // OP_SUB
        if (rd !== 0) {
          const a = xlo[2 * rs1] ?? 0;
          const b = xlo[2 * rs2] ?? 0;
          xhi[2 * rd] = ((((xhi[2 * rs1] ?? 0) - (xhi[2 * rs2] ?? 0)) | 0) - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
          xlo[2 * rd] = (a - b) | 0;
        }
        off += len;
        n++;
        continue;
      case 36: // OP_XOR
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) ^ (xhi[2 * rs2] ?? 0);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) ^ (xlo[2 * rs2] ?? 0);
        }
        off += len;
        n++;
        continue;
      case 39: // OP_OR
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) | (xhi[2 * rs2] ?? 0);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) | (xlo[2 * rs2] ?? 0);
        }
        off += len;
        n++;
        continue;
      case 40: // OP_AND
        if (rd !== 0) {
          xhi[2 * rd] = (xhi[2 * rs1] ?? 0) & (xhi[2 * rs2] ?? 0);
          xlo[2 * rd] = (xlo[2 * rs1] ?? 0) & (xlo[2 * rs2] ?? 0);
        }
        off += len;
        n++;
        continue;
      case 41: // OP_ADDIW
        if (rd !== 0) {
          const v = ((xlo[2 * rs1] ?? 0) + imm) | 0;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 42: // OP_SLLIW
        if (rd !== 0) {
          const v = (xlo[2 * rs1] ?? 0) << imm;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 43: // OP_SRLIW
        if (rd !== 0) {
          const v = ((xlo[2 * rs1] ?? 0) >>> imm) | 0;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 44: // OP_SRAIW
        if (rd !== 0) {
          const v = (xlo[2 * rs1] ?? 0) >> imm;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 45: // OP_ADDW
        if (rd !== 0) {
          const v = ((xlo[2 * rs1] ?? 0) + (xlo[2 * rs2] ?? 0)) | 0;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 46: // OP_SUBW
        if (rd !== 0) {
          const v = ((xlo[2 * rs1] ?? 0) - (xlo[2 * rs2] ?? 0)) | 0;
          xlo[2 * rd] = v;
          xhi[2 * rd] = v >> 31;
        }
        off += len;
        n++;
        continue;
      case 63: // OP_FENCE
        off += len;
        n++;
        // (PAUSE hints run through `execute`: see SLOT_EXECUTE.)
        continue;
      case 23: // OP_SLTI
      case 24: // OP_SLTIU
      case 33: // OP_SLL
      case 34: // OP_SLT
      case 35: // OP_SLTU
      case 37: // OP_SRL
      case 38: // OP_SRA
      case 47: // OP_SLLW
      case 48: // OP_SRLW
      case 49: // OP_SRAW
      case 50: // OP_MUL
      case 51: // OP_MULH
      case 52: // OP_MULHSU
      case 53: // OP_MULHU
      case 54: // OP_DIV
      case 55: // OP_DIVU
      case 56: // OP_REM
      case 57: // OP_REMU
      case 58: // OP_MULW
      case 59: // OP_DIVW
      case 60: // OP_DIVUW
      case 61: // OP_REMW
      case 62: // OP_REMUW
      case 88: // OP_SHADD
      case 89: // OP_SHADD_UW
      case 90: // OP_SLLI_UW
      case 91: // OP_ANDN
      case 92: // OP_ORN
      case 93: // OP_XNOR
      case 94: // OP_CLZ
      case 95: // OP_CTZ
      case 96: // OP_CPOP
      case 97: // OP_CLZW
      case 98: // OP_CTZW
      case 99: // OP_CPOPW
      case 100: // OP_MAX
      case 101: // OP_MAXU
      case 102: // OP_MIN
      case 103: // OP_MINU
      case 104: // OP_SEXT
      case 105: // OP_ZEXT_H
      case 106: // OP_ROL
      case 107: // OP_ROR
      case 108: // OP_RORI
      case 109: // OP_ROLW
      case 110: // OP_RORW
      case 111: // OP_RORIW
      case 112: // OP_ORC_B
      case 113: // OP_REV8
      case 114: // OP_CLMUL
      case 115: // OP_CLMULH
      case 116: // OP_CLMULR
      case 117: // OP_BCLR
      case 118: // OP_BEXT
      case 119: // OP_BINV
      case 120: // OP_BSET
      case 121: // OP_BCLRI
      case 122: // OP_BEXTI
      case 123: // OP_BINVI
      case 124: // OP_BSETI
        // About 1% of Linux's instructions: out of line, so this function stays small. The bit-manipulation
        // extensions share this block: Linux runs Zbb code only after patching its alternatives, late in a boot,
        // and a call site of their own would not have run when JavaScriptCore compiled this function, which then
        // left its optimized code at every such instruction until it was compiled again.
        if (rd !== 0) aluRare(xlo, xhi, w & 0x7f, rd, rs1, rs2, imm);
        off += len;
        n++;
        continue;
      case 126: // SLOT_COMPILED: runFast runs the compiled block
      case 125: // SLOT_STRADDLE: runFast runs it uncached
        h.pc = vbase + off;
        break run;
      case 127: // SLOT_PAGE_END: sequential execution continues on the next page
        t = off;
        break;
      default: {
        // Everything else: atomics through the TLB when it can serve them, else the reference semantics with
        // the pc and the instruction count written back first.
        const d = code.insns[s];
        if (d === undefined) {
          h.pc = vbase + off;
          break run;
        }
        if ((d.op === 79 || d.op === 80) && atomicFast(h, d)) {
          off += len;
          n++;
          continue;
        }
        h.pc = vbase + off;
        h.icount += n - synced;
        synced = n;
        // CSR instructions (the commonest here) skip `execute`'s dispatch, a chain of comparisons.
        const op = w & 0x7f;
        const r = op >= 73 && op <= 78 ? execCsr(h, d) : execute(h, d); // OP_CSRRW..OP_CSRRCI
        if (r === EXEC_TRAP) break run;
        n++;
        h.icount++;
        synced = n;
        // Anything that may have changed translation, privilege or interrupt state ends the run (EXEC_END), as does
        // a store into a watched range (an AMO: PhysicalMemory.watchWrites).
        if (r === EXEC_END || h.kickRequested) break run;
        off += len;
        continue;
      }
    }
    // A control transfer to vbase + t. The instruction limit is checked here rather than per instruction: a
    // straight run stays inside one page, so it overshoots by at most a page of instructions.
    if (n >= limit) {
      h.pc = vbase + t;
      break;
    }
    if (t >= 0 && t < PAGE_SIZE) {
      // `| 0`: t is a double after JALR, and one double assignment would make `off` a double for the whole
      // function in JavaScriptCore's optimized code (a conversion on every instruction).
      off = t | 0;
    } else {
      const npc = vbase + t;
      const no = npc & 4095;
      const nbase = npc - no;
      const i = (npc >>> 12) & TLB_MASK;
      const c = it.xcode[i];
      const v = it.xview[i];
      const m = it.xblock[i];
      if (it.xtag[i] !== nbase || c === undefined || v === undefined || m === undefined) {
        h.pc = npc;
        break;
      }
      vbase = nbase;
      off = no;
      code = c;
      view = v;
      mem = m;
      slots = c.slots;
      heat = c.heat;
      heatStart = c.heatStart;
      base = (nbase + (it.xdelta[i] ?? 0)) | 0;
    }
    if (counting) {
      // Heat: how often control lands here, and since when. A landing at a checkpoint is left to runFast,
      // which counts it and considers compiling.
      const hs = off >> 1;
      const hv = (heat[hs] ?? 0) + 1;
      if ((hv & heatMask) === 0) {
        h.pc = vbase + off;
        break;
      }
      heat[hs] = hv;
      if (hv === 1) heatStart[hs] = h.icount + (n - synced);
    }
  }
  h.icount += n - synced;
  return n;
}

/**
 * The integer operations `interpret` leaves out of its own switch (set-less-than, shifts by a register, the M
 * extension, the bit-manipulation extensions), with the same semantics as `execute`; rd is not x0.
 */
function aluRare(
  xlo: Int32Array,
  xhi: Int32Array,
  op: number,
  rd: number,
  rs1: number,
  rs2: number,
  imm: number,
): void {
  const alo = xlo[2 * rs1] ?? 0;
  const ahi = xhi[2 * rs1] ?? 0;
  const blo = xlo[2 * rs2] ?? 0;
  const bhi = xhi[2 * rs2] ?? 0;
  let lo: number;
  let hi: number;
  switch (op) {
    case 23: // OP_SLTI
      lo = ahi < imm >> 31 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
      hi = 0;
      break;
    case 24: // OP_SLTIU
      lo = ahi >>> 0 < (imm >> 31) >>> 0 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
      hi = 0;
      break;
    case 34: // OP_SLT
      lo = ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
      hi = 0;
      break;
    case 35: // OP_SLTU
      lo = ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
      hi = 0;
      break;
    case 33: {
      // OP_SLL
      const sh = blo & 63;
      if (sh === 0) {
        lo = alo;
        hi = ahi;
      } else if (sh < 32) {
        hi = (ahi << sh) | (alo >>> (32 - sh));
        lo = alo << sh;
      } else {
        hi = alo << (sh - 32);
        lo = 0;
      }
      break;
    }
    case 37: // OP_SRL
    case 38: {
      // OP_SRA
      const sh = blo & 63;
      const arith = op === 38;
      if (sh === 0) {
        lo = alo;
        hi = ahi;
      } else if (sh < 32) {
        lo = (alo >>> sh) | (ahi << (32 - sh));
        hi = arith ? ahi >> sh : (ahi >>> sh) | 0;
      } else {
        lo = arith ? ahi >> (sh - 32) : (ahi >>> (sh - 32)) | 0;
        hi = arith ? ahi >> 31 : 0;
      }
      break;
    }
    case 47: // OP_SLLW
      lo = alo << (blo & 31);
      hi = lo >> 31;
      break;
    case 48: // OP_SRLW
      lo = (alo >>> (blo & 31)) | 0;
      hi = lo >> 31;
      break;
    case 49: // OP_SRAW
      lo = alo >> (blo & 31);
      hi = lo >> 31;
      break;
    case 58: // OP_MULW
      lo = Math.imul(alo, blo);
      hi = lo >> 31;
      break;
    case 59: // OP_DIVW
    case 61: // OP_REMW
      lo = div32(alo, blo, op === 61);
      hi = lo >> 31;
      break;
    case 60: // OP_DIVUW
    case 62: // OP_REMUW
      lo = divu32(alo, blo, op === 62);
      hi = lo >> 31;
      break;
    default:
      if (op >= 88) {
        // The bit-manipulation extensions (bitmanip.ts).
        bitmanip(op, alo, ahi, blo, bhi, imm);
        lo = out[0] ?? 0;
        hi = out[1] ?? 0;
        break;
      }
      // OP_MUL..OP_REMU: 64-bit, through the shared helpers.
      if (op === 50) mul64(alo, ahi, blo, bhi);
      else if (op === 51) mulh64(alo, ahi, blo, bhi);
      else if (op === 52) mulhsu64(alo, ahi, blo, bhi);
      else if (op === 53) mulhu64(alo, ahi, blo, bhi);
      else if (op === 54 || op === 56) div64(alo, ahi, blo, bhi, op === 56);
      else divu64(alo, ahi, blo, bhi, op === 57);
      lo = out[0] ?? 0;
      hi = out[1] ?? 0;
  }
  xlo[2 * rd] = lo;
  xhi[2 * rd] = hi;
}

/**
 * LR/SC/AMO through the data TLB. An aligned atomic on a page with a write entry (AMO, SC) or a read entry (LR)
 * works on the RAM view directly: such entries exist only for RAM pages that the current context may write (with
 * D already set) or read, and write entries never cover a page holding decoded code — everything
 * `atomicAddress` (memory-slow.ts) checks. Returns false, having changed nothing, when the TLB cannot serve the access; the
 * caller then runs `execute`, which translates, checks and raises as the reference interpreter does.
 */
export function atomicFast(h: Hart, d: Insn): boolean {
  const width = d.op === 79 ? 4 : 8; // OP_AMO_W : OP_AMO_D
  const xlo = h.xlo;
  const xhi = h.xhi;
  const lo = xlo[2 * d.rs1] ?? 0;
  const hi = xhi[2 * d.rs1] ?? 0;
  const pageOff = lo & 4095;
  const probe = lo & (-4096 | (width - 1)); // misaligned never matches: the slow path raises the fault
  const dt = h.dtlb;
  const i = (lo >>> 12) & TLB_MASK;
  const funct5 = d.aux;
  const rd = d.rd;
  if (h.sharedMemory) return false; // threads/atomics.ts, through execute's path
  if (funct5 === AMO_LR) {
    const view = dt.rview[i];
    if (dt.rlo[i] !== probe || dt.rhi[i] !== hi || view === undefined) return false;
    const o = (lo + (dt.roff[i] ?? 0)) | 0;
    const vlo = view.getInt32(o, true);
    const vhi = width === 4 ? vlo >> 31 : view.getInt32(o + 4, true);
    h.reservationValid = true;
    h.reservationAddr = (dt.rpage[i] ?? 0) + pageOff;
    if (rd !== 0) {
      xlo[2 * rd] = vlo;
      xhi[2 * rd] = vhi;
    }
    return true;
  }
  const view = dt.wview[i];
  if (dt.wlo[i] !== probe || dt.whi[i] !== hi || view === undefined) return false;
  const o = (lo + (dt.woff[i] ?? 0)) | 0;
  const pa = (dt.wpage[i] ?? 0) + pageOff;
  const srcLo = xlo[2 * d.rs2] ?? 0;
  const srcHi = xhi[2 * d.rs2] ?? 0;
  if (funct5 === AMO_SC) {
    const ok = h.reservationValid && h.reservationAddr === pa;
    h.reservationValid = false;
    if (ok) {
      view.setInt32(o, srcLo, true);
      if (width === 8) view.setInt32(o + 4, srcHi, true);
    }
    if (rd !== 0) {
      xlo[2 * rd] = ok ? 0 : 1;
      xhi[2 * rd] = 0;
    }
    return true;
  }
  const oldLo = view.getInt32(o, true);
  const oldHi = width === 4 ? oldLo >> 31 : view.getInt32(o + 4, true);
  amoResult(funct5, width, oldLo, oldHi, srcLo, srcHi);
  view.setInt32(o, out[0] ?? 0, true);
  if (width === 8) view.setInt32(o + 4, out[1] ?? 0, true);
  if (rd !== 0) {
    xlo[2 * rd] = oldLo;
    xhi[2 * rd] = oldHi;
  }
  return true;
}

/** What `stepSlot` did: retired the instruction and the run goes on after it. */
export const STEP_NEXT = 0;
/** Retired the instruction, and the run must end (h.pc is where to continue: the instruction ended it). */
export const STEP_END = 1;
/** Retired nothing, and the run must end at h.pc (a trap was taken, or the run loop must run this slot). */
export const STEP_STOP = 2;

/** The most slots `decodeSlotAt` decodes in one call. */
const DECODE_AHEAD_SLOTS = 16;

/**
 * Decode slot `off >> 1` of the page at virtual address `vbase`, which the fetch TLB maps (the WebAssembly
 * interpreter only runs pages it found there), and return its packed word. The slots after it up to the next
 * branch or jump (at most DECODE_AHEAD_SLOTS, not past one already decoded or the page's end) are decoded too:
 * straight-line code runs on into them, and each decode asked for is a call from WebAssembly into TypeScript
 * (~112 k in the project kernel's boot, most in runs of a few instructions). Decoding has no effect but the cache
 * (a page's first decode marks it as code, so a later write to it drops what was decoded).
 */
export function decodeSlotAt(h: Hart, vbase: number, off: number): number {
  const it = h.itlb;
  const i = (vbase >>> 12) & TLB_MASK;
  const code = it.xcode[i];
  const view = it.xview[i];
  const mem = it.xblock[i];
  if (it.xtag[i] !== vbase || code === undefined || view === undefined || mem === undefined) return 0;
  const base = (vbase + (it.xdelta[i] ?? 0)) | 0;
  const w = decodeSlot(h, code, view, base, off, mem);
  let next = w;
  let at = off;
  const slots = code.slots;
  for (let k = 1; k < DECODE_AHEAD_SLOTS; k++) {
    const op = next & SLOT_OP_MASK;
    // OP_JAL..OP_BGEU end the straight line; so do a straddling slot and the page's end.
    if ((op >= OP_JAL && op <= OP_BGEU) || op === SLOT_STRADDLE) break;
    at += 2 + ((next >>> 21) & 2);
    if (at >= PAGE_SIZE || (slots[at] ?? 1) !== 0) break;
    next = decodeSlot(h, code, view, base, at, mem);
  }
  return w;
}

/**
 * Run the decoded instruction at `off` of the page at `vbase` (mapped by the fetch TLB, decoded) that the
 * WebAssembly interpreter leaves to TypeScript: a load or store its TLB copy did not serve, an operation it has
 * no code for (the M extension's high multiplies and divisions, the bit-manipulation extensions), or anything
 * `execute` does. `h.icount` must count every instruction before this one. Returns STEP_*; with STEP_END and
 * STEP_STOP h.pc is where the run ends.
 */
export function stepSlot(h: Hart, vbase: number, off: number): number {
  const code = h.itlb.xcode[(vbase >>> 12) & TLB_MASK];
  h.pc = vbase + off;
  if (code === undefined) return STEP_STOP;
  const s = off >> 1;
  const w = code.slots[off] ?? 0;
  const op = w & 0x7f;
  const rd = (w >>> 7) & 31;
  const rs1 = (w >>> 12) & 31;
  const rs2 = (w >>> 17) & 31;
  const len = 2 + ((w >>> 21) & 2);
  const imm = code.slots[off + 1] ?? 0;
  const xlo = h.xlo;
  const xhi = h.xhi;
  if (w === 0 || op >= 125) return STEP_STOP; // undecoded, straddling, compiled: the run loop's
  if (op >= 11 && op <= 21) {
    // OP_LB..OP_SD, the TLB did not serve: the slow paths translate (and trap) as `interpret`'s do.
    const a = (xhi[2 * rs1] ?? 0) * TWO_POW_32 + ((xlo[2 * rs1] ?? 0) >>> 0) + imm;
    const it = h.itlb;
    const i = (vbase >>> 12) & TLB_MASK;
    const view = it.xview[i];
    if (view === undefined) return STEP_STOP;
    const tinst = transformedInstruction(slotInsn(code, view, (vbase + (it.xdelta[i] ?? 0)) | 0, off));
    if (op >= 18) {
      if (!storeSlow(h, a, 1 << (op - 18), xlo[2 * rs2] ?? 0, xhi[2 * rs2] ?? 0, tinst, len)) return STEP_STOP;
    } else {
      let v = loadSlow(h, a, loadWidth(op), tinst, len);
      if (!h.loadOk) return STEP_STOP;
      let vh = h.ldHi;
      if (op === 11) v = (v << 24) >> 24;
      else if (op === 12) v = (v << 16) >> 16;
      if (op <= 13) vh = v >> 31;
      else if (op !== 14) vh = 0;
      if (rd !== 0) {
        xlo[2 * rd] = v;
        xhi[2 * rd] = vh;
      }
    }
    h.pc = vbase + off + len;
    return STEP_NEXT;
  }
  if ((op >= 23 && op <= 62 && op !== 31 && op !== 32 && op !== 36 && op !== 39 && op !== 40) || op >= 88) {
    // (ADD, SUB, XOR, OR and AND are not `aluRare`'s, and the WebAssembly interpreter does them itself.)
    if (rd !== 0) aluRare(xlo, xhi, op, rd, rs1, rs2, imm);
    h.pc = vbase + off + len;
    return STEP_NEXT;
  }
  const d = code.insns[s];
  if (d === undefined) return STEP_STOP; // (every other operation keeps its instruction: `keepsInsn`)
  if ((d.op === 79 || d.op === 80) && atomicFast(h, d)) {
    h.pc = vbase + off + len;
    return STEP_NEXT;
  }
  const r = op >= 73 && op <= 78 ? execCsr(h, d) : execute(h, d); // OP_CSRRW..OP_CSRRCI
  if (r === EXEC_TRAP) return STEP_STOP;
  // (A jump or branch is never left to this function; were one, its target is in h.pc, not after it.)
  return r === EXEC_END || op <= 10 ? STEP_END : STEP_NEXT;
}
