/**
 * virtio-net (OASIS virtio 1.2 §5.1 "Network Device"): one receive queue and one transmit queue (receiveq1,
 * transmitq1; no VIRTIO_NET_F_MQ, no control queue), over a host `NetBackend` (a TAP interface in the VMM).
 *
 * Offered features: VIRTIO_NET_F_MAC (the configured address, in the configuration space) and VIRTIO_NET_F_STATUS
 * (the link is up). No offloads: neither checksum nor segmentation offload either way (no CSUM, GUEST_CSUM,
 * HOST_TSO*, GUEST_TSO*, ...) and no VIRTIO_NET_F_MRG_RXBUF, so every frame travels whole, with a correct
 * checksum, in one buffer, and the host end needs no virtio-net header (IFF_VNET_HDR) either.
 *
 * Every buffer starts with `struct virtio_net_hdr` (§5.1.6), 12 bytes under VIRTIO_F_VERSION_1 (num_buffers is
 * always there in version 1):
 *   u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16 csum_start; le16 csum_offset; le16 num_buffers
 *
 * - Transmit (§5.1.6.2): a chain's device-readable bytes are the header, then one Ethernet frame. Without offloads
 *   the header carries nothing the device needs (flags 0, gso_type NONE), so it is skipped. The frame goes to the
 *   backend; the chain is returned with used length 0. A chain shorter than the header plus an Ethernet header,
 *   or with a frame longer than the backend carries, is returned without sending anything (counted): a hostile
 *   guest cannot make the device read more than one frame's worth per chain.
 * - Receive (§5.1.6.3/4): a frame from the backend goes into the next receive chain: the header (flags 0,
 *   gso_type NONE, num_buffers 1: §5.1.6.3.1 requires 1 without MRG_RXBUF) then the frame, used length = header
 *   + frame. A chain too small for the frame gets used length 0 and the frame is dropped (counted), as Firecracker
 *   does: without MRG_RXBUF a frame may not span chains, and Linux posts buffers for a full 1518-byte frame.
 *   Frames wait in the backend while the driver has no receive buffers (so a slow guest pushes back on the host);
 *   frames arriving while the driver is not running (before DRIVER_OK, after a reset) are thrown away, as a NIC
 *   with no driver loaded would.
 * - Both queues are served in bounded turns (`QueueWorker`), so a flood in either direction cannot hold the
 *   thread that runs every VM.
 */

import { DeviceError } from "../errors.ts";
import { readConfigBytes } from "./config-space.ts";
import { featureBit, VIRTIO_ID_NET } from "./constants.ts";
import type { VirtioDevice, VirtioDeviceContext } from "./device.ts";
import { type DescriptorChain, VIRTQ_MAX_SIZE } from "./queue.ts";
import { finished, QueueWorker } from "./queue-worker.ts";

// Feature bits (§5.1.3). Only MAC and STATUS are offered; the others are named for the messages and tests.
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_GUEST_UFO = 10;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_HOST_UFO = 14;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_MQ = 22;

/** `status` bits (§5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;

// Configuration space (`struct virtio_net_config`), up to max_virtqueue_pairs.
export const VIRTIO_NET_CONFIG_MAC = 0;
export const VIRTIO_NET_CONFIG_STATUS = 6;
export const VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
export const VIRTIO_NET_CONFIG_SIZE = 10;

/** `struct virtio_net_hdr` under VIRTIO_F_VERSION_1 (num_buffers included). */
export const VIRTIO_NET_HDR_SIZE = 12;
const HDR_NUM_BUFFERS = 10;
/** An Ethernet header: destination, source, EtherType. Shorter frames are not frames. */
export const ETHERNET_HEADER_SIZE = 14;
export const MAC_ADDRESS_BYTES = 6;

export const VIRTIO_NET_RECEIVEQ = 0;
export const VIRTIO_NET_TRANSMITQ = 1;
export const VIRTIO_NET_DEFAULT_QUEUE_SIZE = 256;

/**
 * The host end of a virtio-net device: a TAP interface in the VMM (src/hal/host/tap.ts), a test's in-memory link.
 * Everything is called on the VMM's thread; frames are whole Ethernet frames without a virtio-net header.
 */
export interface NetBackend {
  /** Hand one frame to the host. False when the host refused it; never throws for a bad frame. */
  send(frame: Uint8Array): boolean;
  /** Whether a received frame waits. */
  pending(): boolean;
  /** Take the next received frame into `target` (`maxFrameBytes` long); its length, or 0 when none waits. */
  receive(target: Uint8Array): number;
  /** The longest frame the backend carries either way (the size `receive` needs). */
  readonly maxFrameBytes: number;
  /** Throw away the frames waiting; returns how many. */
  discardPending(): number;
  /** Be called (in a later turn of the event loop) when frames arrive; `undefined` stops the calls. */
  setReceiveListener(listener: (() => void) | undefined): void;
}

export interface VirtioNetOptions {
  readonly backend: NetBackend;
  /** The MAC address the guest reads (6 bytes). */
  readonly mac: Uint8Array;
  /** Size of each queue (a power of two, 2..32768). Default 256. */
  readonly queueSize?: number;
}

export interface VirtioNetStats {
  txFrames: number;
  txBytes: number;
  /** Frames the backend refused. */
  txErrors: number;
  /** Transmit chains without a whole header and Ethernet header, or with a frame longer than the backend carries. */
  txMalformed: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames dropped because the receive chain was too small for them. */
  rxTooSmall: number;
  /** Frames thrown away because the driver was not running. */
  rxDiscarded: number;
}

export type VirtioNetState = Readonly<Record<string, never>>;

export class VirtioNet implements VirtioDevice<VirtioNetState> {
  readonly name = "virtio-net";
  readonly deviceId = VIRTIO_ID_NET;
  readonly features = featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_STATUS);
  readonly queueMaxSizes: readonly number[];
  readonly configSize = VIRTIO_NET_CONFIG_SIZE;
  readonly mac: Uint8Array;
  readonly stats: VirtioNetStats = {
    txFrames: 0,
    txBytes: 0,
    txErrors: 0,
    txMalformed: 0,
    rxFrames: 0,
    rxBytes: 0,
    rxTooSmall: 0,
    rxDiscarded: 0,
  };

  readonly #backend: NetBackend;
  readonly #config = new Uint8Array(VIRTIO_NET_CONFIG_SIZE);
  readonly #frame: Uint8Array;
  readonly #header = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  #context: VirtioDeviceContext | undefined;
  readonly #receiver = new QueueWorker(VIRTIO_NET_RECEIVEQ, (chain) => this.#receive(chain));
  readonly #transmitter = new QueueWorker(VIRTIO_NET_TRANSMITQ, (chain) => this.#transmit(chain));

  constructor(options: VirtioNetOptions) {
    const what = "Cannot create a virtio-net device";
    const queueSize = options.queueSize ?? VIRTIO_NET_DEFAULT_QUEUE_SIZE;
    if (
      !Number.isInteger(queueSize) ||
      queueSize < 2 ||
      queueSize > VIRTQ_MAX_SIZE ||
      (queueSize & (queueSize - 1)) !== 0
    ) {
      throw new DeviceError(
        "virtio-net",
        "invalid-config",
        `${what}: queue size ${String(queueSize)} is not a power of two in 2..${String(VIRTQ_MAX_SIZE)}`,
      );
    }
    if (options.mac.length !== MAC_ADDRESS_BYTES) {
      throw new DeviceError(
        "virtio-net",
        "invalid-config",
        `${what}: a MAC address has 6 bytes, not ${options.mac.length}`,
      );
    }
    if (((options.mac[0] ?? 0) & 1) !== 0) {
      throw new DeviceError("virtio-net", "invalid-config", `${what}: ${macText(options.mac)} is a multicast address`);
    }
    const maxFrame = options.backend.maxFrameBytes;
    if (!Number.isInteger(maxFrame) || maxFrame < ETHERNET_HEADER_SIZE || maxFrame > 1 << 24) {
      throw new DeviceError(
        "virtio-net",
        "invalid-config",
        `${what}: the backend's frame size ${maxFrame} is not usable`,
      );
    }
    this.#backend = options.backend;
    this.mac = Uint8Array.from(options.mac);
    this.queueMaxSizes = [queueSize, queueSize];
    this.#frame = new Uint8Array(maxFrame);
    this.#config.set(this.mac, VIRTIO_NET_CONFIG_MAC);
    const view = new DataView(this.#config.buffer);
    view.setUint16(VIRTIO_NET_CONFIG_STATUS, VIRTIO_NET_S_LINK_UP, true);
    view.setUint16(VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS, 1, true);
    new DataView(this.#header.buffer).setUint16(HDR_NUM_BUFFERS, 1, true);
    this.#backend.setReceiveListener(() => this.#hostFramesArrived());
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigBytes(this.#config, offset, width);
  }

  writeConfig(): void {
    // mac is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR's legacy write path; nothing else is writable.
  }

  activate(context: VirtioDeviceContext): void {
    this.#context = context;
  }

  reset(): void {
    this.#context = undefined;
    this.#receiver.reset();
    this.#transmitter.reset();
    this.stats.rxDiscarded += this.#backend.discardPending();
  }

  queueNotify(index: number): void {
    const context = this.#context;
    if (context === undefined) return;
    if (index === VIRTIO_NET_RECEIVEQ) this.#receiver.serve(context, () => this.#backend.pending());
    else if (index === VIRTIO_NET_TRANSMITQ) this.#transmitter.serve(context);
  }

  snapshot(): VirtioNetState {
    if (this.#receiver.busy || this.#transmitter.busy) {
      throw new DeviceError(
        "virtio-net",
        "invalid-state",
        "Cannot snapshot the network device: a queue is being served over several turns (take it once the VM is idle)",
      );
    }
    return {};
  }

  restore(): void {
    // Nothing to restore: frames in flight on the host side are not part of the machine's state.
  }

  /** Frames arrived on the host side: deliver them, or throw them away while no driver runs. */
  #hostFramesArrived(): void {
    const context = this.#context;
    if (context === undefined) {
      this.stats.rxDiscarded += this.#backend.discardPending();
      return;
    }
    context.kick(VIRTIO_NET_RECEIVEQ);
  }

  /** One receive chain: the next frame with its header, or dropped when the chain cannot hold it. */
  #receive(chain: DescriptorChain) {
    const frame = this.#frame;
    const length = this.#backend.receive(frame);
    if (length === 0) return finished(0, 0);
    if (chain.writableLength < VIRTIO_NET_HDR_SIZE + length) {
      this.stats.rxTooSmall++;
      return finished(0, length);
    }
    chain.write(0, this.#header);
    chain.write(VIRTIO_NET_HDR_SIZE, frame.subarray(0, length));
    this.stats.rxFrames++;
    this.stats.rxBytes += length;
    return finished(VIRTIO_NET_HDR_SIZE + length);
  }

  /** One transmit chain: the frame after the header goes to the backend. */
  #transmit(chain: DescriptorChain) {
    const total = chain.readableLength;
    const length = total - VIRTIO_NET_HDR_SIZE;
    if (length < ETHERNET_HEADER_SIZE || length > this.#frame.length) {
      this.stats.txMalformed++;
      return finished(0, 0);
    }
    const frame = this.#frame.subarray(0, length);
    chain.read(VIRTIO_NET_HDR_SIZE, frame);
    if (this.#backend.send(frame)) {
      this.stats.txFrames++;
      this.stats.txBytes += length;
    } else {
      this.stats.txErrors++;
    }
    return finished(0, length);
  }
}

/** "52:54:00:12:34:56" for messages. */
export function macText(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}
