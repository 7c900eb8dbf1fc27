/**
 * Vmm.requestShutdown (what Ctrl-A R calls) on a running x86 VM of the scripted fake backend: the board's answer
 * comes back, and the guest sees it (Ctrl-Alt-Del in its keyboard controller); a VM that is not running, or whose
 * board has no shutdown control, gets nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { I8042_STR_OBF } from "../src/devices/i8042.ts";
import { I8042_PORT } from "../src/vmm/boards/x86-pc/layout.ts";
import type { VmConfig } from "../src/vmm/config/types.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { FakeBackend } from "./support/fake-backend.ts";
import { testVmConfig } from "./support/vm-config.ts";

const dir = mkdtempSync(join(tmpdir(), "vmm-shutdown-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kernel = join(dir, "flat.bin");
writeFileSync(kernel, Uint8Array.of(0xf4));

function config(arch: "x86_64" | "riscv64"): VmConfig {
  const base = testVmConfig({ arch, kernelPath: kernel });
  return arch === "riscv64"
    ? base
    : {
        ...base,
        kernel: {
          ...base.kernel,
          entryPoint: 0x8000,
          image: { path: kernel, format: "raw", loadAddr: 0x8000, size: 1 },
        },
        memoryRegions: [{ gpa: 0, size: 0x20_0000, flags: 7, mapType: "alloc" }],
      };
}

const hypercall = { kind: "Hypercall", nr: 0x100n, args: [0n, 0n, 0n, 0n, 0n, 0n] } as const;

async function runWithRequest(arch: "x86_64" | "riscv64") {
  const backend = new FakeBackend().script(1, 0, [hypercall, { kind: "SystemDown", action: "poweroff", code: 0 }]);
  const vmm = new Vmm({ logLevel: "silent", backends: [backend] });
  vmm.addVm(config(arch));
  const before = vmm.requestShutdown(1);
  let during: string | undefined;
  let keyboardBytes = 0;
  vmm.onHypercall((vm) => {
    during = vmm.requestShutdown(1);
    // Drain the keyboard controller's output buffer (a RISC-V VM has no port bus devices: the read is unmapped).
    for (;;) {
      const status = vm.buses.port.read(I8042_PORT + 4, 1);
      if (status.kind !== "ok" || (Number(status.value) & I8042_STR_OBF) === 0) break;
      vm.buses.port.read(I8042_PORT, 1);
      keyboardBytes++;
    }
    return 0n;
  });
  const result = await vmm.run();
  return { before, during, keyboardBytes, result };
}

test("Ctrl-A R's request reaches a running x86 guest as Ctrl-Alt-Del; not before the VM runs", async () => {
  const { before, during, keyboardBytes, result } = await runWithRequest("x86_64");
  expect(before).toBeUndefined();
  expect(during).toBe("Ctrl-Alt-Del on the keyboard");
  expect(keyboardBytes).toBe(11); // set 2: three makes (one extended), three breaks
  expect(result.exitCode).toBe(0);
});

test("a RISC-V VM has no shutdown control: nothing is sent", async () => {
  const { during } = await runWithRequest("riscv64");
  expect(during).toBeUndefined();
});
