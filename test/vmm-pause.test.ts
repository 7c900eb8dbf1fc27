/**
 * Pause and resume (AxVM.pause/resume) on the emulated backend with the counter guest (test/guests/riscv/
 * counter.c), which prints "counter: N" every 10 ms of guest time and fails if its clock jumps by more than 500 ms
 * between two ticks. Paused for longer than that, the guest must print nothing, and after resuming it must go on
 * with the next number and finish: no gap, no repeat, no jump of its clock.
 */
import { describe, expect, test } from "bun:test";
import { Vmm } from "../src/vmm/vmm.ts";
import { COUNTER_LAST, counterConfig, countsIn, countsUpTo, sleep, until } from "./support/counter-guest.ts";

describe("pause and resume", () => {
  test("a paused counter prints nothing, its clock stands still, and it goes on without gap after resume", async () => {
    let output = "";
    const decoder = new TextDecoder();
    const vmm = new Vmm({
      logLevel: "error",
      console: { writer: (bytes) => (output += decoder.decode(bytes, { stream: true })) },
    });
    vmm.addVm(counterConfig());
    const running = vmm.run();
    await until(() => countsIn(output).length >= 20, "20 counts");
    const vm = vmm.vm(1);
    if (vm === undefined) throw new Error("the VM is not running");
    await vm.pause();
    expect(vm.status).toBe("Suspended");
    const clockAtPause = vm.currentTime();
    const printedAtPause = output;
    await sleep(800);
    expect(output).toBe(printedAtPause);
    expect(vm.currentTime()).toBe(clockAtPause);
    // A second pause waits for the same one; resume goes on.
    await vm.pause();
    await vm.resume();
    expect(vm.status).toBe("Running");
    await expect(vm.resume()).rejects.toThrow("cannot resume: the VM is Running");
    const result = await running;
    expect(output).not.toContain("clock jumped");
    expect(output).toContain("counter: done");
    expect(countsIn(output)).toEqual(countsUpTo(COUNTER_LAST));
    expect(result.exitCode).toBe(0);
  }, 60_000);
});
