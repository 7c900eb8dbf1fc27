/**
 * Entry points: TOML text or a file → `VmConfig`, or a `ConfigError` listing every problem.
 */

import { dirname, resolve as resolvePath } from "node:path";

import { parse as parseToml, TomlError } from "smol-toml";

import { HostFileError, readRegularFile } from "../host-file.ts";
import { ConfigError } from "./errors.ts";
import { resolveVmConfig } from "./resolve.ts";
import { configIssuesFromZod, vmConfigFileSchema } from "./schema.ts";
import type { VmConfig } from "./types.ts";

export interface ParseVmConfigOptions {
  /** Folder that relative paths in the config resolve against (normally the config file's folder). */
  readonly baseDir: string;
  /** The config's name in messages (normally its path). */
  readonly sourceName: string;
  /** Require boot files to exist (default true); see `ResolveOptions.checkFiles`. */
  readonly checkFiles?: boolean;
}

/** Parse and validate one VM config. Throws `ConfigError` (and nothing else) for any bad input. */
export function parseVmConfig(text: string, options: ParseVmConfigOptions): VmConfig {
  let document: unknown;
  try {
    // Integers beyond 2^53 - 1 arrive as bigint so that we can reject them by name instead of rounding them.
    document = parseToml(text, { integersAsBigInt: "asNeeded", unsafeKeyBehaviour: "keep" });
  } catch (error) {
    if (error instanceof TomlError) {
      const first = (error.message.split("\n")[0] ?? error.message).replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        "syntax",
        options.sourceName,
        [
          {
            path: "",
            value: undefined,
            problem: `invalid TOML at line ${error.line}, column ${error.column}: ${first}`,
          },
        ],
        { cause: error },
      );
    }
    // smol-toml documents only TomlError; anything else (e.g. a stack overflow on absurd nesting) is still a
    // problem with the input, not with our code.
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      "syntax",
      options.sourceName,
      [{ path: "", value: undefined, problem: `cannot parse TOML: ${message}` }],
      {
        cause: error,
      },
    );
  }
  const shaped = vmConfigFileSchema.safeParse(document);
  if (!shaped.success) {
    throw new ConfigError("invalid", options.sourceName, configIssuesFromZod(shaped.error.issues, document), {
      cause: shaped.error,
    });
  }
  const resolveOptions = { baseDir: options.baseDir, sourceName: options.sourceName };
  const { config, issues } = resolveVmConfig(
    shaped.data,
    options.checkFiles === undefined ? resolveOptions : { ...resolveOptions, checkFiles: options.checkFiles },
  );
  if (config === undefined) throw new ConfigError("invalid", options.sourceName, issues);
  return config;
}

/** Read, parse and validate a config file; relative paths in it resolve against its folder. */
export function loadVmConfig(path: string, options: { readonly checkFiles?: boolean } = {}): VmConfig {
  const absolute = resolvePath(path);
  let text: string;
  try {
    // Never blocks: a FIFO or a device given as the config is refused before it is opened.
    text = new TextDecoder().decode(readRegularFile(absolute, "VM config"));
  } catch (error) {
    const reason = error instanceof HostFileError ? error.reason : `cannot read (${String(error)})`;
    throw new ConfigError("io", path, [{ path: "", value: JSON.stringify(absolute), problem: reason }], {
      cause: error,
    });
  }
  return parseVmConfig(text, {
    baseDir: dirname(absolute),
    sourceName: path,
    ...(options.checkFiles === undefined ? {} : { checkFiles: options.checkFiles }),
  });
}
