/**
 * The interpreter in WebAssembly: one module, built once per process (threaded or not), whose function
 *
 *   run(hb: i32, dtlb: i32, itlb: i32, vbase: f64, off: i32, code: i32, limit: i32, heatMask: i32,
 *       icount: f64) -> i32
 *
 * does what `interpret` (interp.ts) does, from the same per-page decode caches (`CodePage`, which live in the
 * arena for it: CODE_PAGE_* offsets from `code`), for the hart whose block is at `hb`: it runs from page offset
 * `off` of the page mapped at virtual address `vbase`, goes on across branches and jumps inside the page and into
 * other pages the fetch TLB's WebAssembly copy at `itlb` maps (tlb.ts WASM_TLB_EXEC_*), loads and stores through
 * the data TLB's copy at `dtlb`, counts landings in the pages' heat as `interpret` does (`heatMask` < 0: not at
 * all; `icount` is h.icount at entry, for the heat windows' starts), and returns at the same places: a control
 * transfer once `limit` instructions have retired, a fetch-TLB miss, a heat checkpoint, a slot the run loop must
 * run (straddling), or after an instruction that ends the run. It returns the number retired, the pc to go on at
 * in the block's HB_NEXT_PC.
 *
 * Where a block of the WebAssembly tier's regions starts, it enters the region itself (through the tier's region
 * table, `emitRegionEntry`), and where a region returns for want of a region at the next pc it goes on there: in
 * a boot, regions and interpreted code alternate every few dozen instructions, and going through the run loop
 * between them cost a JavaScript round trip each way (~0.1 s of the project kernel's 0.8 s boot, 200 k times).
 * The run loop's compile decisions then no longer see those returns, so it counts them here, per page, with the
 * page's interpreted volume (CODE_PAGE_INTERPRETED, CODE_PAGE_MISSES), and leaves a page to the run loop when
 * either reaches the run loop's limit (HB_VOLUME_LIMIT, HB_MISS_LIMIT).
 *
 * It does the integer base ISA, the M extension, AMOs and the loads and stores the TLB copy serves, and where no
 * hart runs on another thread LR/SC and sstatus's SIE turned on too; for everything else it calls `step` (interp.ts
 * `stepSlot`: the TypeScript paths, `execute` among them). A slot not decoded yet it decodes itself (decode-emit.ts,
 * when no hart runs on another thread), or calls `decode` for it. It is one module compiled once: JavaScriptCore
 * compiles it in a few milliseconds, where the TypeScript interpreter spent its first ~0.1 s of a boot in the
 * baseline tier and 0.4-0.6 s of JIT-thread time being optimized (twice); and it works on whole 64-bit registers,
 * where `interpret` works on 32-bit halves.
 */

import {
  CSR_SSTATUS,
  MSTATUS_FS,
  MSTATUS_HI_SD,
  MSTATUS_HI_UXL64,
  MSTATUS_SIE,
  SSTATUS_MASK,
} from "../../../arch/riscv64/csr.ts";
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
} from "../../../arch/riscv64/isa.ts";
import {
  SLOT_COMPILED,
  SLOT_LONG,
  SLOT_OP_MASK,
  SLOT_PAGE_END,
  SLOT_RD_SHIFT,
  SLOT_RS1_SHIFT,
  SLOT_RS2_SHIFT,
  SLOT_STRADDLE,
} from "../block.ts";
import { SSTATUS_WRITE_MASK } from "../constants.ts";
import * as D from "../decode.ts";
import {
  HB_CHAIN_STOP,
  HB_INTERP_REGION_CALLS,
  HB_INTERP_REGION_INSNS,
  HB_INTERP_RETURNS,
  HB_MISS_LIMIT,
  HB_NEXT_PC,
  HB_REGION,
  HB_RESERVATION_ADDR,
  HB_RESERVATION_VALID,
  HB_RETURN_REASON,
  HB_SSTATUS_DIRECT,
  HB_VBASE,
  HB_VOLUME_LIMIT,
  HB_X,
} from "../hart-block.ts";
import {
  CODE_PAGE_HEAT,
  CODE_PAGE_HEAT_START,
  CODE_PAGE_INTERPRETED,
  CODE_PAGE_INTERPRETED_SINCE,
  CODE_PAGE_MISSES,
  CODE_PAGE_SLOTS,
} from "../phys-memory.ts";
import {
  TLB_MASK,
  WASM_TLB_EXEC_CODE,
  WASM_TLB_EXEC_RECORD,
  WASM_TLB_EXEC_TAG,
  WASM_TLB_READ_ADD,
  WASM_TLB_READ_TAG,
  WASM_TLB_WRITE_ADD,
  WASM_TLB_WRITE_PAGE,
  WASM_TLB_WRITE_TAG,
} from "../tlb.ts";
import {
  BINARY64,
  BRANCH_CMP,
  emitAmo,
  emitDiv32,
  emitDiv64,
  emitMulHigh,
  emitMulhu,
  emitTlbHost,
  emitTlbProbe,
  isInlineAmoFunct5,
  LOAD_OPS,
  NO_BLOCK,
  REGION_SLOT_OFFSET,
  RETURN_NO_BLOCK,
  RETURN_NO_REGION,
  RUN_PARAMS,
  STORE_FAST,
} from "./compile.ts";
import { defineDecoder } from "./decode-emit.ts";
import { F64, type FunctionBody, I32, I64, Labels, ModuleBuilder, Op, type ValType } from "./emit.ts";

/** What the module imports from. */
export const INTERP_IMPORT_MODULE = "interp";
/**
 * HB_RETURN_REASON while no region has returned into the interpreter in a way the run loop must hear of (a
 * region's return to a pc the interpreter goes on at is not: it sets this back).
 */
export const RETURN_NONE = -1;
/** `step`'s results (interp.ts STEP_*): retired, go on; retired, end the run; nothing retired, end the run. */
const STEP_NEXT = 0;
const STEP_END = 1;

/** Register-immediate operations on whole registers (shift amounts are the immediate). */
const ALU_RI: Record<number, number> = {
  [D.OP_ADDI]: Op.i64Add,
  [D.OP_XORI]: Op.i64Xor,
  [D.OP_ORI]: Op.i64Or,
  [D.OP_ANDI]: Op.i64And,
  [D.OP_SLLI]: Op.i64Shl,
  [D.OP_SRLI]: Op.i64ShrU,
  [D.OP_SRAI]: Op.i64ShrS,
};
/** 32-bit operations (the result sign-extended): register-register and register-immediate. */
const ALU_W_RR: Record<number, number> = {
  [D.OP_ADDW]: Op.i32Add,
  [D.OP_SUBW]: Op.i32Sub,
  [D.OP_SLLW]: Op.i32Shl,
  [D.OP_SRLW]: Op.i32ShrU,
  [D.OP_SRAW]: Op.i32ShrS,
  [D.OP_MULW]: Op.i32Mul,
};
const ALU_W_RI: Record<number, number> = {
  [D.OP_ADDIW]: Op.i32Add,
  [D.OP_SLLIW]: Op.i32Shl,
  [D.OP_SRLIW]: Op.i32ShrU,
  [D.OP_SRAIW]: Op.i32ShrS,
};
/** Set-less-than: the comparison, and whether the second operand is the immediate. */
const SET_LESS: Record<number, { cmp: number; imm: boolean }> = {
  [D.OP_SLT]: { cmp: Op.i64LtS, imm: false },
  [D.OP_SLTU]: { cmp: Op.i64LtU, imm: false },
  [D.OP_SLTI]: { cmp: Op.i64LtS, imm: true },
  [D.OP_SLTIU]: { cmp: Op.i64LtU, imm: true },
};

/**
 * The M extension's high multiplies and divisions (RISC-V's results for division by zero and overflow): ~8 k calls
 * into TypeScript in the project kernel's boot when they were `step`'s.
 */
const MUL_HIGH_OPS = [D.OP_MULH, D.OP_MULHSU, D.OP_MULHU];
const DIV64_OPS = [D.OP_DIV, D.OP_DIVU, D.OP_REM, D.OP_REMU];
const DIV32_OPS = [D.OP_DIVW, D.OP_DIVUW, D.OP_REMW, D.OP_REMUW];

/** The CSR instructions: sstatus is done here in HS- and VS-mode (`emitCsr`), everything else in TypeScript. */
const CSR_OPS = [D.OP_CSRRW, D.OP_CSRRS, D.OP_CSRRC, D.OP_CSRRWI, D.OP_CSRRSI, D.OP_CSRRCI];

/** The AMO operations (funct5) other than LR and SC, whose reservation lives in the TypeScript hart. */
const AMO_FUNCT5S = [AMO_ADD, AMO_SWAP, AMO_XOR, AMO_OR, AMO_AND, AMO_MIN, AMO_MAX, AMO_MINU, AMO_MAXU];

/** The operations with code of their own here; every other slot calls `step` (or ends the run). */
function handledOps(): number[] {
  const ops = [D.OP_LUI, D.OP_AUIPC, D.OP_JAL, D.OP_JALR, D.OP_FENCE, D.OP_AMO_W, D.OP_AMO_D, ...CSR_OPS];
  ops.push(...MUL_HIGH_OPS, ...DIV64_OPS, ...DIV32_OPS);
  for (const table of [LOAD_OPS, STORE_FAST, BINARY64, ALU_RI, ALU_W_RR, ALU_W_RI, SET_LESS, BRANCH_CMP])
    for (const k of Object.keys(table)) ops.push(Number(k));
  return ops;
}

/**
 * What `core` returns for `run` to do, with the state it goes on from (CORE_RESULTS): the run has ended (the pc in
 * HB_NEXT_PC, the page's volume counted); the slot at `off` is not decoded; the slot at `off` is `step`'s; a
 * region block starts at `off`.
 */
const ACT_EXIT = 0;
const ACT_DECODE = 1;
const ACT_STEP = 2;
const ACT_REGION = 3;
/**
 * The instruction before `off` (counted) wrote sstatus and turned SIE on: `run` asks TypeScript whether an
 * interrupt may now be taken (`sieOn`), and ends the run at `off` if so.
 */
const ACT_SIE_ON = 4;
/** How `run` enters `core`: at the slot at `off`, or at a transfer to vb + t where a region returned. */
const ENTER_FETCH = 0;
const ENTER_FROM_REGION = 1;

/** `core`'s parameters (see buildInterpreterModule), by index. */
const C_HB = 0;
const C_DTLB = 1;
const C_ITLB = 2;
const C_VB = 3;
const C_OFF = 4;
const C_CODE = 5;
const C_LIMIT = 6;
const C_HEAT_MASK = 7;
const C_ICOUNT = 8;
/** Instructions retired in this run of `run` (its result). */
const C_N = 9;
/** n when the interpreter last arrived on the current page (what it has run there since is the page's volume). */
const C_PAGE_N = 10;
/** ENTER_FETCH or ENTER_FROM_REGION; with the latter, the transfer's target offset from vb (i64). */
const C_ENTER = 11;
const C_T = 12;
const CORE_PARAMS: readonly ValType[] = [I32, I32, I32, I64, I32, I32, I32, I32, F64, I32, I32, I32, I64];
/** `core`'s results: the action, then off, n, pageN, code and vb. */
const CORE_RESULTS: readonly ValType[] = [I32, I32, I32, I32, I32, I64];

/** The locals `flushVolume` works on (indexes in the function it is emitted into). */
interface VolumeLocals {
  readonly n: number;
  readonly pageN: number;
  readonly code: number;
  readonly heatMask: number;
  readonly icount: number;
  /** A scratch i32 of its own. */
  readonly ran: number;
}

/**
 * Add what has run on the current page since the interpreter arrived there (n - pageN) to the page's
 * CODE_PAGE_INTERPRETED, starting its window (CODE_PAGE_INTERPRETED_SINCE) when it was 0. Only while counting
 * (heatMask >= 0): the run loop compiles nothing otherwise.
 */
function emitFlushVolume(f: FunctionBody, L: Labels, v: VolumeLocals): void {
  f.get(v.n).get(v.pageN).op(Op.i32Sub).tee(v.ran).i32(0).op(Op.i32Ne);
  f.get(v.heatMask).i32(0).op(Op.i32GeS).op(Op.i32And);
  L.open(Op.if);
  f.get(v.code).mem(Op.f64Load, 3, CODE_PAGE_INTERPRETED).f64(0).op(Op.f64Eq);
  L.open(Op.if);
  f.get(v.code).get(v.icount).get(v.pageN).op(Op.f64ConvertI32S).op(Op.f64Add);
  f.mem(Op.f64Store, 3, CODE_PAGE_INTERPRETED_SINCE);
  L.end();
  f.get(v.code).get(v.code).mem(Op.f64Load, 3, CODE_PAGE_INTERPRETED).get(v.ran).op(Op.f64ConvertI32S).op(Op.f64Add);
  f.mem(Op.f64Store, 3, CODE_PAGE_INTERPRETED);
  f.get(v.n).set(v.pageN);
  L.end();
}

/**
 * The module's bytes. `threaded`: harts on other threads share the memory (FENCE is an atomic fence).
 *
 * The module has two functions. `core` is the interpreter loop and makes no call: where an instruction needs
 * `step`, a slot `decode`, or a region block starts, it returns to `run` with its state (CORE_RESULTS), and `run`
 * makes the call and enters `core` again. A function that calls keeps the values live across its calls in
 * callee-saved registers, of which x86-64 has few; JavaScriptCore's optimizing tier kept the loop's own state
 * (the page offset, the count, the page's decode cache) in stack slots, so every instruction stored and reloaded
 * them. Without calls the loop has every register.
 */
export function buildInterpreterModule(threaded: boolean): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder();
  const importDecode = m.importFunction(INTERP_IMPORT_MODULE, "decode", [F64, I32], [I32]);
  const importStep = m.importFunction(INTERP_IMPORT_MODULE, "step", [F64, I32, I32], [I32]);
  const importSieOn = m.importFunction(INTERP_IMPORT_MODULE, "sieOn", [], [I32]);
  m.importMemory(INTERP_IMPORT_MODULE, "memory", 1, 65536, true);
  m.importTable(INTERP_IMPORT_MODULE, "regions", 1);
  const core = m.defineFunction(CORE_PARAMS, CORE_RESULTS);
  emitCore(core.body, threaded);
  const run = m.defineFunction([I32, I32, I32, F64, I32, I32, I32, I32, F64], [I32]);
  // The decoder decodes only for a hart alone on its memory: with harts on other threads, TypeScript's marks pages
  // as code on the thread that decodes (PhysicalMemory.codePage), which the flag it reads does not follow.
  const decodeSlot = threaded ? undefined : defineDecoder(m);
  emitRun(run.body, core.index, decodeSlot, importDecode, importStep, importSieOn, m.type(RUN_PARAMS, [I32]));
  m.exportFunction("run", run.index);
  return m.encode();
}

/** The interpreter loop (see buildInterpreterModule). */
function emitCore(f: FunctionBody, threaded: boolean): void {
  const vb = C_VB;
  const off = C_OFF;
  const code = C_CODE;
  const n = C_N;
  const pageN = C_PAGE_N;
  const t = C_T;
  const w = f.local(I32);
  const a = f.local(I64);
  const r = f.local(I64);
  const ra = f.local(I32);
  const t32 = f.local(I32);
  const slot = f.local(I32);
  const exitPc = f.local(I64);
  const hostAddress = f.local(I32);
  // Set when control arrives on a page (from another, or from a region).
  const arrived = f.local(I32);
  const ran = f.local(I32);
  // emitCsr's: the status word's address, its value, the source, the new value.
  const csrAddress = f.local(I32);
  const csrStatus = f.local(I32);
  const csrSource = f.local(I32);
  const csrNext = f.local(I32);
  const csrSieOn = f.local(I32);
  const L = new Labels(f);
  const volume: VolumeLocals = { n, pageN, code, heatMask: C_HEAT_MASK, icount: C_ICOUNT, ran };

  // The slot word's fields are taken where a handler needs them, not all at the fetch: fewer values live across
  // the dispatch.
  /** Push 8 * the register number in the slot word's field at bit `shift` (its offset from HB_X). */
  const regOffset = (shift: number): void => {
    f.get(w)
      .i32(shift - 3)
      .op(Op.i32ShrU)
      .i32(31 << 3)
      .op(Op.i32And);
  };
  /** Push register rs1 or rs2 (the field at bit `shift`) as an i64. */
  const getReg = (shift: number): void => {
    f.get(C_HB);
    regOffset(shift);
    f.op(Op.i32Add).mem(Op.i64Load, 3, HB_X);
  };
  /** Pop an i64 into rd (x0 stays 0). */
  const setRd = (): void => {
    f.set(r);
    regOffset(SLOT_RD_SHIFT);
    f.tee(ra);
    L.open(Op.if);
    f.get(C_HB).get(ra).op(Op.i32Add).get(r).mem(Op.i64Store, 3, HB_X);
    L.end();
  };
  /** Push the slot's immediate as an i64. */
  const pushImm = (): void => {
    f.get(code)
      .get(off)
      .i32(2)
      .op(Op.i32Shl)
      .op(Op.i32Add)
      .mem(Op.i32Load, 2, CODE_PAGE_SLOTS + 4);
    f.op(Op.i64ExtendI32S);
  };
  /** Push the instruction's length (2 or 4) as an i32. */
  const pushLen = (): void => pushSlotLength(f, w);
  /** Push pc + x for an i64 x pushed by `push`. */
  const pcPlus = (push: () => void): void => {
    f.get(vb).get(off).op(Op.i64ExtendI32U).op(Op.i64Add);
    push();
    f.op(Op.i64Add);
  };
  /** End the run at the pc on the stack (an i64). */
  const exitAt = (): void => {
    f.set(exitPc);
    L.br("exit");
  };
  /** Return `action` to `run`, with the state to go on from. */
  const leave = (action: number): void => {
    f.i32(action).get(off).get(n).get(pageN).get(code).get(vb).op(Op.return);
  };
  /** With va in `a`: t32 = its data-TLB index; pushes whether entry `tag` maps it for an aligned `width` access. */
  const probe = (tag: number, width: number): void => emitTlbProbe(f, C_DTLB, a, t32, tag, width);
  /** After a hit of `probe`: the host address of va. */
  const host = (add: number): void => emitTlbHost(f, C_DTLB, a, t32, add);

  // The handlers: one per operation done here, then `step`, the slot codes that end the run, the page end.
  const ops = handledOps();
  const H_STEP = ops.length;
  const H_STOP = ops.length + 1;
  const H_PAGE_END = ops.length + 2;
  const H_REGION = ops.length + 3;
  const handlerCount = ops.length + 4;
  const targets = new Array<number>(128).fill(H_STEP);
  ops.forEach((op, k) => {
    targets[op] = k;
  });
  targets[SLOT_STRADDLE] = H_STOP;
  targets[SLOT_COMPILED] = H_REGION;
  targets[SLOT_PAGE_END] = H_PAGE_END;

  L.open(Op.block, "exit");
  // Entered where a region returned: its transfer first (the loop's own transfers never follow a region).
  L.open(Op.block, "fromRegion");
  f.get(C_ENTER).op(Op.i32Eqz);
  L.br("fromRegion", Op.brIf);
  emitTransfer(true);
  L.end();
  L.open(Op.loop, "run");
  L.open(Op.block, "transfer");
  L.open(Op.block, "next");
  // Fetch: the slot word. An undecoded slot (0) dispatches as operation 0 (OP_ILLEGAL, `step`'s), whose handler
  // asks `run` to decode it.
  f.get(code).get(off).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, CODE_PAGE_SLOTS).set(w);
  for (let k = handlerCount - 1; k >= 0; k--) L.open(Op.block, `h${k}`);
  f.get(w).i32(0x7f).op(Op.i32And);
  f.brTable(
    targets.map((k) => L.depthOf(`h${k}`)),
    L.depthOf(`h${H_STEP}`),
  );
  for (let k = 0; k < handlerCount; k++) {
    L.end(); // closes h(k): its code follows
    if (k === H_STEP) {
      f.get(w).op(Op.i32Eqz);
      L.open(Op.if);
      leave(ACT_DECODE);
      L.end();
      leave(ACT_STEP);
      continue;
    }
    if (k === H_STOP) {
      pcPlus(() => f.i64(0, 0));
      exitAt();
      continue;
    }
    if (k === H_PAGE_END) {
      f.get(off).op(Op.i64ExtendI32U).set(t);
      L.br("transfer");
      continue;
    }
    if (k === H_REGION) {
      leave(ACT_REGION);
      continue;
    }
    const op = ops[k] ?? 0;
    emitOperation(op);
  }
  L.end(); // next: the instruction retired, go on with the one after it
  // A branch on the slot's length bit, not `off += length` computed from the slot word: the next fetch's address
  // then follows a branch the processor predicts rather than waiting for this slot's load and the arithmetic on it
  // (a chain of ~9 cycles through every guest instruction). Linux code interpreted alone (the project kernel's
  // pty_init phase, warm, 12 runs each): median 6.2 against 7.8 ns an instruction. Handlers made per length, so
  // that the dispatch itself carries it, did less (7.1 ns): twice the dispatch targets for the compressed forms.
  f.get(n).i32(1).op(Op.i32Add).set(n);
  f.get(w).i32(SLOT_LONG).op(Op.i32And);
  L.open(Op.if);
  f.get(off).i32(4).op(Op.i32Add).set(off);
  L.br("run");
  L.end();
  f.get(off).i32(2).op(Op.i32Add).set(off);
  L.br("run");
  L.end(); // transfer: to vbase + t, the instruction (if any) counted
  emitTransfer(false);
  L.br("run");
  L.end(); // run
  L.end(); // exit
  emitFlushVolume(f, L, volume);
  f.get(C_HB).get(exitPc).op(Op.f64ConvertI64S).mem(Op.f64Store, 3, HB_NEXT_PC);
  f.i32(ACT_EXIT).get(off).get(n).get(pageN).get(code).get(vb);

  /**
   * A transfer to vb + t (the instruction, if any, counted): the limit, the page (through the fetch TLB's copy
   * when another), the page's region misses when a region returned here (`fromRegion`), its volume when arriving
   * on it, and the landing's heat. Falls through with `off` (and the page's state) at the target.
   */
  function emitTransfer(fromRegion: boolean): void {
    f.get(n).get(C_LIMIT).op(Op.i32GeS);
    L.open(Op.if);
    f.get(vb).get(t).op(Op.i64Add);
    exitAt();
    L.end();
    f.get(t).i64(4096, 0).op(Op.i64LtU);
    L.open(Op.if);
    f.get(t).op(Op.i32WrapI64).set(off);
    f.op(Op.else);
    // Another page: through the fetch TLB's copy, to its decode cache.
    f.get(vb).get(t).op(Op.i64Add).set(a);
    f.get(a).op(Op.i32WrapI64).i32(12).op(Op.i32ShrU).i32(TLB_MASK).op(Op.i32And).set(t32);
    f.get(C_ITLB).get(t32).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.i64Load, 3, WASM_TLB_EXEC_TAG);
    f.get(a).i64(-4096, -1).op(Op.i64And).op(Op.i64Ne);
    L.open(Op.if);
    f.get(a);
    exitAt();
    L.end();
    f.get(C_ITLB).get(t32).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, WASM_TLB_EXEC_CODE).tee(t32);
    f.op(Op.i32Eqz);
    L.open(Op.if);
    f.get(a);
    exitAt();
    L.end();
    // (What ran on the page left is its volume.)
    f.get(t32).set(hostAddress);
    emitFlushVolume(f, L, volume);
    f.get(hostAddress).set(code);
    f.get(n).set(pageN);
    f.i32(1).set(arrived);
    f.get(a).i64(-4096, -1).op(Op.i64And).set(vb);
    f.get(a).op(Op.i32WrapI64).i32(4095).op(Op.i32And).set(off);
    L.end();
    if (fromRegion) {
      // After a region's return: a miss of this page; at the run loop's limit (HB_MISS_LIMIT) the run loop counts
      // it and compiles the page, else it is counted here and the region's return is dealt with.
      f.i32(1).set(arrived);
      f.get(code).mem(Op.i32Load, 2, CODE_PAGE_MISSES).i32(1).op(Op.i32Add).tee(t32);
      f.get(C_HB).mem(Op.i32Load, 2, HB_MISS_LIMIT).op(Op.i32GeS);
      L.open(Op.if);
      pcPlus(() => f.i64(0, 0));
      exitAt();
      L.end();
      f.get(code).get(t32).mem(Op.i32Store, 2, CODE_PAGE_MISSES);
      f.get(C_HB).i32(RETURN_NONE).mem(Op.i32Store, 2, HB_RETURN_REASON);
    }
    // Arriving on a page (from another, or from a region): one that has run HB_VOLUME_LIMIT instructions
    // interpreted is left to the run loop, which compiles it.
    f.get(arrived);
    L.open(Op.if);
    f.i32(0).set(arrived);
    f.get(code).mem(Op.f64Load, 3, CODE_PAGE_INTERPRETED);
    f.get(C_HB).mem(Op.f64Load, 3, HB_VOLUME_LIMIT).op(Op.f64Ge);
    L.open(Op.if);
    pcPlus(() => f.i64(0, 0));
    exitAt();
    L.end();
    L.end();
    // Heat: landings per slot, and since when; a landing at a checkpoint is left to the run loop, unless a region
    // block starts there (the run loop considers compiling only what is not compiled; the region is entered here).
    f.get(C_HEAT_MASK).i32(0).op(Op.i32GeS);
    L.open(Op.if);
    f.get(code).get(off).i32(1).op(Op.i32Shl).op(Op.i32Add).tee(slot).mem(Op.i32Load, 2, CODE_PAGE_HEAT);
    f.i32(1).op(Op.i32Add).tee(t32).get(C_HEAT_MASK).op(Op.i32And).op(Op.i32Eqz);
    L.open(Op.if);
    f.get(code).get(off).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, CODE_PAGE_SLOTS);
    f.i32(SLOT_OP_MASK).op(Op.i32And).i32(SLOT_COMPILED).op(Op.i32Ne);
    L.open(Op.if);
    pcPlus(() => f.i64(0, 0));
    exitAt();
    L.end();
    L.end();
    f.get(slot).get(t32).mem(Op.i32Store, 2, CODE_PAGE_HEAT);
    f.get(t32).i32(1).op(Op.i32Eq);
    L.open(Op.if);
    f.get(slot).get(slot).op(Op.i32Add).get(code).op(Op.i32Sub);
    f.get(C_ICOUNT).get(n).op(Op.f64ConvertI32S).op(Op.f64Add);
    f.mem(Op.f64Store, 3, CODE_PAGE_HEAT_START);
    L.end();
    L.end();
  }

  /**
   * An AMO of `width` bytes at rs1, its operation (funct5) in the slot's immediate: done here where the data TLB's
   * copy maps the page for writing and the operation is one regions do inline (isInlineAmoFunct5: not LR or SC,
   * whose reservation the TypeScript hart keeps; with threads, only those WebAssembly does as one atomic
   * read-modify-write); else `step`. A page with decoded code has no write entry, so an AMO never writes code here.
   */
  function emitAtomic(width: number): void {
    const inline = AMO_FUNCT5S.filter((funct5) => isInlineAmoFunct5(funct5, threaded));
    // LR and SC too where no hart runs on another thread: the reservation is in the hart's block.
    if (!threaded) inline.push(AMO_LR, AMO_SC);
    getReg(SLOT_RS1_SHIFT);
    f.set(a);
    probe(WASM_TLB_WRITE_TAG, width);
    L.open(Op.if);
    host(WASM_TLB_WRITE_ADD);
    f.set(hostAddress);
    L.open(Op.block, "amoStep");
    for (let k = inline.length - 1; k >= 0; k--) L.open(Op.block, `amo${k}`);
    const targets = new Array<number>(Math.max(...inline) + 1).fill(L.depthOf("amoStep"));
    inline.forEach((funct5, k) => {
      targets[funct5] = L.depthOf(`amo${k}`);
    });
    pushImm();
    f.op(Op.i32WrapI64);
    f.brTable(targets, L.depthOf("amoStep"));
    inline.forEach((funct5) => {
      L.end(); // its case's code follows
      if (funct5 === AMO_LR || funct5 === AMO_SC) emitReservation(funct5 === AMO_LR, width);
      else {
        emitAmo(f, funct5, width, threaded, hostAddress, t, () => getReg(SLOT_RS2_SHIFT));
        setRd();
      }
      L.br("next");
    });
    L.end(); // amoStep: (with threads) LR, SC, min/max
    L.end();
    leave(ACT_STEP);
  }

  /**
   * LR (`load`) or SC of `width` bytes at the host address in `hostAddress` (the write entry `t32` of the data TLB's
   * copy maps it, so a write there would not fault), on the reservation in the hart's block, which is physical:
   * the entry's physical page plus the page offset. SC clears the reservation whether or not it stores, as
   * `atomicFast` does; rd gets the loaded value, or 0 when SC stored and 1 when not.
   */
  function emitReservation(load: boolean, width: number): void {
    // The physical address, an f64 (in `t`'s place: the reservation's i64 is not needed).
    const pushPhysical = (): void => {
      f.get(C_DTLB).get(t32).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.f64Load, 3, WASM_TLB_WRITE_PAGE);
      f.get(a).op(Op.i32WrapI64).i32(4095).op(Op.i32And).op(Op.f64ConvertI32S).op(Op.f64Add);
    };
    if (load) {
      f.get(C_HB).i32(1).mem(Op.i32Store, 2, HB_RESERVATION_VALID);
      f.get(C_HB);
      pushPhysical();
      f.mem(Op.f64Store, 3, HB_RESERVATION_ADDR);
      f.get(hostAddress).mem(width === 4 ? Op.i64Load32S : Op.i64Load, width === 4 ? 2 : 3, 0);
      setRd();
      return;
    }
    f.get(C_HB).mem(Op.i32Load, 2, HB_RESERVATION_VALID);
    f.get(C_HB).mem(Op.f64Load, 3, HB_RESERVATION_ADDR);
    pushPhysical();
    f.op(Op.f64Eq).op(Op.i32And).set(csrSource);
    f.get(C_HB).i32(0).mem(Op.i32Store, 2, HB_RESERVATION_VALID);
    f.get(csrSource);
    L.open(Op.if);
    f.get(hostAddress);
    getReg(SLOT_RS2_SHIFT);
    f.mem(width === 4 ? Op.i64Store32 : Op.i64Store, width === 4 ? 2 : 3, 0);
    L.end();
    f.get(csrSource).op(Op.i32Eqz).op(Op.i64ExtendI32U);
    setRd();
  }

  /**
   * A CSR instruction: sstatus in HS- and VS-mode (HB_SSTATUS_DIRECT: mstatus's low word or vsstatus, both in the
   * block) is read here, and written where the write turns SIE off or changes nothing, as `execCsr` does; every other
   * access, and a write that may make an interrupt deliverable or changes the translation or FP state, goes to
   * `step`.
   * Linux masks and restores interrupts (`csrrci sstatus, SIE`, `csrr`, `csrs`) around every spinlock: ~77 k
   * calls into TypeScript in the project kernel's boot, ~0.25 us each.
   */
  function emitCsr(op: number): void {
    const isImm = op >= D.OP_CSRRWI;
    const kind = op - (isImm ? D.OP_CSRRWI : D.OP_CSRRW); // 0 write, 1 set, 2 clear
    pushImm();
    f.op(Op.i32WrapI64).i32(0xfff).op(Op.i32And).i32(CSR_SSTATUS).op(Op.i32Ne);
    f.get(C_HB).mem(Op.i32Load, 2, HB_SSTATUS_DIRECT).tee(csrAddress).op(Op.i32Eqz).op(Op.i32Or);
    L.open(Op.if);
    leave(ACT_STEP);
    L.end();
    // The status word sstatus is in HS- or VS-mode (mstatus's low word or vsstatus), its address from here on.
    f.get(C_HB).get(csrAddress).op(Op.i32Add).tee(csrAddress).mem(Op.i32Load, 2, 0).set(csrStatus);
    // The source: the immediate (in rs1's field) or rs1's low word; whether there is a write at all.
    f.get(w).i32(SLOT_RS1_SHIFT).op(Op.i32ShrU).i32(31).op(Op.i32And).set(csrSource);
    const writes = (): void => {
      if (kind === 0) f.i32(1);
      else f.get(csrSource).i32(0).op(Op.i32Ne);
    };
    if (!isImm) {
      getReg(SLOT_RS1_SHIFT);
      f.op(Op.i32WrapI64).set(csrSource);
    }
    f.i32(0).set(csrSieOn);
    writes();
    L.open(Op.if);
    // The new mstatus: sstatus's writable bits from the value written.
    f.get(csrStatus).i32(~SSTATUS_WRITE_MASK).op(Op.i32And);
    if (kind === 0) f.get(csrSource);
    else if (kind === 1) f.get(csrStatus).get(csrSource).op(Op.i32Or);
    else f.get(csrStatus).get(csrSource).i32(-1).op(Op.i32Xor).op(Op.i32And);
    f.i32(SSTATUS_WRITE_MASK).op(Op.i32And).op(Op.i32Or).set(csrNext);
    // Anything but SIE changed: TypeScript's (the context). SIE turned on: an interrupt to look at, TypeScript's
    // with threads (another thread may have made one pending), else `run` asks after the instruction.
    f.get(csrNext).get(csrStatus).op(Op.i32Xor).tee(t32).i32(~MSTATUS_SIE).op(Op.i32And);
    if (threaded) f.get(t32).get(csrNext).op(Op.i32And).i32(MSTATUS_SIE).op(Op.i32And).op(Op.i32Or);
    L.open(Op.if);
    leave(ACT_STEP);
    L.end();
    if (!threaded) f.get(t32).get(csrNext).op(Op.i32And).i32(MSTATUS_SIE).op(Op.i32And).set(csrSieOn);
    f.get(csrAddress).get(csrNext).mem(Op.i32Store, 2, 0);
    L.end();
    // rd = the old sstatus: its low word, UXL = 64 and SD when FS is dirty (csrRead).
    f.get(csrStatus).i32(SSTATUS_MASK).op(Op.i32And).op(Op.i64ExtendI32U);
    f.get(csrStatus).i32(MSTATUS_FS).op(Op.i32And).i32(MSTATUS_FS).op(Op.i32Eq);
    L.open(Op.if, "", I64);
    f.i64(0, MSTATUS_HI_UXL64 | MSTATUS_HI_SD);
    f.op(Op.else);
    f.i64(0, MSTATUS_HI_UXL64);
    L.end();
    f.op(Op.i64Or);
    setRd();
    if (!threaded) {
      // The instruction counted, the next one is where the run goes on, or ends if an interrupt may be taken.
      f.get(csrSieOn);
      L.open(Op.if);
      f.get(off);
      pushLen();
      f.op(Op.i32Add).set(off);
      f.get(n).i32(1).op(Op.i32Add).set(n);
      leave(ACT_SIE_ON);
      L.end();
    }
    L.br("next");
  }

  /** The code of operation `op`'s handler: it ends with a branch to `next`, `transfer` or `exit`, or a return. */
  function emitOperation(op: number): void {
    const load = LOAD_OPS[op];
    const store = STORE_FAST[op];
    if (load !== undefined || store !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      pushImm();
      f.op(Op.i64Add).set(a);
      if (load !== undefined) {
        probe(WASM_TLB_READ_TAG, load.width);
        L.open(Op.if);
        host(WASM_TLB_READ_ADD);
        f.mem(load.fast, Math.log2(load.width), 0);
        setRd();
        L.br("next");
        L.end();
      } else if (store !== undefined) {
        const width = 1 << (op - D.OP_SB);
        probe(WASM_TLB_WRITE_TAG, width);
        L.open(Op.if);
        host(WASM_TLB_WRITE_ADD);
        getReg(SLOT_RS2_SHIFT);
        f.mem(store, Math.log2(width), 0);
        L.br("next");
        L.end();
      }
      leave(ACT_STEP); // the TLB copy did not serve it
      return;
    }
    if (op === D.OP_AMO_W || op === D.OP_AMO_D) {
      emitAtomic(op === D.OP_AMO_W ? 4 : 8);
      return;
    }
    if (CSR_OPS.includes(op)) {
      emitCsr(op);
      return;
    }
    if (MUL_HIGH_OPS.includes(op) || DIV64_OPS.includes(op)) {
      const rs1 = (): void => getReg(SLOT_RS1_SHIFT);
      const rs2 = (): void => getReg(SLOT_RS2_SHIFT);
      if (MUL_HIGH_OPS.includes(op)) emitMulHigh(f, op, rs1, rs2, () => emitMulhu(f, a, r), a, r);
      else emitDiv64(f, op, rs1, rs2, a, r);
      setRd();
      L.br("next");
      return;
    }
    if (DIV32_OPS.includes(op)) {
      emitDiv32(
        f,
        op,
        () => getReg(SLOT_RS1_SHIFT),
        () => getReg(SLOT_RS2_SHIFT),
        t32,
        csrSource,
      );
      setRd();
      L.br("next");
      return;
    }
    const branch = BRANCH_CMP[op];
    if (branch !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      getReg(SLOT_RS2_SHIFT);
      f.op(branch).op(Op.i32Eqz);
      L.br("next", Op.brIf);
      f.get(n).i32(1).op(Op.i32Add).set(n);
      f.get(off).op(Op.i64ExtendI32U);
      pushImm();
      f.op(Op.i64Add).tee(t);
      // Forward inside the page: on as straight-line code (`interpret` says why).
      f.i64(4096, 0).op(Op.i64LtU).get(off).op(Op.i64ExtendI32U).get(t).op(Op.i64LtU).op(Op.i32And);
      L.open(Op.if);
      f.get(t).op(Op.i32WrapI64).set(off);
      L.br("run");
      L.end();
      L.br("transfer");
      return;
    }
    const rr = BINARY64[op];
    const ri = ALU_RI[op];
    const wrr = ALU_W_RR[op];
    const wri = ALU_W_RI[op];
    const less = SET_LESS[op];
    if (rr !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      getReg(SLOT_RS2_SHIFT);
      f.op(rr);
    } else if (ri !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      pushImm();
      f.op(ri);
    } else if (wrr !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      f.op(Op.i32WrapI64);
      getReg(SLOT_RS2_SHIFT);
      f.op(Op.i32WrapI64).op(wrr).op(Op.i64ExtendI32S);
    } else if (wri !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      f.op(Op.i32WrapI64);
      pushImm();
      f.op(Op.i32WrapI64).op(wri).op(Op.i64ExtendI32S);
    } else if (less !== undefined) {
      getReg(SLOT_RS1_SHIFT);
      if (less.imm) pushImm();
      else getReg(SLOT_RS2_SHIFT);
      f.op(less.cmp).op(Op.i64ExtendI32U);
    } else {
      switch (op) {
        case D.OP_LUI:
          pushImm();
          break;
        case D.OP_AUIPC:
          pcPlus(pushImm);
          break;
        case D.OP_JAL:
          pcPlus(() => {
            pushLen();
            f.op(Op.i64ExtendI32U);
          });
          setRd();
          f.get(n).i32(1).op(Op.i32Add).set(n);
          f.get(off).op(Op.i64ExtendI32U);
          pushImm();
          f.op(Op.i64Add).set(t);
          L.br("transfer");
          return;
        case D.OP_JALR:
          // The target first: rd may be rs1.
          getReg(SLOT_RS1_SHIFT);
          pushImm();
          f.op(Op.i64Add).i64(-2, -1).op(Op.i64And).get(vb).op(Op.i64Sub).set(t);
          pcPlus(() => {
            pushLen();
            f.op(Op.i64ExtendI32U);
          });
          setRd();
          f.get(n).i32(1).op(Op.i32Add).set(n);
          L.br("transfer");
          return;
        case D.OP_FENCE:
          if (threaded) f.atomicFence();
          L.br("next");
          return;
        default:
          throw new Error(`the WebAssembly interpreter has no code for operation ${op}`);
      }
    }
    setRd();
    L.br("next");
  }
}

/** Push the length (2 or 4) of the instruction whose slot word is in local `w`, as an i32. */
function pushSlotLength(f: FunctionBody, w: number): void {
  f.get(w).i32(21).op(Op.i32ShrU).i32(2).op(Op.i32And).i32(2).op(Op.i32Add);
}

/**
 * `run`: enters `core` and does what it returns for: a slot to decode, a slot to `step`, a region to enter (see
 * buildInterpreterModule).
 */
function emitRun(
  f: FunctionBody,
  core: number,
  decodeSlot: number | undefined,
  importDecode: number,
  importStep: number,
  importSieOn: number,
  regionType: number,
): void {
  const P_HB = 0;
  const P_DTLB = 1;
  const P_ITLB = 2;
  const P_VBASE = 3;
  const off = 4;
  const code = 5;
  const P_LIMIT = 6;
  const P_HEAT_MASK = 7;
  const P_ICOUNT = 8;
  const vb = f.local(I64);
  const n = f.local(I32);
  const pageN = f.local(I32);
  const enter = f.local(I32);
  const t = f.local(I64);
  const action = f.local(I32);
  const w = f.local(I32);
  const a = f.local(I64);
  const t32 = f.local(I32);
  const ra = f.local(I32);
  const hostAddress = f.local(I32);
  const exitPc = f.local(I64);
  const ran = f.local(I32);
  const L = new Labels(f);
  const volume: VolumeLocals = { n, pageN, code, heatMask: P_HEAT_MASK, icount: P_ICOUNT, ran };
  /** Push pc + 0 (vbase + off). */
  const pushPc = (): void => {
    f.get(vb).get(off).op(Op.i64ExtendI32U).op(Op.i64Add);
  };
  /** End the run at the pc on the stack (an i64). */
  const exitAt = (): void => {
    f.set(exitPc);
    L.br("exit");
  };

  f.get(P_VBASE).op(Op.i64TruncF64S).set(vb);
  L.open(Op.block, "exit");
  L.open(Op.loop, "enter");
  f.get(P_HB).get(P_DTLB).get(P_ITLB).get(vb).get(off).get(code).get(P_LIMIT).get(P_HEAT_MASK).get(P_ICOUNT);
  f.get(n).get(pageN).get(enter).get(t);
  f.opU(Op.call, core);
  f.set(vb).set(code).set(pageN).set(n).set(off).set(action);
  f.i32(ENTER_FETCH).set(enter);
  L.open(Op.block, "sieOn");
  L.open(Op.block, "region");
  L.open(Op.block, "step");
  L.open(Op.block, "decode");
  L.open(Op.block, "ended");
  f.get(action);
  f.brTable(
    [L.depthOf("ended"), L.depthOf("decode"), L.depthOf("step"), L.depthOf("region"), L.depthOf("sieOn")],
    L.depthOf("ended"),
  );
  L.end(); // ended: core has counted the volume and set the pc
  f.get(n).op(Op.return);
  L.end(); // decode: here, else in TypeScript (which fails only where the fetch TLB no longer maps the page)
  if (decodeSlot !== undefined) {
    f.get(P_HB).get(code).get(off).opU(Op.call, decodeSlot).i32(0).op(Op.i32Ne);
    L.br("enter", Op.brIf);
  }
  f.get(vb).op(Op.f64ConvertI64S).get(off).opU(Op.call, importDecode).op(Op.i32Eqz);
  L.open(Op.if);
  pushPc();
  exitAt();
  L.end();
  L.br("enter");
  L.end(); // step: go on after the slot when it retired the instruction, else end the run where it left the pc
  // (in HB_NEXT_PC), counting the instruction when it retired it. The slot word first: a store may clear it.
  f.get(code).get(off).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, CODE_PAGE_SLOTS).set(w);
  f.get(vb).op(Op.f64ConvertI64S).get(off).get(n).opU(Op.call, importStep).tee(t32);
  f.i32(STEP_NEXT).op(Op.i32Eq);
  L.open(Op.if);
  f.get(off);
  pushSlotLength(f, w);
  f.op(Op.i32Add).set(off);
  f.get(n).i32(1).op(Op.i32Add).set(n);
  L.br("enter");
  L.end();
  f.get(n).get(t32).i32(STEP_END).op(Op.i32Eq).op(Op.i32Add).set(n);
  f.get(P_HB).mem(Op.f64Load, 3, HB_NEXT_PC).op(Op.i64TruncF64S);
  exitAt();
  L.end(); // region
  emitRegionEntry();
  L.end(); // sieOn: TypeScript marks the interrupts to be looked at, and says whether the run must end for them
  f.opU(Op.call, importSieOn);
  L.open(Op.if);
  pushPc();
  exitAt();
  L.end();
  L.br("enter");
  L.end(); // enter
  L.end(); // exit
  emitFlushVolume(f, L, volume);
  f.get(P_HB).get(exitPc).op(Op.f64ConvertI64S).mem(Op.f64Store, 3, HB_NEXT_PC);
  f.get(n);

  /**
   * A slot where a region block starts: enter the page's region there (through the region table), unless the run
   * loop asked for no chaining (a slow path wants it first, or chaining is off: HB_CHAIN_STOP) or the limit is
   * reached, or the fetch TLB's copy names no region record, region or block for it (the run loop enters it then,
   * and fills the record in). The region runs, chaining to others, until it returns; at a pc with no region or no
   * block there (RETURN_NO_REGION, RETURN_NO_BLOCK) the interpreter goes on (`core` entered at the transfer,
   * counting a miss of that page); for any other reason the run ends where the region left the pc, the reason in
   * HB_RETURN_REASON.
   */
  function emitRegionEntry(): void {
    const exitHere = (): void => {
      L.open(Op.if);
      pushPc();
      exitAt();
      L.end();
    };
    f.get(P_HB).mem(Op.i32Load, 2, HB_CHAIN_STOP).get(n).get(P_LIMIT).op(Op.i32GeS).op(Op.i32Or);
    exitHere();
    f.get(vb).i64(12, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(TLB_MASK).op(Op.i32And).set(t32);
    f.get(P_ITLB).get(t32).i32(3).op(Op.i32Shl).op(Op.i32Add).mem(Op.i64Load, 3, WASM_TLB_EXEC_TAG);
    f.get(vb).op(Op.i64Ne);
    exitHere();
    // The record (in `hostAddress`), the region's table slot (`t32`), the block (`ra`).
    f.get(P_ITLB).get(t32).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2, WASM_TLB_EXEC_RECORD);
    f.tee(hostAddress).op(Op.i32Eqz);
    exitHere();
    f.get(hostAddress).mem(Op.i32Load, 2, REGION_SLOT_OFFSET).tee(t32).op(Op.i32Eqz);
    exitHere();
    f.get(hostAddress).get(off).op(Op.i32Add).mem(Op.i32Load16U, 1, 0).tee(ra).i32(NO_BLOCK).op(Op.i32Eq);
    exitHere();
    emitFlushVolume(f, L, volume);
    f.get(P_HB).get(vb).op(Op.f64ConvertI64S).mem(Op.f64Store, 3, HB_VBASE);
    f.get(P_HB).get(t32).mem(Op.i32Store, 2, HB_REGION);
    f.get(P_HB).get(P_DTLB).get(vb).op(Op.f64ConvertI64S).get(ra).get(P_LIMIT).get(n).get(t32);
    f.callIndirect(Op.callIndirect, regionType, 0);
    // What it retired, counted as the regions'.
    f.tee(t32).get(n).op(Op.i32Sub).set(ra);
    f.get(t32).tee(n).set(pageN);
    f.get(P_HB).get(P_HB).mem(Op.i32Load, 2, HB_INTERP_REGION_INSNS).get(ra).op(Op.i32Add);
    f.mem(Op.i32Store, 2, HB_INTERP_REGION_INSNS);
    f.get(P_HB).get(P_HB).mem(Op.i32Load, 2, HB_INTERP_REGION_CALLS).i32(1).op(Op.i32Add);
    f.mem(Op.i32Store, 2, HB_INTERP_REGION_CALLS);
    // Its return, counted by reason (reusing `ra`: the counter's address).
    f.get(P_HB).mem(Op.i32Load, 2, HB_RETURN_REASON).tee(t32).i32(2).op(Op.i32Shl).get(P_HB).op(Op.i32Add).tee(ra);
    f.get(ra).mem(Op.i32Load, 2, HB_INTERP_RETURNS).i32(1).op(Op.i32Add).mem(Op.i32Store, 2, HB_INTERP_RETURNS);
    f.get(P_HB).mem(Op.f64Load, 3, HB_NEXT_PC).op(Op.i64TruncF64S).set(a);
    f.get(t32).i32(RETURN_NO_REGION).op(Op.i32Eq).get(t32).i32(RETURN_NO_BLOCK).op(Op.i32Eq).op(Op.i32Or);
    L.open(Op.if);
    f.i32(ENTER_FROM_REGION).set(enter);
    f.get(a).get(vb).op(Op.i64Sub).set(t);
    L.br("enter");
    L.end();
    f.get(a);
    exitAt();
  }
}
