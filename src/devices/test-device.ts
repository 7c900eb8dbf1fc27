/**
 * The axvisor test device, for checking MMIO widths end to end (decode, sign extension, 8-byte splitting).
 *
 *   0x000..0x7ff  pattern (read-only): byte at offset k = (k * 7 + 0x81) & 0xff. Every byte differs from its
 *                 neighbours and many have bit 7 set, so a wrong offset, width, byte order or sign extension shows.
 *   0x800..0xfff  scratch RAM: stores what is written, at any width, and reads it back.
 *
 * Any width 1/2/4/8 at any offset inside the window works (little-endian, unaligned allowed, an access may span
 * the pattern/scratch boundary). Writes to pattern bytes are dropped and counted as bad accesses. Reads and
 * writes are counted per width so tests can see whether an 8-byte access arrived whole or split.
 */

import { DeviceError } from "./errors.ts";
import type { AccessWidth, BusDevice, DeviceStats, Snapshottable } from "./types.ts";

export const TEST_DEVICE_WINDOW_SIZE = 0x1000;
export const TEST_DEVICE_PATTERN_BASE = 0x000;
export const TEST_DEVICE_PATTERN_SIZE = 0x800;
export const TEST_DEVICE_SCRATCH_BASE = 0x800;
export const TEST_DEVICE_SCRATCH_SIZE = 0x800;

/** The pattern byte at `offset` (for offsets in the pattern half). */
export function testPatternByte(offset: number): number {
  return (offset * 7 + 0x81) & 0xff;
}

/** The little-endian value a `width`-byte read of the pattern at `offset` returns (zero-extended). */
export function testPatternValue(offset: number, width: AccessWidth): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(testPatternByte(offset + i));
  return v;
}

export type WidthCounts = Record<AccessWidth, number>;

export interface TestDeviceStats extends DeviceStats {
  reads: WidthCounts;
  writes: WidthCounts;
}

export interface TestDeviceState {
  /** The scratch half's bytes. */
  readonly scratch: Uint8Array;
  readonly reads: WidthCounts;
  readonly writes: WidthCounts;
}

export class TestDevice implements BusDevice, Snapshottable<TestDeviceState> {
  readonly name = "axvisor-test";
  readonly windowSize = TEST_DEVICE_WINDOW_SIZE;
  readonly stats: TestDeviceStats = {
    badAccesses: 0,
    reads: { 1: 0, 2: 0, 4: 0, 8: 0 },
    writes: { 1: 0, 2: 0, 4: 0, 8: 0 },
  };
  readonly #scratch = new Uint8Array(TEST_DEVICE_SCRATCH_SIZE);

  read(offset: number, width: 1 | 2 | 4): number {
    this.stats.reads[width]++;
    if (!this.#inWindow(offset, width)) return this.#bad();
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.#byte(offset + i);
    return v;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.stats.writes[width]++;
    if (!this.#inWindow(offset, width)) {
      this.#bad();
      return;
    }
    let v = value >>> 0;
    let touchedPattern = false;
    for (let i = 0; i < width; i++) {
      touchedPattern = this.#storeByte(offset + i, v & 0xff) || touchedPattern;
      v >>>= 8;
    }
    if (touchedPattern) this.stats.badAccesses++;
  }

  read64(offset: number): bigint {
    this.stats.reads[8]++;
    if (!this.#inWindow(offset, 8)) {
      this.#bad();
      return 0n;
    }
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(this.#byte(offset + i));
    return v;
  }

  write64(offset: number, value: bigint): void {
    this.stats.writes[8]++;
    if (!this.#inWindow(offset, 8)) {
      this.#bad();
      return;
    }
    let touchedPattern = false;
    for (let i = 0; i < 8; i++) {
      touchedPattern = this.#storeByte(offset + i, Number((value >> BigInt(8 * i)) & 0xffn)) || touchedPattern;
    }
    if (touchedPattern) this.stats.badAccesses++;
  }

  snapshot(): TestDeviceState {
    return { scratch: this.#scratch.slice(), reads: { ...this.stats.reads }, writes: { ...this.stats.writes } };
  }

  restore(state: TestDeviceState): void {
    if (state.scratch.length !== TEST_DEVICE_SCRATCH_SIZE) {
      throw new DeviceError(
        this.name,
        "invalid-state",
        `Cannot restore ${state.scratch.length} scratch bytes: the scratch half is ${TEST_DEVICE_SCRATCH_SIZE} bytes`,
      );
    }
    this.#scratch.set(state.scratch);
    Object.assign(this.stats.reads, state.reads);
    Object.assign(this.stats.writes, state.writes);
  }

  #byte(offset: number): number {
    return offset < TEST_DEVICE_SCRATCH_BASE
      ? testPatternByte(offset)
      : (this.#scratch[offset - TEST_DEVICE_SCRATCH_BASE] ?? 0);
  }

  /**
   * Store one byte of an access into the scratch half; true when it falls on the read-only pattern (dropped). The
   * caller counts an access that touched the pattern once. (No per-access array: benchmarks write here per exit.)
   */
  #storeByte(at: number, byte: number): boolean {
    if (at < TEST_DEVICE_SCRATCH_BASE) return true;
    this.#scratch[at - TEST_DEVICE_SCRATCH_BASE] = byte;
    return false;
  }

  #inWindow(offset: number, width: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + width <= TEST_DEVICE_WINDOW_SIZE;
  }

  #bad(): number {
    this.stats.badAccesses++;
    return 0;
  }
}
