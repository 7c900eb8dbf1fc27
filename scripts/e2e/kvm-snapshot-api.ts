/**
 * The control-API acceptance sequence on the KVM backend (run inside the nested KVM guests by
 * scripts/e2e/60-kvm-snapshot.sh and, with the argument `aarch64`, 30-kvm-arm64-linux.sh): the counter guest
 * (test/guests/x86/counter.bin, or test/guests/arm64/counter.bin with 2 vCPUs, which must not report a jump of
 * its counter) is started by
 * `axvisor run --api-sock A counter.toml`, paused, snapshotted and stopped through the socket only; a new process,
 * `axvisor serve --api-sock B`, loads the snapshot and is resumed through its socket; the guest's output must go on
 * from the next byte to the end (read together: 1..200, no gap, no repeat) and the VM exit with 0.
 *
 * Prints "AXVISOR-SNAP-API: PASS ..." or "AXVISOR-SNAP-API: FAIL <why>"; exit status 0 only on PASS.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { callApi, sleep, socketUp, spawnAxvisor, until as untilWithin } from "../../test/support/api-driver.ts";

const ROOT = resolve(import.meta.dir, "../..");
const LAST = 200;
/** The guest's architecture: x86_64 (default; scripts/e2e/60-kvm-snapshot.sh) or aarch64 (30-kvm-arm64-linux.sh). */
const ARCH = process.argv[2] ?? "x86_64";
if (ARCH !== "x86_64" && ARCH !== "aarch64") {
  console.log(`AXVISOR-SNAP-API: FAIL unknown architecture "${ARCH}" (x86_64 or aarch64)`);
  process.exit(2);
}
/** test/guests/x86/counter.S: real mode, counts with a busy loop. */
const X86_CONFIG = `[base]
id = 1
name = "x86-counter"
cpu_num = 1
arch = "x86_64"
backend = "kvm"
[kernel]
kernel_path = "${join(ROOT, "test/guests/x86/counter.bin")}"
kernel_load_addr = 0x8000
memory_regions = [[0x0, 0x1000_0000, 0x7, 0]]
[devices]
console = "stdout"
`;
/** test/guests/arm64/counter.S: counts on the virtual timer through the vGIC, says when its counter jumped. */
const ARM64_CONFIG = `[base]
id = 1
name = "arm64-counter"
cpu_num = 2
arch = "aarch64"
backend = "kvm"
[kernel]
kernel_path = "${join(ROOT, "test/guests/arm64/counter.bin")}"
kernel_load_addr = 0x4000_0000
memory_regions = [[0x4000_0000, 0x1000_0000, 0x7, 0]]
[devices]
console = "stdout"
`;
const dir = mkdtempSync(join(tmpdir(), "axvisor-snap-api-"));

const counts = (text: string): number[] => [...text.matchAll(/^counter: (\d+)$/gm)].map((m) => Number(m[1]));
const spawn = (args: string[]) => spawnAxvisor(args, dir);
const until = (condition: () => boolean | Promise<boolean>, what: string) => untilWithin(condition, what, 300_000, 20);
const call = callApi;

try {
  const config = join(dir, "counter.toml");
  writeFileSync(config, ARCH === "aarch64" ? ARM64_CONFIG : X86_CONFIG);
  const a = join(dir, "a.sock");
  const first = spawn(["run", "--api-sock", a, config]);
  await until(socketUp(a), "the first API socket");
  await until(() => counts(first.output()).length >= 20, "20 counts");
  await call(a, "PATCH", "/vm", { state: "Paused" });
  await call(a, "PUT", "/snapshot/create", { snapshot_path: "vm.snap", mem_file_path: "vm.mem" });
  await sleep(200);
  const before = counts(first.output());
  first.process.kill("SIGTERM");
  await first.finished();

  const b = join(dir, "b.sock");
  const second = spawn(["serve", "--api-sock", b]);
  await until(socketUp(b), "the second API socket");
  await call(b, "PUT", "/snapshot/load", {
    snapshot_path: "vm.snap",
    mem_backend: { backend_type: "File", backend_path: "vm.mem" },
  });
  await call(b, "PATCH", "/vm", { state: "Resumed" });
  const code = await second.finished();
  // A pause can fall inside a line ("counter: " printed, the digits not yet): the output continues byte for byte, so
  // the two processes' outputs are read as one.
  const all = counts(first.output() + second.output());
  const expected = Array.from({ length: LAST }, (_, i) => i + 1);
  const same = all.length === expected.length && all.every((n, i) => n === expected[i]);
  const jumped = (first.output() + second.output()).includes("counter-jump");
  if (!same || code !== 0 || jumped) {
    console.log(
      `AXVISOR-SNAP-API: FAIL exit ${code}${jumped ? ", the guest's counter jumped" : ""}; counts before ${before.at(0)}..${before.at(-1)} (${before.length}), after the restore ${JSON.stringify(counts(second.output()).slice(0, 5))}... (${all.length - before.length})`,
    );
    process.exit(1);
  }
  console.log(
    `AXVISOR-SNAP-API: PASS ${before.length} counts before the snapshot, ${all.length - before.length} after the restore in a new process, exit 0`,
  );
} catch (error) {
  console.log(`AXVISOR-SNAP-API: FAIL ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
