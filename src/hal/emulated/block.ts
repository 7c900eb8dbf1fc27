/**
 * Decoded code, two forms:
 * - The per-page decode cache (`CodePage` in phys-memory.ts): one packed 32-bit word (and an immediate) per
 *   2-byte slot of a physical page, filled on first execution. The fast interpreter (`interp.ts`) runs from it
 *   without leaving the page: 8 bytes per instruction instead of an object keeps Linux's working set of decoded
 *   code in the host's caches. Every hart and virtual alias of the page shares it, and a write to the page
 *   clears it.
 * - Basic blocks (`Block`), built only for the compiler (`jit.ts`): a run of instructions inside one physical
 *   page, ending at the first instruction that transfers control or may change translation/interrupt state
 *   (branches, jumps, CSR accesses, xRET, fences of the instruction stream or TLB, ECALL/EBREAK/WFI), at the page
 *   end, or at MAX_BLOCK_INSNS.
 */

import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import * as D from "./decode.ts";
import { decode16, decode32, type Insn } from "./decode.ts";

export const MAX_BLOCK_INSNS = 64;

// The packed slot word: op (7 bits; decoder OP_* or an engine code below), rd, rs1, rs2, length, decoded.
export const SLOTS_PER_PAGE = PAGE_SIZE / 2;
export const SLOT_OP_MASK = 0x7f;
export const SLOT_RD_SHIFT = 7;
export const SLOT_RS1_SHIFT = 12;
export const SLOT_RS2_SHIFT = 17;
/** A 4-byte instruction (else 2). `2 + ((w >>> 21) & 2)` is the length. */
export const SLOT_LONG = 1 << 22;
/** Set in every filled slot, so 0 means "not decoded yet" (OP_ILLEGAL is 0). */
export const SLOT_DECODED = 1 << 23;
// Engine codes in the op field, above every decoder operation (OP_COUNT).
/** A 4-byte instruction that straddles the page end: executed uncached. */
export const SLOT_STRADDLE = 0x7d;
/** A compiled block starts here (`CodePage.blocks`). */
export const SLOT_COMPILED = 0x7e;
/** The sentinel after the last slot: sequential execution reached the page end. */
export const SLOT_PAGE_END = 0x7f;
/**
 * The op field of a slot the interpreter runs through `execute` (from the decoded `Insn`) although its operation
 * has a case of its own there: PAUSE, which would otherwise share FENCE's. It is OP_ILLEGAL's number, which the
 * interpreter has no case for either. PAUSE shows up late in a boot (spin-waits); code of its own in the
 * interpreter would not have run when JavaScriptCore optimized it, and the optimized interpreter left its code
 * at every PAUSE until it was compiled again. `execute`, the rare paths' home, is smaller to compile again.
 */
export const SLOT_EXECUTE = D.OP_ILLEGAL;

/** The packed slot word of a decoded instruction. */
export function packSlot(insn: Insn): number {
  return (
    (D.isPauseHint(insn) ? SLOT_EXECUTE : insn.op) |
    (insn.rd << SLOT_RD_SHIFT) |
    (insn.rs1 << SLOT_RS1_SHIFT) |
    (insn.rs2 << SLOT_RS2_SHIFT) |
    (insn.len === 4 ? SLOT_LONG : 0) |
    SLOT_DECODED
  );
}

/**
 * The immediate kept beside a slot's word: the instruction's, except for an AMO (which has none), where it is the
 * operation (funct5) — what the WebAssembly interpreter dispatches AMOs on.
 */
export function slotImmediate(insn: Insn): number {
  return insn.op === D.OP_AMO_W || insn.op === D.OP_AMO_D ? insn.aux : insn.imm;
}

/** A compiled block: runs from the block start, returns the number of instructions retired. */
export type CompiledBlock = (hart: unknown, budget: number) => number;

export class Block {
  valid = true;
  compiled: CompiledBlock | undefined = undefined;
  /** Compilation was attempted and is not worth retrying. */
  noCompile = false;
  /** The last instruction branches or jumps back to the block's first one. */
  readonly selfLoop: boolean;
  constructor(
    readonly insns: readonly Insn[],
    /** Offset of the block start inside its page. */
    readonly pageOffset: number,
  ) {
    let size = 0;
    for (const insn of insns) size += insn.len;
    const last = insns[insns.length - 1];
    this.selfLoop = last !== undefined && isBranchOrJal(last.op) && size - last.len + last.imm === 0;
  }
}

function isBranchOrJal(op: number): boolean {
  return op === D.OP_JAL || (op >= D.OP_BEQ && op <= D.OP_BGEU);
}

/** Whether an instruction must be the last of its block. */
export function endsBlock(op: number): boolean {
  switch (op) {
    case D.OP_JAL:
    case D.OP_JALR:
    case D.OP_BEQ:
    case D.OP_BNE:
    case D.OP_BLT:
    case D.OP_BGE:
    case D.OP_BLTU:
    case D.OP_BGEU:
    case D.OP_ECALL:
    case D.OP_EBREAK:
    case D.OP_SRET:
    case D.OP_MRET:
    case D.OP_WFI:
    case D.OP_SFENCE_VMA:
    case D.OP_HFENCE_VVMA:
    case D.OP_HFENCE_GVMA:
    case D.OP_FENCE_I:
    case D.OP_CSRRW:
    case D.OP_CSRRS:
    case D.OP_CSRRC:
    case D.OP_CSRRWI:
    case D.OP_CSRRSI:
    case D.OP_CSRRCI:
    case D.OP_ILLEGAL:
      return true;
    default:
      return false;
  }
}

/**
 * Decode a block (for the compiler) starting at `pageOffset` of a page whose bytes are `view` at `base` (the page's first byte).
 * Returns undefined when the first instruction straddles the page end (the caller executes it uncached).
 */
export function buildBlock(view: DataView, base: number, pageOffset: number): Block | undefined {
  const insns: Insn[] = [];
  let off = pageOffset;
  while (insns.length < MAX_BLOCK_INSNS && off < PAGE_SIZE) {
    const low = view.getUint16((base + off) | 0, true);
    let insn: Insn;
    if ((low & 3) === 3) {
      if (off + 4 > PAGE_SIZE) break; // straddles the page end: leave it to the uncached path
      insn = decode32((low | (view.getUint16((base + off + 2) | 0, true) << 16)) >>> 0);
    } else {
      insn = decode16(low);
    }
    insns.push(insn);
    off += insn.len;
    if (endsBlock(insn.op)) break;
  }
  if (insns.length === 0) return undefined;
  return new Block(insns, pageOffset);
}
