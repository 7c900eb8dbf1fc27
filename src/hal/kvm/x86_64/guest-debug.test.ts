import { describe, expect, test } from "bun:test";
import { KVM_RUN_LAYOUT } from "../abi.ts";
import {
  KVM_GUEST_DEBUG_LAYOUT,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_SINGLESTEP,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_RUN_DEBUG_LAYOUT,
} from "./abi.ts";
import { decodeDebugExit, guestDebugBytes, planDebugRegisters } from "./guest-debug.ts";

const D = KVM_RUN_DEBUG_LAYOUT.fields;

describe("x86 guest debug registers", () => {
  test("a breakpoint and an 8-byte write watchpoint: DR0/DR1 and DR7's enable, R/W and LEN fields", () => {
    const plan = planDebugRegisters({
      singleStep: false,
      breakpoints: [0xffff_ffff_8100_0000n],
      watchpoints: [{ addr: 0x7000n, length: 8, kind: "write" }],
    });
    if (typeof plan === "string") throw new Error(plan);
    expect(plan.debugreg[0]).toBe(0xffff_ffff_8100_0000n);
    expect(plan.debugreg[1]).toBe(0x7000n);
    // L0 | L1 | LE | GE | R/W1 = 01 (bits 20-21) | LEN1 = 10 (8 bytes, bits 22-23); slot 0: execute, 1 byte (zeros).
    expect(plan.debugreg[7]).toBe(0b1n | 0b100n | (1n << 8n) | (1n << 9n) | (0b01n << 20n) | (0b10n << 22n));
    expect(plan.slots).toEqual([
      { kind: "breakpoint", addr: 0xffff_ffff_8100_0000n },
      { kind: "watchpoint", addr: 0x7000n, watch: "write" },
    ]);
  });

  test("an unaligned range takes aligned pieces; more than four slots or a read-only watch is refused", () => {
    const plan = planDebugRegisters({
      singleStep: false,
      breakpoints: [],
      watchpoints: [{ addr: 0x1003n, length: 6, kind: "access" }],
    });
    if (typeof plan === "string") throw new Error(plan);
    // 0x1003 (1 byte), 0x1004 (4 bytes), 0x1008 (1 byte).
    expect(plan.debugreg.slice(0, 3)).toEqual([0x1003n, 0x1004n, 0x1008n]);
    expect((plan.debugreg[7] ?? 0n) >> 16n).toBe(0b0011_1111_0011n);
    expect(
      planDebugRegisters({
        singleStep: false,
        breakpoints: [1n, 2n, 3n],
        watchpoints: [{ addr: 0x1003n, length: 2, kind: "write" }],
      }),
    ).toBe("Cannot place 3 breakpoint(s) and 1 watchpoint(s): they need 5 debug registers and x86 has 4");
    expect(
      planDebugRegisters({ singleStep: false, breakpoints: [], watchpoints: [{ addr: 8n, length: 8, kind: "read" }] }),
    ).toContain("x86 debug registers watch writes or all accesses (use awatch)");
  });

  test("struct kvm_guest_debug: enable + hardware breakpoints (+ single step), the debug registers; zero when off", () => {
    const plan = planDebugRegisters({ singleStep: true, breakpoints: [0x1000n], watchpoints: [] });
    if (typeof plan === "string") throw new Error(plan);
    const view = new DataView(guestDebugBytes(plan, true).buffer);
    expect(view.getUint32(KVM_GUEST_DEBUG_LAYOUT.fields.control.offset, true)).toBe(
      KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_SINGLESTEP,
    );
    const regs = KVM_GUEST_DEBUG_LAYOUT.fields["arch.debugreg"].offset;
    expect(view.getBigUint64(regs, true)).toBe(0x1000n);
    expect(view.getBigUint64(regs + 7 * 8, true)).toBe(1n);
    expect([...guestDebugBytes(undefined, false)].every((b) => b === 0)).toBe(true);
  });

  test("KVM_EXIT_DEBUG: DR6.BS is a step, DR6.Bn the slot's breakpoint or watchpoint, #BP a breakpoint", () => {
    const plan = planDebugRegisters({
      singleStep: false,
      breakpoints: [0x1000n],
      watchpoints: [{ addr: 0x2000n, length: 4, kind: "write" }],
    });
    if (typeof plan === "string") throw new Error(plan);
    const run = new DataView(new ArrayBuffer(KVM_RUN_LAYOUT.size));
    const exit = (exception: number, pc: bigint, dr6: bigint) => {
      run.setUint32(D["debug.arch.exception"].offset, exception, true);
      run.setBigUint64(D["debug.arch.pc"].offset, pc, true);
      run.setBigUint64(D["debug.arch.dr6"].offset, dr6, true);
      return decodeDebugExit(run, plan.slots);
    };
    expect(exit(1, 0x1234n, 0xffff_4ff0n)).toEqual({ kind: "Debug", reason: "step", pc: 0x1234n });
    expect(exit(1, 0x1000n, 0xffff_0ff1n)).toEqual({ kind: "Debug", reason: "breakpoint", pc: 0x1000n });
    expect(exit(1, 0x1008n, 0xffff_0ff2n)).toEqual({
      kind: "Debug",
      reason: "watchpoint",
      pc: 0x1008n,
      watch: { addr: 0x2000n, kind: "write" },
    });
    expect(exit(3, 0x1100n, 0xffff_0ff0n)).toEqual({ kind: "Debug", reason: "breakpoint", pc: 0x1100n });
    expect(exit(1, 0x1100n, 0xffff_0ff0n)).toBeUndefined();
  });
});
