/**
 * What the section resolvers (`resolve-*.ts`) share: the list the problems go into, and how paths and files are
 * treated. Every problem is collected; nothing stops at the first.
 */

import { isAbsolute, resolve as resolvePath } from "node:path";
import { hex } from "../../common/format.ts";
import type { ConfigIssue } from "./errors.ts";
import { type ImageProbe, probeImage } from "./images.ts";

/** Collects issues; `add(path, value, problem)` formats the value in hex when it is a number. */
export class Issues {
  readonly list: ConfigIssue[] = [];
  add(path: string, value: number | string | undefined, problem: string): void {
    const shown = value === undefined ? undefined : typeof value === "number" ? hex(value) : JSON.stringify(value);
    this.list.push({ path, value: shown, problem });
  }
  addDecimal(path: string, value: number, problem: string): void {
    this.list.push({ path, value: String(value), problem });
  }
}

export class ResolveContext {
  readonly issues = new Issues();
  readonly #baseDir: string;
  /** Whether boot files must exist (a missing one is a problem); files that exist are examined either way. */
  readonly checkFiles: boolean;

  constructor(baseDir: string, checkFiles: boolean) {
    this.#baseDir = baseDir;
    this.checkFiles = checkFiles;
  }

  /** A path from the config, relative to the config's folder. */
  absolute(path: string): string {
    return isAbsolute(path) ? path : resolvePath(this.#baseDir, path);
  }

  /** Look at a boot file named by `key`; a missing file is a problem only when files are checked. */
  probeFile(path: string, key: string): ImageProbe | undefined {
    const probe = probeImage(this.absolute(path));
    if (probe.kind === "missing") {
      if (this.checkFiles) this.issues.add(key, path, `${probe.reason} (looked for ${this.absolute(path)})`);
      return undefined;
    }
    return probe;
  }
}
