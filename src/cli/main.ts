#!/usr/bin/env -S MIMALLOC_PURGE_DELAY=-1 bun
/**
 * `axvisor` entry point: wires the real VMM, backends, streams and Ctrl-C into the CLI and exits with its status.
 * `bun run axvisor` with no arguments runs the embedded default VM (configs/default.toml).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { consola } from "consola";

import { StreamSink } from "../vmm/console.ts";
import { CONSOLA_LEVELS } from "../vmm/log-level.ts";
import { runCli } from "./cli.ts";
import { type CliDeps, EXIT_BROKEN_PIPE, HOST_STOP_EXIT_CODES, type HostStopReason } from "./context.ts";

function packageVersion(): string {
  try {
    const text = readFileSync(resolve(import.meta.dir, "../../package.json"), "utf8");
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string")
      return parsed.version;
  } catch {
    // A missing package.json only costs the version string.
  }
  return "unknown";
}

const encoder = new TextEncoder();

/** Signals that end a run the way Ctrl-C does: the VMs are stopped, then the process exits 128 + the signal. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Stdout, for the guest consoles and the commands' output: it reports backpressure (the VMs wait rather than
 * buffer without limit when nobody reads the pipe) and its reader going away (EPIPE, `axvisor run | head`).
 */
const stdout = new StreamSink(process.stdout);

/** What a closed stdout means now: the running command's stop, or (between commands) the end of the process. */
let stdoutClosed: (() => void) | undefined;
/** A signal ended the run: exit without waiting for stdout's reader (who may never read again). */
let stoppedBySignal = false;
stdout.onClose((error) => {
  const code = "code" in error ? String(error.code) : "";
  if (code !== "EPIPE") process.stderr.write(encoder.encode(`axvisor: cannot write to stdout: ${error.message}\n`));
  if (stdoutClosed !== undefined) stdoutClosed();
  else process.exit(EXIT_BROKEN_PIPE);
});

const deps: CliDeps = {
  loadVmm: async () => {
    const { loadBackends, Vmm } = await import("../vmm/index.ts");
    return {
      loadBackends: () => loadBackends(),
      createVmm: (options) => {
        const vmm = new Vmm({ ...options, console: { ...options.console, writer: stdout } });
        return {
          addVm: (config) => vmm.addVm(config),
          run: () => vmm.run(),
          stop: () => vmm.stop(),
          serveApi: async (api) => {
            const { serveApi } = await import("../vmm/control/index.ts");
            return serveApi(vmm, { ...api, version: packageVersion(), cwd: process.cwd() });
          },
        };
      },
    };
  },
  out: (text) => {
    stdout.write(encoder.encode(`${text}\n`));
  },
  err: (text) => {
    process.stderr.write(encoder.encode(`${text}\n`));
  },
  onHostStop: (handler) => {
    let count = 0;
    const stop = (reason: HostStopReason): void => {
      count++;
      // A second signal while the VMs are still stopping means "now".
      if (count > 1 && reason !== "stdout-closed") process.exit(HOST_STOP_EXIT_CODES[reason]);
      if (reason !== "stdout-closed") stoppedBySignal = true;
      handler(reason);
    };
    const listeners = STOP_SIGNALS.map((signal) => {
      const listener = (): void => stop(signal);
      process.on(signal, listener);
      return { signal, listener };
    });
    stdoutClosed = () => stop("stdout-closed");
    return () => {
      for (const { signal, listener } of listeners) process.off(signal, listener);
      stdoutClosed = undefined;
    };
  },
  stdinIsTty: process.stdin.isTTY === true,
  setLogLevel: (level) => {
    consola.level = CONSOLA_LEVELS[level];
  },
  version: packageVersion(),
};

// The guest console owns stdout; the VMM's log lines go to stderr so they never mix into guest output.
consola.options.stdout = process.stderr;

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2), deps);
  // process.exit drops what stdout still buffers for a slow reader: let it drain first (a reader that goes away
  // ends the wait too). Not after a signal: the user asked to stop, and the reader may never read again.
  if (!stoppedBySignal) await stdout.drained();
  process.exit(code);
}
