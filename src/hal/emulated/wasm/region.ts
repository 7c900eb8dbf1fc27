/**
 * Region formation for the WebAssembly tier: the basic blocks of one physical page that are reachable from a set
 * of entry offsets (where control was seen to land often), found by following the page's direct control flow.
 *
 * A region covers one 4 KiB page, as v86's do: code is compiled per physical page, so a write to the page (by a
 * hart or by DMA) drops exactly what was compiled from it, and every virtual alias of the page shares the code.
 * Blocks are found in two passes: leaders (block starts) first — the entries, the targets of in-page branches and
 * jumps, the return points after calls, the instructions after those that end a block without transferring
 * control (CSR accesses, fences, system instructions: execution may continue there) — then each block is decoded
 * from its leader to the first instruction that ends it (block.ts `endsBlock`) or to the next leader.
 */

import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import { endsBlock } from "../block.ts";
import * as D from "../decode.ts";
import { decode16, decode32, type Insn } from "../decode.ts";

/**
 * The most instructions one region compiles: a whole page of compressed instructions. With half that, the hottest
 * pages of Debian's 6.12 boot (dense code, entered at many places) filled their regions before all their hot
 * entries were in, and regions returned to the run loop 1.35 M times for want of a block; with a whole page,
 * 0.18 M times, and 131 regions (20 compiled again) did what 167 (58) had done.
 */
export const MAX_REGION_INSNS = 2048;

export interface PlannedBlock {
  /** Offset of the first instruction in the page. */
  readonly start: number;
  readonly insns: readonly Insn[];
  /** Offset of each instruction in the page. */
  readonly offsets: readonly number[];
  /** Offset just past the last instruction. */
  readonly end: number;
}

export interface RegionPlan {
  /** Blocks sorted by start offset. */
  readonly blocks: readonly PlannedBlock[];
  readonly insnCount: number;
}

/** The instruction at `off` of the page whose bytes start at `base` in `view`, or undefined if it straddles the end. */
export function decodeAt(view: DataView, base: number, off: number): Insn | undefined {
  const low = view.getUint16((base + off) | 0, true);
  if ((low & 3) !== 3) return decode16(low);
  if (off + 4 > PAGE_SIZE) return undefined;
  return decode32((low | (view.getUint16((base + off + 2) | 0, true) << 16)) >>> 0);
}

function continuesAfter(op: number): boolean {
  return op !== D.OP_ILLEGAL && op !== D.OP_EBREAK && op !== D.OP_MRET && op !== D.OP_SRET;
}

function isBranch(op: number): boolean {
  return op >= D.OP_BEQ && op <= D.OP_BGEU;
}

/**
 * Plan the region of the page at `base` in `view` reachable from `entries` (offsets in the page, even). Returns
 * undefined when nothing can be compiled (every entry straddles the page end).
 */
export function planRegion(view: DataView, base: number, entries: Iterable<number>): RegionPlan | undefined {
  const leaders = new Set<number>();
  const work: number[] = [];
  const addLeader = (off: number): void => {
    if (off < 0 || off >= PAGE_SIZE || (off & 1) !== 0 || leaders.has(off)) return;
    leaders.add(off);
    work.push(off);
  };
  for (const e of entries) addLeader(e);
  // Pass 1: leaders. Each leader's run is decoded up to its block end; what it reaches becomes a leader too.
  let decoded = 0;
  const scanned = new Set<number>();
  while (work.length > 0 && decoded < MAX_REGION_INSNS) {
    let off = work.pop() ?? 0;
    while (off < PAGE_SIZE && decoded < MAX_REGION_INSNS) {
      if (scanned.has(off)) break;
      scanned.add(off);
      const insn = decodeAt(view, base, off);
      if (insn === undefined) break;
      decoded++;
      const next = off + insn.len;
      if (insn.op === D.OP_JAL) {
        addLeader(off + insn.imm);
        if (insn.rd !== 0) addLeader(next); // a call: control comes back after it
        break;
      }
      if (insn.op === D.OP_JALR) {
        if (insn.rd !== 0) addLeader(next);
        break;
      }
      if (isBranch(insn.op)) {
        addLeader(off + insn.imm);
        addLeader(next);
        break;
      }
      if (endsBlock(insn.op)) {
        // CSR accesses, fences, WFI, ECALL: execution goes on (or resumes) after it. Not after an xRET, an
        // EBREAK or an illegal encoding (often data, or zeroes, after the code).
        if (continuesAfter(insn.op)) addLeader(next);
        break;
      }
      off = next;
    }
  }
  // Pass 2: blocks, each from its leader to its end or the next leader.
  const sorted = [...leaders].sort((a, b) => a - b);
  const blocks: PlannedBlock[] = [];
  let insnCount = 0;
  for (let k = 0; k < sorted.length && insnCount < MAX_REGION_INSNS; k++) {
    const start = sorted[k] ?? 0;
    const stop = sorted[k + 1] ?? PAGE_SIZE;
    const insns: Insn[] = [];
    const offsets: number[] = [];
    let off = start;
    while (off < PAGE_SIZE && insnCount < MAX_REGION_INSNS) {
      if (off !== start && off >= stop) break;
      const insn = decodeAt(view, base, off);
      if (insn === undefined) break;
      insns.push(insn);
      offsets.push(off);
      insnCount++;
      off += insn.len;
      if (endsBlock(insn.op)) break;
    }
    if (insns.length === 0) continue;
    blocks.push({ start, insns, offsets, end: off });
  }
  if (blocks.length === 0) return undefined;
  return { blocks, insnCount };
}
