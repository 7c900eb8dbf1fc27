/**
 * A vCPU's run thread: it only pumps KVM_RUN on the vCPU fd (which blocks in the kernel while the guest runs) so
 * the owner's event loop stays free. See run-protocol.ts for the handshake.
 *
 * Kick: this thread blocks SIGURG and tells KVM (KVM_SET_SIGNAL_MASK) to run the guest with SIGURG unblocked. A
 * SIGURG sent to this thread with tgkill then makes KVM_RUN return -EINTR without ever being delivered (the
 * thread's own mask blocks it again on the way out); we consume it with sigtimedwait so the next run starts
 * clean. immediate_exit covers a kick that lands before KVM_RUN is entered.
 */

import { EINTR } from "../../common/errno.ts";
import { HalError } from "../types.ts";
import { KVM_RUN } from "./abi.ts";
import {
  CTL_DONE_SEQ,
  CTL_IN_RUN,
  CTL_REQUEST_SEQ,
  CTL_RESULT,
  CTL_SETUP_ERRNO,
  CTL_SLOTS,
  CTL_STATE,
  CTL_STOP,
  CTL_TID,
  isRunWorkerInit,
  STATE_EXITED,
  STATE_FAILED,
  STATE_READY,
} from "./run-protocol.ts";
import { takeKickSignalInKvmRun } from "./run-signal.ts";
import { consumePendingSignal, gettid, ioctlIntRaw, SIGURG } from "./sys.ts";

declare const self: Worker;

function start(vcpuFd: number, control: Int32Array): void {
  try {
    // Inside the try: the first native call of this thread opens libc here too.
    Atomics.store(control, CTL_TID, gettid());
    takeKickSignalInKvmRun(vcpuFd);
  } catch (error) {
    Atomics.store(control, CTL_SETUP_ERRNO, error instanceof HalError ? (error.errno ?? -1) : -1);
    Atomics.store(control, CTL_STATE, STATE_FAILED);
    Atomics.notify(control, CTL_STATE);
    return;
  }
  // Read the request counter BEFORE announcing READY: the owner may ask for the first run the moment it sees
  // READY, and a counter read after that would swallow the request (both sides would then wait forever).
  let seen = Atomics.load(control, CTL_REQUEST_SEQ);
  Atomics.store(control, CTL_STATE, STATE_READY);
  Atomics.notify(control, CTL_STATE);

  for (;;) {
    if (Atomics.load(control, CTL_STOP) !== 0) break;
    Atomics.wait(control, CTL_REQUEST_SEQ, seen);
    if (Atomics.load(control, CTL_STOP) !== 0) break;
    const request = Atomics.load(control, CTL_REQUEST_SEQ);
    if (request === seen) continue;
    seen = request;
    Atomics.store(control, CTL_IN_RUN, 1);
    const result = ioctlIntRaw(vcpuFd, KVM_RUN);
    Atomics.store(control, CTL_IN_RUN, 0);
    // A kick that arrived while the guest ran is pending now (blocked): consume it so it does not cut the next
    // run short. One that arrives after this point does cut the next run short, which is what a kick means.
    if (result === -EINTR) consumePendingSignal(SIGURG);
    Atomics.store(control, CTL_RESULT, result);
    Atomics.add(control, CTL_DONE_SEQ, 1);
    Atomics.notify(control, CTL_DONE_SEQ);
  }
  consumePendingSignal(SIGURG);
  Atomics.store(control, CTL_STATE, STATE_EXITED);
  Atomics.notify(control, CTL_STATE);
}

self.onmessage = (event: MessageEvent): void => {
  const init: unknown = event.data;
  if (!isRunWorkerInit(init)) throw new TypeError("run-worker: the first message must be a RunWorkerInit");
  const control = new Int32Array(init.control);
  if (control.length < CTL_SLOTS)
    throw new TypeError(`run-worker: the control block has ${control.length} slots, not ${CTL_SLOTS}`);
  // The owner terminates this Worker once STATE says EXITED.
  start(init.vcpuFd, control);
};
