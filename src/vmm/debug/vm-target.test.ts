import { describe, expect, test } from "bun:test";
import type { GuestDebugControl, GuestMemoryAccess, HalVcpu, X86DebugSpecialRegisters } from "../../hal/types.ts";
import type { DebugExit } from "../vm.ts";
import type { GdbStopEvent } from "./gdb-session.ts";
import { type DebuggableVm, VmGdbTarget } from "./vm-target.ts";
import { X86_64_GDB } from "./x86_64.ts";

const RAM_SIZE = 0x1_0000;

/** 64 KiB of guest RAM at 0. */
class FakeMemory implements GuestMemoryAccess {
  readonly bytes = new Uint8Array(RAM_SIZE);
  readonly view = new DataView(this.bytes.buffer);
  contains(gpa: number, length: number): boolean {
    return gpa >= 0 && length >= 0 && gpa + length <= RAM_SIZE;
  }
  read(gpa: number, length: number): Uint8Array {
    return this.bytes.slice(gpa, gpa + length);
  }
  readInto(gpa: number, target: Uint8Array): void {
    target.set(this.bytes.subarray(gpa, gpa + target.length));
  }
  write(gpa: number, data: Uint8Array): void {
    if (!this.contains(gpa, data.length)) throw new Error("outside RAM");
    this.bytes.set(data, gpa);
  }
  readU16(gpa: number): number {
    return this.view.getUint16(gpa, true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(gpa, true);
  }
  readU64(gpa: number): bigint {
    return this.view.getBigUint64(gpa, true);
  }
  writeU16(gpa: number, value: number): void {
    this.view.setUint16(gpa, value, true);
  }
  writeU32(gpa: number, value: number): void {
    this.view.setUint32(gpa, value, true);
  }
  writeU64(gpa: number, value: bigint): void {
    this.view.setBigUint64(gpa, value, true);
  }
}

/** A one-vCPU x86 VM with paging off: what the target asks of it is recorded. */
function fakeVm() {
  const memory = new FakeMemory();
  const regs = new Array<bigint>(18).fill(0n);
  const controls: Array<GuestDebugControl | undefined> = [];
  const sregs: X86DebugSpecialRegisters = {
    selectors: { cs: 8, ss: 16, ds: 16, es: 16, fs: 0, gs: 0 },
    cr0: 0n,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  };
  const unused = (): never => {
    throw new Error("not used");
  };
  const vcpu: HalVcpu = {
    id: 0,
    setup: unused,
    setEntry: unused,
    getGpr: (r) => regs[r] ?? 0n,
    setGpr: (r, v) => {
      regs[r] = v;
    },
    setReturnValue: unused,
    run: unused,
    kick: unused,
    setInterruptLevel: unused,
    hasPendingInterrupt: () => false,
    hardwareTimerDeadline: () => undefined,
    debug: {
      setGuestDebug: (control) => {
        controls.push(control);
      },
      checkGuestDebug: (control) => (control.breakpoints.length > 4 ? "four at most" : undefined),
      x86: { specialRegisters: () => sregs },
    },
    [Symbol.dispose]: () => undefined,
  };
  let stopHandler: ((id: number, exit: DebugExit) => void) | undefined;
  const calls: string[] = [];
  const vm: DebuggableVm = {
    label: "vm 1 (fake)",
    vcpuCount: 1,
    memory,
    vcpu: () => ({ arch: vcpu }),
    pause: () => {
      calls.push("pause");
      return Promise.resolve();
    },
    resume: () => {
      calls.push("resume");
      return Promise.resolve();
    },
    onDebugStop: (handler) => {
      stopHandler = handler;
    },
    shutdown: () => {
      calls.push("shutdown");
    },
  };
  const hit = (exit: DebugExit): void => stopHandler?.(0, exit);
  return { vm, memory, regs, controls, calls, hit };
}

describe("VmGdbTarget (x86: software breakpoints planted as int3)", () => {
  test("resume plants int3 over software breakpoints with int3 exits on; the stop removes them and rewinds the pc", async () => {
    const { vm, memory, regs, controls, calls, hit } = fakeVm();
    memory.bytes.set([0x90, 0x55, 0x48], 0x1000);
    const stops: GdbStopEvent[] = [];
    const target = new VmGdbTarget(
      vm,
      X86_64_GDB,
      (event) => stops.push(event),
      (error) => {
        throw error;
      },
    );
    target.resume({
      stepThread: undefined,
      softwareBreakpoints: [0x1001n],
      hardwareBreakpoints: [0x2000n],
      watchpoints: [],
    });
    expect([...memory.bytes.subarray(0x1000, 0x1003)]).toEqual([0x90, 0xcc, 0x48]);
    expect(controls.at(-1)).toEqual({
      singleStep: false,
      breakpoints: [0x2000n],
      watchpoints: [],
      breakpointExits: true,
    });
    expect(calls).toEqual(["resume"]);
    // A kernel that reports the pc past the int3: the target moves it back to the breakpoint.
    regs[16] = 0x1002n;
    hit({ kind: "Debug", reason: "breakpoint", pc: 0x1002n });
    await Promise.resolve();
    await Promise.resolve();
    expect(stops).toEqual([{ kind: "breakpoint", thread: 1 }]);
    expect(regs[16]).toBe(0x1001n);
    expect([...memory.bytes.subarray(0x1000, 0x1003)]).toEqual([0x90, 0x55, 0x48]);
    // Reads while stopped see the guest's own bytes.
    const read = target.readMemory(1, 0x1000n, 3, "virtual");
    expect(read.ok ? [...read.data] : []).toEqual([0x90, 0x55, 0x48]);
  });

  test("a software breakpoint that cannot be planted is reported, and the others still are", () => {
    const { vm, memory } = fakeVm();
    const errors: string[] = [];
    const target = new VmGdbTarget(
      vm,
      X86_64_GDB,
      () => undefined,
      (error) => errors.push(String(error)),
    );
    target.resume({
      stepThread: 1,
      softwareBreakpoints: [0x10_0000n, 0x20n],
      hardwareBreakpoints: [],
      watchpoints: [],
    });
    expect(errors).toEqual([
      "Error: Cannot plant a breakpoint at 0x100000: guest-physical 0x100000 is not guest memory",
    ]);
    expect(memory.bytes[0x20]).toBe(0xcc);
  });

  test("debug resources are checked with the hardware breakpoints only when software ones are planted", () => {
    const { vm } = fakeVm();
    const target = new VmGdbTarget(
      vm,
      X86_64_GDB,
      () => undefined,
      () => undefined,
    );
    const many = [1n, 2n, 3n, 4n, 5n];
    expect(target.checkDebugResources({ softwareBreakpoints: many, hardwareBreakpoints: [], watchpoints: [] })).toBe(
      undefined,
    );
    expect(target.checkDebugResources({ softwareBreakpoints: [], hardwareBreakpoints: many, watchpoints: [] })).toBe(
      "four at most",
    );
  });
});
