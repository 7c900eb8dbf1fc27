/**
 * RISC-V Platform-Level Interrupt Controller (RISC-V PLIC specification 1.0.0; SiFive `riscv,plic0`).
 *
 * Memory map (offsets in the PLIC window; all registers 32 bits wide, accessed with aligned 32-bit loads/stores):
 *
 *   0x000000 + 4*s              priority of source s (s = 1..sources; source 0 does not exist)
 *   0x001000 + 4*(s/32)         pending bits (read-only)
 *   0x002000 + 0x80*c + 4*(s/32) enable bits of context c
 *   0x200000 + 0x1000*c         priority threshold of context c
 *   0x200004 + 0x1000*c         claim (read) / complete (write) of context c
 *
 * Sources are level-sensitive inputs (`setSourceLevel`) or edge/message requests (`triggerSource`). Each source
 * has a gateway: it forwards one request (sets the pending bit) and then forwards nothing more until the source is
 * completed; on completion a still-asserted level forwards a new request. As the specification says, a request
 * already forwarded is not retracted when the level drops before the claim (the handler then finds nothing to do).
 *
 * A context's output is asserted while it has a pending, enabled source whose priority exceeds its threshold.
 * Which hart and privilege mode a context drives is the VMM's business (QEMU virt: context 2h = hart h M-mode,
 * 2h+1 = hart h S-mode).
 *
 * Claim follows the specification: it returns the highest-priority pending enabled source (priority > 0; ties go
 * to the lowest id) and is not affected by the threshold. QEMU's PLIC also applies the threshold to claims; the
 * `claimRespectsThreshold` option reproduces that for differential tests against QEMU.
 */

import { DeviceError } from "./errors.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const PLIC_PRIORITY_BASE = 0x00_0000;
export const PLIC_PENDING_BASE = 0x00_1000;
export const PLIC_ENABLE_BASE = 0x00_2000;
/** Bytes of enable bits per context (1024 sources / 8). */
export const PLIC_ENABLE_STRIDE = 0x80;
export const PLIC_CONTEXT_BASE = 0x20_0000;
export const PLIC_CONTEXT_STRIDE = 0x1000;
export const PLIC_CONTEXT_THRESHOLD = 0x0;
export const PLIC_CONTEXT_CLAIM = 0x4;
/** Highest source id the memory map has room for. */
export const PLIC_MAX_SOURCES = 1023;
/** Contexts the memory map has room for. */
export const PLIC_MAX_CONTEXTS = 15872;
/** Priority levels of QEMU's virt PLIC (1..7). */
export const PLIC_DEFAULT_MAX_PRIORITY = 7;

/** Bytes the PLIC decodes for `contexts` contexts (QEMU virt: `VIRT_PLIC_SIZE`). */
export function plicWindowSize(contexts: number): number {
  return PLIC_CONTEXT_BASE + contexts * PLIC_CONTEXT_STRIDE;
}

export interface PlicOptions {
  /** Number of interrupt sources; ids 1..sources exist (`riscv,ndev`). At most 1023. */
  readonly sources: number;
  /** One output line per context, in context order. */
  readonly contexts: readonly IrqLine[];
  /**
   * Highest priority (and threshold) value. Priority registers are WARL with this many low bits writable, so it
   * must be 2^k - 1. Default 7.
   */
  readonly maxPriority?: number;
  /** Mask claims by the threshold as QEMU does (the specification says claims ignore it). Default false. */
  readonly claimRespectsThreshold?: boolean;
}

export interface PlicStats extends DeviceStats {
  claims: number;
  /** Claims that found nothing (returned 0). */
  emptyClaims: number;
  completions: number;
  /** Completions ignored because the id was not a source enabled for that context. */
  ignoredCompletions: number;
}

export interface PlicState {
  readonly sources: number;
  readonly contexts: number;
  /** Index = source id (index 0 unused, always 0). */
  readonly priorities: readonly number[];
  /** Pending bitmap, 32 sources per word (bit 0 of word 0 always 0). */
  readonly pending: readonly number[];
  /** Current input level per source id (index 0 unused). */
  readonly levels: readonly boolean[];
  /** Claimed and not yet completed, per source id: the gateway holds further requests. */
  readonly inService: readonly boolean[];
  /** Enable bitmaps, one per context, same packing as `pending`. */
  readonly enables: ReadonlyArray<readonly number[]>;
  readonly thresholds: readonly number[];
}

const DEVICE = "plic";

export class Plic implements BusDevice, Snapshottable<PlicState> {
  readonly name = DEVICE;
  readonly sources: number;
  readonly contextCount: number;
  readonly maxPriority: number;
  /** Bytes this PLIC decodes (map at least this much). */
  readonly windowSize: number;
  readonly stats: PlicStats = { badAccesses: 0, claims: 0, emptyClaims: 0, completions: 0, ignoredCompletions: 0 };

  readonly #contextIrqs: readonly IrqLine[];
  readonly #claimRespectsThreshold: boolean;
  /** Words per bitmap: enough for ids 0..sources. */
  readonly #words: number;
  /** Writable bits of each bitmap word (id 0 and ids above `sources` are hardwired to 0). */
  readonly #wordMask: Uint32Array;
  readonly #priority: Uint32Array;
  readonly #pending: Uint32Array;
  readonly #level: Uint8Array;
  readonly #inService: Uint8Array;
  /** `#words` words per context. */
  readonly #enable: Uint32Array;
  readonly #threshold: Uint32Array;
  readonly #outputLevel: boolean[];

  constructor(options: PlicOptions) {
    const { sources, contexts } = options;
    const maxPriority = options.maxPriority ?? PLIC_DEFAULT_MAX_PRIORITY;
    if (!Number.isInteger(sources) || sources < 1 || sources > PLIC_MAX_SOURCES) {
      throw new DeviceError(
        DEVICE,
        "invalid-config",
        `Cannot create a PLIC with ${String(sources)} sources: it must be 1..${PLIC_MAX_SOURCES}`,
      );
    }
    if (contexts.length < 1 || contexts.length > PLIC_MAX_CONTEXTS) {
      throw new DeviceError(
        DEVICE,
        "invalid-config",
        `Cannot create a PLIC with ${contexts.length} contexts: it must be 1..${PLIC_MAX_CONTEXTS}`,
      );
    }
    if (
      !Number.isInteger(maxPriority) ||
      maxPriority < 1 ||
      maxPriority > 0xffff_ffff ||
      ((maxPriority + 1) & maxPriority) !== 0
    ) {
      throw new DeviceError(
        DEVICE,
        "invalid-config",
        `Cannot create a PLIC with maxPriority ${String(maxPriority)}: it must be 2^k - 1 (1, 3, 7, ...)`,
      );
    }
    this.sources = sources;
    this.contextCount = contexts.length;
    this.maxPriority = maxPriority;
    this.windowSize = plicWindowSize(contexts.length);
    this.#contextIrqs = contexts;
    this.#claimRespectsThreshold = options.claimRespectsThreshold ?? false;
    this.#words = ((sources + 1 + 31) / 32) | 0;
    this.#wordMask = new Uint32Array(this.#words);
    for (let id = 1; id <= sources; id++)
      this.#wordMask[id >>> 5] = ((this.#wordMask[id >>> 5] ?? 0) | (1 << (id & 31))) >>> 0;
    this.#priority = new Uint32Array(sources + 1);
    this.#pending = new Uint32Array(this.#words);
    this.#level = new Uint8Array(sources + 1);
    this.#inService = new Uint8Array(sources + 1);
    this.#enable = new Uint32Array(this.#words * contexts.length);
    this.#threshold = new Uint32Array(contexts.length);
    this.#outputLevel = contexts.map(() => false);
  }

  // -- interrupt inputs (VMM side) ------------------------------------------------------------------------------

  /** Drive a level-sensitive source. */
  setSourceLevel(source: number, level: boolean): void {
    this.#checkSource(source, "set the level of");
    this.#level[source] = level ? 1 : 0;
    if (level) this.#request(source);
  }

  /** An edge (or message-signalled) request on `source`: forwarded unless one is pending or in service. */
  triggerSource(source: number): void {
    this.#checkSource(source, "trigger");
    this.#request(source);
  }

  /** An `IrqLine` a device can drive: `set` is the level input, `trigger` an edge request. */
  sourceLine(source: number): IrqLine {
    this.#checkSource(source, "make a line for");
    return {
      set: (level: boolean) => this.setSourceLevel(source, level),
      trigger: () => this.triggerSource(source),
    };
  }

  isPending(source: number): boolean {
    return (((this.#pending[source >>> 5] ?? 0) >>> (source & 31)) & 1) === 1;
  }

  /** The level this PLIC drives on context `context`'s output. */
  contextLevel(context: number): boolean {
    return this.#outputLevel[context] ?? false;
  }

  // -- bus side -------------------------------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 4 || (offset & 3) !== 0) return this.#bad();
    if (offset < PLIC_PENDING_BASE) {
      const id = offset >>> 2;
      return id >= 1 && id <= this.sources ? (this.#priority[id] ?? 0) : this.#bad();
    }
    if (offset < PLIC_ENABLE_BASE) {
      const word = (offset - PLIC_PENDING_BASE) >>> 2;
      return word < this.#words ? (this.#pending[word] ?? 0) : this.#bad();
    }
    if (offset < PLIC_CONTEXT_BASE) {
      const loc = this.#enableWord(offset);
      return loc === undefined ? this.#bad() : (this.#enable[loc] ?? 0);
    }
    const ctx = (offset - PLIC_CONTEXT_BASE) >>> 12;
    const reg = (offset - PLIC_CONTEXT_BASE) & (PLIC_CONTEXT_STRIDE - 1);
    if (ctx >= this.contextCount) return this.#bad();
    if (reg === PLIC_CONTEXT_THRESHOLD) return this.#threshold[ctx] ?? 0;
    if (reg === PLIC_CONTEXT_CLAIM) return this.#claim(ctx);
    return this.#bad();
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 4 || (offset & 3) !== 0) {
      this.#bad();
      return;
    }
    const v = value >>> 0;
    if (offset < PLIC_PENDING_BASE) {
      const id = offset >>> 2;
      if (id >= 1 && id <= this.sources) {
        this.#priority[id] = v & this.maxPriority; // WARL: the low bits that exist
        this.#update();
      } else {
        this.#bad();
      }
      return;
    }
    if (offset < PLIC_ENABLE_BASE) {
      this.#bad(); // pending bits are read-only
      return;
    }
    if (offset < PLIC_CONTEXT_BASE) {
      const loc = this.#enableWord(offset);
      if (loc === undefined) {
        this.#bad();
        return;
      }
      this.#enable[loc] = (v & (this.#wordMask[loc % this.#words] ?? 0)) >>> 0;
      this.#update();
      return;
    }
    const ctx = (offset - PLIC_CONTEXT_BASE) >>> 12;
    const reg = (offset - PLIC_CONTEXT_BASE) & (PLIC_CONTEXT_STRIDE - 1);
    if (ctx >= this.contextCount) {
      this.#bad();
    } else if (reg === PLIC_CONTEXT_THRESHOLD) {
      this.#threshold[ctx] = v & this.maxPriority;
      this.#update();
    } else if (reg === PLIC_CONTEXT_CLAIM) {
      this.#complete(ctx, v);
    } else {
      this.#bad();
    }
  }

  // -- snapshot -------------------------------------------------------------------------------------------------

  snapshot(): PlicState {
    const enables: number[][] = [];
    for (let c = 0; c < this.contextCount; c++)
      enables.push(Array.from(this.#enable.subarray(c * this.#words, (c + 1) * this.#words)));
    return {
      sources: this.sources,
      contexts: this.contextCount,
      priorities: Array.from(this.#priority),
      pending: Array.from(this.#pending),
      levels: Array.from(this.#level, (l) => l === 1),
      inService: Array.from(this.#inService, (s) => s === 1),
      enables,
      thresholds: Array.from(this.#threshold),
    };
  }

  restore(state: PlicState): void {
    const words = this.#words;
    const fits =
      state.sources === this.sources &&
      state.contexts === this.contextCount &&
      state.priorities.length === this.sources + 1 &&
      state.priorities.every((p) => Number.isInteger(p) && p >= 0 && p <= this.maxPriority) &&
      state.pending.length === words &&
      state.pending.every((w, i) => Number.isInteger(w) && w >= 0 && (w & ~(this.#wordMask[i] ?? 0)) === 0) &&
      state.levels.length === this.sources + 1 &&
      state.inService.length === this.sources + 1 &&
      state.enables.length === this.contextCount &&
      state.enables.every(
        (e) =>
          e.length === words &&
          e.every((w, i) => Number.isInteger(w) && w >= 0 && (w & ~(this.#wordMask[i] ?? 0)) === 0),
      ) &&
      state.thresholds.length === this.contextCount &&
      state.thresholds.every((t) => Number.isInteger(t) && t >= 0 && t <= this.maxPriority);
    if (!fits) {
      throw new DeviceError(
        DEVICE,
        "invalid-state",
        `Cannot restore a PLIC with ${this.sources} sources, ${this.contextCount} contexts and max priority ${this.maxPriority} from a snapshot of ${String(state.sources)} sources and ${String(state.contexts)} contexts (or with values out of range)`,
      );
    }
    this.#priority.set(state.priorities);
    this.#pending.set(state.pending);
    state.levels.forEach((l, i) => (this.#level[i] = l ? 1 : 0));
    state.inService.forEach((s, i) => (this.#inService[i] = s ? 1 : 0));
    state.enables.forEach((e, c) => this.#enable.set(e, c * words));
    this.#threshold.set(state.thresholds);
    this.#level[0] = 0;
    this.#inService[0] = 0;
    this.#priority[0] = 0;
    // Drive every output to the restored level, even where it matches what this object last drove.
    for (let c = 0; c < this.contextCount; c++) {
      const level = this.#best(c, true) !== 0;
      this.#outputLevel[c] = level;
      this.#contextIrqs[c]?.set(level);
    }
  }

  // -- internals ------------------------------------------------------------------------------------------------

  #checkSource(source: number, action: string): void {
    if (!Number.isInteger(source) || source < 1 || source > this.sources) {
      throw new DeviceError(
        DEVICE,
        "invalid-argument",
        `Cannot ${action} source ${String(source)}: this PLIC has sources 1..${this.sources}`,
      );
    }
  }

  /** The gateway forwards a request unless one is pending or the source is being serviced. */
  #request(source: number): void {
    if (this.#inService[source] === 1 || this.isPending(source)) return;
    this.#setPending(source, true);
    this.#update();
  }

  #setPending(source: number, pending: boolean): void {
    const w = source >>> 5;
    const bit = 1 << (source & 31);
    const old = this.#pending[w] ?? 0;
    this.#pending[w] = (pending ? old | bit : old & ~bit) >>> 0;
  }

  /** Index into `#enable` for an offset in the enable block, or undefined for a reserved offset. */
  #enableWord(offset: number): number | undefined {
    const rel = offset - PLIC_ENABLE_BASE;
    const ctx = (rel / PLIC_ENABLE_STRIDE) | 0;
    const word = (rel % PLIC_ENABLE_STRIDE) >>> 2;
    if (ctx >= this.contextCount || word >= this.#words) return undefined;
    return ctx * this.#words + word;
  }

  /**
   * The source a claim by `ctx` would return: highest priority, lowest id on ties, among pending and enabled
   * sources with priority above `floor` (0, or the threshold). 0 if none.
   */
  #best(ctx: number, aboveThreshold: boolean): number {
    const floor = aboveThreshold ? (this.#threshold[ctx] ?? 0) : 0;
    const base = ctx * this.#words;
    let bestId = 0;
    let bestPriority = floor;
    for (let w = 0; w < this.#words; w++) {
      let bits = ((this.#pending[w] ?? 0) & (this.#enable[base + w] ?? 0)) >>> 0;
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits); // lowest set bit first: ids ascend, so ">" keeps the lowest id
        bits = (bits & (bits - 1)) >>> 0;
        const id = w * 32 + bit;
        const p = this.#priority[id] ?? 0;
        if (p > bestPriority) {
          bestPriority = p;
          bestId = id;
        }
      }
    }
    return bestId;
  }

  #claim(ctx: number): number {
    this.stats.claims++;
    const id = this.#best(ctx, this.#claimRespectsThreshold);
    if (id === 0) {
      this.stats.emptyClaims++;
      return 0;
    }
    this.#setPending(id, false);
    this.#inService[id] = 1;
    this.#update();
    return id;
  }

  #complete(ctx: number, id: number): void {
    const enabled =
      id >= 1 && id <= this.sources && (((this.#enable[ctx * this.#words + (id >>> 5)] ?? 0) >>> (id & 31)) & 1) === 1;
    if (!enabled) {
      // The specification: a completion for a source not enabled for this context is silently ignored.
      this.stats.ignoredCompletions++;
      return;
    }
    this.stats.completions++;
    this.#inService[id] = 0;
    if (this.#level[id] === 1) this.#setPending(id, true); // still asserted: the gateway forwards a new request
    this.#update();
  }

  #update(): void {
    for (let c = 0; c < this.contextCount; c++) {
      const level = this.#best(c, true) !== 0;
      if (level !== this.#outputLevel[c]) {
        this.#outputLevel[c] = level;
        this.#contextIrqs[c]?.set(level);
      }
    }
  }

  #bad(): number {
    this.stats.badAccesses++;
    return 0;
  }
}
