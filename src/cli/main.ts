#!/usr/bin/env bun
/**
 * `axvisor` entry point: wires the real VMM, backends, streams and Ctrl-C into the CLI and exits with its status.
 * `bun run axvisor` with no arguments runs the embedded default VM (configs/default.toml).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { consola } from "consola";

import { CONSOLA_LEVELS } from "../vmm/log-level.ts";
import { runCli } from "./cli.ts";
import type { CliDeps } from "./context.ts";

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

const deps: CliDeps = {
  loadVmm: async () => {
    const { loadBackends, Vmm } = await import("../vmm/index.ts");
    return { loadBackends: () => loadBackends(), createVmm: (options) => new Vmm(options) };
  },
  out: (text) => {
    process.stdout.write(`${text}\n`);
  },
  err: (text) => {
    process.stderr.write(encoder.encode(`${text}\n`));
  },
  onInterrupt: (handler) => {
    let count = 0;
    const listener = (): void => {
      count++;
      // A second Ctrl-C while the VMs are still stopping means "now".
      if (count > 1) process.exit(130);
      handler();
    };
    process.on("SIGINT", listener);
    return () => process.off("SIGINT", listener);
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
  process.exit(code);
}
