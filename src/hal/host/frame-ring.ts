/**
 * A ring of network frames in shared memory, from one producer thread (a TAP's reader, tap-reader.ts) to one
 * consumer (the VMM's thread, tap.ts). Frames keep their boundaries: each is a record of a 32-bit length and the
 * bytes, padded to 4 bytes, never split across the end of the ring (a record that would be is preceded by a wrap
 * marker, and the producer starts again at offset 0).
 *
 * Control block (an Int32Array over its own SharedArrayBuffer; every access through Atomics):
 *   WRITE     bytes the producer has published (free-running, modulo 2^32); Atomics.notify after each batch
 *   READ      bytes the consumer has taken (free-running); Atomics.notify after each take (the producer waits for
 *             room on it when the ring is full, so a guest without receive buffers pushes back on the host)
 *   STOP      set by the consumer to end the producer's loop
 *   STATE     the producer's state (STATE_*)
 *   ERRNO     the errno that ended the producer (STATE_FAILED)
 *   FRAMES    frames published
 *
 * Why this and not a message per frame: a frame costs one copy into the ring and two atomic stores, with one
 * notification per batch of frames read in a row; the consumer learns about new frames through Atomics.waitAsync
 * on WRITE, which needs no timer and no polling (an idle VM costs nothing).
 */

/**
 * The largest frame the ring carries: a TAP's largest MTU (65535) plus an Ethernet header and a VLAN tag (65553),
 * rounded up. The reader reads into a buffer of this size, so no frame a TAP gives is ever truncated.
 */
export const MAX_FRAME_BYTES = 0x1_0100;
/** Default bytes of frames the ring holds (about 170 full-size 1514-byte frames). */
export const DEFAULT_RING_BYTES = 0x4_0000;

export const RING_WRITE = 0;
export const RING_READ = 1;
export const RING_STOP = 2;
export const RING_STATE = 3;
export const RING_ERRNO = 4;
export const RING_FRAMES = 5;
export const RING_CONTROL_SLOTS = 6;

export const STATE_STARTING = 0;
export const STATE_READY = 1;
export const STATE_FAILED = 2;
export const STATE_EXITED = 3;

/** A record header that says "the rest of the ring is unused: go on at offset 0". */
const WRAP_MARKER = 0xffff_ffff;
const HEADER_BYTES = 4;

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** The shared parts of one ring: what the consumer hands the producer thread. */
export interface FrameRingBuffers {
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

export function createFrameRingBuffers(capacity = DEFAULT_RING_BYTES): FrameRingBuffers {
  if (
    !Number.isInteger(capacity) ||
    capacity < 2 * (MAX_FRAME_BYTES + HEADER_BYTES) ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot make a frame ring of ${capacity} bytes: it must be a power of two holding two frames of ${MAX_FRAME_BYTES} bytes`,
    );
  }
  return { control: new SharedArrayBuffer(RING_CONTROL_SLOTS * 4), data: new SharedArrayBuffer(capacity) };
}

/** One side's view of a ring: the producer uses `tryPush`, the consumer `pending`, `peekLength` and `take`. */
export class FrameRing {
  readonly control: Int32Array;
  readonly capacity: number;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(buffers: FrameRingBuffers) {
    this.control = new Int32Array(buffers.control);
    if (this.control.length < RING_CONTROL_SLOTS) throw new RangeError("frame ring: the control block is too small");
    this.#bytes = new Uint8Array(buffers.data);
    this.#view = new DataView(buffers.data);
    this.capacity = this.#bytes.length;
  }

  /** Bytes published and not taken yet (records, padding and wrap markers included). */
  usedBytes(): number {
    return (Atomics.load(this.control, RING_WRITE) - Atomics.load(this.control, RING_READ)) >>> 0;
  }

  // -- producer --------------------------------------------------------------------------------------------------

  /**
   * Append `frame` if it fits now; returns false when the ring lacks room (the consumer has not caught up).
   * Publishes the frame (WRITE moves); the caller notifies WRITE once per batch (`publish`).
   */
  tryPush(frame: Uint8Array): boolean {
    if (frame.length > MAX_FRAME_BYTES) throw new RangeError(`frame ring: a ${frame.length}-byte frame is too long`);
    const write = Atomics.load(this.control, RING_WRITE) >>> 0;
    const used = (write - (Atomics.load(this.control, RING_READ) >>> 0)) >>> 0;
    const at = write & (this.capacity - 1);
    const record = HEADER_BYTES + align4(frame.length);
    const tail = this.capacity - at;
    const waste = tail < record ? tail : 0;
    if (used + waste + record > this.capacity) return false;
    let start = at;
    if (waste > 0) {
      this.#view.setUint32(at, WRAP_MARKER, true);
      start = 0;
    }
    this.#view.setUint32(start, frame.length, true);
    this.#bytes.set(frame, start + HEADER_BYTES);
    // The store publishes the bytes above (Atomics are sequentially consistent).
    Atomics.store(this.control, RING_WRITE, (write + waste + record) | 0);
    Atomics.add(this.control, RING_FRAMES, 1);
    return true;
  }

  /** Wake a consumer waiting for frames. */
  publish(): void {
    Atomics.notify(this.control, RING_WRITE);
  }

  // -- consumer --------------------------------------------------------------------------------------------------

  /** Whether a frame waits. */
  pending(): boolean {
    return Atomics.load(this.control, RING_WRITE) !== Atomics.load(this.control, RING_READ);
  }

  /** The length of the next frame, or undefined when none waits. */
  peekLength(): number | undefined {
    const located = this.#next();
    return located?.length;
  }

  /** Copy the next frame into `target` (which must hold MAX_FRAME_BYTES) and drop it; its length, or 0 if none. */
  take(target: Uint8Array): number {
    const located = this.#next();
    if (located === undefined) return 0;
    if (target.length < located.length) {
      throw new RangeError(`frame ring: a ${target.length}-byte buffer cannot hold a ${located.length}-byte frame`);
    }
    target.set(this.#bytes.subarray(located.start + HEADER_BYTES, located.start + HEADER_BYTES + located.length));
    this.#drop(located);
    return located.length;
  }

  /** Drop the next frame without copying it; returns whether there was one. */
  skip(): boolean {
    const located = this.#next();
    if (located === undefined) return false;
    this.#drop(located);
    return true;
  }

  /** Find the next record, stepping over a wrap marker. */
  #next(): { start: number; length: number; consumed: number } | undefined {
    const read = Atomics.load(this.control, RING_READ) >>> 0;
    const write = Atomics.load(this.control, RING_WRITE) >>> 0;
    if (read === write) return undefined;
    let at = read & (this.capacity - 1);
    let consumed = 0;
    let length = this.#view.getUint32(at, true);
    if (length === WRAP_MARKER) {
      consumed = this.capacity - at;
      at = 0;
      length = this.#view.getUint32(0, true);
    }
    if (length > MAX_FRAME_BYTES) {
      // Only a bug in the producer gets here (it checks lengths); resynchronise rather than read garbage.
      throw new RangeError(`frame ring: a record of ${length} bytes at ${at} is corrupt`);
    }
    return { start: at, length, consumed: consumed + HEADER_BYTES + align4(length) };
  }

  #drop(located: { consumed: number }): void {
    const read = Atomics.load(this.control, RING_READ) >>> 0;
    Atomics.store(this.control, RING_READ, (read + located.consumed) | 0);
    // A producer waiting for room learns there is some.
    Atomics.notify(this.control, RING_READ);
  }
}
