/**
 * Turning command-line arguments into VM configs: config files, the embedded default, or bare-machine programs
 * (`--machine virt --bios none prog.elf`). Shared by `run` and `check`; all problems are collected before
 * anything runs.
 */

import {
  type BareMachineOptions,
  bareMachineConfig,
  ConfigError,
  loadVmConfig,
  parseMemorySize,
  type VmConfig,
} from "../vmm/config/index.ts";
import { DEFAULT_CONFIG_PATH } from "./context.ts";

/** Options that select a bare machine instead of config files. */
export interface MachineArgs {
  readonly machine: "virt" | undefined;
  readonly bios: "none" | undefined;
  readonly memory: string | undefined;
}

/** A usage mistake on the command line (as opposed to a problem inside a config file). */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly kind = "usage";
}

export type CollectedConfigs =
  | { readonly ok: true; readonly configs: readonly VmConfig[] }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/** Load every VM the arguments name. Throws `UsageError` for inconsistent flags; collects `ConfigError`s. */
export function collectConfigs(positionals: readonly string[], machineArgs: MachineArgs): CollectedConfigs {
  const errors: ConfigError[] = [];
  const configs: VmConfig[] = [];
  if (machineArgs.machine === undefined) {
    if (machineArgs.bios !== undefined || machineArgs.memory !== undefined) {
      throw new UsageError("--bios and --memory describe a bare machine; use them with --machine virt");
    }
    const paths = positionals.length === 0 ? [DEFAULT_CONFIG_PATH] : positionals;
    for (const path of paths) {
      try {
        configs.push(loadVmConfig(path));
      } catch (error) {
        if (error instanceof ConfigError) errors.push(error);
        else throw error;
      }
    }
  } else {
    if (positionals.length === 0)
      throw new UsageError("--machine virt needs the program to run (an ELF file or a flat binary)");
    let memorySize: number | undefined;
    if (machineArgs.memory !== undefined) {
      memorySize = parseMemorySize(machineArgs.memory);
      if (memorySize === undefined) {
        throw new UsageError(
          `Cannot use --memory ${JSON.stringify(machineArgs.memory)}: expected a size such as 128M, 1G or 0x800_0000`,
        );
      }
    }
    positionals.forEach((program, index) => {
      const options: BareMachineOptions = { id: index, ...(memorySize === undefined ? {} : { memorySize }) };
      try {
        configs.push(bareMachineConfig(program, options));
      } catch (error) {
        if (error instanceof ConfigError) errors.push(error);
        else throw error;
      }
    });
  }
  // The VMM tells VMs apart by id; two files with the same id are a config mistake, found before anything runs.
  const seen = new Map<number, VmConfig>();
  for (const config of configs) {
    const first = seen.get(config.id);
    if (first === undefined) {
      seen.set(config.id, config);
      continue;
    }
    errors.push(
      new ConfigError("invalid", config.source, [
        {
          path: "base.id",
          value: String(config.id),
          problem: `is also the id of ${first.source} ("${first.name}"); VM ids must differ`,
        },
      ]),
    );
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, configs };
}
