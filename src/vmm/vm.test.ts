import { describe, expect, test } from "bun:test";
import { FakeBackend } from "../../test/support/fake-backend.ts";
import { testVmConfig } from "../../test/support/vm-config.ts";
import type { MemoryRegionSpec } from "../addrspace/addr-space.ts";
import type { BusDevice } from "../devices/types.ts";
import type { AxVCpuExitReason, GuestPhysAddr } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import {
  type Board,
  type BoardExit,
  type BoardServices,
  type GenericExit,
  unexpectedBoardExit,
  type VcpuBoot,
} from "./board.ts";
import { assembleVm } from "./builder.ts";
import type { VmConfig } from "./config/types.ts";
import type { AxVM, VmResult } from "./vm.ts";
import { formatVmStats } from "./vm-stats.ts";

/** A device that answers every read with 0x81 bytes and records writes. */
class RecordingDevice implements BusDevice {
  readonly name = "recorder";
  readonly writes: Array<[number, number, number]> = [];
  readonly stats = { badAccesses: 0, reads: { 1: 0, 4: 0 } };
  read(offset: number, width: 1 | 2 | 4): number {
    if (width === 1 || width === 4) this.stats.reads[width]++;
    return width === 1 ? 0x81 : width === 2 ? 0x8281 : 0x8483_8281 + offset;
  }
  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.writes.push([offset, width, value]);
  }
}

class TestBoard implements Board {
  readonly name = "test-board";
  unmappedRead: "zeros" | "ones" = "zeros";
  readonly device = new RecordingDevice();
  readonly started: Array<[number, GuestPhysAddr, bigint]> = [];
  readonly hypercallResults: Array<bigint | undefined> = [];
  services: BoardServices | undefined;
  bootAll = false;
  vmOptions(config: VmConfig) {
    return { arch: config.arch, cpuCount: config.cpuNum };
  }
  memoryRegions(config: VmConfig): MemoryRegionSpec[] {
    return config.memoryRegions.map((r, i) => ({ name: `ram${i}`, ...r }));
  }
  attach(s: BoardServices): void {
    this.services = s;
    s.mmio.insert(0x1000_0000, 0x1000, this.device);
    s.port.insert(0x3f8, 8, this.device);
  }
  load(s: BoardServices): VcpuBoot[] {
    s.memory.write(0x8020_0000, Uint8Array.of(0x13, 0, 0, 0));
    return Array.from({ length: s.vcpuCount }, (_, id) => ({
      entry: 0x8020_0000,
      setup: {},
      startsRunning: this.bootAll || id === 0,
    }));
  }
  handleExit(_vcpuId: number, exit: BoardExit): GenericExit | undefined {
    if (exit.kind === "SbiCall" && exit.extensionId === 0x53525354n)
      return { kind: "SystemDown", action: "poweroff", code: Number(exit.args[1]) };
    return undefined;
  }
  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    vcpu.setEntry(entry);
    this.started.push([vcpu.id, entry, arg]);
  }
  completeHypercall(_vcpu: AxVCpu, result: bigint | undefined): void {
    this.hypercallResults.push(result);
  }
  stats(): Record<string, number> {
    return { hypercalls: this.hypercallResults.length };
  }
}

const poweroff = (code = 0): AxVCpuExitReason => ({ kind: "SystemDown", action: "poweroff", code });

function makeVm(
  exits: AxVCpuExitReason[],
  config: VmConfig = testVmConfig(),
  extra: Array<[number, AxVCpuExitReason[]]> = [],
) {
  const backend = new FakeBackend().script(config.id, 0, exits);
  for (const [vcpu, script] of extra) backend.script(config.id, vcpu, script);
  const machine = new TestBoard();
  const vm = assembleVm(config, {
    hypervisor: backend.open(),
    board: machine,
    console: { write: () => undefined, close: () => undefined },
  });
  return { vm, machine, backend };
}

describe("AxVM", () => {
  test("lifecycle: Loaded (built) → Running → Stopped, with the guest's exit code", async () => {
    const { vm, backend } = makeVm([{ kind: "Nothing" }, poweroff(3)]);
    expect(vm.status).toBe("Loaded");
    expect(vm.readFromGuest(0x8020_0000, 4)).toEqual(Uint8Array.of(0x13, 0, 0, 0));
    expect(backend.vms[0]?.slots.map((s) => s.gpa)).toEqual([0x8000_0000]);
    vm.boot();
    expect(vm.status).toBe("Running");
    const result = await vm.run();
    expect(result).toEqual({ vmId: 1, name: "test", reason: "poweroff", exitCode: 3 });
    expect(vm.status).toBe("Stopped");
    expect(backend.vms[0]?.disposed).toBe(true);
    expect(() => vm.boot()).toThrow("cannot boot: the VM is Stopped, expected Loaded");
  });

  test("MMIO and port reads go through the bus with the access width; writes reach the device", async () => {
    const { vm, machine, backend } = makeVm([
      { kind: "MmioRead", addr: 0x1000_0010, width: 4, reg: 10, regWidth: 8, signedExt: true },
      { kind: "MmioRead", addr: 0x1000_0000, width: 8, reg: 11, regWidth: 8, signedExt: false },
      { kind: "MmioWrite", addr: 0x1000_0004, width: 2, data: 0x1_beefn },
      { kind: "IoRead", port: 0x3f9, width: 1 },
      { kind: "IoWrite", port: 0x3f8, width: 1, data: 0x41n },
      poweroff(),
    ]);
    await vm.run();
    const vcpu = backend.vms[0]?.vcpus[0];
    expect(vcpu?.returnValues).toEqual([0x8483_8291n, 0x8483_8285_8483_8281n, 0x81n]);
    expect(machine.device.writes).toEqual([
      [4, 2, 0xbeef],
      [0, 1, 0x41],
    ]);
  });

  test("unmapped accesses follow the policy: MMIO reads 0, port reads all ones, counted, the VM goes on", async () => {
    const { vm, backend } = makeVm([
      { kind: "MmioRead", addr: 0x5000_0000, width: 4, reg: 10, regWidth: 8, signedExt: false },
      { kind: "MmioWrite", addr: 0x5000_0008, width: 8, data: 1n },
      { kind: "IoRead", port: 0x80, width: 2 },
      poweroff(0),
    ]);
    const result = await vm.run();
    expect(result.exitCode).toBe(0);
    expect(backend.vms[0]?.vcpus[0]?.returnValues).toEqual([0n, 0xffffn]);
    expect(vm.stats.unmappedMmioReads).toBe(1);
    expect(vm.stats.unmappedMmioWrites).toBe(1);
    expect(vm.stats.unmappedPortReads).toBe(1);
  });

  test("a machine with a floating bus (x86) reads all ones from unmapped MMIO", async () => {
    const backend = new FakeBackend().script(1, 0, [
      { kind: "MmioRead", addr: 0xfed0_0000, width: 4, reg: 10, regWidth: 8, signedExt: false },
      poweroff(0),
    ]);
    const machine = Object.assign(new TestBoard(), { unmappedRead: "ones" as const });
    const vm = assembleVm(testVmConfig(), {
      hypervisor: backend.open(),
      board: machine,
      console: { write: () => undefined, close: () => undefined },
    });
    await vm.run();
    expect(backend.vms[0]?.vcpus[0]?.returnValues).toEqual([0xffff_ffffn]);
  });

  test('unmapped_mmio = "fault" stops the VM with an error naming the address', async () => {
    const base = testVmConfig();
    const config = testVmConfig({ devices: { ...base.devices, unmappedMmio: "fault" } });
    const { vm } = makeVm([{ kind: "MmioWrite", addr: 0x5000_0008, width: 4, data: 1n }, poweroff(0)], config);
    const result = await vm.run();
    expect(result.reason).toBe("error");
    expect(result.exitCode).toBe(1);
    expect(result.error?.message).toContain("4-byte mmio write at 0x50000008 by vCPU 0 hits no device");
  });

  test("architecture exits go to the machine, which may turn them into generic ones", async () => {
    const { vm } = makeVm([
      { kind: "SbiCall", extensionId: 0x10n, functionId: 0n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
      { kind: "SbiCall", extensionId: 0x53525354n, functionId: 0n, args: [0n, 7n, 0n, 0n, 0n, 0n] },
    ]);
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 7 });
  });

  test("CpuUp starts a waiting vCPU at the entry with the argument; both run until SystemDown", async () => {
    const config = testVmConfig({ cpuNum: 2 });
    const { vm, machine, backend } = makeVm(
      [{ kind: "CpuUp", targetCpu: 1, entryPoint: 0x8030_0000, arg: 0x1234n }, { kind: "Halt" }, { kind: "Nothing" }],
      config,
      [[1, [{ kind: "Nothing" }, poweroff(0)]]],
    );
    const running = vm.run();
    const result = await running;
    expect(result.reason).toBe("poweroff");
    expect(machine.started).toEqual([[1, 0x8030_0000, 0x1234n]]);
    expect(backend.vms[0]?.vcpus[1]?.entry).toBe(0x8030_0000);
  });

  test("Halt waits for an interrupt: a timer callback that raises one ends the halt", async () => {
    const { vm, machine, backend } = makeVm([{ kind: "Halt" }, poweroff(0)]);
    const services = machine.services;
    if (services === undefined) throw new Error("not attached");
    const halVcpu = backend.vms[0]?.vcpus[0];
    const deadline = services.now() + 10_000; // 1 ms at 10 MHz
    let firedAt = -1;
    services.timers.add(deadline, () => {
      firedAt = services.now();
      halVcpu?.setInterruptLevel(5, true);
      services.wakeVcpu(0);
    });
    const result = await vm.run();
    expect(result.reason).toBe("poweroff");
    expect(firedAt).toBeGreaterThanOrEqual(deadline);
  });

  describe("a halted vCPU always has a wake-up source (issue 9, item 2)", () => {
    /** A VM whose vCPU 0 halts once and then powers off, on a clock the test drives. */
    function haltingVm(clock: () => number) {
      const backend = new FakeBackend().script(1, 0, [{ kind: "Halt" }, poweroff(0)]);
      backend.clock = clock;
      const board = new TestBoard();
      const vm = assembleVm(testVmConfig(), {
        hypervisor: backend.open(),
        board,
        console: { write: () => undefined, close: () => undefined },
      });
      const halVcpu = backend.vms[0]?.vcpus[0];
      if (halVcpu === undefined) throw new Error("no vCPU");
      return { vm, halVcpu, board };
    }

    /** `vm.run()`, or "hung" when it has not ended after `ms` (then the VM is stopped so nothing leaks). */
    async function runOrHang(vm: AxVM, ms = 2000): Promise<VmResult | "hung"> {
      const running = vm.run();
      const outcome = await Promise.race([running, Bun.sleep(ms).then(() => "hung" as const)]);
      if (outcome === "hung") {
        vm.shutdown();
        await running;
      }
      return outcome;
    }

    test("the clock passing the Sstc deadline right after the pending check still wakes the vCPU", async () => {
      // The interleaving of the bug, forced: the pending check sees the time just before the deadline, and the
      // time has reached it by the next clock read. A deadline judged "in the past" then used to be dropped and
      // the vCPU slept with no timer at all.
      const deadline = 1_000;
      let now = deadline - 1;
      const { vm, halVcpu } = haltingVm(() => now);
      halVcpu.timer = { deadline, now: () => now, enabled: true };
      const check = halVcpu.hasPendingInterrupt.bind(halVcpu);
      halVcpu.hasPendingInterrupt = () => {
        const pending = check();
        now = Math.max(now, deadline);
        return pending;
      };
      expect(await runOrHang(vm)).toMatchObject({ reason: "poweroff", exitCode: 0 });
    });

    test("wherever the clock crosses the deadline among the VMM's reads, the halt ends", async () => {
      // A clock that moves one tick per read: for each deadline below, the crossing falls between a different
      // pair of reads (the wheel's, the pending check's, the sleep's), covering every interleaving of one halt.
      for (let deadline = 1; deadline <= 24; deadline++) {
        let ticks = 0;
        const read = () => ticks++;
        const { vm, halVcpu } = haltingVm(read);
        halVcpu.timer = { deadline, now: read, enabled: true };
        const outcome = await runOrHang(vm);
        expect({ deadline, outcome }).toMatchObject({ deadline, outcome: { reason: "poweroff" } });
      }
    });

    test("a past deadline whose interrupt is disabled neither wakes nor spins; a later interrupt does", async () => {
      const { vm, halVcpu, board } = haltingVm(() => 100);
      halVcpu.timer = { deadline: 50, now: () => 100, enabled: false };
      const running = vm.run();
      await Bun.sleep(50);
      // One look when the halt starts (and perhaps one more); never a busy loop over a deadline that cannot fire.
      expect(halVcpu.pendingChecks).toBeLessThanOrEqual(3);
      halVcpu.setInterruptLevel(9, true);
      board.services?.wakeVcpu(0);
      expect(await running).toMatchObject({ reason: "poweroff", exitCode: 0 });
    });
  });

  test("a VM whose console pushes back runs no further until the console drains (issue 9, item 11)", async () => {
    const backend = new FakeBackend().script(1, 0, [{ kind: "Nothing" }, { kind: "Nothing" }, poweroff(0)]);
    let drain: (() => void) | undefined;
    let asked = 0;
    const vm = assembleVm(testVmConfig(), {
      hypervisor: backend.open(),
      board: new TestBoard(),
      console: {
        write: () => undefined,
        close: () => undefined,
        backpressure: () => {
          asked++;
          if (drain !== undefined || asked > 1) return undefined;
          return new Promise<void>((resolve) => {
            drain = resolve;
          });
        },
      },
    });
    const running = vm.run();
    await Bun.sleep(30);
    const vcpu = backend.vms[0]?.vcpus[0];
    // One run, then the wait: the other two exits are still to come.
    expect(vcpu?.exits).toHaveLength(2);
    drain?.();
    expect(await running).toMatchObject({ reason: "poweroff", exitCode: 0 });
  });

  test("a VM waiting for its console stops at once when shut down", async () => {
    const backend = new FakeBackend().script(1, 0, [{ kind: "Nothing" }, poweroff(0)]);
    const vm = assembleVm(testVmConfig(), {
      hypervisor: backend.open(),
      board: new TestBoard(),
      console: { write: () => undefined, close: () => undefined, backpressure: () => new Promise<void>(() => {}) },
    });
    const running = vm.run();
    await Bun.sleep(10);
    vm.shutdown();
    expect(await running).toMatchObject({ reason: "host-stop", exitCode: 130 });
  });

  test("hypercalls go to the registered handler and their result back to the guest", async () => {
    const { vm, machine } = makeVm([
      { kind: "Hypercall", nr: 3n, args: [1n, 2n, 3n, 4n, 5n, 6n] },
      { kind: "Hypercall", nr: 99n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
      poweroff(0),
    ]);
    const seen: Array<[bigint, readonly bigint[]]> = [];
    vm.onHypercall((_vcpu, nr, args) => {
      seen.push([nr, args]);
      return nr === 3n ? 21n : undefined;
    });
    await vm.run();
    expect(seen).toEqual([
      [3n, [1n, 2n, 3n, 4n, 5n, 6n]],
      [99n, [0n, 0n, 0n, 0n, 0n, 0n]],
    ]);
    expect(machine.hypercallResults).toEqual([21n, undefined]);
  });

  test('a guest reset reboots, or stops with 0 when on_reset = "stop"', async () => {
    const reboot: AxVCpuExitReason = { kind: "SystemDown", action: "reboot", code: 0 };
    const rebooting = makeVm([reboot]);
    expect(await rebooting.vm.run()).toMatchObject({ reason: "reboot", exitCode: 0 });
    const stopping = makeVm([reboot], testVmConfig({ onReset: "stop" }));
    expect(await stopping.vm.run()).toMatchObject({ reason: "poweroff", exitCode: 0 });
  });

  test("hypercall 1 is the VMM's own exit(status), whatever handler is registered", async () => {
    const { vm } = makeVm([{ kind: "Hypercall", nr: 1n, args: [0x105n, 0n, 0n, 0n, 0n, 0n] }, poweroff(0)]);
    vm.onHypercall(() => 0n);
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 5 });
  });

  test("FailEntry, Unsupported and backend failures stop only that VM with an error", async () => {
    const failing = makeVm([
      { kind: "FailEntry", hardwareEntryFailureReason: 0x80000021n, detail: "invalid guest state" },
    ]);
    const result = await failing.vm.run();
    expect(result).toMatchObject({ reason: "error", exitCode: 1 });
    expect(result.error?.message).toContain("failed to enter the guest: invalid guest state (reason 0x80000021)");

    const broken = makeVm([]);
    const vcpu = broken.backend.vms[0]?.vcpus[0];
    if (vcpu !== undefined) vcpu.failNextRun = new Error("backend exploded");
    const brokenResult = await broken.vm.run();
    expect(brokenResult.error?.message).toContain("vCPU 0 failed: backend exploded");
  });

  test("shutdown from the host stops a guest that never exits by itself", async () => {
    const { vm } = makeVm(Array.from({ length: 1000 }, () => ({ kind: "Nothing" }) as const));
    const running = vm.run();
    setTimeout(() => vm.shutdown(), 5);
    expect(await running).toMatchObject({ reason: "host-stop", exitCode: 130 });
  });

  test("running a stopped VM again reports its first result and releases nothing twice", async () => {
    let closes = 0;
    const backend = new FakeBackend().script(1, 0, [poweroff(4)]);
    const vm = assembleVm(testVmConfig(), {
      hypervisor: backend.open(),
      board: new TestBoard(),
      console: { write: () => undefined, close: () => closes++ },
    });
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 4 });
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 4 });
    expect(closes).toBe(1);
  });

  test("exits the board's architecture never makes stop the VM with an error naming the vCPU", async () => {
    const { vm, machine } = makeVm([
      { kind: "SbiCall", extensionId: 0x10n, functionId: 0n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
    ]);
    machine.handleExit = (vcpuId, exit) => {
      throw unexpectedBoardExit(machine.name, vcpuId, exit);
    };
    const result = await vm.run();
    expect(result).toMatchObject({ reason: "error", exitCode: 1 });
    expect(result.error?.message).toBe(
      "vm 1 (test): vCPU 0 failed: board test-board: vCPU 0 made a SbiCall exit, which this board's architecture never produces",
    );
    expect(result.error?.kind).toBe("backend");
  });

  test("the --trace-exits summary: exits by kind, bus accesses, board and device counters", async () => {
    const backend = new FakeBackend().script(1, 0, [
      { kind: "MmioRead", addr: 0x1000_0000, width: 4, reg: 10, regWidth: 8, signedExt: false },
      { kind: "MmioRead", addr: 0x1000_0fff, width: 4, reg: 10, regWidth: 8, signedExt: false },
      { kind: "IoWrite", port: 0x80, width: 1, data: 0n },
      { kind: "Hypercall", nr: 7n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
      poweroff(0),
    ]);
    const traced: string[] = [];
    const vm = assembleVm(testVmConfig(), {
      hypervisor: backend.open(),
      board: new TestBoard(),
      console: { write: () => undefined, close: () => undefined },
      traceExits: (line) => traced.push(line),
    });
    await vm.run();
    expect(traced).toHaveLength(5);
    expect(vm.stats).toMatchObject({
      exits: { MmioRead: 2, IoWrite: 1, Hypercall: 1, SystemDown: 1 },
      unmappedPortWrites: 1,
      badDeviceAccesses: 1,
      board: { hypercalls: 1 },
    });
    expect(formatVmStats(vm.label, vm.board.name, vm.stats)).toEqual([
      "[vm 1 (test)] exits: MmioRead 2, IoWrite 1, Hypercall 1, SystemDown 1",
      "[vm 1 (test)] mmio bus: 2 reads, 0 writes; unmapped: 0 reads, 0 writes; bad accesses: 1",
      "[vm 1 (test)] port bus: 0 reads, 1 writes; unmapped: 0 reads, 1 writes; bad accesses: 0",
      "[vm 1 (test)] board test-board: hypercalls 1",
      "[vm 1 (test)] recorder at mmio 0x10000000: reads.4 1",
    ]);
  });
});
