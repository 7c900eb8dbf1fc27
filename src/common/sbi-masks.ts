/**
 * The SBI specification's rules for the hart masks and address ranges of IPI and RFENCE calls, for every place
 * that answers those calls (the VMM's dispatcher, src/vmm/boards/riscv-virt/sbi.ts, and harts on threads of their
 * own, src/hal/emulated/threads/sbi-on-thread.ts).
 */

import { U64_MASK } from "./u64.ts";

/** `hart_mask_base = -1`: ignore `hart_mask` and target every hart. */
const HART_MASK_BASE_ALL = U64_MASK;
/** A fence `size` of 2^XLEN - 1 means the whole address space. */
const FENCE_SIZE_ALL = U64_MASK;

/** An address range for remote fences; `all` covers the whole address space. */
export type FenceRange =
  | { readonly all: true }
  | { readonly all: false; readonly start: bigint; readonly size: bigint };

/**
 * The harts named by (`hart_mask`, `hart_mask_base`), or undefined when the base or any named hart is not one of
 * ours (the spec's "Hart Mask Errors": SBI_ERR_INVALID_PARAM). Base -1 means every hart and ignores the mask.
 */
export function resolveHartMask(mask: bigint, maskBase: bigint, hartCount: number): number[] | undefined {
  const m = BigInt.asUintN(64, mask);
  const b = BigInt.asUintN(64, maskBase);
  if (b === HART_MASK_BASE_ALL) return Array.from({ length: hartCount }, (_, i) => i);
  const count = BigInt(hartCount);
  if (b >= count) return undefined;
  const targets: number[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    if (((m >> bit) & 1n) === 0n) continue;
    const hartId = b + bit;
    if (hartId >= count) return undefined;
    targets.push(Number(hartId));
  }
  return targets;
}

/**
 * The RFENCE range rules: (0, 0) or size = 2^XLEN - 1 is the whole address space; otherwise the range must not
 * wrap past 2^XLEN (undefined → SBI_ERR_INVALID_ADDRESS).
 */
export function fenceRange(start: bigint, size: bigint): FenceRange | undefined {
  const s = BigInt.asUintN(64, start);
  const n = BigInt.asUintN(64, size);
  if ((s === 0n && n === 0n) || n === FENCE_SIZE_ALL) return { all: true };
  if (s + n > U64_MASK + 1n) return undefined;
  return { all: false, start: s, size: n };
}
