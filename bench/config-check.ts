/**
 * `check` on configs with many memory regions (issue 9, item 18: 50,000 regions took 6.8 s when overlaps were
 * checked pair by pair). Parses and validates generated configs of 1,000 to 50,000 regions (plus as many
 * passthrough windows as a tenth of the regions) in this process and prints the time per size, with the ratio to
 * what linear growth from the smallest size would give: a few at most for n log n (parsing and garbage collection
 * add their share), about 50 at 50,000 regions for a quadratic check (7.8 s here before the sweep). Printed,
 * never asserted.
 *
 *   bun bench/config-check.ts
 */
import { parseVmConfig } from "../src/vmm/config/index.ts";

const SIZES = [1_000, 10_000, 50_000];
const ROUNDS = 3;

function configText(regions: number): string {
  const lines = ["[base]", 'id = 1\nname = "many"\ncpu_num = 1\narch = "riscv64"', "[kernel]"];
  lines.push('kernel_path = "kernel.bin"', "kernel_load_addr = 0x8000_0000", "memory_regions = [");
  // Every other page: disjoint, so nothing merges and every region is checked against its neighbours.
  for (let i = 0; i < regions; i++) lines.push(`  [${0x8000_0000 + i * 0x2000}, 0x1000, 0x7, 0],`);
  lines.push("]", "[devices]", "passthrough_addresses = [");
  for (let i = 0; i < regions / 10; i++) lines.push(`  [${0x4000_0000 + i * 0x2000}, 0x1000],`);
  lines.push("]", "");
  return lines.join("\n");
}

function bestSeconds(text: string): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    const config = parseVmConfig(text, { baseDir: "/", sourceName: "bench.toml", checkFiles: false });
    best = Math.min(best, (performance.now() - start) / 1000);
    if (config.memoryRegions.length === 0) throw new Error("no regions parsed");
  }
  return best;
}

bestSeconds(configText(1_000)); // warm-up
const rows: Array<[number, number]> = SIZES.map((n) => [n, bestSeconds(configText(n))]);
const [smallest, smallestSeconds] = rows[0] ?? [1, 1];
console.log(`Config check (parse + validate) by number of memory regions, best of ${ROUNDS}`);
for (const [n, seconds] of rows) {
  const linear = (smallestSeconds * n) / smallest;
  console.log(
    `  ${String(n).padStart(6)} regions   ${(seconds * 1000).toFixed(0).padStart(6)} ms   ${((seconds / n) * 1e6).toFixed(1).padStart(5)} µs/region   ratio to linear ${(seconds / linear).toFixed(2)}`,
  );
}
