/**
 * A `NetBackend` held in memory, for device tests: frames the device sends are collected, frames the test
 * injects wait in a queue (bounded, as a TAP's ring is) and the receive listener is called in a later turn (here:
 * when the test calls `deliver`), as the TAP backend does from the event loop.
 */
import type { NetBackend } from "../../src/devices/virtio/net.ts";

export class MemoryNetBackend implements NetBackend {
  readonly maxFrameBytes: number;
  readonly sent: Uint8Array[] = [];
  /** Frames waiting for the device. */
  readonly queue: Uint8Array[] = [];
  /** Make `send` refuse frames (a host that drops). */
  refuse = false;
  listenerCalls = 0;
  #listener: (() => void) | undefined;

  constructor(maxFrameBytes = 0x1_0100) {
    this.maxFrameBytes = maxFrameBytes;
  }

  send(frame: Uint8Array): boolean {
    if (this.refuse) return false;
    this.sent.push(Uint8Array.from(frame));
    return true;
  }

  pending(): boolean {
    return this.queue.length > 0;
  }

  receive(target: Uint8Array): number {
    const frame = this.queue.shift();
    if (frame === undefined) return 0;
    target.set(frame);
    return frame.length;
  }

  discardPending(): number {
    return this.queue.splice(0).length;
  }

  setReceiveListener(listener: (() => void) | undefined): void {
    this.#listener = listener;
  }

  /** Frames arrive from the host: queue them and call the listener (the "later turn" is now). */
  deliver(...frames: Uint8Array[]): void {
    this.queue.push(...frames);
    this.listenerCalls++;
    this.#listener?.();
  }
}
