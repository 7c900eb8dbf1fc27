/**
 * A virtio-mmio driver for tests, written from the driver's side of the virtio 1.2 specification and Linux's
 * `virtio_mmio.c` / `virtio_ring.c` order of operations: it lays out split rings in real guest memory
 * (`GuestMemory` from addrspace), performs the init sequence through MMIO register accesses, adds descriptor
 * chains (direct or indirect), notifies, and collects used buffers. Raw helpers let property tests write arbitrary
 * descriptor tables and ring indices.
 */
import { GuestMemory } from "../../src/addrspace/guest-memory.ts";
import type { BusDevice } from "../../src/devices/types.ts";
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
} from "../../src/devices/virtio/constants.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
  VIRTIO_MMIO_QUEUE_DEVICE_LOW,
  VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
  VIRTIO_MMIO_QUEUE_DRIVER_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_2,
} from "../../src/devices/virtio/mmio-transport.ts";
import {
  availRingSize,
  descriptorTableSize,
  usedRingSize,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_ELEM_SIZE,
} from "../../src/devices/virtio/queue.ts";

export const TEST_RAM_BASE = 0x8000_0000;

/** Guest RAM for virtio tests: one region of real `GuestMemory` and a bump allocator. */
export class TestGuestRam {
  readonly memory: GuestMemory;
  readonly base: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  #next: number;

  constructor(size = 1 << 20, base = TEST_RAM_BASE) {
    this.base = base;
    this.size = size;
    this.bytes = new Uint8Array(size);
    this.memory = new GuestMemory([{ name: "ram", gpa: base, bytes: this.bytes }]);
    this.#next = base;
  }

  /** `size` zeroed bytes aligned to `align`. */
  alloc(size: number, align = 16): number {
    const at = Math.ceil(this.#next / align) * align;
    if (at + size > this.base + this.size)
      throw new Error(`test RAM exhausted: ${size} bytes wanted at 0x${at.toString(16)}`);
    this.#next = at + size;
    this.bytes.fill(0, at - this.base, at - this.base + size);
    return at;
  }

  /** Where the next allocation would start (for `rewind`). */
  checkpoint(): number {
    return this.#next;
  }

  /** Forget the allocations made since `checkpoint()` returned `mark` (their bytes are left as they are). */
  rewind(mark: number): void {
    this.#next = mark;
  }
}

/** A buffer element of a chain: readable ones carry their bytes, writable ones a length. */
export type DriverBuffer =
  | { readonly writable: false; readonly data: Uint8Array }
  | { readonly writable: true; readonly length: number };

export interface PlacedBuffer {
  readonly addr: number;
  readonly len: number;
  readonly writable: boolean;
}

export interface UsedBuffer {
  readonly id: number;
  readonly len: number;
  /** The buffers of the chain as the driver placed them (undefined if `id` names no chain in flight). */
  readonly buffers: readonly PlacedBuffer[] | undefined;
}

export interface RawDescriptor {
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

/** The driver side of one split virtqueue. */
export class DriverQueue {
  readonly index: number;
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly ram: TestGuestRam;
  #free: number[];
  #availIdx = 0;
  #lastUsed = 0;
  readonly #inFlight = new Map<number, { descriptors: number[]; buffers: PlacedBuffer[] }>();

  constructor(ram: TestGuestRam, index: number, size: number, layout?: { desc: number; avail: number; used: number }) {
    this.ram = ram;
    this.index = index;
    this.size = size;
    this.desc = layout?.desc ?? ram.alloc(descriptorTableSize(size), 16);
    this.avail = layout?.avail ?? ram.alloc(availRingSize(size), 2);
    this.used = layout?.used ?? ram.alloc(usedRingSize(size), 4);
    this.#free = Array.from({ length: size }, (_, i) => i);
  }

  get freeDescriptors(): number {
    return this.#free.length;
  }

  get availIdx(): number {
    return this.#availIdx;
  }

  /**
   * Place `buffers` (readable first, then writable) as one chain and publish it in the available ring. With
   * `indirect`, the chain is one descriptor pointing at a table holding all the buffers. Returns the head and
   * where each buffer went.
   */
  add(
    buffers: readonly DriverBuffer[],
    options: { indirect?: boolean; publish?: boolean } = {},
  ): { head: number; buffers: PlacedBuffer[] } {
    const mem = this.ram.memory;
    const placed: PlacedBuffer[] = buffers.map((b) => {
      const len = b.writable ? b.length : b.data.length;
      const addr = this.ram.alloc(Math.max(len, 1), 8);
      if (!b.writable) mem.write(addr, b.data);
      return { addr, len, writable: b.writable };
    });
    let head: number;
    let descriptors: number[];
    if (options.indirect === true) {
      const table = this.ram.alloc(VIRTQ_DESC_SIZE * placed.length, 16);
      placed.forEach((b, i) => {
        const last = i === placed.length - 1;
        writeDescriptor(mem, table + VIRTQ_DESC_SIZE * i, {
          addr: b.addr,
          len: b.len,
          flags: (b.writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
          next: last ? 0 : i + 1,
        });
      });
      head = this.#take(1)[0] ?? 0;
      descriptors = [head];
      this.writeDescriptor(head, {
        addr: table,
        len: VIRTQ_DESC_SIZE * placed.length,
        flags: VIRTQ_DESC_F_INDIRECT,
        next: 0,
      });
    } else {
      descriptors = this.#take(placed.length);
      placed.forEach((b, i) => {
        const next = descriptors[i + 1];
        const index = descriptors[i] ?? 0;
        this.writeDescriptor(index, {
          addr: b.addr,
          len: b.len,
          flags: (b.writable ? VIRTQ_DESC_F_WRITE : 0) | (next === undefined ? 0 : VIRTQ_DESC_F_NEXT),
          next: next ?? 0,
        });
      });
      head = descriptors[0] ?? 0;
    }
    this.#inFlight.set(head, { descriptors, buffers: placed });
    if (options.publish ?? true) this.publish(head);
    return { head, buffers: placed };
  }

  /** Put `head` in the next available ring slot and advance `avail.idx`. */
  publish(head: number): void {
    const mem = this.ram.memory;
    mem.writeU16(this.avail + 4 + 2 * (this.#availIdx % this.size), head);
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    mem.writeU16(this.avail + 2, this.#availIdx);
  }

  /**
   * Start both rings at free-running index `index` (as if that many buffers had gone round already), so tests
   * cross the 16-bit wrap quickly. The device side must be positioned the same way (`restorePositions`).
   */
  startAt(index: number): void {
    this.#availIdx = this.#lastUsed = index & 0xffff;
    this.ram.memory.writeU16(this.avail + 2, this.#availIdx);
    this.ram.memory.writeU16(this.used + 2, this.#availIdx);
  }

  /** Set `avail.idx` directly (property tests). */
  setAvailIdx(idx: number): void {
    this.#availIdx = idx & 0xffff;
    this.ram.memory.writeU16(this.avail + 2, this.#availIdx);
  }

  /** Write the available ring slot `slot` directly. */
  setAvailSlot(slot: number, head: number): void {
    this.ram.memory.writeU16(this.avail + 4 + 2 * slot, head);
  }

  writeDescriptor(index: number, d: RawDescriptor): void {
    writeDescriptor(this.ram.memory, this.desc + VIRTQ_DESC_SIZE * index, d);
  }

  setAvailFlags(flags: number): void {
    this.ram.memory.writeU16(this.avail, flags);
  }

  /** `used_event` (VIRTIO_F_EVENT_IDX): interrupt me when the device writes used entry `index`. */
  setUsedEvent(index: number): void {
    this.ram.memory.writeU16(this.avail + 4 + 2 * this.size, index & 0xffff);
  }

  get usedIdx(): number {
    return this.ram.memory.readU16(this.used + 2);
  }

  /** `avail_event` as the device last wrote it. */
  get availEvent(): number {
    return this.ram.memory.readU16(this.used + 4 + VIRTQ_USED_ELEM_SIZE * this.size);
  }

  get usedFlags(): number {
    return this.ram.memory.readU16(this.used);
  }

  /**
   * Whether to notify after publishing, as Linux's `virtqueue_kick_prepare_split` decides: with EVENT_IDX, when
   * the new avail entries crossed `avail_event`; otherwise unless the device set VIRTQ_USED_F_NO_NOTIFY.
   */
  needsKick(eventIdx: boolean, oldAvailIdx: number): boolean {
    if (!eventIdx) return (this.usedFlags & 1) === 0;
    const event = this.availEvent;
    return ((this.#availIdx - event - 1) & 0xffff) < ((this.#availIdx - oldAvailIdx) & 0xffff);
  }

  /** Used entries written since the last call; their descriptors go back on the free list. */
  takeUsed(): UsedBuffer[] {
    const mem = this.ram.memory;
    const out: UsedBuffer[] = [];
    const idx = this.usedIdx;
    while (this.#lastUsed !== idx) {
      const at = this.used + 4 + VIRTQ_USED_ELEM_SIZE * (this.#lastUsed % this.size);
      const id = mem.readU32(at);
      const len = mem.readU32(at + 4);
      const chain = this.#inFlight.get(id);
      if (chain !== undefined) {
        this.#inFlight.delete(id);
        this.#free.push(...chain.descriptors);
      }
      out.push({ id, len, buffers: chain?.buffers });
      this.#lastUsed = (this.#lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** The bytes of a placed buffer. */
  readBuffer(buffer: PlacedBuffer, length = buffer.len): Uint8Array {
    return this.ram.memory.read(buffer.addr, length);
  }

  #take(count: number): number[] {
    if (count > this.#free.length)
      throw new Error(`queue ${this.index}: ${count} descriptors wanted, ${this.#free.length} free`);
    return this.#free.splice(0, count);
  }
}

function writeDescriptor(mem: GuestMemory, at: number, d: RawDescriptor): void {
  mem.writeU32(at, d.addr % 0x1_0000_0000);
  mem.writeU32(at + 4, Math.floor(d.addr / 0x1_0000_0000));
  mem.writeU32(at + 8, d.len);
  mem.writeU16(at + 12, d.flags);
  mem.writeU16(at + 14, d.next);
}

export interface DriverInitOptions {
  /** Which of the offered features to accept (default: all of them). */
  readonly accept?: (offered: bigint) => bigint;
  /** Queue sizes to use (default: each queue's QueueNumMax). */
  readonly queueSizes?: readonly number[];
  /** How many queues to set up (default: every queue that reports a QueueNumMax). */
  readonly queueCount?: number;
}

/** A virtio-mmio driver talking to a transport through 32-bit register accesses, like Linux's `virtio_mmio.c`. */
export class VirtioMmioDriver {
  readonly device: BusDevice;
  readonly ram: TestGuestRam;
  readonly queues: DriverQueue[] = [];
  features = 0n;

  constructor(device: BusDevice, ram: TestGuestRam) {
    this.device = device;
    this.ram = ram;
  }

  r32(offset: number): number {
    return this.device.read(offset, 4) >>> 0;
  }

  w32(offset: number, value: number): void {
    this.device.write(offset, 4, value >>> 0);
  }

  config8(offset: number): number {
    return this.device.read(VIRTIO_MMIO_CONFIG + offset, 1);
  }
  config16(offset: number): number {
    return this.device.read(VIRTIO_MMIO_CONFIG + offset, 2);
  }
  config32(offset: number): number {
    return this.device.read(VIRTIO_MMIO_CONFIG + offset, 4) >>> 0;
  }
  /** A 64-bit config field as Linux reads it: two 32-bit reads, low word first. */
  config64(offset: number): bigint {
    return BigInt(this.config32(offset)) | (BigInt(this.config32(offset + 4)) << 32n);
  }

  get status(): number {
    return this.r32(VIRTIO_MMIO_STATUS);
  }

  /** Status ← status | bits (drivers read-modify-write the register). */
  addStatus(bits: number): void {
    this.w32(VIRTIO_MMIO_STATUS, this.status | bits);
  }

  reset(): void {
    this.w32(VIRTIO_MMIO_STATUS, 0);
    if (this.status !== 0) throw new Error("device did not reset: Status reads back non-zero");
  }

  deviceFeatures(): bigint {
    this.w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const high = this.r32(VIRTIO_MMIO_DEVICE_FEATURES);
    this.w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const low = this.r32(VIRTIO_MMIO_DEVICE_FEATURES);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  writeDriverFeatures(features: bigint): void {
    this.w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.w32(VIRTIO_MMIO_DRIVER_FEATURES, Number((features >> 32n) & 0xffff_ffffn));
    this.w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.w32(VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffff_ffffn));
  }

  /** Set up queue `index` as `vm_setup_vq` does; returns the driver's view of it. */
  setupQueue(index: number, size?: number): DriverQueue {
    this.w32(VIRTIO_MMIO_QUEUE_SEL, index);
    if (this.r32(VIRTIO_MMIO_QUEUE_READY) !== 0) throw new Error(`queue ${index} is already in use`);
    const max = this.r32(VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max === 0) throw new Error(`queue ${index} does not exist`);
    const q = new DriverQueue(this.ram, index, size ?? max);
    this.w32(VIRTIO_MMIO_QUEUE_NUM, q.size);
    this.w32(VIRTIO_MMIO_QUEUE_DESC_LOW, q.desc % 0x1_0000_0000);
    this.w32(VIRTIO_MMIO_QUEUE_DESC_HIGH, Math.floor(q.desc / 0x1_0000_0000));
    this.w32(VIRTIO_MMIO_QUEUE_DRIVER_LOW, q.avail % 0x1_0000_0000);
    this.w32(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, Math.floor(q.avail / 0x1_0000_0000));
    this.w32(VIRTIO_MMIO_QUEUE_DEVICE_LOW, q.used % 0x1_0000_0000);
    this.w32(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, Math.floor(q.used / 0x1_0000_0000));
    this.w32(VIRTIO_MMIO_QUEUE_READY, 1);
    this.queues[index] = q;
    return q;
  }

  /**
   * The whole init sequence of §3.1.1 (Linux order): check MagicValue/Version/DeviceID, reset, ACKNOWLEDGE,
   * DRIVER, read and accept features, FEATURES_OK (and check it stuck), set up the queues, DRIVER_OK.
   */
  init(options: DriverInitOptions = {}): bigint {
    if (this.r32(VIRTIO_MMIO_MAGIC_VALUE) !== VIRTIO_MMIO_MAGIC) throw new Error("bad MagicValue");
    if (this.r32(VIRTIO_MMIO_VERSION) !== VIRTIO_MMIO_VERSION_2) throw new Error("not a version 2 device");
    if (this.r32(VIRTIO_MMIO_DEVICE_ID) === 0) throw new Error("placeholder device (DeviceID 0)");
    this.reset();
    this.addStatus(VIRTIO_STATUS_ACKNOWLEDGE);
    this.addStatus(VIRTIO_STATUS_DRIVER);
    const offered = this.deviceFeatures();
    if (!hasFeature(offered, VIRTIO_F_VERSION_1)) throw new Error("device does not offer VIRTIO_F_VERSION_1");
    const accepted = (options.accept ?? ((o) => o))(offered);
    this.writeDriverFeatures(accepted);
    this.addStatus(VIRTIO_STATUS_FEATURES_OK);
    if ((this.status & VIRTIO_STATUS_FEATURES_OK) === 0) throw new Error("device refused the features");
    this.features = accepted;
    const count = options.queueCount ?? this.#queueCount();
    for (let i = 0; i < count; i++) this.setupQueue(i, options.queueSizes?.[i]);
    this.addStatus(VIRTIO_STATUS_DRIVER_OK);
    return accepted;
  }

  get eventIdx(): boolean {
    return hasFeature(this.features, VIRTIO_F_EVENT_IDX);
  }

  /** Publish a chain on queue `index` and notify if the device wants it (returns whether it notified). */
  submit(
    index: number,
    buffers: readonly DriverBuffer[],
    options: { indirect?: boolean } = {},
  ): { head: number; buffers: PlacedBuffer[]; kicked: boolean } {
    const q = this.queue(index);
    const before = q.availIdx;
    const placed = q.add(buffers, options);
    const kicked = q.needsKick(this.eventIdx, before);
    if (kicked) this.notify(index);
    return { ...placed, kicked };
  }

  notify(index: number): void {
    this.w32(VIRTIO_MMIO_QUEUE_NOTIFY, index);
  }

  /** Read InterruptStatus and acknowledge what was set (what an interrupt handler does); returns the bits. */
  handleInterrupt(): number {
    const bits = this.r32(VIRTIO_MMIO_INTERRUPT_STATUS);
    if (bits !== 0) this.w32(VIRTIO_MMIO_INTERRUPT_ACK, bits);
    return bits;
  }

  queue(index: number): DriverQueue {
    const q = this.queues[index];
    if (q === undefined) throw new Error(`queue ${index} is not set up`);
    return q;
  }

  /** Disable used-buffer interrupts on every queue (without EVENT_IDX). */
  suppressInterrupts(index: number): void {
    this.queue(index).setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  #queueCount(): number {
    let n = 0;
    for (;;) {
      this.w32(VIRTIO_MMIO_QUEUE_SEL, n);
      if (this.r32(VIRTIO_MMIO_QUEUE_NUM_MAX) === 0 || n >= 64) return n;
      n++;
    }
  }
}

/** Accept everything but `bits`. */
export function acceptAllBut(...bits: number[]): (offered: bigint) => bigint {
  return (offered) => bits.reduce((acc, bit) => acc & ~featureBit(bit), offered);
}
