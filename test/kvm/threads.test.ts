/**
 * runAsync (a Worker per vCPU pumping KVM_RUN), kick of a vCPU spinning or halted in the guest, pause/resume,
 * and two vCPUs whose exits are handled on one thread.
 */
import { expect, test } from "bun:test";
import { KVM_MP_STATE_UNINITIALIZED } from "../../src/hal/kvm/abi.ts";
import type { KvmVcpu } from "../../src/hal/kvm/index.ts";
import type { AxVCpuExitReason } from "../../src/hal/types.ts";
import { setupLongModeBoot } from "../../src/vmm/boards/x86-pc/boot-cpu.ts";
import { describeIf } from "../support/skip.ts";
import {
  createTestVm,
  guestImage,
  HC_AP_ALIVE,
  HC_DONE,
  HC_SIPI_SENT,
  isHypercall,
  kvmRequirement,
  LONG_MODE_LOAD,
  REAL_MODE_LOAD,
  setupX86,
} from "./harness.ts";

/** Run asynchronously until `stop`, re-entering on `Nothing` (an AP woken by SIPI returns EAGAIN first). */
async function runAsyncUntil(
  vcpu: KvmVcpu,
  stop: (exit: AxVCpuExitReason) => boolean,
  limit = 1000,
): Promise<AxVCpuExitReason[]> {
  const exits: AxVCpuExitReason[] = [];
  for (let i = 0; i < limit; i++) {
    const exit = await vcpu.runAsync();
    exits.push(exit);
    if (stop(exit)) return exits;
  }
  throw new Error(`vCPU ${vcpu.id} did not stop within ${limit} exits`);
}

describeIf(kvmRequirement(), "kvm threads")("KVM run threads and kicks", () => {
  test("runAsync gives the same exits as run", async () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("serial-hello"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    const exits = await runAsyncUntil(vcpu, (exit) => isHypercall(exit, HC_DONE));
    const text = exits.map((exit) => (exit.kind === "IoWrite" ? String.fromCharCode(Number(exit.data)) : "")).join("");
    expect(text).toBe("Hello from the x86 guest\n");
  });

  test("kick brings a vCPU spinning in the guest back with Nothing, and it can be resumed", async () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("spin"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    for (let round = 0; round < 3; round++) {
      const running = vcpu.runAsync();
      await Bun.sleep(20);
      vcpu.kick();
      expect(await running).toEqual({ kind: "Nothing" });
      // Paused between runs: the guest is still in its loop (rip inside the 3-byte image).
      const rip = Number(vcpu.getGpr(16));
      expect(rip).toBeGreaterThanOrEqual(REAL_MODE_LOAD);
      expect(rip).toBeLessThan(REAL_MODE_LOAD + 3);
    }
  });

  test("a kick before the run makes the next run return at once", async () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("spin"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    vcpu.kick();
    expect(vcpu.run()).toEqual({ kind: "Nothing" });
    vcpu.kick();
    expect(await vcpu.runAsync()).toEqual({ kind: "Nothing" });
  });

  test("two vCPUs: the BSP starts the AP with INIT/SIPI through the in-kernel LAPIC; both halted ones are kicked", async () => {
    using t = createTestVm({ cpuCount: 2 });
    t.memory.write(LONG_MODE_LOAD, guestImage("smp"));
    const bsp = t.vm.createVcpu(0);
    const ap = t.vm.createVcpu(1);
    const state = setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD + 0x100 });
    setupX86(bsp, state);
    setupX86(ap, state);
    expect(ap.getMpState()).toBe(KVM_MP_STATE_UNINITIALIZED);
    // Both run threads at once; every exit is handled here, on this thread.
    const [apExits, bspExits] = await Promise.all([
      runAsyncUntil(ap, (exit) => exit.kind === "Hypercall"),
      runAsyncUntil(bsp, (exit) => exit.kind === "Hypercall"),
    ]);
    expect(bspExits.at(-1)).toMatchObject({ kind: "Hypercall", nr: HC_SIPI_SENT });
    // The AP read its own APIC id (1) from CPUID leaf 1: our per-vCPU fix-up.
    expect(apExits.at(-1)).toMatchObject({
      kind: "Hypercall",
      nr: HC_AP_ALIVE,
      args: [1n, 0n, expect.any(BigInt), expect.any(BigInt), 0n, 0n],
    });
    // Both now sit in HLT inside the kernel (in-kernel LAPIC): only a kick gets them out.
    const halted = [ap.runAsync(), bsp.runAsync()];
    await Bun.sleep(20);
    ap.kick();
    bsp.kick();
    expect(await Promise.all(halted)).toEqual([{ kind: "Nothing" }, { kind: "Nothing" }]);
  });

  test("closing a vCPU whose run thread is inside KVM_RUN stops the thread first", async () => {
    const t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("spin"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    const running = vcpu.runAsync().catch((error: unknown) => error);
    await Bun.sleep(20);
    t[Symbol.dispose]();
    const outcome = await running;
    expect(outcome).toBeInstanceOf(Error);
    expect(String(outcome)).toMatch(/closed|stopped/);
  });

  test("register access while a run is in progress is refused", async () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("spin"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    const running = vcpu.runAsync();
    await Bun.sleep(5);
    expect(() => vcpu.getGpr(0)).toThrow(/it is running/);
    vcpu.kick();
    await running;
  });
});
