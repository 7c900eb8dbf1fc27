/**
 * What the CLI commands need from the outside world, injected so that tests can run the real commands against a
 * stand-in VMM and capture their output. `main.ts` wires the real VMM, backends, streams and signals.
 */

import { resolve } from "node:path";

import type { HalBackend } from "../hal/types.ts";
import type { VmConfig } from "../vmm/config/index.ts";
import type { LogLevelName } from "../vmm/log-level.ts";

/** Process exit statuses. */
export const EXIT_OK = 0;
/** A VM failed at run time (backend, loader or guest error), or the command could not do its work. */
export const EXIT_FAILURE = 1;
/** Bad input: a config error or a usage error. Nothing was run. */
export const EXIT_CONFIG = 2;
/** Stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

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
}

export interface CliVmmOptions {
  readonly logLevel: LogLevelName;
  readonly traceExits: boolean;
  readonly console: { readonly stdin: boolean };
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
  /** Call `handler` on SIGINT; returns a function that removes it. */
  readonly onInterrupt: (handler: () => void) => () => void;
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
