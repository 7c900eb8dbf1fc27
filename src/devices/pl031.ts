/**
 * Arm PrimeCell Real Time Clock (PL031), as the Arm PL031 Technical Reference Manual (DDI 0224) describes it and
 * QEMU's `hw/rtc/pl031.c` behaves on the `virt` board (Linux: `rtc-pl031`, AMBA id 0x00041031).
 *
 *   0x000 RTCDR   data: the current time in seconds (read-only)
 *   0x004 RTCMR   match: an interrupt is raised when the counter reaches it
 *   0x008 RTCLR   load: writing sets the counter
 *   0x00c RTCCR   control: bit 0 starts the counter (reads 1: it runs from reset here, as QEMU's does)
 *   0x010 RTCIMSC interrupt mask (bit 0)     0x014 RTCRIS  raw interrupt status
 *   0x018 RTCMIS  masked status              0x01c RTCICR  interrupt clear (write)
 *   0xfe0..0xffc  peripheral and PrimeCell ids
 *
 * The counter is the injected clock (the host's wall clock by default) plus an offset a guest write to RTCLR
 * sets. The match interrupt is level (RIS & IMSC). A device sees no time pass on its own: `tick()` brings RIS up to
 * date (the board calls it between vCPU runs), and `nextMatchMs()` says when the next match falls, so the board can
 * arm a timer for it; every register access also brings RIS up to date.
 */

import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const PL031_DR = 0x000;
export const PL031_MR = 0x004;
export const PL031_LR = 0x008;
export const PL031_CR = 0x00c;
export const PL031_IMSC = 0x010;
export const PL031_RIS = 0x014;
export const PL031_MIS = 0x018;
export const PL031_ICR = 0x01c;
export const PL031_PERIPH_ID0 = 0xfe0;
export const PL031_WINDOW_SIZE = 0x1000;
/** RTCPeriphID0..3 and RTCPCellID0..3: part 0x031, designer Arm (0x41), revision 0. */
export const PL031_ID_BYTES: readonly number[] = [0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
export const PL031_INT = 1;

export interface Pl031Options {
  /** The match interrupt (level). */
  readonly irq: IrqLine;
  /** Milliseconds since the epoch (UTC). Default `Date.now`. */
  readonly clock?: () => number;
}

export interface Pl031State {
  /** Seconds added to the clock (RTCLR writes). */
  readonly offsetSeconds: number;
  readonly match: number;
  readonly imsc: number;
  readonly ris: number;
}

export class Pl031 implements BusDevice, Snapshottable<Pl031State> {
  readonly name = "pl031";
  readonly windowSize = PL031_WINDOW_SIZE;
  readonly stats: DeviceStats = { badAccesses: 0 };
  readonly #irq: IrqLine;
  readonly #clock: () => number;
  #offsetSeconds = 0;
  #match = 0;
  #imsc = 0;
  #ris = 0;
  /** The counter value last checked against the match register (a match is an event, seen once). */
  #lastChecked: number;
  #irqLevel = false;

  constructor(options: Pl031Options) {
    this.#irq = options.irq;
    this.#clock = options.clock ?? Date.now;
    this.#lastChecked = this.#now();
  }

  /** The counter: seconds since the epoch as the guest sees them (32 bits). */
  counter(): number {
    return this.#now();
  }

  /** Raise RIS if the counter passed the match value since the last look. */
  tick(): void {
    const now = this.#now();
    // The counter reached MR somewhere in (lastChecked, now]; 32-bit wrap-around is a 136-year horizon: ignored.
    if (this.#lastChecked < this.#match && this.#match <= now) this.#ris = PL031_INT;
    this.#lastChecked = now;
    this.#update();
  }

  /** When (ms since the epoch, on the device's clock) the next match happens, or undefined if it is in the past. */
  nextMatchMs(): number | undefined {
    if (this.#match <= this.#now()) return undefined;
    // counter = floor(clock / 1000) + offset reaches the match when the clock reaches (match - offset) seconds.
    return (this.#match - this.#offsetSeconds) * 1000;
  }

  get irqLevel(): boolean {
    return this.#irqLevel;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 4 || offset % 4 !== 0 || offset < 0 || offset >= PL031_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return 0;
    }
    this.tick();
    switch (offset) {
      case PL031_DR:
        return this.#now();
      case PL031_MR:
        return this.#match;
      case PL031_LR:
        return this.#now();
      case PL031_CR:
        return 1;
      case PL031_IMSC:
        return this.#imsc;
      case PL031_RIS:
        return this.#ris;
      case PL031_MIS:
        return this.#ris & this.#imsc;
      default:
        if (offset >= PL031_PERIPH_ID0) return PL031_ID_BYTES[(offset - PL031_PERIPH_ID0) >> 2] ?? 0;
        this.stats.badAccesses++;
        return 0;
    }
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 4 || offset % 4 !== 0 || offset < 0 || offset >= PL031_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return;
    }
    this.tick();
    const v = value >>> 0;
    switch (offset) {
      case PL031_MR:
        this.#match = v;
        break;
      case PL031_LR:
        this.#offsetSeconds = v - Math.floor(this.#clock() / 1000);
        this.#lastChecked = this.#now();
        break;
      case PL031_CR:
        // The counter cannot be stopped (QEMU's neither): writing 0 is ignored.
        break;
      case PL031_IMSC:
        this.#imsc = v & PL031_INT;
        break;
      case PL031_ICR:
        this.#ris &= ~v & PL031_INT;
        break;
      default:
        this.stats.badAccesses++;
    }
    this.#update();
  }

  snapshot(): Pl031State {
    return { offsetSeconds: this.#offsetSeconds, match: this.#match, imsc: this.#imsc, ris: this.#ris };
  }

  restore(state: Pl031State): void {
    this.#offsetSeconds = Math.trunc(state.offsetSeconds);
    this.#match = state.match >>> 0;
    this.#imsc = state.imsc & PL031_INT;
    this.#ris = state.ris & PL031_INT;
    this.#lastChecked = this.#now();
    this.#irqLevel = (this.#ris & this.#imsc) !== 0;
    this.#irq.set(this.#irqLevel);
  }

  #now(): number {
    return (Math.floor(this.#clock() / 1000) + this.#offsetSeconds) >>> 0;
  }

  #update(): void {
    const level = (this.#ris & this.#imsc) !== 0;
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    this.#irq.set(level);
  }
}
