/**
 * A VM's deferred device work: tasks devices hand over to run in a later turn of the event loop (the rest of a
 * virtqueue once a turn's budget is spent). Every VM of the process runs on one JS thread; a turn is what lies
 * between two passes of the event loop, where every other VM's vCPU loop and deferred work get their turn too. So
 * a device that defers instead of finishing a huge request delays the other VMs by one turn's budget at most.
 *
 * Tasks deferred while a turn runs wait for the next one. While the VM's console is congested (its reader is not
 * keeping up) the work waits for it to drain, as the VM's vCPUs do: deferred console output would otherwise fill
 * memory behind a pipe nobody reads. Pending tasks are dropped when the VM is released.
 */

export class DeferredWork {
  readonly stats = { turns: 0, tasks: 0 };
  readonly #gate: () => Promise<void> | undefined;
  #tasks: Array<() => void> = [];
  #scheduled = false;
  #closed = false;
  /** Held while the VM is paused: tasks wait, new ones queue, nothing touches the devices until `release`. */
  #held = false;

  /** `gate` says whether to wait before a turn (the console's backpressure), as `ConsoleOutput.backpressure`. */
  constructor(gate: () => Promise<void> | undefined = () => undefined) {
    this.#gate = gate;
  }

  /** Tasks waiting for their turn. */
  get pending(): number {
    return this.#tasks.length;
  }

  /** Run `task` in a later turn (never now). */
  defer(task: () => void): void {
    if (this.#closed) return;
    this.#tasks.push(task);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#turn());
  }

  /** Run no task until `release` (the VM is paused). */
  hold(): void {
    this.#held = true;
  }

  /** Run tasks again, those queued while held in the next turn. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#tasks.length === 0 || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#turn());
  }

  /** Drop pending tasks and accept no more (the VM was released). */
  close(): void {
    this.#closed = true;
    this.#tasks = [];
  }

  async #turn(): Promise<void> {
    const wait = this.#gate();
    if (wait !== undefined) await wait;
    this.#scheduled = false;
    // Held: the tasks stay queued; `release` schedules the turn that runs them.
    if (this.#closed || this.#held) return;
    const tasks = this.#tasks;
    this.#tasks = [];
    this.stats.turns++;
    this.stats.tasks += tasks.length;
    // Tasks come from transports, which run them inside their guard: a device failure never escapes here.
    // Tasks they defer schedule the next turn themselves (`defer` sees `#scheduled` false by now).
    for (const task of tasks) task();
  }
}
