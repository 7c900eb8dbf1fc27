/**
 * Firecracker's boot-timer device: a guest init writes the byte 123 at offset 0 when it starts, and the VMM logs
 * the time since the VM started (Firecracker `devices/pseudo/boot_timer.rs`; its MMIO base is 0xC000_0000 on
 * x86). The device only reports the signal; timing and logging are the VMM's.
 */

import type { BusDevice, DeviceStats, Snapshottable } from "./types.ts";

/** The value a guest writes to say "boot complete". */
export const MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE = 123;
export const BOOT_TIMER_OFFSET = 0x0;
/** Firecracker maps one page for it. */
export const BOOT_TIMER_WINDOW_SIZE = 0x1000;

export interface BootTimerOptions {
  readonly onBootComplete: () => void;
}

export interface BootTimerStats extends DeviceStats {
  /** Boot-complete signals received. */
  bootSignals: number;
  /** Writes that were not the signal (other values or offsets); ignored. */
  ignoredWrites: number;
  /** Reads (always 0). */
  reads: number;
}

export interface BootTimerState {
  readonly bootSignals: number;
}

export class BootTimer implements BusDevice, Snapshottable<BootTimerState> {
  readonly name = "boot-timer";
  readonly windowSize = BOOT_TIMER_WINDOW_SIZE;
  readonly stats: BootTimerStats = { badAccesses: 0, bootSignals: 0, ignoredWrites: 0, reads: 0 };
  readonly #onBootComplete: () => void;

  constructor(options: BootTimerOptions) {
    this.#onBootComplete = options.onBootComplete;
  }

  read(_offset: number, _width: 1 | 2 | 4): number {
    this.stats.reads++;
    return 0;
  }

  write(offset: number, _width: 1 | 2 | 4, value: number): void {
    // Any width is accepted as long as the whole value is the magic number (a byte store is the usual form).
    if (offset !== BOOT_TIMER_OFFSET || value !== MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE) {
      this.stats.ignoredWrites++;
      return;
    }
    this.stats.bootSignals++;
    this.#onBootComplete();
  }

  snapshot(): BootTimerState {
    return { bootSignals: this.stats.bootSignals };
  }

  restore(state: BootTimerState): void {
    this.stats.bootSignals = state.bootSignals;
  }
}
