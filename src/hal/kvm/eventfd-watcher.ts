/**
 * A VM's eventfd watcher: the thread that waits on the eventfds KVM signals instead of exiting (ioeventfds: a guest
 * wrote a virtio QueueNotify; irqfd resamplefds: the guest ended an interrupt) and hands them to the VMM's thread
 * (event-channels.ts). It blocks in poll() on all of them plus a wake-up eventfd (stop), so it costs nothing while
 * nothing happens.
 *
 * For each ready eventfd it reads the counter (which clears it) and sets the channel's bit in the shared FIRED
 * bitmap; then it bumps HOST_SEQ and notifies it (the VMM's waitAsync), and, when the VMM's thread is inside
 * KVM_RUN for a caller-thread vCPU, sends it SIGURG (wake-protocol.ts): a notification never waits for the run to
 * end by itself.
 */

import { EINTR } from "../../common/errno.ts";
import { STATE_EXITED, STATE_FAILED, STATE_READY } from "./run-protocol.ts";
import { eventfdRead, getpid, POLLIN, PollTable, SIGURG, tgkill } from "./sys.ts";
import { WAKE_HOST_SEQ, WAKE_IN_RUN, WAKE_SLOTS, WAKE_TID } from "./wake-protocol.ts";
import { type EventfdWatcherInit, WATCH_ERRNO, WATCH_SLOTS, WATCH_STATE, WATCH_STOP } from "./watcher-protocol.ts";

declare const self: Worker;

function isInit(value: unknown): value is EventfdWatcherInit {
  if (typeof value !== "object" || value === null) return false;
  const fds: unknown = Reflect.get(value, "fds");
  return (
    Array.isArray(fds) &&
    fds.every((fd) => typeof fd === "number") &&
    typeof Reflect.get(value, "stopFd") === "number" &&
    Reflect.get(value, "control") instanceof SharedArrayBuffer &&
    Reflect.get(value, "fired") instanceof SharedArrayBuffer &&
    Reflect.get(value, "wake") instanceof SharedArrayBuffer
  );
}

function finish(control: Int32Array, state: number, errno: number): void {
  Atomics.store(control, WATCH_ERRNO, errno);
  Atomics.store(control, WATCH_STATE, state);
  Atomics.notify(control, WATCH_STATE);
}

function run(init: EventfdWatcherInit): void {
  const control = new Int32Array(init.control);
  const fired = new Int32Array(init.fired);
  const wake = new Int32Array(init.wake);
  if (control.length < WATCH_SLOTS || wake.length < WAKE_SLOTS || fired.length * 32 < init.fds.length) {
    finish(control, STATE_FAILED, -1);
    return;
  }
  let table: PollTable;
  let pid: number;
  try {
    table = new PollTable([init.stopFd, ...init.fds]);
    pid = getpid();
  } catch {
    finish(control, STATE_FAILED, -1);
    return;
  }
  Atomics.store(control, WATCH_STATE, STATE_READY);
  Atomics.notify(control, WATCH_STATE);
  for (;;) {
    const n = table.wait(-1);
    if (Atomics.load(control, WATCH_STOP) !== 0) break;
    if (n === -EINTR) continue;
    if (n < 0) {
      finish(control, STATE_FAILED, -n);
      return;
    }
    let any = false;
    for (let i = 0; i < init.fds.length; i++) {
      if ((table.revents(i + 1) & POLLIN) === 0) continue;
      const fd = init.fds[i];
      if (fd === undefined) continue;
      eventfdRead(fd);
      Atomics.or(fired, i >> 5, 1 << (i & 31));
      any = true;
    }
    if (!any) continue;
    Atomics.add(wake, WAKE_HOST_SEQ, 1);
    Atomics.notify(wake, WAKE_HOST_SEQ);
    const tid = Atomics.load(wake, WAKE_TID);
    if (tid > 0 && Atomics.load(wake, WAKE_IN_RUN) !== 0) tgkill(pid, tid, SIGURG);
  }
  finish(control, STATE_EXITED, 0);
}

self.onmessage = (event: MessageEvent): void => {
  const init: unknown = event.data;
  if (!isInit(init)) throw new TypeError("eventfd-watcher: the message must be an EventfdWatcherInit");
  run(init);
};
