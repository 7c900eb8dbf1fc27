/**
 * virtio-mmio transport, version 2 ("modern" only; OASIS virtio 1.2 §4.2 "Virtio Over MMIO").
 *
 * Register map (offsets in the window; control registers are 32 bits wide, accessed with aligned 32-bit loads
 * and stores; the configuration space from 0x100 takes any width):
 *
 *   0x000 MagicValue        R   0x74726976 ("virt")     0x060 InterruptStatus   R   bit 0 used buffer, bit 1 config
 *   0x004 Version           R   2                       0x064 InterruptACK      W
 *   0x008 DeviceID          R                           0x070 Status            RW  writing 0 resets the device
 *   0x00c VendorID          R                           0x080/0x084 QueueDescLow/High      W
 *   0x010 DeviceFeatures    R   32 bits at Sel*32       0x090/0x094 QueueDriverLow/High    W
 *   0x014 DeviceFeaturesSel W                           0x0a0/0x0a4 QueueDeviceLow/High    W
 *   0x020 DriverFeatures    W   32 bits at Sel*32       0x0ac SHMSel            W
 *   0x024 DriverFeaturesSel W                           0x0b0/0x0b4 SHMLenLow/High         R   -1: no region
 *   0x030 QueueSel          W                           0x0b8/0x0bc SHMBaseLow/High        R   -1: no region
 *   0x034 QueueNumMax       R   0: no such queue        0x0c0 QueueReset        RW  (VIRTIO_F_RING_RESET: not offered)
 *   0x038 QueueNum          W                           0x0fc ConfigGeneration  R
 *   0x044 QueueReady        RW                          0x100 Config            RW  device-specific
 *   0x050 QueueNotify       W   the queue index
 *
 * Behaviour (device-side requirements of §2.1, §2.2, §3.1 and §4.2):
 * - Feature negotiation: the device offers its own bits plus VIRTIO_F_VERSION_1 and the ring features this
 *   implementation handles (INDIRECT_DESC, EVENT_IDX). When the driver sets FEATURES_OK, the bit only sticks if
 *   the driver accepted a subset of the offer that includes VIRTIO_F_VERSION_1 (a legacy driver cannot use a
 *   version 2 device); the driver sees the refusal by reading Status back. DriverFeatures is frozen from then on.
 * - Status bits are only ever added by the driver, in order (ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK);
 *   a bit out of order, or an attempt to clear one, is ignored and counted. DEVICE_NEEDS_RESET is the device's.
 * - Queue registers can be written until DRIVER_OK, and only while the selected queue is not ready (§4.2.2.2);
 *   QueueReady can always be cleared. Nothing is checked on write: at DRIVER_OK every ready queue is checked
 *   (`Virtqueue.activate`) and a bad one puts the device in DEVICE_NEEDS_RESET instead of activating it.
 * - QueueNotify runs the device's queue handler synchronously, inside the MMIO write, and only while the device
 *   is running (DRIVER_OK, neither FAILED nor DEVICE_NEEDS_RESET); other notifications are ignored and counted.
 * - The interrupt line is level: high while InterruptStatus is non-zero. InterruptACK clears the bits written.
 * - DEVICE_NEEDS_RESET: on a broken queue or a device error; with DRIVER_OK set the config-change interrupt is
 *   raised (§2.1.2). Any exception escaping the device model ends here too: it never reaches the vCPU loop.
 * - Reads of write-only registers and writes of read-only ones (and control-register accesses that are not
 *   aligned 32-bit ones) do nothing, read 0 and are counted in `stats.badAccesses`.
 */

import { hex } from "../../common/format.ts";
import type { GuestMemoryAccess } from "../../hal/types.ts";
import { DeviceError } from "../errors.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "../types.ts";
import {
  featureBit,
  featuresText,
  hasFeature,
  VIRTIO_DEVICE_FEATURE_BITS,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from "./constants.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioFailure } from "./device.ts";
import { Virtqueue, type VirtqueueArea, type VirtqueueState } from "./queue.ts";

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_STATUS = 0x070;
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
export const VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090;
export const VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094;
export const VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0;
export const VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4;
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
export const VIRTIO_MMIO_QUEUE_RESET = 0x0c0;
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
/** Start of the device-specific configuration space. */
export const VIRTIO_MMIO_CONFIG = 0x100;

/** "virt" in little-endian. */
export const VIRTIO_MMIO_MAGIC = 0x7472_6976;
/** The modern (non-legacy) virtio-mmio interface. */
export const VIRTIO_MMIO_VERSION_2 = 2;
/** Our Virtio Subsystem Vendor ID: "AXVS" in little-endian (QEMU uses "QEMU", 0x554d4551). */
export const VIRTIO_MMIO_VENDOR_ID_AXVISOR = 0x5356_5841;

// InterruptStatus / InterruptACK bits.
export const VIRTIO_MMIO_INT_VRING = 1;
export const VIRTIO_MMIO_INT_CONFIG = 2;
const INTERRUPT_BITS = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;

/** The smallest window a virtio-mmio device decodes (the example binding in §4.2.1 uses 0x200). */
export const VIRTIO_MMIO_MIN_WINDOW = 0x200;

/** The status bits a driver may set. */
const DRIVER_STATUS_BITS =
  VIRTIO_STATUS_ACKNOWLEDGE |
  VIRTIO_STATUS_DRIVER |
  VIRTIO_STATUS_FEATURES_OK |
  VIRTIO_STATUS_DRIVER_OK |
  VIRTIO_STATUS_FAILED;

export interface VirtioMmioOptions<State> {
  readonly device: VirtioDevice<State>;
  /** Guest memory the queues live in (the VMM's GuestMemory). */
  readonly memory: GuestMemoryAccess;
  /** The interrupt output (level: high while InterruptStatus != 0). */
  readonly irq: IrqLine;
  /**
   * Run a task in a later turn of the VMM's event loop (the VM's deferred work): how a device continues a queue
   * whose turn budget is spent. The VMM drops pending tasks when the VM stops.
   */
  readonly deferWork: (task: () => void) => void;
  /** VendorID register value. Default `VIRTIO_MMIO_VENDOR_ID_AXVISOR`. */
  readonly vendorId?: number;
  /** Offer VIRTIO_F_INDIRECT_DESC. Default true. */
  readonly indirectDescriptors?: boolean;
  /** Offer VIRTIO_F_EVENT_IDX. Default true. */
  readonly eventIdx?: boolean;
}

export interface VirtioMmioStats extends DeviceStats {
  /** QueueNotify writes handed to the device. */
  notifications: number;
  /** QueueNotify writes ignored: device not running, or no such enabled queue. */
  ignoredNotifications: number;
  /** Times the interrupt line went high. */
  interrupts: number;
  /** Device resets (Status ← 0, or `reset()` from the VMM). */
  resets: number;
  /** FEATURES_OK writes refused. */
  refusedFeatures: number;
  /** Entries into DEVICE_NEEDS_RESET. */
  deviceErrors: number;
  /** Queue work continued in a later turn because a turn's budget was spent. */
  deferredTurns: number;
}

export interface VirtioMmioState<DeviceState> {
  readonly status: number;
  readonly deviceFeaturesSel: number;
  readonly driverFeaturesSel: number;
  readonly driverFeatures: bigint;
  /** The driver wrote non-zero bits to a DriverFeatures word above 63 (those are never offered). */
  readonly driverFeaturesUnknown: boolean;
  readonly queueSel: number;
  readonly shmSel: number;
  readonly interruptStatus: number;
  readonly configGeneration: number;
  readonly queues: readonly VirtqueueState[];
  readonly device: DeviceState;
}

/** The window a transport for `device` needs: registers, then the config space, rounded up to 0x100. */
function virtioMmioWindowSize(configSize: number): number {
  return Math.max(VIRTIO_MMIO_MIN_WINDOW, Math.ceil((VIRTIO_MMIO_CONFIG + configSize) / 0x100) * 0x100);
}

export class VirtioMmioTransport<State = unknown> implements BusDevice, Snapshottable<VirtioMmioState<State>> {
  readonly name: string;
  readonly device: VirtioDevice<State>;
  /** Bytes of window this transport decodes (at least 0x200). */
  readonly windowSize: number;
  /** Everything offered in DeviceFeatures. */
  readonly offeredFeatures: bigint;
  readonly vendorId: number;
  readonly stats: VirtioMmioStats = {
    badAccesses: 0,
    notifications: 0,
    ignoredNotifications: 0,
    interrupts: 0,
    resets: 0,
    refusedFeatures: 0,
    deviceErrors: 0,
    deferredTurns: 0,
  };

  readonly #memory: GuestMemoryAccess;
  readonly #irq: IrqLine;
  readonly #deferWork: (task: () => void) => void;
  readonly #queues: readonly Virtqueue[];

  #status = 0;
  #deviceFeaturesSel = 0;
  #driverFeaturesSel = 0;
  #driverFeatures = 0n;
  #driverFeaturesUnknown = false;
  #queueSel = 0;
  #shmSel = 0;
  #interruptStatus = 0;
  #irqLevel = false;
  #configGeneration = 0;
  /** Bumped on every activation and reset: a context from an older activation does nothing. */
  #epoch = 0;
  #active = false;
  #lastFailure: VirtioFailure | undefined;

  constructor(options: VirtioMmioOptions<State>) {
    const { device } = options;
    const what = `Cannot create a virtio-mmio transport for "${device.name}"`;
    const transportBits = device.features >> BigInt(VIRTIO_DEVICE_FEATURE_BITS);
    if (device.features < 0n || transportBits !== 0n) {
      throw new DeviceError(
        "virtio-mmio",
        "invalid-config",
        `${what}: device features ${featuresText(device.features)} use bits outside the device-specific range 0..23 (the transport adds the ring features it implements)`,
      );
    }
    if (device.queueMaxSizes.length === 0) {
      throw new DeviceError("virtio-mmio", "invalid-config", `${what}: the device has no queues`);
    }
    if (!Number.isInteger(device.configSize) || device.configSize < 0 || device.configSize > 0x1_0000) {
      throw new DeviceError(
        "virtio-mmio",
        "invalid-config",
        `${what}: config space size ${String(device.configSize)} is not in 0..0x10000`,
      );
    }
    const vendorId = options.vendorId ?? VIRTIO_MMIO_VENDOR_ID_AXVISOR;
    if (!Number.isInteger(vendorId) || vendorId < 0 || vendorId > 0xffff_ffff) {
      throw new DeviceError(
        "virtio-mmio",
        "invalid-config",
        `${what}: vendor ID ${String(vendorId)} is not a 32-bit value`,
      );
    }
    let offered = device.features | featureBit(VIRTIO_F_VERSION_1);
    if (options.indirectDescriptors ?? true) offered |= featureBit(VIRTIO_F_INDIRECT_DESC);
    if (options.eventIdx ?? true) offered |= featureBit(VIRTIO_F_EVENT_IDX);
    this.name = device.name;
    this.device = device;
    this.offeredFeatures = offered;
    this.vendorId = vendorId;
    this.windowSize = virtioMmioWindowSize(device.configSize);
    this.#memory = options.memory;
    this.#irq = options.irq;
    this.#deferWork = options.deferWork;
    this.#queues = device.queueMaxSizes.map((max, i) => {
      try {
        return new Virtqueue(i, max);
      } catch (cause) {
        throw new DeviceError(
          "virtio-mmio",
          "invalid-config",
          `${what}: queue ${String(i)} has maximum size ${String(max)}, not a power of two in 1..32768`,
          { cause },
        );
      }
    });
  }

  // -- host side -------------------------------------------------------------------------------------------------

  /** The Status register. */
  get status(): number {
    return this.#status;
  }

  get interruptStatus(): number {
    return this.#interruptStatus;
  }

  /** The level this transport drives on its interrupt line. */
  get irqLevel(): boolean {
    return this.#irqLevel;
  }

  get configGeneration(): number {
    return this.#configGeneration;
  }

  /** The features the driver accepted (meaningful once FEATURES_OK is set). */
  get driverFeatures(): bigint {
    return this.#driverFeatures;
  }

  /** Whether the device is processing its queues (DRIVER_OK, not FAILED, not DEVICE_NEEDS_RESET). */
  get running(): boolean {
    return this.#active && (this.#status & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) === 0;
  }

  /** Why the device last entered DEVICE_NEEDS_RESET (kept across resets for diagnostics). */
  get lastFailure(): VirtioFailure | undefined {
    return this.#lastFailure;
  }

  get queues(): readonly Virtqueue[] {
    return this.#queues;
  }

  /** Reset the device as a Status write of 0 does (the VMM calls this on a VM reset). */
  reset(): void {
    this.#epoch++;
    this.#active = false;
    try {
      this.device.reset();
    } catch (cause) {
      this.stats.deviceErrors++;
      this.#lastFailure = internalFailure("reset", cause);
    }
    this.#status = 0;
    this.#deviceFeaturesSel = 0;
    this.#driverFeaturesSel = 0;
    this.#driverFeatures = 0n;
    this.#driverFeaturesUnknown = false;
    this.#queueSel = 0;
    this.#shmSel = 0;
    for (const q of this.#queues) q.reset();
    this.#interruptStatus = 0;
    this.#updateIrq();
    this.stats.resets++;
  }

  // -- bus side --------------------------------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    if (offset >= VIRTIO_MMIO_CONFIG) return this.#readConfig(offset - VIRTIO_MMIO_CONFIG, width);
    if (width !== 4 || offset % 4 !== 0 || offset < 0) return this.#bad(0);
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case VIRTIO_MMIO_VERSION:
        return VIRTIO_MMIO_VERSION_2;
      case VIRTIO_MMIO_DEVICE_ID:
        return this.device.deviceId;
      case VIRTIO_MMIO_VENDOR_ID:
        return this.vendorId;
      case VIRTIO_MMIO_DEVICE_FEATURES:
        return featureWord(this.offeredFeatures, this.#deviceFeaturesSel);
      case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return this.#selectedQueue()?.maxSize ?? 0;
      case VIRTIO_MMIO_QUEUE_READY:
        return this.#selectedQueue()?.ready === true ? 1 : 0;
      case VIRTIO_MMIO_INTERRUPT_STATUS:
        return this.#interruptStatus;
      case VIRTIO_MMIO_STATUS:
        return this.#status;
      case VIRTIO_MMIO_SHM_LEN_LOW:
      case VIRTIO_MMIO_SHM_LEN_HIGH:
      case VIRTIO_MMIO_SHM_BASE_LOW:
      case VIRTIO_MMIO_SHM_BASE_HIGH:
        // No shared memory regions: every SHMSel names a non-existent one, whose length and base read as -1.
        return 0xffff_ffff;
      case VIRTIO_MMIO_QUEUE_RESET:
        // VIRTIO_F_RING_RESET is not offered; no queue is ever being reset.
        return 0;
      case VIRTIO_MMIO_CONFIG_GENERATION:
        return this.#configGeneration;
      default:
        // Write-only registers and holes.
        return this.#bad(0);
    }
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset >= VIRTIO_MMIO_CONFIG) {
      this.#writeConfig(offset - VIRTIO_MMIO_CONFIG, width, value);
      return;
    }
    if (width !== 4 || offset % 4 !== 0 || offset < 0) {
      this.#bad(0);
      return;
    }
    const v = value >>> 0;
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        this.#deviceFeaturesSel = v;
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES:
        this.#writeDriverFeatures(v);
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        this.#driverFeaturesSel = v;
        return;
      case VIRTIO_MMIO_QUEUE_SEL:
        this.#queueSel = v;
        return;
      case VIRTIO_MMIO_QUEUE_NUM: {
        const q = this.#configurableQueue();
        if (q !== undefined) q.setSize(v);
        return;
      }
      case VIRTIO_MMIO_QUEUE_READY:
        this.#writeQueueReady(v);
        return;
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
      case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: {
        const q = this.#configurableQueue();
        if (q !== undefined) q.setAddressHalf(areaOf(offset), (offset & 4) !== 0, v);
        return;
      }
      case VIRTIO_MMIO_QUEUE_NOTIFY:
        this.#notify(v);
        return;
      case VIRTIO_MMIO_INTERRUPT_ACK:
        this.#interruptStatus &= ~v & INTERRUPT_BITS;
        this.#updateIrq();
        return;
      case VIRTIO_MMIO_STATUS:
        this.#writeStatus(v);
        return;
      case VIRTIO_MMIO_SHM_SEL:
        this.#shmSel = v;
        return;
      default:
        // Read-only registers (MagicValue, QueueNumMax, InterruptStatus, ...), QueueReset and holes.
        this.#bad(0);
    }
  }

  // -- snapshot --------------------------------------------------------------------------------------------------

  snapshot(): VirtioMmioState<State> {
    return {
      status: this.#status,
      deviceFeaturesSel: this.#deviceFeaturesSel,
      driverFeaturesSel: this.#driverFeaturesSel,
      driverFeatures: this.#driverFeatures,
      driverFeaturesUnknown: this.#driverFeaturesUnknown,
      queueSel: this.#queueSel,
      shmSel: this.#shmSel,
      interruptStatus: this.#interruptStatus,
      configGeneration: this.#configGeneration,
      queues: this.#queues.map((q) => q.snapshot()),
      device: this.device.snapshot(),
    };
  }

  /**
   * Restore registers, queues and device state. A snapshot of a running device re-activates its queues on this
   * transport's memory (they must still be valid there) at the saved ring positions, then serves each active queue
   * once, as after DRIVER_OK: buffers the driver had made available that the device had not taken yet (a
   * notification not yet served, the rest of a turn deferred) would otherwise wait for a notification the driver
   * already sent. Nothing is served twice: what was taken is behind the saved positions.
   */
  restore(state: VirtioMmioState<State>): void {
    const fail = (why: string, cause?: unknown): never => {
      throw new DeviceError("virtio-mmio", "invalid-state", `Cannot restore "${this.name}": ${why}`, { cause });
    };
    if (state.queues.length !== this.#queues.length)
      fail(`the snapshot has ${String(state.queues.length)} queues, the device ${String(this.#queues.length)}`);
    if (!isU32(state.status) || (state.status & ~0xff) !== 0) fail(`status ${String(state.status)} is not a byte`);
    if ((state.driverFeatures & ~this.offeredFeatures) !== 0n && (state.status & VIRTIO_STATUS_FEATURES_OK) !== 0) {
      fail(
        `the accepted features ${featuresText(state.driverFeatures)} are not a subset of the offer ${featuresText(this.offeredFeatures)}`,
      );
    }
    const u32s = [
      state.deviceFeaturesSel,
      state.driverFeaturesSel,
      state.queueSel,
      state.shmSel,
      state.configGeneration,
      state.interruptStatus,
    ];
    if (!u32s.every(isU32) || (state.interruptStatus & ~INTERRUPT_BITS) !== 0)
      fail("a register value is not a 32-bit value within its mask");
    for (const [i, q] of state.queues.entries()) {
      const values = [
        q.size,
        q.descLow,
        q.descHigh,
        q.driverLow,
        q.driverHigh,
        q.deviceLow,
        q.deviceHigh,
        q.nextAvail,
        q.nextUsed,
        q.signalledUsed,
      ];
      if (!values.every(isU32)) fail(`queue ${String(i)} has a value that is not a 32-bit value`);
    }

    this.#epoch++;
    this.#active = false;
    this.device.reset();
    this.#status = state.status;
    this.#deviceFeaturesSel = state.deviceFeaturesSel;
    this.#driverFeaturesSel = state.driverFeaturesSel;
    this.#driverFeatures = state.driverFeatures;
    this.#driverFeaturesUnknown = state.driverFeaturesUnknown;
    this.#queueSel = state.queueSel;
    this.#shmSel = state.shmSel;
    this.#interruptStatus = state.interruptStatus;
    this.#configGeneration = state.configGeneration;
    for (const [i, q] of this.#queues.entries()) {
      const qs = state.queues[i];
      if (qs !== undefined) q.restoreState(qs);
    }
    this.device.restore(state.device);

    const running =
      (state.status & VIRTIO_STATUS_DRIVER_OK) !== 0 &&
      (state.status & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) === 0;
    if (running) {
      const features = this.#queueFeatures();
      for (const [i, q] of this.#queues.entries()) {
        if (!q.ready) continue;
        const error = q.activate(this.#memory, features);
        if (error !== undefined)
          fail(`queue ${String(i)} of the snapshot is not usable on this guest memory: ${error.message}`, error);
        const qs = state.queues[i];
        if (qs !== undefined) q.restorePositions(qs);
      }
      this.#active = true;
      this.device.activate(this.#makeContext());
    }
    // Drive the line to the restored level even if it matches what this object last drove.
    this.#irqLevel = this.#interruptStatus !== 0;
    this.#irq.set(this.#irqLevel);
    if (!running) return;
    for (const q of this.#queues) {
      if (!this.running) return;
      if (q.active) this.#guard(() => this.device.queueNotify(q.index));
    }
  }

  // -- registers -------------------------------------------------------------------------------------------------

  #bad(value: number): number {
    this.stats.badAccesses++;
    return value;
  }

  #selectedQueue(): Virtqueue | undefined {
    return this.#queues[this.#queueSel];
  }

  /** The selected queue if its configuration may be written now (before DRIVER_OK, while not ready). */
  #configurableQueue(): Virtqueue | undefined {
    const q = this.#selectedQueue();
    if (q === undefined || q.ready || (this.#status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)) !== 0) {
      this.#bad(0);
      return undefined;
    }
    return q;
  }

  #writeQueueReady(value: number): void {
    const q = this.#selectedQueue();
    if (q === undefined || (value !== 0 && value !== 1)) {
      this.#bad(0);
      return;
    }
    if (value === 0) {
      // Stopping a queue is always allowed; the device no longer touches it (`active` goes false).
      q.setReady(false);
      return;
    }
    if (q.ready) return;
    if (this.#configurableQueue() !== undefined) q.setReady(true);
  }

  #writeDriverFeatures(value: number): void {
    if ((this.#status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)) !== 0) {
      // §2.2.2: no new feature bits after FEATURES_OK.
      this.#bad(0);
      return;
    }
    const sel = this.#driverFeaturesSel;
    if (sel > 1) {
      // Bits 64 and up are never offered; accepting any of them makes FEATURES_OK fail.
      if (value !== 0) this.#driverFeaturesUnknown = true;
      return;
    }
    const shift = BigInt(32 * sel);
    this.#driverFeatures = (this.#driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value) << shift);
  }

  #writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    const old = this.#status;
    // Drivers write back what they read (status | new bit), so DEVICE_NEEDS_RESET may come back: it is not theirs.
    const written = value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if ((written & ~DRIVER_STATUS_BITS) !== 0 || (old & ~value & DRIVER_STATUS_BITS) !== 0) {
      // Reserved bits, or an attempt to clear a bit (only a reset clears status bits).
      this.stats.badAccesses++;
    }
    const added = written & ~old & DRIVER_STATUS_BITS;
    if ((added & VIRTIO_STATUS_FAILED) !== 0) {
      // The driver gave up: `running` turns false, so the device stops using the queues until the next reset.
      this.#status |= VIRTIO_STATUS_FAILED;
    }
    if ((added & VIRTIO_STATUS_ACKNOWLEDGE) !== 0) this.#status |= VIRTIO_STATUS_ACKNOWLEDGE;
    if ((added & VIRTIO_STATUS_DRIVER) !== 0) {
      if ((this.#status & VIRTIO_STATUS_ACKNOWLEDGE) !== 0) this.#status |= VIRTIO_STATUS_DRIVER;
      else this.stats.badAccesses++;
    }
    if ((added & VIRTIO_STATUS_FEATURES_OK) !== 0) {
      if ((this.#status & VIRTIO_STATUS_DRIVER) !== 0 && this.#featuresAcceptable())
        this.#status |= VIRTIO_STATUS_FEATURES_OK;
      else this.stats.refusedFeatures++;
    }
    if ((added & VIRTIO_STATUS_DRIVER_OK) !== 0) {
      if ((this.#status & VIRTIO_STATUS_FEATURES_OK) !== 0 && (this.#status & VIRTIO_STATUS_FAILED) === 0) {
        this.#status |= VIRTIO_STATUS_DRIVER_OK;
        this.#activate();
      } else {
        this.stats.badAccesses++;
      }
    }
  }

  /** §2.2.2: a subset of the offer, with VIRTIO_F_VERSION_1 (this is a version 2, non-legacy device). */
  #featuresAcceptable(): boolean {
    const accepted = this.#driverFeatures;
    return (
      !this.#driverFeaturesUnknown &&
      (accepted & ~this.offeredFeatures) === 0n &&
      hasFeature(accepted, VIRTIO_F_VERSION_1)
    );
  }

  #queueFeatures(): { indirect: boolean; eventIdx: boolean } {
    return {
      indirect: hasFeature(this.#driverFeatures, VIRTIO_F_INDIRECT_DESC),
      eventIdx: hasFeature(this.#driverFeatures, VIRTIO_F_EVENT_IDX),
    };
  }

  /** DRIVER_OK: check the ready queues, hand the device its context, then let it look at every enabled queue. */
  #activate(): void {
    const features = this.#queueFeatures();
    for (const q of this.#queues) {
      if (!q.ready) continue;
      const error = q.activate(this.#memory, features);
      if (error !== undefined) {
        this.#enterNeedsReset({ kind: "queue", error });
        return;
      }
    }
    this.#active = true;
    const context = this.#makeContext();
    this.#guard(() => this.device.activate(context));
    // Buffers made available before DRIVER_OK (some drivers fill receive queues first) are seen now.
    for (const q of this.#queues) {
      if (!this.running) return;
      if (q.active) this.#guard(() => this.device.queueNotify(q.index));
    }
  }

  #notify(value: number): void {
    const q = this.#queues[value];
    if (!this.running || q === undefined || !q.active) {
      this.stats.ignoredNotifications++;
      return;
    }
    this.stats.notifications++;
    this.#guard(() => this.device.queueNotify(value));
  }

  #readConfig(offset: number, width: 1 | 2 | 4): number {
    if (offset + width > this.device.configSize) return this.#bad(0);
    try {
      return this.device.readConfig(offset, width) >>> 0;
    } catch (cause) {
      this.#enterNeedsReset(internalFailure(`read config space at ${hex(offset)}`, cause));
      return 0;
    }
  }

  #writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset + width > this.device.configSize) {
      this.#bad(0);
      return;
    }
    this.#guard(() => this.device.writeConfig(offset, width, value >>> 0));
  }

  // -- device side -----------------------------------------------------------------------------------------------

  #makeContext(): VirtioDeviceContext {
    const epoch = this.#epoch;
    const current = () => epoch === this.#epoch;
    const features = this.#driverFeatures;
    return {
      memory: this.#memory,
      features,
      queues: this.#queues,
      signalUsed: (index) => {
        if (!current() || !this.running) return;
        if (this.#queues[index]?.needsNotification() === true) this.#raise(VIRTIO_MMIO_INT_VRING);
      },
      configChanged: () => {
        if (!current()) return;
        this.#configGeneration = (this.#configGeneration + 1) >>> 0;
        if ((this.#status & VIRTIO_STATUS_DRIVER_OK) !== 0) this.#raise(VIRTIO_MMIO_INT_CONFIG);
      },
      fail: (failure) => {
        if (current()) this.#enterNeedsReset(failure);
      },
      kick: (index) => {
        if (!current() || !this.running || this.#queues[index]?.active !== true) return;
        this.#guard(() => this.device.queueNotify(index));
      },
      defer: (task) => {
        this.stats.deferredTurns++;
        this.#deferWork(() => {
          // A reset (or a new activation) since makes the task stale: the device has forgotten that work.
          if (current() && this.running) this.#guard(task);
        });
      },
    };
  }

  #guard(action: () => void): void {
    try {
      action();
    } catch (cause) {
      this.#enterNeedsReset(internalFailure(`run ${this.name}`, cause));
    }
  }

  #enterNeedsReset(failure: VirtioFailure): void {
    if ((this.#status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0) return; // keep the first cause
    this.#lastFailure = failure;
    this.stats.deviceErrors++;
    this.#status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    // Once DRIVER_OK is set, entering DEVICE_NEEDS_RESET is announced with a config change notification (§2.1.2).
    if ((this.#status & VIRTIO_STATUS_DRIVER_OK) !== 0) this.#raise(VIRTIO_MMIO_INT_CONFIG);
  }

  #raise(bits: number): void {
    this.#interruptStatus |= bits;
    this.#updateIrq();
  }

  #updateIrq(): void {
    const level = this.#interruptStatus !== 0;
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    if (level) this.stats.interrupts++;
    this.#irq.set(level);
  }
}

function featureWord(features: bigint, sel: number): number {
  if (sel > 1) return 0;
  return Number((features >> BigInt(32 * sel)) & 0xffff_ffffn);
}

function areaOf(offset: number): VirtqueueArea {
  if (offset < VIRTIO_MMIO_QUEUE_DRIVER_LOW) return "desc";
  if (offset < VIRTIO_MMIO_QUEUE_DEVICE_LOW) return "driver";
  return "device";
}

function internalFailure(action: string, cause: unknown): VirtioFailure {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return { kind: "internal", message: `Cannot ${action}: the device model threw (${detail})`, cause };
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}
