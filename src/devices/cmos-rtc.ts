/**
 * The PC's CMOS real-time clock (Motorola MC146818A): an index port (offset 0, PC port 0x70; bit 7 of the index
 * is the NMI mask and ignored here) and a data port (offset 1, 0x71) over 128 bytes: the time of day, the status
 * registers A-D and battery-backed RAM.
 *
 * Why it exists: without one, every read of port 0x71 floats to 0xff, whose bit 7 is register A's "update in
 * progress" flag, and Linux polls it tens of thousands of times (one VM exit each) before it gives up on the clock.
 *
 * The time comes from an injected clock (the host's wall clock by default); a guest that writes the time sets an
 * offset from it. Times are BCD or binary and 12- or 24-hour as register B says. No interrupts (periodic, alarm,
 * update-ended) are raised: B's PIE/AIE/UIE bits are stored but inert, so register C always reads 0.
 */

import type { BusDevice, DeviceStats, Snapshottable } from "./types.ts";

export const RTC_INDEX = 0;
export const RTC_DATA = 1;

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** The century byte most PC BIOSes (and Linux's ACPI FADT default) use. */
export const RTC_CENTURY = 0x32;

/** Register A: UIP (update in progress) and the divider/rate bits (32.768 kHz time base, 1024 Hz rate). */
export const REG_A_UIP = 0x80;
export const REG_A_DEFAULT = 0x26;
/** Register B bits. */
export const REG_B_SET = 0x80;
export const REG_B_DM = 0x04; // binary (1) or BCD (0)
export const REG_B_24H = 0x02;
/** Register D: VRT (valid RAM and time). */
export const REG_D_VRT = 0x80;

/** Valid decoded values of the time fields a guest may write. */
const FIELD_RANGE: Readonly<Record<number, readonly [number, number]>> = {
  [RTC_SECONDS]: [0, 59],
  [RTC_MINUTES]: [0, 59],
  [RTC_HOURS]: [0, 23],
  [RTC_DAY_OF_MONTH]: [1, 31],
  [RTC_MONTH]: [1, 12],
  [RTC_YEAR]: [0, 99],
  [RTC_CENTURY]: [19, 99],
};

const CMOS_SIZE = 128;
const INDEX_MASK = 0x7f;
const PM_FLAG = 0x80; // hour bit 7 in 12-hour mode

export interface CmosRtcOptions {
  /** Milliseconds since the epoch (UTC). Default `Date.now`. */
  readonly clock?: () => number;
}

export interface CmosRtcState {
  readonly index: number;
  /** The 128 CMOS bytes (the time registers in it are ignored: time is clock + offset). */
  readonly ram: readonly number[];
  /** Milliseconds added to the clock (set by guest writes to the time registers). */
  readonly offsetMs: number;
}

function toBcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | (value % 10);
}

function fromBcd(value: number): number {
  return (value >> 4) * 10 + (value & 0xf);
}

export class CmosRtc implements BusDevice, Snapshottable<CmosRtcState> {
  readonly name = "cmos-rtc";
  readonly stats: DeviceStats = { badAccesses: 0 };
  readonly #clock: () => number;
  readonly #ram = new Uint8Array(CMOS_SIZE);
  #index = 0;
  #offsetMs = 0;

  constructor(options: CmosRtcOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#ram[RTC_REG_A] = REG_A_DEFAULT;
    this.#ram[RTC_REG_B] = REG_B_24H;
    this.#ram[RTC_REG_D] = REG_D_VRT;
  }

  /** Two ports: index and data. */
  get windowSize(): number {
    return 2;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 1 || offset > RTC_DATA) return this.#bad(0xff);
    if (offset === RTC_INDEX) return this.#index;
    return this.#readRegister(this.#index);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 1 || offset > RTC_DATA) {
      this.#bad(0);
      return;
    }
    if (offset === RTC_INDEX) {
      this.#index = value & INDEX_MASK;
      return;
    }
    this.#writeRegister(this.#index, value & 0xff);
  }

  /** The guest's idea of now, in ms since the epoch. */
  now(): number {
    return this.#clock() + this.#offsetMs;
  }

  #binary(): boolean {
    return ((this.#ram[RTC_REG_B] ?? 0) & REG_B_DM) !== 0;
  }

  #encode(value: number): number {
    return this.#binary() ? value : toBcd(value);
  }

  #decode(value: number): number {
    return this.#binary() ? value : fromBcd(value);
  }

  #encodeHours(hours: number): number {
    if (((this.#ram[RTC_REG_B] ?? 0) & REG_B_24H) !== 0) return this.#encode(hours);
    const pm = hours >= 12;
    const twelve = hours % 12 === 0 ? 12 : hours % 12;
    return this.#encode(twelve) | (pm ? PM_FLAG : 0);
  }

  #decodeHours(value: number): number {
    if (((this.#ram[RTC_REG_B] ?? 0) & REG_B_24H) !== 0) return this.#decode(value);
    const hours = this.#decode(value & ~PM_FLAG) % 12;
    return (value & PM_FLAG) !== 0 ? hours + 12 : hours;
  }

  #readRegister(index: number): number {
    const t = new Date(this.now());
    switch (index) {
      case RTC_SECONDS:
        return this.#encode(t.getUTCSeconds());
      case RTC_MINUTES:
        return this.#encode(t.getUTCMinutes());
      case RTC_HOURS:
        return this.#encodeHours(t.getUTCHours());
      case RTC_DAY_OF_WEEK:
        return this.#encode(t.getUTCDay() + 1);
      case RTC_DAY_OF_MONTH:
        return this.#encode(t.getUTCDate());
      case RTC_MONTH:
        return this.#encode(t.getUTCMonth() + 1);
      case RTC_YEAR:
        return this.#encode(t.getUTCFullYear() % 100);
      case RTC_CENTURY:
        return this.#encode(Math.floor(t.getUTCFullYear() / 100));
      case RTC_REG_A:
        // Updates are instantaneous here, so UIP never reads as set.
        return (this.#ram[RTC_REG_A] ?? 0) & ~REG_A_UIP;
      case RTC_REG_C:
        return 0;
      case RTC_REG_D:
        return REG_D_VRT;
      default:
        return this.#ram[index] ?? 0xff;
    }
  }

  #writeRegister(index: number, value: number): void {
    switch (index) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case RTC_CENTURY:
        this.#setTimeField(index, value);
        return;
      case RTC_REG_A:
        this.#ram[RTC_REG_A] = value & ~REG_A_UIP;
        return;
      case RTC_REG_C:
      case RTC_REG_D:
        // Read-only.
        this.stats.badAccesses++;
        return;
      default:
        this.#ram[index] = value;
    }
  }

  /** Move the guest's clock so that field `index` reads `value` now; the other fields keep their values. */
  #setTimeField(index: number, value: number): void {
    const t = new Date(this.now());
    let year = t.getUTCFullYear();
    let month = t.getUTCMonth();
    let day = t.getUTCDate();
    let hours = t.getUTCHours();
    let minutes = t.getUTCMinutes();
    let seconds = t.getUTCSeconds();
    const bcdDigitsOk = this.#binary() || ((value & 0xf) <= 9 && ((value >> 4) & 0x7) <= 9);
    const v = index === RTC_HOURS ? this.#decodeHours(value) : this.#decode(value);
    const [low, high] = FIELD_RANGE[index] ?? [0, 99];
    // Nonsense from the guest (month 13, BCD digits above 9) is ignored rather than allowed to wreck the clock.
    if (!bcdDigitsOk || v < low || v > high) {
      this.stats.badAccesses++;
      return;
    }
    switch (index) {
      case RTC_SECONDS:
        seconds = v;
        break;
      case RTC_MINUTES:
        minutes = v;
        break;
      case RTC_HOURS:
        hours = v;
        break;
      case RTC_DAY_OF_MONTH:
        day = v;
        break;
      case RTC_MONTH:
        month = v - 1;
        break;
      case RTC_YEAR:
        year = Math.floor(year / 100) * 100 + v;
        break;
      case RTC_CENTURY:
        year = v * 100 + (year % 100);
        break;
    }
    this.#offsetMs += Date.UTC(year, month, day, hours, minutes, seconds, t.getUTCMilliseconds()) - t.getTime();
  }

  #bad(value: number): number {
    this.stats.badAccesses++;
    return value;
  }

  snapshot(): CmosRtcState {
    return { index: this.#index, ram: [...this.#ram], offsetMs: this.#offsetMs };
  }

  restore(state: CmosRtcState): void {
    this.#index = state.index & INDEX_MASK;
    this.#ram.set(state.ram.slice(0, CMOS_SIZE));
    this.#offsetMs = state.offsetMs;
  }
}
