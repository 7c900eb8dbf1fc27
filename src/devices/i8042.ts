/**
 * The PC's i8042 keyboard controller as an x86 Linux kernel drives it (reference behaviour: the PS/2 controller of
 * the IBM PS/2 and compatibles, Firecracker `devices/legacy/i8042.rs`, and the probe sequence of Linux's
 * drivers/input/serio/i8042.c), with a keyboard on the first port and NO mouse on the second (AUX) port.
 *
 * Window: one 5-byte window over ports 0x60..0x64 (Firecracker's mapping). Offset 0 is the data port (0x60),
 * offset 4 the status (read) / command (write) port (0x64); offsets 1..3 (0x61 belongs to the system control
 * port, handled by KVM's in-kernel PIT speaker emulation) read 0 and count as bad accesses.
 *
 * What is modelled:
 * - The output buffer (what port 0x60 reads), a 16-byte queue. Each byte remembers where it came from: the
 *   controller or the keyboard (status AUXDATA clear) or the AUX port (AUXDATA set), and whether it reports a
 *   transmit timeout (status TIMEOUT). A controller command's result replaces anything still queued, so it is the
 *   next byte read.
 * - The controller configuration byte ("command byte", CTR): 0x20 reads it, 0x60 writes it; 0xAD/0xAE and
 *   0xA7/0xA8 set/clear its keyboard/AUX disable bits.
 * - 0xAA self-test → 0x55, 0xAB keyboard interface test → 0x00, 0xA9 AUX interface test → 0x00: with nothing
 *   plugged in, the pull-ups hold clock and data high, which is the lines' idle state, so the test passes.
 * - The AUX port without a device: 0xD3 (AUX loop) puts its data byte in the output buffer as if the AUX device
 *   had sent it (AUXDATA set, IRQ 12 if CTR.AUXINT); this is internal to the controller and works without a mouse,
 *   and it is what Linux's AUX and multiplexer probes check. 0xD4 (write to AUX) sends its data byte to the absent
 *   device: the controller's transmit times out and it reports 0xFE with TIMEOUT and AUXDATA set (IRQ 12 if
 *   CTR.AUXINT), which Linux's libps2 takes as an aborted command at once, instead of waiting for a reply.
 * - The output port: 0xD0 reads it, 0xD1 writes it. Bit 0 is the CPU reset line (active low): writing it 0, or a
 *   pulse command 0xF0..0xFE with bit 0 clear (0xFE is what Linux's `reboot=k` sends, and what the board's ACPI
 *   reset register writes), calls `onReset()`.
 * - A minimal keyboard behind the data port: it acknowledges every byte with 0xFA; reset (0xFF) answers
 *   0xFA 0xAA, identify (0xF2) answers 0xFA 0xAB 0x83, echo (0xEE) answers 0xEE. 0xD2 puts the next data byte in
 *   the output buffer as if the keyboard sent it. The host can type key chords (`pressChord`, e.g. Ctrl-Alt-Del) in
 *   scan code set 2, or set 1 when CTR.XLATE asks the controller to translate.
 * - IRQ 1 (keyboard, optional line) is high while the byte at the head of the output buffer is not an AUX byte and
 *   CTR.KBDINT is set; IRQ 12 (AUX, optional line) while it is an AUX byte and CTR.AUXINT is set. After each data
 *   read the line drops, and rises again if more bytes wait, so edge-triggered receivers see one edge per byte, as
 *   with the real controller, which loads the next byte only after the previous one was read.
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
/** Interface test result "no error" (0xAB keyboard, 0xA9 AUX). */
export const I8042_RET_INTERFACE_OK = 0x00;
/** What the controller puts in the output buffer, with STR_TIMEOUT, when a device does not clock in a byte. */
export const I8042_RET_TIMEOUT = 0xfe;

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

/** Scan code set 2 prefix of a break (key release) code. */
export const KBD_SET2_BREAK = 0xf0;
/** Prefix of the extended keys' codes, in both sets. */
export const KBD_EXTENDED = 0xe0;
/** Set 1 marks a break code by bit 7 of the key's code. */
export const KBD_SET1_BREAK_BIT = 0x80;

/**
 * Make codes of the keys the host can type, in the keyboard's own set 2 and in set 1 (what the controller passes on
 * when CTR.XLATE is set). Extended keys start with KBD_EXTENDED.
 */
export const KBD_KEYS = {
  leftCtrl: { set2: [0x14], set1: [0x1d] },
  leftAlt: { set2: [0x11], set1: [0x38] },
  delete: { set2: [KBD_EXTENDED, 0x71], set1: [KBD_EXTENDED, 0x53] },
} as const satisfies Record<string, { readonly set2: readonly number[]; readonly set1: readonly number[] }>;
export type KbdKey = keyof typeof KBD_KEYS;
/** The PC's "three-finger salute": Linux's keyboard driver turns it into ctrl_alt_del(). */
export const KBD_CTRL_ALT_DEL: readonly KbdKey[] = ["leftCtrl", "leftAlt", "delete"];

export interface I8042Options {
  /** The guest pulsed the CPU reset line. */
  readonly onReset: () => void;
  /** IRQ 1, if the VMM wires it. */
  readonly kbdIrq?: IrqLine;
  /** IRQ 12 (the AUX port's), if the VMM wires it. */
  readonly auxIrq?: IrqLine;
}

export interface I8042Stats extends DeviceStats {
  resets: number;
  /** Controller commands this model does not implement (ignored). */
  unknownCommands: number;
  /** Bytes lost because the output buffer was full. */
  droppedBytes: number;
  /** Bytes the guest sent to the (absent) AUX device. */
  auxTimeouts: number;
}

/** One byte of the output buffer. */
export interface I8042OutputByte {
  readonly value: number;
  /** From the AUX port (status AUXDATA, IRQ 12) rather than the controller or the keyboard (IRQ 1). */
  readonly aux: boolean;
  /** Reports a transmit timeout (status TIMEOUT). */
  readonly timeout: boolean;
}

export interface I8042State {
  readonly ctr: number;
  readonly outputPort: number;
  /** The command waiting for its data byte at port 0x60, or 0 for none. */
  readonly pendingCommand: number;
  readonly lastWriteWasCommand: boolean;
  readonly outputBuffer: readonly I8042OutputByte[];
}

const fromKeyboard = (value: number): I8042OutputByte => ({ value, aux: false, timeout: false });

export class I8042 implements BusDevice, Snapshottable<I8042State> {
  readonly name = "i8042";
  readonly windowSize = I8042_WINDOW_SIZE;
  readonly stats: I8042Stats = { badAccesses: 0, resets: 0, unknownCommands: 0, droppedBytes: 0, auxTimeouts: 0 };
  readonly #onReset: () => void;
  readonly #kbdIrq: IrqLine | undefined;
  readonly #auxIrq: IrqLine | undefined;

  #ctr = I8042_CTR_DEFAULT;
  #outputPort = I8042_OUTPUT_DEFAULT;
  #pendingCommand = 0;
  #lastWriteWasCommand = false;
  #buffer: I8042OutputByte[] = [];
  #kbdIrqLevel = false;
  #auxIrqLevel = false;

  constructor(options: I8042Options) {
    this.#onReset = options.onReset;
    this.#kbdIrq = options.kbdIrq;
    this.#auxIrq = options.auxIrq;
  }

  /** Host-side keyboard input (scan codes, as the guest reads them) for the guest; returns how many bytes fit. */
  enqueueKeyboardBytes(bytes: Uint8Array): number {
    const n = Math.min(I8042_BUFFER_SIZE - this.#buffer.length, bytes.length);
    for (let i = 0; i < n; i++) this.#buffer.push(fromKeyboard(bytes[i] ?? 0));
    this.#updateIrq();
    return n;
  }

  /**
   * Type a chord on the keyboard: press `keys` in order, then release them in reverse order, in the scan code set
   * the guest reads (set 1 when CTR.XLATE is set, the keyboard's set 2 otherwise). All or nothing: returns false,
   * queueing nothing, when the output buffer has no room for the whole sequence.
   */
  pressChord(keys: readonly KbdKey[]): boolean {
    const translated = (this.#ctr & I8042_CTR_XLATE) !== 0;
    const codes: number[] = [];
    for (const key of keys) codes.push(...(translated ? KBD_KEYS[key].set1 : KBD_KEYS[key].set2));
    for (const key of [...keys].reverse()) {
      const make = translated ? KBD_KEYS[key].set1 : KBD_KEYS[key].set2;
      const last = make[make.length - 1] ?? 0;
      const prefix = make.slice(0, -1);
      codes.push(...(translated ? [...prefix, last | KBD_SET1_BREAK_BIT] : [...prefix, KBD_SET2_BREAK, last]));
    }
    if (I8042_BUFFER_SIZE - this.#buffer.length < codes.length) return false;
    this.enqueueKeyboardBytes(Uint8Array.from(codes));
    return true;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 1) return this.#bad();
    if (offset === I8042_COMMAND_OFFSET) return this.#status();
    if (offset !== I8042_DATA_OFFSET) return this.#bad();
    const byte = this.#buffer.shift()?.value ?? 0;
    // The controller drops OBF (and its IRQ) on a read and loads the next byte afterwards: one edge per byte.
    this.#setIrqs(false, false);
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
      outputBuffer: this.#buffer.map((b) => ({ ...b })),
    };
  }

  restore(state: I8042State): void {
    this.#ctr = state.ctr & 0xff;
    this.#outputPort = state.outputPort & 0xff;
    this.#pendingCommand = state.pendingCommand & 0xff;
    this.#lastWriteWasCommand = state.lastWriteWasCommand;
    this.#buffer = state.outputBuffer
      .slice(0, I8042_BUFFER_SIZE)
      .map((b) => ({ value: b.value & 0xff, aux: b.aux, timeout: b.timeout }));
    const [kbd, aux] = this.#wantIrqs();
    this.#kbdIrqLevel = kbd;
    this.#auxIrqLevel = aux;
    this.#kbdIrq?.set(kbd);
    this.#auxIrq?.set(aux);
  }

  #status(): number {
    const head = this.#buffer[0];
    return (
      (head !== undefined ? I8042_STR_OBF : 0) |
      ((this.#ctr & I8042_CTR_SYSFLAG) !== 0 ? I8042_STR_SYSFLAG : 0) |
      (this.#lastWriteWasCommand ? I8042_STR_CMDDAT : 0) |
      I8042_STR_KEYLOCK |
      (head?.aux === true ? I8042_STR_AUXDATA : 0) |
      (head?.timeout === true ? I8042_STR_TIMEOUT : 0)
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
        this.#reply(I8042_RET_INTERFACE_OK);
        return;
      case I8042_CMD_CTL_TEST:
        this.#ctr |= I8042_CTR_SYSFLAG;
        this.#reply(I8042_RET_CTL_TEST);
        return;
      case I8042_CMD_KBD_TEST:
        this.#reply(I8042_RET_INTERFACE_OK);
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
        this.#push(fromKeyboard(byte));
        return;
      case I8042_CMD_AUX_LOOP:
        // The controller loops the byte back as AUX input itself: no device is involved.
        this.#reply(byte, true);
        return;
      case I8042_CMD_AUX_SEND:
        // Nothing clocks the byte in: the controller reports a transmit timeout on the AUX port.
        this.stats.auxTimeouts++;
        this.#push({ value: I8042_RET_TIMEOUT, aux: true, timeout: true });
        return;
      default:
        this.#keyboard(byte);
    }
  }

  /** A byte sent to the keyboard. */
  #keyboard(byte: number): void {
    // A keyboard answer follows the keyboard's own queue; it does not flush (unlike controller replies).
    switch (byte) {
      case KBD_CMD_ECHO:
        this.#push(fromKeyboard(KBD_CMD_ECHO));
        return;
      case KBD_CMD_RESET:
        this.#push(fromKeyboard(KBD_REPLY_ACK));
        this.#push(fromKeyboard(KBD_REPLY_BAT_OK));
        return;
      case KBD_CMD_GET_ID:
        this.#push(fromKeyboard(KBD_REPLY_ACK));
        this.#push(fromKeyboard(KBD_ID_MF2[0]));
        this.#push(fromKeyboard(KBD_ID_MF2[1]));
        return;
      default:
        this.#push(fromKeyboard(KBD_REPLY_ACK));
    }
  }

  /** A controller command's result (or an AUX loop byte): it must be the next byte the guest reads. */
  #reply(value: number, aux = false): void {
    this.#buffer = [{ value, aux, timeout: false }];
  }

  #push(byte: I8042OutputByte): void {
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

  /** [IRQ 1, IRQ 12]: the byte at the head of the output buffer raises its port's line if CTR enables it. */
  #wantIrqs(): [boolean, boolean] {
    const head = this.#buffer[0];
    if (head === undefined) return [false, false];
    return head.aux ? [false, (this.#ctr & I8042_CTR_AUXINT) !== 0] : [(this.#ctr & I8042_CTR_KBDINT) !== 0, false];
  }

  #updateIrq(): void {
    const [kbd, aux] = this.#wantIrqs();
    this.#setIrqs(kbd, aux);
  }

  #setIrqs(kbd: boolean, aux: boolean): void {
    // Lower first, so a byte that moves from one line to the other never shows both high.
    if (!kbd && this.#kbdIrqLevel) this.#setKbd(false);
    if (!aux && this.#auxIrqLevel) this.#setAux(false);
    if (kbd && !this.#kbdIrqLevel) this.#setKbd(true);
    if (aux && !this.#auxIrqLevel) this.#setAux(true);
  }

  #setKbd(level: boolean): void {
    this.#kbdIrqLevel = level;
    this.#kbdIrq?.set(level);
  }

  #setAux(level: boolean): void {
    this.#auxIrqLevel = level;
    this.#auxIrq?.set(level);
  }

  #bad(): number {
    this.stats.badAccesses++;
    return 0;
  }
}
