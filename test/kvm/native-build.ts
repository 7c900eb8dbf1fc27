/**
 * Builds the C reference programs in native/ with gcc at bench time, into a cache directory keyed by the sources'
 * contents (.cache/native/, gitignored).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Requirement } from "../support/skip.ts";

export const ROOT = join(import.meta.dir, "..", "..");
const CACHE = join(ROOT, ".cache", "native");

export function gccRequirement(): Requirement {
  const gcc = Bun.which("gcc");
  return gcc === null
    ? { available: false, reason: "gcc is not installed (not on PATH)" }
    : { available: true, reason: `gcc at ${gcc}` };
}

/** Compile `sources` (paths relative to the repository root) into an executable; returns its path. */
export function buildNative(name: string, sources: readonly string[], flags: readonly string[] = ["-O2"]): string {
  const hash = createHash("sha256");
  for (const source of sources) hash.update(readFileSync(join(ROOT, source)));
  hash.update(flags.join(" "));
  const exe = join(CACHE, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(exe)) return exe;
  mkdirSync(CACHE, { recursive: true });
  const cc = Bun.spawnSync(["gcc", ...flags, "-o", exe, ...sources.map((source) => join(ROOT, source))], {
    stderr: "pipe",
  });
  if (cc.exitCode !== 0) throw new Error(`Cannot build ${name} with gcc: ${cc.stderr.toString()}`);
  return exe;
}

/** Run a built program and parse its `key value` lines. */
export function runNative(exe: string, args: readonly string[]): Map<string, string> {
  const run = Bun.spawnSync([exe, ...args], { stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`${exe} exited with ${run.exitCode}: ${run.stderr.toString()}`);
  const values = new Map<string, string>();
  for (const line of run.stdout.toString().split("\n")) {
    const [key, value] = line.split(" ");
    if (key !== undefined && key !== "" && value !== undefined) values.set(key, value);
  }
  return values;
}
