/**
 * Arm PrimeCell GPIO (PL061), as the Arm PL061 Technical Reference Manual (DDI 0190) describes it and QEMU's
 * `hw/gpio/pl061.c` behaves on the `virt` board, where line 3 is the power button of a `gpio-keys` node (Linux:
 * `gpio-pl061`, AMBA id 0x00041061, and `gpio_keys` reporting KEY_POWER). Eight lines; every register is 8 bits
 * wide in a 32-bit slot.
 *
 *   0x000..0x3fc GPIODATA  address bits [9:2] mask the access: a read returns the lines' levels ANDed with the
 *                          mask, a write changes only the masked output lines
 *   0x400 GPIODIR   1 = output                    0x404 GPIOIS   interrupt sense: 1 = level, 0 = edge
 *   0x408 GPIOIBE   edge lines: both edges        0x40c GPIOIEV  1 = rising edge / high level
 *   0x410 GPIOIE    interrupt enable (mask)       0x414 GPIORIS  raw interrupt status
 *   0x418 GPIOMIS   RIS & IE                      0x41c GPIOIC   write 1s to clear edge interrupts
 *   0x420 GPIOAFSEL alternate function (stored)   0xfe0..0xffc   peripheral and PrimeCell ids
 *
 * A line's level is its output bit when it is an output, else what `setInput` last drove. Edge interrupts latch
 * in RIS until cleared through GPIOIC; level interrupts follow the line. The controller's one interrupt output
 * (level) is MIS != 0. `observed(line)` says whether the guest has read a line's level since it last changed: a
 * button can be held until the guest's debounced read saw it (a slow guest would otherwise miss a short press).
 */

import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const PL061_DATA_END = 0x400;
export const PL061_DIR = 0x400;
export const PL061_IS = 0x404;
export const PL061_IBE = 0x408;
export const PL061_IEV = 0x40c;
export const PL061_IE = 0x410;
export const PL061_RIS = 0x414;
export const PL061_MIS = 0x418;
export const PL061_IC = 0x41c;
export const PL061_AFSEL = 0x420;
export const PL061_PERIPH_ID0 = 0xfe0;
export const PL061_WINDOW_SIZE = 0x1000;
export const PL061_LINES = 8;
/** GPIOPeriphID0..3 and GPIOPCellID0..3: part 0x061, designer Arm (0x41), revision 0. */
export const PL061_ID_BYTES: readonly number[] = [0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

const LINE_MASK = 0xff;

export interface Pl061Options {
  /** The combined interrupt (level: any enabled line pending). */
  readonly irq: IrqLine;
}

export interface Pl061State {
  readonly output: number;
  readonly inputs: number;
  readonly dir: number;
  readonly is: number;
  readonly ibe: number;
  readonly iev: number;
  readonly ie: number;
  readonly ris: number;
  readonly afsel: number;
}

export class Pl061 implements BusDevice, Snapshottable<Pl061State> {
  readonly name = "pl061";
  readonly windowSize = PL061_WINDOW_SIZE;
  readonly stats: DeviceStats = { badAccesses: 0 };
  readonly #irq: IrqLine;
  /** GPIODATA as written (what output lines drive). */
  #output = 0;
  /** What the outside world drives on each line (`setInput`). */
  #inputs = 0;
  #dir = 0;
  #is = 0;
  #ibe = 0;
  #iev = 0;
  #ie = 0;
  #ris = 0;
  #afsel = 0;
  /** Line levels when interrupts were last evaluated (edges are changes against this). */
  #levels = 0;
  /** Lines whose level changed and has not been read through GPIODATA since. */
  #unobserved = 0;
  #irqLevel = false;

  constructor(options: Pl061Options) {
    this.#irq = options.irq;
  }

  /** Drive input line `line` (0..7) high or low from outside (a button). Output lines ignore it. */
  setInput(line: number, high: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line >= PL061_LINES) {
      throw new RangeError(`Cannot drive PL061 line ${line}: the controller has lines 0..${PL061_LINES - 1}`);
    }
    const bit = 1 << line;
    this.#inputs = high ? this.#inputs | bit : this.#inputs & ~bit;
    this.#update();
  }

  /** Whether the guest has read line `line` through GPIODATA since its level last changed. */
  observed(line: number): boolean {
    return (this.#unobserved & (1 << line)) === 0;
  }

  /** The level of every line (bit n = line n). */
  get levels(): number {
    return this.#levelsNow();
  }

  get irqLevel(): boolean {
    return this.#irqLevel;
  }

  read(offset: number, _width: 1 | 2 | 4): number {
    if (offset % 4 !== 0 || offset < 0 || offset >= PL061_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return 0;
    }
    if (offset < PL061_DATA_END) {
      const mask = offset >> 2;
      this.#unobserved &= ~mask;
      return this.#levelsNow() & mask;
    }
    switch (offset) {
      case PL061_DIR:
        return this.#dir;
      case PL061_IS:
        return this.#is;
      case PL061_IBE:
        return this.#ibe;
      case PL061_IEV:
        return this.#iev;
      case PL061_IE:
        return this.#ie;
      case PL061_RIS:
        return this.#ris;
      case PL061_MIS:
        return this.#ris & this.#ie;
      case PL061_AFSEL:
        return this.#afsel;
      default:
        if (offset >= PL061_PERIPH_ID0) return PL061_ID_BYTES[(offset - PL061_PERIPH_ID0) >> 2] ?? 0;
        this.stats.badAccesses++;
        return 0;
    }
  }

  write(offset: number, _width: 1 | 2 | 4, value: number): void {
    if (offset % 4 !== 0 || offset < 0 || offset >= PL061_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return;
    }
    const v = value & LINE_MASK;
    if (offset < PL061_DATA_END) {
      const mask = offset >> 2;
      this.#output = (this.#output & ~mask) | (v & mask);
      this.#update();
      return;
    }
    switch (offset) {
      case PL061_DIR:
        this.#dir = v;
        break;
      case PL061_IS:
        this.#is = v;
        break;
      case PL061_IBE:
        this.#ibe = v;
        break;
      case PL061_IEV:
        this.#iev = v;
        break;
      case PL061_IE:
        this.#ie = v;
        break;
      case PL061_IC:
        // Only edge-latched bits clear; a level interrupt stays while its line does.
        this.#ris &= ~(v & ~this.#is);
        break;
      case PL061_AFSEL:
        this.#afsel = v;
        break;
      default:
        // RIS, MIS and the ids are read-only.
        this.stats.badAccesses++;
        return;
    }
    this.#update();
  }

  snapshot(): Pl061State {
    return {
      output: this.#output,
      inputs: this.#inputs,
      dir: this.#dir,
      is: this.#is,
      ibe: this.#ibe,
      iev: this.#iev,
      ie: this.#ie,
      ris: this.#ris,
      afsel: this.#afsel,
    };
  }

  restore(state: Pl061State): void {
    this.#output = state.output & LINE_MASK;
    this.#inputs = state.inputs & LINE_MASK;
    this.#dir = state.dir & LINE_MASK;
    this.#is = state.is & LINE_MASK;
    this.#ibe = state.ibe & LINE_MASK;
    this.#iev = state.iev & LINE_MASK;
    this.#ie = state.ie & LINE_MASK;
    this.#ris = state.ris & LINE_MASK;
    this.#afsel = state.afsel & LINE_MASK;
    this.#levels = this.#levelsNow();
    this.#irqLevel = (this.#ris & this.#ie) !== 0;
    this.#irq.set(this.#irqLevel);
  }

  #levelsNow(): number {
    return ((this.#output & this.#dir) | (this.#inputs & ~this.#dir)) & LINE_MASK;
  }

  /** Latch edges since the last look, recompute level interrupts, drive the output line. */
  #update(): void {
    const levels = this.#levelsNow();
    const changed = levels ^ this.#levels;
    this.#levels = levels;
    this.#unobserved |= changed;
    const edge = ~this.#is & LINE_MASK;
    const rising = changed & levels;
    const falling = changed & ~levels;
    // Both edges where IBE is set; else the edge IEV names (1 = rising).
    this.#ris |=
      edge & ((changed & this.#ibe) | (rising & ~this.#ibe & this.#iev) | (falling & ~this.#ibe & ~this.#iev));
    // Level lines: pending while the line is at the level IEV names (1 = high).
    const levelPending = this.#is & ~(levels ^ this.#iev) & LINE_MASK;
    this.#ris = (this.#ris & edge) | levelPending;
    const level = (this.#ris & this.#ie) !== 0;
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    this.#irq.set(level);
  }
}
