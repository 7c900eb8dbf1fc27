/**
 * An emulated vCPU whose hart runs on a thread of its own (a `node:worker_threads` Worker, hart-worker.ts), for
 * VMs with several harts (threads/switch.ts says when). The design:
 *
 * - Shared: the VM's arena (arena.ts), a shared WebAssembly.Memory holding guest RAM, each hart's register file
 *   and control block, the TLB arrays, the VM clock (clock.ts), and one control block per threaded hart
 *   (protocol.ts). The hart's other state (CSRs, decode caches, compiled code) belongs to its thread.
 * - The VMM keeps this object as the vCPU: `runAsync` sends a run command and resolves with the exit the hart's
 *   thread posts back; the VMM answers the exit on its own thread (devices, SBI, MMIO) exactly as for a
 *   same-thread hart. An MMIO read's value (`setReturnValue`) travels with the next run command.
 * - Between runs (the hart is parked, waiting for a command), the VMM reads and writes the integer registers
 *   directly in the arena and calls every other operation synchronously: the command goes on a MessagePort, the
 *   control block's command word wakes the hart's thread, the reply comes back on another port
 *   (`receiveMessageOnPort`) while this thread waits on the reply word (about 30 µs a call, measured).
 * - While the hart runs, the VMM reaches it through the control block only: `kick`, interrupt lines
 *   (`setInterruptLevel`, so IPIs, timer and external interrupts from the VMM's devices) and remote fences (the
 *   SBI RFENCE path calls `riscv.fence` of the target harts). The hart's thread looks at the block at each timer
 *   check of its run loop (every few thousand instructions) and before each run. A remote fence on a running
 *   hart waits until that hart has applied it, so SBI RFENCE returns only when the fence is done, as the SBI
 *   specification requires; a parked hart applies it before it runs again.
 * - What KVM handles in the kernel stays on the hart's thread once the VMM turns it on
 *   (`riscv.handleExitsOnHartThread`; the riscv-virt board does for its hypervisor VMs): WFI waits there on the
 *   control block (an interrupt line, a fence or a kick wakes it; the hart's own timer bounds the wait, and the VMM's
 *   loop gets a Nothing every few milliseconds for its device timers), and SBI TIME, IPI and RFENCE calls are
 *   answered there (sbi-on-thread.ts: hart to hart through the other harts' control blocks, which sit side by side
 *   in the arena). Their PMU events and IPI flags reach the VMM through `riscv.takeAnsweredSbiEvents`.
 * - LR/SC and AMOs on shared RAM use Atomics (hart.sharedMemory: exec.ts and interp.ts's atomic paths, which every
 *   tier, the wasm tier's calls included, goes through): an AMO is one atomic read-modify-write; an SC is a
 *   compare-and-exchange against the value its LR read, so a store from another hart that changed the reserved
 *   word makes the SC fail (the value-based reservation QEMU's MTTCG uses).
 * - Code written by one hart and run by another: RISC-V requires the running hart to execute FENCE.I (locally or
 *   through SBI remote FENCE.I) before it must see the new code; a threaded hart drops all its decoded and
 *   compiled code at FENCE.I (hart.sharedMemory), and its own stores still invalidate its own code at once.
 * - Errors: a hart's thread that throws posts the error as its run's answer, and `runAsync` rejects with it (the
 *   VMM's vCPU loop then stops the VM with that error). Calls time out rather than wait for a dead thread. The
 *   thread is unref'd, so it never keeps the process alive, and it is terminated when the vCPU is disposed.
 */

import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import {
  type AxVCpuExitReason,
  type GuestPhysAddr,
  HalError,
  type HalVcpu,
  type HalVcpuDebug,
  type HalVcpuSetup,
  type HalVcpuState,
  type RiscvVcpuOps,
} from "../../types.ts";
import type { Arena } from "../arena.ts";
import { HB_X, registerWords } from "../hart-block.ts";
import type { MemoryClient } from "../phys-memory.ts";
import { checkGprIndex } from "../vcpu.ts";
import type { EmulatedVm } from "../vm.ts";
import {
  type ArenaBlock,
  type CallReply,
  FENCE_GVMA,
  FENCE_I,
  FENCE_VMA,
  fenceDone,
  type HartCommand,
  type HartWorkerData,
  noteWritten,
  PENDING_KICK,
  type RunReply,
  raisePending,
  requestFence,
  STATE_GONE,
  setLine,
  TC_BYTES,
  TC_CMD,
  TC_EXITS_ON_THREAD,
  TC_FENCE_ACK,
  TC_FW_EVENT_COUNT,
  TC_FW_EVENTS,
  TC_IPI_RAISED,
  TC_LINE_COUNT,
  TC_REPLY,
  TC_STATE,
  TC_WORDS,
  writtenRanges,
} from "./protocol.ts";

/** How long a synchronous call waits for a parked hart's thread before giving up. */
const CALL_TIMEOUT_MS = 30_000;
const WORKER_SCRIPT = new URL("./hart-worker.ts", import.meta.url);

/** Arena offset of each VM's control blocks, one per hart, side by side (each hart's thread reaches the others'). */
const controlBlocksOf = new WeakMap<EmulatedVm, number>();

function controlBlocks(vm: EmulatedVm, arena: Arena): number | undefined {
  let offset = controlBlocksOf.get(vm);
  if (offset === undefined) {
    offset = arena.allocate(TC_BYTES * vm.cpuCount, 64);
    if (offset === undefined) return undefined;
    controlBlocksOf.set(vm, offset);
  }
  return offset;
}

export class ThreadedVcpu implements HalVcpu, MemoryClient {
  readonly id: number;
  readonly #vm: EmulatedVm;
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #written: Float64Array;
  readonly #commands: MessagePort;
  readonly #replies: MessagePort;
  readonly #exits: MessagePort;
  readonly #xlo: Int32Array;
  readonly #xhi: Int32Array;
  /** RAM blocks the hart's thread has been told about (the VMM may map more after creating the vCPU). */
  #blocksSent = 0;
  #returnValue: bigint | undefined;
  /** The pc as of the last exit; undefined after an operation that may have moved it. */
  #pc: bigint | undefined;
  #running: { resolve: (exit: AxVCpuExitReason) => void; reject: (error: Error) => void } | undefined;
  #closed = false;

  constructor(vm: EmulatedVm, id: number) {
    this.#vm = vm;
    this.id = id;
    const arena = vm.memory.arena;
    const controls = arena === undefined ? undefined : controlBlocks(vm, arena);
    if (arena === undefined || controls === undefined) {
      throw new HalError("emulated", "resource", "createVcpu", `Cannot create vCPU ${id}: no room in the VM's arena`);
    }
    if (!Number.isInteger(id) || id < 0 || id >= vm.cpuCount) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "createVcpu",
        `Cannot create vCPU ${id} on its own thread: the VM has harts 0..${vm.cpuCount - 1}`,
      );
    }
    const control = controls + id * TC_BYTES;
    this.#control = new Int32Array(arena.buffer, control, TC_WORDS);
    this.#written = writtenRanges(this.#control);
    const commands = new MessageChannel();
    const replies = new MessageChannel();
    const exits = new MessageChannel();
    this.#commands = commands.port1;
    this.#replies = replies.port1;
    this.#exits = exits.port1;
    const workerData: HartWorkerData = {
      memory: arena.memory,
      clockOffset: vm.clockOffset,
      creatorTimeOrigin: performance.timeOrigin,
      control,
      controls,
      hartCount: vm.cpuCount,
      vmId: vm.vmId,
      cpuCount: 1,
      hartId: id,
      mode: vm.mode,
      timebaseHz: vm.timebaseHz,
      commands: commands.port2,
      replies: replies.port2,
      exits: exits.port2,
    };
    this.#worker = new Worker(WORKER_SCRIPT, {
      workerData,
      transferList: [commands.port2, replies.port2, exits.port2],
    });
    this.#worker.unref();
    this.#exits.on("message", (reply: RunReply) => this.#onExit(reply));
    this.#exits.unref();
    this.#worker.on("error", (error: Error) => this.#fail(`its thread failed: ${error.message}`));
    this.#worker.on("exit", () => this.#fail("its thread exited"));
    const blockBase = this.#call(["hart", "blockBase"], []);
    if (typeof blockBase !== "number" || blockBase < 0) {
      throw new HalError("emulated", "resource", "createVcpu", `Cannot create vCPU ${id}: its hart has no arena block`);
    }
    const x = registerWords(arena.buffer, blockBase + HB_X);
    this.#xlo = x.lo;
    this.#xhi = x.hi;
    // Writes made on this thread by devices, loaders and snapshot restores reach the hart's thread (onExternalWrite).
    vm.memory.addClient(this);
  }

  // MemoryClient, on the VMM's thread. The hart keeps its decoded code and translations on its own thread, where
  // its own memory view tells it of new code pages and of regions it maps; only writes made here must cross.
  dropWriteEntries(): void {}

  onTranslationsStale(): void {}

  onExternalWrite(start: number, end: number): void {
    if (!this.#closed) noteWritten(this.#control, this.#written, start, end);
  }

  #check(operation: string): void {
    if (this.#closed)
      throw new HalError("emulated", "state", operation, `Cannot ${operation} vCPU ${this.id}: it is closed`);
  }

  #newBlocks(): ArenaBlock[] {
    const regions = this.#vm.memory.regions;
    if (regions.length === this.#blocksSent) return [];
    this.#blocksSent = regions.length;
    const blocks: ArenaBlock[] = [];
    for (const r of regions) {
      if (r.block.arenaOffset < 0) {
        throw new HalError(
          "emulated",
          "unsupported",
          "run",
          `Cannot run vCPU ${this.id} on its own thread: RAM at 0x${r.base.toString(16)} is outside the VM's shared arena (more than about 4 GiB of RAM); set AXVISOR_EMULATED_THREADS=off`,
        );
      }
      blocks.push({ base: r.base, arenaOffset: r.block.arenaOffset, size: r.block.size });
    }
    return blocks;
  }

  #send(command: HartCommand): void {
    this.#commands.postMessage(command);
    Atomics.add(this.#control, TC_CMD, 1);
    Atomics.notify(this.#control, TC_CMD);
  }

  /** Call an operation of the hart's `EmulatedVcpu` (or read a property) on its thread; it must be parked. */
  #call(path: readonly string[], args: readonly unknown[]): unknown {
    const operation = path.join(".");
    if (this.#running !== undefined) {
      throw new HalError("emulated", "state", operation, `Cannot ${operation} on vCPU ${this.id}: it is running`);
    }
    const before = Atomics.load(this.#control, TC_REPLY);
    this.#send({ op: "call", path, args, blocks: this.#newBlocks() });
    const start = performance.now();
    for (;;) {
      const received = receiveMessageOnPort(this.#replies);
      if (received !== undefined) {
        const reply = received.message as CallReply;
        if (!reply.ok) throw new HalError("emulated", "state", operation, `vCPU ${this.id}: ${reply.error}`);
        return reply.value;
      }
      if (Atomics.load(this.#control, TC_STATE) === STATE_GONE || performance.now() - start > CALL_TIMEOUT_MS) {
        throw new HalError(
          "emulated",
          "state",
          operation,
          `Cannot ${operation} on vCPU ${this.id}: its thread does not answer`,
        );
      }
      Atomics.wait(this.#control, TC_REPLY, before, 100);
    }
  }

  #onExit(reply: RunReply): void {
    const running = this.#running;
    this.#running = undefined;
    if (running === undefined) return;
    if (reply.ok) {
      this.#pc = reply.pc;
      running.resolve(reply.exit);
    } else {
      running.reject(new HalError("emulated", "state", "run", `vCPU ${this.id} failed on its thread: ${reply.error}`));
    }
  }

  #fail(reason: string): void {
    Atomics.store(this.#control, TC_STATE, STATE_GONE);
    const running = this.#running;
    this.#running = undefined;
    if (running !== undefined && !this.#closed) {
      running.reject(new HalError("emulated", "state", "run", `vCPU ${this.id} stopped: ${reason}`));
    } else running?.resolve({ kind: "Nothing" });
  }

  setup(setup: HalVcpuSetup): void {
    this.#check("setup");
    this.#pc = undefined;
    this.#call(["setup"], [setup]);
  }

  setEntry(entry: GuestPhysAddr): void {
    this.#check("setEntry");
    this.#pc = undefined;
    this.#call(["setEntry"], [entry]);
  }

  getGpr(reg: number): bigint {
    this.#check("getGpr");
    this.#checkReg(reg, "getGpr");
    return (BigInt((this.#xhi[2 * reg] ?? 0) >>> 0) << 32n) | BigInt((this.#xlo[2 * reg] ?? 0) >>> 0);
  }

  setGpr(reg: number, value: bigint): void {
    this.#check("setGpr");
    this.#checkReg(reg, "setGpr");
    if (reg === 0) return;
    const v = BigInt.asUintN(64, value);
    this.#xlo[2 * reg] = Number(v & 0xffff_ffffn) | 0;
    this.#xhi[2 * reg] = Number(v >> 32n) | 0;
  }

  #checkReg(reg: number, operation: string): void {
    checkGprIndex(reg, operation);
  }

  setReturnValue(value: bigint): void {
    this.#check("setReturnValue");
    this.#returnValue = value;
  }

  run(): AxVCpuExitReason {
    throw new HalError(
      "emulated",
      "unsupported",
      "run",
      `Cannot run vCPU ${this.id} synchronously: its hart runs on its own thread (use runAsync)`,
    );
  }

  runAsync(): Promise<AxVCpuExitReason> {
    this.#check("run");
    if (this.#running !== undefined) {
      return Promise.reject(new HalError("emulated", "state", "run", `Cannot run vCPU ${this.id}: it is running`));
    }
    if (Atomics.load(this.#control, TC_STATE) === STATE_GONE) {
      return Promise.reject(new HalError("emulated", "state", "run", `Cannot run vCPU ${this.id}: its thread is gone`));
    }
    const returnValue = this.#returnValue;
    this.#returnValue = undefined;
    this.#pc = undefined;
    const blocks = this.#newBlocks();
    return new Promise<AxVCpuExitReason>((resolve, reject) => {
      this.#running = { resolve, reject };
      this.#exits.ref();
      this.#send({ op: "run", returnValue, blocks });
    }).finally(() => this.#exits.unref());
  }

  kick(): void {
    raisePending(this.#control, PENDING_KICK);
  }

  saveState(): HalVcpuState {
    this.#check("saveState");
    return this.#call(["saveState"], []) as HalVcpuState;
  }

  loadState(state: HalVcpuState): void {
    this.#check("loadState");
    this.#pc = undefined;
    this.#returnValue = undefined;
    this.#call(["loadState"], [state]);
  }

  setInterruptLevel(vector: number, asserted: boolean): void {
    this.#check("setInterruptLevel");
    if (!Number.isInteger(vector) || vector < 0 || vector >= TC_LINE_COUNT) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "setInterruptLevel",
        `Cannot set interrupt ${vector} on vCPU ${this.id}: not a RISC-V interrupt cause below ${TC_LINE_COUNT}`,
      );
    }
    setLine(this.#control, vector, asserted);
  }

  hasPendingInterrupt(): boolean {
    if (this.#running !== undefined) return false;
    return this.#call(["hasPendingInterrupt"], []) as boolean;
  }

  hardwareTimerDeadline(): number | undefined {
    if (this.#running !== undefined) return undefined;
    return this.#call(["hardwareTimerDeadline"], []) as number | undefined;
  }

  /** A remote fence: applied by the hart's thread; waits for it when the hart is running. */
  #fence(kind: number): void {
    const control = this.#control;
    const req = requestFence(control, kind);
    const start = performance.now();
    while (!fenceDone(control, req)) {
      if (performance.now() - start > CALL_TIMEOUT_MS) {
        throw new HalError("emulated", "state", "fence", `Cannot fence vCPU ${this.id}: its thread does not answer`);
      }
      Atomics.wait(control, TC_FENCE_ACK, Atomics.load(control, TC_FENCE_ACK), 10);
    }
  }

  readonly riscv: RiscvVcpuOps = {
    getPc: () => {
      this.#check("getPc");
      const pc = this.#pc ?? (this.#call(["riscv", "getPc"], []) as bigint);
      this.#pc = pc;
      return pc;
    },
    setPc: (pc) => {
      this.#check("setPc");
      this.#pc = undefined;
      this.#call(["riscv", "setPc"], [pc]);
    },
    translateGuestVirtual: (gva, access) => {
      this.#check("translateGuestVirtual");
      return this.#call(["riscv", "translateGuestVirtual"], [gva, access]) as ReturnType<
        RiscvVcpuOps["translateGuestVirtual"]
      >;
    },
    injectException: (cause, tval) => {
      this.#check("injectException");
      this.#pc = undefined;
      this.#call(["riscv", "injectException"], [cause, tval]);
    },
    fence: (kind) => {
      this.#check("fence");
      this.#fence(kind === "fence.i" ? FENCE_I : kind === "hfence.gvma" ? FENCE_GVMA : FENCE_VMA);
    },
    setTimer: (deadline) => {
      this.#check("setTimer");
      if (this.#running !== undefined) {
        throw new HalError("emulated", "state", "setTimer", `Cannot set the timer of vCPU ${this.id}: it is running`);
      }
      this.#call(["riscv", "setTimer"], [deadline]);
    },
    setHardwareCounter: (counter, change) => {
      this.#check("setHardwareCounter");
      this.#call(["riscv", "setHardwareCounter"], [counter, change]);
    },
    handleExitsOnHartThread: () => {
      this.#check("handleExitsOnHartThread");
      Atomics.store(this.#control, TC_EXITS_ON_THREAD, 1);
    },
    takeAnsweredSbiEvents: () => {
      const control = this.#control;
      const ipiRaised = Atomics.exchange(control, TC_IPI_RAISED, 0) !== 0;
      let firmwareEvents: number[] | undefined;
      for (let code = 0; code < TC_FW_EVENT_COUNT; code++) {
        if (Atomics.load(control, TC_FW_EVENTS + code) === 0) continue;
        firmwareEvents ??= new Array<number>(TC_FW_EVENT_COUNT).fill(0);
        firmwareEvents[code] = Atomics.exchange(control, TC_FW_EVENTS + code, 0);
      }
      if (!ipiRaised && firmwareEvents === undefined) return undefined;
      return { ipiRaised, firmwareEvents: firmwareEvents ?? [] };
    },
  };

  readonly debug: HalVcpuDebug = {
    setGuestDebug: (control) => {
      this.#check("setGuestDebug");
      this.#call(["debug", "setGuestDebug"], [control]);
    },
    riscv: {
      getFpr: (reg) => this.#call(["debug", "riscv", "getFpr"], [reg]) as bigint,
      setFpr: (reg, value) => {
        this.#call(["debug", "riscv", "setFpr"], [reg, value]);
      },
      readCsr: (csr) => this.#call(["debug", "riscv", "readCsr"], [csr]) as bigint | undefined,
      writeCsr: (csr, value) => this.#call(["debug", "riscv", "writeCsr"], [csr, value]) as boolean,
      privilege: () => this.#call(["debug", "riscv", "privilege"], []) as { priv: number; virtualized: boolean },
    },
  };

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    if (Atomics.load(this.#control, TC_STATE) !== STATE_GONE) this.#send({ op: "close" });
    this.kick();
    const running = this.#running;
    this.#running = undefined;
    running?.resolve({ kind: "Nothing" });
    void this.#worker.terminate();
    this.#vm.memory.removeClient(this);
    this.#vm.removeVcpu(this);
  }
}
