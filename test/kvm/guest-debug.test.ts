/**
 * Guest debugging on KVM x86 (src/hal/kvm/x86_64/guest-debug.ts) through the HAL, as the GDB stub uses it: a
 * hardware breakpoint at `tick` in test/guests/x86/gdb-target (long mode), a single step, a write watchpoint on
 * `counter` (a trap: the vCPU stops after the store), the GDB x86-64 view's register mapping and page walk, and the
 * guest finishing with debugging off. Needs a /dev/kvm that runs x86_64 guests (scripts/e2e/70-kvm-gdb.sh runs it
 * inside a nested KVM).
 */
import { expect } from "bun:test";
import { setupLongModeBoot } from "../../src/vmm/boards/x86-pc/boot-cpu.ts";
import { translateX86, X86_64_GDB } from "../../src/vmm/debug/x86_64.ts";
import { testIf } from "../support/skip.ts";
import { createTestVm, guestImage, HC_REPORT, isHypercall, kvmRequirement, runUntil, setupX86 } from "./harness.ts";

// From `nm test/guests/x86/gdb-target.elf` (linked at 0x100000).
const LOAD = 0x10_0000;
const TICK = 0x10_0029n;
const TICK_RET = 0x10_0030n;
const COUNTER = 0x10_0038n;

testIf(kvmRequirement(), "KVM guest debugging")(
  "KVM x86: hardware breakpoint, single step, write watchpoint, registers and memory for GDB, then run to the end",
  () => {
    using t = createTestVm();
    t.memory.write(LOAD, guestImage("gdb-target"));
    const vcpu = t.vm.createVcpu(0);
    setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LOAD }));
    const debug = vcpu.debug;
    if (debug === undefined) throw new Error("the KVM x86 vCPU has no debug interface");

    debug.setGuestDebug({ singleStep: false, breakpoints: [TICK], watchpoints: [] });
    expect(vcpu.run()).toEqual({ kind: "Debug", reason: "breakpoint", pc: TICK });
    expect(X86_64_GDB.pc(vcpu)).toBe(TICK);
    expect(X86_64_GDB.readRegister(vcpu, 2)).toBe(3n); // rcx: the loop count, before the first `loop`
    // The return address on the stack, read through the guest's page tables as GDB's `x` does.
    const rsp = X86_64_GDB.readRegister(vcpu, 7) ?? 0n;
    const stack = translateX86(vcpu, t.memory, rsp);
    expect(stack.ok ? t.memory.readU64(stack.gpa) : undefined).toBe(0x10_000an);
    expect(X86_64_GDB.readRegister(vcpu, 18)).not.toBe(0n); // cs: the 64-bit code selector

    debug.setGuestDebug({ singleStep: true, breakpoints: [], watchpoints: [] });
    expect(vcpu.run()).toEqual({ kind: "Debug", reason: "step", pc: TICK_RET });
    const counter = translateX86(vcpu, t.memory, COUNTER);
    expect(counter).toEqual({ ok: true, gpa: Number(COUNTER), span: 0x1000 - (Number(COUNTER) % 0x1000) });
    expect(t.memory.readU64(Number(COUNTER))).toBe(1n);

    debug.setGuestDebug({
      singleStep: false,
      breakpoints: [],
      watchpoints: [{ addr: COUNTER, length: 8, kind: "write" }],
    });
    expect(vcpu.run()).toEqual({
      kind: "Debug",
      reason: "watchpoint",
      pc: TICK_RET,
      watch: { addr: COUNTER, kind: "write" },
    });
    expect(t.memory.readU64(Number(COUNTER))).toBe(2n);
    expect(
      debug.checkGuestDebug?.({ singleStep: false, breakpoints: [1n, 2n, 3n, 4n, 5n], watchpoints: [] }),
    ).toContain("x86 has 4");

    debug.setGuestDebug(undefined);
    const exits = runUntil(vcpu, (exit) => isHypercall(exit, HC_REPORT));
    expect(exits.at(-1)).toMatchObject({ kind: "Hypercall", nr: HC_REPORT, args: [3n, 0n, 0n, 0n, 0n, 0n] });
  },
);
