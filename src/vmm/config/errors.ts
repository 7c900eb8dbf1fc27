/**
 * Config errors. One `ConfigError` carries every problem found in one config, so a user fixes them in one pass.
 * Each problem names its TOML path (`kernel.memory_regions[1]`) and the offending value (addresses in hex).
 */

export type ConfigErrorKind =
  | "io" // the file could not be read
  | "syntax" // not valid TOML
  | "invalid"; // valid TOML that is not a valid VM config

/** One problem in a config. */
export interface ConfigIssue {
  /** TOML path of the offending value, e.g. `kernel.memory_regions[1]`; "" for the whole document. */
  readonly path: string;
  /** The offending value as written for the user (hex for addresses), if there is one to show. */
  readonly value: string | undefined;
  /** What is wrong, e.g. "overlaps kernel.memory_regions[0] (0x80000000..0x80ffffff)". */
  readonly problem: string;
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === "" ? "(document)" : issue.path;
  return issue.value === undefined ? `${where}: ${issue.problem}` : `${where} = ${issue.value}: ${issue.problem}`;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly kind: ConfigErrorKind;
  /** The config's name for messages (usually its path). */
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(
    kind: ConfigErrorKind,
    source: string,
    issues: readonly ConfigIssue[],
    options: { cause?: unknown } = {},
  ) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    const lines = issues.map((issue) => `  - ${formatIssue(issue)}`);
    super(
      [`Cannot load VM config ${source}: ${count}`, ...lines].join("\n"),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.kind = kind;
    this.source = source;
    this.issues = issues;
  }
}
