/**
 * A hart's thread (threaded-vcpu.ts describes the design). It owns the hart: an `EmulatedVcpu` of a VM object
 * attached to the creating thread's arena and clock. It waits for commands on the control block: calls of the
 * vCPU's operations (answered synchronously on the reply port) and runs (answered, when the hart exits, on the
 * exit port). While the hart runs, the VMM's thread reaches it only through the control block's words: kicks,
 * interrupt lines and remote fences, looked at every timer check of the run loop (the hart's clock read). When the
 * VMM has turned it on (TC_EXITS_ON_THREAD), WFI waits here and SBI TIME/IPI/RFENCE are answered here
 * (sbi-on-thread.ts) instead of exiting.
 */

import { receiveMessageOnPort, workerData } from "node:worker_threads";
import type { AxVCpuExitReason } from "../../types.ts";
import type { EmulatedVcpu } from "../vcpu.ts";
import { EmulatedVm } from "../vm.ts";
import {
  type ArenaBlock,
  type CallReply,
  FENCE_GVMA,
  FENCE_I,
  FENCE_VMA,
  type HartCommand,
  type HartWorkerData,
  PENDING_FENCE,
  PENDING_KICK,
  PENDING_LINES,
  PENDING_WRITTEN,
  type RunReply,
  STATE_GONE,
  STATE_PARKED,
  STATE_RUNNING,
  TC_CMD,
  TC_EXITS_ON_THREAD,
  TC_FENCE_ACK,
  TC_FENCE_KINDS,
  TC_FENCE_REQ,
  TC_LINE_COUNT,
  TC_LINES,
  TC_PENDING,
  TC_REPLY,
  TC_RESUMES,
  TC_STATE,
  TC_WORDS,
  takeWritten,
  writtenRanges,
} from "./protocol.ts";
import { HartSbi } from "./sbi-on-thread.ts";

/** Runs of the hart between looks at the event loop (background wasm compiles finish there). */
const YIELD_EVERY_MS = 4;
/** How long a parked hart's thread blocks between looks at its event loop. */
const PARKED_WAIT_MS = 20;
const NOTHING: AxVCpuExitReason = { kind: "Nothing" };
/** How long a hart halted in WFI waits on its thread before the VMM's loop gets a turn (a Nothing exit). */
const HALTED_TURN_MS = 10;
/** How long a spinning hart gives up its host core (the kernel's timer slack makes it ~50 us or more anyway). */
const SPIN_YIELD_MS = 0.02;

const data = workerData as HartWorkerData;
const control = new Int32Array(data.memory.buffer, data.control, TC_WORDS);
/** The hart's VM view and vCPU; a failure here (e.g. a bad AXVISOR_EMULATED_TIER) is answered to the VMM's first call. */
function start(): { vm: EmulatedVm; vcpu: EmulatedVcpu } {
  try {
    const vm = new EmulatedVm(
      { arch: "riscv64", vmId: data.vmId, cpuCount: data.cpuCount, mode: data.mode, timebaseHz: data.timebaseHz },
      { memory: data.memory, clockOffset: data.clockOffset, creatorTimeOrigin: data.creatorTimeOrigin },
    );
    return { vm, vcpu: vm.createVcpu(data.hartId) as EmulatedVcpu };
  } catch (error) {
    // The VMM's thread is blocked in its first synchronous call (it cannot see this thread's error event): answer it.
    data.replies.postMessage({ ok: false, error: errorText(error) } satisfies CallReply);
    Atomics.store(control, TC_STATE, STATE_GONE);
    Atomics.add(control, TC_REPLY, 1);
    Atomics.notify(control, TC_REPLY);
    throw error;
  }
}
const { vm, vcpu } = start();
const hart = vcpu.hart;
hart.sharedMemory = true;
// The run loop reads the clock at every timer check: that is where the control block is looked at, cheaply.
const readClock = vm.currentTime.bind(vm);
vm.currentTime = () => {
  if (Atomics.load(control, TC_PENDING) !== 0) hart.kickRequested = true;
  return readClock();
};
// A spin (PAUSE hints in a row, hart.ts pauseHint) gives up the host core for a moment, as a vCPU thread under
// KVM's pause-loop exiting does: with more hart threads than cores, the hart it waits for may be waiting for this
// core. Lines, fences and kicks end the wait at once (raisePending notifies TC_PENDING), and then end the run so
// that they are applied.
hart.onSpin = () => {
  if (Atomics.wait(control, TC_PENDING, 0, SPIN_YIELD_MS) !== "timed-out") hart.kickRequested = true;
  return false;
};
const written = writtenRanges(control);
/** Change counts of the interrupt lines as last applied. */
const linesSeen = new Int32Array(TC_LINE_COUNT);

function mapBlocks(blocks: readonly ArenaBlock[]): void {
  for (const b of blocks) vm.mapArenaBlock(b.base, b.arenaOffset, b.size);
}

/** Apply what the VMM's thread asked for while the hart ran. Returns whether it asked the run to end. */
function applyPending(): boolean {
  const pending = Atomics.exchange(control, TC_PENDING, 0);
  applyLinesAndFences(pending);
  return (pending & PENDING_KICK) !== 0;
}

/** Apply only the fences asked of this hart (while it waits for its own remote fence): the rest stays pending. */
function applyFencesOnly(): void {
  if ((Atomics.load(control, TC_PENDING) & PENDING_FENCE) === 0) return;
  Atomics.and(control, TC_PENDING, ~PENDING_FENCE);
  applyLinesAndFences(PENDING_FENCE);
}

/**
 * Physical [start, end) was written on the VMM's thread (a device's DMA, a loader): this thread's own view of the
 * memory drops decoded code on those pages, translations if one held page-table entries, and reservations there,
 * as the VMM's thread does for harts on it (PhysicalMemory.externalWrite; each thread keeps its own page flags).
 */
function applyWritten(start: number, end: number): void {
  const memory = vm.memory;
  for (const region of memory.regions) {
    const from = Math.max(start, region.base);
    const to = Math.min(end, region.end);
    if (from < to) memory.externalWrite(region.block, from - region.base, to - from);
  }
}

function applyLinesAndFences(pending: number): void {
  if ((pending & PENDING_WRITTEN) !== 0) takeWritten(control, written, applyWritten);
  if ((pending & PENDING_LINES) !== 0) {
    for (let cause = 0; cause < TC_LINE_COUNT; cause++) {
      const word = Atomics.load(control, TC_LINES + cause);
      if (word >> 1 === linesSeen[cause]) continue;
      linesSeen[cause] = word >> 1;
      vcpu.setInterruptLevel(cause, (word & 1) !== 0);
    }
  }
  if ((pending & PENDING_FENCE) !== 0) {
    const req = Atomics.load(control, TC_FENCE_REQ);
    const kinds = Atomics.exchange(control, TC_FENCE_KINDS, 0);
    if ((kinds & FENCE_GVMA) !== 0) vcpu.riscv.fence("hfence.gvma");
    if ((kinds & FENCE_VMA) !== 0) vcpu.riscv.fence("sfence.vma");
    if ((kinds & FENCE_I) !== 0) vcpu.riscv.fence("fence.i");
    Atomics.store(control, TC_FENCE_ACK, req);
    Atomics.notify(control, TC_FENCE_ACK);
  }
}

const sbi = new HartSbi(data.memory.buffer, data.controls, data.hartCount, data.hartId, vcpu, applyFencesOnly);
/**
 * The hart executed WFI with nothing pending: it waits on its own thread (no exit to the VMM) until an interrupt is
 * pending, kept across the Nothing it returns now and then so the VMM's loop turns (its device timers run there).
 */
let halted = false;

/**
 * WFI: sleep on the control block (lines, fences and kicks wake it: protocol.ts raisePending) until an interrupt
 * is pending, the hart's own timer is due, or `until` (performance.now() ms). Returns whether the hart may run.
 */
function waitForInterrupt(until: number): boolean {
  for (;;) {
    if (vcpu.hasPendingInterrupt()) return true;
    const now = performance.now();
    if (now >= until) return false;
    let waitMs = until - now;
    const deadline = vcpu.hardwareTimerDeadline();
    if (deadline !== undefined) {
      const ticks = deadline - vm.currentTime();
      waitMs = Math.min(waitMs, Math.max(0, (ticks * 1000) / vm.timebaseHz));
    }
    if (waitMs > 0) Atomics.wait(control, TC_PENDING, 0, waitMs);
    // A kick: the VMM wants the hart back (pause, stop); it stays halted.
    if (applyPending()) return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function call(path: readonly string[], args: readonly unknown[]): unknown {
  let target: unknown = vcpu;
  for (let i = 0; i < path.length - 1; i++) target = (target as Record<string, unknown>)[path[i] ?? ""];
  const name = path[path.length - 1] ?? "";
  const fn = (target as Record<string, unknown>)[name];
  if (typeof fn !== "function" && args.length === 0) return fn;
  if (typeof fn !== "function")
    throw new Error(`Cannot call ${path.join(".")} on hart ${data.hartId}: no such operation`);
  return (fn as (...a: unknown[]) => unknown).apply(target, args as unknown[]);
}

async function runUntilExit(): Promise<AxVCpuExitReason> {
  const runStart = performance.now();
  let sliceStart = runStart;
  for (;;) {
    const kicked = applyPending();
    if (kicked) return { kind: "Nothing" };
    if (halted) {
      if (!waitForInterrupt(runStart + HALTED_TURN_MS)) return { kind: "Nothing" };
      halted = false;
    }
    let exit = vcpu.run();
    // Handled here, these go on like a run's Nothing (the slice's turns below still come).
    if (exit.kind === "Halt" && Atomics.load(control, TC_EXITS_ON_THREAD) !== 0) {
      halted = true;
      exit = NOTHING;
    } else if (exit.kind === "SbiCall" && sbi.answer(exit)) exit = NOTHING;
    if (exit.kind !== "Nothing") return exit;
    // A run ends with Nothing for its budget, a kick, or the control block (then go round and look at it).
    if ((Atomics.load(control, TC_PENDING) & PENDING_KICK) !== 0) {
      applyPending();
      return exit;
    }
    if (performance.now() - runStart >= YIELD_EVERY_MS) {
      // The VMM's thread gets a Nothing now and then too, so its loop turns (timers, pauses, stops). (Timed from
      // the run's start: timed from the last turn of this thread's own event loop below, it came only when one
      // run() happened to take more than half of YIELD_EVERY_MS, and a caller waiting for the run to end without
      // kicking it could wait for minutes.)
      return exit;
    }
    if (performance.now() - sliceStart >= YIELD_EVERY_MS / 2) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

async function serve(): Promise<void> {
  // Commands are counted from 0 (the block starts zeroed): the first may have come before this thread started.
  let seen = 0;
  for (;;) {
    // Waiting in short turns lets the event loop turn while parked (background compiles complete there).
    // (Atomics.waitAsync was seen to miss wake-ups with two hart threads on Bun 1.4.)
    while (Atomics.load(control, TC_CMD) === seen) {
      if (Atomics.wait(control, TC_CMD, seen, PARKED_WAIT_MS) === "timed-out") {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    seen++;
    // The command word can be seen before the message reaches the port: wait for the message.
    let received = receiveMessageOnPort(data.commands);
    while (received === undefined) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      received = receiveMessageOnPort(data.commands);
    }
    const command = received.message as HartCommand;
    if (command.op === "close") return;
    if (command.op === "call") {
      let reply: CallReply;
      try {
        mapBlocks(command.blocks);
        applyPending();
        // The VMM may be about to move the hart (setEntry, loadState, HSM): WFI may complete early, as it may.
        halted = false;
        reply = { ok: true, value: call(command.path, command.args) };
      } catch (error) {
        reply = { ok: false, error: errorText(error) };
      }
      data.replies.postMessage(reply);
      Atomics.add(control, TC_REPLY, 1);
      Atomics.notify(control, TC_REPLY);
      continue;
    }
    let reply: RunReply;
    Atomics.store(control, TC_STATE, STATE_RUNNING);
    try {
      mapBlocks(command.blocks);
      if (command.returnValue !== undefined) vcpu.setReturnValue(command.returnValue);
      const exit = await runUntilExit();
      reply = { ok: true, exit, pc: vcpu.riscv.getPc() };
    } catch (error) {
      reply = { ok: false, error: errorText(error) };
    }
    Atomics.store(control, TC_RESUMES, reply.ok && reply.exit.kind === "Nothing" ? 1 : 0);
    Atomics.store(control, TC_STATE, STATE_PARKED);
    // A hart waiting for this one's fence acknowledgement stops waiting when it parks.
    Atomics.notify(control, TC_FENCE_ACK);
    data.exits.postMessage(reply);
  }
}

serve()
  .catch((error: unknown) => data.exits.postMessage({ ok: false, error: errorText(error) } satisfies RunReply))
  .finally(() => {
    Atomics.store(control, TC_STATE, STATE_GONE);
    Atomics.notify(control, TC_REPLY);
    Atomics.notify(control, TC_FENCE_ACK);
    data.commands.close();
    data.replies.close();
    data.exits.close();
    vcpu[Symbol.dispose]();
  });
