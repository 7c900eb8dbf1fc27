import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeBackend } from "../../test/support/fake-backend.ts";
import { testVmConfig } from "../../test/support/vm-config.ts";
import type { MemoryRegionSpec } from "../addrspace/addr-space.ts";
import type { HalBackend } from "../hal/types.ts";
import type { Board, BoardExit, BoardServices, GenericExit, VcpuBoot } from "./board.ts";
import { assembleVm, buildVm } from "./builder.ts";
import type { VmConfig } from "./config/types.ts";

/** A board that records what the builder asked of it, in order. */
class RecordingBoard implements Board {
  readonly name = "recording-board";
  readonly unmappedRead = "zeros";
  readonly calls: string[] = [];
  failIn: "attach" | "load" | undefined;
  closes = 0;
  vmOptions(config: VmConfig) {
    this.calls.push("vmOptions");
    return { arch: config.arch, cpuCount: config.cpuNum };
  }
  memoryRegions(config: VmConfig): MemoryRegionSpec[] {
    this.calls.push("memoryRegions");
    return config.memoryRegions.map((r, i) => ({ name: `ram${i}`, ...r }));
  }
  attach(s: BoardServices): void {
    this.calls.push(`attach ${s.vcpuCount} vCPUs`);
    if (this.failIn === "attach") throw new Error("no room for the UART");
  }
  load(s: BoardServices): VcpuBoot[] {
    this.calls.push("load");
    if (this.failIn === "load") throw new Error("kernel image is empty");
    return Array.from({ length: s.vcpuCount }, (_, id) => ({
      entry: 0x8020_0000 + id * 0x1000,
      setup: { gprs: [[10, BigInt(id)]] },
      startsRunning: id === 0,
    }));
  }
  handleExit(_vcpuId: number, _exit: BoardExit): GenericExit | undefined {
    return undefined;
  }
  startVcpu(): void {}
  completeHypercall(): void {}
  close(): void {
    this.closes++;
  }
}

const dir = mkdtempSync(join(tmpdir(), "axvisor-builder-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("assembleVm", () => {
  test("asks the board in order, and sets every vCPU up with its entry and boot registers", () => {
    const backend = new FakeBackend();
    const board = new RecordingBoard();
    const vm = assembleVm(testVmConfig({ cpuNum: 2 }), {
      hypervisor: backend.open(),
      board,
      console: { write: () => undefined, close: () => undefined },
    });
    expect(vm.status).toBe("Loaded");
    expect(board.calls).toEqual(["vmOptions", "memoryRegions", "attach 2 vCPUs", "load"]);
    const vcpus = backend.vms[0]?.vcpus ?? [];
    expect(vcpus.map((v) => v.entry)).toEqual([0x8020_0000, 0x8020_1000]);
    expect(vcpus[1]?.setups[0]?.gprs).toEqual([[10, 1n]]);
    // A memory-slot backend has no nested page table to hand over.
    expect(vcpus[0]?.setups[0]?.stage2).toBeUndefined();
  });

  test("failures name the VM and release what was made: board, backend VM, console", () => {
    const config = testVmConfig({ memoryRegions: [{ gpa: 0x8000_0000, size: 0x1234, flags: 7, mapType: "alloc" }] });
    let closes = 0;
    const backend = new FakeBackend();
    const board = new RecordingBoard();
    const assemble = () =>
      assembleVm(config, {
        hypervisor: backend.open(),
        board,
        console: { write: () => undefined, close: () => closes++ },
      });
    expect(assemble).toThrow(
      'vm 1 (test): cannot initialise: Cannot map region "ram0" 0x80000000..0x80001233: start and size must be 4 KiB aligned',
    );
    expect(backend.vms[0]?.disposed).toBe(true);
    expect(board.closes).toBe(1);
    expect(closes).toBe(1);
  });

  test("a board failing to attach or load leaves nothing open", () => {
    for (const failIn of ["attach", "load"] as const) {
      const backend = new FakeBackend();
      const board = Object.assign(new RecordingBoard(), { failIn });
      let closes = 0;
      expect(() =>
        assembleVm(testVmConfig(), {
          hypervisor: backend.open(),
          board,
          console: { write: () => undefined, close: () => closes++ },
        }),
      ).toThrow(/^vm 1 \(test\): cannot initialise: (no room for the UART|kernel image is empty)$/);
      expect(backend.vms[0]?.disposed).toBe(true);
      expect([board.closes, closes]).toEqual([1, 1]);
    }
  });
});

describe("buildVm", () => {
  test("chooses the backend and the config's board, and opens the hypervisor through the VMM", async () => {
    const kernel = join(dir, "kernel.bin");
    writeFileSync(kernel, Uint8Array.of(0x73, 0x00, 0x10, 0x00)); // ebreak; the fake vCPUs never run it
    const backend = new FakeBackend();
    const opened: string[] = [];
    const vm = await buildVm(testVmConfig({ kernelPath: kernel }), {
      backends: [backend],
      hypervisorFor: (chosen: HalBackend) => {
        opened.push(chosen.name);
        return chosen.open();
      },
    });
    expect(opened).toEqual(["emulated"]);
    expect(vm.board.name).toBe("riscv-virt-hypervisor");
    expect(vm.backend).toBe("emulated");
    expect(vm.readFromGuest(0x8020_0000, 4)).toEqual(Uint8Array.of(0x73, 0x00, 0x10, 0x00));
    expect(vm.buses.mmio.entries().length).toBeGreaterThan(0);
    vm.shutdown();
    expect(await vm.run()).toMatchObject({ reason: "host-stop" });
    expect(backend.vms[0]?.disposed).toBe(true);
  });

  test("config emu_devices reach the board: a virtio-rng where the entry puts it", async () => {
    const kernel = join(dir, "rng-kernel.bin");
    writeFileSync(kernel, new Uint8Array(4));
    const base = testVmConfig({ kernelPath: kernel });
    const rng = { name: "rng", baseGpa: 0x1000_8000, length: 0x1000, irqId: 8, cfgList: [] };
    const config = testVmConfig({
      kernelPath: kernel,
      devices: { ...base.devices, emuDevices: [{ ...rng, emuType: "virtio-rng" }] },
    });
    const vm = await buildVm(config, { backends: [new FakeBackend()], hypervisorFor: (b) => b.open() });
    expect(vm.buses.mmio.lookup(0x1000_8000)?.device.name).toBe("virtio-rng");
    vm.shutdown();
    await vm.run();
  });

  test("a config no backend can run fails with the VM's name before anything is opened", async () => {
    const opened: string[] = [];
    const build = buildVm(testVmConfig({ arch: "aarch64" }), {
      backends: [new FakeBackend()],
      hypervisorFor: (chosen) => {
        opened.push(chosen.name);
        return chosen.open();
      },
    });
    await expect(build).rejects.toThrow("vm 1 (test): no backend can run a aarch64 guest here");
    expect(opened).toEqual([]);
  });
});
