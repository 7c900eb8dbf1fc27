/**
 * A running VM as the GDB session's target: thread n is vCPU n - 1; registers through the architecture's
 * `GdbArchitecture` and the HAL's debug interface; memory through the VM's `GuestMemoryAccess` (bounds-checked;
 * device windows are not memory and read as errors), guest-virtual addresses through the architecture's
 * side-effect-free page-table walk.
 *
 * All-stop: resuming hands every vCPU the debugger's breakpoints and watchpoints (and the step to one of them)
 * and resumes the VM; the first `Debug` exit, or Ctrl-C, pauses the whole VM (`AxVM.pause`), and the stop is
 * reported once the pause has settled, when no vCPU is inside the guest.
 */

import type { GuestMemoryAccess, HalVcpu } from "../../hal/types.ts";
import type { DebugExit } from "../vm.ts";
import type { GdbArchitecture } from "./gdb-arch.ts";
import {
  GDB_SIGINT,
  GDB_SIGTRAP,
  type GdbDebugPoints,
  type GdbResume,
  type GdbStopEvent,
  type GdbTarget,
  type MemoryResult,
  type MemorySpace,
} from "./gdb-session.ts";

/** What the target needs of a VM (AxVM provides it). */
export interface DebuggableVm {
  readonly label: string;
  readonly vcpuCount: number;
  readonly memory: GuestMemoryAccess;
  vcpu(id: number): { readonly arch: HalVcpu };
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
  onDebugStop(handler: ((vcpuId: number, exit: DebugExit) => void) | undefined): void;
  shutdown(): void;
}

export class VmGdbTarget implements GdbTarget {
  readonly #vm: DebuggableVm;
  readonly #arch: GdbArchitecture;
  readonly #onStop: (event: GdbStopEvent) => void;
  readonly #onError: (error: unknown) => void;
  #running = false;
  /** Software breakpoints planted in guest memory while the guest runs: address → the bytes they cover. */
  readonly #planted = new Map<bigint, Uint8Array>();
  /** No debugger: handlers off, the VM runs freely (after `D` or a dropped connection). */
  #detached = false;

  /**
   * `onStop` receives each stop once the VM is paused; `onError` a pause or resume that failed. The VM must be
   * paused (or not yet running) when the target is made: the debugger finds it stopped.
   */
  constructor(
    vm: DebuggableVm,
    arch: GdbArchitecture,
    onStop: (event: GdbStopEvent) => void,
    onError: (error: unknown) => void,
  ) {
    this.#vm = vm;
    this.#arch = arch;
    this.#onStop = onStop;
    this.#onError = onError;
    vm.onDebugStop((id, exit) => this.#debugExit(id, exit));
  }

  get gRegisters(): readonly number[] {
    return this.#arch.gRegisters;
  }

  threads(): readonly number[] {
    return Array.from({ length: this.#vm.vcpuCount }, (_, id) => id + 1);
  }

  describeThread(thread: number): string {
    return `vCPU ${thread - 1} of ${this.#vm.label}`;
  }

  #vcpu(thread: number): HalVcpu {
    return this.#vm.vcpu(thread - 1).arch;
  }

  targetXml(thread: number): string {
    return this.#arch.targetXml(this.#vcpu(thread));
  }

  pc(thread: number): bigint {
    return this.#arch.pc(this.#vcpu(thread));
  }

  setPc(thread: number, pc: bigint): void {
    this.#arch.writeRegister(this.#vcpu(thread), this.#arch.pcRegnum, pc);
  }

  registerSize(thread: number, regnum: number): number | undefined {
    return this.#arch.registerSize(this.#vcpu(thread), regnum);
  }

  readRegister(thread: number, regnum: number): bigint | undefined {
    return this.#arch.readRegister(this.#vcpu(thread), regnum);
  }

  writeRegister(thread: number, regnum: number, value: bigint): boolean {
    return this.#arch.writeRegister(this.#vcpu(thread), regnum, value);
  }

  readMemory(thread: number, addr: bigint, length: number, space: MemorySpace): MemoryResult {
    const out = new Uint8Array(length);
    let done = 0;
    let failure = "";
    while (done < length) {
      const piece = this.#locate(thread, addr + BigInt(done), length - done, space);
      if (!piece.ok) {
        failure = piece.reason;
        break;
      }
      this.#vm.memory.readInto(piece.gpa, out.subarray(done, done + piece.length));
      done += piece.length;
    }
    if (done === 0) return { ok: false, reason: failure };
    return { ok: true, data: out.subarray(0, done) };
  }

  writeMemory(
    thread: number,
    addr: bigint,
    data: Uint8Array,
    space: MemorySpace,
  ): { ok: true } | { ok: false; reason: string } {
    // Check every piece first, so a write that cannot be done whole is not done in part.
    const pieces: Array<{ gpa: number; start: number; length: number }> = [];
    for (let done = 0; done < data.length; ) {
      const piece = this.#locate(thread, addr + BigInt(done), data.length - done, space);
      if (!piece.ok) return piece;
      pieces.push({ gpa: piece.gpa, start: done, length: piece.length });
      done += piece.length;
    }
    for (const piece of pieces) {
      this.#vm.memory.write(piece.gpa, data.subarray(piece.start, piece.start + piece.length));
    }
    return { ok: true };
  }

  /** Where the bytes at `addr` are in guest memory, and how many of the `length` wanted are there in one piece. */
  #locate(
    thread: number,
    addr: bigint,
    length: number,
    space: MemorySpace,
  ): { ok: true; gpa: number; length: number } | { ok: false; reason: string } {
    let gpa: number;
    let span: number;
    if (space === "physical") {
      if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `no memory at 0x${addr.toString(16)}` };
      gpa = Number(addr);
      span = length;
    } else {
      const t = this.#arch.translate(this.#vcpu(thread), this.#vm.memory, addr);
      if (!t.ok) return t;
      gpa = t.gpa;
      span = t.span;
    }
    // One byte at a time past the first page is enough to find where memory ends.
    let n = Math.min(length, span);
    if (!this.#vm.memory.contains(gpa, n)) {
      while (n > 1 && !this.#vm.memory.contains(gpa, n)) n = Math.floor(n / 2);
      if (!this.#vm.memory.contains(gpa, n)) {
        return { ok: false, reason: `guest-physical 0x${gpa.toString(16)} is not guest memory` };
      }
    }
    return { ok: true, gpa, length: n };
  }

  checkDebugResources(points: GdbDebugPoints): string | undefined {
    return this.#debugOf(0)?.checkGuestDebug?.({
      singleStep: false,
      breakpoints: this.#vcpuBreakpoints(points),
      watchpoints: points.watchpoints,
    });
  }

  /** The breakpoints the vCPUs check themselves: all of them, or the hardware ones when software ones are planted. */
  #vcpuBreakpoints(points: GdbDebugPoints): readonly bigint[] {
    if (this.#arch.breakpointInstruction !== undefined) return points.hardwareBreakpoints;
    return [...new Set([...points.softwareBreakpoints, ...points.hardwareBreakpoints])];
  }

  resume(request: GdbResume): void {
    const breakpoints = this.#vcpuBreakpoints(request);
    const planted = this.#plant(request.softwareBreakpoints);
    try {
      for (let id = 0; id < this.#vm.vcpuCount; id++) {
        this.#debugOf(id)?.setGuestDebug({
          singleStep: request.stepThread === id + 1,
          breakpoints,
          watchpoints: request.watchpoints,
          breakpointExits: planted,
        });
      }
    } catch (error) {
      // The VM stays paused; the debugger hears it stopped where it was, and the reason is logged.
      this.#unplant();
      this.#onError(error);
      this.#onStop({ kind: "interrupt", thread: request.stepThread ?? 1, signal: GDB_SIGTRAP });
      return;
    }
    this.#running = true;
    this.#settle(this.#vm.resume());
  }

  /**
   * Write the breakpoint instruction over each software breakpoint (architectures that have one), keeping what
   * was there; returns whether any was planted. One that cannot be written (not mapped, not memory) is logged.
   */
  #plant(addresses: readonly bigint[]): boolean {
    const instruction = this.#arch.breakpointInstruction;
    if (instruction === undefined) return false;
    for (const addr of addresses) {
      if (this.#planted.has(addr)) continue;
      const original = this.readMemory(1, addr, instruction.length, "virtual");
      if (!original.ok || original.data.length !== instruction.length) {
        this.#onError(
          new Error(
            `Cannot plant a breakpoint at 0x${addr.toString(16)}: ${original.ok ? "not memory" : original.reason}`,
          ),
        );
        continue;
      }
      const written = this.writeMemory(1, addr, instruction, "virtual");
      if (!written.ok) {
        this.#onError(new Error(`Cannot plant a breakpoint at 0x${addr.toString(16)}: ${written.reason}`));
        continue;
      }
      this.#planted.set(addr, original.data.slice());
    }
    return this.#planted.size > 0;
  }

  /** Put back what the planted breakpoints covered (the guest is stopped, or never ran with them). */
  #unplant(): void {
    for (const [addr, original] of this.#planted) {
      const restored = this.writeMemory(1, addr, original, "virtual");
      if (!restored.ok)
        this.#onError(new Error(`Cannot remove the breakpoint at 0x${addr.toString(16)}: ${restored.reason}`));
    }
    this.#planted.clear();
  }

  interrupt(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#stopWith({ kind: "interrupt", thread: 1, signal: GDB_SIGINT });
  }

  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    for (let id = 0; id < this.#vm.vcpuCount; id++) this.#debugOf(id)?.setGuestDebug(undefined);
    this.#vm.onDebugStop(undefined);
    if (!this.#running) this.#settle(this.#vm.resume());
    this.#running = false;
  }

  /** A debugger connects to a detached target: stop the VM for it again. No-op unless detached. */
  reattach(): void {
    if (!this.#detached) return;
    this.#detached = false;
    this.#running = false;
    this.#vm.onDebugStop((id, exit) => this.#debugExit(id, exit));
    this.#settle(this.#vm.pause());
  }

  kill(): void {
    this.#running = false;
    this.#vm.onDebugStop(undefined);
    this.#vm.shutdown();
  }

  #debugOf(id: number): HalVcpu["debug"] {
    return this.#vm.vcpu(id).arch.debug;
  }

  #debugExit(vcpuId: number, exit: DebugExit): void {
    // All-stop: the first vCPU to stop stops the others; what they hit meanwhile is found again when they run.
    if (!this.#running) return;
    this.#running = false;
    const thread = vcpuId + 1;
    switch (exit.reason) {
      case "step":
        this.#stopWith({ kind: "step", thread });
        return;
      case "breakpoint":
        this.#stopWith({ kind: "breakpoint", thread });
        return;
      case "watchpoint": {
        const watch = exit.watch;
        if (watch === undefined) this.#stopWith({ kind: "breakpoint", thread });
        else this.#stopWith({ kind: "watchpoint", thread, addr: watch.addr, watch: watch.kind });
        return;
      }
    }
  }

  #stopWith(event: GdbStopEvent): void {
    const stopped = (): void => {
      this.#afterSoftwareBreakpoint(event);
      this.#unplant();
      this.#onStop(event);
    };
    const paused = this.#vm.pause();
    if (paused instanceof Promise) paused.then(stopped, (error: unknown) => this.#onError(error));
    else stopped();
  }

  /**
   * A planted breakpoint instruction that traps (x86 int3) may leave the pc just past it; GDB expects the pc at
   * the breakpoint, as on a hardware breakpoint.
   */
  #afterSoftwareBreakpoint(event: GdbStopEvent): void {
    const length = this.#arch.breakpointInstruction?.length;
    if (event.kind !== "breakpoint" || length === undefined) return;
    const pc = this.pc(event.thread);
    const before = pc - BigInt(length);
    if (!this.#planted.has(pc) && this.#planted.has(before)) this.setPc(event.thread, before);
  }

  #settle(result: void | Promise<void>): void {
    if (result instanceof Promise) result.catch((error: unknown) => this.#onError(error));
  }
}
