/**
 * The shared control block between a vCPU's owner thread and the Worker that pumps KVM_RUN for it
 * (run-worker.ts). One Int32Array over a SharedArrayBuffer; all accesses use Atomics.
 *
 * Protocol: the owner bumps REQUEST_SEQ and notifies; the worker runs KVM_RUN once, stores the result in RESULT
 * (0 or -errno), bumps DONE_SEQ and notifies. The kvm_run mapping itself is shared memory: the worker never reads
 * it, the owner decodes the exit and writes answers there between runs.
 */

/** Int32 slots of the control block. */
export const CTL_STATE = 0;
export const CTL_TID = 1;
export const CTL_REQUEST_SEQ = 2;
export const CTL_DONE_SEQ = 3;
export const CTL_RESULT = 4;
export const CTL_STOP = 5;
/** 1 while a kick is pending (set by kick(), cleared by the owner once a run returned because of it). */
export const CTL_KICK = 6;
/** errno of a failed worker set-up (KVM_SET_SIGNAL_MASK), with STATE = STATE_FAILED. */
export const CTL_SETUP_ERRNO = 7;
/** Set by the worker while it is inside KVM_RUN (for kick: only then is a signal needed). */
export const CTL_IN_RUN = 8;
export const CTL_SLOTS = 9;

export const STATE_STARTING = 0;
export const STATE_READY = 1;
export const STATE_FAILED = 2;
export const STATE_EXITED = 3;

/** The first message to a run worker. */
export interface RunWorkerInit {
  readonly vcpuFd: number;
  readonly control: SharedArrayBuffer;
}

export function isRunWorkerInit(value: unknown): value is RunWorkerInit {
  if (typeof value !== "object" || value === null) return false;
  const fd: unknown = Reflect.get(value, "vcpuFd");
  const control: unknown = Reflect.get(value, "control");
  return typeof fd === "number" && control instanceof SharedArrayBuffer;
}
