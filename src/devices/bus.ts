/**
 * A bus for one address space ("mmio", "port" or "sysreg"): sorted, non-overlapping windows, each owned by one
 * device, found by binary search. The bus turns an address into `offset = addr - base`, checks the access fits
 * in the window, and splits 8-byte accesses into two 4-byte device accesses (low word first, at the lower
 * address) unless the device has `read64`/`write64`.
 *
 * Values are `bigint` at this level so the VMM can pass exit data (`MmioWrite.data`) straight through; devices
 * see unsigned 32-bit numbers. An access to no device, or one a window cannot take, is reported as a result (not
 * thrown): what to do with it (ignore, read all-ones, stop the VM) is the VMM's policy.
 */

import { hex, hexRange } from "../common/format.ts";
import type { AccessWidth, BusDevice, Snapshottable } from "./types.ts";

export type AddressSpace = "mmio" | "port" | "sysreg";

/**
 * One past the highest address of each space. MMIO: guest-physical addresses fit in 53 bits (see hal/types.ts).
 * Port: x86 I/O ports are 16-bit. Sysreg: 32 bits hold x86 MSR indices, RISC-V CSR numbers and AArch64 system
 * register encodings.
 */
export const ADDRESS_SPACE_LIMIT: Readonly<Record<AddressSpace, number>> = {
  mmio: 2 ** 53,
  port: 0x1_0000,
  sysreg: 2 ** 32,
};

export type BusErrorKind =
  /** base or length is not a non-negative integer. */
  | "invalid-range"
  | "zero-length"
  /** The window ends past the space's limit. */
  | "out-of-space"
  | "overlap"
  /** `remove(base)` found no window starting there. */
  | "not-found"
  /** `restore()` got a layout other than the bus's. */
  | "layout-mismatch";

export class BusError extends Error {
  override readonly name = "BusError";
  readonly kind: BusErrorKind;
  readonly space: AddressSpace;
  readonly base: number;
  readonly length: number;
  /** The existing window involved (for "overlap"). */
  readonly existing: { readonly name: string; readonly base: number; readonly length: number } | undefined;

  constructor(
    kind: BusErrorKind,
    space: AddressSpace,
    base: number,
    length: number,
    message: string,
    existing?: { readonly name: string; readonly base: number; readonly length: number },
  ) {
    super(message);
    this.kind = kind;
    this.space = space;
    this.base = base;
    this.length = length;
    this.existing = existing;
  }
}

/** A window as `axvisor check` prints it. */
export interface BusEntry {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly device: BusDevice;
}

export interface BusLookup {
  readonly device: BusDevice;
  readonly offset: number;
  readonly base: number;
  readonly length: number;
}

export type BadAccessReason =
  /** offset + width runs past the end of the device's window. */
  | "straddles-window-end"
  /** A width other than 1, 2, 4 or 8 (a bug upstream, reported rather than thrown). */
  | "invalid-width";

export type BusReadResult =
  | { readonly kind: "ok"; readonly value: bigint; readonly device: BusDevice; readonly offset: number }
  | { readonly kind: "unmapped" }
  | {
      readonly kind: "bad-access";
      readonly device: BusDevice;
      readonly offset: number;
      readonly reason: BadAccessReason;
    };

export type BusWriteResult =
  | { readonly kind: "ok"; readonly device: BusDevice; readonly offset: number }
  | { readonly kind: "unmapped" }
  | {
      readonly kind: "bad-access";
      readonly device: BusDevice;
      readonly offset: number;
      readonly reason: BadAccessReason;
    };

export interface BusStats {
  reads: number;
  writes: number;
  unmappedReads: number;
  unmappedWrites: number;
  badAccesses: number;
}

/** The bus's plain-data state: its layout (checked on restore) and its counters. */
export interface BusState {
  readonly space: AddressSpace;
  readonly windows: ReadonlyArray<{ readonly base: number; readonly length: number; readonly name: string }>;
  readonly stats: BusStats;
}

const UNMAPPED: { readonly kind: "unmapped" } = Object.freeze({ kind: "unmapped" });

const WIDTH_MASK_BIG: Readonly<Record<AccessWidth, bigint>> = {
  1: 0xffn,
  2: 0xffffn,
  4: 0xffff_ffffn,
  8: 0xffff_ffff_ffff_ffffn,
};

function isAddress(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** `Bus.readNumber`/`writeNumber`: no device at the address. */
export const BUS_UNMAPPED = -1;
/** `Bus.readNumber`/`writeNumber`: the access straddles the end of the device's window (counted). */
export const BUS_BAD_ACCESS = -2;

export class Bus implements Snapshottable<BusState> {
  readonly space: AddressSpace;
  readonly limit: number;
  /** Sorted by base; `#bases[i]` mirrors `#entries[i].base` for a tight search loop. */
  readonly #entries: BusEntry[] = [];
  readonly #bases: number[] = [];
  /** The window `#find` returned last (undefined after the windows change). */
  #lastHit: BusEntry | undefined;
  /**
   * The gap [start, end) between windows where `#find` last found nothing (empty after the windows change): a guest
   * that polls an absent port or register misses there again and again, and is answered without a search.
   */
  #missStart = 0;
  #missEnd = 0;
  readonly stats: BusStats = { reads: 0, writes: 0, unmappedReads: 0, unmappedWrites: 0, badAccesses: 0 };

  constructor(space: AddressSpace) {
    this.space = space;
    this.limit = ADDRESS_SPACE_LIMIT[space];
  }

  /** Map `device` at [base, base + length). Throws `BusError` on an empty, out-of-space or overlapping window. */
  insert(base: number, length: number, device: BusDevice): void {
    const what = `Cannot insert "${device.name}" at ${isAddress(base) ? hex(base) : String(base)} (length ${String(length)}) on the ${this.space} bus`;
    if (!isAddress(base) || !Number.isSafeInteger(length) || length < 0) {
      throw new BusError(
        "invalid-range",
        this.space,
        base,
        length,
        `${what}: base and length must be non-negative integers`,
      );
    }
    if (length === 0) throw new BusError("zero-length", this.space, base, length, `${what}: the window is empty`);
    // Compare against the room left rather than computing base + length first: near 2^53 that sum rounds.
    if (length > this.limit - base) {
      throw new BusError(
        "out-of-space",
        this.space,
        base,
        length,
        `Cannot insert "${device.name}" at ${hex(base)} (length ${hex(length)}) on the ${this.space} bus: ends past the last address ${hex(this.limit - 1)}`,
      );
    }
    // The window must fit between its predecessor (highest base < end) and successor.
    const end = base + length; // exact now: end <= limit <= 2^53
    const at = this.#upperBound(base); // first index with base' > base
    const before = this.#entries[at - 1];
    const after = this.#entries[at];
    const clash =
      before !== undefined && before.base + before.length > base
        ? before
        : after !== undefined && after.base < end
          ? after
          : undefined;
    if (clash !== undefined) {
      throw new BusError(
        "overlap",
        this.space,
        base,
        length,
        `Cannot insert "${device.name}" at ${hexRange(base, length)} on the ${this.space} bus: overlaps "${clash.name}" (${hexRange(clash.base, clash.length)})`,
        { name: clash.name, base: clash.base, length: clash.length },
      );
    }
    this.#entries.splice(at, 0, { base, length, name: device.name, device });
    this.#bases.splice(at, 0, base);
    this.#lastHit = undefined;
    this.#missEnd = 0;
  }

  /** Unmap the window that starts at `base`; returns its device. */
  remove(base: number): BusDevice {
    const i = this.#upperBound(base) - 1;
    const entry = this.#entries[i];
    if (entry === undefined || entry.base !== base) {
      throw new BusError(
        "not-found",
        this.space,
        base,
        0,
        `Cannot remove the window at ${hex(base)} from the ${this.space} bus: no window starts there`,
      );
    }
    this.#entries.splice(i, 1);
    this.#bases.splice(i, 1);
    this.#lastHit = undefined;
    this.#missEnd = 0;
    return entry.device;
  }

  /** The windows in address order. */
  entries(): readonly BusEntry[] {
    return this.#entries.slice();
  }

  /** The device whose window holds `addr`, or undefined. */
  lookup(addr: number): BusLookup | undefined {
    const entry = this.#find(addr);
    return entry === undefined
      ? undefined
      : { device: entry.device, offset: addr - entry.base, base: entry.base, length: entry.length };
  }

  read(addr: number, width: AccessWidth): BusReadResult {
    this.stats.reads++;
    const entry = this.#find(addr);
    if (entry === undefined) {
      this.stats.unmappedReads++;
      return UNMAPPED;
    }
    const { device } = entry;
    const offset = addr - entry.base;
    const bad = this.#checkAccess(entry, offset, width);
    if (bad !== undefined) return { kind: "bad-access", device, offset, reason: bad };
    let value: bigint;
    if (width === 8) {
      if (device.read64 !== undefined) {
        value = BigInt.asUintN(64, device.read64(offset));
      } else {
        const lo = device.read(offset, 4) >>> 0;
        const hi = device.read(offset + 4, 4) >>> 0;
        value = (BigInt(hi) << 32n) | BigInt(lo);
      }
    } else {
      // A device returning stray high bits must not leak them past the access width.
      value = BigInt(device.read(offset, width) >>> 0) & WIDTH_MASK_BIG[width];
    }
    return { kind: "ok", value, device, offset };
  }

  write(addr: number, width: AccessWidth, value: bigint): BusWriteResult {
    this.stats.writes++;
    const entry = this.#find(addr);
    if (entry === undefined) {
      this.stats.unmappedWrites++;
      return UNMAPPED;
    }
    const { device } = entry;
    const offset = addr - entry.base;
    const bad = this.#checkAccess(entry, offset, width);
    if (bad !== undefined) return { kind: "bad-access", device, offset, reason: bad };
    const data = value & WIDTH_MASK_BIG[width];
    if (width === 8) {
      if (device.write64 !== undefined) {
        device.write64(offset, data);
      } else {
        device.write(offset, 4, Number(data & 0xffff_ffffn));
        device.write(offset + 4, 4, Number(data >> 32n));
      }
    } else {
      device.write(offset, width, Number(data));
    }
    return { kind: "ok", device, offset };
  }

  /**
   * `read` of 1, 2 or 4 bytes as a number, for the exit hot path: the value (unsigned), or BUS_UNMAPPED /
   * BUS_BAD_ACCESS (negative). Counted as `read` counts.
   */
  readNumber(addr: number, width: 1 | 2 | 4): number {
    this.stats.reads++;
    // The last window hit, tested here rather than in `#find`: one call fewer on the exit hot path.
    let entry = this.#lastHit;
    if (entry === undefined || !(addr >= entry.base && addr - entry.base < entry.length && Number.isInteger(addr))) {
      entry = this.#find(addr);
      if (entry === undefined) {
        this.stats.unmappedReads++;
        return BUS_UNMAPPED;
      }
    }
    const offset = addr - entry.base;
    if (offset + width > entry.length) {
      this.stats.badAccesses++;
      return BUS_BAD_ACCESS;
    }
    // A device returning stray high bits must not leak them past the access width.
    const value = entry.device.read(offset, width) >>> 0;
    return width === 4 ? value : value & (width === 1 ? 0xff : 0xffff);
  }

  /** `write` of 1, 2 or 4 bytes from a number: 0, or BUS_UNMAPPED / BUS_BAD_ACCESS. Counted as `write` counts. */
  writeNumber(addr: number, width: 1 | 2 | 4, value: number): number {
    this.stats.writes++;
    // As in readNumber: the last window hit first, without a call.
    let entry = this.#lastHit;
    if (entry === undefined || !(addr >= entry.base && addr - entry.base < entry.length && Number.isInteger(addr))) {
      entry = this.#find(addr);
      if (entry === undefined) {
        this.stats.unmappedWrites++;
        return BUS_UNMAPPED;
      }
    }
    const offset = addr - entry.base;
    if (offset + width > entry.length) {
      this.stats.badAccesses++;
      return BUS_BAD_ACCESS;
    }
    entry.device.write(offset, width, width === 4 ? value >>> 0 : value & (width === 1 ? 0xff : 0xffff));
    return 0;
  }

  snapshot(): BusState {
    return {
      space: this.space,
      windows: this.#entries.map((e) => ({ base: e.base, length: e.length, name: e.name })),
      stats: { ...this.stats },
    };
  }

  /**
   * Restore the counters. The devices themselves are not plain data: the VMM rebuilds the same layout and
   * restores each device's own snapshot; this checks the layout is the one the snapshot was taken from.
   */
  restore(state: BusState): void {
    const same =
      state.space === this.space &&
      state.windows.length === this.#entries.length &&
      state.windows.every((w, i) => {
        const e = this.#entries[i];
        return e !== undefined && e.base === w.base && e.length === w.length && e.name === w.name;
      });
    if (!same) {
      throw new BusError(
        "layout-mismatch",
        this.space,
        0,
        0,
        `Cannot restore the ${this.space} bus: the snapshot's windows (${state.space}: ${state.windows.map((w) => `"${w.name}" ${hexRange(w.base, w.length)}`).join(", ")}) differ from the bus's (${this.#entries.map((e) => `"${e.name}" ${hexRange(e.base, e.length)}`).join(", ")})`,
      );
    }
    Object.assign(this.stats, state.stats);
  }

  #checkAccess(entry: BusEntry, offset: number, width: number): BadAccessReason | undefined {
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) {
      this.stats.badAccesses++;
      return "invalid-width";
    }
    if (offset + width > entry.length) {
      this.stats.badAccesses++;
      return "straddles-window-end";
    }
    return undefined;
  }

  #find(addr: number): BusEntry | undefined {
    // A guest mostly hits the device it hit last (a polled status register, a FIFO): try it before searching.
    const last = this.#lastHit;
    if (last !== undefined && addr >= last.base && addr - last.base < last.length && Number.isInteger(addr))
      return last;
    if (!(addr >= 0 && addr < this.limit && Number.isInteger(addr))) return undefined; // also rejects NaN
    if (addr >= this.#missStart && addr < this.#missEnd) return undefined;
    const i = this.#upperBound(addr) - 1;
    const entry = this.#entries[i];
    if (entry === undefined || addr >= entry.base + entry.length) {
      this.#missStart = entry === undefined ? 0 : entry.base + entry.length;
      this.#missEnd = this.#bases[i + 1] ?? this.limit;
      return undefined;
    }
    this.#lastHit = entry;
    return entry;
  }

  /** Index of the first window whose base is greater than `addr` (binary search). */
  #upperBound(addr: number): number {
    const bases = this.#bases;
    let lo = 0;
    let hi = bases.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((bases[mid] ?? 0) <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
