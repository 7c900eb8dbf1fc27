/**
 * Small `IrqLine` building blocks. Device models drive an injected line and never learn what is behind it; the
 * VMM wires these to a PLIC source, a vCPU interrupt or `KVM_IRQ_LINE`.
 *
 * Both helpers behave like wires: a level is a state, and `trigger()` is a pulse that is only visible when the
 * wire was low (on a wire that some source already holds high, a pulse cannot be seen by the receiver).
 */

import type { IrqLine } from "./types.ts";

/** A line that remembers its level and calls `onChange` only when the level actually changes. */
export class LevelIrqLine implements IrqLine {
  #level = false;
  readonly #onChange: (level: boolean) => void;

  constructor(onChange: (level: boolean) => void) {
    this.#onChange = onChange;
  }

  get level(): boolean {
    return this.#level;
  }

  set(level: boolean): void {
    if (level === this.#level) return;
    this.#level = level;
    this.#onChange(level);
  }

  /** A pulse: high then low again. Invisible when the line is already high. */
  trigger(): void {
    if (this.#level) return;
    this.#onChange(true);
    this.#onChange(false);
  }
}

/**
 * One output line driven by several sources (wired OR), e.g. two devices sharing one PLIC source or one x86 IRQ.
 * Each `source()` is an `IrqLine` of its own; the output is high while any source is high.
 */
export class SharedIrqLine {
  readonly #output: IrqLine;
  readonly #levels: boolean[] = [];
  #highCount = 0;
  #outputLevel = false;

  constructor(output: IrqLine) {
    this.#output = output;
  }

  /** The output level (OR of all sources). */
  get level(): boolean {
    return this.#outputLevel;
  }

  /** Number of sources created so far. */
  get sourceCount(): number {
    return this.#levels.length;
  }

  /** A new input of the OR gate, initially low. */
  source(): IrqLine {
    const index = this.#levels.length;
    this.#levels.push(false);
    return {
      set: (level: boolean) => this.#setSource(index, level),
      trigger: () => {
        // A pulse passes through only if nobody holds the output high (a wire cannot show it otherwise).
        if (this.#highCount === 0) this.#output.trigger();
      },
    };
  }

  #setSource(index: number, level: boolean): void {
    if (this.#levels[index] === level) return;
    this.#levels[index] = level;
    this.#highCount += level ? 1 : -1;
    const out = this.#highCount > 0;
    if (out !== this.#outputLevel) {
      this.#outputLevel = out;
      this.#output.set(out);
    }
  }
}
