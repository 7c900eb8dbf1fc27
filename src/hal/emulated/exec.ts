/**
 * Instruction semantics: `execute(hart, insn)` runs one decoded instruction. This is the plain, obviously
 * correct implementation that both the reference interpreter and the block interpreter use; the compiled
 * blocks (`jit.ts`) re-implement the common instructions and fall back to this for the rest, and a differential
 * test checks them against each other.
 *
 * Every path sets `hart.pc`: to the next instruction, to a jump target, or (through a trap) to the handler.
 * Returns EXEC_NEXT / EXEC_END when the instruction retired, EXEC_TRAP when it did not.
 */

import {
  CSR_MIP,
  HSTATUS_HU,
  HSTATUS_VTSR,
  HSTATUS_VTVM,
  HSTATUS_VTW,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
} from "../../arch/riscv64/csr.ts";
import {
  AMO_ADD,
  AMO_AND,
  AMO_LR,
  AMO_MAX,
  AMO_MIN,
  AMO_MINU,
  AMO_OR,
  AMO_SC,
  AMO_SWAP,
  AMO_XOR,
  OPC_AMO,
  OPC_LOAD,
  OPC_LOAD_FP,
  OPC_STORE,
  OPC_STORE_FP,
  OPC_SYSTEM,
  OPCODE_MASK,
  TINST_32_BIT,
} from "../../arch/riscv64/isa.ts";
import {
  CAUSE_BREAKPOINT,
  CAUSE_MACHINE_ECALL,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_SUPERVISOR_ECALL,
  CAUSE_USER_ECALL,
  CAUSE_VIRTUAL_SUPERVISOR_ECALL,
  MIP_SEIP,
  PRV_M,
  PRV_S,
  PRV_U,
} from "../../arch/riscv64/traps.ts";
import { div32, div64, divu32, divu64, mul64, mulh64, mulhsu64, mulhu64, out, sll64 } from "./alu.ts";
import { bitmanip } from "./bitmanip.ts";
import { csrCheck, substitute } from "./csr-access.ts";
import { csrWriteEndsRun } from "./csr-effects.ts";
import { csrRead, csrWrite } from "./csr-file.ts";
import type { Insn } from "./decode.ts";
import * as D from "./decode.ts";
import { execFp, FP_ILLEGAL } from "./fp-bridge.ts";
import { EXEC_END, EXEC_NEXT, EXEC_TRAP, type Hart, pauseHint, STOP_HALT } from "./hart.ts";
import { wakeupPending } from "./interrupts.ts";
import {
  atomicAddress,
  hypervisorAddress,
  loadSharedDoubleword,
  loadSlow,
  physRead,
  physWrite,
  storeSharedDoubleword,
  storeSlow,
} from "./memory-slow.ts";
import { ACCESS_READ, ACCESS_WRITE } from "./mmu.ts";
import { answerSbiConsole } from "./sbi-console.ts";
import { TWO_POW_32 } from "./split64.ts";
import { atomicLoad, atomicOld, atomicReadModifyWrite, atomicStoreConditional } from "./threads/atomics.ts";
import { TLB_MASK } from "./tlb.ts";
import { illegal, mret, raise, sret, virtualInstruction, vsret } from "./trap.ts";

/** The transformed instruction (htinst/mtinst) of a load, store, AMO or HLV/HSV, per the H extension. */
export function transformedInstruction(insn: Insn): number {
  const bits = insn.bits;
  const opcode = bits & OPCODE_MASK;
  let t: number;
  if (opcode === OPC_LOAD || opcode === OPC_LOAD_FP)
    t = bits & 0x00007fff; // loads: opcode, rd, funct3
  else if (opcode === OPC_STORE || opcode === OPC_STORE_FP)
    t = bits & 0x01f0707f; // stores: opcode, funct3, rs2
  else if (opcode === OPC_AMO || opcode === OPC_SYSTEM)
    t = bits & ~(31 << 15); // AMO, HLV/HSV: all but rs1
  else return 0;
  // A compressed instruction is reported as its 32-bit expansion with bit 1 cleared.
  return (insn.len === 2 ? t & ~TINST_32_BIT : t) >>> 0;
}

function setReg(h: Hart, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    h.xlo[2 * rd] = lo;
    h.xhi[2 * rd] = hi;
  }
}

function setRegSext32(h: Hart, rd: number, v: number): void {
  if (rd !== 0) {
    h.xlo[2 * rd] = v;
    h.xhi[2 * rd] = v >> 31;
  }
}

function regNum(h: Hart, r: number): number {
  return (h.xhi[2 * r] ?? 0) * TWO_POW_32 + ((h.xlo[2 * r] ?? 0) >>> 0);
}

function lt(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0);
}

function ltu(alo: number, ahi: number, blo: number, bhi: number): boolean {
  const ah = ahi >>> 0;
  const bh = bhi >>> 0;
  return ah < bh || (ah === bh && alo >>> 0 < blo >>> 0);
}

function srl64(lo: number, hi: number, s: number): void {
  if (s === 0) {
    out[0] = lo;
    out[1] = hi;
  } else if (s < 32) {
    out[0] = (lo >>> s) | (hi << (32 - s));
    out[1] = hi >>> s;
  } else {
    out[0] = hi >>> (s - 32);
    out[1] = 0;
  }
}

function sra64(lo: number, hi: number, s: number): void {
  if (s === 0) {
    out[0] = lo;
    out[1] = hi;
  } else if (s < 32) {
    out[0] = (lo >>> s) | (hi << (32 - s));
    out[1] = hi >> s;
  } else {
    out[0] = hi >> (s - 32);
    out[1] = hi >> 31;
  }
}

/** Load `width` bytes at `a` through the TLB (fast) or the slow path. Returns undefined if not retired. */
function load(h: Hart, a: number, width: number, d: Insn): number | undefined {
  const t = h.dtlb;
  const alo = a | 0;
  const i = (alo >>> 12) & TLB_MASK;
  if (t.rlo[i] === (alo & (-4096 | (width - 1))) && t.rhi[i] === (Math.floor(a / TWO_POW_32) | 0)) {
    const view = t.rview[i];
    const off = (alo + (t.roff[i] ?? 0)) | 0;
    if (view !== undefined) {
      switch (width) {
        case 1:
          h.ldHi = 0;
          return view.getUint8(off);
        case 2:
          h.ldHi = 0;
          return view.getUint16(off, true);
        case 4:
          h.ldHi = 0;
          return view.getInt32(off, true);
        default:
          // RAM that harts on other threads share: the doubleword as one access (RVWMO single-copy atomicity).
          if (h.sharedMemory) return loadSharedDoubleword(h, view, off);
          h.ldHi = view.getInt32(off + 4, true);
          return view.getInt32(off, true);
      }
    }
  }
  const v = loadSlow(h, a, width, transformedInstruction(d), d.len);
  return h.loadOk ? v : undefined;
}

function store(h: Hart, a: number, width: number, lo: number, hi: number, d: Insn): boolean {
  const t = h.dtlb;
  const alo = a | 0;
  const i = (alo >>> 12) & TLB_MASK;
  if (t.wlo[i] === (alo & (-4096 | (width - 1))) && t.whi[i] === (Math.floor(a / TWO_POW_32) | 0)) {
    const view = t.wview[i];
    const off = (alo + (t.woff[i] ?? 0)) | 0;
    if (view !== undefined) {
      switch (width) {
        case 1:
          view.setUint8(off, lo & 0xff);
          return true;
        case 2:
          view.setUint16(off, lo & 0xffff, true);
          return true;
        case 4:
          view.setInt32(off, lo, true);
          return true;
        default:
          if (h.sharedMemory) storeSharedDoubleword(h, view, off, lo, hi);
          else {
            view.setInt32(off, lo, true);
            view.setInt32(off + 4, hi, true);
          }
          return true;
      }
    }
  }
  return storeSlow(h, a, width, lo, hi, transformedInstruction(d), d.len);
}

/** Execute one decoded instruction. */
export function execute(h: Hart, d: Insn): number {
  const xlo = h.xlo;
  const xhi = h.xhi;
  const rd = d.rd;
  const rs1 = d.rs1;
  const rs2 = d.rs2;
  const imm = d.imm;
  const a1lo = xlo[2 * rs1] ?? 0;
  const a1hi = xhi[2 * rs1] ?? 0;
  const a2lo = xlo[2 * rs2] ?? 0;
  const a2hi = xhi[2 * rs2] ?? 0;
  switch (d.op) {
    case D.OP_LUI:
      setRegSext32(h, rd, imm);
      break;
    case D.OP_AUIPC: {
      const v = h.pc + imm;
      setReg(h, rd, v | 0, Math.floor(v / TWO_POW_32) | 0);
      break;
    }
    case D.OP_JAL: {
      const link = h.pc + d.len;
      setReg(h, rd, link | 0, Math.floor(link / TWO_POW_32) | 0);
      h.pc += imm;
      return EXEC_END;
    }
    case D.OP_JALR: {
      let target = a1hi * TWO_POW_32 + (a1lo >>> 0) + imm;
      target -= target & 1;
      const link = h.pc + d.len;
      setReg(h, rd, link | 0, Math.floor(link / TWO_POW_32) | 0);
      h.pc = target;
      return EXEC_END;
    }
    case D.OP_BEQ:
      h.pc += a1lo === a2lo && a1hi === a2hi ? imm : d.len;
      return EXEC_END;
    case D.OP_BNE:
      h.pc += a1lo !== a2lo || a1hi !== a2hi ? imm : d.len;
      return EXEC_END;
    case D.OP_BLT:
      h.pc += lt(a1lo, a1hi, a2lo, a2hi) ? imm : d.len;
      return EXEC_END;
    case D.OP_BGE:
      h.pc += !lt(a1lo, a1hi, a2lo, a2hi) ? imm : d.len;
      return EXEC_END;
    case D.OP_BLTU:
      h.pc += ltu(a1lo, a1hi, a2lo, a2hi) ? imm : d.len;
      return EXEC_END;
    case D.OP_BGEU:
      h.pc += !ltu(a1lo, a1hi, a2lo, a2hi) ? imm : d.len;
      return EXEC_END;
    case D.OP_LB:
    case D.OP_LH:
    case D.OP_LW:
    case D.OP_LD:
    case D.OP_LBU:
    case D.OP_LHU:
    case D.OP_LWU: {
      const width = LOAD_WIDTH[d.op - D.OP_LB] ?? 1;
      const v = load(h, a1hi * TWO_POW_32 + (a1lo >>> 0) + imm, width, d);
      if (v === undefined) return EXEC_TRAP;
      switch (d.op) {
        case D.OP_LB:
          setRegSext32(h, rd, (v << 24) >> 24);
          break;
        case D.OP_LH:
          setRegSext32(h, rd, (v << 16) >> 16);
          break;
        case D.OP_LW:
          setRegSext32(h, rd, v);
          break;
        case D.OP_LD:
          setReg(h, rd, v, h.ldHi);
          break;
        default:
          setReg(h, rd, v, 0);
      }
      break;
    }
    case D.OP_SB:
    case D.OP_SH:
    case D.OP_SW:
    case D.OP_SD: {
      const width = 1 << (d.op - D.OP_SB);
      if (!store(h, a1hi * TWO_POW_32 + (a1lo >>> 0) + imm, width, a2lo, a2hi, d)) return EXEC_TRAP;
      break;
    }
    case D.OP_ADDI: {
      const lo = (a1lo + imm) | 0;
      setReg(h, rd, lo, (a1hi + (imm >> 31) + (lo >>> 0 < a1lo >>> 0 ? 1 : 0)) | 0);
      break;
    }
    case D.OP_SLTI:
      setReg(h, rd, lt(a1lo, a1hi, imm, imm >> 31) ? 1 : 0, 0);
      break;
    case D.OP_SLTIU:
      setReg(h, rd, ltu(a1lo, a1hi, imm, imm >> 31) ? 1 : 0, 0);
      break;
    case D.OP_XORI:
      setReg(h, rd, a1lo ^ imm, a1hi ^ (imm >> 31));
      break;
    case D.OP_ORI:
      setReg(h, rd, a1lo | imm, a1hi | (imm >> 31));
      break;
    case D.OP_ANDI:
      setReg(h, rd, a1lo & imm, a1hi & (imm >> 31));
      break;
    case D.OP_SLLI:
      sll64(a1lo, a1hi, imm);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_SRLI:
      srl64(a1lo, a1hi, imm);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_SRAI:
      sra64(a1lo, a1hi, imm);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_ADD: {
      const lo = (a1lo + a2lo) | 0;
      setReg(h, rd, lo, (a1hi + a2hi + (lo >>> 0 < a1lo >>> 0 ? 1 : 0)) | 0);
      break;
    }
    case D.OP_SUB: {
      const lo = (a1lo - a2lo) | 0;
      setReg(h, rd, lo, (a1hi - a2hi - (a1lo >>> 0 < a2lo >>> 0 ? 1 : 0)) | 0);
      break;
    }
    case D.OP_SLL:
      sll64(a1lo, a1hi, a2lo & 63);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_SLT:
      setReg(h, rd, lt(a1lo, a1hi, a2lo, a2hi) ? 1 : 0, 0);
      break;
    case D.OP_SLTU:
      setReg(h, rd, ltu(a1lo, a1hi, a2lo, a2hi) ? 1 : 0, 0);
      break;
    case D.OP_XOR:
      setReg(h, rd, a1lo ^ a2lo, a1hi ^ a2hi);
      break;
    case D.OP_SRL:
      srl64(a1lo, a1hi, a2lo & 63);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_SRA:
      sra64(a1lo, a1hi, a2lo & 63);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_OR:
      setReg(h, rd, a1lo | a2lo, a1hi | a2hi);
      break;
    case D.OP_AND:
      setReg(h, rd, a1lo & a2lo, a1hi & a2hi);
      break;
    case D.OP_ADDIW:
      setRegSext32(h, rd, (a1lo + imm) | 0);
      break;
    case D.OP_SLLIW:
      setRegSext32(h, rd, a1lo << imm);
      break;
    case D.OP_SRLIW:
      setRegSext32(h, rd, (a1lo >>> imm) | 0);
      break;
    case D.OP_SRAIW:
      setRegSext32(h, rd, a1lo >> imm);
      break;
    case D.OP_ADDW:
      setRegSext32(h, rd, (a1lo + a2lo) | 0);
      break;
    case D.OP_SUBW:
      setRegSext32(h, rd, (a1lo - a2lo) | 0);
      break;
    case D.OP_SLLW:
      setRegSext32(h, rd, a1lo << (a2lo & 31));
      break;
    case D.OP_SRLW:
      setRegSext32(h, rd, (a1lo >>> (a2lo & 31)) | 0);
      break;
    case D.OP_SRAW:
      setRegSext32(h, rd, a1lo >> (a2lo & 31));
      break;
    case D.OP_MUL:
      mul64(a1lo, a1hi, a2lo, a2hi);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_MULH:
      mulh64(a1lo, a1hi, a2lo, a2hi);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_MULHSU:
      mulhsu64(a1lo, a1hi, a2lo, a2hi);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_MULHU:
      mulhu64(a1lo, a1hi, a2lo, a2hi);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_DIV:
    case D.OP_REM:
      div64(a1lo, a1hi, a2lo, a2hi, d.op === D.OP_REM);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_DIVU:
    case D.OP_REMU:
      divu64(a1lo, a1hi, a2lo, a2hi, d.op === D.OP_REMU);
      setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
      break;
    case D.OP_MULW:
      setRegSext32(h, rd, Math.imul(a1lo, a2lo));
      break;
    case D.OP_DIVW:
    case D.OP_REMW:
      setRegSext32(h, rd, div32(a1lo, a2lo, d.op === D.OP_REMW));
      break;
    case D.OP_DIVUW:
    case D.OP_REMUW:
      setRegSext32(h, rd, divu32(a1lo, a2lo, d.op === D.OP_REMUW));
      break;
    case D.OP_FENCE:
      if (d.imm === D.FENCE_PAUSE && pauseHint(h)) {
        h.pc += d.len;
        return EXEC_END;
      }
      break;
    case D.OP_FENCE_I:
      // Decoded blocks of a page are dropped as soon as the page is written (by any hart or the VMM), so the
      // instruction stream is already coherent; FENCE.I only has to end the current block. A hart on its own
      // thread does not hear of other threads' stores: it drops all its code (threads/threaded-vcpu.ts).
      if (h.sharedMemory) h.dropAllCode();
      h.pc += d.len;
      return EXEC_END;
    case D.OP_ECALL: {
      // Console output the VMM lets the hart answer (sbi-console.ts): no trap, no exit.
      const sbiConsole = h.sbiConsole;
      if (sbiConsole !== undefined && h.hostTraps && h.virt && h.priv === PRV_S && answerSbiConsole(h, sbiConsole)) {
        h.pc += d.len;
        return EXEC_NEXT;
      }
      const cause =
        h.priv === PRV_U
          ? CAUSE_USER_ECALL
          : h.priv === PRV_M
            ? CAUSE_MACHINE_ECALL
            : h.virt
              ? CAUSE_VIRTUAL_SUPERVISOR_ECALL
              : CAUSE_SUPERVISOR_ECALL;
      raise(h, cause, 0);
      return EXEC_TRAP;
    }
    case D.OP_EBREAK:
      raise(h, CAUSE_BREAKPOINT, h.pc, 0, 0, h.virt);
      return EXEC_TRAP;
    case D.OP_SRET:
      return execSret(h, d);
    case D.OP_MRET:
      if (h.priv !== PRV_M) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      mret(h);
      return EXEC_END;
    case D.OP_WFI:
      return execWfi(h, d);
    case D.OP_SFENCE_VMA:
      // What each fence drops (privileged spec 1.12 sections 4.2.1 and 8.3.2; the TLB sets are described in tlb.ts):
      // - SFENCE.VMA with V=0 (HS/S): the host S/U contexts; never guest translations (riscv-hyp-tests: "hs sfence
      //   does not affect guest level tlb entries").
      // - SFENCE.VMA with V=1 (VS): the guest contexts (composed GVA→HPA entries), never host ones ("vs sfence does
      //   not affect hypervisor level tlb entries"). Without an address it drops the G-stage cache too: the spec
      //   lets VS-mode fences order VS-stage updates only (G-stage changes need HFENCE.GVMA), but QEMU and Spike,
      //   whose TLBs hold only whole translations, re-walk both stages after any fence, and riscv-hyp-tests'
      //   second_stage_only_translation expects that (a guest remaps its own G-stage page, then sfence.vma). An
      //   addressed one keeps it: it cannot name a guest-physical page, and Linux issues tens of thousands of
      //   them per boot (under a hundred full ones).
      // - HFENCE.VVMA: the guest contexts and the G-stage cache, for the same reason (riscv-hyp-tests' hfence test:
      //   an HLV after HFENCE.VVMA sees a G-stage PTE changed before it).
      // - HFENCE.GVMA: the G-stage cache and every guest context (composed entries depend on the G-stage).
      // ASID, VMID and address operands narrow nothing but the address case of SFENCE.VMA/HFENCE.VVMA: our TLB is
      // not tagged by ASID or VMID, and dropping more than asked is always allowed.
      if (h.priv === PRV_U) return privilegeFault(h, d);
      if (h.virt) {
        if ((h.hstatus & HSTATUS_VTVM) !== 0) {
          virtualInstruction(h, d.raw);
          return EXEC_TRAP;
        }
        if (rs1 === 0) {
          h.stats.flushesSfence++;
          h.flushGstageCache();
          h.flushGuestTlbs();
        } else h.flushVa(a1hi * TWO_POW_32 + (a1lo >>> 0), true);
      } else {
        if (h.priv === PRV_S && (h.mstatus & MSTATUS_TVM) !== 0) {
          illegal(h, d.raw);
          return EXEC_TRAP;
        }
        // SFENCE.VMA affects the current virtualization level: the S/U contexts (M-mode MPRV uses them too).
        if (rs1 === 0) {
          h.stats.flushesSfence++;
          h.flushHostTlbs();
        } else h.flushVa(a1hi * TWO_POW_32 + (a1lo >>> 0), false);
      }
      h.pc += d.len;
      // An addressed fence that left the next instruction's fetch translation in place lets the run go on (what a
      // run has cached is that translation; data accesses look at the TLB each time): Linux issues ~80 k of them
      // in Debian's boot, each a return to the run loop otherwise.
      if (rs1 !== 0 && h.itlb.xtag[(h.pc >>> 12) & TLB_MASK] === h.pc - (h.pc & 4095)) return EXEC_NEXT;
      return EXEC_END;
    case D.OP_HFENCE_VVMA:
    case D.OP_HFENCE_GVMA:
      if (h.virt) {
        virtualInstruction(h, d.raw);
        return EXEC_TRAP;
      }
      if (h.priv === PRV_U || (d.op === D.OP_HFENCE_GVMA && h.priv === PRV_S && (h.mstatus & MSTATUS_TVM) !== 0)) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      if (d.op === D.OP_HFENCE_GVMA || rs1 === 0) h.stats.flushesHfence++;
      if (d.op === D.OP_HFENCE_GVMA) h.flushGstage();
      else {
        // HFENCE.VVMA: see SFENCE.VMA above for why the G-stage cache goes too.
        h.flushGstageCache();
        if (rs1 === 0) h.flushGuestTlbs();
        else h.flushVa(a1hi * TWO_POW_32 + (a1lo >>> 0), true);
      }
      h.pc += d.len;
      return EXEC_END;
    case D.OP_CSRRW:
    case D.OP_CSRRS:
    case D.OP_CSRRC:
    case D.OP_CSRRWI:
    case D.OP_CSRRSI:
    case D.OP_CSRRCI:
      return execCsr(h, d);
    case D.OP_AMO_W:
    case D.OP_AMO_D:
      return execAmo(h, d);
    case D.OP_HLV:
    case D.OP_HSV:
      return execHypervisorAccess(h, d);
    case D.OP_FLW:
    case D.OP_FLD: {
      if (h.fpOff()) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      const width = d.op === D.OP_FLW ? 4 : 8;
      const v = load(h, a1hi * TWO_POW_32 + (a1lo >>> 0) + imm, width, d);
      if (v === undefined) return EXEC_TRAP;
      const bits = h.fp.bits;
      bits[2 * rd] = v;
      // FLW NaN-boxes: the upper 32 bits of the 64-bit register become all ones.
      bits[2 * rd + 1] = width === 4 ? -1 : h.ldHi;
      h.markFpDirty();
      break;
    }
    case D.OP_FSW:
    case D.OP_FSD: {
      if (h.fpOff()) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      const bits = h.fp.bits;
      const width = d.op === D.OP_FSW ? 4 : 8;
      const lo = bits[2 * rs2] ?? 0;
      const hi = bits[2 * rs2 + 1] ?? 0;
      if (!store(h, a1hi * TWO_POW_32 + (a1lo >>> 0) + imm, width, lo, hi, d)) return EXEC_TRAP;
      break;
    }
    case D.OP_FP: {
      if (h.fpOff()) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      const fp = h.fp;
      fp.lastWroteState = false;
      if (execFp(d.bits, fp, xlo, xhi) === FP_ILLEGAL) {
        illegal(h, d.raw);
        return EXEC_TRAP;
      }
      if (fp.lastWroteState) h.markFpDirty();
      break;
    }
    default:
      if (D.isBitmanip(d.op)) {
        bitmanip(d.op, a1lo, a1hi, a2lo, a2hi, imm);
        setReg(h, rd, out[0] ?? 0, out[1] ?? 0);
        break;
      }
      illegal(h, d.raw);
      return EXEC_TRAP;
  }
  h.pc += d.len;
  return EXEC_NEXT;
}

const LOAD_WIDTH = [1, 2, 4, 8, 1, 2, 4] as const;

/** U-mode (illegal) or VU-mode (virtual instruction) attempting a supervisor instruction. */
function privilegeFault(h: Hart, d: Insn): number {
  if (h.virt) virtualInstruction(h, d.raw);
  else illegal(h, d.raw);
  return EXEC_TRAP;
}

function execSret(h: Hart, d: Insn): number {
  if (h.priv === PRV_U) return privilegeFault(h, d);
  if (h.virt) {
    if ((h.hstatus & HSTATUS_VTSR) !== 0) {
      virtualInstruction(h, d.raw);
      return EXEC_TRAP;
    }
    vsret(h);
    return EXEC_END;
  }
  if (h.priv === PRV_S && (h.mstatus & MSTATUS_TSR) !== 0) {
    illegal(h, d.raw);
    return EXEC_TRAP;
  }
  sret(h);
  return EXEC_END;
}

function execWfi(h: Hart, d: Insn): number {
  if (h.priv !== PRV_M) {
    // TW = 1 makes WFI below M illegal (it takes precedence over VTW).
    if ((h.mstatus & MSTATUS_TW) !== 0) {
      illegal(h, d.raw);
      return EXEC_TRAP;
    }
    if (h.virt) {
      // VU-mode always, VS-mode when VTW = 1: the hypervisor decides (our choice: never complete in time).
      if (h.priv === PRV_U || (h.hstatus & HSTATUS_VTW) !== 0) {
        virtualInstruction(h, d.raw);
        return EXEC_TRAP;
      }
    } else if (h.priv === PRV_U) {
      // This hart chooses not to let U-mode wait: WFI in U-mode raises illegal instruction (spec permits).
      illegal(h, d.raw);
      return EXEC_TRAP;
    }
  }
  h.pc += d.len;
  // Wait only when nothing is pending; a hypervisor-mode hart never halts on its own (VTW does that).
  if (!wakeupPending(h) && !h.hostTraps) h.stop = STOP_HALT;
  return EXEC_END;
}

/** CSRRW/S/C[I]. Exported for the fast interpreter, which calls it directly rather than through `execute`. */
export function execCsr(h: Hart, d: Insn): number {
  const op = d.op;
  const csr = d.imm & 0xfff;
  const isImm = op >= D.OP_CSRRWI;
  const kind = isImm ? op - D.OP_CSRRWI : op - D.OP_CSRRW; // 0 = RW, 1 = RS, 2 = RC
  const writes = kind === 0 || d.rs1 !== 0;
  const fault = csrCheck(h, csr, writes);
  if (fault !== 0) {
    raise(h, fault, d.raw);
    return EXEC_TRAP;
  }
  const target = substitute(h, csr);
  const srcLo = isImm ? d.rs1 : (h.xlo[2 * d.rs1] ?? 0);
  const srcHi = isImm ? 0 : (h.xhi[2 * d.rs1] ?? 0);
  csrRead(h, target);
  const oldLo = h.csrLo;
  const oldHi = h.csrHi;
  if (writes) {
    // Only the software-writable SEIP bit takes part in a read-modify-write of mip.
    const baseLo = target === CSR_MIP && kind !== 0 ? (oldLo & ~MIP_SEIP) | (h.mipSoft & MIP_SEIP) : oldLo;
    let lo: number;
    let hi: number;
    if (kind === 0) {
      lo = srcLo;
      hi = srcHi;
    } else if (kind === 1) {
      lo = baseLo | srcLo;
      hi = oldHi | srcHi;
    } else {
      lo = baseLo & ~srcLo;
      hi = oldHi & ~srcHi;
    }
    csrWrite(h, target, lo, hi);
  }
  setReg(h, d.rd, oldLo, oldHi);
  h.pc += d.len;
  if (!writes) return EXEC_NEXT;
  csrRead(h, target);
  return csrWriteEndsRun(h, target, oldLo, oldHi, h.csrLo, h.csrHi) ? EXEC_END : EXEC_NEXT;
}

function execAmo(h: Hart, d: Insn): number {
  h.stats.atomicsSlow++;
  const width = d.op === D.OP_AMO_W ? 4 : 8;
  const funct5 = d.aux;
  const va = regNum(h, d.rs1);
  const tinst = transformedInstruction(d);
  const isLr = funct5 === AMO_LR;
  const pa = atomicAddress(h, va, width, isLr, tinst);
  if (pa < 0) return EXEC_TRAP;
  const srcLo = h.xlo[2 * d.rs2] ?? 0;
  const srcHi = h.xhi[2 * d.rs2] ?? 0;
  if (h.sharedMemory && execSharedAmo(h, d, pa, width, funct5, srcLo, srcHi)) return EXEC_NEXT;
  if (isLr) {
    const lo = physRead(h, pa, width);
    const hi = width === 4 ? lo >> 31 : h.ldHi;
    h.reservationValid = true;
    h.reservationAddr = pa;
    setReg(h, d.rd, lo, hi);
    h.pc += d.len;
    return EXEC_NEXT;
  }
  if (funct5 === AMO_SC) {
    const ok = h.reservationValid && h.reservationAddr === pa;
    h.reservationValid = false;
    if (ok) physWrite(h, pa, width, srcLo, srcHi);
    setReg(h, d.rd, ok ? 0 : 1, 0);
    h.pc += d.len;
    return EXEC_NEXT;
  }
  const oldLo = physRead(h, pa, width);
  const oldHi = width === 4 ? oldLo >> 31 : h.ldHi;
  amoResult(funct5, width, oldLo, oldHi, srcLo, srcHi);
  physWrite(h, pa, width, out[0] ?? 0, out[1] ?? 0);
  setReg(h, d.rd, oldLo, oldHi);
  h.pc += d.len;
  return EXEC_NEXT;
}

/**
 * An atomic on RAM shared with harts on other threads (threads/atomics.ts). Returns false, having done nothing,
 * when the RAM is not in the shared arena (no other thread can reach it: the plain path is atomic enough).
 */
function execSharedAmo(
  h: Hart,
  d: Insn,
  pa: number,
  width: number,
  funct5: number,
  srcLo: number,
  srcHi: number,
): boolean {
  const region = h.memory.find(pa);
  const arena = h.memory.arena;
  if (region === undefined || arena === undefined || region.block.arenaOffset < 0) return false;
  const offset = region.block.arenaOffset + (pa - region.base);
  if (funct5 === AMO_LR) {
    atomicLoad(arena.memory, offset, width);
    h.reservationValid = true;
    h.reservationAddr = pa;
    h.reservationLo = atomicOld[0] ?? 0;
    h.reservationHi = atomicOld[1] ?? 0;
    setReg(h, d.rd, h.reservationLo, h.reservationHi);
  } else if (funct5 === AMO_SC) {
    const ok =
      h.reservationValid &&
      h.reservationAddr === pa &&
      atomicStoreConditional(arena.memory, offset, width, h.reservationLo, h.reservationHi, srcLo, srcHi);
    h.reservationValid = false;
    if (ok) h.notePhysWrite(region.block, pa - region.base, width);
    setReg(h, d.rd, ok ? 0 : 1, 0);
  } else {
    atomicReadModifyWrite(arena.memory, offset, width, funct5, srcLo, srcHi);
    h.notePhysWrite(region.block, pa - region.base, width);
    setReg(h, d.rd, atomicOld[0] ?? 0, atomicOld[1] ?? 0);
  }
  h.pc += d.len;
  return true;
}

/**
 * The value an AMO writes back → out ([lo, hi]), from the old memory value (a 32-bit one sign-extended) and the
 * source register. For width 4 only the low word is meaningful.
 */
export function amoResult(
  funct5: number,
  width: number,
  oldLo: number,
  oldHi: number,
  srcLo: number,
  srcHi: number,
): void {
  let lo: number;
  let hi: number;
  if (width === 4) {
    hi = 0;
    switch (funct5) {
      case AMO_SWAP:
        lo = srcLo;
        break;
      case AMO_ADD:
        lo = (oldLo + srcLo) | 0;
        break;
      case AMO_XOR:
        lo = oldLo ^ srcLo;
        break;
      case AMO_AND:
        lo = oldLo & srcLo;
        break;
      case AMO_OR:
        lo = oldLo | srcLo;
        break;
      case AMO_MIN:
        lo = Math.min(oldLo, srcLo);
        break;
      case AMO_MAX:
        lo = Math.max(oldLo, srcLo);
        break;
      case AMO_MINU:
        lo = oldLo >>> 0 < srcLo >>> 0 ? oldLo : srcLo;
        break;
      default:
        lo = oldLo >>> 0 > srcLo >>> 0 ? oldLo : srcLo;
        break;
    }
  } else {
    switch (funct5) {
      case AMO_SWAP:
        lo = srcLo;
        hi = srcHi;
        break;
      case AMO_ADD:
        lo = (oldLo + srcLo) | 0;
        hi = (oldHi + srcHi + (lo >>> 0 < oldLo >>> 0 ? 1 : 0)) | 0;
        break;
      case AMO_XOR:
        lo = oldLo ^ srcLo;
        hi = oldHi ^ srcHi;
        break;
      case AMO_AND:
        lo = oldLo & srcLo;
        hi = oldHi & srcHi;
        break;
      case AMO_OR:
        lo = oldLo | srcLo;
        hi = oldHi | srcHi;
        break;
      case AMO_MIN: {
        const takeOld = lt(oldLo, oldHi, srcLo, srcHi);
        lo = takeOld ? oldLo : srcLo;
        hi = takeOld ? oldHi : srcHi;
        break;
      }
      case AMO_MAX: {
        const takeOld = lt(srcLo, srcHi, oldLo, oldHi);
        lo = takeOld ? oldLo : srcLo;
        hi = takeOld ? oldHi : srcHi;
        break;
      }
      case AMO_MINU: {
        const takeOld = ltu(oldLo, oldHi, srcLo, srcHi);
        lo = takeOld ? oldLo : srcLo;
        hi = takeOld ? oldHi : srcHi;
        break;
      }
      default: {
        const takeOld = ltu(srcLo, srcHi, oldLo, oldHi);
        lo = takeOld ? oldLo : srcLo;
        hi = takeOld ? oldHi : srcHi;
        break;
      }
    }
  }
  out[0] = lo;
  out[1] = hi;
}

function execHypervisorAccess(h: Hart, d: Insn): number {
  if (h.virt) {
    virtualInstruction(h, d.raw);
    return EXEC_TRAP;
  }
  if (h.priv === PRV_U && (h.hstatus & HSTATUS_HU) === 0) {
    illegal(h, d.raw);
    return EXEC_TRAP;
  }
  const width = d.aux & 0xf;
  const va = regNum(h, d.rs1);
  const tinst = transformedInstruction(d);
  const isStore = d.op === D.OP_HSV;
  // Misaligned hypervisor loads/stores raise address-misaligned (this hart's choice for HLV/HSV).
  if (va - Math.floor(va / width) * width !== 0) {
    raise(h, isStore ? CAUSE_MISALIGNED_STORE : CAUSE_MISALIGNED_LOAD, va, 0, 0, true);
    return EXEC_TRAP;
  }
  const pa = hypervisorAddress(h, va, isStore ? ACCESS_WRITE : ACCESS_READ, (d.aux & D.HYP_EXEC) !== 0, tinst);
  if (pa < 0) return EXEC_TRAP;
  if (isStore) {
    physWrite(h, pa, width, h.xlo[2 * d.rs2] ?? 0, h.xhi[2 * d.rs2] ?? 0);
  } else {
    const v = physRead(h, pa, width);
    const unsigned = (d.aux & D.HYP_UNSIGNED) !== 0;
    if (width === 8) setReg(h, d.rd, v, h.ldHi);
    else if (unsigned) setReg(h, d.rd, v, 0);
    else if (width === 4) setRegSext32(h, d.rd, v);
    else setRegSext32(h, d.rd, width === 2 ? (v << 16) >> 16 : (v << 24) >> 24);
  }
  h.pc += d.len;
  return EXEC_NEXT;
}
