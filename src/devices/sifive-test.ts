/**
 * The `sifive,test` finisher (QEMU `hw/misc/sifive_test.c`; QEMU virt maps it at 0x10_0000). A guest stops the
 * machine by writing one 32-bit word at offset 0: the low 16 bits say what to do, the high 16 bits carry an exit
 * code for a failure.
 *
 *   0x5555               pass (power off, code 0)
 *   0x3333 | code << 16  fail with `code`
 *   0x7777               reset
 *
 * A 16-bit store of the status alone is accepted too (as QEMU does), with code 0. Reads return 0. What a finish
 * means for the VM (exit status, reboot) is the VMM's decision: the device only reports the request.
 */

import type { BusDevice, DeviceStats, Snapshottable } from "./types.ts";

export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;
export const SIFIVE_TEST_FINISHER_OFFSET = 0x0;
/** QEMU virt's window for the device. */
export const SIFIVE_TEST_WINDOW_SIZE = 0x1000;

export type FinisherAction = "pass" | "fail" | "reset";

export interface FinishRequest {
  readonly action: FinisherAction;
  /** The guest's exit code (0 for pass and reset). */
  readonly code: number;
}

export interface SifiveTestOptions {
  readonly onFinish: (request: FinishRequest) => void;
}

export interface SifiveTestStats extends DeviceStats {
  finishes: number;
}

export interface SifiveTestState {
  /** The last request the guest made, or null. */
  readonly lastRequest: FinishRequest | null;
}

export class SifiveTest implements BusDevice, Snapshottable<SifiveTestState> {
  readonly name = "sifive-test";
  readonly windowSize = SIFIVE_TEST_WINDOW_SIZE;
  readonly stats: SifiveTestStats = { badAccesses: 0, finishes: 0 };
  readonly #onFinish: (request: FinishRequest) => void;
  #lastRequest: FinishRequest | null = null;

  constructor(options: SifiveTestOptions) {
    this.#onFinish = options.onFinish;
  }

  get lastRequest(): FinishRequest | null {
    return this.#lastRequest;
  }

  read(_offset: number, _width: 1 | 2 | 4): number {
    return 0;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset !== SIFIVE_TEST_FINISHER_OFFSET || width === 1) {
      this.stats.badAccesses++;
      return;
    }
    const status = value & 0xffff;
    const code = width === 4 ? (value >>> 16) & 0xffff : 0;
    let request: FinishRequest;
    switch (status) {
      case FINISHER_PASS:
        request = { action: "pass", code: 0 };
        break;
      case FINISHER_FAIL:
        request = { action: "fail", code };
        break;
      case FINISHER_RESET:
        request = { action: "reset", code: 0 };
        break;
      default:
        this.stats.badAccesses++;
        return;
    }
    this.stats.finishes++;
    this.#lastRequest = request;
    this.#onFinish(request);
  }

  snapshot(): SifiveTestState {
    return { lastRequest: this.#lastRequest };
  }

  restore(state: SifiveTestState): void {
    this.#lastRequest =
      state.lastRequest === null ? null : { action: state.lastRequest.action, code: state.lastRequest.code };
  }
}
