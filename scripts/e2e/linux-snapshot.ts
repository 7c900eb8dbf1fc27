/**
 * A Linux guest across a snapshot, driven through the control API only (run by scripts/e2e/61-linux-snapshot.sh):
 * `axvisor run --api-sock A <config>` boots it; when the console shows `--at` (default: the kyber I/O scheduler
 * registering, mid-boot, ~1 s of guest time before /init) the VM is paused, snapshotted and the process stopped; a new `axvisor serve --api-sock B`
 * loads the snapshot with resume_vm. The guest must finish its workload there (the init's checks: time, RTC date,
 * virtio-rng, a prime sieve, then power-off with 0), and the two outputs read as one must hold each init line
 * exactly once (no gap, no repeat).
 *
 *   bun scripts/e2e/linux-snapshot.ts CONFIG [--at TEXT]
 * Prints "AXVISOR-LINUX-SNAP: PASS ..." or "... FAIL <why>"; exit status 0 only on PASS.
 */
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { callApi, sleep, socketUp, spawnAxvisor, until as untilWithin } from "../../test/support/api-driver.ts";

const ROOT = resolve(import.meta.dir, "../..");
const config = resolve(process.argv[2] ?? join(ROOT, "configs/linux-riscv64.toml"));
const atIndex = process.argv.indexOf("--at");
const at = atIndex > 0 ? (process.argv[atIndex + 1] ?? "") : "io scheduler kyber registered";
const dir = mkdtempSync(join(tmpdir(), "axvisor-linux-snap-"));
/** Lines the init prints once each, in this order (test/guests/linux-init/init.c). */
const EXPECTED = [
  "Run /init as init process",
  "AXVISOR-INIT: hello from init",
  "AXVISOR-INIT: time:",
  "AXVISOR-INIT: date=",
  "AXVISOR-INIT: hwrng:",
  "AXVISOR-INIT: primes below",
  "AXVISOR-INIT: powering off",
];

const spawn = (args: string[]) => spawnAxvisor(args, dir);
const until = (condition: () => boolean | Promise<boolean>, what: string) => untilWithin(condition, what, 600_000);
const call = callApi;

try {
  const a = join(dir, "a.sock");
  const first = spawn(["run", "--api-sock", a, config]);
  await until(socketUp(a), "the first API socket");
  await until(() => first.output().includes(at), `"${at}" on the console`);
  await call(a, "PATCH", "/vm", { state: "Paused" });
  const createStart = performance.now();
  await call(a, "PUT", "/snapshot/create", { snapshot_path: "vm.snap", mem_file_path: "vm.mem" });
  const createMs = performance.now() - createStart;
  await sleep(100);
  first.process.kill("SIGTERM");
  await first.finished();
  const memoryOnDisk = statSync(join(dir, "vm.mem")).blocks * 512;

  const b = join(dir, "b.sock");
  const second = spawn(["serve", "--api-sock", b]);
  await until(socketUp(b), "the second API socket");
  const loadStart = performance.now();
  await call(b, "PUT", "/snapshot/load", {
    snapshot_path: "vm.snap",
    mem_backend: { backend_type: "File", backend_path: "vm.mem" },
    resume_vm: true,
  });
  const loadMs = performance.now() - loadStart;
  const code = await second.finished();
  const all = first.output() + second.output();
  const problems: string[] = [];
  if (code !== 0) problems.push(`the restored VM exited with ${code}`);
  let from = 0;
  for (const line of EXPECTED) {
    const count = all.split(line).length - 1;
    if (count !== 1) problems.push(`"${line}" appears ${count} times`);
    const index = all.indexOf(line, from);
    if (index < 0) problems.push(`"${line}" is missing or out of order`);
    else from = index;
  }
  // The init ends each check's line with "(ok)" or "(WRONG)".
  for (const check of all.matchAll(/^AXVISOR-INIT: .*\(WRONG[^)]*\)/gm)) problems.push(`init check: ${check[0]}`);
  if (first.output().includes("Run /init")) problems.push(`the snapshot was taken after init started (at "${at}")`);
  if (problems.length > 0) {
    console.log(`AXVISOR-LINUX-SNAP: FAIL ${problems.join("; ")}`);
    process.exit(1);
  }
  console.log(
    `AXVISOR-LINUX-SNAP: PASS snapshot at "${at}" (create ${createMs.toFixed(0)} ms, ${(memoryOnDisk / 2 ** 20).toFixed(1)} MiB on disk), loaded and resumed in a new process in ${loadMs.toFixed(0)} ms, init finished there, exit 0`,
  );
} catch (error) {
  console.log(`AXVISOR-LINUX-SNAP: FAIL ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
