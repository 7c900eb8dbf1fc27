import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasCommand, testIf } from "../../test/support/skip.ts";
import {
  ConsoleError,
  HostConsoleInput,
  MAX_PARTIAL_LINE,
  openConsoleOutput,
  StreamSink,
  type WritableStreamLike,
} from "./console.ts";

/** A writable stream that takes `room` writes before it reports backpressure, and can drain or fail on demand. */
class FakeStream implements WritableStreamLike {
  readonly chunks: Uint8Array[] = [];
  room: number;
  #drain: Array<() => void> = [];
  #error: Array<(error: Error) => void> = [];
  constructor(room: number) {
    this.room = room;
  }
  write(chunk: Uint8Array): boolean {
    this.chunks.push(chunk);
    this.room--;
    return this.room > 0;
  }
  once(_event: "drain", listener: () => void): void {
    this.#drain.push(listener);
  }
  on(_event: "error", listener: (error: Error) => void): void {
    this.#error.push(listener);
  }
  off(_event: "error", listener: (error: Error) => void): void {
    this.#error = this.#error.filter((l) => l !== listener);
  }
  drain(room: number): void {
    this.room = room;
    for (const listener of this.#drain.splice(0)) listener();
  }
  fail(code: string): void {
    const error = Object.assign(new Error(`${code}: broken pipe, write`), { code });
    for (const listener of this.#error) listener(error);
  }
  get errorListeners(): number {
    return this.#error.length;
  }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]): string => chunks.map((c) => new TextDecoder().decode(c)).join("");

describe("console output", () => {
  test("a single VM's bytes pass straight through", () => {
    const out: Uint8Array[] = [];
    const console = openConsoleOutput({ kind: "stdout" }, { writer: (b) => out.push(b) });
    console.write(bytes("no newline yet"));
    expect(text(out)).toBe("no newline yet");
  });

  test("with a prefix, whole lines are prefixed and a partial line waits for its end (or close)", () => {
    const out: Uint8Array[] = [];
    const console = openConsoleOutput({ kind: "stdout" }, { prefix: "[vm1] ", writer: (b) => out.push(b) });
    console.write(bytes("hel"));
    expect(out).toHaveLength(0);
    console.write(bytes("lo\nworld\npart"));
    expect(text(out)).toBe("[vm1] hello\n[vm1] world\n");
    console.close();
    expect(text(out)).toBe("[vm1] hello\n[vm1] world\n[vm1] part\n");
  });

  test("file and none sinks", () => {
    const path = join(mkdtempSync(join(tmpdir(), "axvisor-console-")), "guest.log");
    const file = openConsoleOutput({ kind: "file", path });
    file.write(bytes("one\n"));
    file.write(bytes("two\n"));
    file.close();
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    const none = openConsoleOutput({ kind: "none" });
    none.write(bytes("dropped"));
    none.close();
  });
});

describe("console backpressure and a closed stdout (issue 9, items 11 and 12)", () => {
  test("a stream that says `false` congests the sink until it drains; only the VM that wrote waits", async () => {
    const stream = new FakeStream(2);
    const sink = new StreamSink(stream);
    const noisy = openConsoleOutput({ kind: "stdout" }, { writer: sink });
    const quiet = openConsoleOutput({ kind: "stdout" }, { writer: sink });
    noisy.write(bytes("a"));
    expect(sink.congested).toBe(false);
    expect(noisy.backpressure?.()).toBeUndefined();
    noisy.write(bytes("b"));
    expect(sink.congested).toBe(true);
    // The quiet VM wrote nothing since: it goes on. The noisy one waits for the drain.
    expect(quiet.backpressure?.()).toBeUndefined();
    const waiting = noisy.backpressure?.();
    expect(waiting).toBeInstanceOf(Promise);
    let released = false;
    void waiting?.then(() => {
      released = true;
    });
    await Bun.sleep(1);
    expect(released).toBe(false);
    stream.drain(10);
    await waiting;
    expect(released).toBe(true);
    expect(sink.congested).toBe(false);
    expect(noisy.backpressure?.()).toBeUndefined();
    expect(noisy.stats).toEqual({ bytes: 2, dropped: 0, waits: 1 });
    expect(sink.stats).toEqual({ bytes: 2, dropped: 0, congestions: 1 });
  });

  test("EPIPE closes the sink: waiters are released, later bytes dropped and counted, listeners told once", async () => {
    const stream = new FakeStream(1);
    const sink = new StreamSink(stream);
    const reasons: string[] = [];
    sink.onClose((error) => reasons.push(error.message));
    const output = openConsoleOutput({ kind: "stdout" }, { writer: sink });
    output.write(bytes("first"));
    const waiting = output.backpressure?.();
    stream.fail("EPIPE");
    stream.fail("EPIPE");
    await waiting;
    expect(sink.congested).toBe(false);
    output.write(bytes("lost"));
    expect(stream.chunks).toHaveLength(1);
    expect(sink.stats.dropped).toBe(4);
    expect(reasons).toEqual(["EPIPE: broken pipe, write"]);
    sink.dispose();
    expect(stream.errorListeners).toBe(0);
  });

  test("a prefixed VM that never writes a newline holds back at most MAX_PARTIAL_LINE bytes", () => {
    const out: Uint8Array[] = [];
    const console = openConsoleOutput({ kind: "stdout" }, { prefix: "[p] ", writer: (b) => out.push(b) });
    for (let i = 0; i < 3 * MAX_PARTIAL_LINE; i += 100) console.write(new Uint8Array(100).fill(0x78));
    const lines = text(out).split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines.slice(0, -1)) {
      expect(line.startsWith("[p] ")).toBe(true);
      expect(line.length).toBeLessThanOrEqual("[p] ".length + MAX_PARTIAL_LINE);
    }
  });

  testIf(hasCommand("mkfifo"), "FIFO console")(
    "a console file that became a FIFO after the config check is refused at open, not waited on",
    () => {
      const fifo = join(mkdtempSync(join(tmpdir(), "axvisor-console-")), "fifo");
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      expect(() => openConsoleOutput({ kind: "file", path: fifo })).toThrow(ConsoleError);
      expect(() => openConsoleOutput({ kind: "file", path: fifo })).toThrow(
        `Cannot open the console file ${fifo}: is a FIFO (named pipe); a console file must be a regular file`,
      );
    },
  );
});

describe("host console input escapes (QEMU's Ctrl-A)", () => {
  const make = () => {
    const delivered: Uint8Array[] = [];
    let quits = 0;
    let shutdowns = 0;
    const help: string[] = [];
    const input = new HostConsoleInput({
      deliver: (b) => delivered.push(b),
      onQuit: () => quits++,
      onShutdownRequest: () => shutdowns++,
      writeHelp: (t) => help.push(t),
    });
    return { input, delivered, help, quits: () => quits, shutdowns: () => shutdowns };
  };

  test("ordinary bytes pass through unchanged", () => {
    const { input } = make();
    expect([...input.filter(bytes("ls -l\r"))]).toEqual([...bytes("ls -l\r")]);
  });

  test("Ctrl-A X quits and swallows the rest of the chunk; Ctrl-A Ctrl-A sends one Ctrl-A", () => {
    const { input, quits } = make();
    expect([...input.filter(Uint8Array.of(0x61, 0x01, 0x01, 0x62))]).toEqual([0x61, 0x01, 0x62]);
    expect(quits()).toBe(0);
    expect([...input.filter(Uint8Array.of(0x63, 0x01, 0x78, 0x64))]).toEqual([0x63]);
    expect(quits()).toBe(1);
  });

  test("the escape may span chunks; Ctrl-A H prints help; unknown escapes are dropped", () => {
    const { input, quits, help } = make();
    expect([...input.filter(Uint8Array.of(0x01))]).toEqual([]);
    expect([...input.filter(bytes("X"))]).toEqual([]);
    expect(quits()).toBe(1);
    expect([...input.filter(Uint8Array.of(0x01, 0x68, 0x7a))]).toEqual([0x7a]);
    expect(help.join("")).toContain("C-a x  quit axvisor");
    expect([...input.filter(Uint8Array.of(0x01, 0x71, 0x7a))]).toEqual([0x7a]);
  });

  test("Ctrl-A R asks for a guest shutdown and keeps the rest of the chunk; the help lists it", () => {
    const { input, shutdowns, help, quits } = make();
    expect([...input.filter(Uint8Array.of(0x61, 0x01, 0x72, 0x62))]).toEqual([0x61, 0x62]);
    expect(shutdowns()).toBe(1);
    expect([...input.filter(Uint8Array.of(0x01, 0x52))]).toEqual([]);
    expect(shutdowns()).toBe(2);
    expect(quits()).toBe(0);
    input.filter(Uint8Array.of(0x01, 0x68));
    expect(help.join("")).toContain("C-a r  ask the guest to shut down");
  });
});
