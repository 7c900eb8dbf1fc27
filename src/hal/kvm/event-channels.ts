/**
 * `HalEventChannels` on KVM: virtio notifications through KVM_IOEVENTFD and level interrupt lines through KVM_IRQFD
 * with resample, so neither needs a vCPU exit nor a KVM_IRQ_LINE round trip through the VMM.
 *
 * - `watchMmioWrite(addr, 4, value, onWrite)`: an eventfd KVM signals when the guest writes `value` at `addr` (the
 *   write completes inside the kernel; the vCPU goes on running). The watcher thread (eventfd-watcher.ts) sees the
 *   eventfd and the VMM's thread calls `onWrite`.
 * - `levelIrqLine(line)`: an irqfd with a resamplefd. Asserting writes the irqfd: KVM raises the line and holds it
 *   until the guest's EOI, then lowers it and signals the resamplefd; the VMM's thread then asserts it again if
 *   the device's level is still high (the virtio-mmio line is level: high while InterruptStatus is non-zero). A
 *   level that falls needs nothing: KVM lowers the line at the EOI.
 *
 * Callbacks run on the VMM's thread only: when the watcher's Atomics.notify wakes a waitAsync there (a later turn of
 * its event loop), or synchronously through `dispatch()` (a caller-thread vCPU calls it before re-entering the
 * guest, having been kicked out of KVM_RUN by the watcher). Every channel is registered before the VM's first run
 * (`start`); their eventfds are closed with the VM.
 */

import { HalError, type HalEventChannels } from "../types.ts";
import {
  KVM_IOEVENTFD,
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOEVENTFD_LAYOUT,
  KVM_IRQFD,
  KVM_IRQFD_FLAG_RESAMPLE,
  KVM_IRQFD_LAYOUT,
} from "./abi.ts";
import { acquireHelperThread, releaseHelperThread } from "./run-pool.ts";
import { STATE_EXITED, STATE_FAILED, STATE_READY, STATE_STARTING } from "./run-protocol.ts";
import * as sys from "./sys.ts";
import { WAKE_HOST_SEQ } from "./wake-protocol.ts";
import { type EventfdWatcherInit, WATCH_SLOTS, WATCH_STATE, WATCH_STOP } from "./watcher-protocol.ts";

/** How long `close` waits for the watcher thread to leave its loop. */
const STOP_TIMEOUT_MS = 2000;

interface Channel {
  readonly fd: number;
  readonly onEvent: () => void;
}

export interface KvmEventChannelStats {
  /** Guest notifications delivered through ioeventfds (each a write that did not exit). */
  notifications: number;
  /** irqfd assertions, and the resamples that asserted the line again. */
  irqAssertions: number;
  irqResamples: number;
}

export class KvmEventChannels implements HalEventChannels {
  readonly stats: KvmEventChannelStats = { notifications: 0, irqAssertions: 0, irqResamples: 0 };
  readonly #vmFd: number;
  readonly #irqfdGsi: (line: number) => number;
  readonly #wake: Int32Array;
  readonly #channels: Channel[] = [];
  /** irqfds (they are written, never polled). */
  readonly #irqfds: number[] = [];
  #watcher: { worker: Worker; control: Int32Array; fired: Int32Array; stopFd: number } | undefined;
  #armed = false;
  #closed = false;
  #failure: unknown;

  constructor(vmFd: number, irqfdGsi: (line: number) => number, wake: Int32Array) {
    this.#vmFd = vmFd;
    this.#irqfdGsi = irqfdGsi;
    this.#wake = wake;
  }

  /** A callback threw (a bug in the VMM): the first such error, for the vCPU to stop the VM with. */
  get failure(): unknown {
    return this.#failure;
  }

  watchMmioWrite(addr: number, width: 4, value: number, onWrite: () => void): void {
    this.#checkRegistration("KVM_IOEVENTFD");
    if (
      !Number.isSafeInteger(addr) ||
      addr < 0 ||
      width !== 4 ||
      !Number.isInteger(value) ||
      value < 0 ||
      value > 0xffff_ffff
    ) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_IOEVENTFD",
        `Cannot watch a ${width}-byte write of ${value} at 0x${addr.toString(16)}`,
      );
    }
    const fd = sys.eventfd(0, sys.EFD_NONBLOCK);
    try {
      const args = new Uint8Array(KVM_IOEVENTFD_LAYOUT.size);
      const view = new DataView(args.buffer);
      const F = KVM_IOEVENTFD_LAYOUT.fields;
      view.setBigUint64(F.datamatch.offset, BigInt(value), true);
      view.setBigUint64(F.addr.offset, BigInt(addr), true);
      view.setUint32(F.len.offset, width, true);
      view.setInt32(F.fd.offset, fd, true);
      view.setUint32(F.flags.offset, KVM_IOEVENTFD_FLAG_DATAMATCH, true);
      sys.ioctlBuf(this.#vmFd, KVM_IOEVENTFD, args);
    } catch (error) {
      sys.close(fd);
      throw error;
    }
    this.#channels.push({
      fd,
      onEvent: () => {
        this.stats.notifications++;
        onWrite();
      },
    });
  }

  levelIrqLine(line: number): (level: boolean) => void {
    this.#checkRegistration("KVM_IRQFD");
    const gsi = this.#irqfdGsi(line);
    const irqfd = sys.eventfd(0, sys.EFD_NONBLOCK);
    let resamplefd: number;
    try {
      resamplefd = sys.eventfd(0, sys.EFD_NONBLOCK);
    } catch (error) {
      sys.close(irqfd);
      throw error;
    }
    try {
      const args = new Uint8Array(KVM_IRQFD_LAYOUT.size);
      const view = new DataView(args.buffer);
      const F = KVM_IRQFD_LAYOUT.fields;
      view.setUint32(F.fd.offset, irqfd, true);
      view.setUint32(F.gsi.offset, gsi, true);
      view.setUint32(F.flags.offset, KVM_IRQFD_FLAG_RESAMPLE, true);
      view.setUint32(F.resamplefd.offset, resamplefd, true);
      sys.ioctlBuf(this.#vmFd, KVM_IRQFD, args);
    } catch (error) {
      sys.close(irqfd);
      sys.close(resamplefd);
      throw error;
    }
    this.#irqfds.push(irqfd);
    let level = false;
    const assert = (): void => {
      if (this.#closed) return;
      this.stats.irqAssertions++;
      sys.eventfdWrite(irqfd, 1n);
    };
    this.#channels.push({
      fd: resamplefd,
      onEvent: () => {
        // The guest ended the interrupt and KVM lowered the line: raise it again while the device wants service.
        if (!level) return;
        this.stats.irqResamples++;
        assert();
      },
    });
    return (next: boolean) => {
      level = next;
      if (next) assert();
    };
  }

  /** Start the watcher (once, before the VM's first run); nothing to do without channels. */
  start(): void {
    if (this.#watcher !== undefined || this.#closed || this.#channels.length === 0) return;
    const control = new Int32Array(new SharedArrayBuffer(WATCH_SLOTS * 4));
    const fired = new Int32Array(new SharedArrayBuffer(Math.ceil(this.#channels.length / 32) * 4));
    const stopFd = sys.eventfd(0, sys.EFD_NONBLOCK);
    const worker = acquireHelperThread("eventfd-watcher");
    this.#watcher = { worker, control, fired, stopFd };
    const init: EventfdWatcherInit = {
      fds: this.#channels.map((c) => c.fd),
      stopFd,
      control: control.buffer as SharedArrayBuffer,
      fired: fired.buffer as SharedArrayBuffer,
      wake: this.#wake.buffer as SharedArrayBuffer,
    };
    worker.postMessage(init);
    this.#arm(Atomics.load(this.#wake, WAKE_HOST_SEQ));
  }

  /** Run the callbacks of every channel that fired since the last call (on the VMM's thread). */
  dispatch(): void {
    const watcher = this.#watcher;
    if (watcher === undefined || this.#closed) return;
    const { fired } = watcher;
    for (let word = 0; word < fired.length; word++) {
      let bits = Atomics.exchange(fired, word, 0);
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits);
        bits &= ~(1 << bit);
        const channel = this.#channels[word * 32 + bit];
        try {
          channel?.onEvent();
        } catch (error) {
          this.#failure ??= error;
        }
      }
    }
  }

  /** Wait (without blocking) for HOST_SEQ to move past `seen`, then dispatch, and wait again. */
  #arm(seen: number): void {
    if (this.#armed || this.#closed) return;
    this.#armed = true;
    const fire = (): void => {
      this.#armed = false;
      if (this.#closed) return;
      const before = Atomics.load(this.#wake, WAKE_HOST_SEQ);
      this.dispatch();
      this.#arm(before);
    };
    const wait = Atomics.waitAsync(this.#wake, WAKE_HOST_SEQ, seen);
    if (!wait.async) setImmediate(fire);
    else void wait.value.then(fire);
  }

  #checkRegistration(operation: string): void {
    if (this.#closed) throw new HalError("kvm", "state", operation, "Cannot add an event channel: the VM is closed");
    if (this.#watcher !== undefined) {
      throw new HalError("kvm", "state", operation, "Cannot add an event channel once the VM has run");
    }
  }

  /** Stop the watcher and close every eventfd (before the VM fd: KVM drops its ioeventfds and irqfds with the VM). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      const { control, worker, stopFd } = watcher;
      Atomics.store(control, WATCH_STOP, 1);
      sys.eventfdWrite(stopFd, 1n);
      const deadline = performance.now() + STOP_TIMEOUT_MS;
      for (;;) {
        const state = Atomics.load(control, WATCH_STATE);
        if ((state !== STATE_STARTING && state !== STATE_READY) || performance.now() >= deadline) break;
        Atomics.wait(control, WATCH_STATE, state, 10);
      }
      const state = Atomics.load(control, WATCH_STATE);
      if (state === STATE_EXITED || state === STATE_FAILED) releaseHelperThread("eventfd-watcher", worker);
      else worker.terminate();
      sys.close(stopFd);
      // A waitAsync still pending on HOST_SEQ resolves and finds the channels closed.
      Atomics.notify(this.#wake, WAKE_HOST_SEQ);
    }
    for (const channel of this.#channels) sys.close(channel.fd);
    for (const fd of this.#irqfds) sys.close(fd);
    this.#channels.length = 0;
  }
}
