/**
 * The counter test guest (test/guests/riscv/counter.c) for pause, snapshot and API tests: its config and how to
 * read its output.
 */
import { join } from "node:path";
import { parseVmConfig } from "../../src/vmm/config/index.ts";
import type { VmConfig } from "../../src/vmm/config/types.ts";

export const GUESTS_DIR = join(import.meta.dir, "../guests/riscv");
export const COUNTER_BIN = join(GUESTS_DIR, "counter.bin");
/** The counter's last number (counter.c's LAST_COUNT). */
export const COUNTER_LAST = 300;

/** The counter guest on the emulated backend with `ramBytes` of RAM (default 16 MiB). */
export function counterConfig(options: { readonly ramBytes?: number; readonly id?: number } = {}): VmConfig {
  return parseVmConfig(
    `
[base]
id = ${options.id ?? 1}
name = "counter"
cpu_num = 1
arch = "riscv64"
backend = "emulated"

[kernel]
kernel_path = "counter.bin"
kernel_load_addr = 0x8020_0000
memory_regions = [[0x8000_0000, ${options.ramBytes ?? 0x100_0000}, 0x7, 0]]

[devices]
console = "stdout"
`,
    { baseDir: GUESTS_DIR, sourceName: "counter.toml" },
  );
}

/** The numbers the counter printed, in order. */
export const countsIn = (output: string): number[] =>
  [...output.matchAll(/^counter: (\d+)$/gm)].map((m) => Number(m[1]));

/** 1, 2, ..., last. */
export const countsUpTo = (last: number, first = 1): number[] =>
  Array.from({ length: last - first + 1 }, (_, i) => first + i);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `condition` holds (polling every 5 ms); throws naming `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
