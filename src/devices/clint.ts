/**
 * SiFive CLINT (core-local interruptor) for bare-machine boards: machine software interrupts and the machine
 * timer (SiFive FU540-C000 manual, chapter "Core Local Interruptor"; QEMU virt maps it at 0x0200_0000).
 *
 *   0x0000 + 4*h   msip[h]       bit 0 drives hart h's MSIP; other bits read 0
 *   0x4000 + 8*h   mtimecmp[h]   64-bit; MTIP[h] = (mtime >= mtimecmp[h]), unsigned
 *   0xbff8         mtime         64-bit, counts the injected clock's ticks; writable
 *
 * mtime is `now() + offset` (mod 2^64): a write to mtime moves the offset, not the clock. 64-bit registers can be
 * read and written whole (`read64`/`write64`: one consistent value) or as two 32-bit halves. Byte and halfword
 * accesses are not supported by the hardware and are counted as bad accesses.
 *
 * MTIP is a level that changes with time, and the device has no thread: the VMM calls `tick()` when time passes
 * (at the latest when `nextDeadline()` says a line will change) and the device re-evaluates the lines then.
 */

import { DeviceError } from "./errors.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const CLINT_MSIP_BASE = 0x0000;
export const CLINT_MSIP_STRIDE = 4;
export const CLINT_MTIMECMP_BASE = 0x4000;
export const CLINT_MTIMECMP_STRIDE = 8;
export const CLINT_MTIME = 0xbff8;
/** Bytes the CLINT decodes. */
export const CLINT_WINDOW_SIZE = 0x1_0000;
/** mtimecmp registers fit between 0x4000 and mtime at 0xbff8. */
export const CLINT_MAX_HARTS = 4095;
/** mtimecmp after reset (the hardware leaves it undefined): the largest value, so no timer interrupt is pending. */
export const CLINT_MTIMECMP_RESET = 0xffff_ffff_ffff_ffffn;

const MASK64 = 0xffff_ffff_ffff_ffffn;
const LOW32 = 0xffff_ffffn;
const DEVICE = "clint";

export interface ClintHartLines {
  /** Machine software interrupt pending (mip.MSIP). */
  readonly msip: IrqLine;
  /** Machine timer interrupt pending (mip.MTIP). */
  readonly mtip: IrqLine;
}

export interface ClintOptions {
  /** One entry per hart, in hart-id order. */
  readonly harts: readonly ClintHartLines[];
  /** The timebase in ticks (e.g. 10 MHz ticks since the VM started). Must not go backwards. */
  readonly now: () => number;
}

export interface ClintState {
  /** mtime at the moment of the snapshot (restoring continues from it against the new clock). */
  readonly mtime: bigint;
  readonly mtimecmp: readonly bigint[];
  readonly msip: readonly boolean[];
}

export class Clint implements BusDevice, Snapshottable<ClintState> {
  readonly name = DEVICE;
  readonly windowSize = CLINT_WINDOW_SIZE;
  readonly hartCount: number;
  readonly stats: DeviceStats = { badAccesses: 0 };

  readonly #harts: readonly ClintHartLines[];
  readonly #now: () => number;
  /** mtime = (now + offset) mod 2^64. */
  #offset = 0n;
  readonly #mtimecmp: bigint[];
  readonly #msip: boolean[];
  readonly #mtipLevel: boolean[];

  constructor(options: ClintOptions) {
    const n = options.harts.length;
    if (n < 1 || n > CLINT_MAX_HARTS) {
      throw new DeviceError(
        DEVICE,
        "invalid-config",
        `Cannot create a CLINT for ${n} harts: it must be 1..${CLINT_MAX_HARTS}`,
      );
    }
    this.hartCount = n;
    this.#harts = options.harts;
    this.#now = options.now;
    this.#mtimecmp = Array.from({ length: n }, () => CLINT_MTIMECMP_RESET);
    this.#msip = Array.from({ length: n }, () => false);
    this.#mtipLevel = Array.from({ length: n }, () => false);
  }

  /** The current mtime. */
  mtime(): bigint {
    return this.#mtimeAt(this.#clock());
  }

  /** Re-evaluate every MTIP line against the clock. */
  tick(): void {
    const t = this.#clock();
    for (let h = 0; h < this.hartCount; h++) this.#setMtip(h, this.#mtimeAt(t) >= (this.#mtimecmp[h] ?? MASK64));
  }

  /**
   * The clock value (`now()` units) at which the next MTIP line changes: a hart's mtime reaching its mtimecmp, or
   * mtime wrapping past 2^64 under a raised line. `undefined` if no change is due within 2^53 ticks.
   */
  nextDeadline(): number | undefined {
    const t = this.#clock();
    const cur = this.#mtimeAt(t);
    let best: bigint | undefined;
    for (let h = 0; h < this.hartCount; h++) {
      const cmp = this.#mtimecmp[h] ?? MASK64;
      // Below mtimecmp: rises when mtime gets there. At or above: falls when mtime wraps to 0 (if mtimecmp > 0).
      const delta = cur < cmp ? cmp - cur : cmp > 0n ? MASK64 + 1n - cur : undefined;
      if (delta !== undefined && (best === undefined || delta < best)) best = delta;
    }
    if (best === undefined) return undefined;
    const at = BigInt(t) + best;
    return at <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(at) : undefined;
  }

  // -- bus side -------------------------------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 4 || (offset & 3) !== 0) return this.#bad();
    const msip = this.#msipIndex(offset);
    if (msip !== undefined) return this.#msip[msip] === true ? 1 : 0;
    const reg = this.#register64(offset & ~7);
    if (reg === undefined) return this.#bad();
    const value = reg === "mtime" ? this.mtime() : (this.#mtimecmp[reg] ?? 0n);
    return Number((offset & 4) === 0 ? value & LOW32 : value >> 32n);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 4 || (offset & 3) !== 0) {
      this.#bad();
      return;
    }
    const msip = this.#msipIndex(offset);
    if (msip !== undefined) {
      this.#setMsip(msip, (value & 1) === 1);
      return;
    }
    const reg = this.#register64(offset & ~7);
    if (reg === undefined) {
      this.#bad();
      return;
    }
    const old = reg === "mtime" ? this.mtime() : (this.#mtimecmp[reg] ?? 0n);
    const half = BigInt(value >>> 0);
    const merged = (offset & 4) === 0 ? (old & ~LOW32 & MASK64) | half : (old & LOW32) | (half << 32n);
    this.#write64(reg, merged);
  }

  read64(offset: number): bigint {
    const reg = (offset & 7) === 0 ? this.#register64(offset) : undefined;
    if (reg === undefined) return this.#pairRead(offset);
    return reg === "mtime" ? this.mtime() : (this.#mtimecmp[reg] ?? 0n);
  }

  write64(offset: number, value: bigint): void {
    const reg = (offset & 7) === 0 ? this.#register64(offset) : undefined;
    if (reg === undefined) {
      // Not a 64-bit register (e.g. two msip words): behave like two 32-bit stores, low word first.
      this.write(offset, 4, Number(value & LOW32));
      this.write(offset + 4, 4, Number((value >> 32n) & LOW32));
      return;
    }
    this.#write64(reg, value & MASK64);
  }

  // -- snapshot -------------------------------------------------------------------------------------------------

  snapshot(): ClintState {
    return { mtime: this.mtime(), mtimecmp: this.#mtimecmp.slice(), msip: this.#msip.slice() };
  }

  restore(state: ClintState): void {
    const in64 = (v: bigint) => typeof v === "bigint" && v >= 0n && v <= MASK64;
    if (
      state.mtimecmp.length !== this.hartCount ||
      state.msip.length !== this.hartCount ||
      !in64(state.mtime) ||
      !state.mtimecmp.every(in64)
    ) {
      throw new DeviceError(
        DEVICE,
        "invalid-state",
        `Cannot restore a CLINT with ${this.hartCount} harts from a snapshot of ${state.mtimecmp.length} mtimecmp and ${state.msip.length} msip values (or values outside 64 bits)`,
      );
    }
    this.#offset = (state.mtime - BigInt(this.#clock())) & MASK64;
    for (let h = 0; h < this.hartCount; h++) {
      this.#mtimecmp[h] = state.mtimecmp[h] ?? CLINT_MTIMECMP_RESET;
      this.#msip[h] = state.msip[h] ?? false;
      this.#harts[h]?.msip.set(this.#msip[h] ?? false);
    }
    // Drive every MTIP line to its restored level, even where it matches what this object last drove.
    const t = this.#clock();
    for (let h = 0; h < this.hartCount; h++) {
      const level = this.#mtimeAt(t) >= (this.#mtimecmp[h] ?? MASK64);
      this.#mtipLevel[h] = level;
      this.#harts[h]?.mtip.set(level);
    }
  }

  // -- internals ------------------------------------------------------------------------------------------------

  #clock(): number {
    return Math.floor(this.#now());
  }

  #mtimeAt(t: number): bigint {
    return (BigInt(t) + this.#offset) & MASK64;
  }

  #msipIndex(offset: number): number | undefined {
    if (offset < CLINT_MSIP_BASE || offset >= CLINT_MTIMECMP_BASE) return undefined;
    const h = (offset - CLINT_MSIP_BASE) / CLINT_MSIP_STRIDE;
    return Number.isInteger(h) && h < this.hartCount ? h : undefined;
  }

  /** The 64-bit register at an 8-aligned offset: "mtime", a hart index for mtimecmp, or undefined. */
  #register64(offset: number): "mtime" | number | undefined {
    if (offset === CLINT_MTIME) return "mtime";
    if (offset < CLINT_MTIMECMP_BASE || offset >= CLINT_MTIME) return undefined;
    const h = (offset - CLINT_MTIMECMP_BASE) / CLINT_MTIMECMP_STRIDE;
    return Number.isInteger(h) && h < this.hartCount ? h : undefined;
  }

  #write64(reg: "mtime" | number, value: bigint): void {
    if (reg === "mtime") {
      this.#offset = (value - BigInt(this.#clock())) & MASK64;
      this.tick();
      return;
    }
    this.#mtimecmp[reg] = value;
    this.#setMtip(reg, this.mtime() >= value);
  }

  #pairRead(offset: number): bigint {
    const lo = BigInt(this.read(offset, 4) >>> 0);
    const hi = BigInt(this.read(offset + 4, 4) >>> 0);
    return (hi << 32n) | lo;
  }

  #setMsip(h: number, level: boolean): void {
    if (this.#msip[h] === level) return;
    this.#msip[h] = level;
    this.#harts[h]?.msip.set(level);
  }

  #setMtip(h: number, level: boolean): void {
    if (this.#mtipLevel[h] === level) return;
    this.#mtipLevel[h] = level;
    this.#harts[h]?.mtip.set(level);
  }

  #bad(): number {
    this.stats.badAccesses++;
    return 0;
  }
}
