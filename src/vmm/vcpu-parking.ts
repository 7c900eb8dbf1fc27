/**
 * Where a VM's vCPU loops wait while the VM is paused (Firecracker's `VcpuEvent::Pause`: each vCPU thread stops
 * at its next exit and reports it has). A loop that sees the VM paused parks here until `releaseAll`; `pause`
 * waits for `allParked`, so that when it resolves no vCPU is inside the guest and none will enter it: the guest
 * state (registers, memory, devices) holds still at an instruction boundary and can be read or saved.
 *
 * A loop that has ended (the VM stopped) counts as parked: it will never run the guest again.
 */

export class VcpuParking {
  readonly #count: number;
  readonly #parked = new Set<number>();
  readonly #ended = new Set<number>();
  #running = false;
  #releaseWaiters: Array<() => void> = [];
  #allParkedWaiters: Array<() => void> = [];

  constructor(vcpuCount: number) {
    this.#count = vcpuCount;
  }

  /** The loops have started (`AxVM.run`): until then nothing runs the guest, so nothing needs to park. */
  loopsStarted(): void {
    this.#running = true;
  }

  /** vCPU `id`'s loop waits here until `releaseAll`. */
  park(id: number): Promise<void> {
    this.#parked.add(id);
    const released = new Promise<void>((resolve) => this.#releaseWaiters.push(resolve));
    this.#checkAllParked();
    return released;
  }

  /** vCPU `id`'s loop has ended for good. */
  ended(id: number): void {
    this.#ended.add(id);
    this.#checkAllParked();
  }

  /** Resolves once every vCPU loop is parked or has ended (at once if the loops have not started). */
  allParked(): Promise<void> {
    if (this.#isAllParked()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#allParkedWaiters.push(resolve));
  }

  /** Let every parked loop go on; also settles `allParked` waiters (the VM is stopping or resuming). */
  releaseAll(): void {
    this.#parked.clear();
    for (const wake of this.#releaseWaiters.splice(0)) wake();
    for (const wake of this.#allParkedWaiters.splice(0)) wake();
  }

  #isAllParked(): boolean {
    if (!this.#running) return true;
    for (let id = 0; id < this.#count; id++) if (!this.#parked.has(id) && !this.#ended.has(id)) return false;
    return true;
  }

  #checkAllParked(): void {
    if (this.#isAllParked()) for (const wake of this.#allParkedWaiters.splice(0)) wake();
  }
}
