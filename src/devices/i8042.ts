/**
 * The part of the PC's i8042 keyboard controller that an x86 Linux kernel touches (reference behaviour:
 * Firecracker `devices/legacy/i8042.rs`, the 8042 command set as documented for the PC/AT and PS/2).
 *
 * Window: one 5-byte window over ports 0x60..0x64 (Firecracker's mapping). Offset 0 is the data port (0x60),
 * offset 4 the status (read) / command (write) port (0x64); offsets 1..3 (0x61 belongs to the system control
 * port, handled by KVM's in-kernel PIT speaker emulation) read 0 and count as bad accesses.
 *
 * What is modelled:
 * - The output buffer (what port 0x60 reads), a 16-byte queue: controller command results and keyboard bytes.
 *   A command result replaces anything still queued, so it is the next byte read.
 * - The controller configuration byte ("command byte", CTR): 0x20 reads it, 0x60 writes it; 0xAD/0xAE and
 *   0xA7/0xA8 set/clear its keyboard/aux disable bits.
 * - 0xAA self-test → 0x55, 0xAB keyboard interface test → 0x00, 0xA9 aux interface test → 0x02 (clock line
 *   high: there is no aux device).
 * - The output port: 0xD0 reads it, 0xD1 writes it. Bit 0 is the CPU reset line (active low): writing it 0, or a
 *   pulse command 0xF0..0xFE with bit 0 clear (0xFE is what Linux's `reboot=k` sends), calls `onReset()`.
 * - A minimal keyboard behind the data port: it acknowledges every byte with 0xFA; reset (0xFF) answers
 *   0xFA 0xAA, identify (0xF2) answers 0xFA 0xAB 0x83, echo (0xEE) answers 0xEE. 0xD2 puts the next data byte in
 *   the output buffer as if the keyboard sent it.
 * - IRQ 1 (optional line): high while the output buffer holds a byte and CTR.KBDINT is set. After each data read
 *   the line drops, and rises again if more bytes wait, so edge-triggered receivers see one edge per byte, as
 *   with the real controller, which loads the next byte only after the previous one was read.
 * - No aux (mouse) port: 0xD3/0xD4 consume their data byte and produce nothing. Boot Linux with `i8042.noaux`.
 */

import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

export const I8042_DATA_OFFSET = 0;
export const I8042_COMMAND_OFFSET = 4;
/** Ports 0x60..0x64 as one window. */
export const I8042_WINDOW_SIZE = 5;
export const I8042_BUFFER_SIZE = 16;

// Status register (read from port 0x64).
/** Output buffer full: a byte waits at port 0x60. */
export const I8042_STR_OBF = 0x01;
/** Input buffer full (never: writes are processed at once). */
export const I8042_STR_IBF = 0x02;
/** System flag (copy of CTR bit 2; set after a passed self-test). */
export const I8042_STR_SYSFLAG = 0x04;
/** The last write was to the command port (A2 line). */
export const I8042_STR_CMDDAT = 0x08;
/** Keyboard not inhibited by the keylock switch. */
export const I8042_STR_KEYLOCK = 0x10;
export const I8042_STR_AUXDATA = 0x20;
export const I8042_STR_TIMEOUT = 0x40;
export const I8042_STR_PARITY = 0x80;

// Controller configuration byte (CTR).
export const I8042_CTR_KBDINT = 0x01;
export const I8042_CTR_AUXINT = 0x02;
export const I8042_CTR_SYSFLAG = 0x04;
export const I8042_CTR_IGNKEYLOCK = 0x08;
export const I8042_CTR_KBDDIS = 0x10;
export const I8042_CTR_AUXDIS = 0x20;
export const I8042_CTR_XLATE = 0x40;
/** After power-on self test: keyboard interrupt on, system flag set (Firecracker's default). */
export const I8042_CTR_DEFAULT = I8042_CTR_KBDINT | I8042_CTR_SYSFLAG;

// Controller commands (written to port 0x64).
export const I8042_CMD_CTL_RCTR = 0x20;
export const I8042_CMD_CTL_WCTR = 0x60;
export const I8042_CMD_AUX_DISABLE = 0xa7;
export const I8042_CMD_AUX_ENABLE = 0xa8;
export const I8042_CMD_AUX_TEST = 0xa9;
export const I8042_CMD_CTL_TEST = 0xaa;
export const I8042_CMD_KBD_TEST = 0xab;
export const I8042_CMD_KBD_DISABLE = 0xad;
export const I8042_CMD_KBD_ENABLE = 0xae;
export const I8042_CMD_READ_OUTPUT_PORT = 0xd0;
export const I8042_CMD_WRITE_OUTPUT_PORT = 0xd1;
export const I8042_CMD_KBD_LOOP = 0xd2;
export const I8042_CMD_AUX_LOOP = 0xd3;
export const I8042_CMD_AUX_SEND = 0xd4;
/** 0xF0..0xFF pulse output-port lines 0..3 low for each clear bit of the low nibble; 0xFE pulses the reset line. */
export const I8042_CMD_PULSE_BASE = 0xf0;
export const I8042_CMD_RESET_CPU = 0xfe;

export const I8042_RET_CTL_TEST = 0x55;
export const I8042_RET_KBD_TEST_OK = 0x00;
/** Interface test result "clock line stuck high": nothing attached. */
export const I8042_RET_CLOCK_HIGH = 0x02;

// Output port bits.
/** CPU reset line, active low. */
export const I8042_OUTPUT_RESET = 0x01;
export const I8042_OUTPUT_A20 = 0x02;
export const I8042_OUTPUT_DEFAULT = I8042_OUTPUT_RESET | I8042_OUTPUT_A20;

// Keyboard (behind the data port).
export const KBD_CMD_ECHO = 0xee;
export const KBD_CMD_GET_ID = 0xf2;
export const KBD_CMD_RESET = 0xff;
export const KBD_REPLY_ACK = 0xfa;
export const KBD_REPLY_BAT_OK = 0xaa;
/** An MF2 keyboard's identity (translated). */
export const KBD_ID_MF2: readonly [number, number] = [0xab, 0x83];

export interface I8042Options {
  /** The guest pulsed the CPU reset line. */
  readonly onReset: () => void;
  /** IRQ 1, if the VMM wires it. */
  readonly kbdIrq?: IrqLine;
}

export interface I8042Stats extends DeviceStats {
  resets: number;
  /** Controller commands this model does not implement (ignored). */
  unknownCommands: number;
  /** Bytes lost because the output buffer was full. */
  droppedBytes: number;
}

export interface I8042State {
  readonly ctr: number;
  readonly outputPort: number;
  /** The command waiting for its data byte at port 0x60, or 0 for none. */
  readonly pendingCommand: number;
  readonly lastWriteWasCommand: boolean;
  readonly outputBuffer: readonly number[];
}

export class I8042 implements BusDevice, Snapshottable<I8042State> {
  readonly name = "i8042";
  readonly windowSize = I8042_WINDOW_SIZE;
  readonly stats: I8042Stats = { badAccesses: 0, resets: 0, unknownCommands: 0, droppedBytes: 0 };
  readonly #onReset: () => void;
  readonly #kbdIrq: IrqLine | undefined;

  #ctr = I8042_CTR_DEFAULT;
  #outputPort = I8042_OUTPUT_DEFAULT;
  #pendingCommand = 0;
  #lastWriteWasCommand = false;
  #buffer: number[] = [];
  #irqLevel = false;

  constructor(options: I8042Options) {
    this.#onReset = options.onReset;
    this.#kbdIrq = options.kbdIrq;
  }

  /** Host-side keyboard input (scan codes) for the guest; returns how many bytes fit. */
  enqueueKeyboardBytes(bytes: Uint8Array): number {
    const n = Math.min(I8042_BUFFER_SIZE - this.#buffer.length, bytes.length);
    for (let i = 0; i < n; i++) this.#buffer.push(bytes[i] ?? 0);
    this.#updateIrq();
    return n;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 1) return this.#bad();
    if (offset === I8042_COMMAND_OFFSET) return this.#status();
    if (offset !== I8042_DATA_OFFSET) return this.#bad();
    const byte = this.#buffer.shift() ?? 0;
    // The controller drops OBF (and IRQ 1) on a read and loads the next byte afterwards: one edge per byte.
    this.#setIrq(false);
    this.#updateIrq();
    return byte;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (width !== 1) {
      this.#bad();
      return;
    }
    const byte = value & 0xff;
    if (offset === I8042_COMMAND_OFFSET) {
      this.#lastWriteWasCommand = true;
      this.#command(byte);
    } else if (offset === I8042_DATA_OFFSET) {
      this.#lastWriteWasCommand = false;
      this.#data(byte);
    } else {
      this.#bad();
      return;
    }
    this.#updateIrq();
  }

  snapshot(): I8042State {
    return {
      ctr: this.#ctr,
      outputPort: this.#outputPort,
      pendingCommand: this.#pendingCommand,
      lastWriteWasCommand: this.#lastWriteWasCommand,
      outputBuffer: this.#buffer.slice(),
    };
  }

  restore(state: I8042State): void {
    this.#ctr = state.ctr & 0xff;
    this.#outputPort = state.outputPort & 0xff;
    this.#pendingCommand = state.pendingCommand & 0xff;
    this.#lastWriteWasCommand = state.lastWriteWasCommand;
    this.#buffer = state.outputBuffer.slice(0, I8042_BUFFER_SIZE).map((b) => b & 0xff);
    this.#irqLevel = this.#wantIrq();
    this.#kbdIrq?.set(this.#irqLevel);
  }

  #status(): number {
    return (
      (this.#buffer.length > 0 ? I8042_STR_OBF : 0) |
      ((this.#ctr & I8042_CTR_SYSFLAG) !== 0 ? I8042_STR_SYSFLAG : 0) |
      (this.#lastWriteWasCommand ? I8042_STR_CMDDAT : 0) |
      I8042_STR_KEYLOCK
    );
  }

  #command(cmd: number): void {
    this.#pendingCommand = 0;
    switch (cmd) {
      case I8042_CMD_CTL_RCTR:
        this.#reply(this.#ctr);
        return;
      case I8042_CMD_CTL_WCTR:
      case I8042_CMD_WRITE_OUTPUT_PORT:
      case I8042_CMD_KBD_LOOP:
      case I8042_CMD_AUX_LOOP:
      case I8042_CMD_AUX_SEND:
        this.#pendingCommand = cmd;
        return;
      case I8042_CMD_AUX_DISABLE:
        this.#ctr |= I8042_CTR_AUXDIS;
        return;
      case I8042_CMD_AUX_ENABLE:
        this.#ctr &= ~I8042_CTR_AUXDIS;
        return;
      case I8042_CMD_AUX_TEST:
        this.#reply(I8042_RET_CLOCK_HIGH);
        return;
      case I8042_CMD_CTL_TEST:
        this.#ctr |= I8042_CTR_SYSFLAG;
        this.#reply(I8042_RET_CTL_TEST);
        return;
      case I8042_CMD_KBD_TEST:
        this.#reply(I8042_RET_KBD_TEST_OK);
        return;
      case I8042_CMD_KBD_DISABLE:
        this.#ctr |= I8042_CTR_KBDDIS;
        return;
      case I8042_CMD_KBD_ENABLE:
        this.#ctr &= ~I8042_CTR_KBDDIS;
        return;
      case I8042_CMD_READ_OUTPUT_PORT:
        this.#reply(this.#outputPort);
        return;
      default:
        if (cmd >= I8042_CMD_PULSE_BASE) {
          // Pulse: each clear bit of the low nibble pulls an output line low briefly; bit 0 is reset.
          if ((cmd & I8042_OUTPUT_RESET) === 0) this.#reset();
          return;
        }
        this.stats.unknownCommands++;
    }
  }

  #data(byte: number): void {
    const cmd = this.#pendingCommand;
    this.#pendingCommand = 0;
    switch (cmd) {
      case I8042_CMD_CTL_WCTR:
        this.#ctr = byte;
        return;
      case I8042_CMD_WRITE_OUTPUT_PORT:
        this.#outputPort = byte;
        if ((byte & I8042_OUTPUT_RESET) === 0) this.#reset();
        return;
      case I8042_CMD_KBD_LOOP:
        this.#push(byte);
        return;
      case I8042_CMD_AUX_LOOP:
      case I8042_CMD_AUX_SEND:
        return; // no aux device
      default:
        this.#keyboard(byte);
    }
  }

  /** A byte sent to the keyboard. */
  #keyboard(byte: number): void {
    // A keyboard answer follows the keyboard's own queue; it does not flush (unlike controller replies).
    switch (byte) {
      case KBD_CMD_ECHO:
        this.#push(KBD_CMD_ECHO);
        return;
      case KBD_CMD_RESET:
        this.#push(KBD_REPLY_ACK);
        this.#push(KBD_REPLY_BAT_OK);
        return;
      case KBD_CMD_GET_ID:
        this.#push(KBD_REPLY_ACK);
        this.#push(KBD_ID_MF2[0]);
        this.#push(KBD_ID_MF2[1]);
        return;
      default:
        this.#push(KBD_REPLY_ACK);
    }
  }

  /** A controller command's result: it must be the next byte the guest reads. */
  #reply(byte: number): void {
    this.#buffer = [byte];
  }

  #push(byte: number): void {
    if (this.#buffer.length >= I8042_BUFFER_SIZE) {
      this.stats.droppedBytes++;
      return;
    }
    this.#buffer.push(byte);
  }

  #reset(): void {
    this.stats.resets++;
    this.#onReset();
  }

  #wantIrq(): boolean {
    return this.#buffer.length > 0 && (this.#ctr & I8042_CTR_KBDINT) !== 0;
  }

  #updateIrq(): void {
    this.#setIrq(this.#wantIrq());
  }

  #setIrq(level: boolean): void {
    if (level === this.#irqLevel) return;
    this.#irqLevel = level;
    this.#kbdIrq?.set(level);
  }

  #bad(): number {
    this.stats.badAccesses++;
    return 0;
  }
}
