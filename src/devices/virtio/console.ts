/**
 * virtio-console (OASIS virtio 1.2 §5.3 "Console Device"), a single port: receiveq(port0) and transmitq(port0),
 * no VIRTIO_CONSOLE_F_MULTIPORT (so no control queues), no VIRTIO_CONSOLE_F_SIZE.
 *
 * - Output: each chain on the transmitq is read as a byte stream and handed to the sink, then returned with used
 *   length 0 (the device writes nothing into transmit buffers). A chain may describe up to 4 GiB: it is sent in
 *   bounded turns (`QueueWorker`), so a flooding guest delays the other VMs by a turn's budget at most, and the
 *   sink's own backpressure reaches the guest (the VMM stops running a VM whose console is not being read).
 * - Input: the host offers bytes with `enqueueInput`; they wait in a bounded buffer and are copied into the
 *   driver's receive buffers, as many as fit, whenever the driver has buffers posted (on input arrival, and when the
 *   driver notifies the receiveq). A receive buffer is only taken when there is input for it.
 * - VIRTIO_CONSOLE_F_EMERG_WRITE: a write to `emerg_wr` sends its low byte to the sink at any time, even before
 *   the driver initialised anything (§5.3.5.1).
 * - Host input survives a device reset (it was not delivered yet); a driver that never posts buffers simply leaves
 *   it waiting, and `enqueueInput` reports how much it took so the host side can apply back-pressure.
 */

import { DeviceError } from "../errors.ts";
import { readConfigBytes } from "./config-space.ts";
import { featureBit, VIRTIO_ID_CONSOLE } from "./constants.ts";
import { checkedQueueSize, type VirtioDevice, type VirtioDeviceContext } from "./device.ts";
import type { DescriptorChain } from "./queue.ts";
import { type ChainWork, finished, QueueWorker } from "./queue-worker.ts";

export const VIRTIO_CONSOLE_F_SIZE = 0;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

// `struct virtio_console_config` (Linux order: cols, rows, max_nr_ports, emerg_wr).
export const VIRTIO_CONSOLE_CONFIG_COLS = 0;
export const VIRTIO_CONSOLE_CONFIG_ROWS = 2;
export const VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS = 4;
export const VIRTIO_CONSOLE_CONFIG_EMERG_WR = 8;
export const VIRTIO_CONSOLE_CONFIG_SIZE = 12;

export const VIRTIO_CONSOLE_RECEIVEQ = 0;
export const VIRTIO_CONSOLE_TRANSMITQ = 1;

export const VIRTIO_CONSOLE_DEFAULT_QUEUE_SIZE = 128;
export const VIRTIO_CONSOLE_DEFAULT_INPUT_BUFFER = 4096;
/** The most bytes handed to the sink in one call (a guest transmit buffer can be up to 4 GiB). */
const OUTPUT_CHUNK = 0x4000;

export interface VirtioConsoleOptions {
  /** Where the guest's output goes. The array is the sink's to keep. */
  readonly sink: (bytes: Uint8Array) => void;
  /** Queue size for both queues (a power of two, 1..32768). Default 128. */
  readonly queueSize?: number;
  /** Bytes of host input held until the driver posts receive buffers. Default 4096. */
  readonly inputBufferSize?: number;
  /** Offer VIRTIO_CONSOLE_F_EMERG_WRITE. Default true. */
  readonly emergencyWrite?: boolean;
  /** Called when the input buffer goes from full to having room again: the host may offer more input. */
  readonly onInputSpace?: () => void;
}

export interface VirtioConsoleStats {
  txBytes: number;
  rxBytes: number;
  emergencyBytes: number;
  /** Receive chains with no device-writable byte (returned empty). */
  emptyReceiveBuffers: number;
}

export interface VirtioConsoleState {
  /** Host input not yet delivered to the guest, oldest first. */
  readonly pendingInput: readonly number[];
}

export class VirtioConsole implements VirtioDevice<VirtioConsoleState> {
  readonly name = "virtio-console";
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = VIRTIO_CONSOLE_CONFIG_SIZE;
  readonly inputBufferSize: number;
  /** VIRTIO_CONSOLE_F_EMERG_WRITE is offered: `emerg_wr` writes reach the sink. */
  readonly emergencyWrite: boolean;
  readonly stats: VirtioConsoleStats = { txBytes: 0, rxBytes: 0, emergencyBytes: 0, emptyReceiveBuffers: 0 };

  readonly #sink: (bytes: Uint8Array) => void;
  readonly #onInputSpace: (() => void) | undefined;
  readonly #config = new Uint8Array(VIRTIO_CONSOLE_CONFIG_SIZE);
  /** Pending host input: a ring of `inputBufferSize` bytes. */
  readonly #input: Uint8Array;
  #inputHead = 0;
  #inputLength = 0;
  #context: VirtioDeviceContext | undefined;
  readonly #transmitter = new QueueWorker(VIRTIO_CONSOLE_TRANSMITQ, (chain) => this.#send(chain));
  readonly #receiver = new QueueWorker(VIRTIO_CONSOLE_RECEIVEQ, (chain) => finished(this.#fill(chain)));

  constructor(options: VirtioConsoleOptions) {
    const what = "Cannot create a virtio-console device";
    const queueSize = checkedQueueSize("virtio-console", what, options.queueSize ?? VIRTIO_CONSOLE_DEFAULT_QUEUE_SIZE);
    const inputBufferSize = options.inputBufferSize ?? VIRTIO_CONSOLE_DEFAULT_INPUT_BUFFER;
    if (!Number.isInteger(inputBufferSize) || inputBufferSize < 1 || inputBufferSize > 1 << 24) {
      throw new DeviceError(
        "virtio-console",
        "invalid-config",
        `${what}: input buffer size ${String(inputBufferSize)} is not in 1..16 MiB`,
      );
    }
    this.#sink = options.sink;
    this.#onInputSpace = options.onInputSpace;
    this.inputBufferSize = inputBufferSize;
    this.#input = new Uint8Array(inputBufferSize);
    this.queueMaxSizes = [queueSize, queueSize];
    this.emergencyWrite = options.emergencyWrite ?? true;
    this.features = this.emergencyWrite ? featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE) : 0n;
  }

  // -- host side -------------------------------------------------------------------------------------------------

  /** Bytes of host input waiting for receive buffers. */
  get pendingInput(): number {
    return this.#inputLength;
  }

  canAcceptInput(): boolean {
    return this.#inputLength < this.inputBufferSize;
  }

  /** Offer host input; returns how many bytes were taken (offer the rest again after `onInputSpace`). */
  enqueueInput(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.inputBufferSize - this.#inputLength);
    const size = this.inputBufferSize;
    for (let i = 0; i < n; i++) this.#input[(this.#inputHead + this.#inputLength + i) % size] = bytes[i] ?? 0;
    this.#inputLength += n;
    if (n > 0) this.#context?.kick(VIRTIO_CONSOLE_RECEIVEQ);
    return n;
  }

  // -- virtio device ---------------------------------------------------------------------------------------------

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigBytes(this.#config, offset, width);
  }

  writeConfig(offset: number, _width: 1 | 2 | 4, value: number): void {
    // emerg_wr is write-only and always usable when offered; every other field is read-only.
    if (offset === VIRTIO_CONSOLE_CONFIG_EMERG_WR && this.emergencyWrite) {
      this.stats.emergencyBytes++;
      this.#sink(Uint8Array.of(value & 0xff));
    }
  }

  activate(context: VirtioDeviceContext): void {
    this.#context = context;
  }

  reset(): void {
    this.#context = undefined;
    this.#transmitter.reset();
    this.#receiver.reset();
  }

  queueNotify(index: number): void {
    const context = this.#context;
    if (context === undefined) return;
    if (index === VIRTIO_CONSOLE_TRANSMITQ) this.#transmit(context);
    else if (index === VIRTIO_CONSOLE_RECEIVEQ) this.#receive(context);
  }

  snapshot(): VirtioConsoleState {
    if (this.#transmitter.busy || this.#receiver.busy) {
      throw new DeviceError(
        "virtio-console",
        "invalid-state",
        "Cannot snapshot the console: a queue is being served over several turns (take it once the VM is idle)",
      );
    }
    const pending: number[] = [];
    for (let i = 0; i < this.#inputLength; i++)
      pending.push(this.#input[(this.#inputHead + i) % this.inputBufferSize] ?? 0);
    return { pendingInput: pending };
  }

  restore(state: VirtioConsoleState): void {
    const bytes = state.pendingInput;
    if (bytes.length > this.inputBufferSize || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff)) {
      throw new DeviceError(
        "virtio-console",
        "invalid-state",
        `Cannot restore the console: pending input must be at most ${String(this.inputBufferSize)} bytes (got ${String(bytes.length)} values)`,
      );
    }
    this.#input.set(bytes);
    this.#inputHead = 0;
    this.#inputLength = bytes.length;
  }

  // -- queues ----------------------------------------------------------------------------------------------------

  #transmit(context: VirtioDeviceContext): void {
    this.#transmitter.serve(context);
  }

  /** Send a transmit chain to the sink, as much of it per step as the budget allows. */
  #send(chain: DescriptorChain): ChainWork {
    let done = 0;
    return (budget) => {
      let spent = 0;
      while (done < chain.readableLength && spent < budget) {
        const bytes = new Uint8Array(Math.min(OUTPUT_CHUNK, chain.readableLength - done, budget - spent));
        chain.read(done, bytes);
        done += bytes.length;
        spent += bytes.length;
        this.stats.txBytes += bytes.length;
        this.#sink(bytes);
      }
      return done === chain.readableLength ? { spent, used: 0 } : { spent };
    };
  }

  #receive(context: VirtioDeviceContext): void {
    const wasFull = !this.canAcceptInput();
    const ok = this.#receiver.serve(context, () => this.#inputLength > 0);
    if (ok && wasFull && this.canAcceptInput()) this.#onInputSpace?.();
  }

  /** Copy pending input into a receive chain; returns how many bytes it took. */
  #fill(chain: DescriptorChain): number {
    const n = Math.min(this.#inputLength, chain.writableLength);
    if (n === 0) this.stats.emptyReceiveBuffers++;
    // The pending bytes may wrap around the end of the ring: at most two pieces.
    const first = Math.min(n, this.inputBufferSize - this.#inputHead);
    chain.write(0, this.#input.subarray(this.#inputHead, this.#inputHead + first));
    if (n > first) chain.write(first, this.#input.subarray(0, n - first));
    this.#inputHead = (this.#inputHead + n) % this.inputBufferSize;
    this.#inputLength -= n;
    this.stats.rxBytes += n;
    return n;
  }
}
