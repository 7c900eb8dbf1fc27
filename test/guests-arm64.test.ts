/**
 * The committed arm64 test-guest binaries (test/guests/arm64/*.bin): one per source, linked at the arm64-virt
 * board's RAM base (the first instruction is not zero), and exactly what test/guests/arm64/build.sh makes from the
 * sources today. The rebuild needs Debian's aarch64-linux-gnu-gcc and skips without it.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasCommand, testIf } from "./support/skip.ts";

const DIR = join(import.meta.dir, "guests", "arm64");
const sources = readdirSync(DIR)
  .filter((f) => f.endsWith(".S") && f !== "common.S")
  .map((f) => f.slice(0, -2))
  .sort();

test("every arm64 guest source has its committed binary, starting with an instruction", () => {
  expect(sources).toEqual(["counter", "hello", "mmio-loop", "mmio-widths", "reset", "smp", "timer-gic"]);
  for (const name of sources) {
    const bin = readFileSync(join(DIR, `${name}.bin`));
    expect(bin.length).toBeGreaterThan(16);
    expect(bin.readUInt32LE(0)).not.toBe(0);
  }
});

testIf(hasCommand("aarch64-linux-gnu-gcc"), "rebuild the arm64 guests")(
  "build.sh reproduces the committed binaries byte for byte",
  () => {
    const out = mkdtempSync(join(tmpdir(), "arm64-guests-"));
    try {
      const build = Bun.spawnSync(["bash", join(DIR, "build.sh")], { env: { ...process.env, OUT: out } });
      expect(build.stderr.toString()).toBe("");
      expect(build.exitCode).toBe(0);
      for (const name of sources) {
        expect(readFileSync(join(out, `${name}.bin`)).equals(readFileSync(join(DIR, `${name}.bin`)))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
