/**
 * The emulated backend's native requests (src/hal/emulated/sys.ts): transparent huge pages for the arena (guest
 * RAM and the decode caches), and threads' priorities. The constants are checked against the C headers with the
 * host's C compiler; the advice itself is checked in /proc/self/smaps, where the kernel shows the mapping's
 * huge-page eligibility and the huge pages backing it.
 */

import { ptr } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { Arena } from "../../src/hal/emulated/arena.ts";
import {
  adviseHugePages,
  HUGE_PAGE_SIZE,
  hugePageSpan,
  MADV_HUGEPAGE,
  PRIO_PROCESS,
} from "../../src/hal/emulated/sys.ts";
import { hasCommand, type Requirement, testIf } from "../support/skip.ts";

const MIB = 1024 * 1024;

function thpMode(): string | undefined {
  const path = "/sys/kernel/mm/transparent_hugepage/enabled";
  if (!existsSync(path)) return undefined;
  return /\[(\w+)\]/.exec(readFileSync(path, "utf8"))?.[1];
}

function thpRequirement(): Requirement {
  if (process.platform !== "linux") return { available: false, reason: "transparent huge pages are a Linux feature" };
  const mode = thpMode();
  if (mode === undefined) return { available: false, reason: "this kernel has no transparent huge pages" };
  if (mode === "never") return { available: false, reason: "transparent huge pages are switched off (never)" };
  return { available: true, reason: mode };
}

/** The huge pages (kB) backing the mapping that holds `address`, from /proc/self/smaps. */
function anonHugeKb(address: number): number | undefined {
  let inside = false;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range !== null) {
      inside = Number.parseInt(range[1] ?? "", 16) <= address && address < Number.parseInt(range[2] ?? "", 16);
      continue;
    }
    const huge = /^AnonHugePages:\s+(\d+) kB/.exec(line);
    if (inside && huge !== null) return Number(huge[1]);
  }
  return undefined;
}

describe("emulated backend: huge pages for the arena", () => {
  test("the span advised is the whole 2 MiB pieces inside the block", () => {
    expect(hugePageSpan(0x20_0000, 4 * MIB)).toEqual({ start: 0x20_0000, length: 4 * MIB });
    expect(hugePageSpan(0x20_1000, 4 * MIB)).toEqual({ start: 0x40_0000, length: 2 * MIB });
    expect(hugePageSpan(0x20_1000, 2 * MIB)).toBeUndefined();
    expect(hugePageSpan(0x1000, 64 * 1024)).toBeUndefined();
  });

  testIf(hasCommand("gcc"), "MADV_HUGEPAGE against <sys/mman.h>")("MADV_HUGEPAGE is the C header's value", () => {
    const cc = Bun.spawnSync(["gcc", "-E", "-dM", "-include", "sys/mman.h", "-x", "c", "/dev/null"]);
    expect(cc.exitCode).toBe(0);
    const line = cc.stdout
      .toString()
      .split("\n")
      .find((l) => l.startsWith("#define MADV_HUGEPAGE "));
    expect(line?.split(/\s+/)[2]).toBe(String(MADV_HUGEPAGE));
  });

  testIf(hasCommand("gcc"), "PRIO_PROCESS against <sys/resource.h>")("PRIO_PROCESS is the C header's value", () => {
    // glibc makes it an enum member (then `#define PRIO_PROCESS PRIO_PROCESS`): the compiler gives its value, as an
    // initializer offset by 1000 so that it is never zero (a zero would go to .bss without a .long).
    const source = "#include <sys/resource.h>\nint value = PRIO_PROCESS + 1000;\n";
    const cc = Bun.spawnSync(["gcc", "-S", "-o", "-", "-x", "c", "-"], { stdin: new TextEncoder().encode(source) });
    expect(cc.exitCode).toBe(0);
    const long = /value:\s*\n\s*\.long\s+(\d+)/.exec(cc.stdout.toString())?.[1];
    expect(Number(long) - 1000).toBe(PRIO_PROCESS);
  });

  testIf(thpRequirement(), "transparent huge pages")(
    "arena RAM that was advised is backed by huge pages once written",
    () => {
      const arena = Arena.create();
      if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
      const size = 8 * MIB;
      const offset = arena.allocate(size, 4096);
      if (offset === undefined) throw new Error("the arena has no room for 8 MiB");
      const bytes = arena.bytes(offset, size);
      const span = adviseHugePages(bytes);
      expect(span).toBeDefined();
      bytes.fill(1);
      expect(anonHugeKb(span?.start ?? 0)).toBeGreaterThanOrEqual(HUGE_PAGE_SIZE / 1024);
    },
  );

  testIf(thpRequirement(), "transparent huge pages")(
    "the arena advises what it grows by: its memory is backed by huge pages once written, unasked",
    () => {
      const arena = Arena.create();
      if (arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
      // Small allocations, as the decode caches make: the first grows the memory by 16 MiB.
      const first = arena.allocate(40 * 1024, 64);
      if (first === undefined) throw new Error("the arena has no room for 40 KiB");
      const grown = arena.bytes(first, arena.buffer.byteLength - first);
      const span = hugePageSpan(ptr(grown), grown.length);
      if (span === undefined) throw new Error("the arena grew by less than a huge page");
      grown.fill(1);
      expect(anonHugeKb(span.start)).toBeGreaterThanOrEqual(HUGE_PAGE_SIZE / 1024);
      // Unless asked not to (4 KiB pages: what was touched, page by page).
      const small = Arena.create({ hugePages: false });
      const at = small?.allocate(40 * 1024, 64);
      if (small === undefined || at === undefined) throw new Error("no second arena");
      const smallGrown = small.bytes(at, small.buffer.byteLength - at);
      smallGrown.fill(1);
      const smallSpan = hugePageSpan(ptr(smallGrown), smallGrown.length);
      expect(anonHugeKb(smallSpan?.start ?? 0)).toBe(0);
    },
  );
});
