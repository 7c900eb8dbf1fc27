/**
 * An `IrqLine` for tests that records every call, so a test can assert both the current level and the exact
 * sequence of changes a device produced (a missed de-assert or a spurious pulse shows up in `events`).
 */
import type { IrqLine } from "../../src/devices/types.ts";

export type IrqEvent = { readonly kind: "set"; readonly level: boolean } | { readonly kind: "trigger" };

export class RecordingIrqLine implements IrqLine {
  /** Every call in order, including `set` calls that did not change the level. */
  readonly events: IrqEvent[] = [];
  #level = false;
  /** The level when `events` was last cleared: `changes()` counts from it. */
  #baseline = false;

  /** The level after the last `set` (a `trigger` leaves it unchanged: it is a pulse). */
  get level(): boolean {
    return this.#level;
  }

  set(level: boolean): void {
    this.events.push({ kind: "set", level });
    this.#level = level;
  }

  trigger(): void {
    this.events.push({ kind: "trigger" });
  }

  /** The levels of the `set` calls that changed the level, in order (e.g. `[true, false, true]`). */
  changes(): boolean[] {
    const out: boolean[] = [];
    let level = this.#baseline;
    for (const e of this.events) {
      if (e.kind === "set" && e.level !== level) {
        out.push(e.level);
        level = e.level;
      }
    }
    return out;
  }

  /** How many times the line went from low to high through `set` (since the last `clear`). */
  get riseCount(): number {
    return this.changes().filter((l) => l).length;
  }

  /** How many pulses were sent with `trigger`. */
  get triggerCount(): number {
    return this.events.filter((e) => e.kind === "trigger").length;
  }

  /** Forget the recorded events (the level is kept). */
  clear(): void {
    this.events.length = 0;
    this.#baseline = this.#level;
  }
}
