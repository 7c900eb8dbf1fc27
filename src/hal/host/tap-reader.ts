/**
 * A TAP's reader thread: it blocks in poll() on the TAP descriptor (and an eventfd that wakes it to stop), reads
 * every frame that waits (a TAP opened with IFF_NO_PI gives one whole frame per read(), with no
 * packet-information prefix), and appends them to the frame ring the VMM's thread consumes (frame-ring.ts). When the ring is full it
 * stops reading and waits for room: the TAP's own queue in the host kernel then fills, and the kernel drops frames
 * there, as a NIC without receive buffers would.
 *
 * Why a thread: reading a TAP needs a wait for input that does not block the VMM's event loop and costs nothing
 * while the network is idle. Bun offers no way to watch an arbitrary descriptor for readability, and polling the
 * descriptor from the event loop either spins or adds a timer's latency to every frame. A blocking poll() here
 * wakes within microseconds of a frame and never when there is none.
 *
 * The thread is reused for the next TAP once its loop ends (tap.ts keeps a pool, as the KVM run threads do: a
 * Worker that made FFI calls sometimes crashes Bun when terminated).
 */

import { HOST_WAKE_HOST_SEQ, HOST_WAKE_IN_RUN, HOST_WAKE_SIGNAL, HOST_WAKE_TID } from "../types.ts";
import {
  FrameRing,
  type FrameRingBuffers,
  MAX_FRAME_BYTES,
  RING_ERRNO,
  RING_READ,
  RING_STATE,
  RING_STOP,
  STATE_EXITED,
  STATE_FAILED,
  STATE_READY,
} from "./frame-ring.ts";
import { EAGAIN, EINTR, POLLERR, POLLHUP, POLLIN, POLLNVAL, pollInput, readFrame, signalThread } from "./sys.ts";

declare const self: Worker;

/** The message that starts a reader on a TAP. */
export interface TapReaderInit {
  readonly tapFd: number;
  readonly wakeFd: number;
  readonly ring: FrameRingBuffers;
  /**
   * The VM's wake block (hal/types.ts `HostWakeChannel`), when the VMM's thread may block in a vCPU run: after
   * publishing frames the reader bumps its HOST_SEQ and signals that thread out of the run, so the frames are taken
   * at once rather than at the run's end.
   */
  readonly hostWake?: SharedArrayBuffer;
}

export function isTapReaderInit(value: unknown): value is TapReaderInit {
  if (typeof value !== "object" || value === null) return false;
  const ring: unknown = Reflect.get(value, "ring");
  return (
    typeof Reflect.get(value, "tapFd") === "number" &&
    typeof Reflect.get(value, "wakeFd") === "number" &&
    typeof ring === "object" &&
    ring !== null &&
    Reflect.get(ring, "control") instanceof SharedArrayBuffer &&
    Reflect.get(ring, "data") instanceof SharedArrayBuffer &&
    (Reflect.get(value, "hostWake") === undefined || Reflect.get(value, "hostWake") instanceof SharedArrayBuffer)
  );
}

/** Tell the VMM's thread that frames arrived, interrupting its vCPU run if it is in one (see TapReaderInit). */
function wakeHost(wake: Int32Array | undefined): void {
  if (wake === undefined) return;
  Atomics.add(wake, HOST_WAKE_HOST_SEQ, 1);
  Atomics.notify(wake, HOST_WAKE_HOST_SEQ);
  const tid = Atomics.load(wake, HOST_WAKE_TID);
  if (tid > 0 && Atomics.load(wake, HOST_WAKE_IN_RUN) !== 0) signalThread(tid, HOST_WAKE_SIGNAL);
}

/** How long a wait for ring room lasts before the stop flag is looked at again (a stop also notifies). */
const ROOM_WAIT_MS = 200;

function finish(ring: FrameRing, state: number, errno: number): void {
  Atomics.store(ring.control, RING_ERRNO, errno);
  Atomics.store(ring.control, RING_STATE, state);
  Atomics.notify(ring.control, RING_STATE);
  // A consumer waiting for frames learns the reader is gone.
  ring.publish();
}

function run(init: TapReaderInit): void {
  const ring = new FrameRing(init.ring);
  const control = ring.control;
  const frame = new Uint8Array(MAX_FRAME_BYTES);
  const wake = init.hostWake === undefined ? undefined : new Int32Array(init.hostWake);
  /** A frame read from the TAP that did not fit in the ring yet. */
  let held = 0;
  Atomics.store(control, RING_STATE, STATE_READY);
  Atomics.notify(control, RING_STATE);
  try {
    for (;;) {
      if (Atomics.load(control, RING_STOP) !== 0) break;
      if (held > 0) {
        if (!ring.tryPush(frame.subarray(0, held))) {
          Atomics.wait(control, RING_READ, Atomics.load(control, RING_READ), ROOM_WAIT_MS);
          continue;
        }
        held = 0;
        ring.publish();
        wakeHost(wake);
      }
      const ready = pollInput([init.tapFd, init.wakeFd], -1);
      if (typeof ready === "number") {
        if (ready === -EINTR) continue;
        finish(ring, STATE_FAILED, -ready);
        return;
      }
      if (Atomics.load(control, RING_STOP) !== 0) break;
      const tapEvents = ready[0] ?? 0;
      if ((tapEvents & (POLLERR | POLLNVAL)) !== 0 || ((tapEvents & POLLHUP) !== 0 && (tapEvents & POLLIN) === 0)) {
        // The interface went away (deleted, or its descriptor closed under us).
        finish(ring, STATE_FAILED, 0);
        return;
      }
      if ((tapEvents & POLLIN) === 0) continue;
      // Read every frame that waits, publishing once for the batch.
      let pushed = false;
      for (;;) {
        const n = readFrame(init.tapFd, frame);
        if (n === -EAGAIN || n === 0) break;
        if (n === -EINTR) continue;
        if (n < 0) {
          if (pushed) {
            ring.publish();
            wakeHost(wake);
          }
          finish(ring, STATE_FAILED, -n);
          return;
        }
        if (!ring.tryPush(frame.subarray(0, n))) {
          held = n;
          break;
        }
        pushed = true;
      }
      if (pushed) {
        ring.publish();
        wakeHost(wake);
      }
    }
  } catch (error) {
    finish(ring, STATE_FAILED, -1);
    throw error;
  }
  finish(ring, STATE_EXITED, 0);
}

self.onmessage = (event: MessageEvent): void => {
  const init: unknown = event.data;
  if (!isTapReaderInit(init)) throw new TypeError("tap-reader: a message must be a TapReaderInit");
  run(init);
};
