import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { Bus } from "./bus.ts";
import {
  I8042_COMMAND_OFFSET as CMD,
  I8042_DATA_OFFSET as DATA,
  I8042,
  I8042_CTR_AUXDIS,
  I8042_CTR_AUXINT,
  I8042_CTR_DEFAULT,
  I8042_CTR_KBDDIS,
  I8042_CTR_KBDINT,
  I8042_CTR_XLATE,
  I8042_STR_AUXDATA,
  I8042_STR_CMDDAT,
  I8042_STR_KEYLOCK,
  I8042_STR_OBF,
  I8042_STR_SYSFLAG,
  I8042_STR_TIMEOUT,
  KBD_CTRL_ALT_DEL,
} from "./i8042.ts";

function make() {
  let resets = 0;
  const irq = new RecordingIrqLine();
  const auxIrq = new RecordingIrqLine();
  const dev = new I8042({ onReset: () => resets++, kbdIrq: irq, auxIrq });
  const w = (off: number, v: number) => dev.write(off, 1, v);
  const r = (off: number) => dev.read(off, 1);
  /** Linux's i8042_command: the command, its parameter bytes, then read `results` bytes. */
  const command = (cmd: number, params: number[] = [], results = 0): number[] => {
    w(CMD, cmd);
    for (const p of params) w(DATA, p);
    const out: number[] = [];
    for (let i = 0; i < results; i++) {
      // i8042_wait_read: a missing byte is a timeout (the 0.5 s poll Linux would spend).
      if ((r(CMD) & I8042_STR_OBF) === 0) throw new Error(`command ${cmd.toString(16)}: no result byte ${i}`);
      out.push(r(DATA));
    }
    return out;
  };
  const ctr = (): number => command(0x20, [], 1)[0] ?? -1;
  const writeCtr = (value: number): void => {
    command(0x60, [value]);
  };
  return { dev, irq, auxIrq, w, r, command, ctr, writeCtr, resets: () => resets };
}

describe("i8042 reset", () => {
  test("0xFE on the command port pulses the reset line", () => {
    const { w, resets, dev } = make();
    w(CMD, 0xfe);
    expect(resets()).toBe(1);
    expect(dev.stats.resets).toBe(1);
  });

  test("other pulse commands reset only when they pull bit 0 low; 0xFE on the data port goes to the keyboard", () => {
    const { w, r, resets } = make();
    w(CMD, 0xff);
    w(CMD, 0xfd);
    expect(resets()).toBe(0);
    w(CMD, 0xf0);
    expect(resets()).toBe(1);
    w(DATA, 0xfe);
    expect(resets()).toBe(1);
    expect(r(DATA)).toBe(0xfa);
  });

  test("writing the output port with the reset bit clear resets; the default value keeps it high", () => {
    const { w, r, resets } = make();
    w(CMD, 0xd0);
    const out = r(DATA);
    expect(out & 1).toBe(1);
    w(CMD, 0xd1);
    w(DATA, out);
    expect(resets()).toBe(0);
    w(CMD, 0xd1);
    w(DATA, out & ~1);
    expect(resets()).toBe(1);
  });

  test("through a port bus mapped as one 5-byte window at 0x60", () => {
    const { dev, resets } = make();
    const bus = new Bus("port");
    bus.insert(0x60, dev.windowSize, dev);
    bus.write(0x64, 1, 0xfen);
    expect(resets()).toBe(1);
    const r = bus.read(0x61, 1);
    expect(r.kind === "ok" && r.value).toBe(0n);
    expect(dev.stats.badAccesses).toBe(1);
  });
});

describe("i8042 controller commands", () => {
  test("status after reset: system flag, not inhibited, empty buffer", () => {
    const { r } = make();
    expect(r(CMD)).toBe(I8042_STR_SYSFLAG | I8042_STR_KEYLOCK);
  });

  test("0x20 reads and 0x60 writes the command byte; OBF and CMD/DATA follow", () => {
    const { w, r } = make();
    w(CMD, 0x20);
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_CMDDAT)).toBe(I8042_STR_OBF | I8042_STR_CMDDAT);
    expect(r(DATA)).toBe(I8042_CTR_DEFAULT);
    expect(r(CMD) & I8042_STR_OBF).toBe(0);
    w(CMD, 0x60);
    w(DATA, 0x45);
    expect(r(CMD) & I8042_STR_CMDDAT).toBe(0);
    w(CMD, 0x20);
    expect(r(DATA)).toBe(0x45);
    expect(r(DATA)).toBe(0); // empty buffer reads 0
  });

  test("0xAA self-test answers 0x55, 0xAB and 0xA9 (interface tests) answer 0x00; a reply replaces stale bytes", () => {
    const { w, r, dev } = make();
    dev.enqueueKeyboardBytes(Uint8Array.of(0x1c, 0x9c));
    w(CMD, 0xaa);
    expect(r(DATA)).toBe(0x55);
    expect(r(CMD) & I8042_STR_OBF).toBe(0);
    w(CMD, 0xab);
    expect(r(DATA)).toBe(0x00);
    // The AUX interface test passes with nothing plugged in (lines idle high), and is not an AUX byte.
    w(CMD, 0xa9);
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA)).toBe(I8042_STR_OBF);
    expect(r(DATA)).toBe(0x00);
  });

  test("0xA7/0xA8/0xAD/0xAE set and clear the disable bits", () => {
    const { w, r } = make();
    const ctr = () => {
      w(CMD, 0x20);
      return r(DATA);
    };
    w(CMD, 0xa7);
    w(CMD, 0xad);
    expect(ctr() & (I8042_CTR_AUXDIS | I8042_CTR_KBDDIS)).toBe(I8042_CTR_AUXDIS | I8042_CTR_KBDDIS);
    w(CMD, 0xa8);
    expect(ctr() & (I8042_CTR_AUXDIS | I8042_CTR_KBDDIS)).toBe(I8042_CTR_KBDDIS);
    w(CMD, 0xae);
    expect(ctr() & (I8042_CTR_AUXDIS | I8042_CTR_KBDDIS)).toBe(0);
  });

  test("unknown commands and wider accesses are counted and ignored", () => {
    const { w, dev } = make();
    w(CMD, 0x42);
    dev.write(DATA, 2, 0xffff);
    expect(dev.read(CMD, 4)).toBe(0);
    expect(dev.stats.unknownCommands).toBe(1);
    expect(dev.stats.badAccesses).toBe(2);
  });
});

describe("i8042 keyboard and IRQ 1", () => {
  test("identify answers ACK + MF2 id, one IRQ edge per byte", () => {
    const { w, r, irq } = make();
    w(DATA, 0xf2);
    expect(irq.level).toBe(true);
    expect([r(DATA), r(DATA), r(DATA)]).toEqual([0xfa, 0xab, 0x83]);
    expect(irq.level).toBe(false);
    expect(irq.changes()).toEqual([true, false, true, false, true, false]);
  });

  test("no IRQ while CTR.KBDINT is clear; setting it raises the line for a waiting byte", () => {
    const { w, r, irq } = make();
    w(CMD, 0x60);
    w(DATA, I8042_CTR_DEFAULT & ~I8042_CTR_KBDINT);
    w(DATA, 0xff); // keyboard reset: ACK + BAT
    expect(irq.level).toBe(false);
    expect(r(DATA)).toBe(0xfa);
    w(CMD, 0x60);
    w(DATA, I8042_CTR_DEFAULT);
    expect(irq.level).toBe(true);
    expect(r(DATA)).toBe(0xaa);
    expect(irq.level).toBe(false);
  });

  test("the output buffer holds 16 bytes", () => {
    const { dev, r } = make();
    expect(dev.enqueueKeyboardBytes(new Uint8Array(20).fill(7))).toBe(16);
    for (let i = 0; i < 16; i++) expect(r(DATA)).toBe(7);
    expect(r(CMD) & I8042_STR_OBF).toBe(0);
  });

  test("Linux's controller init sequence sees a working controller", () => {
    const { w, r, resets } = make();
    // i8042_flush
    while ((r(CMD) & I8042_STR_OBF) !== 0) r(DATA);
    // i8042_controller_selftest
    w(CMD, 0xaa);
    expect(r(CMD) & I8042_STR_OBF).toBe(I8042_STR_OBF);
    expect(r(DATA)).toBe(0x55);
    // i8042_controller_init: read CTR twice, expect equal; keylock not active
    const reads: number[] = [];
    for (let i = 0; i < 2; i++) {
      w(CMD, 0x20);
      reads.push(r(DATA));
    }
    expect(reads[0]).toBe(reads[1]);
    expect(r(CMD) & I8042_STR_KEYLOCK).toBe(I8042_STR_KEYLOCK);
    const ctr = ((reads[0] ?? 0) | I8042_CTR_KBDDIS) & ~I8042_CTR_KBDINT;
    w(CMD, 0x60);
    w(DATA, ctr);
    w(CMD, 0x20);
    expect(r(DATA)).toBe(ctr);
    expect(resets()).toBe(0);
  });
});

describe("i8042 AUX port without a mouse and IRQ 12", () => {
  test("0xD3 (AUX loop) returns the byte at once as AUX data; IRQ 12 only with CTR.AUXINT, never IRQ 1", () => {
    const { w, r, irq, auxIrq, writeCtr } = make();
    w(CMD, 0xd3);
    expect(r(CMD) & I8042_STR_OBF).toBe(0); // waits for its data byte
    w(DATA, 0x5a);
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT)).toBe(I8042_STR_OBF | I8042_STR_AUXDATA);
    expect(auxIrq.level).toBe(false); // AUXINT is clear by default
    expect(irq.level).toBe(false);
    expect(r(DATA)).toBe(0x5a);
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA)).toBe(0);
    writeCtr(I8042_CTR_DEFAULT | I8042_CTR_AUXINT);
    irq.clear();
    w(CMD, 0xd3);
    w(DATA, 0xa5);
    expect(auxIrq.level).toBe(true);
    expect(irq.changes()).toEqual([]);
    expect(r(DATA)).toBe(0xa5);
    expect(auxIrq.changes()).toEqual([true, false]);
  });

  test("0xD4 (write to AUX) times out: 0xFE with TIMEOUT and AUXDATA, IRQ 12 with CTR.AUXINT, counted", () => {
    const { w, r, dev, auxIrq, irq, writeCtr } = make();
    writeCtr(I8042_CTR_DEFAULT | I8042_CTR_AUXINT);
    irq.clear();
    w(CMD, 0xd4);
    w(DATA, 0xf2); // PSMOUSE_CMD_GETID
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT)).toBe(
      I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT,
    );
    expect(auxIrq.level).toBe(true);
    expect(irq.changes()).toEqual([]);
    expect(r(DATA)).toBe(0xfe);
    expect(r(CMD) & (I8042_STR_OBF | I8042_STR_TIMEOUT)).toBe(0);
    expect(auxIrq.level).toBe(false);
    expect(dev.stats.auxTimeouts).toBe(1);
    // The byte went nowhere else: the keyboard did not see it.
    expect(r(CMD) & I8042_STR_OBF).toBe(0);
  });

  test("0xA7/0xA8 are visible in the CTR at once (Linux's i8042_toggle_aux)", () => {
    const { command, ctr } = make();
    command(0xa7);
    expect(ctr() & I8042_CTR_AUXDIS).toBe(I8042_CTR_AUXDIS);
    command(0xa8);
    expect(ctr() & I8042_CTR_AUXDIS).toBe(0);
  });

  test("Linux's i8042_check_aux finds an AUX port and gets its IRQ test byte through IRQ 12", () => {
    const { command, ctr, writeCtr, r, auxIrq } = make();
    // i8042_flush, then the loopback test.
    while ((r(CMD) & I8042_STR_OBF) !== 0) r(DATA);
    expect(command(0xd3, [0x5a], 1)).toEqual([0x5a]);
    // i8042_toggle_aux(false), then (true): the CTR follows on the first read.
    command(0xa7);
    expect(ctr() & I8042_CTR_AUXDIS).toBe(I8042_CTR_AUXDIS);
    command(0xa8);
    expect(ctr() & I8042_CTR_AUXDIS).toBe(0);
    // i8042_enable_aux_port, then the IRQ delivery test: loop 0xa5 without reading, the IRQ handler reads it.
    writeCtr((ctr() & ~I8042_CTR_AUXDIS) | I8042_CTR_AUXINT);
    command(0xd3, [0xa5]);
    expect(auxIrq.level).toBe(true);
    expect(r(CMD) & I8042_STR_AUXDATA).toBe(I8042_STR_AUXDATA);
    expect(r(DATA)).toBe(0xa5);
    expect(auxIrq.level).toBe(false);
  });

  test("Linux's multiplexer probe finds a plain (legacy) controller: the third loop byte comes back unchanged", () => {
    const { command } = make();
    expect(command(0xd3, [0xf0], 1)).toEqual([0xf0]);
    expect(command(0xd3, [0x56], 1)).toEqual([0x56]);
    // An active multiplexer would answer its version here instead of 0xa4.
    expect(command(0xd3, [0xa4], 1)).toEqual([0xa4]);
  });
});

describe("i8042 host key chords", () => {
  const drain = (r: (offset: number) => number): number[] => {
    const out: number[] = [];
    while ((r(CMD) & I8042_STR_OBF) !== 0) out.push(r(DATA));
    return out;
  };

  test("Ctrl-Alt-Del in scan code set 2 (no translation): makes in order, breaks (F0) in reverse", () => {
    const { dev, r, irq } = make();
    expect(dev.pressChord(KBD_CTRL_ALT_DEL)).toBe(true);
    expect(irq.level).toBe(true);
    expect(drain(r)).toEqual([0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14]);
    expect(irq.riseCount).toBe(11);
  });

  test("Ctrl-Alt-Del in set 1 when CTR.XLATE is set: breaks have bit 7 set", () => {
    const { dev, r, writeCtr } = make();
    writeCtr(I8042_CTR_DEFAULT | I8042_CTR_XLATE);
    expect(dev.pressChord(KBD_CTRL_ALT_DEL)).toBe(true);
    expect(drain(r)).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
  });

  test("a chord that does not fit in the output buffer is not typed at all", () => {
    const { dev, r } = make();
    expect(dev.enqueueKeyboardBytes(new Uint8Array(10).fill(0x1e))).toBe(10);
    expect(dev.pressChord(KBD_CTRL_ALT_DEL)).toBe(false);
    expect(drain(r)).toHaveLength(10);
  });
});

describe("i8042 snapshot", () => {
  test("keeps an AUX byte's source and timeout flag and drives IRQ 12", () => {
    const a = make();
    a.writeCtr(I8042_CTR_DEFAULT | I8042_CTR_AUXINT);
    a.w(CMD, 0xd4);
    a.w(DATA, 0xff);
    const b = make();
    b.dev.restore(JSON.parse(JSON.stringify(a.dev.snapshot())));
    expect(b.auxIrq.level).toBe(true);
    expect(b.irq.level).toBe(false);
    expect(b.r(CMD) & (I8042_STR_AUXDATA | I8042_STR_TIMEOUT)).toBe(I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
    expect(b.r(DATA)).toBe(0xfe);
  });

  test("round-trips and drives the IRQ line", () => {
    const a = make();
    a.w(CMD, 0xd1); // pending command survives
    a.dev.enqueueKeyboardBytes(Uint8Array.of(0x1e));
    const state = a.dev.snapshot();
    const b = make();
    b.dev.restore(JSON.parse(JSON.stringify(state)));
    expect(b.dev.snapshot()).toEqual(state);
    expect(b.irq.level).toBe(true);
    expect(b.auxIrq.level).toBe(false);
    b.w(DATA, 0x00);
    expect(b.resets()).toBe(1);
  });
});
