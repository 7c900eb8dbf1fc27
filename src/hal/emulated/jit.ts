/**
 * Compiles a hot decoded block to a JavaScript function with `new Function`. A fresh function costs ~40 µs at its
 * first call and runs in JavaScriptCore's slow tiers for its first ~1000 calls (measured: 0.5-1.6 µs per call of
 * a 6-instruction block before, ~60 ns after), so `runFast` compiles only blocks that control lands on often and
 * at a high rate (engine.ts).
 *
 * The generated function `(hart, budget) => retired` runs the block once from `hart.pc`, or, when the block's
 * last instruction branches back to its own start, loops inside the function until the branch falls through or
 * `budget` instructions have retired. It re-implements the integer ALU ops, branches, jumps and RAM
 * loads/stores through the TLB fast path; everything else (CSRs, system, AMOs, FP, hypervisor accesses, the TLB
 * slow path) calls the same `execute` / `loadSlow` / `storeSlow` as the interpreter, after writing back the pc and
 * the retired-instruction count, so traps see exactly the state the reference interpreter would give them.
 *
 * The pc is not a constant: a physical page may be mapped at several virtual addresses, so the code adds static
 * offsets to the pc it was entered with.
 */

import { div32, div64, divu32, divu64, mul64, mulh64, mulhsu64, mulhu64, out } from "./alu.ts";
import { bitmanip } from "./bitmanip.ts";
import type { Block, CompiledBlock } from "./block.ts";
import type { Insn } from "./decode.ts";
import * as D from "./decode.ts";
import { execute, transformedInstruction } from "./exec.ts";
import { atomicFast } from "./interp.ts";
import { loadSharedDoubleword, loadSlow, storeSharedDoubleword, storeSlow } from "./memory-slow.ts";
import { TLB_MASK } from "./tlb.ts";

/** Helpers the generated code receives as parameters (never globals: two VMs may coexist). */
const HELPER_NAMES = [
  "execute",
  "atomicFast",
  "loadSlow",
  "storeSlow",
  "insns",
  "out",
  "mul64",
  "mulh64",
  "mulhsu64",
  "mulhu64",
  "div64",
  "divu64",
  "div32",
  "divu32",
  "bitmanip",
  "loadSharedDoubleword",
  "storeSharedDoubleword",
  "block",
] as const;

const LOAD_INFO: Record<number, { width: number; read: string }> = {
  [D.OP_LB]: { width: 1, read: "getInt8(o)" },
  [D.OP_LH]: { width: 2, read: "getInt16(o, true)" },
  [D.OP_LW]: { width: 4, read: "getInt32(o, true)" },
  [D.OP_LD]: { width: 8, read: "getInt32(o, true)" },
  [D.OP_LBU]: { width: 1, read: "getUint8(o)" },
  [D.OP_LHU]: { width: 2, read: "getUint16(o, true)" },
  [D.OP_LWU]: { width: 4, read: "getInt32(o, true)" },
};

/** Generate the source of one block (exported for tests and debugging). */
export function generateBlockSource(block: Block): string | undefined {
  const insns = block.insns;
  const last = insns[insns.length - 1];
  if (last === undefined) return undefined;
  // Byte offset of each instruction from the block start.
  const offs: number[] = [];
  let total = 0;
  for (const insn of insns) {
    offs.push(total);
    total += insn.len;
  }
  const selfLoop = isSelfLoop(last, offs[offs.length - 1] ?? 0);
  const lines: string[] = [];
  const emit = (s: string): void => {
    lines.push(s);
  };
  // shared: harts on other threads share this RAM (threads/): doublewords go the slow way, as one access.
  emit("const xlo = h.xlo, xhi = h.xhi, pc0 = h.pc, shared = h.sharedMemory;");
  emit(
    "const dt = h.dtlb, rlo = dt.rlo, rhi = dt.rhi, roff = dt.roff, rview = dt.rview, wlo = dt.wlo, whi = dt.whi, woff = dt.woff, wview = dt.wview;",
  );
  emit("let n = 0;");
  if (selfLoop) emit("for (;;) {");
  // Instructions retired since the last write-back of h.icount / n.
  let pending = 0;
  const sync = (): string => {
    if (pending === 0) return "";
    const s = `n += ${pending}; h.icount += ${pending};`;
    pending = 0;
    return s;
  };
  /** Exit after instruction k did not retire (trap / MMIO stop): write back what retired before it. */
  const exitBefore = (): string => `{ ${pending === 0 ? "" : `n += ${pending}; h.icount += ${pending};`} return n; }`;
  for (let k = 0; k < insns.length; k++) {
    const d = insns[k];
    const off = offs[k] ?? 0;
    if (d === undefined) return undefined;
    const pcExpr = off === 0 ? "pc0" : `(pc0 + ${off})`;
    const nextExpr = `(pc0 + ${off + d.len})`;
    const { rd, rs1, rs2, imm } = d;
    const setRd = (lo: string, hi: string): void => {
      if (rd !== 0) emit(`{ const l = ${lo}, u = ${hi}; xlo[${2 * rd}] = l; xhi[${2 * rd}] = u; }`);
    };
    const setRdSext = (v: string): void => {
      if (rd !== 0) emit(`{ const v = ${v}; xlo[${2 * rd}] = v; xhi[${2 * rd}] = v >> 31; }`);
    };
    const immHi = imm >> 31;
    switch (d.op) {
      case D.OP_LUI:
        if (rd !== 0) emit(`xlo[${2 * rd}] = ${imm | 0}; xhi[${2 * rd}] = ${immHi};`);
        pending++;
        continue;
      case D.OP_AUIPC:
        if (rd !== 0)
          emit(
            `{ const v = ${pcExpr} + ${imm}; xlo[${2 * rd}] = v | 0; xhi[${2 * rd}] = Math.floor(v / 4294967296) | 0; }`,
          );
        pending++;
        continue;
      case D.OP_ADDI:
        if (rd === 0) {
          pending++;
          continue;
        }
        if (rs1 === 0) {
          emit(`xlo[${2 * rd}] = ${imm}; xhi[${2 * rd}] = ${immHi};`);
        } else if (imm === 0) {
          emit(`xlo[${2 * rd}] = xlo[${2 * rs1}]; xhi[${2 * rd}] = xhi[${2 * rs1}];`);
        } else {
          emit(
            `{ const a = xlo[${2 * rs1}], r = (a + ${imm}) | 0; xhi[${2 * rd}] = (xhi[${2 * rs1}] + ${immHi} + ((r >>> 0) < (a >>> 0) ? 1 : 0)) | 0; xlo[${2 * rd}] = r; }`,
          );
        }
        pending++;
        continue;
      case D.OP_SLTI:
        setRd(
          `(xhi[${2 * rs1}] < ${immHi} || (xhi[${2 * rs1}] === ${immHi} && (xlo[${2 * rs1}] >>> 0) < ${imm >>> 0})) ? 1 : 0`,
          "0",
        );
        pending++;
        continue;
      case D.OP_SLTIU:
        setRd(
          `((xhi[${2 * rs1}] >>> 0) < ${immHi >>> 0} || (xhi[${2 * rs1}] === ${immHi} && (xlo[${2 * rs1}] >>> 0) < ${imm >>> 0})) ? 1 : 0`,
          "0",
        );
        pending++;
        continue;
      case D.OP_XORI:
        setRd(`xlo[${2 * rs1}] ^ ${imm}`, `xhi[${2 * rs1}] ^ ${immHi}`);
        pending++;
        continue;
      case D.OP_ORI:
        setRd(`xlo[${2 * rs1}] | ${imm}`, `xhi[${2 * rs1}] | ${immHi}`);
        pending++;
        continue;
      case D.OP_ANDI:
        setRd(`xlo[${2 * rs1}] & ${imm}`, `xhi[${2 * rs1}] & ${immHi}`);
        pending++;
        continue;
      case D.OP_SLLI:
        if (imm === 0) setRd(`xlo[${2 * rs1}]`, `xhi[${2 * rs1}]`);
        else if (imm < 32)
          setRd(`xlo[${2 * rs1}] << ${imm}`, `(xhi[${2 * rs1}] << ${imm}) | (xlo[${2 * rs1}] >>> ${32 - imm})`);
        else setRd("0", `xlo[${2 * rs1}] << ${imm - 32}`);
        pending++;
        continue;
      case D.OP_SRLI:
        if (imm === 0) setRd(`xlo[${2 * rs1}]`, `xhi[${2 * rs1}]`);
        else if (imm < 32)
          setRd(`(xlo[${2 * rs1}] >>> ${imm}) | (xhi[${2 * rs1}] << ${32 - imm})`, `(xhi[${2 * rs1}] >>> ${imm}) | 0`);
        else setRd(`(xhi[${2 * rs1}] >>> ${imm - 32}) | 0`, "0");
        pending++;
        continue;
      case D.OP_SRAI:
        if (imm === 0) setRd(`xlo[${2 * rs1}]`, `xhi[${2 * rs1}]`);
        else if (imm < 32)
          setRd(`(xlo[${2 * rs1}] >>> ${imm}) | (xhi[${2 * rs1}] << ${32 - imm})`, `xhi[${2 * rs1}] >> ${imm}`);
        else setRd(`xhi[${2 * rs1}] >> ${imm - 32}`, `xhi[${2 * rs1}] >> 31`);
        pending++;
        continue;
      case D.OP_ADD:
        if (rd !== 0) {
          emit(
            `{ const a = xlo[${2 * rs1}], r = (a + xlo[${2 * rs2}]) | 0; xhi[${2 * rd}] = (xhi[${2 * rs1}] + xhi[${2 * rs2}] + ((r >>> 0) < (a >>> 0) ? 1 : 0)) | 0; xlo[${2 * rd}] = r; }`,
          );
        }
        pending++;
        continue;
      case D.OP_SUB:
        if (rd !== 0) {
          emit(
            `{ const a = xlo[${2 * rs1}], b = xlo[${2 * rs2}]; xhi[${2 * rd}] = (xhi[${2 * rs1}] - xhi[${2 * rs2}] - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0; xlo[${2 * rd}] = (a - b) | 0; }`,
          );
        }
        pending++;
        continue;
      case D.OP_SLT:
        setRd(
          `(xhi[${2 * rs1}] < xhi[${2 * rs2}] || (xhi[${2 * rs1}] === xhi[${2 * rs2}] && (xlo[${2 * rs1}] >>> 0) < (xlo[${2 * rs2}] >>> 0))) ? 1 : 0`,
          "0",
        );
        pending++;
        continue;
      case D.OP_SLTU:
        setRd(
          `((xhi[${2 * rs1}] >>> 0) < (xhi[${2 * rs2}] >>> 0) || (xhi[${2 * rs1}] === xhi[${2 * rs2}] && (xlo[${2 * rs1}] >>> 0) < (xlo[${2 * rs2}] >>> 0))) ? 1 : 0`,
          "0",
        );
        pending++;
        continue;
      case D.OP_XOR:
        setRd(`xlo[${2 * rs1}] ^ xlo[${2 * rs2}]`, `xhi[${2 * rs1}] ^ xhi[${2 * rs2}]`);
        pending++;
        continue;
      case D.OP_OR:
        setRd(`xlo[${2 * rs1}] | xlo[${2 * rs2}]`, `xhi[${2 * rs1}] | xhi[${2 * rs2}]`);
        pending++;
        continue;
      case D.OP_AND:
        setRd(`xlo[${2 * rs1}] & xlo[${2 * rs2}]`, `xhi[${2 * rs1}] & xhi[${2 * rs2}]`);
        pending++;
        continue;
      case D.OP_ADDIW:
        setRdSext(`(xlo[${2 * rs1}] + ${imm}) | 0`);
        pending++;
        continue;
      case D.OP_SLLIW:
        setRdSext(`xlo[${2 * rs1}] << ${imm}`);
        pending++;
        continue;
      case D.OP_SRLIW:
        setRdSext(`(xlo[${2 * rs1}] >>> ${imm}) | 0`);
        pending++;
        continue;
      case D.OP_SRAIW:
        setRdSext(`xlo[${2 * rs1}] >> ${imm}`);
        pending++;
        continue;
      case D.OP_ADDW:
        setRdSext(`(xlo[${2 * rs1}] + xlo[${2 * rs2}]) | 0`);
        pending++;
        continue;
      case D.OP_SUBW:
        setRdSext(`(xlo[${2 * rs1}] - xlo[${2 * rs2}]) | 0`);
        pending++;
        continue;
      case D.OP_SLLW:
        setRdSext(`xlo[${2 * rs1}] << (xlo[${2 * rs2}] & 31)`);
        pending++;
        continue;
      case D.OP_SRLW:
        setRdSext(`(xlo[${2 * rs1}] >>> (xlo[${2 * rs2}] & 31)) | 0`);
        pending++;
        continue;
      case D.OP_SRAW:
        setRdSext(`xlo[${2 * rs1}] >> (xlo[${2 * rs2}] & 31)`);
        pending++;
        continue;
      case D.OP_MULW:
        setRdSext(`Math.imul(xlo[${2 * rs1}], xlo[${2 * rs2}])`);
        pending++;
        continue;
      case D.OP_MUL:
      case D.OP_MULH:
      case D.OP_MULHSU:
      case D.OP_MULHU: {
        const fn = { [D.OP_MUL]: "mul64", [D.OP_MULH]: "mulh64", [D.OP_MULHSU]: "mulhsu64", [D.OP_MULHU]: "mulhu64" }[
          d.op
        ];
        emit(`${fn}(xlo[${2 * rs1}], xhi[${2 * rs1}], xlo[${2 * rs2}], xhi[${2 * rs2}]);`);
        setRd("out[0]", "out[1]");
        pending++;
        continue;
      }
      case D.OP_DIV:
      case D.OP_REM:
        emit(`div64(xlo[${2 * rs1}], xhi[${2 * rs1}], xlo[${2 * rs2}], xhi[${2 * rs2}], ${d.op === D.OP_REM});`);
        setRd("out[0]", "out[1]");
        pending++;
        continue;
      case D.OP_DIVU:
      case D.OP_REMU:
        emit(`divu64(xlo[${2 * rs1}], xhi[${2 * rs1}], xlo[${2 * rs2}], xhi[${2 * rs2}], ${d.op === D.OP_REMU});`);
        setRd("out[0]", "out[1]");
        pending++;
        continue;
      case D.OP_DIVW:
      case D.OP_REMW:
        setRdSext(`div32(xlo[${2 * rs1}], xlo[${2 * rs2}], ${d.op === D.OP_REMW})`);
        pending++;
        continue;
      case D.OP_DIVUW:
      case D.OP_REMUW:
        setRdSext(`divu32(xlo[${2 * rs1}], xlo[${2 * rs2}], ${d.op === D.OP_REMUW})`);
        pending++;
        continue;
      case D.OP_FENCE:
        pending++;
        continue;
      // The bit-manipulation extensions: the one-line logic ones inline, the rest through bitmanip.ts.
      case D.OP_ANDN:
        setRd(`xlo[${2 * rs1}] & ~xlo[${2 * rs2}]`, `xhi[${2 * rs1}] & ~xhi[${2 * rs2}]`);
        pending++;
        continue;
      case D.OP_ORN:
        setRd(`xlo[${2 * rs1}] | ~xlo[${2 * rs2}]`, `xhi[${2 * rs1}] | ~xhi[${2 * rs2}]`);
        pending++;
        continue;
      case D.OP_XNOR:
        setRd(`~(xlo[${2 * rs1}] ^ xlo[${2 * rs2}])`, `~(xhi[${2 * rs1}] ^ xhi[${2 * rs2}])`);
        pending++;
        continue;
      case D.OP_ZEXT_H:
        setRd(`xlo[${2 * rs1}] & 65535`, "0");
        pending++;
        continue;
      case D.OP_SEXT:
        setRdSext(imm === 8 ? `(xlo[${2 * rs1}] << 24) >> 24` : `(xlo[${2 * rs1}] << 16) >> 16`);
        pending++;
        continue;
      case D.OP_CLZW:
        setRd(`Math.clz32(xlo[${2 * rs1}])`, "0");
        pending++;
        continue;
      case D.OP_LB:
      case D.OP_LH:
      case D.OP_LW:
      case D.OP_LD:
      case D.OP_LBU:
      case D.OP_LHU:
      case D.OP_LWU: {
        const info = LOAD_INFO[d.op];
        if (info === undefined) return undefined;
        const tinst = transformedInstruction(d);
        const isLd = d.op === D.OP_LD;
        emit(`{ ${addressWords(rs1, imm)} let v, vh = 0;`);
        emit(
          isLd
            ? "if (rlo[i] === (lo & -4089) && rhi[i] === hi) { const o = (lo + roff[i]) | 0, w = rview[i]; if (shared) { v = loadSharedDoubleword(h, w, o); vh = h.ldHi; } else { v = w.getInt32(o, true); vh = w.getInt32(o + 4, true); } }"
            : `if (rlo[i] === (lo & ${-4096 | (info.width - 1)}) && rhi[i] === hi) { const o = (lo + roff[i]) | 0, w = rview[i]; v = w.${info.read}; }`,
        );
        emit(
          `else { h.pc = ${pcExpr}; v = loadSlow(h, hi * 4294967296 + (lo >>> 0), ${info.width}, ${tinst}, ${d.len}); if (!h.loadOk) ${exitBefore()}${isLd ? " vh = h.ldHi;" : ""} }`,
        );
        if (d.op === D.OP_LB) emit("v = (v << 24) >> 24;");
        if (d.op === D.OP_LH) emit("v = (v << 16) >> 16;");
        if (rd !== 0) {
          const hi = isLd ? "vh" : d.op === D.OP_LB || d.op === D.OP_LH || d.op === D.OP_LW ? "v >> 31" : "0";
          emit(`xlo[${2 * rd}] = v; xhi[${2 * rd}] = ${hi}; }`);
        } else {
          emit("}");
        }
        pending++;
        continue;
      }
      case D.OP_SB:
      case D.OP_SH:
      case D.OP_SW:
      case D.OP_SD: {
        const width = 1 << (d.op - D.OP_SB);
        const tinst = transformedInstruction(d);
        const write =
          width === 1
            ? `w.setUint8(o, xlo[${2 * rs2}] & 255)`
            : width === 2
              ? `w.setUint16(o, xlo[${2 * rs2}] & 65535, true)`
              : width === 4
                ? `w.setInt32(o, xlo[${2 * rs2}], true)`
                : `if (shared) storeSharedDoubleword(h, w, o, xlo[${2 * rs2}], xhi[${2 * rs2}]); else { w.setInt32(o, xlo[${2 * rs2}], true); w.setInt32(o + 4, xhi[${2 * rs2}], true); }`;
        emit(`{ ${addressWords(rs1, imm)}`);
        emit(
          `if (wlo[i] === (lo & ${-4096 | (width - 1)}) && whi[i] === hi) { const o = (lo + woff[i]) | 0, w = wview[i]; ${write}; }`,
        );
        emit(
          `else { h.pc = ${pcExpr}; if (!storeSlow(h, hi * 4294967296 + (lo >>> 0), ${width}, xlo[${2 * rs2}], xhi[${2 * rs2}], ${tinst}, ${d.len})) ${exitBefore()}` +
            // A store into a watched range (PhysicalMemory.watchWrites) ends the run after it.
            ` if (h.kickRequested) { n += ${pending + 1}; h.icount += ${pending + 1}; h.pc = ${nextExpr}; return n; } } }`,
        );
        pending++;
        continue;
      }
      case D.OP_JAL: {
        if (rd !== 0)
          emit(`{ const l = ${nextExpr}; xlo[${2 * rd}] = l | 0; xhi[${2 * rd}] = Math.floor(l / 4294967296) | 0; }`);
        pending++;
        const target = off + imm;
        if (selfLoop && target === 0) {
          emit(`${sync()} if (n < budget && block.valid) continue; h.pc = pc0; return n;`);
        } else {
          emit(`h.pc = pc0 + ${target}; ${sync()} return n;`);
        }
        continue;
      }
      case D.OP_JALR:
        emit(`{ let t = xhi[${2 * rs1}] * 4294967296 + (xlo[${2 * rs1}] >>> 0) + ${imm}; t -= t & 1;`);
        if (rd !== 0)
          emit(`const l = ${nextExpr}; xlo[${2 * rd}] = l | 0; xhi[${2 * rd}] = Math.floor(l / 4294967296) | 0;`);
        pending++;
        emit(`h.pc = t; ${sync()} return n; }`);
        continue;
      case D.OP_BEQ:
      case D.OP_BNE:
      case D.OP_BLT:
      case D.OP_BGE:
      case D.OP_BLTU:
      case D.OP_BGEU: {
        const cond = branchCondition(d);
        pending++;
        const target = off + imm;
        const taken =
          selfLoop && target === 0
            ? `if (n < budget && block.valid) continue; h.pc = pc0; return n;`
            : `h.pc = pc0 + ${target}; return n;`;
        const s = sync();
        emit(`${s} if (${cond}) { ${taken} } h.pc = ${nextExpr}; return n;`);
        continue;
      }
      case D.OP_AMO_W:
      case D.OP_AMO_D:
        // Atomics through the data TLB when it can serve them, else the reference semantics.
        emit(`${sync()} if (atomicFast(h, insns[${k}])) { n++; h.icount++; } else {`);
        emit(
          `h.pc = ${pcExpr}; const r = execute(h, insns[${k}]); if (r === 2) return n; n++; h.icount++; if (r === 1 || h.kickRequested) return n; }`,
        );
        continue;
      default: {
        if (D.isBitmanip(d.op)) {
          // Pure register operations: no trap, so no pc or count write-back.
          if (rd !== 0)
            emit(`bitmanip(${d.op}, xlo[${2 * rs1}], xhi[${2 * rs1}], xlo[${2 * rs2}], xhi[${2 * rs2}], ${imm});`);
          setRd("out[0]", "out[1]");
          pending++;
          continue;
        }
        // Everything else goes through the interpreter's execute (it sets the pc, traps, stops).
        emit(`h.pc = ${pcExpr}; ${sync()}`);
        emit(`{ const r = execute(h, insns[${k}]); if (r === 2) return n; n++; h.icount++; if (r === 1) return n; }`);
        continue;
      }
    }
  }
  // Fell off the end of the block (page end or length limit) without a control transfer.
  const endOff = total;
  emit(`h.pc = pc0 + ${endOff}; ${sync()} return n;`);
  if (selfLoop) emit("}");
  return lines.join("\n");
}

/** Declarations of `lo`, `hi` (the address rs1 + imm as int32 words) and `i` (its TLB index), as in interp.ts. */
function addressWords(rs1: number, imm: number): string {
  return `const x = xlo[${2 * rs1}], lo = (x + ${imm}) | 0, hi = (xhi[${2 * rs1}] + ${imm >> 31} + ((lo >>> 0) < (x >>> 0) ? 1 : 0)) | 0, i = (lo >>> 12) & ${TLB_MASK};`;
}

function isSelfLoop(last: Insn, lastOff: number): boolean {
  switch (last.op) {
    case D.OP_JAL:
    case D.OP_BEQ:
    case D.OP_BNE:
    case D.OP_BLT:
    case D.OP_BGE:
    case D.OP_BLTU:
    case D.OP_BGEU:
      return lastOff + last.imm === 0;
    default:
      return false;
  }
}

function branchCondition(d: Insn): string {
  const a = d.rs1;
  const b = d.rs2;
  const eq = `xlo[${2 * a}] === xlo[${2 * b}] && xhi[${2 * a}] === xhi[${2 * b}]`;
  const lt = `(xhi[${2 * a}] < xhi[${2 * b}] || (xhi[${2 * a}] === xhi[${2 * b}] && (xlo[${2 * a}] >>> 0) < (xlo[${2 * b}] >>> 0)))`;
  const ltu = `((xhi[${2 * a}] >>> 0) < (xhi[${2 * b}] >>> 0) || (xhi[${2 * a}] === xhi[${2 * b}] && (xlo[${2 * a}] >>> 0) < (xlo[${2 * b}] >>> 0)))`;
  switch (d.op) {
    case D.OP_BEQ:
      return eq;
    case D.OP_BNE:
      return `!(${eq})`;
    case D.OP_BLT:
      return lt;
    case D.OP_BGE:
      return `!${lt}`;
    case D.OP_BLTU:
      return ltu;
    default:
      return `!${ltu}`;
  }
}

type Factory = (...helpers: unknown[]) => CompiledBlock;

/** Compile a block, or return undefined if it cannot be compiled. */
export function compileBlock(block: Block): CompiledBlock | undefined {
  const body = generateBlockSource(block);
  if (body === undefined) return undefined;
  const factory = new Function(...HELPER_NAMES, `return function block_fn(h, budget) {\n${body}\n};`) as Factory;
  return factory(
    execute,
    atomicFast,
    loadSlow,
    storeSlow,
    block.insns,
    out,
    mul64,
    mulh64,
    mulhsu64,
    mulhu64,
    div64,
    divu64,
    div32,
    divu32,
    bitmanip,
    loadSharedDoubleword,
    storeSharedDoubleword,
    block,
  );
}
