/**
 * The `axvisor` command line (citty): `run`, `check`, `info`. Thin by design: parse arguments, load configs,
 * hand them to the VMM, map the outcome to an exit status. `runCli` never throws for bad input and never prints a
 * stack trace for it; it returns the exit status.
 */

import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";

import type { HalBackend } from "../hal/types.ts";
import { formatVmConfig } from "../vmm/config/index.ts";
import { type GdbListenAddress, parseGdbAddress } from "../vmm/debug/index.ts";
import { LOG_LEVEL_NAMES, type LogLevelName } from "../vmm/log-level.ts";
import { callApi, checkApiArgs } from "./api-client.ts";
import { collectConfigs, UsageError } from "./configs.ts";
import {
  type CliApiServer,
  type CliDeps,
  type CliState,
  type CliVmm,
  EXIT_CONFIG,
  EXIT_FAILURE,
  EXIT_OK,
  HOST_STOP_EXIT_CODES,
  type HostStopReason,
  type VmmProvider,
  type VmmRunResult,
} from "./context.ts";

const DEFAULT_LOG_LEVEL: LogLevelName = "warn";

const commonArgs = {
  "log-level": {
    type: "enum",
    options: [...LOG_LEVEL_NAMES],
    description: `How much the VMM logs (default ${DEFAULT_LOG_LEVEL}); logs go to stderr, the guest console to stdout`,
  },
  "trace-exits": {
    type: "boolean",
    description: "Print every VM exit on stderr, and a summary of its counters when a VM stops (any log level)",
  },
} as const satisfies ArgsDef;

const machineArgs = {
  machine: {
    type: "enum",
    options: ["virt"],
    description: "Run programs on a bare RISC-V virt board (M-mode, no hypervisor layer) instead of config files",
  },
  bios: {
    type: "enum",
    options: ["none"],
    description: "Firmware for --machine: only none (the program itself runs in M-mode)",
  },
  memory: {
    type: "string",
    valueHint: "size",
    description: "RAM of the --machine board, e.g. 256M or 1G (default 128M)",
  },
} as const satisfies ArgsDef;

/** Names of the flags `def` accepts, in kebab-case, with the kinds that take a value. */
function flagNames(def: ArgsDef): { all: Set<string>; valued: Set<string>; booleans: Set<string> } {
  const all = new Set<string>();
  const valued = new Set<string>();
  const booleans = new Set<string>();
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    const alias = "alias" in arg ? arg.alias : undefined;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const n of [name, ...aliases]) {
      all.add(n);
      if (arg.type === "boolean") booleans.add(n);
      else valued.add(n);
    }
  }
  return { all, valued, booleans };
}

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** citty accepts any flag silently; a typo such as `--log-levle` must not be ignored. */
function unknownFlags(rawArgs: readonly string[], def: ArgsDef): string[] {
  const { all, valued, booleans } = flagNames(def);
  const unknown: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? "";
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    const name = kebab(arg.replace(/^-{1,2}/, "").split("=")[0] ?? "");
    if (all.has(name)) {
      if (valued.has(name) && !arg.includes("=")) i++; // skip the value
    } else if (!(name.startsWith("no-") && booleans.has(name.slice(3))) && name !== "help" && name !== "h") {
      unknown.push(arg.split("=")[0] ?? arg);
    }
  }
  return unknown;
}

function checkFlags(rawArgs: readonly string[], def: ArgsDef): void {
  const unknown = unknownFlags(rawArgs, def);
  if (unknown.length > 0) throw new UsageError(`Unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
}

/** What the outcome of a run means for the process: one VM → its code; several → 0 only if all succeeded. */
export function exitCodeOf(result: VmmRunResult): number {
  const codeOf = (vm: VmmRunResult["vms"][number]): number =>
    vm.error !== undefined && vm.exitCode === 0 ? EXIT_FAILURE : vm.exitCode;
  if (result.vms.length === 1) {
    const only = result.vms[0];
    return only === undefined ? result.exitCode : codeOf(only);
  }
  const failing = result.vms.map(codeOf).find((code) => code !== 0);
  if (failing !== undefined) return failing;
  return result.exitCode === 0 ? EXIT_OK : result.exitCode;
}

function createCli(deps: CliDeps, state: CliState): CommandDef<typeof commonArgs> {
  const logLevelOf = (value: LogLevelName | undefined): LogLevelName =>
    value ?? state.globalLogLevel ?? DEFAULT_LOG_LEVEL;

  const reportConfigErrors = (errors: readonly Error[]): void => {
    for (const error of errors) deps.err(error.message);
  };

  const runArgs = {
    ...commonArgs,
    ...machineArgs,
    gdb: {
      type: "string",
      valueHint: "port|path",
      description:
        "Serve the GDB remote protocol on a TCP port (PORT or HOST:PORT) or a unix socket path; the VM waits paused for the debugger (riscv64 guests)",
    },
    stdin: {
      type: "boolean",
      description: "Feed host stdin to the first VM's console (default: only when stdin is a terminal)",
    },
    "api-sock": {
      type: "string",
      valueHint: "path",
      description: "Also serve the Firecracker-compatible API on this unix socket (its instance: the first VM)",
    },
    configs: {
      type: "positional",
      required: false,
      valueHint: "config.toml...",
      description:
        "VM config files, one VM each (default: the embedded configs/default.toml); with --machine, programs",
    },
  } as const satisfies ArgsDef;

  const run = defineCommand({
    meta: { name: "run", description: "Run VMs from config files (or the embedded default VM), all in this process" },
    args: runArgs,
    run: async ({ args, rawArgs }) => {
      checkFlags(rawArgs, runArgs);
      const logLevel = logLevelOf(args["log-level"]);
      deps.setLogLevel(logLevel);
      const collected = collectConfigs(args._, { machine: args.machine, bios: args.bios, memory: args.memory });
      if (!collected.ok) {
        reportConfigErrors(collected.errors);
        state.exitCode = EXIT_CONFIG;
        return;
      }
      let gdb: GdbListenAddress | undefined;
      try {
        gdb = args.gdb === undefined ? undefined : parseGdbAddress(args.gdb);
      } catch (error) {
        deps.err(error instanceof Error ? error.message : String(error));
        state.exitCode = EXIT_CONFIG;
        return;
      }
      const provider = await loadVmm(deps);
      const vmm: CliVmm = provider.createVmm({
        logLevel,
        traceExits: args["trace-exits"] ?? state.globalTraceExits ?? false,
        console: { stdin: args.stdin ?? deps.stdinIsTty },
        ...(gdb === undefined ? {} : { gdb }),
      });
      for (const config of collected.configs) vmm.addVm(config);
      const api = await startApi(vmm, args["api-sock"], {
        startedFromConfig: true,
        ...(collected.configs[0] === undefined ? {} : { instanceVmId: collected.configs[0].id }),
      });
      if (api === "failed") return;
      let stoppedBy: HostStopReason | undefined;
      const removeHandler = deps.onHostStop((reason) => {
        if (stoppedBy === undefined) {
          stoppedBy = reason;
          // A closed stdout is its reader's choice (`| head`), nothing to report; a signal is worth a line.
          if (reason !== "stdout-closed") deps.err(`axvisor: ${reason} received: stopping the VMs`);
        }
        vmm.stop();
      });
      let result: VmmRunResult;
      try {
        result = await vmm.run();
      } finally {
        removeHandler();
        api?.close();
      }
      for (const vm of result.vms) {
        if (vm.error === undefined) continue;
        const label = `vm ${vm.id} (${vm.name})`;
        deps.err(vm.error.startsWith(label) ? vm.error : `${label}: ${vm.error}`);
      }
      state.exitCode = stoppedBy === undefined ? exitCodeOf(result) : HOST_STOP_EXIT_CODES[stoppedBy];
    },
  });

  /** Start the API server on `path` if given; "failed" (reported, exit status set) when it cannot. */
  const startApi = async (
    vmm: CliVmm,
    path: string | undefined,
    options: { readonly startedFromConfig: boolean; readonly instanceVmId?: number },
  ): Promise<CliApiServer | undefined | "failed"> => {
    if (path === undefined) return undefined;
    if (vmm.serveApi === undefined) {
      deps.err("--api-sock: this VMM has no API server");
      state.exitCode = EXIT_FAILURE;
      return "failed";
    }
    try {
      return await vmm.serveApi({ path, ...options });
    } catch (error) {
      deps.err(error instanceof Error ? error.message : String(error));
      state.exitCode = EXIT_FAILURE;
      return "failed";
    }
  };

  const serveArgs = {
    ...commonArgs,
    "api-sock": {
      type: "string",
      valueHint: "path",
      required: true,
      description: "The unix socket to serve the Firecracker-compatible API on (created with mode 0600)",
    },
  } as const satisfies ArgsDef;

  const serve = defineCommand({
    meta: {
      name: "serve",
      description:
        "Serve the Firecracker-compatible API on a unix socket and run the VM it configures (or loads from a snapshot); ends when that VM stops",
    },
    args: serveArgs,
    run: async ({ args, rawArgs }) => {
      checkFlags(rawArgs, serveArgs);
      const logLevel = logLevelOf(args["log-level"]);
      deps.setLogLevel(logLevel);
      const provider = await loadVmm(deps);
      const vmm = provider.createVmm({
        logLevel,
        traceExits: args["trace-exits"] ?? state.globalTraceExits ?? false,
        console: { stdin: false },
      });
      const api = await startApi(vmm, args["api-sock"], { startedFromConfig: false });
      if (api === "failed" || api === undefined) return;
      let stoppedBy: HostStopReason | undefined;
      const stopped = new Promise<void>((resolve) => {
        const remove = deps.onHostStop((reason) => {
          stoppedBy ??= reason;
          vmm.stop();
          remove();
          resolve();
        });
      });
      try {
        const outcome = await Promise.race([api.instanceEnded, stopped.then(() => undefined)]);
        if (outcome !== undefined) {
          if (outcome.error !== undefined) deps.err(outcome.error);
          state.exitCode = exitCodeOf({ exitCode: outcome.exitCode, vms: [outcome] });
        } else if (stoppedBy !== undefined) {
          state.exitCode = HOST_STOP_EXIT_CODES[stoppedBy];
        }
      } finally {
        api.close();
      }
    },
  });

  const apiArgs = {
    socket: { type: "positional", required: true, valueHint: "socket", description: "The API server's unix socket" },
    method: { type: "positional", required: true, valueHint: "method", description: "GET, PUT, PATCH, ..." },
    url: { type: "positional", required: true, valueHint: "url", description: "The path, e.g. /machine-config" },
    body: { type: "positional", required: false, valueHint: "json", description: "The request body (JSON)" },
  } as const satisfies ArgsDef;

  const api = defineCommand({
    meta: {
      name: "api",
      description: "Send one request to an API socket and print the answer (exit 0 for a 2xx status, else 1)",
    },
    args: apiArgs,
    run: async ({ args, rawArgs }) => {
      checkFlags(rawArgs, apiArgs);
      const method = checkApiArgs(args.method, args.url, args.body);
      let result: Awaited<ReturnType<typeof callApi>>;
      try {
        result = await callApi(args.socket, method, args.url, args.body);
      } catch (error) {
        deps.err(`Cannot reach the API on ${args.socket}: ${error instanceof Error ? error.message : String(error)}`);
        state.exitCode = EXIT_FAILURE;
        return;
      }
      if (result.body !== "") deps.out(result.body);
      const ok = result.status >= 200 && result.status < 300;
      if (!ok) deps.err(`HTTP ${result.status}`);
      state.exitCode = ok ? EXIT_OK : EXIT_FAILURE;
    },
  });

  const checkArgs = {
    ...machineArgs,
    configs: {
      type: "positional",
      required: false,
      valueHint: "config.toml...",
      description: "VM config files to validate (default: the embedded configs/default.toml)",
    },
  } as const satisfies ArgsDef;

  const check = defineCommand({
    meta: {
      name: "check",
      description: "Validate VM configs and print each resolved VM (defaults filled in, paths absolute)",
    },
    args: checkArgs,
    run: ({ args, rawArgs }) => {
      checkFlags(rawArgs, checkArgs);
      const collected = collectConfigs(args._, { machine: args.machine, bios: args.bios, memory: args.memory });
      if (!collected.ok) {
        reportConfigErrors(collected.errors);
        state.exitCode = EXIT_CONFIG;
        return;
      }
      deps.out(collected.configs.map(formatVmConfig).join("\n\n"));
      state.exitCode = EXIT_OK;
    },
  });

  const info = defineCommand({
    meta: { name: "info", description: "Show which backends can run on this host, and why not" },
    args: {},
    run: async ({ rawArgs }) => {
      checkFlags(rawArgs, {});
      const provider = await loadVmm(deps);
      deps.out(formatInfo({ backends: await provider.loadBackends(), version: deps.version }));
      state.exitCode = EXIT_OK;
    },
  });

  return defineCommand({
    meta: {
      name: "axvisor",
      version: deps.version,
      description: "axvisor-ts: the ArceOS hypervisor stack in TypeScript on Bun",
    },
    // Declared here too so that `axvisor --log-level debug run x.toml` parses (citty must know they take values).
    args: commonArgs,
    subCommands: { run, check, info, serve, api },
    default: "run",
    setup: ({ args }) => {
      state.globalLogLevel = args["log-level"];
      state.globalTraceExits = args["trace-exits"];
    },
  });
}

/** The VMM could not be loaded (a module of it is missing or broken): nothing can run. */
class VmmUnavailableError extends Error {
  override readonly name = "VmmUnavailableError";
  readonly kind = "vmm-unavailable";
}

async function loadVmm(deps: CliDeps): Promise<VmmProvider> {
  try {
    return await deps.loadVmm();
  } catch (error) {
    throw new VmmUnavailableError(`Cannot start the VMM: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/** `axvisor info`: each backend, whether it can run here, and why. */
export function formatInfo(deps: { readonly backends: readonly HalBackend[]; readonly version: string }): string {
  const lines = [`axvisor-ts ${deps.version} on ${process.platform} ${process.arch}, Bun ${Bun.version}`, "backends:"];
  if (deps.backends.length === 0) lines.push("  (none registered)");
  for (const backend of deps.backends) {
    let available = false;
    let reason: string;
    let archs: readonly string[] = [];
    try {
      const support = backend.hasHardwareSupport();
      available = support.available;
      reason = support.reason;
      archs = support.archs;
    } catch (error) {
      // The contract says the probe never throws; if one does, say so rather than hide the backend.
      reason = `probe failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    const guests = available ? `guests ${archs.length === 0 ? "(none)" : archs.join(", ")}` : "";
    lines.push(
      `  ${backend.name.padEnd(9)} ${(available ? "available" : "unavailable").padEnd(12)} ${guests.padEnd(22)} ${reason}`.trimEnd(),
    );
  }
  return lines.join("\n");
}

const SUBCOMMANDS = ["run", "check", "info", "serve", "api"] as const;

/** Run the CLI on `argv` (without the program name); resolves to the process exit status. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const state: CliState = { exitCode: EXIT_OK, globalLogLevel: undefined, globalTraceExits: undefined };
  const main = createCli(deps, state);
  const rawArgs = [...argv];
  const beforeDashes = rawArgs.includes("--") ? rawArgs.slice(0, rawArgs.indexOf("--")) : rawArgs;
  if (beforeDashes.includes("--help") || beforeDashes.includes("-h")) {
    deps.out(await usage(main, beforeDashes));
    return EXIT_OK;
  }
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    deps.out(deps.version);
    return EXIT_OK;
  }
  try {
    await runCommand(main, { rawArgs });
  } catch (error) {
    if (error instanceof UsageError || isCittyError(error)) {
      deps.err(`${error instanceof Error ? error.message : String(error)}\nSee: axvisor --help`);
      return EXIT_CONFIG;
    }
    if (error instanceof VmmUnavailableError) {
      deps.err(error.message);
      return EXIT_FAILURE;
    }
    throw error;
  }
  return state.exitCode;
}

/** citty's own argument errors (unknown command, bad enum value) are `CLIError`s, which it does not export. */
function isCittyError(error: unknown): boolean {
  return error instanceof Error && error.name === "CLIError";
}

async function usage(main: CommandDef<typeof commonArgs>, args: readonly string[]): Promise<string> {
  const name = args.find((a) => (SUBCOMMANDS as readonly string[]).includes(a));
  const subCommands =
    typeof main.subCommands === "object" && main.subCommands !== null && !(main.subCommands instanceof Promise)
      ? main.subCommands
      : undefined;
  const sub = name === undefined ? undefined : subCommands?.[name];
  if (sub !== undefined && typeof sub === "object" && !(sub instanceof Promise)) return renderUsage(sub, main);
  return renderUsage(main);
}
