/**
 * Guest consoles on the host: where a VM's UART/SBI console output goes, and how host keyboard input reaches it.
 *
 * Output: straight to stdout for a single VM; line-buffered with a `[name] ` prefix when several VMs share the
 * terminal; or to a file. Input: the host's stdin goes to one VM. On a TTY stdin is switched to raw mode so the
 * guest sees every key (an interactive shell works); as in QEMU, Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A,
 * Ctrl-A H prints help; Ctrl-A R asks the guest to shut down (the board's Ctrl-Alt-Del or power button).
 */

import { closeSync, openSync, writeSync } from "node:fs";
import type { ConsoleConfig } from "./config/types.ts";

export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
  /** Flush a partial line and release the sink. */
  close(): void;
}

/** Where bytes finally go (process.stdout in the CLI, a buffer in tests). */
export type ByteWriter = (bytes: Uint8Array) => void;

const stdoutWriter: ByteWriter = (bytes) => {
  process.stdout.write(bytes);
};

const NEWLINE = 0x0a;

/** Prefixes each output line with `prefix`, so several VMs on one terminal stay readable. */
class PrefixedOutput implements ConsoleOutput {
  readonly #prefix: Uint8Array;
  readonly #writer: ByteWriter;
  #partial: Uint8Array[] = [];

  constructor(prefix: string, writer: ByteWriter) {
    this.#prefix = new TextEncoder().encode(prefix);
    this.#writer = writer;
  }

  write(bytes: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== NEWLINE) continue;
      this.#emit(bytes.subarray(start, i + 1));
      start = i + 1;
    }
    if (start < bytes.length) this.#partial.push(bytes.slice(start));
  }

  close(): void {
    if (this.#partial.length > 0) this.#emit(Uint8Array.of(NEWLINE));
  }

  #emit(tail: Uint8Array): void {
    const parts = [this.#prefix, ...this.#partial, tail];
    this.#partial = [];
    const line = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      line.set(part, at);
      at += part.length;
    }
    this.#writer(line);
  }
}

export function openConsoleOutput(
  config: ConsoleConfig,
  options: { prefix?: string; writer?: ByteWriter } = {},
): ConsoleOutput {
  switch (config.kind) {
    case "none":
      return { write: () => undefined, close: () => undefined };
    case "file": {
      const fd = openSync(config.path, "a");
      return {
        write: (bytes) => {
          writeSync(fd, bytes);
        },
        close: () => closeSync(fd),
      };
    }
    case "stdout": {
      const writer = options.writer ?? stdoutWriter;
      if (options.prefix !== undefined) return new PrefixedOutput(options.prefix, writer);
      return { write: writer, close: () => undefined };
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
            "\r\nC-a x  quit axvisor\r\nC-a r  ask the guest to shut down (x86: Ctrl-Alt-Del, or the ACPI power button if the guest listens to it)\r\nC-a C-a  send C-a\r\nC-a h  this help\r\n",
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
