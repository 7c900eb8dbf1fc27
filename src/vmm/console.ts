/**
 * Guest consoles on the host: where a VM's UART/SBI console output goes, and how host keyboard input reaches it.
 *
 * Output: straight to stdout for a single VM; line-buffered with a `[name] ` prefix when several VMs share the
 * terminal; or to a file. Input: the host's stdin goes to one VM. On a TTY stdin is switched to raw mode so the
 * guest sees every key (an interactive shell works); as in QEMU, Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A,
 * Ctrl-A H prints help; Ctrl-A R asks the guest to shut down (the board's Ctrl-Alt-Del or power button).
 */

import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import type { ConsoleConfig } from "./config/types.ts";
import { consoleFileProblem, fileKindOf } from "./host-file.ts";

/**
 * Where console bytes finally go, and whether it can take more now. A sink over a pipe nobody reads fills up;
 * writers then wait for `drained()` instead of buffering without limit (2.3 GB of RSS in 60 s before).
 */
export interface ConsoleSink {
  write(bytes: Uint8Array): void;
  /** True while the sink holds more than it wants; writers should wait for `drained()` before writing more. */
  readonly congested: boolean;
  /** Resolves once the sink is no longer congested: it drained, or it closed (and drops what it is given). */
  drained(): Promise<void>;
}

/** A plain function sink (tests, benchmarks): never congested. */
export type ByteWriter = (bytes: Uint8Array) => void;

export interface ConsoleStats {
  /** Bytes handed to the sink. */
  bytes: number;
  /** Bytes dropped: the sink was closed (stdout's reader went away) or a device file would have blocked. */
  dropped: number;
  /** Times the VM waited for a congested sink to drain (backpressure). */
  waits: number;
}

/** One VM's console output. */
export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
  /**
   * Undefined when the VM may go on; otherwise a promise to await before running the guest further: the sink is
   * congested and this VM wrote to it since (backpressure on the VM that produces the output, not on its
   * neighbours). Absent for outputs that never push back.
   */
  backpressure?(): Promise<void> | undefined;
  readonly stats?: Readonly<ConsoleStats>;
  /** Flush a partial line and release the sink. */
  close(): void;
}

/** What `StreamSink` uses of a Node writable stream (process.stdout as Bun implements it). */
export interface WritableStreamLike {
  write(chunk: Uint8Array): boolean;
  once(event: "drain", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * A sink over a writable stream (stdout) that reports backpressure and survives its reader going away. `write`
 * returning false means the stream holds more than its high-water mark: the sink is congested until "drain".
 * An "error" (EPIPE when the reader of a pipe exited) closes the sink: later bytes are dropped and counted, the
 * waiters are released, and `onClose` listeners learn why (the CLI stops the VMs then).
 */
export class StreamSink implements ConsoleSink {
  readonly stats = { bytes: 0, dropped: 0, congestions: 0 };
  readonly #stream: WritableStreamLike;
  #congested = false;
  #closedBy: Error | undefined;
  #waiters: Array<() => void> = [];
  readonly #closeListeners: Array<(error: Error) => void> = [];
  readonly #onError = (error: Error): void => {
    if (this.#closedBy !== undefined) return;
    this.#closedBy = error;
    this.#release();
    for (const listener of this.#closeListeners) listener(error);
  };

  constructor(stream: WritableStreamLike) {
    this.#stream = stream;
    stream.on("error", this.#onError);
  }

  /** The error that closed the sink (EPIPE, ...), or undefined while it is open. */
  get closedBy(): Error | undefined {
    return this.#closedBy;
  }

  /** Call `listener` once when the stream fails (its reader went away). */
  onClose(listener: (error: Error) => void): void {
    this.#closeListeners.push(listener);
  }

  get congested(): boolean {
    return this.#congested && this.#closedBy === undefined;
  }

  write(bytes: Uint8Array): void {
    if (this.#closedBy !== undefined) {
      this.stats.dropped += bytes.length;
      return;
    }
    this.stats.bytes += bytes.length;
    if (this.#stream.write(bytes) || this.#congested) return;
    this.#congested = true;
    this.stats.congestions++;
    this.#stream.once("drain", () => {
      this.#congested = false;
      this.#release();
    });
  }

  drained(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stop listening to the stream; waiters are released. */
  dispose(): void {
    this.#stream.off("error", this.#onError);
    this.#release();
  }

  #release(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** A function is a sink that never pushes back. */
function sinkOf(writer: ByteWriter | ConsoleSink): ConsoleSink {
  if (typeof writer !== "function") return writer;
  return { write: writer, congested: false, drained: () => Promise.resolve() };
}

/** One VM's output into a sink, waiting (through `backpressure`) when the sink is congested by its writes. */
class SinkOutput implements ConsoleOutput {
  readonly stats: ConsoleStats = { bytes: 0, dropped: 0, waits: 0 };
  readonly #sink: ConsoleSink;
  /** This VM wrote while the sink was congested (or made it so): it waits for the drain. */
  #pushedBack = false;

  constructor(sink: ConsoleSink) {
    this.#sink = sink;
  }

  write(bytes: Uint8Array): void {
    this.stats.bytes += bytes.length;
    this.#sink.write(bytes);
    if (this.#sink.congested) this.#pushedBack = true;
  }

  backpressure(): Promise<void> | undefined {
    if (!this.#pushedBack) return undefined;
    if (!this.#sink.congested) {
      this.#pushedBack = false;
      return undefined;
    }
    this.stats.waits++;
    return this.#sink.drained().then(() => {
      this.#pushedBack = false;
    });
  }

  close(): void {}
}

const NEWLINE = 0x0a;
/**
 * The longest partial line held back for its prefix. A guest that never writes a newline must not grow the
 * buffer without limit: past this many bytes the partial line goes out as a line of its own.
 */
export const MAX_PARTIAL_LINE = 4096;

/** Prefixes each output line with `prefix`, so several VMs on one terminal stay readable. */
class PrefixedOutput extends SinkOutput {
  readonly #prefix: Uint8Array;
  #partial: Uint8Array[] = [];
  #partialLength = 0;

  constructor(prefix: string, sink: ConsoleSink) {
    super(sink);
    this.#prefix = new TextEncoder().encode(prefix);
  }

  override write(bytes: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== NEWLINE && this.#partialLength + (i + 1 - start) < MAX_PARTIAL_LINE) continue;
      const piece = bytes.subarray(start, i + 1);
      this.#emit(bytes[i] === NEWLINE ? piece : concat([piece, Uint8Array.of(NEWLINE)]));
      start = i + 1;
    }
    if (start < bytes.length) {
      const rest = bytes.slice(start);
      this.#partial.push(rest);
      this.#partialLength += rest.length;
    }
  }

  override close(): void {
    if (this.#partialLength > 0) this.#emit(Uint8Array.of(NEWLINE));
  }

  #emit(tail: Uint8Array): void {
    const line = concat([this.#prefix, ...this.#partial, tail]);
    this.#partial = [];
    this.#partialLength = 0;
    super.write(line);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export type ConsoleErrorKind = "not-regular" | "open";

export class ConsoleError extends Error {
  override readonly name = "ConsoleError";
  readonly kind: ConsoleErrorKind;
  readonly path: string;
  constructor(kind: ConsoleErrorKind, path: string, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.kind = kind;
    this.path = path;
  }
}

/**
 * `console = "file:<path>"`: appended to, created if missing. Never blocks: a FIFO (whose open waits for a reader)
 * or another kind of file is refused before it is opened, and the open uses O_NONBLOCK. A character device
 * (/dev/null, a terminal) is accepted; a write it would block is dropped and counted rather than stalling every
 * VM. Writes to a regular file are synchronous: the guest goes at the disk's pace.
 */
class FileOutput implements ConsoleOutput {
  readonly stats: ConsoleStats = { bytes: 0, dropped: 0, waits: 0 };
  readonly #fd: number;

  constructor(path: string) {
    const problem = consoleFileProblem(path);
    if (problem !== undefined)
      throw new ConsoleError("not-regular", path, `Cannot open the console file ${path}: ${problem}`);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o644);
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
      throw new ConsoleError("open", path, `Cannot open the console file ${path}: ${code}`, { cause: error });
    }
    const stats = fstatSync(fd);
    if (!stats.isFile() && !stats.isCharacterDevice()) {
      closeSync(fd);
      throw new ConsoleError(
        "not-regular",
        path,
        `Cannot open the console file ${path}: it is ${fileKindOf(stats)}, not a regular file`,
      );
    }
    this.#fd = fd;
  }

  write(bytes: Uint8Array): void {
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "EAGAIN")) throw error;
      this.stats.dropped += bytes.length - done;
    }
    this.stats.bytes += done;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export function openConsoleOutput(
  config: ConsoleConfig,
  options: { prefix?: string; writer?: ByteWriter | ConsoleSink } = {},
): ConsoleOutput {
  switch (config.kind) {
    case "none":
      return { write: () => undefined, close: () => undefined };
    case "file":
      return new FileOutput(config.path);
    case "stdout": {
      const sink = sinkOf(options.writer ?? ((bytes) => process.stdout.write(bytes)));
      return options.prefix === undefined ? new SinkOutput(sink) : new PrefixedOutput(options.prefix, sink);
    }
  }
}

const CTRL_A = 0x01;

export interface HostInputOptions {
  /** Guest-bound bytes. */
  readonly deliver: (bytes: Uint8Array) => void;
  /** Ctrl-A X. */
  readonly onQuit: () => void;
  /** Ctrl-A R: ask the guest to shut down (Board.requestShutdown). */
  readonly onShutdownRequest?: () => void;
  readonly stdin?: NodeJS.ReadStream;
  readonly writeHelp?: (text: string) => void;
}

/** Host stdin → one guest, with QEMU's Ctrl-A escapes. */
export class HostConsoleInput {
  readonly #options: HostInputOptions;
  readonly #stdin: NodeJS.ReadStream;
  #escape = false;
  #wasRaw = false;
  #started = false;
  readonly #onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk);
    const out = this.filter(bytes);
    if (out.length > 0) this.#options.deliver(out);
  };

  constructor(options: HostInputOptions) {
    this.#options = options;
    this.#stdin = options.stdin ?? process.stdin;
  }

  /** Apply the Ctrl-A escapes; returns the bytes meant for the guest. */
  filter(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const byte of bytes) {
      if (this.#escape) {
        this.#escape = false;
        if (byte === 0x78 || byte === 0x58) {
          this.#options.onQuit();
          return Uint8Array.from(out);
        }
        if (byte === CTRL_A) out.push(CTRL_A);
        else if (byte === 0x72 || byte === 0x52) this.#options.onShutdownRequest?.();
        else if (byte === 0x68 || byte === 0x48) {
          (this.#options.writeHelp ?? ((t: string) => process.stderr.write(t)))(
            "\r\nC-a x  quit axvisor\r\nC-a r  ask the guest to shut down (x86: Ctrl-Alt-Del, or the ACPI power button if the guest listens to it; arm64: the GPIO power button)\r\nC-a C-a  send C-a\r\nC-a h  this help\r\n",
          );
        }
        continue;
      }
      if (byte === CTRL_A) {
        this.#escape = true;
        continue;
      }
      out.push(byte);
    }
    return Uint8Array.from(out);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#stdin.isTTY) {
      this.#wasRaw = this.#stdin.isRaw;
      this.#stdin.setRawMode(true);
    }
    this.#stdin.on("data", this.#onData);
    this.#stdin.resume();
  }

  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#stdin.off("data", this.#onData);
    if (this.#stdin.isTTY) this.#stdin.setRawMode(this.#wasRaw);
    this.#stdin.pause();
  }
}
