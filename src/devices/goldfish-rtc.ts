/**
 * The Goldfish real-time clock (Android's emulator RTC; QEMU `hw/rtc/goldfish_rtc.c`, on QEMU's RISC-V `virt` at
 * 0x10_1000), the wall clock Linux's `rtc-goldfish` driver reads at boot so a guest does not start in 1970.
 *
 * Registers (32-bit, little-endian; every other width or offset is ignored and counted):
 *
 *   0x00 TIME_LOW         read: the low word of the time in ns since the epoch; latches the high word
 *                         write: set the time to (latched high word << 32) | value
 *   0x04 TIME_HIGH        read: the latched high word; write: set the latched high word (then write TIME_LOW)
 *   0x08 ALARM_LOW        read: low word of the alarm; write: set it and arm the alarm
 *   0x0c ALARM_HIGH       read/write: high word of the alarm (write it first)
 *   0x10 IRQ_ENABLED      bit 0: the interrupt line follows a fired alarm
 *   0x14 CLEAR_ALARM      write: disarm the alarm
 *   0x18 ALARM_STATUS     read: 1 while the alarm is armed
 *   0x1c CLEAR_INTERRUPT  write: drop a fired alarm's interrupt
 *
 * The time is an injected clock (the host's wall clock by default) plus the offset a guest's writes set. An armed
 * alarm fires when the time reaches it (at arming if it is already past): the interrupt is pending until cleared
 * and the line is high while it is pending and enabled. The device cannot watch the clock itself: whoever owns a
 * timer calls `tick()` at `alarmDeadline()` (the VMM's timer wheel) and between guest runs.
 */

import { U64_MASK } from "../common/u64.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const GOLDFISH_RTC_TIME_LOW = 0x00;
export const GOLDFISH_RTC_TIME_HIGH = 0x04;
export const GOLDFISH_RTC_ALARM_LOW = 0x08;
export const GOLDFISH_RTC_ALARM_HIGH = 0x0c;
export const GOLDFISH_RTC_IRQ_ENABLED = 0x10;
export const GOLDFISH_RTC_CLEAR_ALARM = 0x14;
export const GOLDFISH_RTC_ALARM_STATUS = 0x18;
export const GOLDFISH_RTC_CLEAR_INTERRUPT = 0x1c;
/** QEMU virt's window for the device. */
export const GOLDFISH_RTC_WINDOW_SIZE = 0x1000;

const U32 = 0xffff_ffffn;

/** Nanoseconds since the Unix epoch from the host's wall clock (performance.now keeps sub-millisecond steps). */
export function hostWallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

export interface GoldfishRtcOptions {
  readonly irq: IrqLine;
  /** Nanoseconds since the epoch (UTC). Default: the host's wall clock. */
  readonly clock?: () => bigint;
}

export interface GoldfishRtcState {
  /** Nanoseconds added to the clock (guest writes to TIME_*). */
  readonly offsetNs: bigint;
  /** The high word latched by a TIME_LOW read or written to TIME_HIGH. */
  readonly timeHigh: number;
  readonly alarm: bigint;
  readonly alarmArmed: boolean;
  readonly irqEnabled: boolean;
  readonly irqPending: boolean;
}

export interface GoldfishRtcStats extends DeviceStats {
  alarmsFired: number;
}

export class GoldfishRtc implements BusDevice, Snapshottable<GoldfishRtcState> {
  readonly name = "goldfish-rtc";
  readonly windowSize = GOLDFISH_RTC_WINDOW_SIZE;
  readonly stats: GoldfishRtcStats = { badAccesses: 0, alarmsFired: 0 };
  readonly #irq: IrqLine;
  readonly #clock: () => bigint;
  #offsetNs = 0n;
  #timeHigh = 0;
  #alarm = 0n;
  #alarmArmed = false;
  #irqEnabled = false;
  #irqPending = false;

  constructor(options: GoldfishRtcOptions) {
    this.#irq = options.irq;
    this.#clock = options.clock ?? hostWallClockNs;
  }

  /** The guest's time: nanoseconds since the epoch, modulo 2^64 as the registers hold it. */
  now(): bigint {
    return (this.#clock() + this.#offsetNs) & U64_MASK;
  }

  /** When the armed alarm fires (in `now()` nanoseconds), or undefined when none is armed. */
  alarmDeadline(): bigint | undefined {
    return this.#alarmArmed ? this.#alarm : undefined;
  }

  /** Fire the alarm if it is armed and due. */
  tick(): void {
    if (this.#alarmArmed && this.now() >= this.#alarm) this.#fire();
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 4) return this.#bad(0);
    switch (offset) {
      case GOLDFISH_RTC_TIME_LOW: {
        const now = this.now();
        this.#timeHigh = Number(now >> 32n);
        return Number(now & U32);
      }
      case GOLDFISH_RTC_TIME_HIGH:
        return this.#timeHigh;
      case GOLDFISH_RTC_ALARM_LOW:
        return Number(this.#alarm & U32);
      case GOLDFISH_RTC_ALARM_HIGH:
        return Number(this.#alarm >> 32n);
      case GOLDFISH_RTC_IRQ_ENABLED:
        return this.#irqEnabled ? 1 : 0;
      case GOLDFISH_RTC_ALARM_STATUS:
        this.tick();
        return this.#alarmArmed ? 1 : 0;
      case GOLDFISH_RTC_CLEAR_ALARM:
      case GOLDFISH_RTC_CLEAR_INTERRUPT:
        return 0; // write-only
      default:
        return this.#bad(0);
    }
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 4) {
      this.#bad(0);
      return;
    }
    const v = BigInt(value >>> 0);
    switch (offset) {
      case GOLDFISH_RTC_TIME_LOW: {
        const wanted = (BigInt(this.#timeHigh) << 32n) | v;
        this.#offsetNs += wanted - this.now();
        return;
      }
      case GOLDFISH_RTC_TIME_HIGH:
        this.#timeHigh = value >>> 0;
        return;
      case GOLDFISH_RTC_ALARM_LOW:
        this.#alarm = (this.#alarm & ~U32 & U64_MASK) | v;
        this.#alarmArmed = true;
        this.tick();
        return;
      case GOLDFISH_RTC_ALARM_HIGH:
        this.#alarm = (this.#alarm & U32) | (v << 32n);
        return;
      case GOLDFISH_RTC_IRQ_ENABLED:
        this.#irqEnabled = (value & 1) !== 0;
        this.#updateLine();
        return;
      case GOLDFISH_RTC_CLEAR_ALARM:
        this.#alarmArmed = false;
        return;
      case GOLDFISH_RTC_CLEAR_INTERRUPT:
        this.#irqPending = false;
        this.#updateLine();
        return;
      default:
        this.#bad(0);
    }
  }

  snapshot(): GoldfishRtcState {
    return {
      offsetNs: this.#offsetNs,
      timeHigh: this.#timeHigh,
      alarm: this.#alarm,
      alarmArmed: this.#alarmArmed,
      irqEnabled: this.#irqEnabled,
      irqPending: this.#irqPending,
    };
  }

  restore(state: GoldfishRtcState): void {
    this.#offsetNs = state.offsetNs;
    this.#timeHigh = state.timeHigh >>> 0;
    this.#alarm = state.alarm & U64_MASK;
    this.#alarmArmed = state.alarmArmed;
    this.#irqEnabled = state.irqEnabled;
    this.#irqPending = state.irqPending;
    this.#updateLine();
  }

  #fire(): void {
    this.#alarmArmed = false;
    this.#irqPending = true;
    this.stats.alarmsFired++;
    this.#updateLine();
  }

  #updateLine(): void {
    this.#irq.set(this.#irqPending && this.#irqEnabled);
  }

  #bad(value: number): number {
    this.stats.badAccesses++;
    return value;
  }
}
