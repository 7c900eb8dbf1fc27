/**
 * A VM's timer wheel: callbacks due at a guest time (ticks of the VM's timebase). The VMM runs due timers between
 * vCPU runs and sleeps until the next deadline while every vCPU halts. Few timers live at once (one per hart for
 * the SBI timer, the CLINT's), so a flat list beats a heap here.
 */

export interface TimerHandle {
  readonly id: number;
}

interface TimerEntry {
  readonly id: number;
  deadline: number;
  readonly callback: () => void;
}

export class TimerWheel {
  readonly #entries = new Map<number, TimerEntry>();
  #nextId = 1;
  #earliest = Number.POSITIVE_INFINITY;

  /** Call `callback` once the time reaches `deadline`. */
  add(deadline: number, callback: () => void): TimerHandle {
    const id = this.#nextId++;
    this.#entries.set(id, { id, deadline, callback });
    if (deadline < this.#earliest) this.#earliest = deadline;
    return { id };
  }

  cancel(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const entry = this.#entries.get(handle.id);
    if (entry === undefined) return;
    this.#entries.delete(handle.id);
    if (entry.deadline === this.#earliest) this.#recompute();
  }

  /** The earliest pending deadline, or undefined. */
  nextDeadline(): number | undefined {
    return this.#entries.size === 0 ? undefined : this.#earliest;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Run every timer due at `now` (in deadline order). Returns how many ran. */
  runDue(now: number): number {
    if (now < this.#earliest) return 0;
    const due = [...this.#entries.values()].filter((e) => e.deadline <= now).sort((a, b) => a.deadline - b.deadline);
    for (const entry of due) this.#entries.delete(entry.id);
    this.#recompute();
    for (const entry of due) entry.callback();
    return due.length;
  }

  clear(): void {
    this.#entries.clear();
    this.#earliest = Number.POSITIVE_INFINITY;
  }

  #recompute(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries.values()) if (entry.deadline < earliest) earliest = entry.deadline;
    this.#earliest = earliest;
  }
}
