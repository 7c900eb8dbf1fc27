/**
 * The WebAssembly tier's code generator: a planned region (region.ts) becomes one module with one exported
 * function,
 *
 *   run(hb: i32, tlb: i32, vbase: f64, entry: i32, limit: i32, n: i32) -> i32
 *
 * which runs the hart whose block (hart-block.ts) is at `hb` from block `entry` of the region, the page being
 * mapped at virtual address `vbase`, through the data TLB whose WebAssembly copy is at `tlb` (tlb.ts), with `n`
 * instructions already retired since the run loop entered the first region of the chain, until control leaves
 * the region and no compiled region can take over (see `emitChain`), an instruction needs the TypeScript hart
 * (and says so), or at least `limit` instructions have retired. It returns the number retired since that entry
 * (n included); the pc to continue at is in the block's HB_NEXT_PC.
 *
 * Inside, the guest registers the region uses live in i64 locals: loaded at entry, stored back at every exit.
 * Control flow is a loop around a `br_table` over the region's blocks, laid out in page order so that falling
 * through into the next block costs nothing; a block that branches to itself gets a loop of its own, and a branch
 * or jump forward to a later block of the region is a plain `br` to that block's label (no dispatch). Integer
 * instructions are compiled inline; loads, stores and AMOs (not LR/SC) probe the TLB inline and call the
 * TypeScript slow path on a miss; every other instruction (CSRs, FP, LR/SC, system, hypervisor accesses) calls
 * `execute`, the reference semantics, after storing the registers it may read and before reloading the one it may
 * write. Calls write the retired count first, so traps and counters see the state the reference interpreter would
 * give them.
 *
 * In-page indirect jumps (JALR) find their block through the page's entry map in the arena (one uint16 per
 * 2-byte slot, NO_BLOCK where no block starts); other targets leave the region, which then tail-calls the target
 * page's region when there is one with a block there (`emitChain`), else returns to the run loop.
 */

import {
  AMO_ADD,
  AMO_AND,
  AMO_MAX,
  AMO_MAXU,
  AMO_MIN,
  AMO_MINU,
  AMO_OR,
  AMO_SWAP,
  AMO_XOR,
} from "../../../arch/riscv64/isa.ts";
import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import { HalError } from "../../types.ts";
import type { Insn } from "../decode.ts";
import * as D from "../decode.ts";
import {
  HB_CHAIN_STOP,
  HB_CHAINS,
  HB_ITLB,
  HB_LOAD_VALUE,
  HB_NEXT_PC,
  HB_REGION,
  HB_RETURN_REASON,
  HB_VBASE,
  HB_X,
} from "../hart-block.ts";
import {
  TLB_MASK,
  WASM_TLB_EXEC_RECORD,
  WASM_TLB_EXEC_TAG,
  WASM_TLB_READ_ADD,
  WASM_TLB_READ_TAG,
  WASM_TLB_WRITE_ADD,
  WASM_TLB_WRITE_TAG,
} from "../tlb.ts";
import { planAccessGroups } from "./access-groups.ts";
import { AtomicOp, F64, type FunctionBody, I32, I64, ModuleBuilder, Op } from "./emit.ts";
import type { RegionPlan } from "./region.ts";

/** The entry map's value for a slot where no block starts. */
export const NO_BLOCK = 0xffff;
/**
 * Bytes of a page's region record in the arena: the entry map, then (at REGION_SLOT_OFFSET) an i32, the region
 * table slot of the page's current region, 0 when it has none (invalidated, or not installed yet). Regions that
 * chain read both through the fetch TLB's WebAssembly copy (tlb.ts WASM_TLB_EXEC_*).
 */
export const ENTRY_MAP_BYTES = PAGE_SIZE + 64;
export const REGION_SLOT_OFFSET = PAGE_SIZE;

/**
 * Why a region returned to the run loop instead of chaining (HB_RETURN_REASON): it left after a call into the
 * TypeScript hart (a trap, an instruction that ends the run, a store into its own page), the limit was reached,
 * a slow path asked it to stop (HB_CHAIN_STOP), the fetch TLB's copy does not map the next pc, the next pc's
 * physical page has no valid region, or that region has no block there.
 */
export const RETURN_CALL = 0;
export const RETURN_LIMIT = 1;
export const RETURN_STOP = 2;
export const RETURN_NO_TLB = 3;
export const RETURN_NO_REGION = 4;
export const RETURN_NO_BLOCK = 5;

/** The parameters of a region's `run` (and of the tail call by which one region chains to the next). */
export const RUN_PARAMS = [I32, I32, F64, I32, I32, I32] as const;

/** Results of the `exec` import (the `EXEC_*` codes of hart.ts). */
const EXEC_NEXT = 0;
/**
 * Results of the `store` import: 2 = retired, but leave the region after it (the region was invalidated, or the
 * store asks for the run to end: a watched range, PhysicalMemory.watchWrites).
 */
const STORE_OK = 0;
const STORE_LEAVE = 2;

/** What the module imports (the WebAssembly tier passes these). */
export const IMPORT_MODULE = "hart";

export interface CompiledRegion {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Every instruction of the region, by the index its calls pass. */
  readonly insns: readonly Insn[];
  /** The page offset of each of those instructions. */
  readonly offsets: readonly number[];
  /** Block index of each block start offset. */
  readonly blockStarts: readonly number[];
}

// sign-extension instructions (from the sign-extension-ops proposal, part of WebAssembly 2.0)
const I64_EXTEND8_S = 0xc2;
const I64_EXTEND16_S = 0xc3;
const I64_EXTEND32_S = 0xc4;

/** Loads: width, the WebAssembly load that does the access and its extension, and the extension of a slow path's value. */
export const LOAD_OPS: Record<number, { width: number; fast: number; extend: number }> = {
  [D.OP_LB]: { width: 1, fast: Op.i64Load8S, extend: I64_EXTEND8_S },
  [D.OP_LH]: { width: 2, fast: Op.i64Load16S, extend: I64_EXTEND16_S },
  [D.OP_LW]: { width: 4, fast: Op.i64Load32S, extend: I64_EXTEND32_S },
  [D.OP_LD]: { width: 8, fast: Op.i64Load, extend: 0 },
  [D.OP_LBU]: { width: 1, fast: Op.i64Load8U, extend: 0 },
  [D.OP_LHU]: { width: 2, fast: Op.i64Load16U, extend: 0 },
  [D.OP_LWU]: { width: 4, fast: Op.i64Load32U, extend: 0 },
};

/** Stores: the WebAssembly store of the access. */
export const STORE_FAST: Record<number, number> = {
  [D.OP_SB]: Op.i64Store8,
  [D.OP_SH]: Op.i64Store16,
  [D.OP_SW]: Op.i64Store32,
  [D.OP_SD]: Op.i64Store,
};

/**
 * Operations compiled inline; every other one calls `exec`. Of the bit-manipulation extensions all but Zbc's
 * carry-less multiplies (rare: CRC and GCM code) are inline.
 */
function isInline(op: number): boolean {
  return (
    (op >= D.OP_LUI && op <= D.OP_REMUW) ||
    op === D.OP_FENCE ||
    (D.isBitmanip(op) && op !== D.OP_CLMUL && op !== D.OP_CLMULH && op !== D.OP_CLMULR)
  );
}

/** Whether a region calls `exec` (the TypeScript hart) for `d`: not compiled inline, or a PAUSE hint (may end the run). */
function callsHart(d: Insn): boolean {
  return !isInline(d.op) || D.isPauseHint(d);
}

/** The atomic read-modify-write (i64 form; +5 is its 32-bit-memory form) of an AMO that shared memory does as one. */
const AMO_RMW: Record<number, number> = {
  [AMO_ADD]: AtomicOp.i64RmwAdd,
  [AMO_SWAP]: AtomicOp.i64RmwXchg,
  [AMO_XOR]: AtomicOp.i64RmwXor,
  [AMO_OR]: AtomicOp.i64RmwOr,
  [AMO_AND]: AtomicOp.i64RmwAnd,
};
/** `i64.atomic.rmw32.*_u` is the i64 form's opcode + 5 (threads proposal: i64, then 8u, 16u, 32u after the i32 forms). */
const RMW32_FROM_RMW64 = 5;

/**
 * Whether AMO `d` is done inline where the data TLB maps its page for writing (else, and on a miss, it calls the
 * hart as before). LR and SC are not: their reservation lives in the TypeScript hart. With harts on threads the
 * operations WebAssembly has as one atomic read-modify-write are, the min/max ones are not. A call into the hart
 * costs ~26 ns once warm (a guest loop of amoadd.w: 27 ns an iteration with the call, 0.9 ns inline); Debian
 * 6.12's boot to init runs 175 k AMOs in regions, mostly AMOADD (reference counts, atomic_t).
 */
function isInlineAmo(d: Insn, threaded: boolean): boolean {
  if (d.op !== D.OP_AMO_W && d.op !== D.OP_AMO_D) return false;
  return isInlineAmoFunct5(d.aux, threaded);
}

/** Whether an AMO with `funct5` is done inline (see isInlineAmo); the WebAssembly interpreter asks it too. */
export function isInlineAmoFunct5(funct5: number, threaded: boolean): boolean {
  if (AMO_RMW[funct5] !== undefined) return true;
  return !threaded && (funct5 === AMO_MIN || funct5 === AMO_MAX || funct5 === AMO_MINU || funct5 === AMO_MAXU);
}

function log2(width: number): number {
  return width === 1 ? 0 : width === 2 ? 1 : width === 4 ? 2 : 3;
}

/** The index `compileRegion` holds for a helper the region does not need. */
const NO_FUNCTION = -1;

function isMulHigh(d: Insn): boolean {
  return d.op === D.OP_MULHU || d.op === D.OP_MULH || d.op === D.OP_MULHSU;
}

/**
 * Define mulhu(a, b) in `m`: the high 64 bits of the unsigned 128-bit product (`emitMulhu`). Returns its index.
 */
function defineMulhu(m: ModuleBuilder): number {
  const { index, body: f } = m.defineFunction([I64, I64], [I64]);
  emitMulhu(f, 0, 1);
  return index;
}

/**
 * Push the high 64 bits of the unsigned 128-bit product of i64 locals `a` and `b`, from 32-bit limbs (inline,
 * with five scratch locals of its own: the WebAssembly interpreter's loop makes no call).
 */
export function emitMulhu(f: FunctionBody, a: number, b: number): void {
  const aLo = f.local(I64);
  const aHi = f.local(I64);
  const bLo = f.local(I64);
  const bHi = f.local(I64);
  const loLo = f.local(I64);
  const hiLo = f.local(I64);
  const cross = f.local(I64);
  const mask = (): void => {
    f.i64(-1, 0).op(Op.i64And);
  };
  f.get(a);
  mask();
  f.set(aLo);
  f.get(a).i64(32, 0).op(Op.i64ShrU).set(aHi);
  f.get(b);
  mask();
  f.set(bLo);
  f.get(b).i64(32, 0).op(Op.i64ShrU).set(bHi);
  f.get(aLo).get(bLo).op(Op.i64Mul).set(loLo);
  f.get(aHi).get(bLo).op(Op.i64Mul).set(hiLo);
  // cross = (loLo >> 32) + (hiLo & 0xffffffff) + aLo * bHi  (cannot overflow)
  f.get(loLo).i64(32, 0).op(Op.i64ShrU).get(hiLo);
  mask();
  f.op(Op.i64Add).get(aLo).get(bHi).op(Op.i64Mul).op(Op.i64Add).set(cross);
  // hi = aHi * bHi + (hiLo >> 32) + (cross >> 32)
  f.get(aHi).get(bHi).op(Op.i64Mul).get(hiLo).i64(32, 0).op(Op.i64ShrU).op(Op.i64Add);
  f.get(cross).i64(32, 0).op(Op.i64ShrU).op(Op.i64Add);
}

/**
 * Generate the module of a region. `entryMapBase` is the arena offset of the page's entry map; the caller fills
 * it from `blockStarts`.
 */
export function compileRegion(plan: RegionPlan, entryMapBase: number, threaded: boolean): CompiledRegion {
  const m = new ModuleBuilder();
  const importLoad = m.importFunction(IMPORT_MODULE, "load", [I32, I32, I32, I32], [I32]);
  const importStore = m.importFunction(IMPORT_MODULE, "store", [I32, I32, I32, I32, I32, I32], [I32]);
  const importExec = m.importFunction(IMPORT_MODULE, "exec", [I32, I32], [I32]);
  m.importMemory(IMPORT_MODULE, "memory", 1, 65536, true);
  m.importTable(IMPORT_MODULE, "regions", 1);

  // Only regions with MULH/MULHU/MULHSU get the helper: every function body is padded to ~100 KB
  // (baseline-only.ts), which the engine parses at every compile (~0.35 ms each on the hart's thread when
  // synchronous).
  const mulhu = plan.blocks.some((b) => b.insns.some(isMulHigh)) ? defineMulhu(m) : NO_FUNCTION;

  const runType = m.type(RUN_PARAMS, [I32]);
  const { index: runIndex, body: f } = m.defineFunction(RUN_PARAMS, [I32]);
  m.exportFunction("run", runIndex);
  const P_HB = 0;
  const P_TLB = 1;
  const P_VBASE = 2;
  const P_ENTRY = 3;
  const P_LIMIT = 4;
  /** Instructions retired since the run loop entered the first region of the chain (the result). */
  const n = 5;
  /** 1 when leaving through $exit (the pc is a plain transfer target): the next region may run from here. */
  const chainable = f.local(I32);
  const next = f.local(I32);
  const exitPc = f.local(I64);
  const vb = f.local(I64);
  const va = f.local(I64);
  const t64 = f.local(I64);
  const u64 = f.local(I64);
  const t32 = f.local(I32);
  const status = f.local(I32);
  /**
   * Locals of access groups (access-groups.ts): whether the group's check passed, and the host address of its
   * lowest offset. Reused once a group's last access is compiled, so a region needs as many as are open at once.
   */
  const freeGroupLocals: { pass: number; host: number }[] = [];

  const blocks = plan.blocks;
  const blockIndex = new Map<number, number>();
  blocks.forEach((b, k) => blockIndex.set(b.start, k));

  // Registers used anywhere in the region get a local each.
  const regLocal = new Int32Array(32).fill(-1);
  const written = new Set<number>();
  const insns: Insn[] = [];
  const offsets: number[] = [];
  /** Index in `insns` of each block's first instruction. */
  const blockFirst: number[] = [];
  for (const b of blocks) {
    blockFirst.push(insns.length);
    b.insns.forEach((d, k) => {
      insns.push(d);
      offsets.push(b.offsets[k] ?? 0);
      for (const r of [d.rd, d.rs1, d.rs2]) if (r !== 0 && regLocal[r] === -1) regLocal[r] = f.local(I64);
      if (d.rd !== 0) written.add(d.rd);
    });
  }
  const local = (r: number): number => regLocal[r] ?? -1;

  // Prologue: registers into locals, vbase as an integer.
  for (let r = 1; r < 32; r++) {
    const l = local(r);
    if (l < 0) continue;
    f.get(P_HB)
      .mem(Op.i64Load, 3, HB_X + 8 * r)
      .set(l);
  }
  f.get(P_VBASE).op(Op.i64TruncF64S).tee(vb).set(exitPc);
  f.get(P_ENTRY).set(next);

  const storeReg = (r: number): void => {
    const l = local(r);
    if (l < 0) return;
    f.get(P_HB)
      .get(l)
      .mem(Op.i64Store, 3, HB_X + 8 * r);
  };
  const reloadReg = (r: number): void => {
    const l = local(r);
    if (l < 0) return;
    f.get(P_HB)
      .mem(Op.i64Load, 3, HB_X + 8 * r)
      .set(l);
  };

  // Structure: block $exitH { block $exit { loop $dispatch { block $b(K-1) ... block $b0 { br_table } code0 } ... } }
  const K = blocks.length;
  const selfLoops = blocks.map((b, k) => targetsOf(b).includes(b.start) && blockIndex.get(b.start) === k);
  f.block(Op.block); // $exitH: the pc is already in HB_NEXT_PC
  f.block(Op.block); // $exit: the pc is in exitPc
  f.block(Op.loop); // $dispatch
  for (let k = K - 1; k >= 0; k--) f.block(Op.block);
  // (The default is never taken: callers pass block indexes. It leaves through $exit.)
  f.get(next).brTable(
    blocks.map((_, k) => k),
    K + 1,
  );
  // `depth` is the number of labels between the current code and $dispatch (exclusive).
  let depth = 0;
  const dispatchDepth = (): number => depth;
  /** The depth of label $b(j) from the code of a block k < j: $b(j)..$b(K-1) are the outermost K-j labels in $dispatch. */
  const blockLabelDepth = (j: number): number => depth - K + j;
  const exitDepth = (): number => depth + 1;
  const exitHDepth = (): number => depth + 2;

  /** Leave through $exit with the pc vbase + off. */
  const exitAt = (off: number): void => {
    f.get(vb).i64n(off).op(Op.i64Add).set(exitPc);
    f.opU(Op.br, exitDepth());
  };
  /** Leave through $exitH (the pc was set by a call) with `retired` instructions of this block done. */
  const exitAfterCall = (retired: number): void => {
    if (retired !== 0) f.get(n).i32(retired).op(Op.i32Add).set(n);
    f.opU(Op.br, exitHDepth());
  };
  /** The block index of a page offset, if a block starts there. */
  const blockAt = (off: number): number | undefined => blockIndex.get(off);
  /**
   * With `va` set: t32 = its data-TLB index, and on the stack whether the entry's `tag` (WASM_TLB_READ_TAG or
   * WASM_TLB_WRITE_TAG) maps va's page for an aligned access of `width` bytes (a misaligned va never matches).
   */
  const probeTlb = (tag: number, width: number): void => emitTlbProbe(f, P_TLB, va, t32, tag, width);
  /** After a hit of `probeTlb`: va's host address on the stack, through the entry's `add` (WASM_TLB_*_ADD). */
  const hostAddress = (add: number): void => emitTlbHost(f, P_TLB, va, t32, add);

  for (let k = 0; k < K; k++) {
    const b = blocks[k];
    if (b === undefined) continue;
    f.op(Op.end); // closes $b(k): its code follows
    depth = K - 1 - k;
    const self = selfLoops[k] === true;
    if (self) {
      f.block(Op.loop);
      depth++;
    }
    const selfBase = depth;
    /** The depth of the block's own loop label from the current code. */
    const selfDepth = (): number => depth - selfBase;
    const L = b.insns.length;
    const firstIndex = blockFirst[k] ?? 0;
    /**
     * Go to page offset `off` after this block's L instructions retired (they are counted here). With
     * `atEnd`, the code is the block's last and may fall through into the next block when that is the target.
     */
    const transfer = (off: number, atEnd: boolean): void => {
      const target = blockAt(off);
      if (atEnd && target === k + 1 && off < PAGE_SIZE) {
        // Forward, into the next block: no limit check needed (a straight run is bounded by the page).
        f.get(n).i32(L).op(Op.i32Add).set(n);
        return;
      }
      f.get(n).i32(L).op(Op.i32Add).tee(n).get(P_LIMIT).op(Op.i32GeS);
      f.block(Op.if);
      depth++;
      exitAt(off);
      f.op(Op.end);
      depth--;
      if (target === undefined || off >= PAGE_SIZE) {
        exitAt(off);
      } else if (target === k && self) {
        f.opU(Op.br, selfDepth());
      } else if (target > k) {
        // Forward: the label $b(target) still encloses this code and its end is where that block's code starts,
        // so a plain `br` gets there without the dispatch loop's br_table.
        f.opU(Op.br, blockLabelDepth(target));
      } else {
        f.i32(target).set(next);
        f.opU(Op.br, dispatchDepth());
      }
    };
    let ended = false;
    /**
     * A register whose new value the previous instruction left on the stack instead of setting its local: the
     * first operand this instruction pushes (see `forwardedOperand`), which it takes with `local.tee`. Baseline
     * wasm compilers keep locals in stack slots, so a result used by the next instruction then skips a store
     * and reload on the dependency chain.
     */
    let forwarded = -1;
    const access = planAccessGroups(b.insns, (d) => !callsHart(d));
    const groupLocals = access.groups.map(() => ({ pass: -1, host: -1 }));
    /** Whether instruction `j` of the block is an access group's member other than its first. */
    const laterMember = (j: number): boolean => {
      const g = access.groups[access.groupOf[j] ?? -1];
      return g !== undefined && g.members[0] !== j;
    };
    for (let i = 0; i < L && !ended; i++) {
      const d = b.insns[i];
      const off = b.offsets[i] ?? 0;
      if (d === undefined) continue;
      const idx = firstIndex + i;
      const { rd, rs1, rs2, imm } = d;
      const getReg = (r: number): void => {
        if (r === 0) f.i64(0, 0);
        else if (r === forwarded) {
          f.tee(local(r));
          forwarded = -1;
        } else f.get(local(r));
      };
      const setRd = (): void => {
        // The value is on the stack.
        if (rd === 0) f.op(Op.drop);
        else if (i + 1 < L && !laterMember(i + 1) && forwardedOperand(b.insns[i + 1], rd) !== FORWARD_NONE)
          forwarded = rd;
        else f.set(local(rd));
      };
      /** The operands of a two-register operation in push order: rs2 first when it is the forwarded one. */
      const pushPair = (): void => {
        if (forwarded !== -1 && forwarded === rs2 && forwarded !== rs1) {
          getReg(rs2);
          getReg(rs1);
        } else {
          getReg(rs1);
          getReg(rs2);
        }
      };
      /**
       * For a member of an access group (access-groups.ts): at its first access, compute whether every access of
       * the group lies in one page the data TLB maps for its kind, with the base aligned for all of them, and the
       * host address of the group's lowest offset; after its last, free its locals. Returns its locals and lowest
       * offset, or undefined for an access outside any group.
       */
      const groupAccess = (): { pass: number; host: number; minOffset: number } | undefined => {
        const gi = access.groupOf[i] ?? -1;
        const g = access.groups[gi];
        const locals = groupLocals[gi];
        if (g === undefined || locals === undefined) return undefined;
        if (g.members[0] === i) {
          const free = freeGroupLocals.pop() ?? { pass: f.local(I32), host: f.local(I32) };
          locals.pass = free.pass;
          locals.host = free.host;
          const tag = g.store ? WASM_TLB_WRITE_TAG : WASM_TLB_READ_TAG;
          const add = g.store ? WASM_TLB_WRITE_ADD : WASM_TLB_READ_ADD;
          // va = base + lowest offset (the first push: it takes a forwarded base); t32 = its TLB index.
          getReg(g.base);
          f.i64(g.minOffset, g.minOffset >> 31)
            .op(Op.i64Add)
            .set(va);
          f.get(va).op(Op.i32WrapI64).i32(12).op(Op.i32ShrU).i32(TLB_MASK).op(Op.i32And).set(t32);
          // host = wrap(va) + the entry's offset (read even when the entry is for another page: never used then)
          f.get(va).op(Op.i32WrapI64);
          f.get(P_TLB).get(t32).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, add);
          f.op(Op.i32Add).set(locals.host);
          // pass = the entry maps va's page && the group ends in it && the base is aligned for every member
          f.get(P_TLB).get(t32).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.i64Load, 3, tag);
          f.get(va).i64(-4096, -1).op(Op.i64And).op(Op.i64Eq);
          f.get(va)
            .op(Op.i32WrapI64)
            .i32(PAGE_SIZE - 1)
            .op(Op.i32And)
            .i32(g.endOffset - g.minOffset)
            .op(Op.i32Add)
            .i32(PAGE_SIZE)
            .op(Op.i32LeU)
            .op(Op.i32And);
          f.get(va)
            .op(Op.i32WrapI64)
            .i32(g.align - 1)
            .op(Op.i32And)
            .i32(g.minOffset & (g.align - 1))
            .op(Op.i32Eq)
            .op(Op.i32And)
            .set(locals.pass);
        }
        if (g.members[g.members.length - 1] === i) freeGroupLocals.push({ pass: locals.pass, host: locals.host });
        return { pass: locals.pass, host: locals.host, minOffset: g.minOffset };
      };
      if (forwarded !== -1 && forwardedOperand(d, forwarded) === FORWARD_NONE) {
        throw new HalError(
          "emulated",
          "state",
          "compileRegion",
          `Cannot compile the region: x${forwarded} was left on the stack for the instruction at page offset ${off} (op ${d.op}), which cannot take it`,
        );
      }
      const immHi = imm >> 31;
      const last = i === L - 1;
      /** The reference semantics through `exec`: store what it may read, reload what it may write. */
      const callExec = (): void => {
        for (const r of new Set([rs1, rs2, rd])) if (r !== 0) storeReg(r);
        f.i32(idx).get(n).i32(i).op(Op.i32Add).opU(Op.call, importExec).set(status);
        if (rd !== 0) reloadReg(rd);
        f.get(status).i32(EXEC_NEXT).op(Op.i32Ne);
        f.block(Op.if);
        depth++;
        // EXEC_END retired it; EXEC_TRAP did not. Either way the call left the pc.
        f.get(status).i32(1).op(Op.i32Eq).get(n).op(Op.i32Add).i32(i).op(Op.i32Add).set(n);
        f.opU(Op.br, exitHDepth());
        f.op(Op.end);
        depth--;
      };
      if (isInlineAmo(d, threaded)) {
        const width = d.op === D.OP_AMO_W ? 4 : 8;
        // va = rs1 (an AMO has no offset); on a write-TLB hit for the aligned access, t32 = its host address.
        getReg(rs1);
        f.set(va);
        probeTlb(WASM_TLB_WRITE_TAG, width);
        f.block(Op.if);
        depth++;
        hostAddress(WASM_TLB_WRITE_ADD);
        f.set(t32);
        emitAmo(f, d.aux, width, threaded, t32, t64, () => getReg(rs2));
        // The old value (sign-extended for a word) is on the stack.
        if (rd === 0) f.op(Op.drop);
        else f.set(local(rd));
        f.op(Op.else);
        callExec();
        f.op(Op.end);
        depth--;
        if (last) {
          ended = true;
          transfer(b.end, true);
        }
        continue;
      }
      // A PAUSE hint goes to the hart (it may end the run: pauseHint in hart.ts).
      if (callsHart(d)) {
        callExec();
        if (last) {
          ended = true;
          transfer(b.end, true);
        }
        continue;
      }
      switch (d.op) {
        case D.OP_LUI:
          f.i64(imm, immHi);
          setRd();
          break;
        case D.OP_AUIPC:
          f.get(vb)
            .i64n(off + imm)
            .op(Op.i64Add);
          setRd();
          break;
        case D.OP_ADDI:
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64Add);
          setRd();
          break;
        case D.OP_SLTI:
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64LtS).op(Op.i64ExtendI32U);
          setRd();
          break;
        case D.OP_SLTIU:
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64LtU).op(Op.i64ExtendI32U);
          setRd();
          break;
        case D.OP_XORI:
        case D.OP_ORI:
        case D.OP_ANDI:
          getReg(rs1);
          f.i64(imm, immHi).op(d.op === D.OP_XORI ? Op.i64Xor : d.op === D.OP_ORI ? Op.i64Or : Op.i64And);
          setRd();
          break;
        case D.OP_SLLI:
        case D.OP_SRLI:
        case D.OP_SRAI:
          getReg(rs1);
          f.i64(imm & 63, 0).op(d.op === D.OP_SLLI ? Op.i64Shl : d.op === D.OP_SRLI ? Op.i64ShrU : Op.i64ShrS);
          setRd();
          break;
        case D.OP_ADD:
        case D.OP_SUB:
        case D.OP_SLL:
        case D.OP_XOR:
        case D.OP_SRL:
        case D.OP_SRA:
        case D.OP_OR:
        case D.OP_AND:
        case D.OP_MUL:
          if (COMMUTATIVE.has(d.op)) pushPair();
          else {
            getReg(rs1);
            getReg(rs2);
          }
          f.op(BINARY64[d.op] ?? Op.unreachable);
          setRd();
          break;
        case D.OP_SLT:
        case D.OP_SLTU:
          getReg(rs1);
          getReg(rs2);
          f.op(d.op === D.OP_SLT ? Op.i64LtS : Op.i64LtU).op(Op.i64ExtendI32U);
          setRd();
          break;
        case D.OP_ADDIW:
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64Add).op(I64_EXTEND32_S);
          setRd();
          break;
        case D.OP_SLLIW:
          getReg(rs1);
          f.i64(imm & 31, 0)
            .op(Op.i64Shl)
            .op(I64_EXTEND32_S);
          setRd();
          break;
        case D.OP_SRLIW:
        case D.OP_SRAIW:
          getReg(rs1);
          f.op(Op.i32WrapI64)
            .i32(imm & 31)
            .op(d.op === D.OP_SRLIW ? Op.i32ShrU : Op.i32ShrS)
            .op(Op.i64ExtendI32S);
          setRd();
          break;
        case D.OP_ADDW:
        case D.OP_SUBW:
        case D.OP_MULW:
          if (COMMUTATIVE.has(d.op)) pushPair();
          else {
            getReg(rs1);
            getReg(rs2);
          }
          f.op(d.op === D.OP_ADDW ? Op.i64Add : d.op === D.OP_SUBW ? Op.i64Sub : Op.i64Mul).op(I64_EXTEND32_S);
          setRd();
          break;
        case D.OP_SLLW:
        case D.OP_SRLW:
        case D.OP_SRAW:
          getReg(rs1);
          f.op(Op.i32WrapI64);
          getReg(rs2);
          f.op(Op.i32WrapI64);
          f.op(d.op === D.OP_SLLW ? Op.i32Shl : d.op === D.OP_SRLW ? Op.i32ShrU : Op.i32ShrS).op(Op.i64ExtendI32S);
          setRd();
          break;
        case D.OP_MULHU:
        case D.OP_MULH:
        case D.OP_MULHSU:
          emitMulHigh(
            f,
            d.op,
            () => getReg(rs1),
            () => getReg(rs2),
            () => {
              f.get(t64).get(u64).opU(Op.call, mulhu);
            },
            t64,
            u64,
          );
          setRd();
          break;
        case D.OP_DIV:
        case D.OP_DIVU:
        case D.OP_REM:
        case D.OP_REMU:
          emitDiv64(
            f,
            d.op,
            () => getReg(rs1),
            () => getReg(rs2),
            t64,
            u64,
          );
          setRd();
          break;
        case D.OP_DIVW:
        case D.OP_DIVUW:
        case D.OP_REMW:
        case D.OP_REMUW:
          emitDiv32(
            f,
            d.op,
            () => getReg(rs1),
            () => getReg(rs2),
            t32,
            status,
          );
          setRd();
          break;
        case D.OP_FENCE:
          if (threaded) f.atomicFence();
          break;
        case D.OP_LB:
        case D.OP_LH:
        case D.OP_LW:
        case D.OP_LD:
        case D.OP_LBU:
        case D.OP_LHU:
        case D.OP_LWU: {
          const info = LOAD_OPS[d.op];
          if (info === undefined) break;
          const group = groupAccess();
          if (group !== undefined) {
            // The group's check passed: one load at a constant offset from its host address.
            f.get(group.pass);
            f.block(Op.if, I64);
            depth++;
            f.get(group.host).mem(info.fast, log2(info.width), imm - group.minOffset);
            f.op(Op.else);
          }
          // va = rs1 + imm; i = (wrap(va) >>> 12) & TLB_MASK
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64Add).set(va);
          probeTlb(WASM_TLB_READ_TAG, info.width);
          f.block(Op.if, I64);
          depth++;
          hostAddress(WASM_TLB_READ_ADD);
          f.mem(info.fast, log2(info.width), 0);
          f.op(Op.else);
          f.i32(idx).get(va).op(Op.i32WrapI64).get(va).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
          f.get(n).i32(i).op(Op.i32Add).opU(Op.call, importLoad);
          f.block(Op.if);
          depth++;
          exitAfterCall(i);
          f.op(Op.end);
          depth--;
          f.get(P_HB).mem(Op.i64Load, 3, HB_LOAD_VALUE);
          if (info.extend !== 0) f.op(info.extend);
          f.op(Op.end);
          depth--;
          if (group !== undefined) {
            f.op(Op.end);
            depth--;
          }
          setRd();
          break;
        }
        case D.OP_SB:
        case D.OP_SH:
        case D.OP_SW:
        case D.OP_SD: {
          const width = 1 << (d.op - D.OP_SB);
          const group = groupAccess();
          if (group !== undefined) {
            // The group's check passed: one store at a constant offset from its host address.
            f.get(group.pass);
            f.block(Op.if);
            depth++;
            f.get(group.host);
            getReg(rs2);
            f.mem(STORE_FAST[d.op] ?? Op.unreachable, log2(width), imm - group.minOffset);
            f.op(Op.else);
          }
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64Add).set(va);
          probeTlb(WASM_TLB_WRITE_TAG, width);
          f.block(Op.if);
          depth++;
          hostAddress(WASM_TLB_WRITE_ADD);
          getReg(rs2);
          f.mem(STORE_FAST[d.op] ?? Op.unreachable, log2(width), 0);
          f.op(Op.else);
          f.i32(idx).get(va).op(Op.i32WrapI64).get(va).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
          getReg(rs2);
          f.op(Op.i32WrapI64);
          getReg(rs2);
          f.i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
          f.get(n).i32(i).op(Op.i32Add).opU(Op.call, importStore).tee(status);
          f.i32(STORE_OK).op(Op.i32Ne);
          f.block(Op.if);
          depth++;
          // Not retired (trap, MMIO stop), or retired and the region must be left (STORE_LEAVE).
          f.get(status).i32(STORE_LEAVE).op(Op.i32Eq);
          f.block(Op.if);
          depth++;
          f.get(n)
            .i32(i + 1)
            .op(Op.i32Add)
            .set(n);
          exitAt(off + d.len);
          f.op(Op.end);
          depth--;
          exitAfterCall(i);
          f.op(Op.end);
          depth--;
          f.op(Op.end);
          depth--;
          if (group !== undefined) {
            f.op(Op.end);
            depth--;
          }
          break;
        }
        case D.OP_JAL: {
          if (rd !== 0) {
            f.get(vb)
              .i64n(off + d.len)
              .op(Op.i64Add);
            setRd();
          }
          ended = true;
          transfer(off + imm, true);
          break;
        }
        case D.OP_JALR: {
          // t = (rs1 + imm) & ~1, computed before rd is written (rd may be rs1).
          getReg(rs1);
          f.i64(imm, immHi).op(Op.i64Add).i64(-2, -1).op(Op.i64And).set(t64);
          if (rd !== 0) {
            f.get(vb)
              .i64n(off + d.len)
              .op(Op.i64Add);
            setRd();
          }
          f.get(n).i32(L).op(Op.i32Add).set(n);
          // In this page and a block starts there: go on inside; otherwise leave with the pc.
          f.get(t64).set(exitPc);
          f.get(n).get(P_LIMIT).op(Op.i32LtS);
          f.get(t64).get(vb).op(Op.i64Sub).i64(PAGE_SIZE, 0).op(Op.i64LtU).op(Op.i32And);
          f.block(Op.if);
          depth++;
          f.get(t64).get(vb).op(Op.i64Sub).op(Op.i32WrapI64).mem(Op.i32Load16U, 1, entryMapBase);
          f.tee(next).i32(NO_BLOCK).op(Op.i32Ne).opU(Op.brIf, dispatchDepth());
          f.op(Op.end);
          depth--;
          f.opU(Op.br, exitDepth());
          ended = true;
          break;
        }
        case D.OP_BEQ:
        case D.OP_BNE:
        case D.OP_BLT:
        case D.OP_BGE:
        case D.OP_BLTU:
        case D.OP_BGEU: {
          if (COMMUTATIVE.has(d.op)) pushPair();
          else {
            getReg(rs1);
            getReg(rs2);
          }
          f.op(BRANCH_CMP[d.op] ?? Op.unreachable);
          f.block(Op.if);
          depth++;
          transfer(off + imm, false);
          f.op(Op.end);
          depth--;
          ended = true;
          transfer(off + d.len, true);
          break;
        }
        default:
          if (D.isBitmanip(d.op)) {
            emitBitmanip(f, d, getReg, t64);
            setRd();
          } else f.op(Op.unreachable);
      }
      if (forwarded !== -1 && forwarded !== rd) {
        throw new HalError(
          "emulated",
          "state",
          "compileRegion",
          `Cannot compile the region: x${forwarded} was left on the stack but the instruction at page offset ${off} (op ${d.op}) did not take it`,
        );
      }
      if (last && !ended) {
        ended = true;
        // Falls off its end: into the next block when it starts right here, else a transfer.
        transfer(b.end, true);
      }
    }
    if (self) {
      // Falling out of the block's own loop falls into the next block's code.
      f.op(Op.end);
      depth--;
    }
  }
  f.op(Op.end); // $dispatch (nothing falls out of the last block)
  f.op(Op.unreachable);
  f.op(Op.end); // $exit
  f.get(P_HB).get(exitPc).op(Op.f64ConvertI64S).mem(Op.f64Store, 3, HB_NEXT_PC);
  f.i32(1).set(chainable);
  f.op(Op.end); // $exitH
  for (const r of written) storeReg(r);
  emitChain(f, {
    chainable,
    exitPc,
    vpage: vb,
    itlb: t32,
    tlbIndex: next,
    record: status,
    reason: f.local(I32),
    runType,
  });
  f.get(n);
  return { bytes: m.encode(), insns, offsets, blockStarts: blocks.map((b) => b.start) };
}

/**
 * The end of a region left through $exit (a branch, jump or fall-through to `exitPc`, below the limit, with the
 * registers stored): if the run loop has not asked to stop chaining (HB_CHAIN_STOP), the fetch TLB's WebAssembly
 * copy maps the page of `exitPc` (same translation context: the copy is the current set's, HB_ITLB), that
 * physical page has a valid region (its record's slot is nonzero: invalidation clears it) and a block of it starts
 * at `exitPc`, tail-call that region there. Otherwise fall through to returning to the run loop. A hit in the copy
 * is a hit in the TypeScript fetch TLB (both are filled and emptied together), so the next region runs exactly
 * where the run loop would have entered it, without the run loop's checks between — which only matter when a
 * slow path set HB_CHAIN_STOP or the limit (the next timer check) is reached, both checked here.
 */
function emitChain(
  f: FunctionBody,
  l: {
    readonly chainable: number;
    readonly exitPc: number;
    readonly vpage: number;
    readonly itlb: number;
    readonly tlbIndex: number;
    readonly record: number;
    readonly reason: number;
    readonly runType: number;
  },
): void {
  const P_HB = 0;
  const P_TLB = 1;
  const P_LIMIT = 4;
  const n = 5;
  /** Set `reason`, then leave $fail if the value on the stack is nonzero. */
  const failIf = (): void => {
    f.opU(Op.brIf, 0);
  };
  const reason = (r: number): void => {
    f.i32(r).set(l.reason);
  };
  f.block(Op.block); // $fail
  reason(RETURN_CALL);
  f.get(l.chainable).op(Op.i32Eqz);
  failIf();
  reason(RETURN_LIMIT);
  f.get(n).get(P_LIMIT).op(Op.i32GeS);
  failIf();
  reason(RETURN_STOP);
  f.get(P_HB).mem(Op.i32Load, 2, HB_CHAIN_STOP);
  failIf();
  reason(RETURN_NO_TLB);
  f.get(P_HB).mem(Op.i32Load, 2, HB_ITLB).tee(l.itlb).op(Op.i32Eqz);
  failIf();
  f.get(l.exitPc).op(Op.i32WrapI64).i32(12).op(Op.i32ShrU).i32(TLB_MASK).op(Op.i32And).set(l.tlbIndex);
  f.get(l.exitPc).i64(-4096, -1).op(Op.i64And).set(l.vpage);
  f.get(l.itlb).get(l.tlbIndex).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.i64Load, 3, WASM_TLB_EXEC_TAG);
  f.get(l.vpage).op(Op.i64Ne);
  failIf();
  reason(RETURN_NO_REGION);
  f.get(l.itlb).get(l.tlbIndex).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, WASM_TLB_EXEC_RECORD);
  f.tee(l.record).op(Op.i32Eqz);
  failIf();
  // The region's table slot (reusing `itlb`), then the block at the pc's slot (reusing `tlbIndex`).
  f.get(l.record).mem(Op.i32Load, 2, REGION_SLOT_OFFSET).tee(l.itlb).op(Op.i32Eqz);
  failIf();
  reason(RETURN_NO_BLOCK);
  f.get(l.record)
    .get(l.exitPc)
    .op(Op.i32WrapI64)
    .i32(PAGE_SIZE - 1)
    .op(Op.i32And)
    .op(Op.i32Add);
  f.mem(Op.i32Load16U, 1, 0).tee(l.tlbIndex).i32(NO_BLOCK).op(Op.i32Eq);
  failIf();
  f.get(P_HB).get(l.vpage).op(Op.f64ConvertI64S).mem(Op.f64Store, 3, HB_VBASE);
  f.get(P_HB).get(l.itlb).mem(Op.i32Store, 2, HB_REGION);
  f.get(P_HB).get(P_HB).mem(Op.i32Load, 2, HB_CHAINS).i32(1).op(Op.i32Add).mem(Op.i32Store, 2, HB_CHAINS);
  f.get(P_HB).get(P_TLB).get(l.vpage).op(Op.f64ConvertI64S).get(l.tlbIndex).get(P_LIMIT).get(n).get(l.itlb);
  f.callIndirect(Op.returnCallIndirect, l.runType, 0);
  f.op(Op.end); // $fail
  f.get(P_HB).get(l.reason).mem(Op.i32Store, 2, HB_RETURN_REASON);
}

/**
 * The memory part of an AMO of `width` bytes with `funct5` at host address `host` (aligned, in RAM the hart may
 * write): reads the old value, writes the new one, and leaves the old value on the stack, sign-extended from 32
 * bits for a word (what rd gets). `pushRs2` pushes rs2. With `threaded`, one atomic read-modify-write (only the
 * operations isInlineAmo allows there); else a load and a store, as the interpreters do.
 */
export function emitAmo(
  f: FunctionBody,
  funct5: number,
  width: number,
  threaded: boolean,
  host: number,
  old: number,
  pushRs2: () => void,
): void {
  const word = width === 4;
  const align = word ? 2 : 3;
  if (threaded) {
    const rmw = AMO_RMW[funct5];
    if (rmw === undefined) {
      throw new HalError(
        "emulated",
        "state",
        "compileRegion",
        `Cannot compile AMO funct5 ${funct5} as one atomic operation`,
      );
    }
    f.get(host);
    pushRs2();
    f.atomic(word ? rmw + RMW32_FROM_RMW64 : rmw, align, 0);
    if (word) f.op(I64_EXTEND32_S);
    return;
  }
  f.get(host)
    .mem(word ? Op.i64Load32S : Op.i64Load, align, 0)
    .set(old);
  f.get(host);
  /** rs2 as the operation compares it: a word's low 32 bits, sign- or zero-extended. */
  const operand = (signed: boolean): void => {
    pushRs2();
    if (word) {
      if (signed) f.op(I64_EXTEND32_S);
      else f.i64(-1, 0).op(Op.i64And);
    }
  };
  const oldOperand = (signed: boolean): void => {
    f.get(old);
    if (word && !signed) f.i64(-1, 0).op(Op.i64And);
  };
  switch (funct5) {
    case AMO_SWAP:
      pushRs2();
      break;
    case AMO_ADD:
    case AMO_XOR:
    case AMO_OR:
    case AMO_AND:
      f.get(old);
      pushRs2();
      f.op(funct5 === AMO_ADD ? Op.i64Add : funct5 === AMO_XOR ? Op.i64Xor : funct5 === AMO_OR ? Op.i64Or : Op.i64And);
      break;
    default: {
      // min/max: select(old, rs2, old <> rs2), compared signed or unsigned as the operation says.
      const signed = funct5 === AMO_MIN || funct5 === AMO_MAX;
      const keepOldIfLess = funct5 === AMO_MIN || funct5 === AMO_MINU;
      f.get(old);
      pushRs2();
      oldOperand(signed);
      operand(signed);
      f.op(keepOldIfLess ? (signed ? Op.i64LtS : Op.i64LtU) : signed ? Op.i64GtS : Op.i64GtU);
      f.op(Op.select);
    }
  }
  // (A word's store keeps the low 32 bits: the same as the 32-bit operation for each of these.)
  f.mem(word ? Op.i64Store32 : Op.i64Store, align, 0);
  f.get(old);
}

/** In-page targets of a block's last instruction (for self-loop detection). */
function targetsOf(b: { readonly insns: readonly Insn[]; readonly offsets: readonly number[] }): number[] {
  const last = b.insns[b.insns.length - 1];
  const off = b.offsets[b.offsets.length - 1] ?? 0;
  if (last === undefined) return [];
  if (last.op === D.OP_JAL || (last.op >= D.OP_BEQ && last.op <= D.OP_BGEU)) return [off + last.imm];
  return [];
}

/** Operations whose two register operands may be pushed in either order (see `pushPair`). */
const COMMUTATIVE = new Set([
  D.OP_ADD,
  D.OP_XOR,
  D.OP_OR,
  D.OP_AND,
  D.OP_MUL,
  D.OP_ADDW,
  D.OP_MULW,
  D.OP_BEQ,
  D.OP_BNE,
]);

/** `forwardedOperand`'s answer when an instruction cannot take register `r` from the stack. */
const FORWARD_NONE = 0;
const FORWARD_RS1 = 1;
const FORWARD_RS2 = 2;

/**
 * Whether instruction `d` (compiled inline, no call first) can take the new value of register `r` (nonzero) from
 * the stack: its first push must be `r` — its rs1, or its rs2 when the operation is commutative (pushPair).
 */
function forwardedOperand(d: Insn | undefined, r: number): number {
  if (d === undefined) return FORWARD_NONE;
  const op = d.op;
  const simple =
    (op >= D.OP_ADDI && op <= D.OP_SRAI) ||
    (op >= D.OP_ADD && op <= D.OP_AND) ||
    op === D.OP_MUL ||
    op === D.OP_ADDIW ||
    op === D.OP_SLLIW ||
    op === D.OP_SRLIW ||
    op === D.OP_SRAIW ||
    op === D.OP_ADDW ||
    op === D.OP_SUBW ||
    op === D.OP_MULW ||
    (op >= D.OP_BEQ && op <= D.OP_BGEU) ||
    (op >= D.OP_LB && op <= D.OP_LWU) ||
    (op >= D.OP_SB && op <= D.OP_SD);
  if (!simple) return FORWARD_NONE;
  if (d.rs1 === r) return FORWARD_RS1;
  if (d.rs2 === r && COMMUTATIVE.has(op)) return FORWARD_RS2;
  return FORWARD_NONE;
}

/** Register-register operations on whole registers: the WebAssembly operation. */
export const BINARY64: Record<number, number> = {
  [D.OP_ADD]: Op.i64Add,
  [D.OP_SUB]: Op.i64Sub,
  [D.OP_SLL]: Op.i64Shl,
  [D.OP_XOR]: Op.i64Xor,
  [D.OP_SRL]: Op.i64ShrU,
  [D.OP_SRA]: Op.i64ShrS,
  [D.OP_OR]: Op.i64Or,
  [D.OP_AND]: Op.i64And,
  [D.OP_MUL]: Op.i64Mul,
};

/** Branches: the WebAssembly comparison that takes them. */
export const BRANCH_CMP: Record<number, number> = {
  [D.OP_BEQ]: Op.i64Eq,
  [D.OP_BNE]: Op.i64Ne,
  [D.OP_BLT]: Op.i64LtS,
  [D.OP_BGE]: Op.i64GeS,
  [D.OP_BLTU]: Op.i64LtU,
  [D.OP_BGEU]: Op.i64GeU,
};

/**
 * With the virtual address in local `va` (i64): local `t32` = its index in the data TLB whose WebAssembly copy's
 * offset is in local `tlb`, and on the stack whether that entry's `tag` (WASM_TLB_READ_TAG or WASM_TLB_WRITE_TAG)
 * maps va's page for an aligned access of `width` bytes (a misaligned va never matches). Regions and the
 * WebAssembly interpreter (interp-module.ts) probe the TLB with it.
 */
export function emitTlbProbe(f: FunctionBody, tlb: number, va: number, t32: number, tag: number, width: number): void {
  f.get(va).op(Op.i32WrapI64).i32(12).op(Op.i32ShrU).i32(TLB_MASK).op(Op.i32And).set(t32);
  f.get(tlb).get(t32).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.i64Load, 3, tag);
  f.get(va)
    .i64(-4096 | (width - 1), -1)
    .op(Op.i64And)
    .op(Op.i64Eq);
}

/** After a hit of `emitTlbProbe`: va's host address on the stack, through the entry's `add` (WASM_TLB_*_ADD). */
export function emitTlbHost(f: FunctionBody, tlb: number, va: number, t32: number, add: number): void {
  f.get(va).op(Op.i32WrapI64);
  f.get(tlb).get(t32).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, add);
  f.op(Op.i32Add);
}

/**
 * MULH/MULHU/MULHSU: mulhu(a, b), minus b when a is negative (signed a), minus a when b is negative (MULH).
 * `mulhu` pushes mulhu(ta, tb): a call, or `emitMulhu` inline.
 */
export function emitMulHigh(
  f: FunctionBody,
  op: number,
  a: () => void,
  b: () => void,
  mulhu: () => void,
  ta: number,
  tb: number,
): void {
  a();
  f.set(ta);
  b();
  f.set(tb);
  mulhu();
  if (op === D.OP_MULH || op === D.OP_MULHSU) {
    // - (a < 0 ? b : 0)
    f.get(tb).get(ta).i64(63, 0).op(Op.i64ShrS).op(Op.i64And).op(Op.i64Sub);
  }
  if (op === D.OP_MULH) {
    f.get(ta).get(tb).i64(63, 0).op(Op.i64ShrS).op(Op.i64And).op(Op.i64Sub);
  }
}

/** DIV/DIVU/REM/REMU with RISC-V's results for division by zero and signed overflow (no wasm trap). */
export function emitDiv64(f: FunctionBody, op: number, a: () => void, b: () => void, ta: number, tb: number): void {
  a();
  f.set(ta);
  b();
  f.set(tb);
  f.get(tb).op(Op.i64Eqz);
  f.block(Op.if, I64);
  // Division by zero: DIV/DIVU give all ones, REM/REMU the dividend.
  if (op === D.OP_DIV || op === D.OP_DIVU) f.i64(-1, -1);
  else f.get(ta);
  f.op(Op.else);
  if (op === D.OP_DIV) {
    // MIN / -1 = MIN (wasm's div_s would trap).
    f.get(ta)
      .i64(0, -(2 ** 31))
      .op(Op.i64Eq)
      .get(tb)
      .i64(-1, -1)
      .op(Op.i64Eq)
      .op(Op.i32And);
    f.block(Op.if, I64);
    f.get(ta);
    f.op(Op.else);
    f.get(ta).get(tb).op(Op.i64DivS);
    f.op(Op.end);
  } else {
    f.get(ta).get(tb);
    // i64.rem_s of MIN by -1 is 0 in wasm (no trap), as RISC-V wants.
    f.op(op === D.OP_DIVU ? Op.i64DivU : op === D.OP_REM ? Op.i64RemS : Op.i64RemU);
  }
  f.op(Op.end);
}

/** DIVW/DIVUW/REMW/REMUW on the low words, the result sign-extended. */
export function emitDiv32(f: FunctionBody, op: number, a: () => void, b: () => void, ta: number, tb: number): void {
  a();
  f.op(Op.i32WrapI64).set(ta);
  b();
  f.op(Op.i32WrapI64).set(tb);
  f.get(tb).op(Op.i32Eqz);
  f.block(Op.if, I32);
  if (op === D.OP_DIVW || op === D.OP_DIVUW) f.i32(-1);
  else f.get(ta);
  f.op(Op.else);
  if (op === D.OP_DIVW) {
    f.get(ta)
      .i32(-(2 ** 31))
      .op(Op.i32Eq)
      .get(tb)
      .i32(-1)
      .op(Op.i32Eq)
      .op(Op.i32And);
    f.block(Op.if, I32);
    f.get(ta);
    f.op(Op.else);
    f.get(ta).get(tb).op(Op.i32DivS);
    f.op(Op.end);
  } else {
    f.get(ta).get(tb);
    f.op(op === D.OP_DIVUW ? Op.i32DivU : op === D.OP_REMW ? Op.i32RemS : Op.i32RemU);
  }
  f.op(Op.end);
  f.op(Op.i64ExtendI32S);
}

/** Push zext32(rs1) (the .UW forms' operand). */
function zext32(f: FunctionBody, getRs1: () => void): void {
  getRs1();
  f.op(Op.i32WrapI64).op(Op.i64ExtendI32U);
}

/**
 * The bit-manipulation instructions compiled inline (isInline): the result is left on the stack. `t` is a
 * scratch i64 local. Semantics as in bitmanip.ts (the reference), which the differential tests compare against.
 */
function emitBitmanip(f: FunctionBody, d: Insn, getReg: (r: number) => void, t: number): void {
  const a = (): void => getReg(d.rs1);
  const b = (): void => getReg(d.rs2);
  const imm = d.imm;
  switch (d.op) {
    case D.OP_SHADD:
      a();
      f.i64(imm, 0).op(Op.i64Shl);
      b();
      f.op(Op.i64Add);
      return;
    case D.OP_SHADD_UW:
      zext32(f, a);
      if (imm !== 0) f.i64(imm, 0).op(Op.i64Shl);
      b();
      f.op(Op.i64Add);
      return;
    case D.OP_SLLI_UW:
      zext32(f, a);
      f.i64(imm & 63, 0).op(Op.i64Shl);
      return;
    case D.OP_ANDN:
    case D.OP_ORN:
      a();
      b();
      f.i64(-1, -1).op(Op.i64Xor);
      f.op(d.op === D.OP_ANDN ? Op.i64And : Op.i64Or);
      return;
    case D.OP_XNOR:
      a();
      b();
      f.op(Op.i64Xor).i64(-1, -1).op(Op.i64Xor);
      return;
    case D.OP_CLZ:
    case D.OP_CTZ:
    case D.OP_CPOP:
      a();
      f.op(d.op === D.OP_CLZ ? Op.i64Clz : d.op === D.OP_CTZ ? Op.i64Ctz : Op.i64Popcnt);
      return;
    case D.OP_CLZW:
    case D.OP_CTZW:
    case D.OP_CPOPW:
      a();
      f.op(Op.i32WrapI64);
      f.op(d.op === D.OP_CLZW ? Op.i32Clz : d.op === D.OP_CTZW ? Op.i32Ctz : Op.i32Popcnt);
      f.op(Op.i64ExtendI32U);
      return;
    case D.OP_MAX:
    case D.OP_MAXU:
    case D.OP_MIN:
    case D.OP_MINU: {
      // select(rs1, rs2, rs1 > rs2) for MAX, (rs1 < rs2) for MIN.
      a();
      b();
      a();
      b();
      const cmp =
        d.op === D.OP_MAX ? Op.i64GtS : d.op === D.OP_MAXU ? Op.i64GtU : d.op === D.OP_MIN ? Op.i64LtS : Op.i64LtU;
      f.op(cmp).op(Op.select);
      return;
    }
    case D.OP_SEXT:
      a();
      f.op(imm === 8 ? Op.i64Extend8S : Op.i64Extend16S);
      return;
    case D.OP_ZEXT_H:
      a();
      f.i64(0xffff, 0).op(Op.i64And);
      return;
    case D.OP_ROL:
    case D.OP_ROR:
      // i64.rotl/rotr take the amount modulo 64, as RISC-V does.
      a();
      b();
      f.op(d.op === D.OP_ROL ? Op.i64Rotl : Op.i64Rotr);
      return;
    case D.OP_RORI:
      a();
      f.i64(imm & 63, 0).op(Op.i64Rotr);
      return;
    case D.OP_ROLW:
    case D.OP_RORW:
      a();
      f.op(Op.i32WrapI64);
      b();
      f.op(Op.i32WrapI64);
      f.op(d.op === D.OP_ROLW ? Op.i32Rotl : Op.i32Rotr).op(Op.i64ExtendI32S);
      return;
    case D.OP_RORIW:
      a();
      f.op(Op.i32WrapI64)
        .i32(imm & 31)
        .op(Op.i32Rotr)
        .op(Op.i64ExtendI32S);
      return;
    case D.OP_ORC_B:
      // ((((x & 0x7f..7f) + 0x7f..7f) | x) & 0x80..80) >> 7, times 0xff: each nonzero byte to 0xff.
      a();
      f.set(t);
      f.get(t).i64(0x7f7f7f7f, 0x7f7f7f7f).op(Op.i64And).i64(0x7f7f7f7f, 0x7f7f7f7f).op(Op.i64Add);
      f.get(t)
        .op(Op.i64Or)
        .i64(0x80808080 | 0, 0x80808080 | 0)
        .op(Op.i64And);
      f.i64(7, 0).op(Op.i64ShrU).i64(0xff, 0).op(Op.i64Mul);
      return;
    case D.OP_REV8:
      // Swap adjacent bytes, then adjacent halfwords, then the words (a rotate by 32).
      a();
      f.set(t);
      f.get(t).i64(8, 0).op(Op.i64ShrU).i64(0x00ff00ff, 0x00ff00ff).op(Op.i64And);
      f.get(t).i64(0x00ff00ff, 0x00ff00ff).op(Op.i64And).i64(8, 0).op(Op.i64Shl).op(Op.i64Or).set(t);
      f.get(t).i64(16, 0).op(Op.i64ShrU).i64(0x0000ffff, 0x0000ffff).op(Op.i64And);
      f.get(t).i64(0x0000ffff, 0x0000ffff).op(Op.i64And).i64(16, 0).op(Op.i64Shl).op(Op.i64Or);
      f.i64(32, 0).op(Op.i64Rotl);
      return;
    case D.OP_BCLR:
    case D.OP_BINV:
    case D.OP_BSET:
    case D.OP_BCLRI:
    case D.OP_BINVI:
    case D.OP_BSETI: {
      a();
      // The mask 1 << index (i64.shl takes the index modulo 64, as RISC-V does).
      f.i64(1, 0);
      if (d.op === D.OP_BCLR || d.op === D.OP_BINV || d.op === D.OP_BSET) b();
      else f.i64(imm & 63, 0);
      f.op(Op.i64Shl);
      if (d.op === D.OP_BCLR || d.op === D.OP_BCLRI) f.i64(-1, -1).op(Op.i64Xor).op(Op.i64And);
      else f.op(d.op === D.OP_BINV || d.op === D.OP_BINVI ? Op.i64Xor : Op.i64Or);
      return;
    }
    case D.OP_BEXT:
    case D.OP_BEXTI:
      a();
      if (d.op === D.OP_BEXT) b();
      else f.i64(imm & 63, 0);
      f.op(Op.i64ShrU).i64(1, 0).op(Op.i64And);
      return;
    default:
      f.op(Op.unreachable);
  }
}
