/**
 * KVM x86 snapshots (src/hal/kvm/x86_64/state.ts) on real KVM: an x86 VM booted and paused before its first
 * instruction is saved (every vCPU and VM ioctl of the format), loaded into a VM built afresh in another Vmm, and
 * resumed: the guest prints its greeting and exits 0 there. Skips with the reason without a usable /dev/kvm (run by
 * the nested KVM e2e guest).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kvmBackend } from "../../src/hal/kvm/index.ts";
import { parseVmConfig } from "../../src/vmm/config/index.ts";
import { createSnapshot, readSnapshot } from "../../src/vmm/snapshot/snapshot.ts";
import { Vmm } from "../../src/vmm/vmm.ts";
import { describeIf } from "../support/skip.ts";

const configs = join(import.meta.dir, "../..", "configs");

const helloConfig = () =>
  parseVmConfig(
    `
[base]
id = 1
name = "x86-hello"
cpu_num = 1
arch = "x86_64"
backend = "kvm"
[kernel]
kernel_path = "../test/guests/x86/serial-hello.bin"
kernel_load_addr = 0x8000
memory_regions = [[0x0, 0x20_0000, 0x7, 0]]
[devices]
console = "stdout"
`,
    { baseDir: configs, sourceName: "x86-hello.toml" },
  );

const kvm = kvmBackend.hasHardwareSupport();
const x86 = kvm.available && kvm.archs.includes("x86_64");
describeIf({ available: x86, reason: x86 ? "" : `no x86_64 KVM here: ${kvm.reason}` }, "KVM x86 snapshots")(
  "KVM x86 snapshots",
  () => {
    test("a saved x86 VM restored into a new VM runs to its greeting and exit 0", async () => {
      const dir = mkdtempSync(join(tmpdir(), "axvisor-kvm-snap-"));
      try {
        const first = new Vmm({ logLevel: "error", console: { writer: () => undefined } });
        let saved: ReturnType<typeof createSnapshot> | undefined;
        const statePath = join(dir, "vm.snap");
        const memoryPath = join(dir, "vm.mem");
        await first.launch(helloConfig(), {
          onBuilt: (vm) => {
            vm.boot();
            void vm.pause().then(() => {
              saved = createSnapshot(vm, { statePath, memoryPath });
              vm.shutdown();
            });
          },
        });
        expect(saved?.memoryFileSize).toBe(0x20_0000);
        let output = "";
        const second = new Vmm({
          logLevel: "error",
          console: { writer: (bytes) => (output += new TextDecoder().decode(bytes)) },
        });
        const file = readSnapshot(statePath);
        expect(file.state.vcpus[0]?.hal.format).toBe("x86_64-kvm-vcpu/1");
        expect(file.state.hal?.format).toBe("x86_64-kvm-vm/1");
        const result = await second.launch(file.config, {
          restore: { file, memoryPath },
          onBuilt: (vm) => void vm.resume(),
        });
        expect(output).toBe("Hello from the x86 guest\n");
        expect(result.exitCode).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
