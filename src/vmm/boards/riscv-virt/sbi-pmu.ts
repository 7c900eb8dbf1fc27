/**
 * The SBI PMU extension (SBI v2.0 chapter 11) for VS-mode guests: the counters a supervisor can discover,
 * configure, start, stop and read, one set per hart. Linux's `riscv_pmu_sbi` driver probes it at boot and, finding
 * it, takes its normal path (it stops every counter, then enables user access to `time` through scounteren).
 *
 * The logical counters follow KVM's numbering (so a logical hardware counter's index is its CSR's offset from
 * `cycle`, as Linux reads hardware counters through `counter_info.csr`):
 * - 0: `cycle` (hardware, 64 bits), counts SBI_PMU_HW_CPU_CYCLES only;
 * - 1: not a counter (`time` cannot be configured): every call naming it is SBI_ERR_INVALID_PARAM;
 * - 2: `instret` (hardware, 64 bits), counts SBI_PMU_HW_INSTRUCTIONS only;
 * - 3 .. 3 + PMU_FIRMWARE_COUNTERS - 1: firmware counters, each counting one firmware event.
 * The hart has no hpmcounters (they read zero), so no other hardware event can be counted: configuring one is
 * SBI_ERR_NOT_SUPPORTED, which Linux records as "event not supported".
 *
 * Hardware counters are the hart's own mcycle/minstret, started and stopped through mcountinhibit and preset by
 * writing them, as M-mode firmware (OpenSBI) does on real hardware; the guest reads them directly (hcounteren).
 * Firmware counters count the events this SBI implementation itself sees: timer programming, IPIs and remote
 * fences, sent and received. The trap events (misaligned, access fault, illegal instruction) never pass through
 * it (the hart performs misaligned accesses, the backend reflects faults), so they are reported as not
 * countable rather than as counters stuck at zero. Counter snapshots (shared memory) are not implemented.
 *
 * Pure state: the VMM supplies the hardware counters (`HardwareCounters`), the dispatcher (`sbi.ts`) routes the
 * calls and reports the firmware events.
 */

import { CSR_CYCLE, CSR_INSTRET } from "../../../arch/riscv64/csr.ts";
import {
  SBI_ERR_ALREADY_STARTED,
  SBI_ERR_ALREADY_STOPPED,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NO_SHMEM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_PMU_COUNTER_CONFIG_MATCHING,
  SBI_EXT_PMU_COUNTER_FW_READ,
  SBI_EXT_PMU_COUNTER_FW_READ_HI,
  SBI_EXT_PMU_COUNTER_GET_INFO,
  SBI_EXT_PMU_COUNTER_START,
  SBI_EXT_PMU_COUNTER_STOP,
  SBI_EXT_PMU_NUM_COUNTERS,
  SBI_PMU_CFG_FLAG_AUTO_START,
  SBI_PMU_CFG_FLAG_CLEAR_VALUE,
  SBI_PMU_CFG_FLAG_SKIP_MATCH,
  SBI_PMU_CTR_INFO_TYPE_FW,
  SBI_PMU_CTR_INFO_WIDTH_SHIFT,
  SBI_PMU_EVENT_CODE_MASK,
  SBI_PMU_EVENT_IDX_MASK,
  SBI_PMU_EVENT_TYPE_FW,
  SBI_PMU_EVENT_TYPE_HW,
  SBI_PMU_EVENT_TYPE_SHIFT,
  SBI_PMU_FW_HFENCE_GVMA_SENT,
  SBI_PMU_FW_HFENCE_VVMA_ASID_RECEIVED,
  SBI_PMU_FW_SET_TIMER,
  SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED,
  SBI_PMU_HW_CPU_CYCLES,
  SBI_PMU_HW_INSTRUCTIONS,
  SBI_PMU_START_FLAG_INIT_SNAPSHOT,
  SBI_PMU_START_FLAG_SET_INIT_VALUE,
  SBI_PMU_STOP_FLAG_RESET,
  SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT,
  SBI_SUCCESS,
} from "../../../arch/riscv64/sbi.ts";
import { U64_MASK } from "../../../common/u64.ts";

/** The hart counters behind the logical hardware counters. */
export type HardwareCounterName = "cycle" | "instret";

/** What the VMM provides: each hart's mcycle/minstret, as M-mode firmware would reach them. */
export interface HardwareCounters {
  /** Preset hart `hart`'s counter to `value` (mcycle/minstret write). */
  write(hart: number, counter: HardwareCounterName, value: bigint): void;
  /** Let it count or freeze it (mcountinhibit). */
  setRunning(hart: number, counter: HardwareCounterName, running: boolean): void;
}

/** How many firmware counters each hart has (enough for every countable firmware event at once). */
export const PMU_FIRMWARE_COUNTERS = 16;
/** Logical counter index of `cycle`, `instret` and the first firmware counter. */
export const PMU_COUNTER_CYCLE = 0;
export const PMU_COUNTER_INSTRET = 2;
export const PMU_FIRST_FIRMWARE_COUNTER = 3;
/** Logical counters, the unusable index 1 included (Linux skips indices whose get_info fails). */
export const PMU_NUM_COUNTERS = PMU_FIRST_FIRMWARE_COUNTER + PMU_FIRMWARE_COUNTERS;

/** Width field of a 64-bit counter (one less than its bits). */
const WIDTH_64 = 63n;

/** The event_idx of a hardware general event or a firmware event. */
export function hardwareEvent(code: number): number {
  return (SBI_PMU_EVENT_TYPE_HW << SBI_PMU_EVENT_TYPE_SHIFT) | code;
}

export function firmwareEvent(code: number): number {
  return (SBI_PMU_EVENT_TYPE_FW << SBI_PMU_EVENT_TYPE_SHIFT) | code;
}

const CYCLES_EVENT = hardwareEvent(SBI_PMU_HW_CPU_CYCLES);
const INSTRUCTIONS_EVENT = hardwareEvent(SBI_PMU_HW_INSTRUCTIONS);

/** One logical counter of one hart. */
interface CounterState {
  /** The configured event_idx, or undefined when no event is mapped. */
  event: number | undefined;
  started: boolean;
  /** Firmware counters only: the count (hardware counters live in the hart). */
  value: bigint;
}

export interface SbiPmuResult {
  readonly error: bigint;
  readonly value: bigint;
}

const result = (error: bigint, value = 0n): SbiPmuResult => ({ error, value });
const success = (value = 0n): SbiPmuResult => result(SBI_SUCCESS, value);

export interface SbiPmuOptions {
  readonly hartCount: number;
  readonly hardware: HardwareCounters;
  /**
   * Whether the HFENCE firmware events can happen (the RFENCE HFENCE functions exist only for guests with the H
   * extension); without it they are not countable.
   */
  readonly hfenceEvents: boolean;
}

export class SbiPmu {
  readonly #hardware: HardwareCounters;
  readonly #hfenceEvents: boolean;
  /** counters[hart][index]; index 1 is a placeholder that every call rejects. */
  readonly #counters: CounterState[][];

  constructor(options: SbiPmuOptions) {
    this.#hardware = options.hardware;
    this.#hfenceEvents = options.hfenceEvents;
    // The fixed counters start mapped and running, as the hart's mcycle/minstret do at reset (OpenSBI maps them
    // to their events at boot the same way).
    this.#counters = Array.from({ length: options.hartCount }, () =>
      Array.from({ length: PMU_NUM_COUNTERS }, (_, index): CounterState => {
        if (index === PMU_COUNTER_CYCLE) return { event: CYCLES_EVENT, started: true, value: 0n };
        if (index === PMU_COUNTER_INSTRET) return { event: INSTRUCTIONS_EVENT, started: true, value: 0n };
        return { event: undefined, started: false, value: 0n };
      }),
    );
  }

  /** Answer PMU function `fid` for hart `hart` with arguments a0..a5 (as unsigned 64-bit values). */
  call(hart: number, fid: bigint, a: readonly bigint[]): SbiPmuResult {
    const arg = (i: number): bigint => a[i] ?? 0n;
    switch (fid) {
      case SBI_EXT_PMU_NUM_COUNTERS:
        return success(BigInt(PMU_NUM_COUNTERS));
      case SBI_EXT_PMU_COUNTER_GET_INFO:
        return this.#info(arg(0));
      case SBI_EXT_PMU_COUNTER_CONFIG_MATCHING:
        return this.#configMatching(hart, arg(0), arg(1), arg(2), arg(3), arg(4));
      case SBI_EXT_PMU_COUNTER_START:
        return this.#start(hart, arg(0), arg(1), arg(2), arg(3));
      case SBI_EXT_PMU_COUNTER_STOP:
        return this.#stop(hart, arg(0), arg(1), arg(2));
      case SBI_EXT_PMU_COUNTER_FW_READ:
      case SBI_EXT_PMU_COUNTER_FW_READ_HI: {
        const counter = this.#firmwareCounter(hart, arg(0));
        if (counter === undefined || counter.event === undefined) return result(SBI_ERR_INVALID_PARAM);
        // RV64: the whole count fits sbiret.value, and read_hi always answers 0.
        return success(fid === SBI_EXT_PMU_COUNTER_FW_READ ? counter.value & U64_MASK : 0n);
      }
      default:
        // Snapshot shared memory (FID 7) is optional and not implemented; event_get_info (FID 8) is SBI 3.0.
        return result(SBI_ERR_NOT_SUPPORTED);
    }
  }

  /** A firmware event happened on hart `hart`: every started firmware counter of that hart counting it counts. */
  record(hart: number, eventCode: number): void {
    const counters = this.#counters[hart];
    if (counters === undefined) return;
    const event = firmwareEvent(eventCode);
    for (let i = PMU_FIRST_FIRMWARE_COUNTER; i < PMU_NUM_COUNTERS; i++) {
      const counter = counters[i];
      if (counter?.started === true && counter.event === event) counter.value++;
    }
  }

  #info(index: bigint): SbiPmuResult {
    if (index === BigInt(PMU_COUNTER_CYCLE))
      return success(BigInt(CSR_CYCLE) | (WIDTH_64 << SBI_PMU_CTR_INFO_WIDTH_SHIFT));
    if (index === BigInt(PMU_COUNTER_INSTRET))
      return success(BigInt(CSR_INSTRET) | (WIDTH_64 << SBI_PMU_CTR_INFO_WIDTH_SHIFT));
    if (index >= BigInt(PMU_FIRST_FIRMWARE_COUNTER) && index < BigInt(PMU_NUM_COUNTERS)) {
      return success(SBI_PMU_CTR_INFO_TYPE_FW | (WIDTH_64 << SBI_PMU_CTR_INFO_WIDTH_SHIFT));
    }
    return result(SBI_ERR_INVALID_PARAM);
  }

  /**
   * The counters named by (`base`, `mask`), or undefined when one of them is not a counter (the spec's "set of
   * counters has at least one invalid counter").
   */
  #set(base: bigint, mask: bigint): number[] | undefined {
    const indices: number[] = [];
    for (let bit = 0n; bit < 64n; bit++) {
      if (((mask >> bit) & 1n) === 0n) continue;
      const index = base + bit;
      if (index >= BigInt(PMU_NUM_COUNTERS) || index === 1n) return undefined;
      indices.push(Number(index));
    }
    return indices;
  }

  /** Whether logical counter `index` can count `event` (an event_idx). */
  #canCount(index: number, event: bigint): boolean {
    if (event > BigInt(SBI_PMU_EVENT_IDX_MASK)) return false;
    const e = Number(event);
    if (index === PMU_COUNTER_CYCLE) return e === CYCLES_EVENT;
    if (index === PMU_COUNTER_INSTRET) return e === INSTRUCTIONS_EVENT;
    if (e >>> SBI_PMU_EVENT_TYPE_SHIFT !== SBI_PMU_EVENT_TYPE_FW) return false;
    const code = e & SBI_PMU_EVENT_CODE_MASK;
    if (code >= SBI_PMU_FW_SET_TIMER && code <= SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED) return true;
    return this.#hfenceEvents && code >= SBI_PMU_FW_HFENCE_GVMA_SENT && code <= SBI_PMU_FW_HFENCE_VVMA_ASID_RECEIVED;
  }

  #configMatching(
    hart: number,
    base: bigint,
    mask: bigint,
    flags: bigint,
    event: bigint,
    eventData: bigint,
  ): SbiPmuResult {
    const set = this.#set(base, mask);
    const counters = this.#counters[hart];
    if (set === undefined || counters === undefined) return result(SBI_ERR_INVALID_PARAM);
    // event_data is reserved (must be zero) for the hardware general and firmware events we count.
    if (eventData !== 0n) return result(SBI_ERR_NOT_SUPPORTED);
    let chosen: number | undefined;
    if ((flags & SBI_PMU_CFG_FLAG_SKIP_MATCH) !== 0n) {
      // "Unconditionally select the first counter": the caller re-configures a counter it already owns.
      const first = set[0];
      if (first === undefined) return result(SBI_ERR_INVALID_PARAM);
      if (!this.#canCount(first, event)) return result(SBI_ERR_NOT_SUPPORTED);
      chosen = first;
    } else {
      chosen = set.find((index) => {
        const counter = counters[index];
        if (counter === undefined || counter.started || !this.#canCount(index, event)) return false;
        // A stopped counter still mapped to another event belongs to someone (it is freed by stop with RESET).
        return counter.event === undefined || counter.event === Number(event);
      });
      if (chosen === undefined) return result(SBI_ERR_NOT_SUPPORTED);
    }
    const counter = counters[chosen];
    if (counter === undefined) return result(SBI_ERR_INVALID_PARAM);
    counter.event = Number(event);
    if ((flags & SBI_PMU_CFG_FLAG_CLEAR_VALUE) !== 0n) this.#setValue(hart, chosen, counter, 0n);
    if ((flags & SBI_PMU_CFG_FLAG_AUTO_START) !== 0n && !counter.started) this.#run(hart, chosen, counter, true);
    return success(BigInt(chosen));
  }

  #start(hart: number, base: bigint, mask: bigint, flags: bigint, initial: bigint): SbiPmuResult {
    const set = this.#set(base, mask);
    const counters = this.#counters[hart];
    if (set === undefined || counters === undefined) return result(SBI_ERR_INVALID_PARAM);
    if ((flags & SBI_PMU_START_FLAG_INIT_SNAPSHOT) !== 0n) return result(SBI_ERR_NO_SHMEM);
    // A counter with no event configured cannot be started: nothing is changed then.
    if (set.some((index) => counters[index]?.event === undefined)) return result(SBI_ERR_INVALID_PARAM);
    let alreadyStarted = false;
    for (const index of set) {
      const counter = counters[index];
      if (counter === undefined) continue;
      if (counter.started) {
        alreadyStarted = true;
        continue;
      }
      if ((flags & SBI_PMU_START_FLAG_SET_INIT_VALUE) !== 0n) this.#setValue(hart, index, counter, initial);
      this.#run(hart, index, counter, true);
    }
    return alreadyStarted ? result(SBI_ERR_ALREADY_STARTED) : success();
  }

  #stop(hart: number, base: bigint, mask: bigint, flags: bigint): SbiPmuResult {
    const set = this.#set(base, mask);
    const counters = this.#counters[hart];
    if (set === undefined || counters === undefined) return result(SBI_ERR_INVALID_PARAM);
    if ((flags & SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT) !== 0n) return result(SBI_ERR_NO_SHMEM);
    let alreadyStopped = false;
    for (const index of set) {
      const counter = counters[index];
      if (counter === undefined) continue;
      if (counter.started) this.#run(hart, index, counter, false);
      else alreadyStopped = true;
      // RESET frees the counter whether or not it was running (Linux frees counters it only configured).
      if ((flags & SBI_PMU_STOP_FLAG_RESET) !== 0n) counter.event = undefined;
    }
    return alreadyStopped ? result(SBI_ERR_ALREADY_STOPPED) : success();
  }

  #firmwareCounter(hart: number, index: bigint): CounterState | undefined {
    if (index < BigInt(PMU_FIRST_FIRMWARE_COUNTER) || index >= BigInt(PMU_NUM_COUNTERS)) return undefined;
    return this.#counters[hart]?.[Number(index)];
  }

  #setValue(hart: number, index: number, counter: CounterState, value: bigint): void {
    const hardware = hardwareCounterOf(index);
    if (hardware === undefined) counter.value = value & U64_MASK;
    else this.#hardware.write(hart, hardware, value & U64_MASK);
  }

  #run(hart: number, index: number, counter: CounterState, running: boolean): void {
    counter.started = running;
    const hardware = hardwareCounterOf(index);
    if (hardware !== undefined) this.#hardware.setRunning(hart, hardware, running);
  }
}

function hardwareCounterOf(index: number): HardwareCounterName | undefined {
  if (index === PMU_COUNTER_CYCLE) return "cycle";
  if (index === PMU_COUNTER_INSTRET) return "instret";
  return undefined;
}
