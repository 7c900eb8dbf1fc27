/**
 * One virtual machine (axvm's `AxVM`): the parts the builder (src/vmm/builder.ts) made for it (address space,
 * buses and devices through its board, vCPUs), its lifecycle, and the per-vCPU exit loops.
 *
 * Status: Loaded (built) → Running (`boot`) → Stopping (`shutdown` or a guest request) → Stopped. Suspended is a
 * paused Running VM (`pause`/`resume`): every vCPU parked at an instruction boundary, device timers and deferred
 * device work held, and the guest's clock stopped (it does not jump by the paused interval). A guest reboot ends
 * the VM; the VMM builds a new one from the same config.
 *
 * `runVcpu(id)` runs a vCPU and handles, inside, every exit the VM can answer by itself: MMIO, port and
 * system-register accesses (through the buses, with the unmapped-access policy: bus-exits.ts), and hands every
 * exit it does not own (`BoardExit`: SBI calls, ...) to the board (vcpu-exits.ts). It returns the
 * generic exits (Halt, CpuUp, CpuDown, SystemDown, Hypercall, FailEntry, SendIPI, Nothing, ...), which `run()`'s
 * per-vCPU loops dispatch as axvisor's VMM does (generic-exits.ts). Everything runs on one JS thread; backends whose `run` blocks
 * (KVM) run the guest on a Worker and are awaited, so device state is only ever touched from this thread.
 */

import { type ConsolaInstance, consola } from "consola";
import type { AddrSpace } from "../addrspace/addr-space.ts";
import type { GuestMemory } from "../addrspace/guest-memory.ts";
import {
  type GuestPhysAddr,
  type HalVm,
  NOTHING_SPINNING,
  type Stage2Table,
  type SystemDownAction,
} from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { AttachedDisk, AttachedNet, Board, GenericExit, VcpuBoot } from "./board.ts";

import { BusExitHandler } from "./bus-exits.ts";
import type { VmConfig } from "./config/types.ts";
import type { ConsoleOutput } from "./console.ts";
import type { DeferredWork } from "./deferred-work.ts";
import { errorKindOf, errorMessage, VmError } from "./errors.ts";
import { type DebugExit, dispatchGenericExit, type GenericExitHost } from "./generic-exits.ts";

export type { DebugExit } from "./generic-exits.ts";

import type { TimerWheel } from "./timer.ts";
import { BATCH_DONE, VcpuExits } from "./vcpu-exits.ts";
import { VcpuParking } from "./vcpu-parking.ts";
import { VcpuSleeper } from "./vcpu-sleeper.ts";
import { releaseVmParts, type VmParts } from "./vm-parts.ts";
import { applyVmState, captureVmState, type VmState, type VmStateParts } from "./vm-state.ts";
import { collectVmStats, type VmBuses, type VmStats } from "./vm-stats.ts";

export type { VmParts } from "./vm-parts.ts";

export type VmStatus = "Loaded" | "Running" | "Suspended" | "Stopping" | "Stopped";

/** How a VM ended. */
export interface VmResult {
  readonly vmId: number;
  readonly name: string;
  /** What stopped it: a guest request, the host (`shutdown()`), or an error. */
  readonly reason: SystemDownAction | "host-stop" | "error";
  /** 0 = success. A guest poweroff carries the guest's code; errors give 1; host stops give 130 (SIGINT style). */
  readonly exitCode: number;
  readonly error?: VmError;
}

export interface AxVMOptions {
  readonly log?: ConsolaInstance;
  /** Called with one line per exit (`--trace-exits`); nothing is formatted when absent. */
  readonly traceExits?: (line: string) => void;
  /** Run at most this long (ms) before yielding to the event loop. */
  readonly sliceMs?: number;
  /**
   * This VM is the only one on the VMM's thread: with one vCPU, a backend that can (KVM, `HalVcpu.useCallerThread`)
   * runs it on this thread instead of a helper thread, so an exit is handled with no hand-over between threads.
   */
  readonly exclusiveThread?: boolean;
}

/**
 * How long a vCPU that runs on the VMM's thread (`AxVMOptions.exclusiveThread`) may stay inside the backend's run
 * before it is kicked out for the event loop: the longest wait of console input, timers and deferred work while
 * the guest computes or idles. A run that exits sooner is never kicked.
 */
const CALLER_THREAD_KICK_MS = 10;

/** How long (ms) a vCPU runs before the VM loop lets the event loop turn (AxVMOptions.sliceMs). */
const DEFAULT_SLICE_MS = 4;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class AxVM {
  readonly id: number;
  readonly name: string;
  readonly config: VmConfig;
  readonly label: string;

  readonly #options: AxVMOptions;
  readonly #board: Board;
  readonly #halVm: HalVm;
  readonly #addrSpace: AddrSpace;
  readonly #vcpus: readonly AxVCpu[];
  readonly #boot: readonly VcpuBoot[];
  readonly #buses: VmBuses;
  readonly #exits: VcpuExits;
  readonly #exitHost: GenericExitHost;
  readonly #timers: TimerWheel;
  readonly #work: DeferredWork;
  readonly #console: ConsoleOutput;
  readonly #disks: readonly AttachedDisk[];
  readonly #nets: readonly AttachedNet[];
  readonly #bootWrites: ReadonlyArray<readonly [number, number]> | undefined;
  readonly #log: ConsolaInstance;
  #status: VmStatus = "Loaded";
  readonly #online: boolean[];
  readonly #sleeper: VcpuSleeper;
  readonly #parking: VcpuParking;
  /** The pause in progress (vCPUs parking), so that a second `pause()` waits for the same one. */
  #pausing: Promise<void> | undefined;
  #result: VmResult | undefined;
  #released = false;
  #hypercallHandler: ((vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined) | undefined;
  #debugStopHandler: ((vcpuId: number, exit: DebugExit) => void) | undefined;

  /** Use the builder (`buildVm`/`assembleVm`): it makes the parts, and releases them if making one fails. */
  constructor(config: VmConfig, parts: VmParts, options: AxVMOptions = {}) {
    this.id = config.id;
    this.name = config.name;
    this.config = config;
    this.label = `vm ${config.id} (${config.name})`;
    this.#options = options;
    this.#board = parts.board;
    this.#halVm = parts.halVm;
    this.#addrSpace = parts.addrSpace;
    this.#vcpus = parts.vcpus;
    this.#boot = parts.boot;
    this.#buses = parts.buses;
    this.#timers = parts.timers;
    this.#work = parts.work;
    this.#console = parts.console;
    this.#disks = parts.disks;
    this.#nets = parts.nets;
    this.#bootWrites = parts.bootWrites;
    this.#log = options.log ?? consola.withTag(`vm${config.id}`);
    this.#exits = new VcpuExits({
      label: this.label,
      board: parts.board,
      busExits: new BusExitHandler({
        buses: parts.buses,
        policy: config.devices.unmappedMmio,
        unmappedRead: parts.board.unmappedRead,
        label: this.label,
        log: this.#log,
        fault: (error) => this.#stop({ reason: "error", exitCode: 1, error }),
      }),
      traceExits: options.traceExits,
      running: () => this.#status === "Running",
    });
    this.#online = parts.vcpus.map(() => false);
    this.#sleeper = new VcpuSleeper(parts.vcpus.length, () => this.#now(), parts.halVm.timebaseHz);
    this.#parking = new VcpuParking(parts.vcpus.length);
    this.#exitHost = {
      label: this.label,
      log: this.#log,
      vcpus: this.#vcpus,
      vcpu: (id) => this.vcpu(id),
      board: this.#board,
      online: this.#online,
      timers: this.#timers,
      now: () => this.#now(),
      shuttingDown: () => this.shuttingDown(),
      suspended: () => this.#status === "Suspended",
      sleep: (id, deadline) => this.#sleep(id, deadline),
      wake: (id) => this.#wake(id),
      stop: (result) => this.#stop(result),
      systemDown: (action, code) => this.#systemDown(action, code),
      hypercall: (vcpuId, nr, args) => this.#hypercallHandler?.(vcpuId, nr, args),
      debugStop: (vcpuId, exit) => {
        if (this.#debugStopHandler === undefined) return false;
        this.#debugStopHandler(vcpuId, exit);
        return true;
      },
    };
  }

  get status(): VmStatus {
    return this.#status;
  }

  get vcpuCount(): number {
    return this.#vcpus.length;
  }

  /**
   * The RAM ranges ([gpa, length]) the boot wrote while the VM was built, or undefined when unknown (then any
   * byte of RAM may be non-zero). A snapshot restore clears only these before loading the saved memory.
   */
  get bootWrites(): ReadonlyArray<readonly [number, number]> | undefined {
    return this.#bootWrites;
  }

  /** The VM's guest memory. */
  get memory(): GuestMemory {
    return this.#addrSpace.guestMemory;
  }

  get buses(): VmBuses {
    return this.#buses;
  }

  get board(): Board {
    return this.#board;
  }

  /** Which backend runs the VM ("kvm", "emulated", ...). */
  get backend(): string {
    return this.#halVm.backend;
  }

  /**
   * The VM's counters: exits by kind (kept while exits are traced), each bus's accesses, the board's and the
   * devices' counters. `--trace-exits` prints them when the VM stops.
   */
  get stats(): VmStats {
    return collectVmStats(this.#exits.counts, this.#buses, this.#board.stats?.() ?? {});
  }

  vcpu(id: number): AxVCpu {
    const vcpu = this.#vcpus[id];
    if (vcpu === undefined) throw new VmError("state", this.label, `no vCPU ${id} (the VM has ${this.#vcpus.length})`);
    return vcpu;
  }

  /** Answer axvisor hypercalls (EID 0x485643 on RISC-V); return undefined for "not supported". */
  onHypercall(handler: (vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined): void {
    this.#hypercallHandler = handler;
  }

  /**
   * Receive the vCPUs' `Debug` exits (the GDB stub: src/vmm/debug/). The handler is called from the vCPU's loop
   * and must not wait for it: it pauses the VM, and the loop parks on its next turn.
   */
  onDebugStop(handler: ((vcpuId: number, exit: DebugExit) => void) | undefined): void {
    this.#debugStopHandler = handler;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------------------------

  /** Loaded → Running: the boot vCPUs become runnable. `run()` drives them. */
  boot(): void {
    this.#expectStatus("boot", "Loaded");
    for (const [id, boot] of this.#boot.entries()) this.#online[id] = boot.startsRunning;
    this.#status = "Running";
  }

  /** Run every vCPU until the VM stops (a restored VM starts paused: `resume()` lets it go). Never rejects. */
  async run(): Promise<VmResult> {
    if (this.#status === "Loaded") this.boot();
    // A VM paused before it runs (the GDB stub waits for its debugger) starts with every vCPU parked.
    if (this.#status !== "Running" && this.#status !== "Suspended") {
      return this.#finish({
        reason: "error",
        exitCode: 1,
        error: new VmError("state", this.label, `cannot run: the VM is ${this.#status}`),
      });
    }
    // While every vCPU waits on a promise (a halt with no timer armed, a pause), the event loop may hold nothing
    // else: no timer, no stdin, no worker. Bun then does not block in its poll but spins it, at 100 % of a host
    // core under a top-level await (the CLI's: 300 of 300 ticks for one idle VM), and a script without one exits
    // with the VM still running. A timer that never fires keeps the loop waiting in its poll, for free.
    const keepAlive = setInterval(() => undefined, MAX_TIMER_DELAY_MS);
    this.#parking.loopsStarted();
    try {
      await Promise.all(this.#vcpus.map((_, id) => this.#vcpuLoop(id)));
    } finally {
      clearInterval(keepAlive);
    }
    // #finish keeps the result recorded when the VM was stopped.
    return this.#finish({ reason: "host-stop", exitCode: 130 });
  }

  /** Ask the VM to stop (from the host). Running vCPUs stop at their next exit. */
  shutdown(): void {
    this.#stop({ reason: "host-stop", exitCode: 130 });
  }

  shuttingDown(): boolean {
    return this.#status === "Stopping" || this.#status === "Stopped";
  }

  /**
   * Running → Suspended. Resolves once every vCPU has stopped at an instruction boundary (emulated: between two
   * slices; KVM: kicked out of KVM_RUN and not entered again) and will not run until `resume()`; from then on the
   * guest state holds still (registers, memory, devices) and can be inspected or saved. While paused, the VMM's
   * timers and deferred device work wait, and the guest's clock stands still (`HalVm.pauseClock`), so after
   * `resume()` the guest does not see the paused interval. Pausing a Suspended VM waits for the same pause; a
   * VM that stops meanwhile settles the promise too. Throws `VmError` "state" for a VM that is not running.
   */
  pause(): Promise<void> {
    if (this.#status === "Suspended") return this.#pausing ?? Promise.resolve();
    if (this.#status !== "Running") {
      return Promise.reject(new VmError("state", this.label, `cannot pause: the VM is ${this.#status}`));
    }
    this.#status = "Suspended";
    this.#work.hold();
    for (const vcpu of this.#vcpus) vcpu.arch.kick();
    // Halted and offline vCPUs sleep; waking them sends them round their loop, where they park.
    for (let id = 0; id < this.#vcpus.length; id++) this.#wake(id);
    const pausing = this.#parking.allParked().then(() => {
      if (this.#status === "Suspended") this.#halVm.pauseClock();
    });
    this.#pausing = pausing;
    return pausing;
  }

  /**
   * Suspended → Running: the clock goes on from where it stopped, the vCPUs run again. Waits for a pause still in
   * progress first. Throws `VmError` "state" for a VM that is not paused.
   */
  async resume(): Promise<void> {
    if (this.#status !== "Suspended")
      throw new VmError("state", this.label, `cannot resume: the VM is ${this.#status}`);
    await this.#pausing;
    if (this.#status !== "Suspended") return;
    this.#pausing = undefined;
    this.#halVm.resumeClock();
    this.#status = "Running";
    this.#work.release();
    this.#parking.releaseAll();
  }

  /** The VM's clock (`HalVm.currentTime`: ticks of the timebase; it stands still while the VM is paused). */
  currentTime(): number {
    return this.#now();
  }

  /**
   * The paused VM's state apart from its memory (vm-state.ts): the clock, each vCPU's architectural state and
   * whether it is online, the devices' and the board's state. Throws VmError "state" unless the VM is paused (and
   * the pause complete: await `pause()` first), "snapshot" when the backend cannot save its vCPUs.
   */
  saveState(): VmState {
    if (this.#status !== "Suspended")
      throw new VmError("state", this.label, `cannot save the VM's state: the VM is ${this.#status}, not paused`);
    return captureVmState(this.#stateParts());
  }

  /**
   * Loaded → Suspended: take `state` (from `saveState` of a VM built from the same config, its memory already put
   * back) instead of booting. The VM is paused with its clock at the saved time; `run()` then `resume()` go on
   * exactly where it was saved. Throws VmError "state" for a VM already booted, "snapshot" for a state that does
   * not fit this VM (another vCPU count, device layout, vCPU format).
   */
  restoreState(state: VmState): void {
    this.#expectStatus("restore a snapshot", "Loaded");
    applyVmState(this.#stateParts(), state);
    this.#work.hold();
    this.#status = "Suspended";
  }

  #stateParts(): VmStateParts {
    return {
      label: this.label,
      halVm: this.#halVm,
      vcpus: this.#vcpus,
      online: this.#online,
      buses: this.#buses,
      board: this.#board,
    };
  }

  /** Something happened that may end vCPU `id`'s halt (an interrupt line rose, a timer fired). */
  wakeVcpu(id: number): void {
    this.#wake(id);
  }

  /**
   * Stop the VM as the guest asked through a device (a test finisher, a reset line), the same as a SystemDown
   * exit; `reason` is logged at debug level.
   */
  requestSystemDown(action: SystemDownAction, code: number, reason: string): void {
    this.#log.debug(`${this.label}: ${reason}`);
    this.#systemDown(action, code);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Memory (axvm API)
  // ------------------------------------------------------------------------------------------------------------

  /** The nested page table (hgatp root and mode), or undefined for backends with memory slots. */
  stage2(): Stage2Table | undefined {
    return this.#addrSpace.stage2();
  }

  getImageLoadRegion(gpa: GuestPhysAddr, size: number): Uint8Array[] {
    return this.#addrSpace.getImageLoadRegion(gpa, size);
  }

  readFromGuest(gpa: GuestPhysAddr, length: number): Uint8Array {
    return this.memory.read(gpa, length);
  }

  writeToGuest(gpa: GuestPhysAddr, data: Uint8Array): void {
    this.memory.write(gpa, data);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Exits
  // ------------------------------------------------------------------------------------------------------------

  /** Run vCPU `id`, handling bus and board exits inside; returns the generic exits the VM loop acts on. */
  runVcpu(id: number): GenericExit {
    return this.#exits.run(this.vcpu(id));
  }

  /** `runVcpu` for backends that run the guest on another thread. */
  runVcpuAsync(id: number): Promise<GenericExit> {
    return this.#exits.runAsync(this.vcpu(id));
  }

  // ------------------------------------------------------------------------------------------------------------
  // The per-vCPU loop (axvisor vmm/vcpus.rs)
  // ------------------------------------------------------------------------------------------------------------

  async #vcpuLoop(id: number): Promise<void> {
    const hal = this.vcpu(id).arch;
    // A blocking backend's only vCPU runs on this thread when the VM has the thread to itself (see AxVMOptions).
    const callerThread =
      this.#options.exclusiveThread === true &&
      this.#vcpus.length === 1 &&
      hal.useCallerThread?.(CALLER_THREAD_KICK_MS) === true;
    const async = !callerThread && hal.runAsync !== undefined;
    // On the caller thread a run that exits seldom is kicked out for the event loop after CALLER_THREAD_KICK_MS, so
    // by default a vCPU that exits often may stay as long between turns (each costs tens of microseconds: about 1.5%
    // of the time of a guest that exits all the time, at a 4 ms slice under nested KVM). A slice the caller set holds.
    const sliceMs = this.#options.sliceMs ?? (callerThread ? CALLER_THREAD_KICK_MS : DEFAULT_SLICE_MS);
    let sliceStart = performance.now();
    try {
      while (!this.shuttingDown()) {
        if (this.#status === "Suspended") {
          await this.#parking.park(id);
          continue;
        }
        if (!this.#online[id]) {
          await this.#sleep(id, undefined);
          continue;
        }
        this.#timers.runDue(this.#now());
        this.#board.poll?.();
        if (callerThread && this.#work.pending > 0) {
          // Deferred device work waits for the event loop, which KVM_RUN on this thread would hold up.
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
        const exit = async ? await this.runVcpuAsync(id) : this.runVcpu(id);
        if (exit.kind !== "Nothing") await dispatchGenericExit(this.#exitHost, id, exit);
        if (exit === NOTHING_SPINNING) {
          // The guest waits in a spin loop: the other vCPUs get their turns now (one may be what it waits for).
          await yieldToEventLoop();
          sliceStart = performance.now();
          continue;
        }
        if (callerThread && exit.kind === "Nothing" && exit !== BATCH_DONE) {
          // The run was cut short for the event loop (a kick, work from a helper thread): let it turn now. (A batch
          // that merely ran its length, BATCH_DONE, waits for the slice's end.)
          await yieldToEventLoop();
          sliceStart = performance.now();
          continue;
        }
        // The console's reader is not keeping up and this VM wrote to it: wait for it rather than buffer.
        const pushBack = this.#console.backpressure?.();
        if (pushBack !== undefined) await this.#waitFor(id, pushBack);
        if (performance.now() - sliceStart >= sliceMs) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
    } catch (error) {
      this.#stop({
        reason: "error",
        exitCode: 1,
        error: new VmError(errorKindOf(error), this.label, `vCPU ${id} failed: ${errorMessage(error)}`, {
          cause: error,
        }),
      });
    } finally {
      this.#parking.ended(id);
    }
  }

  #sleep(id: number, deadline: number | undefined): Promise<void> {
    return this.#sleeper.sleep(id, deadline);
  }

  #waitFor(id: number, event: Promise<void>): Promise<void> {
    return this.#sleeper.waitFor(id, event);
  }

  #wake(id: number): void {
    this.#sleeper.wake(id);
  }

  #now(): number {
    return this.#halVm.currentTime();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Stopping
  // ------------------------------------------------------------------------------------------------------------

  /** The guest asked to power off, reset or report a crash. A reset is a reboot unless the config says stop. */
  #systemDown(action: SystemDownAction, code: number): void {
    if (action === "reboot" && this.config.onReset === "stop") {
      this.#stop({ reason: "poweroff", exitCode: 0 });
      return;
    }
    this.#stop({ reason: action, exitCode: action === "crash" ? Math.max(1, code) : code });
  }

  #stop(result: Omit<VmResult, "vmId" | "name">): void {
    if (this.shuttingDown()) return;
    this.#status = "Stopping";
    this.#result = this.#makeResult(result);
    if (result.error !== undefined) this.#log.error(result.error.message);
    for (const vcpu of this.#vcpus) vcpu.arch.kick();
    this.#work.release();
    this.#parking.releaseAll();
    this.#sleeper.wakeAll();
  }

  #finish(result: Omit<VmResult, "vmId" | "name">): VmResult {
    const final = this.#result ?? this.#makeResult(result);
    this.#result = final;
    this.#status = "Stopped";
    this.#release();
    return final;
  }

  #makeResult(result: Omit<VmResult, "vmId" | "name">): VmResult {
    return { vmId: this.id, name: this.name, ...result };
  }

  #release(): void {
    // Once only: a file console must not be closed twice, nor native handles disposed twice.
    if (this.#released) return;
    this.#released = true;
    releaseVmParts({
      board: this.#board,
      halVm: this.#halVm,
      vcpus: this.#vcpus,
      timers: this.#timers,
      work: this.#work,
      console: this.#console,
      disks: this.#disks,
      nets: this.#nets,
    });
  }

  #expectStatus(operation: string, expected: VmStatus): void {
    if (this.#status !== expected)
      throw new VmError("state", this.label, `cannot ${operation}: the VM is ${this.#status}, expected ${expected}`);
  }
}
