/**
 * Environment the `axvisor` process is started with (package.json's `axvisor` and `bench` scripts and the shebang
 * of src/cli/main.ts set it; test/runtime-env.test.ts checks that they agree with this list).
 *
 * MIMALLOC_PURGE_DELAY=-1: Bun's allocator (mimalloc) by default gives memory that has been free for 10 ms back to
 * the kernel, and the next allocation there faults it in again, zeroed. JavaScriptCore's compiler threads and the
 * WebAssembly compiles free and reallocate large blocks all the time, so a Debian 6.12 boot on the emulated
 * backend (bench/emulated-linux-stats.ts) took ~130,000 page faults after set-up — 5,600 `madvise` calls gave back
 * 570 MB — and 1.7 s of system time in all. Kept, the process takes 0.8 s of system time and 2.5 s less CPU in
 * all, the hart's thread 0.3-0.8 s less, for 10% more peak memory (440 MB against 400 MB). Memory is still
 * bounded: what is kept is what was in use at the peak, and it is reused.
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "-1" };

/** The assignments as a shell prefix (`NAME=value ...`). */
export function runtimeEnvPrefix(): string {
  return Object.entries(RUNTIME_ENV)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
}

/** Names of RUNTIME_ENV this process was not started with (benchmarks run outside `bun run bench` say so). */
export function missingRuntimeEnv(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  return Object.entries(RUNTIME_ENV)
    .filter(([name, value]) => env[name] !== value)
    .map(([name]) => name);
}

/** A line for benchmarks to print when they run without RUNTIME_ENV (as `bun bench/x.ts` does), else undefined. */
export function runtimeEnvNote(): string | undefined {
  const missing = missingRuntimeEnv();
  if (missing.length === 0) return undefined;
  const wanted = missing.map((name) => `${name}=${RUNTIME_ENV[name]}`).join(" ");
  return `[note] started without ${wanted}, which \`bun run bench\` and \`bun run axvisor\` set (src/common/runtime-env.ts): ours runs with more page faults here than from the CLI`;
}
