/**
 * Arm PrimeCell UART (PL011), as the Arm PL011 Technical Reference Manual (DDI 0183, r1p5) describes it and QEMU's
 * `hw/char/pl011.c` behaves on the `virt` board that Linux's `amba-pl011` driver is used to.
 *
 * Registers (32-bit, word-aligned; byte and halfword accesses to the low bits are accepted as drivers do them):
 *
 *   0x000 DR      data (read: received byte + error bits 8-11; write: transmit)
 *   0x004 RSR/ECR receive status (read) / error clear (write)
 *   0x018 FR      flags: TXFE, RXFF, TXFF, RXFE, BUSY, CTS/DSR/DCD
 *   0x020 ILPR    IrDA low-power counter (stored, unused)
 *   0x024 IBRD    integer baud divisor      0x028 FBRD  fractional baud divisor (stored)
 *   0x02c LCR_H   line control (FEN: FIFOs on)   0x030 CR  control (UARTEN, TXE, RXE, ...)
 *   0x034 IFLS    FIFO interrupt levels     0x038 IMSC  interrupt mask (1 = enabled)
 *   0x03c RIS     raw interrupt status      0x040 MIS   masked status    0x044 ICR  interrupt clear (write)
 *   0x048 DMACR   DMA control (stored, no DMA)
 *   0xfe0..0xffc  peripheral and PrimeCell ids (the AMBA bus matches the driver by them)
 *
 * Choices for a virtual line (as in uart16550.ts):
 * - Transmission is instantaneous: a DR write goes to the sink at once, so the TX FIFO is always empty (FR.TXFE,
 *   never TXFF or BUSY). The TX interrupt (TXRIS) is raised by every DR write, as the TRM's "FIFO drops through
 *   its trigger level" happens at once, and cleared by ICR (QEMU does the same); Linux's driver relies on it.
 * - RX: a 32-entry FIFO with LCR_H.FEN, else a 1-byte holding register. RXRIS is "level at or above IFLS", the
 *   receive timeout RTRIS is "data below that level" (a virtual line has no character time, so the timeout is
 *   immediate); both follow the FIFO rather than latching, so draining the FIFO clears them.
 * - The interrupt output is one level line: (RIS & IMSC) != 0 (UARTINTR, the combined interrupt QEMU virt wires).
 * - Output is not gated by CR.UARTEN/TXE: firmware-less guests (and Linux's earlycon) write DR before enabling.
 */

import { DeviceError } from "./errors.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const PL011_DR = 0x000;
export const PL011_RSR = 0x004;
export const PL011_FR = 0x018;
export const PL011_ILPR = 0x020;
export const PL011_IBRD = 0x024;
export const PL011_FBRD = 0x028;
export const PL011_LCR_H = 0x02c;
export const PL011_CR = 0x030;
export const PL011_IFLS = 0x034;
export const PL011_IMSC = 0x038;
export const PL011_RIS = 0x03c;
export const PL011_MIS = 0x040;
export const PL011_ICR = 0x044;
export const PL011_DMACR = 0x048;
export const PL011_PERIPH_ID0 = 0xfe0;
export const PL011_WINDOW_SIZE = 0x1000;

/** UARTPeriphID0..3 and UARTPCellID0..3 (TRM 3.3.14-15): part 0x011, designer Arm (0x41), revision r1p5. */
export const PL011_ID_BYTES: readonly number[] = [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/** FR bits. */
export const FR_CTS = 1 << 0;
export const FR_DSR = 1 << 1;
export const FR_DCD = 1 << 2;
export const FR_BUSY = 1 << 3;
export const FR_RXFE = 1 << 4;
export const FR_TXFF = 1 << 5;
export const FR_RXFF = 1 << 6;
export const FR_TXFE = 1 << 7;
export const FR_RI = 1 << 8;

/** LCR_H bits. */
export const LCR_H_FEN = 1 << 4;

/** CR bits. */
export const CR_UARTEN = 1 << 0;
export const CR_LBE = 1 << 7;
export const CR_TXE = 1 << 8;
export const CR_RXE = 1 << 9;

/** Interrupt bits (IMSC, RIS, MIS, ICR). */
export const INT_RIM = 1 << 0;
export const INT_CTSM = 1 << 1;
export const INT_DCDM = 1 << 2;
export const INT_DSRM = 1 << 3;
export const INT_RX = 1 << 4;
export const INT_TX = 1 << 5;
export const INT_RT = 1 << 6;
export const INT_FE = 1 << 7;
export const INT_PE = 1 << 8;
export const INT_BE = 1 << 9;
export const INT_OE = 1 << 10;
export const INT_ALL = 0x7ff;

/** DR/RSR error bits of a received character (overrun). */
export const DR_OE = 1 << 11;
export const RSR_OE = 1 << 3;

export const PL011_FIFO_SIZE = 32;
/** IFLS reset value: both levels at 1/2 (TRM table 3-12). */
export const IFLS_RESET = 0x12;
/** IFLS RXIFLSEL (bits 5:3): 1/8, 1/4, 1/2, 3/4, 7/8 full. */
const RX_LEVELS_EIGHTHS: readonly number[] = [1, 2, 4, 6, 7];
/** CR reset value: TXE and RXE set, UART disabled. */
export const CR_RESET = CR_TXE | CR_RXE;

export interface Pl011Options {
  /** Where the guest's output goes. */
  readonly sink: (bytes: Uint8Array) => void;
  /** UARTINTR, level: high while (RIS & IMSC) != 0. */
  readonly irq: IrqLine;
  /** Called when the receiver goes from full to having room: the VMM may feed more host input. */
  readonly onInputSpace?: () => void;
}

export interface Pl011Stats extends DeviceStats {
  txBytes: number;
  rxBytes: number;
  overruns: number;
}

export interface Pl011State {
  readonly ilpr: number;
  readonly ibrd: number;
  readonly fbrd: number;
  readonly lcrH: number;
  readonly cr: number;
  readonly ifls: number;
  readonly imsc: number;
  readonly dmacr: number;
  /** Latched raw interrupt bits (TX, OE and the modem ones); RX and RT follow the FIFO. */
  readonly latched: number;
  /** Error bits of RSR not yet cleared. */
  readonly rsr: number;
  readonly rxFifo: readonly number[];
}

export class Pl011 implements BusDevice, Snapshottable<Pl011State> {
  readonly name = "pl011";
  readonly windowSize = PL011_WINDOW_SIZE;
  readonly stats: Pl011Stats = { badAccesses: 0, txBytes: 0, rxBytes: 0, overruns: 0 };
  readonly #sink: (bytes: Uint8Array) => void;
  readonly #irq: IrqLine;
  readonly #onInputSpace: (() => void) | undefined;

  #ilpr = 0;
  #ibrd = 0;
  #fbrd = 0;
  #lcrH = 0;
  #cr = CR_RESET;
  #ifls = IFLS_RESET;
  #imsc = 0;
  #dmacr = 0;
  #latched = 0;
  #rsr = 0;
  #rx: number[] = [];
  #irqLevel = false;

  constructor(options: Pl011Options) {
    this.#sink = options.sink;
    this.#irq = options.irq;
    this.#onInputSpace = options.onInputSpace;
  }

  // -- host side ------------------------------------------------------------------------------------------------

  /** Free room in the receiver. */
  get rxSpace(): number {
    return this.#capacity() - this.#rx.length;
  }

  /** Offer host input; returns how many bytes were taken (the rest must be offered again later). */
  enqueueInput(bytes: Uint8Array): number {
    if (this.#loopback()) return 0;
    const n = Math.min(this.rxSpace, bytes.length);
    for (let i = 0; i < n; i++) this.#rx.push(bytes[i] ?? 0);
    if (n > 0) this.#update();
    return n;
  }

  get irqLevel(): boolean {
    return this.#irqLevel;
  }

  // -- bus side -------------------------------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    if (!this.#valid(offset, width)) return 0;
    const value = this.#read(offset & ~3);
    this.#update();
    // A narrower access reads the low bits of the register (drivers use byte reads of DR and FR).
    return width === 4 ? value >>> 0 : value & (width === 2 ? 0xffff : 0xff);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (!this.#valid(offset, width)) return;
    this.#write(offset & ~3, value >>> 0);
    this.#update();
  }

  // -- snapshot -------------------------------------------------------------------------------------------------

  snapshot(): Pl011State {
    return {
      ilpr: this.#ilpr,
      ibrd: this.#ibrd,
      fbrd: this.#fbrd,
      lcrH: this.#lcrH,
      cr: this.#cr,
      ifls: this.#ifls,
      imsc: this.#imsc,
      dmacr: this.#dmacr,
      latched: this.#latched,
      rsr: this.#rsr,
      rxFifo: this.#rx.slice(),
    };
  }

  restore(state: Pl011State): void {
    const capacity = (state.lcrH & LCR_H_FEN) !== 0 ? PL011_FIFO_SIZE : 1;
    if (state.rxFifo.length > capacity || !state.rxFifo.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xfff)) {
      throw new DeviceError(
        this.name,
        "invalid-state",
        `Cannot restore the PL011: the receiver holds at most ${capacity} entries of 12 bits (got ${JSON.stringify(state.rxFifo)})`,
      );
    }
    this.#ilpr = state.ilpr & 0xff;
    this.#ibrd = state.ibrd & 0xffff;
    this.#fbrd = state.fbrd & 0x3f;
    this.#lcrH = state.lcrH & 0xff;
    this.#cr = state.cr & 0xffff;
    this.#ifls = state.ifls & 0x3f;
    this.#imsc = state.imsc & INT_ALL;
    this.#dmacr = state.dmacr & 0x7;
    this.#latched = state.latched & INT_ALL;
    this.#rsr = state.rsr & 0xf;
    this.#rx = state.rxFifo.slice();
    this.#irqLevel = this.#masked() !== 0;
    this.#irq.set(this.#irqLevel);
  }

  // -- registers ------------------------------------------------------------------------------------------------

  #valid(offset: number, width: number): boolean {
    // Registers are words; byte/halfword accesses must sit at the start of a word (what Linux and QEMU do).
    if (!Number.isInteger(offset) || offset < 0 || offset + width > PL011_WINDOW_SIZE || offset % 4 !== 0) {
      this.stats.badAccesses++;
      return false;
    }
    return true;
  }

  #read(offset: number): number {
    switch (offset) {
      case PL011_DR:
        return this.#readDr();
      case PL011_RSR:
        return this.#rsr;
      case PL011_FR: {
        let fr = FR_TXFE | FR_CTS | FR_DSR | FR_DCD;
        if (this.#rx.length === 0) fr |= FR_RXFE;
        if (this.#rx.length >= this.#capacity()) fr |= FR_RXFF;
        return fr;
      }
      case PL011_ILPR:
        return this.#ilpr;
      case PL011_IBRD:
        return this.#ibrd;
      case PL011_FBRD:
        return this.#fbrd;
      case PL011_LCR_H:
        return this.#lcrH;
      case PL011_CR:
        return this.#cr;
      case PL011_IFLS:
        return this.#ifls;
      case PL011_IMSC:
        return this.#imsc;
      case PL011_RIS:
        return this.#raw();
      case PL011_MIS:
        return this.#masked();
      case PL011_DMACR:
        return this.#dmacr;
      default:
        if (offset >= PL011_PERIPH_ID0 && offset < PL011_WINDOW_SIZE)
          return PL011_ID_BYTES[(offset - PL011_PERIPH_ID0) >> 2] ?? 0;
        // ICR is write-only; reserved registers read as zero (TRM: "do not access").
        this.stats.badAccesses++;
        return 0;
    }
  }

  #write(offset: number, value: number): void {
    switch (offset) {
      case PL011_DR: {
        const byte = value & 0xff;
        if (this.#loopback()) this.#receive(byte);
        else this.#sink(Uint8Array.of(byte));
        this.stats.txBytes++;
        this.#latched |= INT_TX;
        return;
      }
      case PL011_RSR:
        // ECR: any write clears the error bits.
        this.#rsr = 0;
        return;
      case PL011_ILPR:
        this.#ilpr = value & 0xff;
        return;
      case PL011_IBRD:
        this.#ibrd = value & 0xffff;
        return;
      case PL011_FBRD:
        this.#fbrd = value & 0x3f;
        return;
      case PL011_LCR_H: {
        const wasFifo = (this.#lcrH & LCR_H_FEN) !== 0;
        this.#lcrH = value & 0xff;
        // Turning the FIFO off leaves room for one character: drop the rest, as the hardware does.
        if (wasFifo && (this.#lcrH & LCR_H_FEN) === 0 && this.#rx.length > 1) this.#rx = this.#rx.slice(0, 1);
        return;
      }
      case PL011_CR:
        this.#cr = value & 0xffff;
        return;
      case PL011_IFLS:
        this.#ifls = value & 0x3f;
        return;
      case PL011_IMSC:
        this.#imsc = value & INT_ALL;
        return;
      case PL011_ICR:
        this.#latched &= ~value;
        return;
      case PL011_DMACR:
        this.#dmacr = value & 0x7;
        return;
      default:
        // FR, RIS, MIS and the ids are read-only; reserved registers ignore writes.
        this.stats.badAccesses++;
    }
  }

  #readDr(): number {
    const hadRoom = this.rxSpace > 0;
    const value = this.#rx.shift();
    if (value === undefined) return 0;
    this.stats.rxBytes++;
    // The status of the character read moves to RSR (an overrun is reported on the character after it).
    this.#rsr = (value >> 8) & 0xf;
    if (!hadRoom) this.#onInputSpace?.();
    return value;
  }

  #receive(byte: number): void {
    if (this.#rx.length >= this.#capacity()) {
      // Overrun: the character is lost; the flag travels with the last character in the FIFO.
      this.stats.overruns++;
      this.#latched |= INT_OE;
      const last = this.#rx.length - 1;
      this.#rx[last] = (this.#rx[last] ?? 0) | DR_OE;
      return;
    }
    this.#rx.push(byte);
  }

  #capacity(): number {
    return (this.#lcrH & LCR_H_FEN) !== 0 ? PL011_FIFO_SIZE : 1;
  }

  #loopback(): boolean {
    return (this.#cr & CR_LBE) !== 0;
  }

  /** The RX trigger level in characters (1 without the FIFO). */
  #rxLevel(): number {
    if ((this.#lcrH & LCR_H_FEN) === 0) return 1;
    const eighths = RX_LEVELS_EIGHTHS[(this.#ifls >> 3) & 0x7] ?? 4;
    return (PL011_FIFO_SIZE * eighths) / 8;
  }

  #raw(): number {
    let ris = this.#latched;
    const count = this.#rx.length;
    if (count >= this.#rxLevel()) ris |= INT_RX;
    else if (count > 0) ris |= INT_RT;
    return ris;
  }

  #masked(): number {
    return this.#raw() & this.#imsc;
  }

  #update(): void {
    const level = this.#masked() !== 0;
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    this.#irq.set(level);
  }
}
