/**
 * Split virtqueues, device side (OASIS virtio 1.2 §2.7), for a guest treated as hostile (rust-vmm virtio-queue,
 * Firecracker's `devices/virtio/queue.rs` as the models for what to check).
 *
 * Layout in guest memory, for queue size N (all fields little-endian):
 *
 *   Descriptor Table (align 16, 16*N bytes)   Available Ring (align 2, 6+2*N)     Used Ring (align 4, 6+8*N)
 *   desc[i] = { le64 addr; le32 len;          le16 flags   (NO_INTERRUPT)         le16 flags   (NO_NOTIFY)
 *               le16 flags; le16 next }       le16 idx                            le16 idx
 *                                             le16 ring[N] (chain heads)          { le32 id; le32 len }[N]
 *                                             le16 used_event (EVENT_IDX)         le16 avail_event (EVENT_IDX)
 *
 * What is checked, and what happens when a check fails:
 * - When the driver sets DRIVER_OK (`activate`): the size is a power of two in 1..maxSize, each area is aligned
 *   as the table above says, lies below 2^53 and entirely inside guest memory. A failure is a `VirtqueueError`
 *   that the transport turns into DEVICE_NEEDS_RESET.
 * - Per `pop()`: `avail.idx` is at most N ahead of the device (the driver cannot un-expose buffers or expose more
 *   than N), the head and every `next` index are inside their table, the walk visits each table at most once per
 *   entry (a loop ends as "chain-too-long", never as a hang or as a silent "end of chain"), a chain holds at most
 *   N buffers (§2.7.5.3.1), an indirect descriptor is only followed when VIRTIO_F_INDIRECT_DESC was negotiated,
 *   is not combined with NEXT, is not nested, and has a length that is a non-zero multiple of 16; every buffer
 *   lies inside guest memory; device-writable buffers come after device-readable ones (§2.7.4.2); the total
 *   length fits in 32 bits (§2.7.5.2: a chain is at most 2^32 bytes; `len` in the used ring is 32 bits).
 *   Each failure is returned as `{ kind: "error" }` with a `VirtqueueError`; nothing here throws on guest data.
 * - Guest memory can still refuse an access (it throws); the ring accesses here catch that and report it as a
 *   "memory-fault" error, so no guest-triggered path throws out of this module.
 *
 * Notification suppression: with VIRTIO_F_EVENT_IDX the device keeps `avail_event` equal to the next index it
 * will read (so the driver notifies for every new buffer after the device has caught up) and raises used-buffer
 * notifications only when the driver's `used_event` index was crossed; without it, the driver's
 * VIRTQ_AVAIL_F_NO_INTERRUPT flag is honoured and the device never sets VIRTQ_USED_F_NO_NOTIFY.
 */

import { hex } from "../../common/format.ts";
import { TWO_POW_32 } from "../../common/u64.ts";
import type { GuestMemoryAccess } from "../../hal/types.ts";

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Bytes of one descriptor (`struct virtq_desc`). */
export const VIRTQ_DESC_SIZE = 16;
/** Bytes of one used ring element (`struct virtq_used_elem`). */
export const VIRTQ_USED_ELEM_SIZE = 8;
export const VIRTQ_DESC_ALIGN = 16;
export const VIRTQ_AVAIL_ALIGN = 2;
export const VIRTQ_USED_ALIGN = 4;
/** The largest queue size: the highest power of two whose ring index still tells "full" from "empty" in 16 bits. */
export const VIRTQ_MAX_SIZE = 32768;

// Offsets inside the rings.
const AVAIL_FLAGS = 0;
const AVAIL_IDX = 2;
const AVAIL_RING = 4;
const USED_IDX = 2;
const USED_RING = 4;

/** The most bytes a chain may describe in total: `len` in the used ring is a 32-bit field. */
export const VIRTQ_MAX_CHAIN_BYTES = 0xffff_ffff;

/** Highest `addr >> 32` that keeps a guest-physical address below 2^53 (addresses are numbers; see hal/types.ts). */
const MAX_ADDRESS_HIGH = 0x1f_ffff;

export function descriptorTableSize(queueSize: number): number {
  return VIRTQ_DESC_SIZE * queueSize;
}
export function availRingSize(queueSize: number): number {
  return 6 + 2 * queueSize;
}
export function usedRingSize(queueSize: number): number {
  return 6 + VIRTQ_USED_ELEM_SIZE * queueSize;
}

function isValidQueueSize(size: number, maxSize: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= maxSize && (size & (size - 1)) === 0;
}

export type VirtqueueErrorKind =
  /** Queue size zero, not a power of two, or above the device's maximum. */
  | "invalid-size"
  /** A ring area is not aligned as §2.7 requires (16 / 2 / 4 bytes). */
  | "misaligned-area"
  /** A ring area is not entirely inside guest memory (or above 2^53). */
  | "area-outside-memory"
  /** `avail.idx` is more than the queue size ahead of the device. */
  | "avail-index"
  /** A chain head from the available ring is not a descriptor index. */
  | "head-index"
  /** A `next` field points outside its descriptor table. */
  | "next-index"
  /** More buffers than the queue size, or a table walk that revisits entries (a loop). */
  | "chain-too-long"
  /** VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated. */
  | "indirect-not-negotiated"
  /** VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT. */
  | "indirect-with-next"
  /** VIRTQ_DESC_F_INDIRECT inside an indirect table. */
  | "nested-indirect"
  /** An indirect table whose length is zero or not a multiple of 16. */
  | "indirect-table-length"
  /** An indirect table not entirely inside guest memory. */
  | "indirect-table-outside-memory"
  /** A buffer not entirely inside guest memory. */
  | "buffer-outside-memory"
  /** The chain describes more than 2^32 - 1 bytes. */
  | "chain-too-large"
  /** A device-readable buffer after a device-writable one. */
  | "readable-after-writable"
  /** Guest memory refused a ring access despite the checks. */
  | "memory-fault";

export class VirtqueueError extends Error {
  override readonly name = "VirtqueueError";
  readonly kind: VirtqueueErrorKind;
  /** The queue's index in its device. */
  readonly queue: number;
  /** The descriptor involved (in the main table, or in the indirect table when `indirect`), if any. */
  readonly descriptor: number | undefined;
  /** The guest-physical address involved, if any. */
  readonly address: number | undefined;

  constructor(
    kind: VirtqueueErrorKind,
    queue: number,
    message: string,
    fields: { readonly descriptor?: number; readonly address?: number; readonly cause?: unknown } = {},
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.kind = kind;
    this.queue = queue;
    this.descriptor = fields.descriptor;
    this.address = fields.address;
  }
}

/** One guest buffer of a chain. */
export interface DescriptorBuffer {
  readonly addr: number;
  readonly len: number;
}

/**
 * A descriptor chain taken from the available ring: its device-readable buffers, then its device-writable ones,
 * all checked to lie inside guest memory. The byte streams are addressed by offset, so devices never depend on
 * how the driver split a message into descriptors (§2.7.4 "Message Framing").
 */
export class DescriptorChain {
  /** The head descriptor index: what goes back in the used ring. */
  readonly head: number;
  readonly readable: readonly DescriptorBuffer[];
  readonly writable: readonly DescriptorBuffer[];
  readonly readableLength: number;
  readonly writableLength: number;
  readonly #memory: GuestMemoryAccess;

  constructor(
    memory: GuestMemoryAccess,
    head: number,
    readable: readonly DescriptorBuffer[],
    writable: readonly DescriptorBuffer[],
    readableLength: number,
    writableLength: number,
  ) {
    this.#memory = memory;
    this.head = head;
    this.readable = readable;
    this.writable = writable;
    this.readableLength = readableLength;
    this.writableLength = writableLength;
  }

  /** Copy device-readable bytes [offset, offset + target.length) into `target`; returns how many were there. */
  read(offset: number, target: Uint8Array): number {
    return gather(this.#memory, this.readable, offset, target);
  }

  /** Copy `data` into the device-writable bytes from `offset`; returns how many fitted. */
  write(offset: number, data: Uint8Array): number {
    return scatter(this.#memory, this.writable, offset, data);
  }
}

function gather(
  memory: GuestMemoryAccess,
  buffers: readonly DescriptorBuffer[],
  offset: number,
  target: Uint8Array,
): number {
  let skip = offset;
  let done = 0;
  for (const b of buffers) {
    if (done === target.length) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const n = Math.min(b.len - skip, target.length - done);
    memory.readInto(b.addr + skip, target.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}

function scatter(
  memory: GuestMemoryAccess,
  buffers: readonly DescriptorBuffer[],
  offset: number,
  data: Uint8Array,
): number {
  let skip = offset;
  let done = 0;
  for (const b of buffers) {
    if (done === data.length) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const n = Math.min(b.len - skip, data.length - done);
    memory.write(b.addr + skip, data.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}

export type PopResult =
  | { readonly kind: "empty" }
  | { readonly kind: "chain"; readonly chain: DescriptorChain }
  | { readonly kind: "error"; readonly error: VirtqueueError };

const EMPTY: PopResult = Object.freeze({ kind: "empty" });

/** The three areas a driver places (MMIO register names: QueueDesc, QueueDriver, QueueDevice). */
export type VirtqueueArea = "desc" | "driver" | "device";

/** The ring features that change how the device walks and signals a queue. */
export interface VirtqueueFeatures {
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  readonly indirect: boolean;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  readonly eventIdx: boolean;
}

/** A queue's plain-data state: the driver's configuration and the device's ring positions. */
export interface VirtqueueState {
  readonly size: number;
  readonly ready: boolean;
  readonly descLow: number;
  readonly descHigh: number;
  readonly driverLow: number;
  readonly driverHigh: number;
  readonly deviceLow: number;
  readonly deviceHigh: number;
  /** Next available ring index the device will read (free-running, 16 bits). */
  readonly nextAvail: number;
  /** Next used ring index the device will write (free-running, 16 bits). */
  readonly nextUsed: number;
  /** `nextUsed` when the device last decided whether to notify (for VIRTIO_F_EVENT_IDX). */
  readonly signalledUsed: number;
}

function composeAddress(low: number, high: number): number | undefined {
  return high > MAX_ADDRESS_HIGH ? undefined : high * TWO_POW_32 + low;
}

/**
 * One split virtqueue: the configuration registers the driver writes (size, ready, three area addresses) and,
 * once activated on guest memory, the device's side of the rings.
 */
export class Virtqueue {
  readonly index: number;
  readonly maxSize: number;

  #size: number;
  #ready = false;
  #descLow = 0;
  #descHigh = 0;
  #driverLow = 0;
  #driverHigh = 0;
  #deviceLow = 0;
  #deviceHigh = 0;

  // Set by `activate` (addresses known to be valid numbers inside memory).
  #memory: GuestMemoryAccess | undefined;
  #desc = 0;
  #avail = 0;
  #used = 0;
  #mask = 0;
  #features: VirtqueueFeatures = { indirect: false, eventIdx: false };

  #nextAvail = 0;
  #nextUsed = 0;
  #signalledUsed = 0;

  readonly #scratch = new Uint8Array(VIRTQ_DESC_SIZE);
  readonly #view = new DataView(this.#scratch.buffer);

  constructor(index: number, maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > VIRTQ_MAX_SIZE || (maxSize & (maxSize - 1)) !== 0) {
      throw new RangeError(
        `Cannot create virtqueue ${String(index)} with maximum size ${String(maxSize)}: it must be a power of two in 1..${String(VIRTQ_MAX_SIZE)}`,
      );
    }
    this.index = index;
    this.maxSize = maxSize;
    // Until the driver writes QueueNum, the queue has its maximum size (what a legacy-free driver sees anyway).
    this.#size = maxSize;
  }

  // -- driver configuration (transport side) ---------------------------------------------------------------------

  get size(): number {
    return this.#size;
  }
  /** QueueNum as written (checked at activation, like every other driver-written value). */
  setSize(size: number): void {
    this.#size = size;
  }

  get ready(): boolean {
    return this.#ready;
  }
  setReady(ready: boolean): void {
    this.#ready = ready;
    if (!ready) this.#memory = undefined; // the device must not touch a queue that is not ready (§4.2.2.1)
  }

  setAddressHalf(area: VirtqueueArea, high: boolean, value: number): void {
    const v = value >>> 0;
    if (area === "desc") {
      if (high) this.#descHigh = v;
      else this.#descLow = v;
    } else if (area === "driver") {
      if (high) this.#driverHigh = v;
      else this.#driverLow = v;
    } else if (high) {
      this.#deviceHigh = v;
    } else {
      this.#deviceLow = v;
    }
  }

  /** The area's address, or undefined when it lies above 2^53 (never guest memory). */
  address(area: VirtqueueArea): number | undefined {
    if (area === "desc") return composeAddress(this.#descLow, this.#descHigh);
    if (area === "driver") return composeAddress(this.#driverLow, this.#driverHigh);
    return composeAddress(this.#deviceLow, this.#deviceHigh);
  }

  /** Whether `activate` succeeded and the queue is still ready: the device may use it. */
  get active(): boolean {
    return this.#memory !== undefined;
  }

  get features(): VirtqueueFeatures {
    return this.#features;
  }

  /** Back to the reset state (not ready, maximum size, zero addresses, ring positions 0). */
  reset(): void {
    this.#size = this.maxSize;
    this.#ready = false;
    this.#descLow = this.#descHigh = this.#driverLow = this.#driverHigh = this.#deviceLow = this.#deviceHigh = 0;
    this.#memory = undefined;
    this.#features = { indirect: false, eventIdx: false };
    this.#nextAvail = this.#nextUsed = this.#signalledUsed = 0;
  }

  /**
   * Check the driver's configuration against guest memory and start using the rings (at DRIVER_OK, for a ready
   * queue). Ring positions start at 0, as the driver's zeroed rings do.
   */
  activate(memory: GuestMemoryAccess, features: VirtqueueFeatures): VirtqueueError | undefined {
    const size = this.#size;
    if (!isValidQueueSize(size, this.maxSize)) {
      return this.#error(
        "invalid-size",
        `Cannot activate virtqueue ${String(this.index)}: size ${String(size)} is not a power of two in 1..${String(this.maxSize)}`,
      );
    }
    const areas: ReadonlyArray<readonly [VirtqueueArea, string, number, number]> = [
      ["desc", "descriptor table", VIRTQ_DESC_ALIGN, descriptorTableSize(size)],
      ["driver", "available ring", VIRTQ_AVAIL_ALIGN, availRingSize(size)],
      ["device", "used ring", VIRTQ_USED_ALIGN, usedRingSize(size)],
    ];
    const at: number[] = [];
    for (const [area, what, align, length] of areas) {
      const addr = this.address(area);
      if (addr === undefined || !memory.contains(addr, length)) {
        const shown = addr === undefined ? `above 2^53` : `at ${hex(addr)}`;
        return this.#error(
          "area-outside-memory",
          `Cannot activate virtqueue ${String(this.index)}: the ${what} ${shown} (${String(length)} bytes) is not inside guest memory`,
          addr,
        );
      }
      if (addr % align !== 0) {
        return this.#error(
          "misaligned-area",
          `Cannot activate virtqueue ${String(this.index)}: the ${what} at ${hex(addr)} is not ${String(align)}-byte aligned`,
          addr,
        );
      }
      at.push(addr);
    }
    this.#desc = at[0] ?? 0;
    this.#avail = at[1] ?? 0;
    this.#used = at[2] ?? 0;
    this.#mask = size - 1;
    this.#features = features;
    this.#nextAvail = this.#nextUsed = this.#signalledUsed = 0;
    this.#memory = memory;
    return undefined;
  }

  // -- device side ---------------------------------------------------------------------------------------------

  /** Whether the driver has made buffers available that the device has not taken yet. */
  hasAvailable(): boolean {
    const memory = this.#memory;
    if (memory === undefined) return false;
    try {
      return memory.readU16(this.#avail + AVAIL_IDX) !== this.#nextAvail;
    } catch {
      return false;
    }
  }

  /** Take the next available chain, after checking it (see the file comment). */
  pop(): PopResult {
    const memory = this.#memory;
    if (memory === undefined) return EMPTY;
    try {
      let availIdx = memory.readU16(this.#avail + AVAIL_IDX);
      if (availIdx === this.#nextAvail) {
        if (!this.#features.eventIdx) return EMPTY;
        // Ask for a notification when the next buffer arrives, then look again: the driver may have published one
        // between the read above and this write, and would then not notify (§2.7.10).
        this.#writeAvailEvent(memory);
        availIdx = memory.readU16(this.#avail + AVAIL_IDX);
        if (availIdx === this.#nextAvail) return EMPTY;
      }
      const pending = (availIdx - this.#nextAvail) & 0xffff;
      if (pending > this.#size) {
        return {
          kind: "error",
          error: this.#error(
            "avail-index",
            `Cannot read virtqueue ${String(this.index)}: avail.idx ${String(availIdx)} is ${String(pending)} entries ahead of the device (${String(this.#nextAvail)}), more than the queue size ${String(this.#size)}`,
          ),
        };
      }
      const slot = this.#nextAvail & this.#mask;
      const head = memory.readU16(this.#avail + AVAIL_RING + 2 * slot);
      this.#nextAvail = (this.#nextAvail + 1) & 0xffff;
      if (this.#features.eventIdx) this.#writeAvailEvent(memory);
      if (head >= this.#size) {
        return {
          kind: "error",
          error: this.#error(
            "head-index",
            `Cannot read virtqueue ${String(this.index)}: available ring slot ${String(slot)} holds head ${String(head)}, outside the ${String(this.#size)}-entry descriptor table`,
            undefined,
            head,
          ),
        };
      }
      return this.#walk(memory, head);
    } catch (cause) {
      return { kind: "error", error: this.#memoryFault("read the available ring", cause) };
    }
  }

  /**
   * Return chain `head` to the driver with `len` bytes written into its device-writable buffers: the element is
   * written before `used.idx` moves (§2.7.8.2).
   */
  addUsed(head: number, len: number): VirtqueueError | undefined {
    const memory = this.#memory;
    if (memory === undefined) return undefined; // the queue was disabled or the device reset meanwhile: drop it
    try {
      const element = this.#used + USED_RING + VIRTQ_USED_ELEM_SIZE * (this.#nextUsed & this.#mask);
      memory.writeU32(element, head);
      memory.writeU32(element + 4, len >>> 0);
      this.#nextUsed = (this.#nextUsed + 1) & 0xffff;
      memory.writeU16(this.#used + USED_IDX, this.#nextUsed);
      return undefined;
    } catch (cause) {
      return this.#memoryFault("write the used ring", cause);
    }
  }

  /**
   * Whether the used buffers added since the last call need a notification (§2.7.7.2). A memory fault here
   * answers true: a spurious notification is harmless (drivers must handle them), a missed one hangs the driver.
   */
  needsNotification(): boolean {
    const memory = this.#memory;
    if (memory === undefined) return false;
    const previous = this.#signalledUsed;
    const current = this.#nextUsed;
    this.#signalledUsed = current;
    if (previous === current) return false;
    try {
      if (this.#features.eventIdx) {
        const usedEvent = memory.readU16(this.#avail + AVAIL_RING + 2 * this.#size);
        // Notify when the entry at index used_event was among those written since the last decision: the
        // unsigned distance from used_event to the new idx is within the batch (Linux's vring_need_event).
        return ((current - usedEvent - 1) & 0xffff) < ((current - previous) & 0xffff);
      }
      return (memory.readU16(this.#avail + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    } catch {
      return true;
    }
  }

  get nextAvail(): number {
    return this.#nextAvail;
  }
  get nextUsed(): number {
    return this.#nextUsed;
  }

  // -- snapshot --------------------------------------------------------------------------------------------------

  snapshot(): VirtqueueState {
    return {
      size: this.#size,
      ready: this.#ready,
      descLow: this.#descLow,
      descHigh: this.#descHigh,
      driverLow: this.#driverLow,
      driverHigh: this.#driverHigh,
      deviceLow: this.#deviceLow,
      deviceHigh: this.#deviceHigh,
      nextAvail: this.#nextAvail,
      nextUsed: this.#nextUsed,
      signalledUsed: this.#signalledUsed,
    };
  }

  /** Restore the configuration and positions; the transport re-activates the queue if the device was running. */
  restoreState(state: VirtqueueState): void {
    this.#size = state.size;
    this.#ready = state.ready;
    this.#descLow = state.descLow;
    this.#descHigh = state.descHigh;
    this.#driverLow = state.driverLow;
    this.#driverHigh = state.driverHigh;
    this.#deviceLow = state.deviceLow;
    this.#deviceHigh = state.deviceHigh;
    this.#memory = undefined;
  }

  /** After `activate` on restore: continue from the snapshot's ring positions instead of 0. */
  restorePositions(state: VirtqueueState): void {
    this.#nextAvail = state.nextAvail & 0xffff;
    this.#nextUsed = state.nextUsed & 0xffff;
    this.#signalledUsed = state.signalledUsed & 0xffff;
  }

  // -- internals -------------------------------------------------------------------------------------------------

  #writeAvailEvent(memory: GuestMemoryAccess): void {
    memory.writeU16(this.#used + USED_RING + VIRTQ_USED_ELEM_SIZE * this.#size, this.#nextAvail);
  }

  /** Walk the chain starting at `head` (an index already checked against the table). */
  #walk(memory: GuestMemoryAccess, head: number): PopResult {
    const queueSize = this.#size;
    const readable: DescriptorBuffer[] = [];
    const writable: DescriptorBuffer[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let buffers = 0;

    let table = this.#desc;
    let tableSize = queueSize;
    let indirect = false;
    let visits = 0;
    let index = head;
    const where = (i: number) => (indirect ? `indirect descriptor ${String(i)}` : `descriptor ${String(i)}`);
    const fail = (kind: VirtqueueErrorKind, detail: string, descriptor: number, address?: number): PopResult => ({
      kind: "error",
      error: this.#error(
        kind,
        `Cannot read the chain at head ${String(head)} of virtqueue ${String(this.index)}: ${detail}`,
        address,
        descriptor,
      ),
    });

    for (;;) {
      // A table has tableSize entries: a walk that needs more visits than that has revisited one (a loop).
      if (++visits > tableSize) {
        return fail(
          "chain-too-long",
          `the walk revisits ${where(index)} (a loop in the ${indirect ? "indirect" : "descriptor"} table of ${String(tableSize)} entries)`,
          index,
        );
      }
      memory.readInto(table + VIRTQ_DESC_SIZE * index, this.#scratch);
      const view = this.#view;
      const addrLow = view.getUint32(0, true);
      const addrHigh = view.getUint32(4, true);
      const len = view.getUint32(8, true);
      const flags = view.getUint16(12, true);
      const next = view.getUint16(14, true);
      const addr = composeAddress(addrLow, addrHigh);

      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (indirect) return fail("nested-indirect", `${where(index)} points to another indirect table`, index);
        if (!this.#features.indirect)
          return fail(
            "indirect-not-negotiated",
            `${where(index)} is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated`,
            index,
          );
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0)
          return fail("indirect-with-next", `${where(index)} has both INDIRECT and NEXT set`, index);
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) {
          return fail(
            "indirect-table-length",
            `${where(index)} has an indirect table of ${String(len)} bytes, not a non-zero multiple of ${String(VIRTQ_DESC_SIZE)}`,
            index,
          );
        }
        if (addr === undefined || !memory.contains(addr, len)) {
          return fail(
            "indirect-table-outside-memory",
            `the indirect table of ${where(index)} (${addr === undefined ? "above 2^53" : hex(addr)}, ${String(len)} bytes) is not inside guest memory`,
            index,
            addr,
          );
        }
        // The write flag of the descriptor that points to a table is ignored (§2.7.5.3.2).
        table = addr;
        tableSize = len / VIRTQ_DESC_SIZE;
        indirect = true;
        visits = 0;
        index = 0;
        continue;
      }

      if (++buffers > queueSize) {
        return fail("chain-too-long", `the chain has more than ${String(queueSize)} buffers (the queue size)`, index);
      }
      if (len > 0 && (addr === undefined || !memory.contains(addr, len))) {
        return fail(
          "buffer-outside-memory",
          `${where(index)} (${addr === undefined ? "above 2^53" : hex(addr)}, ${String(len)} bytes) is not inside guest memory`,
          index,
          addr,
        );
      }
      const buffer: DescriptorBuffer = { addr: addr ?? 0, len };
      if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
        writable.push(buffer);
        writableLength += len;
      } else {
        if (writable.length > 0)
          return fail(
            "readable-after-writable",
            `${where(index)} is device-readable but follows a device-writable buffer`,
            index,
          );
        readable.push(buffer);
        readableLength += len;
      }
      if (readableLength + writableLength > VIRTQ_MAX_CHAIN_BYTES) {
        return fail(
          "chain-too-large",
          `the chain describes ${String(readableLength + writableLength)} bytes, more than 2^32 - 1`,
          index,
        );
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (next >= tableSize) {
        return fail(
          "next-index",
          `${where(index)} chains to ${String(next)}, outside the ${String(tableSize)}-entry ${indirect ? "indirect" : "descriptor"} table`,
          index,
        );
      }
      index = next;
    }
    return {
      kind: "chain",
      chain: new DescriptorChain(memory, head, readable, writable, readableLength, writableLength),
    };
  }

  #error(kind: VirtqueueErrorKind, message: string, address?: number, descriptor?: number): VirtqueueError {
    return new VirtqueueError(kind, this.index, message, {
      ...(address === undefined ? {} : { address }),
      ...(descriptor === undefined ? {} : { descriptor }),
    });
  }

  #memoryFault(action: string, cause: unknown): VirtqueueError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return new VirtqueueError(
      "memory-fault",
      this.index,
      `Cannot ${action} of virtqueue ${String(this.index)}: guest memory refused the access (${detail})`,
      { cause },
    );
  }
}
