/**
 * The control-API acceptance sequence on the KVM backend (run inside the nested KVM guests by
 * scripts/e2e/60-kvm-snapshot.sh and, with the argument `aarch64`, 30-kvm-arm64-linux.sh): the counter guest
 * (test/guests/x86/counter.bin, or test/guests/arm64/counter.bin with 2 vCPUs, which must not report a jump of
 * its counter) is configured and started through the socket of `axvisor serve --api-sock A` (machine-config,
 * boot-source, InstanceStart: no config file), paused, snapshotted and stopped through it; a new process,
 * `axvisor serve --api-sock B`, loads the snapshot and is resumed through its socket; the guest's output must go on
 * from the next byte to the end (read together: 1..200, no gap, no repeat) and the VM exit with 0.
 *
 * Prints "AXVISOR-SNAP-API: PASS ..." or "AXVISOR-SNAP-API: FAIL <why>"; exit status 0 only on PASS.
 */
import { mkdtempSync } from "node:fs";
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
/**
 * The VM as an API client describes it (PUT /machine-config, PUT /boot-source): no config file anywhere. The x86
 * counter is a flat real-mode binary, so it needs the architecture and its load address; the arm64 one loads at
 * the start of RAM, the board's convention.
 */
const MACHINE =
  ARCH === "aarch64"
    ? { vcpu_count: 2, mem_size_mib: 256, arch: "aarch64", backend: "kvm" }
    : { vcpu_count: 1, mem_size_mib: 256, arch: "x86_64", backend: "kvm" };
const BOOT =
  ARCH === "aarch64"
    ? { kernel_image_path: join(ROOT, "test/guests/arm64/counter.bin") }
    : { kernel_image_path: join(ROOT, "test/guests/x86/counter.bin"), load_addr: 0x8000 };
const dir = mkdtempSync(join(tmpdir(), "axvisor-snap-api-"));

const counts = (text: string): number[] => [...text.matchAll(/^counter: (\d+)$/gm)].map((m) => Number(m[1]));
const spawn = (args: string[]) => spawnAxvisor(args, dir);
const until = (condition: () => boolean | Promise<boolean>, what: string) => untilWithin(condition, what, 300_000, 20);
const call = callApi;

try {
  const a = join(dir, "a.sock");
  const first = spawn(["serve", "--api-sock", a]);
  await until(socketUp(a), "the first API socket");
  await call(a, "PUT", "/machine-config", MACHINE);
  await call(a, "PUT", "/boot-source", BOOT);
  await call(a, "PUT", "/actions", { action_type: "InstanceStart" });
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
