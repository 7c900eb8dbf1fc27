/**
 * The PSCI facts against the host's <linux/psci.h> (the kernel's copy of DEN0022's ids and codes): every `PSCI_*`
 * number psci.ts exports is printed by a C program compiled at test time and must be equal. Skips without gcc or the
 * header (linux-libc-dev).
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Requirement, testIf } from "../../../test/support/skip.ts";
import * as psci from "./psci.ts";
import { PSCI_0_2_FN_CPU_ON, PSCI_0_2_FN64_CPU_ON, psciVersion, SMCCC_64, SMCCC_FAST_CALL } from "./psci.ts";

const HEADER = "/usr/include/linux/psci.h";

function compilerAndHeader(): Requirement {
  const gcc = Bun.which("gcc");
  if (gcc === null) return { available: false, reason: "gcc is not installed (not on PATH)" };
  if (!existsSync(HEADER)) return { available: false, reason: `${HEADER} is missing (install linux-libc-dev)` };
  return { available: true, reason: `gcc at ${gcc}` };
}

const numbers = Object.entries(psci).filter(
  (entry): entry is [string, number] => entry[0].startsWith("PSCI_") && typeof entry[1] === "number",
);

test("SMC64 ids are the SMC32 ones with bit 30 set, both fast calls of the standard secure service", () => {
  expect(PSCI_0_2_FN64_CPU_ON).toBe(PSCI_0_2_FN_CPU_ON + SMCCC_64);
  expect((PSCI_0_2_FN_CPU_ON & SMCCC_FAST_CALL) >>> 0).toBe(SMCCC_FAST_CALL);
  expect((PSCI_0_2_FN_CPU_ON >>> psci.SMCCC_OWNER_SHIFT) & 0x3f).toBe(psci.SMCCC_OWNER_STANDARD_SECURE);
  expect(psciVersion(1, 1)).toBe(0x1_0001);
  expect(psciVersion(0, 2)).toBe(2);
});

testIf(compilerAndHeader(), "PSCI ids vs <linux/psci.h>")("every PSCI_* number matches <linux/psci.h>", () => {
  expect(numbers.length).toBeGreaterThan(30);
  const dir = mkdtempSync(join(tmpdir(), "psci-"));
  try {
    const source = join(dir, "psci-dump.c");
    const exe = join(dir, "psci-dump");
    const lines = numbers.map(([name]) => `  printf("${name} %lld\\n", (long long)(${name}));`);
    writeFileSync(
      source,
      `#include <stdio.h>\n#include <linux/psci.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`,
    );
    const cc = Bun.spawnSync(["gcc", "-Wall", "-Werror", "-o", exe, source]);
    if (cc.exitCode !== 0) throw new Error(`Cannot compile the PSCI dump: ${cc.stderr.toString()}`);
    const run = Bun.spawnSync([exe]);
    const host = new Map(
      run.stdout
        .toString()
        .trim()
        .split("\n")
        .map((line) => {
          const [name, value] = line.split(" ");
          return [name ?? "", Number(value)] as const;
        }),
    );
    const mismatches = numbers
      .filter(([name, value]) => host.get(name) !== value)
      .map(([name, value]) => `${name}: psci.ts says ${value}, <linux/psci.h> says ${host.get(name)}`);
    expect(mismatches).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
