/**
 * TAP network interfaces for virtio-net (Linux): the VMM's end of a host Ethernet link.
 *
 * `TapDevice.open(name)` opens /dev/net/tun and attaches to the TAP interface `name` (`TUNSETIFF` with IFF_TAP |
 * IFF_NO_PI: whole Ethernet frames, no packet-information prefix, no virtio-net header, so no offloads). An
 * interface that does not exist is created by that same call when we may (CAP_NET_ADMIN: root); it then lives as
 * long as this descriptor and starts down, like QEMU's `-netdev tap,script=no`: the host side configures it. An
 * existing TAP (`ip tuntap add dev NAME mode tap [user USER]`) is attached to, which needs no privilege when it
 * belongs to our user. The descriptor is non-blocking.
 *
 * - Transmit: `send(frame)` writes one frame from the calling thread (a TAP write never waits; the host kernel
 *   takes the frame or drops it, and a failure is counted, not thrown: a guest-triggered path).
 * - Receive: a reader thread (tap-reader.ts) waits in poll() and moves frames into a shared ring (frame-ring.ts);
 *   `pending`/`receive` take them from the ring on the VMM's thread, and the receive listener is called (from the
 *   event loop, in a later turn) whenever frames arrived since it was last called. While the ring is full the
 *   reader stops reading, so a guest that posts no receive buffers pushes back on the host's queue.
 */

import { closeSync, constants, existsSync, openSync } from "node:fs";
import type { HostWakeChannel } from "../types.ts";
import { HostError } from "./errors.ts";
import {
  createFrameRingBuffers,
  FrameRing,
  MAX_FRAME_BYTES,
  RING_ERRNO,
  RING_READ,
  RING_STATE,
  RING_STOP,
  RING_WRITE,
  STATE_EXITED,
  STATE_FAILED,
  STATE_READY,
  STATE_STARTING,
} from "./frame-ring.ts";
import {
  closeDescriptor,
  createEventfd,
  IFF_NO_PI,
  IFF_TAP,
  IFNAMSIZ,
  signalEventfd,
  tunGetInterface,
  tunSetInterface,
  writeFrame,
} from "./sys.ts";
import type { TapReaderInit } from "./tap-reader.ts";

export const TUN_DEVICE = "/dev/net/tun";

// errno values (Linux).
const EPERM = 1;
const ENOENT = 2;
const EACCES = 13;
const EBUSY = 16;
const ENODEV = 19;
const EINVAL = 22;

/** How long `close` waits for the reader thread to leave its loop. */
const STOP_TIMEOUT_MS = 2000;

export interface TapStats {
  /** Frames and bytes written to the TAP. */
  txFrames: number;
  txBytes: number;
  /** Frames the host refused (write failed) or that were cut short. */
  txErrors: number;
  /** Frames and bytes taken from the reader's ring. */
  rxFrames: number;
  rxBytes: number;
  /** Frames thrown away unread (`discardPending`: nobody to receive them). */
  rxDiscarded: number;
}

/**
 * Why a name cannot be an interface name, or undefined. Linux's rules (dev_valid_name): 1..15 bytes, not "." or
 * "..", no "/", ":" or white space.
 */
export function interfaceNameProblem(name: string): string | undefined {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0) return "is empty";
  if (bytes >= IFNAMSIZ) return `is ${bytes} bytes long; interface names have at most ${IFNAMSIZ - 1}`;
  if (name === "." || name === "..") return `is "${name}", which no interface may be called`;
  if (/[/:\s\0]/.test(name)) return 'contains "/", ":", a NUL or white space, which interface names may not';
  return undefined;
}

// -- the reader thread pool --------------------------------------------------------------------------------------

const idleReaders: Worker[] = [];
const MAX_IDLE_READERS = 16;

function acquireReader(): Worker {
  const reused = idleReaders.pop();
  if (reused !== undefined) return reused;
  const worker = new Worker(new URL("./tap-reader.ts", import.meta.url).href);
  worker.unref();
  return worker;
}

function releaseReader(worker: Worker): void {
  if (idleReaders.length < MAX_IDLE_READERS) idleReaders.push(worker);
  else worker.terminate();
}

// -- the device ----------------------------------------------------------------------------------------------------

export interface TapOpenOptions {
  /** Called once, from the event loop, if the reader thread stops by itself (the interface was deleted, ...). */
  readonly onReaderFailure?: (message: string) => void;
  /** Bytes of frames the reader may hold for the VMM (a power of two). */
  readonly ringBytes?: number;
  /**
   * The VM's `HalVm.hostWake`, when it has one: the reader then interrupts a vCPU run that blocks the VMM's thread
   * whenever frames arrive (otherwise they would wait for the run to end by itself, up to the backend's slice).
   */
  readonly hostWake?: HostWakeChannel | undefined;
}

export class TapDevice implements Disposable {
  /** The interface name. */
  readonly name: string;
  /** This open created the interface (it goes away when it is closed), rather than attaching to one that existed. */
  readonly created: boolean;
  readonly stats: TapStats = { txFrames: 0, txBytes: 0, txErrors: 0, rxFrames: 0, rxBytes: 0, rxDiscarded: 0 };
  readonly #fd: number;
  readonly #wakeFd: number;
  readonly #ring: FrameRing;
  readonly #reader: Worker;
  readonly #onReaderFailure: ((message: string) => void) | undefined;
  #listener: (() => void) | undefined;
  #armed = false;
  #closed = false;
  #failureReported = false;

  private constructor(name: string, created: boolean, fd: number, options: TapOpenOptions) {
    this.name = name;
    this.created = created;
    this.#fd = fd;
    this.#onReaderFailure = options.onReaderFailure;
    const buffers = createFrameRingBuffers(options.ringBytes);
    this.#ring = new FrameRing(buffers);
    this.#wakeFd = createEventfd();
    try {
      this.#reader = acquireReader();
      const init: TapReaderInit = {
        tapFd: fd,
        wakeFd: this.#wakeFd,
        ring: buffers,
        ...(options.hostWake === undefined ? {} : { hostWake: options.hostWake.control }),
      };
      this.#reader.postMessage(init);
    } catch (error) {
      closeDescriptor(this.#wakeFd);
      throw error;
    }
  }

  /**
   * Attach to TAP `name`, creating it if it does not exist and we may. Throws `HostError`: "unsupported" (not
   * Linux), "missing" (no /dev/net/tun), "permission" (creating needs CAP_NET_ADMIN, or the TAP is another user's),
   * "busy" (another process is attached), "io" (a name that is not an interface's, an interface that is not a TAP).
   */
  static open(name: string, options: TapOpenOptions = {}): TapDevice {
    const what = `Cannot attach TAP interface "${name}"`;
    const problem = interfaceNameProblem(name);
    if (problem !== undefined) throw new HostError("io", TUN_DEVICE, "TUNSETIFF", `${what}: the name ${problem}`);
    if (process.platform !== "linux") {
      throw new HostError(
        "unsupported",
        TUN_DEVICE,
        "open",
        `${what}: TAP interfaces are a Linux feature, not ${process.platform}'s`,
      );
    }
    const existed = existsSync(`/sys/class/net/${name}`);
    let fd: number;
    try {
      fd = openSync(TUN_DEVICE, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
      if (code === "ENOENT" || code === "ENODEV" || code === "ENXIO") {
        throw new HostError(
          "missing",
          TUN_DEVICE,
          "open",
          `${what}: ${TUN_DEVICE} is missing (${code}; load the tun module: modprobe tun)`,
          { cause: error },
        );
      }
      if (code === "EACCES" || code === "EPERM") {
        throw new HostError(
          "permission",
          TUN_DEVICE,
          "open",
          `${what}: ${TUN_DEVICE} cannot be opened by this user (${code})`,
          { cause: error },
        );
      }
      throw new HostError("io", TUN_DEVICE, "open", `${what}: opening ${TUN_DEVICE} failed (${code})`, {
        cause: error,
      });
    }
    try {
      const errno = tunSetInterface(fd, name, IFF_TAP | IFF_NO_PI);
      if (errno !== 0) throw tunSetError(what, name, existed, errno);
      const attached = tunGetInterface(fd);
      if ("errno" in attached || (attached.flags & IFF_TAP) === 0) {
        throw new HostError(
          "io",
          TUN_DEVICE,
          "TUNGETIFF",
          `${what}: the descriptor is not attached to a TAP afterwards`,
        );
      }
      return new TapDevice(attached.name, !existed, fd, options);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Hand one frame to the host network. False when the host refused it (counted); never throws for the guest. */
  send(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    const n = writeFrame(this.#fd, frame);
    if (n !== frame.length) {
      this.stats.txErrors++;
      return false;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    return true;
  }

  /** Whether a received frame waits. */
  pending(): boolean {
    return !this.#closed && this.#ring.pending();
  }

  /** The length of the next received frame, or undefined. */
  peekLength(): number | undefined {
    return this.#closed ? undefined : this.#ring.peekLength();
  }

  /** Take the next received frame into `target` (at least `MAX_FRAME_BYTES`); its length, or 0 when none waits. */
  receive(target: Uint8Array): number {
    if (this.#closed) return 0;
    const n = this.#ring.take(target);
    if (n > 0) {
      this.stats.rxFrames++;
      this.stats.rxBytes += n;
    }
    return n;
  }

  /** Throw away every frame waiting (nobody can receive them); returns how many. */
  discardPending(): number {
    let n = 0;
    while (!this.#closed && this.#ring.skip()) n++;
    this.stats.rxDiscarded += n;
    return n;
  }

  /** The largest frame `receive` may return: the size its target needs. */
  get maxFrameBytes(): number {
    return MAX_FRAME_BYTES;
  }

  /**
   * Be called (in a later turn of the event loop) whenever frames arrived since the last call, or `undefined` to
   * stop. Frames already waiting when the listener is set cause one call.
   */
  setReceiveListener(listener: (() => void) | undefined): void {
    this.#listener = listener;
    if (listener !== undefined) this.#arm(Atomics.load(this.#ring.control, RING_READ));
  }

  /** Why the reader thread stopped by itself, if it did. */
  readerFailure(): string | undefined {
    const state = Atomics.load(this.#ring.control, RING_STATE);
    if (state !== STATE_FAILED) return undefined;
    const errno = Atomics.load(this.#ring.control, RING_ERRNO);
    return errno > 0
      ? `reading TAP "${this.name}" failed (errno ${errno})`
      : `TAP "${this.name}" went away (the interface was deleted, or its reader failed)`;
  }

  /**
   * Wait for WRITE to move past `seen`, then call the listener. `seen` is the value before the listener last ran,
   * so frames published while it ran (and perhaps not taken) cause another call; frames it left waiting because
   * the guest had no buffers cause none (the device takes them when the guest posts buffers).
   */
  #arm(seen: number): void {
    if (this.#armed || this.#closed || this.#listener === undefined) return;
    this.#armed = true;
    const fire = (): void => {
      this.#armed = false;
      if (this.#closed || this.#listener === undefined) return;
      const failure = this.readerFailure();
      if (failure !== undefined && !this.#failureReported) {
        this.#failureReported = true;
        this.#onReaderFailure?.(failure);
      }
      const before = Atomics.load(this.#ring.control, RING_WRITE);
      this.#listener();
      if (failure === undefined) this.#arm(before);
    };
    const wait = Atomics.waitAsync(this.#ring.control, RING_WRITE, seen);
    // Already moved (or waitAsync woke without a change, which Bun does now and then): look in a later turn.
    if (!wait.async) setImmediate(fire);
    else
      void wait.value.then(() => {
        if (
          Atomics.load(this.#ring.control, RING_WRITE) === seen &&
          !this.#closed &&
          this.readerFailure() === undefined
        ) {
          this.#armed = false;
          this.#arm(seen);
          return;
        }
        fire();
      });
  }

  /** Stop the reader thread, close the descriptor (a TAP this open created goes away). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener = undefined;
    const control = this.#ring.control;
    Atomics.store(control, RING_STOP, 1);
    signalEventfd(this.#wakeFd);
    Atomics.notify(control, RING_READ);
    const deadline = performance.now() + STOP_TIMEOUT_MS;
    for (;;) {
      const state = Atomics.load(control, RING_STATE);
      if (state !== STATE_STARTING && state !== STATE_READY) break;
      if (performance.now() >= deadline) break;
      Atomics.wait(control, RING_STATE, state, 10);
      Atomics.notify(control, RING_READ);
    }
    const state = Atomics.load(control, RING_STATE);
    if (state === STATE_EXITED || state === STATE_FAILED) releaseReader(this.#reader);
    else this.#reader.terminate();
    // Wake a waitAsync still pending on WRITE, which then sees the device closed.
    Atomics.notify(control, RING_WRITE);
    closeSync(this.#fd);
    closeDescriptor(this.#wakeFd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function tunSetError(what: string, name: string, existed: boolean, errno: number): HostError {
  const isRoot = process.getuid?.() === 0;
  switch (errno) {
    case EPERM:
    case EACCES:
      return new HostError(
        "permission",
        TUN_DEVICE,
        "TUNSETIFF",
        existed
          ? `${what}: it belongs to another user or group (create it for this one: ip tuntap add dev ${name} mode tap user $(id -un))`
          : `${what}: it does not exist, and creating it needs CAP_NET_ADMIN${isRoot ? "" : " (run as root, or create it first: ip tuntap add dev NAME mode tap user $(id -un))"}`.replace(
              "NAME",
              name,
            ),
        { errno },
      );
    case EBUSY:
      return new HostError(
        "busy",
        TUN_DEVICE,
        "TUNSETIFF",
        `${what}: another process is attached to it (a TAP without multi_queue has one user)`,
        { errno },
      );
    case EINVAL:
      return new HostError(
        "io",
        TUN_DEVICE,
        "TUNSETIFF",
        `${what}: an interface of that name exists and is not a TAP (a TUN, or another kind of link)`,
        { errno },
      );
    case ENODEV:
    case ENOENT:
      return new HostError(
        "missing",
        TUN_DEVICE,
        "TUNSETIFF",
        `${what}: the kernel has no TUN/TAP support (errno ${errno})`,
        { errno },
      );
    default:
      return new HostError("io", TUN_DEVICE, "TUNSETIFF", `${what}: TUNSETIFF failed (errno ${errno})`, { errno });
  }
}
