/**
 * The catch-all for x86 port I/O nobody claims: reads float high (all ones for the access width, what an ISA bus
 * with nothing driving it returns), writes are dropped. Each port's traffic is counted, and the last value
 * written is kept (port 0x80 carries POST/progress codes), in a map bounded to `maxTrackedPorts` entries so a
 * guest sweeping the port space cannot grow it without limit.
 *
 * Two ways to use it: as the VMM's fallback for addresses the port `Bus` reports unmapped (leave `base` at 0 and
 * pass the port number as the offset), or inserted over specific ports (set `base` to the window's first port so
 * the counts are keyed by port number).
 */

import { DeviceError } from "./errors.ts";
import type { BusDevice, DeviceStats, Snapshottable } from "./types.ts";

/** The conventional POST-code port (also used as an I/O delay port by Linux). */
export const POST_CODE_PORT = 0x80;
export const DEFAULT_MAX_TRACKED_PORTS = 256;

const ALL_ONES: Readonly<Record<1 | 2 | 4, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

export interface UnclaimedPortOptions {
  /** Port number of offset 0. Default 0. */
  readonly base?: number;
  /** How many distinct ports get their own counters; the rest go to `untracked`. Default 256. */
  readonly maxTrackedPorts?: number;
}

export interface PortTraffic {
  reads: number;
  writes: number;
  /** The last value written, or null if never written. */
  lastWrite: number | null;
}

export interface UnclaimedPortStats extends DeviceStats {
  /** Accesses to ports beyond the tracking limit. */
  untrackedReads: number;
  untrackedWrites: number;
}

export interface UnclaimedPortState {
  readonly ports: ReadonlyArray<{
    readonly port: number;
    readonly reads: number;
    readonly writes: number;
    readonly lastWrite: number | null;
  }>;
  readonly untrackedReads: number;
  readonly untrackedWrites: number;
}

export class UnclaimedPort implements BusDevice, Snapshottable<UnclaimedPortState> {
  readonly name = "unclaimed-port";
  readonly base: number;
  readonly maxTrackedPorts: number;
  readonly stats: UnclaimedPortStats = { badAccesses: 0, untrackedReads: 0, untrackedWrites: 0 };
  readonly #ports = new Map<number, PortTraffic>();
  /**
   * The port `#traffic` looked up last and its counters (undefined: untracked), so a guest hammering one port
   * (a delay port, a probe loop) is counted without a map lookup per access. Reset when the map is replaced.
   */
  #lastPort = -1;
  #lastTraffic: PortTraffic | undefined;

  constructor(options: UnclaimedPortOptions = {}) {
    this.base = options.base ?? 0;
    this.maxTrackedPorts = options.maxTrackedPorts ?? DEFAULT_MAX_TRACKED_PORTS;
    if (!Number.isInteger(this.base) || this.base < 0 || this.base > 0xffff) {
      throw new DeviceError(
        this.name,
        "invalid-config",
        `Cannot create an unclaimed-port device at base ${String(this.base)}: ports are 0..0xffff`,
      );
    }
    if (!Number.isInteger(this.maxTrackedPorts) || this.maxTrackedPorts < 0) {
      throw new DeviceError(
        this.name,
        "invalid-config",
        `Cannot track ${String(this.maxTrackedPorts)} ports: it must be a non-negative integer`,
      );
    }
  }

  read(offset: number, width: 1 | 2 | 4): number {
    const port = this.base + offset;
    // The last port's counters without a call (see `#lastPort`).
    const t = port === this.#lastPort ? this.#lastTraffic : this.#traffic(port);
    if (t === undefined) this.stats.untrackedReads++;
    else t.reads++;
    return ALL_ONES[width] ?? 0xffff_ffff;
  }

  write(offset: number, _width: 1 | 2 | 4, value: number): void {
    const port = this.base + offset;
    const t = port === this.#lastPort ? this.#lastTraffic : this.#traffic(port);
    if (t === undefined) {
      this.stats.untrackedWrites++;
      return;
    }
    t.writes++;
    t.lastWrite = value >>> 0;
  }

  /** Traffic seen on `port`, if it is tracked. */
  traffic(port: number): Readonly<PortTraffic> | undefined {
    return this.#ports.get(port);
  }

  /** Tracked ports in ascending order. */
  ports(): number[] {
    return [...this.#ports.keys()].sort((a, b) => a - b);
  }

  snapshot(): UnclaimedPortState {
    return {
      ports: this.ports().map((port) => {
        const t = this.#ports.get(port) ?? { reads: 0, writes: 0, lastWrite: null };
        return { port, reads: t.reads, writes: t.writes, lastWrite: t.lastWrite };
      }),
      untrackedReads: this.stats.untrackedReads,
      untrackedWrites: this.stats.untrackedWrites,
    };
  }

  restore(state: UnclaimedPortState): void {
    if (state.ports.length > this.maxTrackedPorts) {
      throw new DeviceError(
        this.name,
        "invalid-state",
        `Cannot restore ${state.ports.length} tracked ports: this device tracks at most ${this.maxTrackedPorts}`,
      );
    }
    this.#ports.clear();
    this.#lastPort = -1;
    for (const p of state.ports) this.#ports.set(p.port, { reads: p.reads, writes: p.writes, lastWrite: p.lastWrite });
    this.stats.untrackedReads = state.untrackedReads;
    this.stats.untrackedWrites = state.untrackedWrites;
  }

  #traffic(port: number): PortTraffic | undefined {
    if (port === this.#lastPort) return this.#lastTraffic;
    let traffic = this.#ports.get(port);
    if (traffic === undefined && this.#ports.size < this.maxTrackedPorts) {
      traffic = { reads: 0, writes: 0, lastWrite: null };
      this.#ports.set(port, traffic);
    }
    // An untracked port stays untracked (tracked ports are never dropped but by `restore`, which resets this).
    this.#lastPort = port;
    this.#lastTraffic = traffic;
    return traffic;
  }
}
