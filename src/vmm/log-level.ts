/**
 * The log levels the CLI (`--log-level`) and the VMM (`VmmOptions.logLevel`) accept, and consola's numeric level
 * for each (consola: fatal/error 0, warn 1, info 3, debug 4, trace 5; silent is -∞). The one table of both.
 */

export const LOG_LEVEL_NAMES = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export const CONSOLA_LEVELS: Readonly<Record<LogLevelName, number>> = {
  silent: Number.NEGATIVE_INFINITY,
  error: 0,
  warn: 1,
  info: 3,
  debug: 4,
  trace: 5,
};
