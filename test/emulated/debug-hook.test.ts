/**
 * The emulated hart's guest-debug hook (src/hal/emulated/debug.ts): breakpoints stop before the instruction,
 * single steps stop after one, watchpoints stop before the access that touches them, debugging off runs the
 * engine as before, and FP registers and CSRs are reachable for the debugger.
 */
import { describe, expect, test } from "bun:test";
import { CSR_MSCRATCH, CSR_MSTATUS } from "../../src/arch/riscv64/csr.ts";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import type { AxVCpuExitReason, HalVcpu } from "../../src/hal/types.ts";
import * as A from "./asm.ts";

const RAM = 0x8000_0000;
const DATA = RAM + 0x1000;

/** A bare-machine hart with `program` at RAM and t1 = DATA. */
function hartWith(program: readonly number[]): { vcpu: HalVcpu; close: () => void } {
  const hypervisor = emulatedBackend.open();
  const vm = hypervisor.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1, mode: "bare-machine" });
  const ram = vm.allocateMemory(0x10000);
  vm.mapGuestMemory(RAM, ram, 7);
  const view = new DataView(ram.bytes.buffer, ram.bytes.byteOffset);
  program.forEach((word, i) => view.setUint32(i * 4, word >>> 0, true));
  const vcpu = vm.createVcpu(0) as EmulatedVcpu;
  // A run that never stops for the debugger ends after this many steps (with Nothing).
  vcpu.instructionBudget = 20_000;
  vcpu.setup({ entry: RAM, gprs: [[A.t1, BigInt(DATA)]] });
  return {
    vcpu,
    close: () => {
      vcpu[Symbol.dispose]();
      vm[Symbol.dispose]();
      hypervisor[Symbol.dispose]();
    },
  };
}

// t1 = DATA.   0: addi t0, t0, 1   4: sd t0, 0(t1)   8: ld t2, 0(t1)   12: j 0
const LOOP = [A.addi(A.t0, A.t0, 1), A.sd(A.t0, A.t1, 0), A.ld(A.t2, A.t1, 0), A.jal(0, -12)];

function debugExit(exit: AxVCpuExitReason): Extract<AxVCpuExitReason, { kind: "Debug" }> {
  if (exit.kind !== "Debug") throw new Error(`expected a Debug exit, got ${exit.kind}`);
  return exit;
}

describe("emulated hart guest debugging", () => {
  test("a breakpoint stops before its instruction, every time round the loop", () => {
    const { vcpu, close } = hartWith(LOOP);
    const debug = vcpu.debug;
    if (debug === undefined) throw new Error("the emulated vCPU has no debug interface");
    debug.setGuestDebug({ singleStep: false, breakpoints: [BigInt(RAM + 4)], watchpoints: [] });
    const first = debugExit(vcpu.run());
    expect(first.reason).toBe("breakpoint");
    expect(first.pc).toBe(BigInt(RAM + 4));
    expect(vcpu.getGpr(A.t0)).toBe(1n);
    // Resuming from a breakpoint means stepping over it first (GDB removes it, steps, inserts it again).
    debug.setGuestDebug({ singleStep: true, breakpoints: [], watchpoints: [] });
    expect(debugExit(vcpu.run()).pc).toBe(BigInt(RAM + 8));
    debug.setGuestDebug({ singleStep: false, breakpoints: [BigInt(RAM + 4)], watchpoints: [] });
    expect(debugExit(vcpu.run()).pc).toBe(BigInt(RAM + 4));
    expect(vcpu.getGpr(A.t0)).toBe(2n);
    close();
  });

  test("single steps retire one instruction each, following the jump", () => {
    const { vcpu, close } = hartWith(LOOP);
    vcpu.debug?.setGuestDebug({ singleStep: true, breakpoints: [], watchpoints: [] });
    const pcs: bigint[] = [];
    for (let i = 0; i < 6; i++) pcs.push(debugExit(vcpu.run()).pc);
    expect(pcs.map((pc) => Number(pc) - RAM)).toEqual([4, 8, 12, 0, 4, 8]);
    close();
  });

  test("watchpoints stop before a store (write) or a load (read) of the watched bytes, not other accesses", () => {
    const { vcpu, close } = hartWith(LOOP);
    const debug = vcpu.debug;
    if (debug === undefined) throw new Error("the emulated vCPU has no debug interface");
    debug.setGuestDebug({
      singleStep: false,
      breakpoints: [],
      watchpoints: [{ addr: BigInt(DATA + 4), length: 4, kind: "write" }],
    });
    const write = debugExit(vcpu.run());
    expect(write).toMatchObject({ reason: "watchpoint", pc: BigInt(RAM + 4), watch: { kind: "write" } });
    expect(write.watch?.addr).toBe(BigInt(DATA + 4));
    debug.setGuestDebug({
      singleStep: false,
      breakpoints: [],
      watchpoints: [{ addr: BigInt(DATA), length: 8, kind: "read" }],
    });
    const read = debugExit(vcpu.run());
    expect(read).toMatchObject({ reason: "watchpoint", pc: BigInt(RAM + 8), watch: { kind: "read" } });
    // A watchpoint beside the accessed bytes never fires: the loop runs out its budget.
    debug.setGuestDebug({
      singleStep: false,
      breakpoints: [],
      watchpoints: [{ addr: BigInt(DATA + 8), length: 8, kind: "access" }],
    });
    expect(vcpu.run().kind).toBe("Nothing");
    close();
  });

  test("with debugging off the hart runs its engine again and reports no debug exit", () => {
    const { vcpu, close } = hartWith(LOOP);
    vcpu.debug?.setGuestDebug({ singleStep: false, breakpoints: [BigInt(RAM + 8)], watchpoints: [] });
    expect(vcpu.run().kind).toBe("Debug");
    vcpu.debug?.setGuestDebug(undefined);
    expect(vcpu.run().kind).toBe("Nothing");
    expect(vcpu.getGpr(A.t0)).toBeGreaterThan(1000n); // 20 000 steps of a 4-instruction loop, all run;
    close();
  });

  test("FP registers and CSRs read and write for the debugger; unimplemented CSRs say so", () => {
    const { vcpu, close } = hartWith(LOOP);
    const regs = vcpu.debug?.riscv;
    if (regs === undefined) throw new Error("the emulated vCPU has no RISC-V debug registers");
    regs.setFpr(3, 0x4009_21fb_5444_2d18n);
    expect(regs.getFpr(3)).toBe(0x4009_21fb_5444_2d18n);
    expect(regs.writeCsr(CSR_MSCRATCH, 0x1234_5678_9abc_def0n)).toBe(true);
    expect(regs.readCsr(CSR_MSCRATCH)).toBe(0x1234_5678_9abc_def0n);
    expect(regs.readCsr(CSR_MSTATUS)).toBeDefined();
    expect(regs.readCsr(0x7ff)).toBeUndefined();
    expect(regs.writeCsr(0x7ff, 1n)).toBe(false);
    expect(regs.privilege()).toEqual({ priv: 3, virtualized: false });
    expect(() => regs.getFpr(32)).toThrow("f0..f31");
    close();
  });
});
