/**
 * What a hart's thread and the VMM's thread share (threaded-vcpu.ts describes the design): a control block of
 * int32 words in the VM's arena, and the messages of the two ports.
 */

import type { AxVCpuExitReason } from "../../types.ts";

/** Main → worker: command sequence number (the worker waits on it; the command itself is on the command port). */
export const TC_CMD = 0;
/** Worker → main: reply sequence number of synchronous calls (the reply is on the reply port). */
export const TC_REPLY = 1;
/** Main → worker, while the hart may be running: PENDING_* bits, read and cleared by the worker. */
export const TC_PENDING = 2;
/** Worker: STATE_*. */
export const TC_STATE = 3;
/** Remote fences: requests made (main) and the last one applied (worker). */
export const TC_FENCE_REQ = 4;
export const TC_FENCE_ACK = 5;
/** Fence kinds asked for since the worker last looked (FENCE_* bits). */
export const TC_FENCE_KINDS = 6;
/** VMM → worker: 1 when the hart's thread handles WFI and SBI TIME, IPI and RFENCE itself (sbi-on-thread.ts). */
export const TC_EXITS_ON_THREAD = 7;
/** Worker(s) → VMM: 1 when a hart's thread raised an SBI IPI on this hart since the VMM last looked. */
export const TC_IPI_RAISED = 8;
/**
 * Worker: 1 while the hart's last run ended with Nothing (a turn of the VMM's loop, a kick), so the VMM runs it again
 * without waiting for an interrupt; 0 after any other exit (a halt, an SBI call, MMIO), and before its first run.
 */
export const TC_RESUMES = 9;
/**
 * Main → worker: physical ranges written by someone other than the harts (devices' DMA, loaders, snapshot restores:
 * `PhysicalMemory.externalWrite` on the VMM's thread), which the hart's thread applies to its own decode caches,
 * translations and reservations. A ring of TC_WRITTEN_SLOTS [start, end) pairs of float64s at TC_WRITTEN_RANGES:
 * the VMM's thread fills slot HEAD % SLOTS and then bumps HEAD; the hart's thread applies slots up to HEAD and
 * moves TAIL there. A full ring sets OVERFLOW instead: the hart's thread then treats all of RAM as written.
 */
export const TC_WRITTEN_HEAD = 10;
export const TC_WRITTEN_TAIL = 11;
export const TC_WRITTEN_OVERFLOW = 12;
/** Interrupt lines: one word per cause number 0..15, (change count << 1) | level. */
export const TC_LINES = 16;
export const TC_LINE_COUNT = 16;
/**
 * Worker(s) → VMM: SBI PMU firmware events of SBI calls answered on hart threads, counted for this hart since the
 * VMM last looked, one word per event code (src/arch/riscv64/sbi.ts SBI_PMU_FW_*).
 */
export const TC_FW_EVENTS = 32;
export const TC_FW_EVENT_COUNT = 32;
/** Word index of the written-range ring (8-byte aligned: control blocks are 64-byte aligned). */
export const TC_WRITTEN_RANGES = 64;
export const TC_WRITTEN_SLOTS = 16;
export const TC_WORDS = TC_WRITTEN_RANGES + TC_WRITTEN_SLOTS * 4;
export const TC_BYTES = TC_WORDS * 4;

export const PENDING_KICK = 1;
export const PENDING_LINES = 2;
export const PENDING_FENCE = 4;
export const PENDING_WRITTEN = 8;

export const STATE_PARKED = 0;
export const STATE_RUNNING = 1;
/** The worker's loop ended (closed or failed): calls must not wait for it. */
export const STATE_GONE = 2;

export const FENCE_VMA = 1;
export const FENCE_GVMA = 2;
export const FENCE_I = 4;

/** Set PENDING_* `bits` in a hart's control block and wake its thread if it waits (in WFI). */
export function raisePending(control: Int32Array, bits: number): void {
  Atomics.or(control, TC_PENDING, bits);
  Atomics.notify(control, TC_PENDING);
}

/** Set interrupt line `cause` of a hart to `asserted` (a new change count, so the hart applies it once). */
export function setLine(control: Int32Array, cause: number, asserted: boolean): void {
  const index = TC_LINES + cause;
  for (;;) {
    const word = Atomics.load(control, index);
    const next = (((word >> 1) + 1) << 1) | (asserted ? 1 : 0);
    if (Atomics.compareExchange(control, index, word, next) === word) break;
  }
  raisePending(control, PENDING_LINES);
}

/** Ask a hart for a fence of `kind` (FENCE_*); returns the request number its thread acknowledges. */
export function requestFence(control: Int32Array, kind: number): number {
  const req = Atomics.add(control, TC_FENCE_REQ, 1) + 1;
  Atomics.or(control, TC_FENCE_KINDS, kind);
  raisePending(control, PENDING_FENCE);
  return req;
}

/** Whether the hart has applied fence request `req` (or is not running, and applies it before it runs again). */
export function fenceDone(control: Int32Array, req: number): boolean {
  return Atomics.load(control, TC_STATE) !== STATE_RUNNING || Atomics.load(control, TC_FENCE_ACK) - req >= 0;
}

/** The written-range ring of a control block as float64 pairs (start, end). */
export function writtenRanges(control: Int32Array): Float64Array {
  return new Float64Array(control.buffer, control.byteOffset + TC_WRITTEN_RANGES * 4, TC_WRITTEN_SLOTS * 2);
}

/** Tell a hart's thread that physical [start, end) was written behind its back (see TC_WRITTEN_HEAD). */
export function noteWritten(control: Int32Array, ranges: Float64Array, start: number, end: number): void {
  const head = Atomics.load(control, TC_WRITTEN_HEAD);
  if (head - Atomics.load(control, TC_WRITTEN_TAIL) >= TC_WRITTEN_SLOTS) {
    Atomics.store(control, TC_WRITTEN_OVERFLOW, 1);
  } else {
    const slot = (head % TC_WRITTEN_SLOTS) * 2;
    ranges[slot] = start;
    ranges[slot + 1] = end;
    // The slot's plain stores happen before this store, which the hart's thread reads with Atomics.load.
    Atomics.store(control, TC_WRITTEN_HEAD, head + 1);
  }
  raisePending(control, PENDING_WRITTEN);
}

/**
 * Take the written ranges a hart's thread has not applied yet: calls `apply` for each, or once with the whole
 * physical address space after an overflow.
 */
export function takeWritten(
  control: Int32Array,
  ranges: Float64Array,
  apply: (start: number, end: number) => void,
): void {
  const overflow = Atomics.exchange(control, TC_WRITTEN_OVERFLOW, 0) !== 0;
  const head = Atomics.load(control, TC_WRITTEN_HEAD);
  let tail = Atomics.load(control, TC_WRITTEN_TAIL);
  if (overflow) apply(0, Number.MAX_SAFE_INTEGER);
  else {
    for (; tail !== head; tail++) {
      const slot = (tail % TC_WRITTEN_SLOTS) * 2;
      apply(ranges[slot] ?? 0, ranges[slot + 1] ?? 0);
    }
  }
  Atomics.store(control, TC_WRITTEN_TAIL, head);
}

/** A RAM block to map on the hart's thread (its bytes are in the arena). */
export interface ArenaBlock {
  readonly base: number;
  readonly arenaOffset: number;
  readonly size: number;
}

export interface HartWorkerData {
  readonly memory: WebAssembly.Memory;
  readonly clockOffset: number;
  readonly creatorTimeOrigin: number;
  readonly control: number;
  /** Arena offset of the VM's control blocks (hart i's at + i * TC_BYTES) and how many harts the VM has. */
  readonly controls: number;
  readonly hartCount: number;
  readonly vmId: number;
  readonly cpuCount: number;
  readonly hartId: number;
  readonly mode: "hypervisor" | "bare-machine";
  readonly timebaseHz: number;
  readonly commands: MessagePort;
  readonly replies: MessagePort;
  readonly exits: MessagePort;
}

/** A synchronous call of an `EmulatedVcpu` operation on the hart's thread (path names the method). */
export interface CallCommand {
  readonly op: "call";
  readonly path: readonly string[];
  readonly args: readonly unknown[];
  readonly blocks: readonly ArenaBlock[];
}

export interface RunCommand {
  readonly op: "run";
  /** A pending MMIO read's value (setReturnValue), applied before the run. */
  readonly returnValue: bigint | undefined;
  readonly blocks: readonly ArenaBlock[];
}

export interface CloseCommand {
  readonly op: "close";
}

export type HartCommand = CallCommand | RunCommand | CloseCommand;

export type CallReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

export type RunReply =
  | { readonly ok: true; readonly exit: AxVCpuExitReason; readonly pc: bigint }
  | { readonly ok: false; readonly error: string };
