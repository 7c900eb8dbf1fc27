/**
 * virtio-rng, the entropy device (OASIS virtio 1.2 §5.4): one request queue of device-writable buffers, which the
 * device fills with random bytes from the host (`crypto.getRandomValues` by default). No feature bits, no
 * configuration space.
 *
 * §5.4.6.2: the device places one or more random bytes in each buffer and MAY use less than all of it, so each
 * request is capped (64 KiB by default): a guest posting a huge buffer cannot make one notification run long.
 * Device-readable buffers in a chain (the driver must not post any) are ignored.
 */

import { DeviceError } from "../errors.ts";
import { VIRTIO_ID_ENTROPY } from "./constants.ts";
import { checkedQueueSize, type VirtioDevice, type VirtioDeviceContext } from "./device.ts";
import type { DescriptorChain } from "./queue.ts";
import { finished, QueueWorker } from "./queue-worker.ts";

export const VIRTIO_RNG_REQUESTQ = 0;
export const VIRTIO_RNG_DEFAULT_QUEUE_SIZE = 64;
/** Default cap on the bytes placed in one request. */
export const VIRTIO_RNG_DEFAULT_MAX_REQUEST = 0x1_0000;
/** `crypto.getRandomValues` fills at most this many bytes per call (Web Crypto quota). */
const GET_RANDOM_VALUES_LIMIT = 0x1_0000;

export interface VirtioRngOptions {
  /** Queue size (a power of two, 1..32768). Default 64. */
  readonly queueSize?: number;
  /** Most bytes placed in one buffer (1..16 MiB). Default 64 KiB. */
  readonly maxBytesPerRequest?: number;
  /** The entropy source: fill `dest` completely. Default `crypto.getRandomValues`. */
  readonly random?: (dest: Uint8Array) => void;
}

export interface VirtioRngStats {
  requests: number;
  bytes: number;
  /** Chains without a device-writable byte (returned with used length 0). */
  emptyRequests: number;
}

export type VirtioRngState = Readonly<Record<string, never>>;

function cryptoRandom(dest: Uint8Array): void {
  for (let at = 0; at < dest.length; at += GET_RANDOM_VALUES_LIMIT) {
    crypto.getRandomValues(dest.subarray(at, Math.min(dest.length, at + GET_RANDOM_VALUES_LIMIT)));
  }
}

export class VirtioRng implements VirtioDevice<VirtioRngState> {
  readonly name = "virtio-rng";
  readonly deviceId = VIRTIO_ID_ENTROPY;
  readonly features = 0n;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = 0;
  readonly maxBytesPerRequest: number;
  readonly stats: VirtioRngStats = { requests: 0, bytes: 0, emptyRequests: 0 };

  readonly #random: (dest: Uint8Array) => void;
  readonly #buffer: Uint8Array;
  #context: VirtioDeviceContext | undefined;
  readonly #requests = new QueueWorker(VIRTIO_RNG_REQUESTQ, (chain) => finished(this.#fill(chain)));

  constructor(options: VirtioRngOptions = {}) {
    const what = "Cannot create a virtio-rng device";
    const queueSize = checkedQueueSize("virtio-rng", what, options.queueSize ?? VIRTIO_RNG_DEFAULT_QUEUE_SIZE);
    const max = options.maxBytesPerRequest ?? VIRTIO_RNG_DEFAULT_MAX_REQUEST;
    if (!Number.isInteger(max) || max < 1 || max > 1 << 24) {
      throw new DeviceError(
        "virtio-rng",
        "invalid-config",
        `${what}: maxBytesPerRequest ${String(max)} is not in 1..16 MiB`,
      );
    }
    this.queueMaxSizes = [queueSize];
    this.maxBytesPerRequest = max;
    this.#random = options.random ?? cryptoRandom;
    this.#buffer = new Uint8Array(max);
  }

  readConfig(): number {
    return 0; // no configuration space (the transport never calls this: configSize is 0)
  }

  writeConfig(): void {
    // No configuration space.
  }

  activate(context: VirtioDeviceContext): void {
    this.#context = context;
  }

  reset(): void {
    this.#context = undefined;
    this.#requests.reset();
  }

  queueNotify(index: number): void {
    const context = this.#context;
    if (context === undefined || index !== VIRTIO_RNG_REQUESTQ) return;
    this.#requests.serve(context);
  }

  /** Fill one request (capped, so one step is bounded); returns the bytes placed. */
  #fill(chain: DescriptorChain): number {
    this.stats.requests++;
    const n = Math.min(chain.writableLength, this.maxBytesPerRequest);
    if (n === 0) {
      this.stats.emptyRequests++;
      return 0;
    }
    const bytes = this.#buffer.subarray(0, n);
    this.#random(bytes);
    chain.write(0, bytes);
    this.stats.bytes += n;
    return n;
  }

  snapshot(): VirtioRngState {
    return {};
  }

  restore(): void {
    // Stateless beyond the transport's queues.
  }
}
