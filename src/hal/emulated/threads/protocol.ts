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
/** Interrupt lines: one word per cause number 0..15, (change count << 1) | level. */
export const TC_LINES = 16;
export const TC_LINE_COUNT = 16;
export const TC_WORDS = 32;
export const TC_BYTES = TC_WORDS * 4;

export const PENDING_KICK = 1;
export const PENDING_LINES = 2;
export const PENDING_FENCE = 4;

export const STATE_PARKED = 0;
export const STATE_RUNNING = 1;
/** The worker's loop ended (closed or failed): calls must not wait for it. */
export const STATE_GONE = 2;

export const FENCE_VMA = 1;
export const FENCE_GVMA = 2;
export const FENCE_I = 4;

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
