/**
 * The kick signal of a thread that runs KVM_RUN (a run Worker, or the VMM's own thread for a caller-thread vCPU):
 * the thread blocks SIGURG, and KVM runs the guest with SIGURG unblocked (KVM_SET_SIGNAL_MASK, per vCPU). A SIGURG
 * sent to the thread (tgkill) then makes KVM_RUN return -EINTR without ever being delivered; the thread consumes it
 * with sigtimedwait afterwards (`sys.consumePendingSignal`), so the next run starts clean. The kernel switches the
 * thread's signal mask on every KVM_RUN for this; a caller-thread vCPU uses the native kick handler instead when it
 * can (sys.ts `takeSignalWithKickHandler`), and this where it cannot.
 */
import { KVM_SET_SIGNAL_MASK, KVM_SIGNAL_MASK_LAYOUT } from "./abi.ts";
import { blockSignalInThisThread, ioctlBuf, KERNEL_SIGSET_BYTES, SIGURG } from "./sys.ts";

/** On the calling thread: block SIGURG, and let vCPU `vcpuFd`'s KVM_RUN take it (its mask minus SIGURG). */
export function takeKickSignalInKvmRun(vcpuFd: number): void {
  const runMask = blockSignalInThisThread(SIGURG);
  const signalMask = new Uint8Array(KVM_SIGNAL_MASK_LAYOUT.size + KERNEL_SIGSET_BYTES);
  new DataView(signalMask.buffer).setUint32(KVM_SIGNAL_MASK_LAYOUT.fields.len.offset, KERNEL_SIGSET_BYTES, true);
  signalMask.set(runMask, KVM_SIGNAL_MASK_LAYOUT.fields.sigset.offset);
  ioctlBuf(vcpuFd, KVM_SET_SIGNAL_MASK, signalMask);
}
