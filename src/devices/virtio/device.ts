/**
 * The seam between a virtio transport (virtio-mmio here; PCI would be another) and a device type (block, console,
 * entropy, ...). The transport owns the registers, feature negotiation, the device status state machine, the
 * queues' configuration and the interrupt; the device owns its configuration space and what its queues mean.
 *
 * Life cycle, driven by the transport from the driver's register writes:
 *   construct → (readConfig/writeConfig at any time) → activate(context) when the driver sets DRIVER_OK →
 *   queueNotify(i) per available-buffer notification → reset() when the driver writes 0 to the status (or the
 *   transport is reset), after which the device must drop the context and every queue reference.
 *
 * Every device call made on behalf of the guest runs inside the transport's guard: an exception that escapes a
 * device (a bug, or a guest memory fault the checks missed) puts the device in DEVICE_NEEDS_RESET instead of
 * reaching the vCPU loop. Guest misbehaviour the device detects itself is reported with `context.fail(...)`.
 *
 * Queues are served in bounded turns (`QueueWorker`): a notification does a bounded amount of work and defers the
 * rest, so one guest cannot hold the thread that runs every VM.
 */

import type { GuestMemoryAccess } from "../../hal/types.ts";
import { DeviceError } from "../errors.ts";
import { VIRTQ_MAX_SIZE, type Virtqueue, type VirtqueueError } from "./queue.ts";

/**
 * A device's queue-size option, checked: a power of two (split virtqueues, virtio 1.2 §2.7) from `min` to the
 * largest a queue may have. Throws DeviceError naming the device, the action and the value.
 */
export function checkedQueueSize(device: string, what: string, queueSize: number, min = 1): number {
  if (
    !Number.isInteger(queueSize) ||
    queueSize < min ||
    queueSize > VIRTQ_MAX_SIZE ||
    (queueSize & (queueSize - 1)) !== 0
  ) {
    throw new DeviceError(
      device,
      "invalid-config",
      `${what}: queue size ${String(queueSize)} is not a power of two in ${String(min)}..${String(VIRTQ_MAX_SIZE)}`,
    );
  }
  return queueSize;
}

/** Why a device stopped working until the next reset (DEVICE_NEEDS_RESET). */
export type VirtioFailure =
  /** A virtqueue broke the split-ring rules (see `VirtqueueError.kind`). */
  | { readonly kind: "queue"; readonly error: VirtqueueError }
  /** The driver set DRIVER_OK with a queue the device cannot use, or without one the device needs. */
  | { readonly kind: "activation"; readonly message: string }
  /** The device model threw: a bug in our code, or a guest memory access that failed despite the checks. */
  | { readonly kind: "internal"; readonly message: string; readonly cause: unknown };

/** What the transport gives a device when the driver sets DRIVER_OK. Valid until the device's `reset()`. */
export interface VirtioDeviceContext {
  readonly memory: GuestMemoryAccess;
  /** The negotiated feature bits (device and transport bits). */
  readonly features: bigint;
  /**
   * The device's queues, indexed like `queueMaxSizes`. A queue the driver did not enable has `ready === false`
   * (its `pop()` returns "empty"); an enabled one has been checked (size, alignment, rings inside guest memory).
   */
  readonly queues: readonly Virtqueue[];
  /**
   * Call after adding used buffers to queue `index`: raises the used-buffer interrupt unless the driver
   * suppressed it (VIRTQ_AVAIL_F_NO_INTERRUPT, or `used_event` with VIRTIO_F_EVENT_IDX).
   */
  signalUsed(index: number): void;
  /** The device changed its configuration space: bump ConfigGeneration and raise the config interrupt. */
  configChanged(): void;
  /** Enter DEVICE_NEEDS_RESET: the device stops until the driver resets it. */
  fail(failure: VirtioFailure): void;
  /**
   * Run `queueNotify(index)` inside the transport's guard, as if the driver had notified. For host-side events
   * (console input arriving, a backend completing) so that they follow the same error path as guest ones.
   */
  kick(index: number): void;
  /**
   * Run `task` in a later turn of the VMM's event loop, inside the transport's guard: the rest of a queue's work
   * once this turn's budget is spent (src/devices/virtio/queue-worker.ts). Dropped when the device is reset or the
   * VM stops first.
   */
  defer(task: () => void): void;
}

export interface VirtioDevice<State = unknown> {
  /** Short name for messages ("virtio-blk", ...). */
  readonly name: string;
  /** The virtio device ID (§5), e.g. `VIRTIO_ID_BLOCK`. */
  readonly deviceId: number;
  /**
   * Feature bits the device offers: its device-specific bits (0..23) and any ring/transport bit it needs. The
   * transport adds VIRTIO_F_VERSION_1 and the ring features it implements (INDIRECT_DESC, EVENT_IDX).
   */
  readonly features: bigint;
  /** Maximum size of each queue (a power of two, 1..32768); the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Bytes of device-specific configuration space. */
  readonly configSize: number;
  /** A little-endian read of [offset, offset + width) inside the configuration space (the transport checks the range). */
  readConfig(offset: number, width: 1 | 2 | 4): number;
  /** A driver write into the configuration space (the transport checks the range); read-only fields ignore it. */
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void;
  /**
   * The driver set DRIVER_OK. The device keeps the context until `reset()`. The transport then calls
   * `queueNotify` once for every enabled queue, for buffers the driver made available before DRIVER_OK.
   */
  activate(context: VirtioDeviceContext): void;
  /** The driver notified queue `index` (only called while active, for an existing queue). */
  queueNotify(index: number): void;
  /** Device reset: forget the context and the queues; keep host-side state (backing store, pending host input). */
  reset(): void;
  /** Counters (requests, bytes, ...), shown with its transport's in the `--trace-exits` summary. */
  readonly stats?: object;
  /** Device-specific state for snapshots (plain data). */
  snapshot(): State;
  restore(state: State): void;
}
