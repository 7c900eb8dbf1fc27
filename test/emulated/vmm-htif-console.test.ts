/**
 * HTIF console output on the emulated backend: each byte the guest writes to `tohost` is answered before the guest
 * has spun long on it (the board watches the mailbox, HostMemory.watchWrites), not when the vCPU's run of a
 * million instructions ends. The guest: bench/guests/empty.elf, whose start-up code prints "ticks=<16 hex
 * digits>\n" one byte at a time through HTIF, waiting for each to be taken, then exits through HTIF.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import { DEFAULT_INSTRUCTION_BUDGET } from "../../src/hal/emulated/vcpu.ts";
import { boardFor } from "../../src/vmm/boards/index.ts";
import { assembleVm } from "../../src/vmm/builder.ts";
import { bareMachineConfig } from "../../src/vmm/config/bare-machine.ts";

const ELF = join(import.meta.dir, "../../bench/guests/empty.elf");

describe("HTIF console on the emulated backend", () => {
  test("every byte is answered within a few instructions of its request", async () => {
    const config = bareMachineConfig(ELF, {});
    const hypervisor = emulatedBackend.open();
    let text = "";
    const decoder = new TextDecoder();
    const vm = assembleVm(config, {
      hypervisor,
      board: boardFor(config),
      console: { write: (bytes) => (text += decoder.decode(bytes)), close: () => undefined },
    });
    try {
      const result = await vm.run();
      const hart = (vm.vcpu(0).arch as EmulatedVcpu).hart;
      expect(result.exitCode).toBe(0);
      expect(text).toMatch(/^ticks=[0-9a-f]{16}\n$/);
      // Answered at the end of each run instead, every byte would wait up to a run's budget: ~23 M instructions.
      expect(hart.icount).toBeLessThan(DEFAULT_INSTRUCTION_BUDGET);
      expect(hart.icount / text.length).toBeLessThan(1000);
    } finally {
      hypervisor[Symbol.dispose]();
    }
  });
});
