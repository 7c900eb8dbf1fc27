/**
 * Pause and snapshot/restore of arm64 guests on KVM, with the counter guest (test/guests/arm64/counter.S: it counts
 * on the virtual timer's interrupt through the in-kernel GICv3 and prints "counter-jump" when its counter moved by
 * more than 2 s between two ticks). A pause freezes the guest's counter; a snapshot restored into a VM built afresh
 * (vCPU registers, MP state, vGIC, timer, memory, devices) goes on from the next count without a jump, also with a
 * second vCPU that stays powered off. They need /dev/kvm of an arm64 host; elsewhere they skip with the reason
 * (scripts/e2e/30-kvm-arm64-linux.sh runs this file inside a nested arm64 guest whose KVM is real).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kvmBackend } from "../src/hal/kvm/index.ts";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { createSnapshot, readSnapshot } from "../src/vmm/snapshot/snapshot.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { countsIn, countsUpTo, sleep, until } from "./support/counter-guest.ts";
import { describeIf } from "./support/skip.ts";

const GUESTS = join(import.meta.dir, "guests", "arm64");
/** counter.S's COUNT_LAST. */
const LAST = 200;
/** Long enough that a counter running on while paused trips the guest's 2 s jump check. */
const PAUSE_MS = 3000;

function counterConfig(cpus: number) {
  return parseVmConfig(
    `
[base]
id = 1
name = "arm64-counter"
cpu_num = ${cpus}
arch = "aarch64"
backend = "kvm"
[kernel]
kernel_path = "counter.bin"
kernel_load_addr = 0x4000_0000
memory_regions = [[0x4000_0000, 0x100_0000, 0x7, 0]]
[devices]
console = "stdout"
`,
    { baseDir: GUESTS, sourceName: "counter.toml" },
  );
}

function capture(): { vmm: Vmm; output: () => string } {
  let output = "";
  const decoder = new TextDecoder();
  const vmm = new Vmm({
    logLevel: "error",
    console: { writer: (bytes) => (output += decoder.decode(bytes, { stream: true })) },
  });
  return { vmm, output: () => output };
}

const kvm = kvmBackend.hasHardwareSupport();
const arm64Kvm = {
  available: kvm.available && kvm.archs.includes("aarch64"),
  reason: kvm.available ? `this KVM runs ${kvm.archs.join(", ")} guests, not aarch64` : kvm.reason,
};

describeIf(arm64Kvm, "arm64 pause and snapshots on KVM")("arm64 pause and snapshots on KVM", () => {
  test("a pause freezes the guest's counter: no jump across 3 s paused, every count once", async () => {
    const first = capture();
    const run = first.vmm.launch(counterConfig(1));
    await until(() => countsIn(first.output()).length >= 10, "10 counts", 300_000);
    const vm = first.vmm.vm(1);
    if (vm === undefined) throw new Error("the VM is not running");
    await vm.pause();
    await sleep(PAUSE_MS);
    await vm.resume();
    const result = await run;
    expect(first.output()).not.toContain("counter-jump");
    expect(countsIn(first.output())).toEqual(countsUpTo(LAST));
    expect(result.exitCode).toBe(0);
  }, 600_000);

  for (const cpus of [1, 2]) {
    test(`a snapshot restored into a new VM (${cpus} vCPU${cpus > 1 ? "s, the second powered off" : ""}) continues with the next count, no jump`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "axvisor-arm64-snap-"));
      try {
        const statePath = join(dir, "vm.snap");
        const memoryPath = join(dir, "vm.mem");
        const first = capture();
        const firstRun = first.vmm.launch(counterConfig(cpus));
        await until(() => countsIn(first.output()).length >= 20, "20 counts", 300_000);
        const vm = first.vmm.vm(1);
        if (vm === undefined) throw new Error("the VM is not running");
        await vm.pause();
        createSnapshot(vm, { statePath, memoryPath });
        const before = first.output();
        vm.shutdown();
        await firstRun;
        await sleep(PAUSE_MS);

        const second = capture();
        const file = readSnapshot(statePath);
        const restored = second.vmm.launch(file.config, {
          restore: { file, memoryPath },
          onBuilt: (restoredVm) => void restoredVm.resume(),
        });
        const result = await restored;
        // A pause can fall inside a line: the output goes on byte for byte, so both are read as one.
        const all = before + second.output();
        expect(all).not.toContain("counter-jump");
        expect(all).not.toContain("unexpected");
        expect(countsIn(all)).toEqual(countsUpTo(LAST));
        expect(countsIn(second.output()).length).toBeGreaterThan(0);
        expect(result.exitCode).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
