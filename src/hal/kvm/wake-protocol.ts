/**
 * How other threads get a vCPU that runs KVM_RUN on the VMM's own thread (`KvmVcpu.useCallerThread`) out of the
 * kernel: one Int32Array over a SharedArrayBuffer per VM, every access through Atomics.
 *
 * The VMM's thread, around each KVM_RUN of such a vCPU: IN_RUN = the run's number (counting from 1, never 0), look
 * at HOST_SEQ (work that arrived while it was away: do not enter), KVM_RUN, IN_RUN = 0. A helper thread with work for the VMM's thread
 * (the eventfd watcher: a guest notification or an interrupt resample; the run kicker: the thread has not been back
 * to its event loop for a while) bumps HOST_SEQ, notifies it, and when IN_RUN is 1 sends SIGURG to TID: KVM_RUN
 * returns -EINTR (the native kick handler, sys.ts `takeSignalWithKickHandler`, sets kvm_run.immediate_exit, so a
 * signal that lands just before KVM_RUN counts too; without it, the thread blocks SIGURG everywhere but inside
 * KVM_RUN, run-signal.ts), the vCPU returns `Nothing`, and the VMM's loop lets its event loop turn. Because both sides write their flag before reading the
 * other's (sequentially consistent atomics), either the helper sees IN_RUN and signals, or the VMM's thread sees the
 * new HOST_SEQ and does not enter: work is never left waiting for a run that does not end.
 */

import { HOST_WAKE_HOST_SEQ, HOST_WAKE_IN_RUN, HOST_WAKE_TID } from "../types.ts";

/** The kernel thread id that runs the VM's caller-thread vCPU (0: none). The HAL's `HostWakeChannel` slot. */
export const WAKE_TID = HOST_WAKE_TID;
/**
 * Non-zero while that thread is in (or entering) KVM_RUN: the run's number, so a kicker that sees the same value
 * twice, a period apart, has seen one long run (one store per run, where a flag and a counter took two atomics).
 */
export const WAKE_IN_RUN = HOST_WAKE_IN_RUN;
/** Unused (was the run counter, now IN_RUN's value); kept so the other slots keep their numbers. */
export const WAKE_RESERVED = 2;
/** Bumped by a helper thread that has work for the VMM's thread (Atomics.notify on it: waitAsync listeners). */
export const WAKE_HOST_SEQ = HOST_WAKE_HOST_SEQ;
/** Set to end the kicker's loop. */
export const WAKE_STOP = 4;
/** The kicker's period in milliseconds. */
export const WAKE_PERIOD_MS = 5;
/** The kicker's state (STATE_* of run-protocol.ts). */
export const WAKE_KICKER_STATE = 6;
export const WAKE_SLOTS = 7;
