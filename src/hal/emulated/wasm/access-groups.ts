/**
 * Grouping a block's loads and stores by base register, so a region probes the TLB once per group instead of once
 * per access (compile.ts).
 *
 * Code reaches memory in runs through one base register: a function saves and restores its registers through sp,
 * a copy loop reads four doublewords through one pointer and writes them through another. Each access compiled
 * alone computes its address, indexes the TLB's WebAssembly copy, compares the tag and adds the host offset: about
 * a dozen WebAssembly operations, most of them a local's load and store in JavaScriptCore's baseline tier. A group
 * is the loads (or the stores) of a block through one base register that the block does not change between them:
 * its first access checks, once, that every access of the group lies in one page that the TLB maps for it, and
 * that the base is aligned for all of them; then each access is one memory operation at a constant offset from a
 * host address. When the check fails, every access of the group takes its own path as before.
 */

import type { Insn } from "../decode.ts";
import * as D from "../decode.ts";

/** Loads (or stores) of one block through one base register, in block order. */
export interface AccessGroup {
  readonly base: number;
  readonly store: boolean;
  /** Indexes of the accesses in the block. */
  readonly members: number[];
  /** The lowest offset from the base any member uses, and the end of the highest byte any member touches. */
  minOffset: number;
  endOffset: number;
  /** The largest access width: the base must be aligned to it (each offset is a multiple of its own width). */
  align: number;
}

export interface BlockAccessGroups {
  /** For each instruction of the block, the index of its group in `groups`, or -1. */
  readonly groupOf: Int32Array;
  /** Groups of at least two accesses (a lone access keeps its own probe). */
  readonly groups: readonly AccessGroup[];
}

/** The width of a load or store the region compiles inline, or 0. */
function accessWidth(op: number): number {
  switch (op) {
    case D.OP_LB:
    case D.OP_LBU:
    case D.OP_SB:
      return 1;
    case D.OP_LH:
    case D.OP_LHU:
    case D.OP_SH:
      return 2;
    case D.OP_LW:
    case D.OP_LWU:
    case D.OP_SW:
      return 4;
    case D.OP_LD:
    case D.OP_SD:
      return 8;
    default:
      return 0;
  }
}

function isStore(op: number): boolean {
  return op >= D.OP_SB && op <= D.OP_SD;
}

/**
 * The groups of a block's instructions. `inline(d)` says whether the region compiles `d` without calling into
 * the TypeScript hart: a call may change translations, so it ends every open group.
 */
export function planAccessGroups(insns: readonly Insn[], inline: (d: Insn) => boolean): BlockAccessGroups {
  const groupOf = new Int32Array(insns.length).fill(-1);
  const all: AccessGroup[] = [];
  /** Open groups by key: base register, plus 32 for stores. */
  const open = new Map<number, AccessGroup>();
  insns.forEach((d, i) => {
    if (!inline(d)) {
      open.clear();
      return;
    }
    const width = accessWidth(d.op);
    if (width !== 0 && d.rs1 !== 0 && d.imm % width === 0) {
      const store = isStore(d.op);
      const key = d.rs1 + (store ? 32 : 0);
      let g = open.get(key);
      if (g === undefined) {
        g = { base: d.rs1, store, members: [], minOffset: d.imm, endOffset: d.imm + width, align: width };
        open.set(key, g);
        all.push(g);
      }
      g.members.push(i);
      g.minOffset = Math.min(g.minOffset, d.imm);
      g.endOffset = Math.max(g.endOffset, d.imm + width);
      g.align = Math.max(g.align, width);
    }
    // A new value of a base register ends its groups (a load into its own base still used the old one).
    const writesRd = d.rd !== 0 && !isStore(d.op) && !(d.op >= D.OP_BEQ && d.op <= D.OP_BGEU);
    if (writesRd) {
      open.delete(d.rd);
      open.delete(d.rd + 32);
    }
  });
  const groups: AccessGroup[] = [];
  for (const g of all) {
    // A group spanning a page or more can never pass its check.
    if (g.members.length < 2 || g.endOffset - g.minOffset > 4096) continue;
    for (const i of g.members) groupOf[i] = groups.length;
    groups.push(g);
  }
  return { groupOf, groups };
}
