/**
 * `bun run bench`: runs every benchmark in bench/ (each `bench/*.ts` except this file is a standalone script that
 * prints its own table of results and ratios against a reference measured in the same run). Each runs in its own
 * process so one benchmark's JIT state and memory do not colour the next.
 *
 *   bun run bench                 all benchmarks
 *   bun run bench riscv linux     only those whose file name contains one of the words
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.endsWith(".test.ts"))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

let failures = 0;
for (const file of files) {
  console.log(`\n=== ${file} ${"=".repeat(Math.max(0, 100 - file.length))}`);
  const proc = Bun.spawn(["bun", join(dir, file)], { stdout: "inherit", stderr: "inherit" });
  const code = await proc.exited;
  if (code !== 0) {
    failures++;
    console.log(`!!! ${file} exited with ${code}`);
  }
}
console.log(`\n${files.length} benchmark scripts, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
