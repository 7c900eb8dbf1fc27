/**
 * KVM's fast paths (src/hal/kvm/event-channels.ts, vcpu.ts `useCallerThread`): a QueueNotify-style MMIO write
 * registered with KVM_IOEVENTFD completes in the kernel (no exit) and reaches its callback on this thread; a vCPU
 * that runs on the calling thread is brought back by the run kicker while the guest spins, and keeps giving the same
 * exits as before.
 */
import { expect, test } from "bun:test";
import type { AxVCpuExitReason } from "../../src/hal/types.ts";
import { setupLongModeBoot } from "../../src/vmm/boards/x86-pc/boot-cpu.ts";
import { describeIf } from "../support/skip.ts";
import {
  createTestVm,
  guestImage,
  HC_DONE,
  isHypercall,
  kvmRequirement,
  LONG_MODE_LOAD,
  REAL_MODE_LOAD,
  runUntil,
  setupX86,
  TEST_MMIO,
} from "./harness.ts";

/** mmio.S writes 0x44556677 (4 bytes) at TEST_MMIO + 4 among its other accesses. */
const WATCHED_ADDR = TEST_MMIO + 4;
const WATCHED_VALUE = 0x4455_6677;

async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await Bun.sleep(10);
  if (!condition()) throw new Error(`${what} did not happen within 5 s`);
}

function mmioWrites(exits: readonly AxVCpuExitReason[]): number[] {
  return exits.flatMap((exit) => (exit.kind === "MmioWrite" ? [exit.addr] : []));
}

describeIf(kvmRequirement(), "kvm fast exits")("KVM ioeventfd and caller-thread runs", () => {
  for (const callerThread of [false, true]) {
    test(`a watched MMIO write does not exit and calls back on this thread (${callerThread ? "caller-thread run" : "plain run"})`, async () => {
      using t = createTestVm();
      const channels = t.vm.eventChannels;
      if (channels === undefined) throw new Error("this KVM has no ioeventfd/irqfd (KVM_CAP_IOEVENTFD, KVM_CAP_IRQFD)");
      let notified = 0;
      channels.watchMmioWrite(WATCHED_ADDR, 4, WATCHED_VALUE, () => notified++);
      // Another value at the same address is not this channel's: it would still exit (mmio.S writes none).
      channels.watchMmioWrite(WATCHED_ADDR, 4, 0x1234, () => {
        throw new Error("the 0x1234 channel fired");
      });
      t.memory.write(LONG_MODE_LOAD, guestImage("mmio"));
      const vcpu = t.vm.createVcpu(0);
      setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD }));
      if (callerThread) expect(vcpu.useCallerThread(60_000)).toBe(true);
      const exits = runUntil(vcpu, (exit) => {
        if (exit.kind === "MmioRead") vcpu.setReturnValue(0n);
        return isHypercall(exit, HC_DONE);
      });
      expect(mmioWrites(exits)).toEqual([TEST_MMIO, TEST_MMIO + 2, TEST_MMIO + 8]);
      await eventually(() => notified === 1, "the ioeventfd callback");
      expect(channels.stats.notifications).toBe(1);
      expect(channels.failure).toBeUndefined();
      expect(() => channels.watchMmioWrite(TEST_MMIO + 0x40, 4, 0, () => undefined)).toThrow(/once the VM has run/);
    });
  }

  test("a caller-thread run of a spinning guest is ended by the run kicker, and resumes", () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("spin"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    expect(vcpu.useCallerThread(5)).toBe(true);
    for (let round = 0; round < 3; round++) {
      expect(vcpu.run()).toEqual({ kind: "Nothing" });
      const rip = Number(vcpu.getGpr(16));
      expect(rip).toBeGreaterThanOrEqual(REAL_MODE_LOAD);
      expect(rip).toBeLessThan(REAL_MODE_LOAD + 3);
    }
  });

  test("only one vCPU of a VM may run on the caller's thread, and not one that has a run Worker", async () => {
    using t = createTestVm({ cpuCount: 3 });
    // vCPU 0 (the BSP: the others wait for a SIPI in KVM_RUN) runs on a Worker first.
    const withWorker = t.vm.createVcpu(0);
    const first = t.vm.createVcpu(1);
    const second = t.vm.createVcpu(2);
    t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
    withWorker.setup({ entry: REAL_MODE_LOAD });
    expect((await withWorker.runAsync()).kind).toBe("IoWrite");
    expect(withWorker.useCallerThread(5)).toBe(false);
    expect(first.useCallerThread(5)).toBe(true);
    expect(second.useCallerThread(5)).toBe(false);
  });
});
