/**
 * VM configuration: axvisor's TOML format (plus our additions) → a validated, fully typed `VmConfig`.
 * See README.md ("Config format") for the user-facing description.
 */

export type { BareMachineOptions } from "./bare-machine.ts";
export { BARE_MACHINE_DEFAULT_MEMORY, bareMachineConfig, parseMemorySize } from "./bare-machine.ts";
export type { ConfigErrorKind, ConfigIssue } from "./errors.ts";
export { ConfigError } from "./errors.ts";
export { formatMappingFlags, formatVmConfig } from "./format.ts";
export type { ParseVmConfigOptions } from "./parse.ts";
export { loadVmConfig, parseVmConfig } from "./parse.ts";
export * from "./types.ts";
