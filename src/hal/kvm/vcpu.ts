/**
 * A KVM vCPU, the generic part: its fd, its kvm_run mapping, `run()` on the calling thread and `runAsync()` through
 * a Worker that pumps KVM_RUN (run-worker.ts), kicks, and the exit bookkeeping.
 *
 * Caller-thread runs (`useCallerThread`, for a VM whose only vCPU runs on the VMM's thread): `run()` itself blocks
 * in KVM_RUN, and an exit is handled on the same thread with no hand-over, which is what makes an exit cost about
 * what it costs a C VMM. The VMM's event loop still turns: the run kicker (run-kicker.ts) ends a run that lasts a
 * period, and helper threads with work for the VMM's thread (the eventfd watcher, a TAP reader) end it at once
 * (wake-protocol.ts); the run then returns `Nothing`. Registers, the boot state and
 * interrupt injection are the guest arch's (`KvmArchVcpu`, reached as `archVcpu`).
 *
 * Exits are decoded by exits.ts on the owner thread only: device state is touched by one thread whatever the
 * number of vCPUs.
 *
 * KVM finishes an I/O or MMIO instruction only on the next KVM_RUN (an IN or MMIO load result goes to its register,
 * the instruction pointer moves on), so guest state is consistent only after that re-entry. When the VMM reads or
 * writes registers after such an exit, we first re-enter with immediate_exit = 1, which completes the instruction
 * without running any further guest code (Documentation/virt/kvm/api.rst, "KVM_RUN").
 */
import { EAGAIN, EINTR, errnoName } from "../../common/errno.ts";
import type {
  AxVCpuExitReason,
  HalAccessHandler,
  HalVcpu,
  HalVcpuDebug,
  HalVcpuSetup,
  HalVcpuState,
} from "../types.ts";
import { HalError } from "../types.ts";
import { KVM_GET_MP_STATE, KVM_MP_STATE_LAYOUT, KVM_RUN_LAYOUT } from "./abi.ts";
import {
  answerMmioAccess,
  completeRead,
  decodeExit,
  type ExitQueue,
  NO_COMPLETION,
  type PendingCompletion,
} from "./exits.ts";
import type { KvmArchVcpu, KvmArchVm, KvmVcpuCore } from "./per-arch.ts";
import type { RunKickerInit } from "./run-kicker.ts";
import { acquireHelperThread, acquireRunWorker, releaseHelperThread, releaseRunWorker } from "./run-pool.ts";
import {
  CTL_DONE_SEQ,
  CTL_IN_RUN,
  CTL_KICK,
  CTL_REQUEST_SEQ,
  CTL_RESULT,
  CTL_SETUP_ERRNO,
  CTL_SLOTS,
  CTL_STATE,
  CTL_STOP,
  CTL_TID,
  type RunWorkerInit,
  STATE_EXITED,
  STATE_FAILED,
  STATE_READY,
  STATE_STARTING,
} from "./run-protocol.ts";
import { takeKickSignalInKvmRun } from "./run-signal.ts";
import * as sys from "./sys.ts";
import { WAKE_HOST_SEQ, WAKE_IN_RUN, WAKE_KICKER_STATE, WAKE_PERIOD_MS, WAKE_STOP, WAKE_TID } from "./wake-protocol.ts";

/** What a vCPU needs from its VM. */
export interface KvmVcpuContext {
  readonly vcpuFd: number;
  readonly mmapSize: number;
  readonly cpuCount: number;
  readonly archVm: KvmArchVm;
  /** The VM's wake block (wake-protocol.ts). */
  readonly wake: Int32Array;
  /** Called before the vCPU's first run (the VM starts its eventfd watcher). */
  readonly beforeFirstRun: () => void;
  /** Run the callbacks of the VM's event channels that fired; throws HalError when one failed. */
  readonly dispatchHostWork: () => void;
  /** Called when the vCPU is closed (the VM forgets it). */
  readonly onClose: () => void;
}

export interface KvmRunStats {
  /** KVM_RUN calls made (including completion re-entries). */
  runs: number;
  /** Exits returned to the caller, string I/O elements counted one by one. */
  exits: number;
  /** Re-entries with immediate_exit to complete an I/O or MMIO instruction before a register access. */
  completions: number;
}

const RUN = KVM_RUN_LAYOUT.fields;
const IMMEDIATE_EXIT = RUN.immediate_exit.offset;
const STOP_TIMEOUT_MS = 2000;
const NOTHING: AxVCpuExitReason = { kind: "Nothing" };
/** `#enterOnCaller` did not enter: a helper thread's work ran instead (no errno is this value). */
const HOST_WORK = 1;

/** A caller-thread vCPU's kicker, the HOST_SEQ it last acted on, and the number of its last KVM_RUN. */
interface CallerThread {
  readonly kicker: Worker;
  /** The VM's wake block (wake-protocol.ts). */
  readonly wake: Int32Array;
  /**
   * How a SIGURG reaches KVM_RUN: true, the native kick handler sets immediate_exit (sys.ts
   * `takeSignalWithKickHandler`; the signal is unblocked in the thread); false, KVM_SET_SIGNAL_MASK (run-signal.ts:
   * the signal is blocked outside KVM_RUN and consumed with sigtimedwait after it), when the handler is unavailable.
   */
  readonly kickHandler: boolean;
  hostSeq: number;
  runSeq: number;
}

/** `KvmVcpu.#kvmRun` before the first run fetched the real one (`#firstRun`): every run path goes through it. */
function kvmRunNotStarted(): number {
  throw new HalError("kvm", "state", "KVM_RUN", "Cannot run a vCPU before its first-run set-up");
}

/** Exits whose instruction KVM completes on the next KVM_RUN (x86 hypercalls are an `out`). */
function completesOnReentry(kind: AxVCpuExitReason["kind"]): boolean {
  return kind === "IoRead" || kind === "IoWrite" || kind === "MmioRead" || kind === "MmioWrite" || kind === "Hypercall";
}

export class KvmVcpu implements HalVcpu {
  readonly id: number;
  readonly stats: KvmRunStats = { runs: 0, exits: 0, completions: 0 };
  /** The guest arch's part: registers, boot state, interrupts (x86: `x86Vcpu(vcpu)` in x86_64/ gives its extras). */
  readonly archVcpu: KvmArchVcpu;
  readonly #context: KvmVcpuContext;
  readonly #fd: number;
  readonly #run: sys.Mapping;
  readonly #runView: DataView;
  /**
   * The arch's answer to a plain access (`KvmArchVcpu.answerAccess`, MMIO included), or the generic MMIO one, given
   * the code `#kvmRunAccess` returned.
   */
  readonly #answerAccess: (run: DataView, code: number, handler: HalAccessHandler) => boolean;
  /** KVM_RUN on a vCPU fd (sys.ts `kvmRunFunction`), fetched on the first run. */
  #kvmRun: (vcpuFd: number) => number = kvmRunNotStarted;
  /** KVM_RUN for the in-place access loops, answering -errno or the exit's code (sys.ts `kvmRunAccessFunction`). */
  #kvmRunAccess: (vcpuFd: number) => number = kvmRunNotStarted;
  /** The last exit was I/O or MMIO: KVM completes the instruction on the next KVM_RUN. */
  #needsCompletion = false;
  #queue: ExitQueue | undefined;
  #completion: PendingCompletion = NO_COMPLETION;
  readonly #control = new Int32Array(new SharedArrayBuffer(CTL_SLOTS * 4));
  #worker: Worker | undefined;
  /** Set by `useCallerThread`: the kicker thread, and the HOST_SEQ this vCPU last acted on. */
  #callerThread: CallerThread | undefined;
  #started = false;
  #running = false;
  #closed = false;

  constructor(id: number, context: KvmVcpuContext) {
    this.id = id;
    this.#context = context;
    this.#fd = context.vcpuFd;
    this.#run = sys.mmapShared(context.vcpuFd, context.mmapSize);
    this.#runView = new DataView(this.#run.buffer);
    const core: KvmVcpuCore = {
      id,
      fd: context.vcpuFd,
      cpuCount: context.cpuCount,
      run: this.#runView,
      checkOpen: (operation) => this.#checkOpen(operation),
      prepareRegisterAccess: (operation) => this.#prepareRegisterAccess(operation),
    };
    try {
      this.archVcpu = context.archVm.createVcpu(core);
    } catch (error) {
      sys.munmap(this.#run);
      throw error;
    }
    this.#answerAccess = this.archVcpu.answerAccess ?? answerMmioAccess;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Set-up and registers (the arch's, behind the generic checks)
  // -------------------------------------------------------------------------------------------------------------

  /** HAL set-up: the arch loads the boot state; no exit is pending afterwards. */
  setup(setup: HalVcpuSetup): void {
    this.#checkOpen("setup");
    this.#checkIdle("setup");
    this.archVcpu.setup(setup);
    this.#forgetExit();
  }

  /** Restart at `entry` in this vCPU's initial state (the arch's: x86 keeps the mode it was set up in). */
  setEntry(entry: number): void {
    this.#checkOpen("setEntry");
    this.#checkIdle("setEntry");
    this.archVcpu.setEntry(entry);
    this.#forgetExit();
  }

  /** Guest debugging (the GDB stub), when the guest arch's part has it (x86). */
  get debug(): HalVcpuDebug | undefined {
    return this.archVcpu.debug;
  }

  getGpr(reg: number): bigint {
    this.#checkOpen("getGpr");
    return this.archVcpu.getGpr(reg);
  }

  setGpr(reg: number, value: bigint): void {
    this.#checkOpen("setGpr");
    this.archVcpu.setGpr(reg, value);
  }

  /** KVM_GET_MP_STATE (an x86 AP waiting for INIT/SIPI is KVM_MP_STATE_UNINITIALIZED / INIT_RECEIVED). */
  getMpState(): number {
    this.#checkOpen("getMpState");
    const state = new Uint8Array(KVM_MP_STATE_LAYOUT.size);
    sys.ioctlBuf(this.#fd, KVM_GET_MP_STATE, state);
    return new DataView(state.buffer).getUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, true);
  }

  #forgetExit(): void {
    this.#needsCompletion = false;
    this.#queue = undefined;
    this.#completion = NO_COMPLETION;
  }

  #prepareRegisterAccess(operation: string): void {
    this.#checkOpen(operation);
    this.#checkIdle(operation);
    if (this.#needsCompletion) this.#completePendingInstruction(operation);
  }

  /** Re-enter with immediate_exit so KVM finishes the I/O or MMIO instruction, running no further guest code. */
  #completePendingInstruction(operation: string): void {
    if (this.#queue !== undefined) {
      throw new HalError(
        "kvm",
        "state",
        operation,
        `Cannot touch registers of vCPU ${this.id} in the middle of ${this.#queue.describe()}`,
      );
    }
    this.#needsCompletion = false;
    this.#runView.setUint8(RUN.immediate_exit.offset, 1);
    const result = this.#kvmRun(this.#fd);
    this.stats.runs++;
    this.stats.completions++;
    this.#runView.setUint8(RUN.immediate_exit.offset, Atomics.load(this.#control, CTL_KICK) !== 0 ? 1 : 0);
    if (result < 0 && result !== -EINTR) {
      throw new HalError(
        "kvm",
        "syscall",
        "KVM_RUN",
        `Cannot complete the pending instruction of vCPU ${this.id}: ${errnoName(-result)}`,
        { errno: -result },
      );
    }
    this.archVcpu.afterRun();
  }

  setReturnValue(value: bigint): void {
    this.#checkOpen("setReturnValue");
    if (!completeRead(this.#runView, this.#completion, value)) {
      throw new HalError(
        "kvm",
        "state",
        "setReturnValue",
        `Cannot return a value on vCPU ${this.id}: the last exit was not a read`,
      );
    }
    this.#completion = NO_COMPLETION;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Running
  // -------------------------------------------------------------------------------------------------------------

  run(): AxVCpuExitReason {
    this.#checkOpen("run");
    this.#checkIdle("run");
    const queued = this.#nextQueued();
    if (queued !== undefined) return queued;
    const caller = this.#callerThread;
    if (caller !== undefined) return this.#runOnCaller(caller);
    this.#firstRun();
    this.#beforeRun();
    const result = this.#kvmRun(this.#fd);
    return this.#afterRun(result);
  }

  /**
   * Run the guest on this thread from now on (see the file comment). Once per vCPU, on the thread that will call
   * `run()`, before any `runAsync`. False when it cannot: a run Worker exists already, another vCPU of the VM has the
   * thread, or the signal set-up or the kicker failed.
   */
  useCallerThread(sliceMs: number): boolean {
    this.#checkOpen("useCallerThread");
    this.#checkIdle("useCallerThread");
    if (this.#callerThread !== undefined) return true;
    const wake = this.#context.wake;
    if (this.#worker !== undefined || Atomics.load(wake, WAKE_TID) !== 0) return false;
    // The native kick handler serves one vCPU per process: a second caller-thread vCPU would need the signal mask,
    // which blocks the signal on this thread under the first one's feet. The second uses a run Worker instead.
    const immediateExit = this.#run.address + RUN.immediate_exit.offset;
    const handler = sys.takeSignalWithKickHandler(sys.SIGURG, immediateExit);
    if (handler.kind === "busy") return false;
    let kicker: Worker | undefined;
    try {
      if (handler.kind === "unavailable") takeKickSignalInKvmRun(this.#fd);
      Atomics.store(wake, WAKE_PERIOD_MS, Math.max(1, Math.round(sliceMs)));
      Atomics.store(wake, WAKE_STOP, 0);
      kicker = acquireHelperThread("run-kicker");
      const init: RunKickerInit = { kicker: wake.buffer as SharedArrayBuffer };
      kicker.postMessage(init);
      Atomics.store(wake, WAKE_TID, sys.gettid());
    } catch {
      sys.releaseKickTarget(immediateExit);
      if (kicker !== undefined) this.#stopKicker(kicker);
      return false;
    }
    this.#callerThread = {
      kicker,
      wake,
      kickHandler: handler.kind === "taken",
      hostSeq: Atomics.load(wake, WAKE_HOST_SEQ),
      runSeq: 0,
    };
    return true;
  }

  /**
   * `run()` answering plain MMIO and port accesses through `handler` in place (HalVcpu.runAccesses): per access,
   * KVM_RUN, a look at the exit's raw fields, the handler's call, and straight back in; no exit object. Anything
   * else (other exits, a kick, an 8-byte or string access, work from a helper thread) goes the way `run()` goes.
   */
  runAccesses(handler: HalAccessHandler, maxAccesses: number): AxVCpuExitReason {
    this.#checkOpen("runAccesses");
    this.#checkIdle("runAccesses");
    const queued = this.#nextQueued();
    if (queued !== undefined) return queued;
    this.#firstRun();
    const caller = this.#callerThread;
    if (caller !== undefined) return this.#runAccessesOnCaller(caller, handler, maxAccesses);
    const run = this.#runView;
    const arch = this.archVcpu;
    const answerAccess = this.#answerAccess;
    const kvmRunAccess = this.#kvmRunAccess;
    const fd = this.#fd;
    for (let answered = 0; answered < maxAccesses; answered++) {
      this.#beforeRun();
      // -errno, or the exit's code for answerAccess (the reason, or a plain port access packed).
      const code = kvmRunAccess(fd);
      if (code < 0) return this.#afterRun(code);
      if (Atomics.load(this.#control, CTL_KICK) !== 0) return this.#afterRun(0);
      arch.afterRun();
      // Set before the handler runs: a device that reads registers gets the instruction completed first.
      this.#needsCompletion = true;
      if (!answerAccess(run, code, handler)) return this.#afterRun(0);
      this.stats.exits++;
    }
    return NOTHING;
  }

  /**
   * `runAccesses` on the caller thread: the wake protocol once for the whole batch, not per KVM_RUN. IN_RUN stays
   * set (one number for the batch) from before the HOST_SEQ check to the batch's end, so a helper thread that
   * bumps HOST_SEQ meanwhile always signals this thread, and that signal cuts the next or current KVM_RUN short
   * (the kick handler sets immediate_exit; with the signal mask the signal waits, blocked, for KVM_RUN to unblock
   * it): checking HOST_SEQ again before each KVM_RUN would find nothing the signal does not already cover. To the
   * run kicker the batch is one run, so a batch that lasts a period is cut short like a long run.
   *
   * Per access: KVM_RUN, the arch's before/after hooks, the exit's raw fields, the handler. No kick check: a kick
   * (`kick()`) is made on this thread, so only between runs, where it sets immediate_exit and the next KVM_RUN
   * returns -EINTR.
   */
  #runAccessesOnCaller(caller: CallerThread, handler: HalAccessHandler, maxAccesses: number): AxVCpuExitReason {
    if (!this.#beginOnCaller(caller)) return NOTHING;
    const run = this.#runView;
    const arch = this.archVcpu;
    const answerAccess = this.#answerAccess;
    const kvmRunAccess = this.#kvmRunAccess;
    const fd = this.#fd;
    // No read completion is pending inside the batch (accesses complete in place); runs and exits are counted once.
    this.#completion = NO_COMPLETION;
    // 0 or -errno: what `#afterRun` decodes when the batch ends before maxAccesses.
    let result = 0;
    let runs = 0;
    let answered = 0;
    try {
      while (answered < maxAccesses) {
        arch.beforeRun();
        // -errno, or the exit's code for answerAccess (the reason, or a plain port access packed).
        const code = kvmRunAccess(fd);
        runs++;
        if (code < 0) {
          result = code;
          break;
        }
        arch.afterRun();
        // Set before the handler runs: a device that reads registers gets the instruction completed first.
        this.#needsCompletion = true;
        if (!answerAccess(run, code, handler)) break;
        answered++;
      }
    } finally {
      Atomics.store(caller.wake, WAKE_IN_RUN, 0);
      this.stats.runs += runs;
      this.stats.exits += answered;
    }
    if (answered === maxAccesses) return NOTHING;
    if (result === -EINTR && !caller.kickHandler) sys.consumePendingSignal(sys.SIGURG);
    return this.#afterRun(result);
  }

  /** One KVM_RUN on this thread (see `#enterOnCaller`), as an exit. */
  #runOnCaller(caller: CallerThread): AxVCpuExitReason {
    this.#firstRun();
    const result = this.#enterOnCaller(caller);
    return result === HOST_WORK ? NOTHING : this.#afterRun(result);
  }

  /**
   * One KVM_RUN on this thread: announce it (IN_RUN, RUN_SEQ), and do not enter when a helper thread has left work
   * meanwhile (HOST_SEQ moved): run the event channels' callbacks and return HOST_WORK, so the VMM's loop lets its
   * event loop turn for the rest (a TAP's frames). A kick during the run makes it return -EINTR.
   *
   * With the kick handler, a SIGURG that lands between the HOST_SEQ check and KVM_RUN's own check of
   * immediate_exit has set immediate_exit: that KVM_RUN returns -EINTR at once (and `#afterRun` clears it).
   */
  #enterOnCaller(caller: CallerThread): number {
    if (!this.#beginOnCaller(caller)) return HOST_WORK;
    this.#beforeRun();
    const result = this.#kvmRun(this.#fd);
    Atomics.store(caller.wake, WAKE_IN_RUN, 0);
    if (result === -EINTR && !caller.kickHandler) sys.consumePendingSignal(sys.SIGURG);
    return result;
  }

  /**
   * Announce a run (IN_RUN) and look at HOST_SEQ: true when the thread may enter KVM_RUN (IN_RUN stays set until
   * the caller clears it); false when a helper thread left work, which has then been dispatched (IN_RUN cleared).
   */
  #beginOnCaller(caller: CallerThread): boolean {
    const wake = caller.wake;
    // IN_RUN holds this run's number (never 0): the kicker tells a long run from a new one by it.
    const runSeq = caller.runSeq >= 0x3fff_ffff ? 1 : caller.runSeq + 1;
    caller.runSeq = runSeq;
    Atomics.store(wake, WAKE_IN_RUN, runSeq);
    const hostSeq = Atomics.load(wake, WAKE_HOST_SEQ);
    if (hostSeq === caller.hostSeq) return true;
    Atomics.store(wake, WAKE_IN_RUN, 0);
    caller.hostSeq = hostSeq;
    // A kick that raced with this decision must not cut the next run short: its work is dispatched now, and any
    // later one bumps HOST_SEQ again, which the next run sees before it enters.
    if (!caller.kickHandler) sys.consumePendingSignal(sys.SIGURG);
    else if (Atomics.load(this.#control, CTL_KICK) === 0) this.#runView.setUint8(IMMEDIATE_EXIT, 0);
    this.#context.dispatchHostWork();
    this.stats.exits++;
    return false;
  }

  #firstRun(): void {
    if (this.#started) return;
    this.#kvmRun = sys.kvmRunFunction();
    this.#kvmRunAccess = sys.kvmRunAccessFunction(this.#fd, this.#run);
    this.#started = true;
    this.#context.beforeFirstRun();
  }

  /** End the kicker's loop and give its thread back (or terminate it if it does not stop). */
  #stopKicker(kicker: Worker): void {
    const wake = this.#context.wake;
    Atomics.store(wake, WAKE_TID, 0);
    Atomics.store(wake, WAKE_STOP, 1);
    Atomics.notify(wake, WAKE_STOP);
    const deadline = performance.now() + STOP_TIMEOUT_MS;
    for (;;) {
      const state = Atomics.load(wake, WAKE_KICKER_STATE);
      if ((state !== STATE_STARTING && state !== STATE_READY) || performance.now() >= deadline) break;
      Atomics.notify(wake, WAKE_STOP);
      Atomics.wait(wake, WAKE_KICKER_STATE, state, 10);
    }
    const state = Atomics.load(wake, WAKE_KICKER_STATE);
    if (state === STATE_EXITED || state === STATE_FAILED) releaseHelperThread("run-kicker", kicker);
    else kicker.terminate();
    Atomics.store(wake, WAKE_KICKER_STATE, STATE_STARTING);
  }

  async runAsync(): Promise<AxVCpuExitReason> {
    this.#checkOpen("runAsync");
    this.#checkIdle("runAsync");
    const queued = this.#nextQueued();
    if (queued !== undefined) return queued;
    this.#running = true;
    try {
      this.#firstRun();
      const control = await this.#ensureWorker();
      this.#checkOpen("runAsync");
      this.#beforeRun();
      const done = Atomics.load(control, CTL_DONE_SEQ);
      Atomics.add(control, CTL_REQUEST_SEQ, 1);
      Atomics.notify(control, CTL_REQUEST_SEQ);
      // waitAsync can wake without the value having changed (seen on Bun 1.4): wait until it really did.
      while (Atomics.load(control, CTL_DONE_SEQ) === done) {
        if (Atomics.load(control, CTL_STATE) !== STATE_READY) {
          throw new HalError("kvm", "state", "runAsync", `Cannot run vCPU ${this.id}: its run worker stopped`);
        }
        const wait = Atomics.waitAsync(control, CTL_DONE_SEQ, done);
        if (wait.async) await wait.value;
      }
      this.#running = false;
      this.#checkOpen("runAsync");
      return this.#afterRun(Atomics.load(control, CTL_RESULT));
    } finally {
      this.#running = false;
    }
  }

  #nextQueued(): AxVCpuExitReason | undefined {
    const queue = this.#queue;
    if (queue === undefined) return undefined;
    const decoded = queue.next();
    this.#queue = decoded.more;
    this.#completion = decoded.completion;
    this.stats.exits++;
    return decoded.exit;
  }

  #beforeRun(): void {
    this.archVcpu.beforeRun();
    this.#completion = NO_COMPLETION;
    this.stats.runs++;
  }

  #afterRun(result: number): AxVCpuExitReason {
    this.archVcpu.afterRun();
    if (result < 0 && result !== -EINTR && result !== -EAGAIN) {
      throw new HalError("kvm", "syscall", "KVM_RUN", `Cannot run vCPU ${this.id}: ${errnoName(-result)}`, {
        errno: -result,
      });
    }
    if (result === -EINTR || Atomics.load(this.#control, CTL_KICK) !== 0) {
      // The kick (if any) has done its job: this run is over. Clear it so the next run is not cut short.
      Atomics.store(this.#control, CTL_KICK, 0);
      this.#runView.setUint8(RUN.immediate_exit.offset, 0);
    }
    const decoded = decodeExit(this.#runView, result, this.archVcpu);
    this.#needsCompletion = result >= 0 && completesOnReentry(decoded.exit.kind);
    this.#queue = decoded.more;
    this.#completion = decoded.completion;
    this.stats.exits++;
    return decoded.exit;
  }

  async #ensureWorker(): Promise<Int32Array> {
    const control = this.#control;
    if (this.#worker === undefined) {
      const worker = acquireRunWorker();
      this.#worker = worker;
      const init: RunWorkerInit = { vcpuFd: this.#fd, control: control.buffer as SharedArrayBuffer };
      worker.postMessage(init);
    }
    while (Atomics.load(control, CTL_STATE) === STATE_STARTING) {
      const wait = Atomics.waitAsync(control, CTL_STATE, STATE_STARTING);
      if (wait.async) await wait.value;
    }
    const state = Atomics.load(control, CTL_STATE);
    if (state !== STATE_READY) {
      const errno = Atomics.load(control, CTL_SETUP_ERRNO);
      throw new HalError(
        "kvm",
        "syscall",
        "KVM_SET_SIGNAL_MASK",
        `Cannot start the run thread of vCPU ${this.id}: ${state === STATE_FAILED ? errnoName(errno) : "it exited"}`,
        { errno },
      );
    }
    return control;
  }

  /**
   * Make a vCPU inside `run`/`runAsync` return soon (a `Nothing` exit if nothing else happened), or the next run
   * return at once if none is in progress. Safe to call from the owner thread at any time.
   */
  kick(): void {
    if (this.#closed) return;
    Atomics.store(this.#control, CTL_KICK, 1);
    // immediate_exit covers a run thread that has not entered KVM_RUN yet; the signal one that is inside it.
    this.#runView.setUint8(RUN.immediate_exit.offset, 1);
    const tid = Atomics.load(this.#control, CTL_TID);
    if (tid > 0 && Atomics.load(this.#control, CTL_IN_RUN) !== 0) sys.tgkill(sys.getpid(), tid, sys.SIGURG);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Interrupts
  // -------------------------------------------------------------------------------------------------------------

  setInterruptLevel(vector: number, asserted: boolean): void {
    this.#checkOpen("setInterruptLevel");
    this.archVcpu.setInterruptLevel(vector, asserted);
  }

  hasPendingInterrupt(): boolean {
    return this.archVcpu.hasPendingInterrupt();
  }

  /** The arch's complete vCPU state (snapshots). */
  saveState(): HalVcpuState {
    this.#checkOpen("saveState");
    return this.archVcpu.saveState();
  }

  loadState(state: HalVcpuState): void {
    this.#checkOpen("loadState");
    this.archVcpu.loadState(state);
  }

  /** The architectural timers live in the kernel; there is no deadline for the VMM to watch. */
  hardwareTimerDeadline(): number | undefined {
    return undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifetime
  // -------------------------------------------------------------------------------------------------------------

  #checkOpen(operation: string): void {
    if (this.#closed) throw new HalError("kvm", "state", operation, `Cannot use vCPU ${this.id}: it is closed`);
  }

  #checkIdle(operation: string): void {
    if (this.#running)
      throw new HalError("kvm", "state", operation, `Cannot ${operation} on vCPU ${this.id}: it is running`);
  }

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#stopWorker();
    const caller = this.#callerThread;
    if (caller !== undefined) {
      this.#callerThread = undefined;
      // Before the mapping goes: the handler must not write into it any more.
      if (caller.kickHandler) sys.releaseKickTarget(this.#run.address + RUN.immediate_exit.offset);
      this.#stopKicker(caller.kicker);
    }
    this.#closed = true;
    // Before the mapping goes: the access helper must not read it for a later vCPU with the same fd.
    if (this.#started) sys.forgetRunAccess(this.#fd);
    sys.munmap(this.#run);
    sys.close(this.#fd);
    this.#context.onClose();
  }

  /** Stop the run thread (kicking it out of KVM_RUN if needed) and wait for it before the fd goes away. */
  #stopWorker(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    const control = this.#control;
    Atomics.store(control, CTL_STOP, 1);
    Atomics.add(control, CTL_REQUEST_SEQ, 1);
    Atomics.notify(control, CTL_REQUEST_SEQ);
    const deadline = performance.now() + STOP_TIMEOUT_MS;
    // A worker still starting has not got the fd yet: wait for it to be ready (or fail) so it cannot use a closed fd.
    while (Atomics.load(control, CTL_STATE) === STATE_STARTING && performance.now() < deadline) {
      Atomics.wait(control, CTL_STATE, STATE_STARTING, 10);
    }
    while (Atomics.load(control, CTL_STATE) === STATE_READY && performance.now() < deadline) {
      Atomics.notify(control, CTL_REQUEST_SEQ);
      this.kick();
      Atomics.wait(control, CTL_STATE, STATE_READY, 10);
    }
    const state = Atomics.load(control, CTL_STATE);
    // A thread whose loop has ended goes back to the pool (run-pool.ts says why it is not terminated); one still
    // stuck in KVM_RUN cannot be reused and is terminated.
    if (state === STATE_EXITED || state === STATE_FAILED) releaseRunWorker(worker);
    else worker.terminate();
    this.#worker = undefined;
    // Release a runAsync still waiting for a run that will never finish (it then reports the vCPU closed).
    Atomics.add(control, CTL_DONE_SEQ, 1);
    Atomics.store(control, CTL_RESULT, -EINTR);
    Atomics.notify(control, CTL_DONE_SEQ);
    if (Atomics.load(control, CTL_STATE) !== STATE_EXITED && Atomics.load(control, CTL_STATE) !== STATE_FAILED) {
      throw new HalError(
        "kvm",
        "state",
        "close",
        `Cannot stop the run thread of vCPU ${this.id}: it did not leave KVM_RUN within ${STOP_TIMEOUT_MS} ms`,
      );
    }
  }
}
