/**
 * Where a VM's vCPU loops sleep: until woken (`wake(id)`: an interrupt line rose, a vCPU was started, the VM stops
 * or pauses) or until the VM clock reaches a deadline (a host timer set for the equivalent wall time).
 */

export class VcpuSleeper {
  readonly #wakers: Array<(() => void) | undefined>;
  readonly #now: () => number;
  readonly #timebaseHz: number;

  /** `now` is the VM clock, in ticks of `timebaseHz`. */
  constructor(vcpuCount: number, now: () => number, timebaseHz: number) {
    this.#wakers = Array.from({ length: vcpuCount }, () => undefined);
    this.#now = now;
    this.#timebaseHz = timebaseHz;
  }

  /** Sleep until `wake(id)` or until the VM clock reaches `deadline`. */
  sleep(id: number, deadline: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.#wakers[id] === done) this.#wakers[id] = undefined;
        resolve();
      };
      this.#wakers[id] = done;
      if (deadline !== undefined) {
        const ms = Math.max(0, ((deadline - this.#now()) * 1000) / this.#timebaseHz);
        timer = setTimeout(done, Math.ceil(ms));
      }
    });
  }

  /** Sleep until `event` settles, `wake(id)` (the VM stops) or both. */
  async waitFor(id: number, event: Promise<void>): Promise<void> {
    const sleeping = this.sleep(id, undefined);
    void event.then(() => this.wake(id));
    await sleeping;
  }

  wake(id: number): void {
    this.#wakers[id]?.();
  }

  wakeAll(): void {
    for (let id = 0; id < this.#wakers.length; id++) this.wake(id);
  }
}
