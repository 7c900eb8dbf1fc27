import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { DeviceError } from "./errors.ts";
import {
  FCR_FIFO_ENABLE,
  FCR_RCVR_FIFO_RESET,
  IER_EDSSI,
  IER_ELSI,
  IER_ERBFI,
  IER_ETBEI,
  LCR_DLAB,
  LSR_DR,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  MCR_DTR,
  MCR_LOOP,
  MCR_OUT1,
  MCR_OUT2,
  MCR_RTS,
  MSR_CTS,
  MSR_DCD,
  MSR_DCTS,
  MSR_DDCD,
  MSR_DDSR,
  MSR_DSR,
  MSR_TERI,
  UART_DLL,
  UART_DLM,
  UART_FCR,
  UART_IER,
  UART_IIR,
  UART_LCR,
  UART_LSR,
  UART_MCR,
  UART_MSR,
  UART_RBR,
  UART_SCR,
  UART_THR,
  Uart16550,
  type Uart16550Options,
} from "./uart16550.ts";

function make(options: Partial<Uart16550Options> = {}) {
  const out: number[] = [];
  const irq = new RecordingIrqLine();
  const uart = new Uart16550({ sink: (b) => out.push(...b), irq, ...options });
  const r = (reg: number) => uart.read(reg, 1);
  const w = (reg: number, value: number) => uart.write(reg, 1, value);
  return { uart, irq, out, r, w };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe("UART 16550A registers", () => {
  test("reset values", () => {
    const { r, irq } = make();
    expect(r(UART_IER)).toBe(0);
    expect(r(UART_IIR)).toBe(0x01);
    expect(r(UART_LCR)).toBe(0);
    expect(r(UART_MCR)).toBe(0);
    expect(r(UART_LSR)).toBe(LSR_THRE | LSR_TEMT);
    expect(r(UART_MSR)).toBe(MSR_CTS | MSR_DSR | MSR_DCD);
    expect(r(UART_SCR)).toBe(0);
    expect(irq.events).toEqual([]);
  });

  test("THR writes go to the sink; SCR and LCR keep what is written; IER keeps only bits 0-3", () => {
    const { uart, r, w, out } = make();
    for (const b of bytes("hi\n")) w(UART_THR, b);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("hi\n");
    expect(uart.stats.txBytes).toBe(3);
    w(UART_SCR, 0xa5);
    expect(r(UART_SCR)).toBe(0xa5);
    w(UART_LCR, 0x1b);
    expect(r(UART_LCR)).toBe(0x1b);
    w(UART_IER, 0xff);
    expect(r(UART_IER)).toBe(0x0f);
    w(UART_MCR, 0xff);
    expect(r(UART_MCR)).toBe(0x1f);
  });

  test("DLAB switches offsets 0 and 1 to the divisor latch", () => {
    const { r, w, out } = make();
    w(UART_IER, IER_ERBFI);
    w(UART_LCR, LCR_DLAB | 0x03);
    expect(r(UART_DLL)).toBe(12); // 9600 baud after reset
    w(UART_DLL, 0x01);
    w(UART_DLM, 0x02);
    expect(r(UART_DLL)).toBe(0x01);
    expect(r(UART_DLM)).toBe(0x02);
    expect(out).toEqual([]); // the DLL write did not transmit
    w(UART_LCR, 0x03);
    expect(r(UART_IER)).toBe(IER_ERBFI); // IER untouched by the DLM write
    w(UART_THR, 0x41);
    expect(out).toEqual([0x41]);
    w(UART_LCR, LCR_DLAB);
    expect(r(UART_DLL)).toBe(0x01); // the THR write did not touch DLL
  });

  test("LSR and MSR are read-only; bad widths and offsets are counted, not thrown", () => {
    const { uart, r } = make();
    uart.write(UART_LSR, 1, 0);
    uart.write(UART_MSR, 1, 0);
    expect(r(UART_LSR)).toBe(LSR_THRE | LSR_TEMT);
    expect(uart.read(0, 4)).toBe(0);
    uart.write(0, 2, 0x41);
    expect(uart.read(8, 1)).toBe(0);
    expect(uart.stats.badAccesses).toBe(5);
  });
});

describe("UART receive FIFO", () => {
  test("16-byte FIFO: enqueueInput takes what fits, bytes come out in order, DR follows", () => {
    const { uart, r, w } = make();
    w(UART_FCR, FCR_FIFO_ENABLE);
    expect(r(UART_IIR) & 0xc0).toBe(0xc0);
    expect(uart.canAcceptInput()).toBe(true);
    expect(uart.enqueueInput(bytes("0123456789abcdefXYZ"))).toBe(16);
    expect(uart.canAcceptInput()).toBe(false);
    expect(uart.enqueueInput(bytes("X"))).toBe(0);
    expect(r(UART_LSR) & (LSR_DR | LSR_OE)).toBe(LSR_DR); // no overrun: the host side is flow-controlled
    let got = "";
    while ((r(UART_LSR) & LSR_DR) !== 0) got += String.fromCharCode(r(UART_RBR));
    expect(got).toBe("0123456789abcdef");
    expect(uart.stats.rxBytes).toBe(16);
    expect(r(UART_RBR)).toBe(0); // empty: reads 0 and does not count
    expect(uart.stats.rxBytes).toBe(16);
  });

  test("with FIFOs disabled the receiver holds one byte", () => {
    const { uart, r } = make();
    expect(uart.enqueueInput(bytes("ab"))).toBe(1);
    expect(r(UART_RBR)).toBe(0x61);
    expect(uart.enqueueInput(bytes("b"))).toBe(1);
  });

  test("FCR RCVR reset and toggling FIFO enable clear the receiver", () => {
    const { uart, r, w } = make();
    w(UART_FCR, FCR_FIFO_ENABLE);
    uart.enqueueInput(bytes("abc"));
    w(UART_FCR, FCR_FIFO_ENABLE | FCR_RCVR_FIFO_RESET);
    expect(r(UART_LSR) & LSR_DR).toBe(0);
    expect(uart.rxSpace).toBe(16);
    uart.enqueueInput(bytes("abc"));
    w(UART_FCR, 0); // FIFO off: both FIFOs cleared, IIR bits 7:6 clear
    expect(r(UART_LSR) & LSR_DR).toBe(0);
    expect(r(UART_IIR)).toBe(0x01);
    expect(uart.rxSpace).toBe(1);
    // FCR0 = 0: the other bits are not programmed (RCVR reset ignored; trigger level not stored).
    w(UART_FCR, FCR_FIFO_ENABLE | 0xc0);
    uart.enqueueInput(bytes("abc"));
    w(UART_FCR, 0xc0 | FCR_FIFO_ENABLE); // same FCR0: data kept
    expect(uart.rxSpace).toBe(13);
  });

  test("an overrun in loopback sets OE, loses the byte (FIFO mode), and OE clears on LSR read", () => {
    const { uart, r, w } = make();
    w(UART_FCR, FCR_FIFO_ENABLE);
    w(UART_MCR, MCR_LOOP);
    for (let i = 0; i < 17; i++) w(UART_THR, 0x40 + i);
    const lsr = r(UART_LSR);
    expect(lsr & (LSR_DR | LSR_OE)).toBe(LSR_DR | LSR_OE);
    expect(r(UART_LSR) & LSR_OE).toBe(0);
    expect(uart.stats.overruns).toBe(1);
    const got: number[] = [];
    while ((r(UART_LSR) & LSR_DR) !== 0) got.push(r(UART_RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x40 + i));
  });

  test("an overrun in 16450 mode overwrites the unread byte", () => {
    const { r, w } = make();
    w(UART_MCR, MCR_LOOP);
    w(UART_THR, 0x31);
    w(UART_THR, 0x32);
    expect(r(UART_LSR) & LSR_OE).toBe(LSR_OE);
    expect(r(UART_RBR)).toBe(0x32);
    expect(r(UART_LSR) & LSR_DR).toBe(0);
  });

  test("onInputSpace fires when a full receiver gets room again", () => {
    let calls = 0;
    const { uart, r, w } = make({ onInputSpace: () => calls++ });
    w(UART_FCR, FCR_FIFO_ENABLE);
    uart.enqueueInput(new Uint8Array(16));
    expect(calls).toBe(0);
    r(UART_RBR);
    expect(calls).toBe(1);
    r(UART_RBR); // was not full: no call
    expect(calls).toBe(1);
  });
});

describe("UART interrupts", () => {
  test("IIR reports line status > received data > THR empty > modem status, with the line level", () => {
    const { uart, r, w, irq } = make();
    w(UART_FCR, FCR_FIFO_ENABLE);
    w(UART_MCR, MCR_LOOP); // MSR inputs change: CTS/DSR/DCD drop → deltas pending
    for (let i = 0; i < 17; i++) w(UART_THR, i); // fill and overrun
    expect(irq.level).toBe(false); // nothing enabled yet
    w(UART_IER, IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI);
    expect(irq.level).toBe(true);
    expect(r(UART_IIR)).toBe(0xc6); // receiver line status (OE)
    expect(r(UART_IIR)).toBe(0xc6); // not cleared by reading IIR
    r(UART_LSR);
    expect(r(UART_IIR)).toBe(0xc4); // received data at/above trigger level 1
    while ((r(UART_LSR) & LSR_DR) !== 0) r(UART_RBR);
    expect(irq.level).toBe(true);
    expect(r(UART_IIR)).toBe(0xc2); // THR empty, cleared by this read
    expect(r(UART_IIR)).toBe(0xc0); // modem status
    expect(irq.level).toBe(true);
    expect(r(UART_MSR) & 0x0f).toBe(MSR_DCTS | MSR_DDSR | MSR_DDCD);
    expect(r(UART_IIR)).toBe(0xc1);
    expect(irq.level).toBe(false);
    expect(uart.irqLevel).toBe(false);
  });

  test("received data raises and drains lower the line; data below the trigger level is a character timeout", () => {
    const { uart, r, w, irq } = make();
    w(UART_FCR, FCR_FIFO_ENABLE | 0x40); // trigger level 4
    w(UART_IER, IER_ERBFI);
    expect(irq.level).toBe(false);
    uart.enqueueInput(bytes("ab"));
    expect(irq.level).toBe(true);
    expect(r(UART_IIR)).toBe(0xcc);
    uart.enqueueInput(bytes("cd"));
    expect(r(UART_IIR)).toBe(0xc4);
    r(UART_RBR);
    expect(r(UART_IIR)).toBe(0xcc);
    r(UART_RBR);
    r(UART_RBR);
    r(UART_RBR);
    expect(r(UART_IIR)).toBe(0xc1);
    expect(irq.changes()).toEqual([true, false]);
  });

  test("received data in 16450 mode is IIR 0x04", () => {
    const { uart, r, w, irq } = make();
    w(UART_IER, IER_ERBFI);
    uart.enqueueInput(bytes("a"));
    expect(r(UART_IIR)).toBe(0x04);
    expect(irq.level).toBe(true);
    r(UART_RBR);
    expect(irq.level).toBe(false);
  });

  test("THRE: raised on enabling ETBEI with THR empty, cleared by reading IIR, re-raised after a THR write", () => {
    const { r, w, irq, out } = make();
    w(UART_IER, IER_ETBEI);
    expect(irq.level).toBe(true);
    expect(r(UART_IIR)).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(r(UART_IIR)).toBe(0x01);
    w(UART_THR, 0x41); // transmitted at once: THR empty again
    expect(out).toEqual([0x41]);
    expect(irq.level).toBe(true);
    // Linux's 8250 start-up test: IER = 0 then IER = THRI again must re-raise THRE.
    w(UART_IER, 0);
    expect(irq.level).toBe(false);
    w(UART_IER, IER_ETBEI);
    expect(irq.level).toBe(true);
    // Rewriting IER with ETBEI still set does not re-raise after an acknowledge.
    r(UART_IIR);
    w(UART_IER, IER_ETBEI | IER_ERBFI);
    expect(irq.level).toBe(false);
    expect(irq.changes()).toEqual([true, false, true, false, true, false]);
  });

  test("the line is not re-driven when the level does not change", () => {
    const { uart, irq, w } = make();
    w(UART_IER, IER_ERBFI);
    uart.enqueueInput(bytes("a"));
    uart.enqueueInput(bytes("b")); // full in 16450 mode; nothing more
    w(UART_SCR, 1);
    expect(irq.events).toEqual([{ kind: "set", level: true }]);
  });
});

describe("UART loopback", () => {
  test("transmitted bytes come back in RBR and do not reach the sink; host input is disconnected", () => {
    const { uart, r, w, out } = make();
    w(UART_MCR, MCR_LOOP);
    expect(uart.canAcceptInput()).toBe(false);
    expect(uart.enqueueInput(bytes("x"))).toBe(0);
    w(UART_THR, 0x5a);
    expect(out).toEqual([]);
    expect(r(UART_LSR) & LSR_DR).toBe(LSR_DR);
    expect(r(UART_RBR)).toBe(0x5a);
    w(UART_MCR, 0);
    expect(uart.enqueueInput(bytes("x"))).toBe(1);
  });

  test("MSR inputs follow MCR: CTS←RTS, DSR←DTR, RI←OUT1, DCD←OUT2 (Linux's loopback probe expects 0x90)", () => {
    const { r, w } = make();
    w(UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
    expect(r(UART_MSR) & 0xf0).toBe(0x90);
    w(UART_MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
    expect(r(UART_MSR)).toBe(0x60 | MSR_DCTS | MSR_DDSR | MSR_DDCD);
    w(UART_MCR, MCR_LOOP | MCR_DTR); // RI falls: trailing edge
    expect(r(UART_MSR)).toBe(0x20 | MSR_TERI);
    w(UART_MCR, MCR_LOOP | MCR_DTR | MCR_OUT1); // RI rises: no TERI
    expect(r(UART_MSR)).toBe(0x60);
  });

  test("a modem status change raises the interrupt when EDSSI is set", () => {
    const { r, w, irq } = make();
    w(UART_MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
    r(UART_MSR);
    w(UART_IER, IER_EDSSI);
    expect(irq.level).toBe(false);
    w(UART_MCR, MCR_LOOP | MCR_DTR | MCR_OUT2); // CTS drops
    expect(irq.level).toBe(true);
    expect(r(UART_IIR)).toBe(0x00);
    expect(r(UART_MSR) & 0x0f).toBe(MSR_DCTS);
    expect(irq.level).toBe(false);
  });
});

describe("UART regShift", () => {
  test("regShift 2 spaces registers 4 bytes apart and takes 32-bit accesses", () => {
    const { uart } = make({ regShift: 2 });
    expect(uart.windowSize).toBe(32);
    uart.write(UART_SCR * 4, 4, 0x1234_56a5);
    expect(uart.read(UART_SCR * 4, 4)).toBe(0xa5);
    expect(uart.read(UART_SCR * 4, 1)).toBe(0xa5);
    expect(uart.read(UART_LSR * 4, 4)).toBe(LSR_THRE | LSR_TEMT);
    expect(uart.read(UART_SCR, 1)).toBe(0); // offset 7 is inside slot 1, not a register
    expect(uart.stats.badAccesses).toBe(1);
  });

  test("regShift other than 0 or 2 is a configuration error", () => {
    expect(() => make({ regShift: 1 as unknown as 2 })).toThrow(DeviceError);
    expect(() => make({ regShift: 1 as unknown as 2 })).toThrow(
      "uart16550: Cannot create a UART with regShift 1: it must be 0 or 2",
    );
  });
});

describe("UART as Linux's 8250 driver probes it", () => {
  test("autoconfig identifies a 16550A", () => {
    const { r, w } = make();
    // Scratch and IER tests.
    w(UART_SCR, 0xa5);
    expect(r(UART_SCR)).toBe(0xa5);
    w(UART_IER, 0);
    expect(r(UART_IER) & 0x0f).toBe(0);
    w(UART_IER, 0x0f);
    expect(r(UART_IER) & 0x0f).toBe(0x0f);
    w(UART_IER, 0);
    // Loopback test.
    w(UART_MCR, MCR_LOOP | 0x0a);
    expect(r(UART_MSR) & 0xf0).toBe(0x90);
    w(UART_MCR, 0);
    // FIFO test: IIR bits 7:6 = 3 → 16550A family.
    w(UART_FCR, FCR_FIFO_ENABLE);
    expect(r(UART_IIR) >> 6).toBe(3);
    // EFR probe with LCR = 0x80 and 0xbf reads IIR at offset 2: non-zero means "no EFR".
    w(UART_LCR, 0x80);
    expect(r(UART_FCR)).not.toBe(0);
    w(UART_LCR, 0xbf);
    expect(r(UART_FCR)).not.toBe(0);
    // 16750 probe: a 64-byte FIFO would show IIR bit 5.
    w(UART_LCR, 0x80);
    w(UART_FCR, FCR_FIFO_ENABLE | 0x20);
    expect(r(UART_IIR) >> 5).toBe(6);
    w(UART_LCR, 0);
    // XScale UUE probe: IER bit 6 does not stick.
    w(UART_IER, 0x40);
    expect(r(UART_IER) & 0x40).toBe(0);
  });
});

describe("UART snapshot", () => {
  test("round-trips through JSON and restores registers, FIFO and the line level", () => {
    const a = make();
    a.w(UART_FCR, FCR_FIFO_ENABLE | 0x80);
    a.w(UART_LCR, LCR_DLAB);
    a.w(UART_DLL, 3);
    a.w(UART_LCR, 0x03);
    a.w(UART_SCR, 0x77);
    a.w(UART_IER, IER_ERBFI);
    a.uart.enqueueInput(bytes("hello"));
    const state = a.uart.snapshot();
    const b = make();
    b.uart.restore(JSON.parse(JSON.stringify(state)));
    expect(b.uart.snapshot()).toEqual(state);
    expect(b.irq.level).toBe(true);
    expect(b.r(UART_IIR)).toBe(0xcc); // 5 bytes below trigger level 8
    let got = "";
    while ((b.r(UART_LSR) & LSR_DR) !== 0) got += String.fromCharCode(b.r(UART_RBR));
    expect(got).toBe("hello");
    expect(b.r(UART_SCR)).toBe(0x77);
    b.w(UART_LCR, LCR_DLAB);
    expect(b.r(UART_DLL)).toBe(3);
  });

  test("refuses a state that does not fit the device", () => {
    const { uart } = make();
    const state = uart.snapshot();
    expect(() => uart.restore({ ...state, rxFifo: [1, 2] })).toThrow(DeviceError); // FIFOs off: one byte at most
    expect(() => uart.restore({ ...state, scr: 256 })).toThrow(DeviceError);
    expect(() => uart.restore({ ...state, ier: 0x10 })).toThrow(DeviceError);
  });
});
