/**
 * scripts/lib/cache.sh's `cache_dir`: guest images live in $AXVISOR_CACHE, outside the clone, and <clone>/.cache/<name>
 * links there. Run through bash on temporary folders.
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HELPER = join(import.meta.dir, "../scripts/lib/cache.sh");
const made: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "axvisor-cache-dir-"));
  made.push(dir);
  return dir;
}

/** `cache_dir <root> <name>` with AXVISOR_CACHE=`cache`: its output and exit code. */
function cacheDir(cache: string, root: string, name: string): { out: string; code: number } {
  const r = Bun.spawnSync(["bash", "-c", `source "${HELPER}" && cache_dir "$1" "$2"`, "bash", root, name], {
    env: { ...process.env, AXVISOR_CACHE: cache },
  });
  return { out: r.stdout.toString().trim(), code: r.exitCode };
}

afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("cache_dir", () => {
  test("makes the cache folder and links <root>/.cache/<name> to it", () => {
    const cache = join(tempDir(), "cache");
    const root = tempDir();
    const r = cacheDir(cache, root, "images");
    expect(r.code).toBe(0);
    expect(r.out).toBe(join(cache, "images"));
    expect(readlinkSync(join(root, ".cache/images"))).toBe(join(cache, "images"));
  });

  test("an old in-clone folder is replaced by the link", () => {
    const cache = join(tempDir(), "cache");
    const root = tempDir();
    mkdirSync(join(root, ".cache/images"), { recursive: true });
    writeFileSync(join(root, ".cache/images/stale"), "x");
    expect(cacheDir(cache, root, "images").code).toBe(0);
    expect(lstatSync(join(root, ".cache/images")).isSymbolicLink()).toBe(true);
  });

  test("a <root>/.cache that leads into the cache itself leaves the cache alone", () => {
    const cache = join(tempDir(), "cache");
    mkdirSync(join(cache, "images"), { recursive: true });
    writeFileSync(join(cache, "images/kernel"), "built");
    const root = tempDir();
    symlinkSync(cache, join(root, ".cache")); // a worktree sharing the cache this way
    const r = cacheDir(cache, root, "images");
    expect(r.code).toBe(0);
    expect(r.out).toBe(join(cache, "images"));
    expect(lstatSync(join(cache, "images")).isDirectory()).toBe(true);
    expect(existsSync(join(cache, "images/kernel"))).toBe(true);
    expect(readFileSync(join(cache, "images/kernel"), "utf8")).toBe("built");
  });
});
