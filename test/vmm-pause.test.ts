/**
 * Pause and resume (AxVM.pause/resume) on the emulated backend with the counter guest (test/guests/riscv/
 * counter.c), which prints "counter: N" every 10 ms of guest time and fails if its clock jumps by more than 500 ms
 * between two ticks. Paused for longer than that, the guest must print nothing, and after resuming it must go on
 * with the next number and finish: no gap, no repeat, no jump of its clock.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";

const guests = join(import.meta.dir, "guests/riscv");

const counterConfig = (): ReturnType<typeof parseVmConfig> =>
  parseVmConfig(
    `
[base]
id = 1
name = "counter"
cpu_num = 1
arch = "riscv64"
backend = "emulated"

[kernel]
kernel_path = "counter.bin"
kernel_load_addr = 0x8020_0000
memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]

[devices]
console = "stdout"
`,
    { baseDir: guests, sourceName: "counter.toml" },
  );

/** The numbers the counter printed, in order. */
const countsIn = (output: string): number[] => [...output.matchAll(/^counter: (\d+)$/gm)].map((m) => Number(m[1]));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

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
    expect(countsIn(output)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(result.exitCode).toBe(0);
  }, 60_000);
});
