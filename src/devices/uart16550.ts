/**
 * NS16550A UART (National Semiconductor PC16550D data sheet; vm-superio's `Serial` and QEMU's `serial.c` as
 * reference behaviour).
 *
 * Registers (index = offset >> regShift):
 *
 *   index  DLAB=0 read   DLAB=0 write   DLAB=1
 *   0      RBR           THR            DLL (read/write)
 *   1      IER           IER            DLM (read/write)
 *   2      IIR           FCR            (IIR / FCR: DLAB does not apply)
 *   3      LCR           LCR
 *   4      MCR           MCR
 *   5      LSR           (ignored)
 *   6      MSR           (ignored)
 *   7      SCR           SCR
 *
 * What is modelled, and the choices made for a virtual line:
 * - Transmission is instantaneous: a THR write goes to the sink at once, so THR and the transmitter shift register
 *   are always empty (LSR.THRE = LSR.TEMT = 1) and there is no TX FIFO to fill (FCR's XMIT reset is accepted).
 * - RX: a 16-byte FIFO when FCR.FIFO_ENABLE is set, otherwise the single receiver buffer register of 16450 mode.
 *   Host input arrives through `enqueueInput`, which takes only what fits (the host side is flow-controlled, so
 *   it never overruns); an overrun (LSR.OE) happens when loopback transmits into a full receiver.
 * - The character-timeout interrupt (IIR 0xc) fires as soon as data sits below the FIFO trigger level: a virtual
 *   line has no character time, so "4 character times without activity" is zero time. Drivers treat it like
 *   "received data available", and it keeps input latency at zero.
 * - The interrupt output is level: asserted while IIR reports a pending interrupt. It is not gated by MCR.OUT2
 *   (that gate is board glue on PCs, not part of the chip; QEMU does not gate either, and Linux sets OUT2).
 * - Modem inputs outside loopback: CTS, DSR and DCD asserted, RI not (a host that is always connected).
 */

import { DeviceError } from "./errors.ts";
import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

// Register indices.
export const UART_RBR = 0;
export const UART_THR = 0;
export const UART_DLL = 0;
export const UART_IER = 1;
export const UART_DLM = 1;
export const UART_IIR = 2;
export const UART_FCR = 2;
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;
/** Number of register slots in the window. */
export const UART_REGISTER_COUNT = 8;

// IER: interrupt enable.
/** Enable Received Data Available interrupt. */
export const IER_ERBFI = 0x01;
/** Enable Transmitter Holding Register Empty interrupt. */
export const IER_ETBEI = 0x02;
/** Enable Receiver Line Status interrupt. */
export const IER_ELSI = 0x04;
/** Enable Modem Status interrupt. */
export const IER_EDSSI = 0x08;
/** Bits 4-7 are always 0 on a 16550A. */
export const IER_MASK = 0x0f;

// IIR: interrupt identification (bit 0 = 0 means "interrupt pending"; bits 3:1 the source).
export const IIR_NO_INT = 0x01;
/** Receiver line status: OE, PE, FE or BI (highest priority). */
export const IIR_RLS = 0x06;
/** Received data available (FIFO at or above its trigger level). */
export const IIR_RDA = 0x04;
/** Character timeout: data below the trigger level and no activity (same priority as RDA). */
export const IIR_CTI = 0x0c;
/** Transmitter holding register empty. */
export const IIR_THRE = 0x02;
/** Modem status (lowest priority). */
export const IIR_MS = 0x00;
/** Bits 7:6 read 11 when the FIFOs are enabled (how drivers recognise a 16550A). */
export const IIR_FIFOS_ENABLED = 0xc0;

// FCR: FIFO control (write-only).
export const FCR_FIFO_ENABLE = 0x01;
export const FCR_RCVR_FIFO_RESET = 0x02;
export const FCR_XMIT_FIFO_RESET = 0x04;
export const FCR_DMA_MODE_SELECT = 0x08;
export const FCR_RCVR_TRIGGER_MASK = 0xc0;
/** RCVR trigger levels for FCR bits 7:6 = 00, 01, 10, 11. */
export const FCR_RCVR_TRIGGER_LEVELS: readonly [number, number, number, number] = [1, 4, 8, 14];

// LCR: line control.
export const LCR_WLS_MASK = 0x03;
export const LCR_STB = 0x04;
export const LCR_PEN = 0x08;
export const LCR_EPS = 0x10;
export const LCR_STICK_PARITY = 0x20;
export const LCR_SET_BREAK = 0x40;
/** Divisor Latch Access Bit. */
export const LCR_DLAB = 0x80;

// MCR: modem control.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
/** Bits 5-7 are always 0 on a 16550A. */
export const MCR_MASK = 0x1f;

// LSR: line status.
/** Data Ready. */
export const LSR_DR = 0x01;
/** Overrun Error. */
export const LSR_OE = 0x02;
/** Parity Error. */
export const LSR_PE = 0x04;
/** Framing Error. */
export const LSR_FE = 0x08;
/** Break Interrupt. */
export const LSR_BI = 0x10;
/** Transmitter Holding Register Empty. */
export const LSR_THRE = 0x20;
/** Transmitter Empty (THR and shift register). */
export const LSR_TEMT = 0x40;
/** Error in RCVR FIFO (a PE/FE/BI character in the FIFO; never set here: the virtual line has no such errors). */
export const LSR_RCVR_FIFO_ERROR = 0x80;
const LSR_ERROR_BITS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// MSR: modem status (low nibble: deltas, cleared on read; high nibble: the input lines).
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
/** Trailing Edge Ring Indicator. */
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_DELTA_BITS = MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD;
/** Input lines of a host that is always connected: clear to send, data set ready, carrier detect. */
const MSR_INPUTS_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;

/** RX FIFO depth of the 16550A. */
export const UART_FIFO_SIZE = 16;
/** Divisor after reset: 115200 / 12 = 9600 baud with the PC's 1.8432 MHz clock (the data sheet leaves it undefined). */
export const UART_DEFAULT_DIVISOR = 12;

export type UartRegShift = 0 | 2;

export interface Uart16550Options {
  /** Where the guest's output goes, one call per transmitted byte. */
  readonly sink: (bytes: Uint8Array) => void;
  /** The interrupt output (level: high while an enabled interrupt is pending). */
  readonly irq: IrqLine;
  /**
   * Register stride: 0 → registers 1 byte apart (PC COM ports, QEMU virt), 2 → 4 bytes apart (boards with
   * `reg-shift = <2>`). Default 0.
   */
  readonly regShift?: UartRegShift;
  /** Called when the RX side goes from "cannot accept input" to "can": the VMM may feed more host input. */
  readonly onInputSpace?: () => void;
}

export interface Uart16550Stats extends DeviceStats {
  /** Bytes sent to the sink. */
  txBytes: number;
  /** Bytes the guest read from RBR (only reads that found data). */
  rxBytes: number;
  /** Received bytes lost to an overrun (LSR.OE). */
  overruns: number;
}

export interface Uart16550State {
  readonly dll: number;
  readonly dlm: number;
  readonly ier: number;
  readonly fcr: number;
  readonly lcr: number;
  readonly mcr: number;
  /** LSR error bits (OE, PE, FE, BI) not yet cleared by an LSR read. DR, THRE and TEMT are derived. */
  readonly lsrErrors: number;
  /** MSR delta bits (DCTS, DDSR, TERI, DDCD) not yet cleared by an MSR read. */
  readonly msrDeltas: number;
  readonly scr: number;
  /** Received bytes not yet read, oldest first (at most 16; at most 1 with FIFOs disabled). */
  readonly rxFifo: readonly number[];
  /** The THRE interrupt condition (set when THR empties, cleared by an IIR read that reports it or a THR write). */
  readonly thrInterruptPending: boolean;
}

export class Uart16550 implements BusDevice, Snapshottable<Uart16550State> {
  readonly name = "uart16550";
  readonly regShift: UartRegShift;
  /** Bytes of bus window this UART decodes: 8 registers, `1 << regShift` bytes apart. */
  readonly windowSize: number;
  readonly stats: Uart16550Stats = { badAccesses: 0, txBytes: 0, rxBytes: 0, overruns: 0 };

  readonly #sink: (bytes: Uint8Array) => void;
  readonly #irq: IrqLine;
  readonly #onInputSpace: (() => void) | undefined;

  #dll = UART_DEFAULT_DIVISOR;
  #dlm = 0;
  #ier = 0;
  #fcr = 0;
  #lcr = 0;
  #mcr = 0;
  #lsrErrors = 0;
  #msrDeltas = 0;
  #scr = 0;
  #rx: number[] = [];
  #thrInterruptPending = false;
  /** The level last driven on `#irq`. */
  #irqLevel = false;

  constructor(options: Uart16550Options) {
    const regShift = options.regShift ?? 0;
    if (regShift !== 0 && regShift !== 2) {
      throw new DeviceError(
        "uart16550",
        "invalid-config",
        `Cannot create a UART with regShift ${String(regShift)}: it must be 0 or 2`,
      );
    }
    this.regShift = regShift;
    this.windowSize = UART_REGISTER_COUNT << regShift;
    this.#sink = options.sink;
    this.#irq = options.irq;
    this.#onInputSpace = options.onInputSpace;
  }

  // -- host side ------------------------------------------------------------------------------------------------

  /** Free room in the receiver (FIFO or, with FIFOs disabled, the single RBR). */
  get rxSpace(): number {
    return this.#rxCapacity() - this.#rx.length;
  }

  /** Whether `enqueueInput` would take at least one byte (false in loopback: the serial input is disconnected). */
  canAcceptInput(): boolean {
    return !this.#loopback() && this.rxSpace > 0;
  }

  /** Offer host input to the guest; returns how many bytes were taken (the rest must be offered again later). */
  enqueueInput(bytes: Uint8Array): number {
    if (!this.canAcceptInput()) return 0;
    const n = Math.min(this.rxSpace, bytes.length);
    for (let i = 0; i < n; i++) this.#rx.push(bytes[i] ?? 0);
    this.#updateIrq();
    return n;
  }

  /** The level this UART drives on its interrupt line. */
  get irqLevel(): boolean {
    return this.#irqLevel;
  }

  // -- bus side -------------------------------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    const index = this.#registerIndex(offset, width);
    if (index === undefined) return 0;
    const value = this.#readRegister(index);
    this.#updateIrq();
    return value;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const index = this.#registerIndex(offset, width);
    if (index === undefined) return;
    if (index === UART_SCR) {
      // The scratch register is plain storage (DLAB does not bank it): no interrupt source can change.
      this.#scr = value & 0xff;
      return;
    }
    this.#writeRegister(index, value & 0xff);
    this.#updateIrq();
  }

  // -- snapshot -------------------------------------------------------------------------------------------------

  snapshot(): Uart16550State {
    return {
      dll: this.#dll,
      dlm: this.#dlm,
      ier: this.#ier,
      fcr: this.#fcr,
      lcr: this.#lcr,
      mcr: this.#mcr,
      lsrErrors: this.#lsrErrors,
      msrDeltas: this.#msrDeltas,
      scr: this.#scr,
      rxFifo: this.#rx.slice(),
      thrInterruptPending: this.#thrInterruptPending,
    };
  }

  restore(state: Uart16550State): void {
    const bytes = [
      state.dll,
      state.dlm,
      state.ier,
      state.fcr,
      state.lcr,
      state.mcr,
      state.lsrErrors,
      state.msrDeltas,
      state.scr,
    ];
    const capacity = (state.fcr & FCR_FIFO_ENABLE) !== 0 ? UART_FIFO_SIZE : 1;
    if (
      !bytes.every(isByte) ||
      !state.rxFifo.every(isByte) ||
      state.rxFifo.length > capacity ||
      (state.ier & ~IER_MASK) !== 0 ||
      (state.mcr & ~MCR_MASK) !== 0
    ) {
      throw new DeviceError(
        "uart16550",
        "invalid-state",
        `Cannot restore the UART: registers must be bytes within their masks and the receiver holds at most ${String(capacity)} bytes (got ${JSON.stringify(state)})`,
      );
    }
    this.#dll = state.dll;
    this.#dlm = state.dlm;
    this.#ier = state.ier;
    this.#fcr = state.fcr;
    this.#lcr = state.lcr;
    this.#mcr = state.mcr;
    this.#lsrErrors = state.lsrErrors & LSR_ERROR_BITS;
    this.#msrDeltas = state.msrDeltas & MSR_DELTA_BITS;
    this.#scr = state.scr;
    this.#rx = state.rxFifo.slice();
    this.#thrInterruptPending = state.thrInterruptPending;
    // Drive the line to the restored level even if it matches what this object last drove.
    this.#irqLevel = this.#interruptId() !== IIR_NO_INT;
    this.#irq.set(this.#irqLevel);
  }

  // -- registers ------------------------------------------------------------------------------------------------

  #registerIndex(offset: number, width: number): number | undefined {
    const stride = 1 << this.regShift;
    // Stride 1: one byte per register, so only byte accesses make sense. Stride 4: byte or 32-bit
    // (`reg-io-width`) accesses to the low byte of each slot; the register value is in bits 7:0.
    const widthOk = this.regShift === 0 ? width === 1 : width === 1 || width === 2 || width === 4;
    if (!widthOk || offset % stride !== 0 || offset < 0 || offset >= this.windowSize) {
      this.stats.badAccesses++;
      return undefined;
    }
    return offset >> this.regShift;
  }

  #readRegister(index: number): number {
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (index) {
      case UART_RBR:
        return dlab ? this.#dll : this.#readRbr();
      case UART_IER:
        return dlab ? this.#dlm : this.#ier;
      case UART_IIR: {
        const id = this.#interruptId();
        // Reading IIR acknowledges THRE only when THRE is the interrupt it reports.
        if (id === IIR_THRE) this.#thrInterruptPending = false;
        return id | (this.#fifoEnabled() ? IIR_FIFOS_ENABLED : 0);
      }
      case UART_LCR:
        return this.#lcr;
      case UART_MCR:
        return this.#mcr;
      case UART_LSR: {
        // THR and the shift register are always empty: transmission is instantaneous.
        const lsr = (this.#rx.length > 0 ? LSR_DR : 0) | this.#lsrErrors | LSR_THRE | LSR_TEMT;
        this.#lsrErrors = 0; // OE, PE, FE and BI clear on read
        return lsr;
      }
      case UART_MSR: {
        const msr = this.#modemInputs() | this.#msrDeltas;
        this.#msrDeltas = 0;
        return msr;
      }
      case UART_SCR:
        return this.#scr;
      default:
        return 0;
    }
  }

  #writeRegister(index: number, value: number): void {
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (index) {
      case UART_THR:
        if (dlab) this.#dll = value;
        else this.#writeThr(value);
        return;
      case UART_IER:
        if (dlab) this.#dlm = value;
        else this.#writeIer(value & IER_MASK);
        return;
      case UART_FCR:
        this.#writeFcr(value);
        return;
      case UART_LCR:
        this.#lcr = value;
        return;
      case UART_MCR:
        this.#writeMcr(value & MCR_MASK);
        return;
      case UART_SCR:
        this.#scr = value;
        return;
      default:
        // LSR and MSR are read-only (their write is "for factory test" on the 16550; ignored here).
        this.stats.badAccesses++;
    }
  }

  #readRbr(): number {
    const couldAccept = this.canAcceptInput();
    const byte = this.#rx.shift();
    if (byte === undefined) return 0;
    this.stats.rxBytes++;
    if (!couldAccept && this.canAcceptInput()) this.#onInputSpace?.();
    return byte;
  }

  #writeThr(value: number): void {
    // Writing THR clears the THRE interrupt; the byte leaves at once, so THR is empty again and THRE re-arms.
    this.#thrInterruptPending = false;
    if (this.#loopback()) {
      this.#receive(value);
    } else {
      this.stats.txBytes++;
      this.#sink(Uint8Array.of(value));
    }
    this.#thrInterruptPending = true;
  }

  #writeIer(value: number): void {
    const enabling = (value & IER_ETBEI) !== 0 && (this.#ier & IER_ETBEI) === 0;
    const disabling = (value & IER_ETBEI) === 0;
    this.#ier = value;
    // Enabling ETBEI while THR is empty raises THRE (Linux's 8250 driver tests exactly this at start-up).
    if (enabling) this.#thrInterruptPending = true;
    else if (disabling) this.#thrInterruptPending = false;
  }

  #writeFcr(value: number): void {
    const couldAccept = this.canAcceptInput();
    const enable = value & FCR_FIFO_ENABLE;
    if (enable !== (this.#fcr & FCR_FIFO_ENABLE)) {
      // Changing FCR0 clears both FIFOs.
      this.#rx = [];
    }
    if (enable === 0) {
      // FCR0 must be 1 for the other FCR bits to be programmed.
      this.#fcr = 0;
    } else {
      if ((value & FCR_RCVR_FIFO_RESET) !== 0) this.#rx = [];
      // FCR_XMIT_FIFO_RESET: the transmitter is always empty, nothing to clear. Bits 1 and 2 self-clear.
      this.#fcr = value & (FCR_FIFO_ENABLE | FCR_DMA_MODE_SELECT | FCR_RCVR_TRIGGER_MASK);
    }
    if (!couldAccept && this.canAcceptInput()) this.#onInputSpace?.();
  }

  #writeMcr(value: number): void {
    const couldAccept = this.canAcceptInput();
    const before = this.#modemInputs();
    this.#mcr = value;
    const after = this.#modemInputs();
    const changed = before ^ after;
    let deltas = 0;
    if ((changed & MSR_CTS) !== 0) deltas |= MSR_DCTS;
    if ((changed & MSR_DSR) !== 0) deltas |= MSR_DDSR;
    if ((changed & MSR_DCD) !== 0) deltas |= MSR_DDCD;
    // TERI flags only the trailing edge of RI (RI going from on to off).
    if ((before & MSR_RI) !== 0 && (after & MSR_RI) === 0) deltas |= MSR_TERI;
    this.#msrDeltas |= deltas;
    if (!couldAccept && this.canAcceptInput()) this.#onInputSpace?.();
  }

  /** A byte arriving at the receiver from the line (here only from loopback). */
  #receive(byte: number): void {
    if (this.#rx.length < this.#rxCapacity()) {
      this.#rx.push(byte);
      return;
    }
    this.#lsrErrors |= LSR_OE;
    this.stats.overruns++;
    if (!this.#fifoEnabled()) {
      // 16450 mode: the new character overwrites the unread one in RBR.
      this.#rx[0] = byte;
    }
    // FIFO mode: the character in the shift register is overwritten and never reaches the full FIFO.
  }

  /** The highest-priority pending enabled interrupt (an IIR_* id), or IIR_NO_INT. */
  #interruptId(): number {
    const ier = this.#ier;
    if ((ier & IER_ELSI) !== 0 && (this.#lsrErrors & LSR_ERROR_BITS) !== 0) return IIR_RLS;
    if ((ier & IER_ERBFI) !== 0 && this.#rx.length > 0) {
      if (!this.#fifoEnabled()) return IIR_RDA;
      return this.#rx.length >= this.#triggerLevel() ? IIR_RDA : IIR_CTI;
    }
    if ((ier & IER_ETBEI) !== 0 && this.#thrInterruptPending) return IIR_THRE;
    if ((ier & IER_EDSSI) !== 0 && this.#msrDeltas !== 0) return IIR_MS;
    return IIR_NO_INT;
  }

  #updateIrq(): void {
    const level = this.#interruptId() !== IIR_NO_INT;
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    this.#irq.set(level);
  }

  /** MSR bits 7:4. In loopback they follow MCR: CTS←RTS, DSR←DTR, RI←OUT1, DCD←OUT2. */
  #modemInputs(): number {
    if (!this.#loopback()) return MSR_INPUTS_CONNECTED;
    const mcr = this.#mcr;
    return (
      ((mcr & MCR_RTS) !== 0 ? MSR_CTS : 0) |
      ((mcr & MCR_DTR) !== 0 ? MSR_DSR : 0) |
      ((mcr & MCR_OUT1) !== 0 ? MSR_RI : 0) |
      ((mcr & MCR_OUT2) !== 0 ? MSR_DCD : 0)
    );
  }

  #loopback(): boolean {
    return (this.#mcr & MCR_LOOP) !== 0;
  }

  #fifoEnabled(): boolean {
    return (this.#fcr & FCR_FIFO_ENABLE) !== 0;
  }

  #rxCapacity(): number {
    return this.#fifoEnabled() ? UART_FIFO_SIZE : 1;
  }

  #triggerLevel(): number {
    return FCR_RCVR_TRIGGER_LEVELS[(this.#fcr & FCR_RCVR_TRIGGER_MASK) >> 6] ?? 1;
  }
}

function isByte(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xff;
}
