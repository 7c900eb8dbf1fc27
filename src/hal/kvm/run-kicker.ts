/**
 * The run kicker of a VM whose vCPU runs KVM_RUN on the VMM's own thread (wake-protocol.ts): every period it looks
 * at IN_RUN (the number of the run in progress), and when the thread is still inside the same KVM_RUN as a period ago (the guest computes, or halts
 * inside the kernel's irqchip), it sends SIGURG so the VMM's event loop gets a turn (console input, timers,
 * deferred device work, other promises). A run that ends by itself within a period is never signalled, so a guest
 * that exits often pays nothing here. While the guest idles, the VMM's thread wakes once or twice a period.
 *
 * The thread is reused for the next VM once its loop ends (run-pool.ts: terminating a Worker that made FFI calls
 * sometimes crashes Bun).
 */

import { STATE_EXITED, STATE_FAILED, STATE_READY } from "./run-protocol.ts";
import { getpid, SIGURG, tgkill } from "./sys.ts";
import { WAKE_IN_RUN, WAKE_KICKER_STATE, WAKE_PERIOD_MS, WAKE_SLOTS, WAKE_STOP, WAKE_TID } from "./wake-protocol.ts";

declare const self: Worker;

export interface RunKickerInit {
  readonly kicker: SharedArrayBuffer;
}

function run(control: Int32Array): void {
  let pid: number;
  try {
    pid = getpid();
  } catch {
    Atomics.store(control, WAKE_KICKER_STATE, STATE_FAILED);
    Atomics.notify(control, WAKE_KICKER_STATE);
    return;
  }
  Atomics.store(control, WAKE_KICKER_STATE, STATE_READY);
  Atomics.notify(control, WAKE_KICKER_STATE);
  let seen = 0;
  while (Atomics.load(control, WAKE_STOP) === 0) {
    Atomics.wait(control, WAKE_STOP, 0, Math.max(1, Atomics.load(control, WAKE_PERIOD_MS)));
    if (Atomics.load(control, WAKE_STOP) !== 0) break;
    // IN_RUN is the number of the run in progress (0: none): the same number a period later is the same run.
    const run = Atomics.load(control, WAKE_IN_RUN);
    const tid = Atomics.load(control, WAKE_TID);
    if (run !== 0 && run === seen && tid > 0) tgkill(pid, tid, SIGURG);
    seen = run;
  }
  Atomics.store(control, WAKE_KICKER_STATE, STATE_EXITED);
  Atomics.notify(control, WAKE_KICKER_STATE);
}

self.onmessage = (event: MessageEvent): void => {
  const data: unknown = event.data;
  const buffer = typeof data === "object" && data !== null ? Reflect.get(data, "kicker") : undefined;
  if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError("run-kicker: the message must be a RunKickerInit");
  const control = new Int32Array(buffer);
  if (control.length < WAKE_SLOTS) throw new TypeError("run-kicker: the control block is too small");
  run(control);
};
