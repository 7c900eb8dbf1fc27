/**
 * What the CLI commands need from the outside world, injected so that tests can run the real commands against a
 * stand-in VMM and capture their output. `main.ts` wires the real VMM, backends, streams and signals.
 */

import { resolve } from "node:path";
import type { HalBackend } from "../hal/types.ts";
import type { VmConfig } from "../vmm/config/index.ts";
import type { GdbListenAddress } from "../vmm/debug/index.ts";
import type { LogLevelName } from "../vmm/log-level.ts";

/** Process exit statuses. */
export const EXIT_OK = 0;
/** A VM failed at run time (backend, loader or guest error), or the command could not do its work. */
export const EXIT_FAILURE = 1;
/** Bad input: a config error or a usage error. Nothing was run. */
export const EXIT_CONFIG = 2;
/** Stopped by SIGHUP (128 + 1: the terminal went away), after the VMs were stopped. */
export const EXIT_HANGUP = 129;
/** Stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;
/**
 * Stdout was closed under a run (`axvisor run ... | head`): the VMs are stopped and the process ends quietly with
 * 128 + SIGPIPE, the status a shell reports for a writer that a closed pipe ended (`yes | head`), so
 * `set -o pipefail` scripts see the same thing as with any other Unix tool.
 */
export const EXIT_BROKEN_PIPE = 141;
/** Stopped by SIGTERM (128 + 15), after the VMs were stopped. */
export const EXIT_TERMINATED = 143;

/** Why the host ended a run: a signal, or stdout's reader went away (EPIPE). */
export type HostStopReason = "SIGINT" | "SIGTERM" | "SIGHUP" | "stdout-closed";

/** The exit status for each way the host can end a run. */
export const HOST_STOP_EXIT_CODES: Readonly<Record<HostStopReason, number>> = {
  SIGHUP: EXIT_HANGUP,
  SIGINT: EXIT_INTERRUPTED,
  SIGTERM: EXIT_TERMINATED,
  "stdout-closed": EXIT_BROKEN_PIPE,
};

/** The embedded default VM, found relative to this package (not the current directory). */
export const DEFAULT_CONFIG_PATH = resolve(import.meta.dir, "../../configs/default.toml");

/** How one VM ended, as the VMM reports it. */
export interface VmOutcome {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly exitCode: number;
  readonly error?: string;
}

export interface VmmRunResult {
  readonly exitCode: number;
  readonly vms: readonly VmOutcome[];
}

/** The part of the VMM (`src/vmm/index.ts` `Vmm`) the CLI uses. */
export interface CliVmm {
  addVm(config: VmConfig): number;
  run(): Promise<VmmRunResult>;
  stop(): void;
  /**
   * Serve the API on a unix socket (`--api-sock`); absent in VMMs that have no API server. Rejects with a message
   * when the socket path cannot be used.
   */
  serveApi?(options: CliApiOptions): Promise<CliApiServer>;
}

export interface CliApiOptions {
  readonly path: string;
  /** `run --api-sock`: the API's instance is the VM of the first config, already configured. */
  readonly startedFromConfig: boolean;
  readonly instanceVmId?: number;
}

export interface CliApiServer {
  /** Resolves with how the API's instance VM ended (`serve` exits then). */
  readonly instanceEnded: Promise<VmOutcome>;
  close(): void;
}

export interface CliVmmOptions {
  readonly logLevel: LogLevelName;
  readonly traceExits: boolean;
  readonly console: { readonly stdin: boolean };
  /** `--gdb`: serve the GDB remote protocol for the VM, which starts paused. */
  readonly gdb?: GdbListenAddress;
}

/** The VMM module as the CLI sees it. */
export interface VmmProvider {
  /** Load every backend we have (`src/vmm/index.ts` `loadBackends`): backends load only when asked for. */
  loadBackends(): Promise<readonly HalBackend[]>;
  createVmm(options: CliVmmOptions): CliVmm;
}

export interface CliDeps {
  /**
   * Load the VMM (and through it every backend). Only `run` and `info` need it, so `check` keeps working, and
   * starts fast, whatever state a backend is in.
   */
  readonly loadVmm: () => Promise<VmmProvider>;
  /** Human output (resolved configs, `info`). */
  readonly out: (text: string) => void;
  /** Error output (config problems, VM failures, usage errors). */
  readonly err: (text: string) => void;
  /**
   * Call `handler` when the host ends the run: SIGINT, SIGTERM, SIGHUP, or stdout closed under us (its reader
   * exited: EPIPE). Returns a function that removes it.
   */
  readonly onHostStop: (handler: (reason: HostStopReason) => void) => () => void;
  /** Whether the host's stdin is a terminal (then it feeds the guest console by default). */
  readonly stdinIsTty: boolean;
  /** Apply a log level to the process-wide logger. */
  readonly setLogLevel: (level: LogLevelName) => void;
  readonly version: string;
}

/** Mutable result of one CLI invocation, filled in by the command that ran. */
export interface CliState {
  exitCode: number;
  /** Flags given before the subcommand name (`axvisor --log-level debug run x.toml`). */
  globalLogLevel: LogLevelName | undefined;
  globalTraceExits: boolean | undefined;
}
