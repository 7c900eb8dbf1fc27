/**
 * What a device model is. Device models are pure state machines (vm-superio style): they see an offset inside
 * their own window and an access width, never a base address, an IRQ number, a thread, a backend or a logger.
 * The device manager in `vmm/` picks bases and IRQs and wires lines; the `Bus` turns addresses into offsets.
 */

import type { AccessWidth } from "../hal/types.ts";

export type { AccessWidth };

/**
 * A device on an MMIO, port or system-register bus. `read`/`write` get accesses of width 1, 2 or 4 bytes with
 * values as unsigned 32-bit numbers. An 8-byte access is split by the bus into two 4-byte accesses (low word
 * first) unless the device implements `read64`/`write64`, for registers that must be read atomically (mtime).
 * A guest-triggered access never throws: unknown registers read as the spec says (usually 0), bad writes are
 * ignored and counted in `stats`.
 */
export interface BusDevice {
  /** Short name for messages and `axvisor check` ("uart16550", "plic", ...). */
  readonly name: string;
  read(offset: number, width: 1 | 2 | 4): number;
  write(offset: number, width: 1 | 2 | 4, value: number): void;
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
  /** Counters for guest misbehaviour and activity, shown in the `--trace-exits` summary. */
  readonly stats?: DeviceStats;
}

/** An interrupt line a device drives. Level-triggered devices call `set`; edge-triggered ones call `trigger`. */
export interface IrqLine {
  set(level: boolean): void;
  /** A rising edge (set true then false). */
  trigger(): void;
}

/** A device whose state can be captured as plain data (named fields, JSON-safe apart from Uint8Array/bigint). */
export interface Snapshottable<State> {
  snapshot(): State;
  restore(state: State): void;
}

/** Counters for guest misbehaviour (instead of a log line per access). */
export interface DeviceStats {
  badAccesses: number;
}

export function isAccessWidth(value: number): value is AccessWidth {
  return value === 1 || value === 2 || value === 4 || value === 8;
}
