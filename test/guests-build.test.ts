/**
 * The committed RISC-V test-guest binaries: present for every source, well-formed for their loaders (ELF64
 * RISC-V, entry and load addresses, HTIF symbols, `.bin` = the ELF's loadable bytes), and exactly what
 * scripts/build-test-guests.sh produces from the sources today (which also shows the build is reproducible: the
 * committed files were built elsewhere, earlier). The rebuild needs the cross toolchain and skips without it;
 * the script's own "no toolchain" path is checked by running it with a missing compiler.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  BUILD_SCRIPT,
  type ElfFile,
  EM_RISCV,
  elfType,
  flattenLoadSegments,
  ISA_LINK_ADDRESS,
  listIsaPrograms,
  listVsGuests,
  REPO_ROOT,
  readElf,
  repoPath,
  VS_GUEST_LINK_ADDRESS,
} from "./guests/guest-files.ts";
import { describeIf, hasCommand, type Requirement } from "./support/skip.ts";

const isaPrograms = listIsaPrograms();
const vsGuests = listVsGuests();
/** Every binary the build script writes, relative to the repository. */
const committedOutputs = [
  ...isaPrograms.map((program) => program.elf),
  ...vsGuests.flatMap((guest) => [guest.elf, guest.bin]),
].map(repoPath);

/** The whole rebuild runs gcc ~50 times on 2 shared cores. */
const BUILD_TIMEOUT_MS = 300_000;

const ET_EXEC = 2;

function inLoadedBytes(elf: ElfFile, address: number, size: number): boolean {
  return elf.segments.some(
    (segment) => address >= segment.paddr && address + size <= segment.paddr + segment.data.length,
  );
}

describe("committed guest binaries", () => {
  test("discovery finds the programs", () => {
    expect(isaPrograms.length).toBeGreaterThan(20);
    expect(vsGuests.map((guest) => guest.name)).toEqual(
      expect.arrayContaining(["hello", "hypercall", "mmio-widths", "plic", "smp", "timer", "unmapped"]),
    );
  });

  test("every source has its binaries", () => {
    expect(committedOutputs.filter((path) => !existsSync(join(REPO_ROOT, path)))).toEqual([]);
  });

  for (const program of isaPrograms) {
    test(`ISA program ${program.name}: M-mode ELF at 0x80000000 with 8-byte tohost/fromhost`, () => {
      const { bytes, elf } = readElf(program.elf);
      expect(elf.machine).toBe(EM_RISCV);
      expect(elfType(bytes)).toBe(ET_EXEC);
      expect(elf.entry).toBe(ISA_LINK_ADDRESS);
      for (const segment of elf.segments) expect(segment.paddr).toBeGreaterThanOrEqual(ISA_LINK_ADDRESS);
      for (const name of ["tohost", "fromhost"]) {
        const symbol = elf.symbols.get(name);
        expect(symbol?.size).toBe(8);
        const value = symbol?.value ?? -1;
        expect(value % 8).toBe(0);
        expect(inLoadedBytes(elf, value, 8)).toBe(true);
      }
    });
  }

  for (const guest of vsGuests) {
    test(`VS guest ${guest.name}: entered at 0x80200000; .bin is the ELF's loadable image`, () => {
      const { bytes, elf } = readElf(guest.elf);
      expect(elf.machine).toBe(EM_RISCV);
      expect(elfType(bytes)).toBe(ET_EXEC);
      expect(elf.entry).toBe(VS_GUEST_LINK_ADDRESS);
      const { base, image } = flattenLoadSegments(elf);
      expect(base).toBe(VS_GUEST_LINK_ADDRESS);
      const bin = new Uint8Array(readFileSync(guest.bin));
      expect(bin.length).toBe(image.length);
      expect(Buffer.from(bin).equals(Buffer.from(image))).toBe(true);
    });
  }
});

describe("scripts/build-test-guests.sh", () => {
  test("lists exactly the programs the tests discover", () => {
    const listed = Bun.spawnSync(["bash", BUILD_SCRIPT, "--list"], { cwd: REPO_ROOT });
    expect(listed.exitCode).toBe(0);
    const paths = listed.stdout.toString().trim().split("\n");
    expect(paths).toEqual([...isaPrograms.map((p) => repoPath(p.source)), ...vsGuests.map((g) => repoPath(g.source))]);
  });

  test("skips with a message and exit status 0 when the compiler is missing", () => {
    const run = Bun.spawnSync(["bash", BUILD_SCRIPT, "--out", "/nonexistent/never-written"], {
      cwd: REPO_ROOT,
      env: { ...process.env, RISCV_CROSS: "/nonexistent/riscv-cross-" },
    });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toContain("[skip] build-test-guests: /nonexistent/riscv-cross-gcc not found");
    expect(existsSync("/nonexistent/never-written")).toBe(false);
  });
});

const gcc = hasCommand("riscv64-unknown-elf-gcc");
const objcopy = hasCommand("riscv64-unknown-elf-objcopy");
const toolchain: Requirement =
  gcc.available && objcopy.available ? gcc : { available: false, reason: `${gcc.reason}; ${objcopy.reason}` };

describeIf(toolchain, "rebuild of the test guests")("rebuild from source", () => {
  let outDir = "";
  let built: string[] = [];
  let buildLog = "";

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "guests-build-"));
    const proc = Bun.spawn(["bash", BUILD_SCRIPT, "--out", outDir], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    buildLog = `${out}${err}`;
    if (code !== 0) throw new Error(`Cannot rebuild the test guests: build-test-guests.sh exited ${code}\n${buildLog}`);
    built = [...new Bun.Glob("**/*.{elf,bin}").scanSync({ cwd: outDir })].sort();
  }, BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (outDir !== "") rmSync(outDir, { recursive: true, force: true });
  });

  test("builds exactly the committed set of binaries", () => {
    expect(built).toEqual([...committedOutputs].sort());
  });

  for (const path of committedOutputs) {
    test(`${path} is byte-identical to a fresh build`, () => {
      const fresh = join(outDir, path);
      expect(existsSync(fresh)).toBe(true);
      const same = Buffer.from(readFileSync(fresh)).equals(Buffer.from(readFileSync(join(REPO_ROOT, path))));
      const verdict = same
        ? "up to date"
        : `differs from a fresh build (stale: run scripts/build-test-guests.sh --only ${dirname(path)} and commit it)`;
      expect(`${path}: ${verdict}`).toBe(`${path}: up to date`);
    });
  }
});
