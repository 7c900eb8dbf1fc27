/**
 * Guest debugging on x86 KVM (KVM_SET_GUEST_DEBUG): the debugger's breakpoints and watchpoints become the four
 * debug-register slots (DR0-DR3 with DR7), single steps use KVM's trap flag, and a KVM_EXIT_DEBUG becomes a `Debug`
 * exit by what DR6 says fired. Breakpoints are hardware instruction breakpoints (faults: the vCPU stops before the
 * instruction; software breakpoints are `int3`s the VMM plants, with int3 exits asked for); watchpoints are data
 * breakpoints (traps: it stops after the access). A watched range is split into
 * naturally aligned pieces of 1, 2, 4 or 8 bytes, one slot each, as GDB's own x86 code does. x86 cannot watch reads
 * alone, so "read" watchpoints are refused (GDB then offers `awatch`).
 */

import {
  DR6_BS,
  DR7_GE,
  DR7_LE,
  DR7_RW_ACCESS,
  DR7_RW_EXECUTE,
  DR7_RW_WRITE,
  dr6Hit,
  dr7Length,
  dr7LocalEnable,
  dr7ReadWrite,
  X86_DEBUG_SLOTS,
  X86_VECTOR_BP,
} from "../../../arch/x86_64/debug.ts";
import type { AxVCpuExitReason, GuestDebugControl, WatchpointKind } from "../../types.ts";
import {
  KVM_GUEST_DEBUG_LAYOUT,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_SINGLESTEP,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP,
  KVM_RUN_DEBUG_LAYOUT,
} from "./abi.ts";

/** What one debug-register slot stands for. */
export type DebugSlot =
  | { readonly kind: "breakpoint"; readonly addr: bigint }
  | { readonly kind: "watchpoint"; readonly addr: bigint; readonly watch: WatchpointKind };

/** The debug registers for a control: DR0-DR7 values and what each used slot is. */
export interface DebugRegisterPlan {
  readonly debugreg: readonly bigint[];
  readonly slots: readonly DebugSlot[];
}

/** Naturally aligned pieces (1, 2, 4 or 8 bytes) covering [addr, addr + length). */
function alignedPieces(addr: bigint, length: number): Array<{ addr: bigint; size: 1 | 2 | 4 | 8 }> {
  const pieces: Array<{ addr: bigint; size: 1 | 2 | 4 | 8 }> = [];
  let at = addr;
  const end = addr + BigInt(length);
  while (at < end) {
    const left = end - at;
    const size = ([8, 4, 2, 1] as const).find((n) => at % BigInt(n) === 0n && left >= BigInt(n)) ?? 1;
    pieces.push({ addr: at, size });
    at += BigInt(size);
  }
  return pieces;
}

/** Assign slots for `control`; a string says why it cannot be done. */
export function planDebugRegisters(control: GuestDebugControl): DebugRegisterPlan | string {
  const slots: DebugSlot[] = [];
  const debugreg = new Array<bigint>(8).fill(0n);
  let dr7 = 0n;
  const take = (slot: DebugSlot, addr: bigint, rw: bigint, size: 1 | 2 | 4 | 8): void => {
    const n = slots.length;
    if (n < X86_DEBUG_SLOTS) {
      debugreg[n] = BigInt.asUintN(64, addr);
      dr7 |= dr7LocalEnable(n) | dr7ReadWrite(n, rw) | dr7Length(n, size);
    }
    slots.push(slot);
  };
  for (const addr of control.breakpoints) take({ kind: "breakpoint", addr }, addr, DR7_RW_EXECUTE, 1);
  for (const w of control.watchpoints) {
    if (w.kind === "read") {
      return `Cannot watch reads alone at 0x${w.addr.toString(16)}: x86 debug registers watch writes or all accesses (use awatch)`;
    }
    if (!Number.isInteger(w.length) || w.length <= 0)
      return `Cannot watch ${w.length} bytes at 0x${w.addr.toString(16)}`;
    for (const piece of alignedPieces(w.addr, w.length)) {
      take(
        { kind: "watchpoint", addr: w.addr, watch: w.kind },
        piece.addr,
        w.kind === "write" ? DR7_RW_WRITE : DR7_RW_ACCESS,
        piece.size,
      );
      dr7 |= DR7_LE | DR7_GE;
    }
  }
  if (slots.length > X86_DEBUG_SLOTS) {
    return `Cannot place ${control.breakpoints.length} breakpoint(s) and ${control.watchpoints.length} watchpoint(s): they need ${slots.length} debug registers and x86 has ${X86_DEBUG_SLOTS}`;
  }
  debugreg[7] = dr7;
  return { debugreg, slots };
}

/**
 * The struct kvm_guest_debug bytes: debugging off (undefined), or on with the plan, maybe a single step, and maybe
 * int3 exits (software breakpoints the VMM planted).
 */
export function guestDebugBytes(
  plan: DebugRegisterPlan | undefined,
  singleStep: boolean,
  breakpointExits = false,
): Uint8Array {
  const bytes = new Uint8Array(KVM_GUEST_DEBUG_LAYOUT.size);
  if (plan === undefined) return bytes;
  const view = new DataView(bytes.buffer);
  const control =
    KVM_GUESTDBG_ENABLE |
    KVM_GUESTDBG_USE_HW_BP |
    (singleStep ? KVM_GUESTDBG_SINGLESTEP : 0) |
    (breakpointExits ? KVM_GUESTDBG_USE_SW_BP : 0);
  view.setUint32(KVM_GUEST_DEBUG_LAYOUT.fields.control.offset, control, true);
  const regs = KVM_GUEST_DEBUG_LAYOUT.fields["arch.debugreg"].offset;
  plan.debugreg.forEach((value, i) => view.setBigUint64(regs + 8 * i, value, true));
  return bytes;
}

const D = KVM_RUN_DEBUG_LAYOUT.fields;

/** A KVM_EXIT_DEBUG as a `Debug` exit, by DR6 and the slots in force (undefined: nothing we asked for fired). */
export function decodeDebugExit(run: DataView, slots: readonly DebugSlot[]): AxVCpuExitReason | undefined {
  const exception = run.getUint32(D["debug.arch.exception"].offset, true);
  const pc = run.getBigUint64(D["debug.arch.pc"].offset, true);
  const dr6 = run.getBigUint64(D["debug.arch.dr6"].offset, true);
  if ((dr6 & DR6_BS) !== 0n) return { kind: "Debug", reason: "step", pc };
  for (let n = 0; n < Math.min(slots.length, X86_DEBUG_SLOTS); n++) {
    if ((dr6 & dr6Hit(n)) === 0n) continue;
    const slot = slots[n];
    if (slot === undefined) continue;
    if (slot.kind === "breakpoint") return { kind: "Debug", reason: "breakpoint", pc };
    return { kind: "Debug", reason: "watchpoint", pc, watch: { addr: slot.addr, kind: slot.watch } };
  }
  if (exception === X86_VECTOR_BP) return { kind: "Debug", reason: "breakpoint", pc };
  return undefined;
}
