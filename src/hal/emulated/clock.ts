/**
 * The emulated VM's architectural clock (the harts' `time`): ticks since the VM started, stopped while the VM is
 * paused. Its two numbers live in the VM's arena when there is one, so harts on other threads (threads/) read the
 * same clock: [0] = when `time` was 0, in milliseconds of the creating thread's `performance.now()`; [1] = the
 * frozen time in ticks while paused, else NaN. Each thread reads `performance.now()` shifted by the difference
 * of its `performance.timeOrigin` and the creating thread's (Bun's `Bun.nanoseconds()` counts from each thread's
 * own start, so it cannot be shared; measured: the shifted clocks agree within a few microseconds).
 */

export class VmClock {
  readonly #slots: Float64Array;
  readonly #ticksPerMs: number;
  /** Added to this thread's `performance.now()` to get the creating thread's. */
  readonly #originShiftMs: number;

  constructor(slots: Float64Array, timebaseHz: number, creatorTimeOrigin: number | undefined) {
    this.#slots = slots;
    this.#ticksPerMs = timebaseHz / 1000;
    this.#originShiftMs = creatorTimeOrigin === undefined ? 0 : performance.timeOrigin - creatorTimeOrigin;
    if (creatorTimeOrigin === undefined) {
      slots[0] = performance.now();
      slots[1] = Number.NaN;
    }
  }

  #nowMs(): number {
    return performance.now() + this.#originShiftMs;
  }

  currentTime(): number {
    const paused = this.#slots[1] ?? Number.NaN;
    if (!Number.isNaN(paused)) return paused;
    return Math.floor((this.#nowMs() - (this.#slots[0] ?? 0)) * this.#ticksPerMs);
  }

  pause(): void {
    if (Number.isNaN(this.#slots[1] ?? Number.NaN)) this.#slots[1] = this.currentTime();
  }

  resume(): void {
    const paused = this.#slots[1] ?? Number.NaN;
    if (Number.isNaN(paused)) return;
    this.#slots[1] = Number.NaN;
    this.set(paused);
  }

  /** Make the clock read `ticks` now and go on from there (a restored snapshot's time). */
  set(ticks: number): void {
    this.#slots[0] = this.#nowMs() - ticks / this.#ticksPerMs;
    if (!Number.isNaN(this.#slots[1] ?? Number.NaN)) this.#slots[1] = ticks;
  }
}
