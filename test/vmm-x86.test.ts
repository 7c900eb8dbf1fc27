/**
 * x86_64 guests through the whole VMM on the KVM backend (config → X86PcBoard → KVM vCPUs on worker threads →
 * port I/O exits → COM1 → console). Skips with the reason when this host has no usable /dev/kvm.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { kvmBackend } from "../src/hal/kvm/index.ts";
import { X86PcBoard } from "../src/vmm/boards/x86-pc/board.ts";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { describeIf } from "./support/skip.ts";
import { testVmConfig } from "./support/vm-config.ts";

const configs = join(import.meta.dir, "..", "configs");

function helloConfig(id: number, name: string) {
  const text = `
[base]
id = ${id}
name = "${name}"
cpu_num = 1
arch = "x86_64"
backend = "kvm"
[kernel]
kernel_path = "../test/guests/x86/serial-hello.bin"
kernel_load_addr = 0x8000
memory_regions = [[0x0, 0x20_0000, 0x7, 0]]
[devices]
console = "stdout"
`;
  return parseVmConfig(text, { baseDir: configs, sourceName: `${name}.toml` });
}

async function run(configList: ReturnType<typeof helloConfig>[]) {
  let output = "";
  const vmm = new Vmm({
    logLevel: "error",
    console: { writer: (bytes) => (output += new TextDecoder().decode(bytes)) },
  });
  for (const config of configList) vmm.addVm(config);
  const result = await vmm.run();
  return { output, result };
}

const kvm = kvmBackend.hasHardwareSupport();
describeIf({ available: kvm.available, reason: kvm.reason }, "x86 guests through the VMM on KVM")(
  "x86 guests through the VMM on KVM",
  () => {
    test("serial hello: COM1 output on the console, exit(0) through hypercall 1", async () => {
      const { output, result } = await run([helloConfig(1, "x86-hello")]);
      expect(output).toBe("Hello from the x86 guest\n");
      expect(result.exitCode).toBe(0);
      expect(result.vms[0]?.backend).toBe("kvm");
    });

    test("two x86 VMs in one process both finish, with prefixed output", async () => {
      const { output, result } = await run([helloConfig(1, "one"), helloConfig(2, "two")]);
      expect(result.exitCode).toBe(0);
      expect(output).toContain("[one] Hello from the x86 guest\n");
      expect(output).toContain("[two] Hello from the x86 guest\n");
    });
  },
);

describe("x86 PC machine", () => {
  test("RAM may not overlap the MMIO hole or KVM's private pages", () => {
    const machine = new X86PcBoard();
    const base = testVmConfig({ arch: "x86_64" });
    expect(() =>
      machine.memoryRegions({ ...base, memoryRegions: [{ gpa: 0, size: 0xd000_0000, flags: 7, mapType: "alloc" }] }),
    ).toThrow("kernel.memory_regions[0] (0x0..0xcfffffff) overlaps the MMIO hole (0xc0000000..0xffffffff)");
    expect(
      machine.memoryRegions({ ...base, memoryRegions: [{ gpa: 0, size: 0x1000_0000, flags: 7, mapType: "alloc" }] }),
    ).toEqual([{ name: "ram0", gpa: 0, size: 0x1000_0000, flags: 7, mapType: "alloc" }]);
  });
});
