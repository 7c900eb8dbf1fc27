/**
 * Snapshot and restore on the emulated backend with the counter guest: a snapshot taken while it counts, loaded
 * into a VM built afresh, continues with the next number (no gap, no repeat) and finishes; the guest's clock does
 * not jump across it. Snapshots of another version or architecture are refused with an error saying so.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSnapshot, readSnapshot } from "../src/vmm/snapshot/snapshot.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { COUNTER_LAST, counterConfig, countsIn, countsUpTo, until } from "./support/counter-guest.ts";

function capture(): { vmm: Vmm; output: () => string } {
  let output = "";
  const decoder = new TextDecoder();
  const vmm = new Vmm({
    logLevel: "error",
    console: { writer: (bytes) => (output += decoder.decode(bytes, { stream: true })) },
  });
  return { vmm, output: () => output };
}

describe("snapshot and restore", () => {
  test("a restored counter continues exactly where the snapshot was taken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "axvisor-snap-"));
    try {
      const statePath = join(dir, "vm.snap");
      const memoryPath = join(dir, "vm.mem");
      const first = capture();
      const firstRun = first.vmm.launch(counterConfig());
      await until(() => countsIn(first.output()).length >= 40, "40 counts");
      const vm = first.vmm.vm(1);
      if (vm === undefined) throw new Error("the VM is not running");
      await vm.pause();
      const created = createSnapshot(vm, { statePath, memoryPath });
      const printedBefore = first.output();
      vm.shutdown();
      await firstRun;
      expect(created.memoryFileSize).toBe(0x100_0000);
      expect(created.memoryDataBytes).toBeLessThan(0x100_0000 / 4);
      expect(statSync(memoryPath).size).toBe(0x100_0000);

      const second = capture();
      const file = readSnapshot(statePath);
      const secondRun = second.vmm.launch(file.config, {
        restore: { file, memoryPath },
        onBuilt: (restored) => {
          expect(restored.status).toBe("Suspended");
          void restored.resume();
        },
      });
      const result = await secondRun;
      expect(second.output()).not.toContain("clock jumped");
      // The pause may fall inside a line: the output continues byte for byte, so both are read as one.
      expect(countsIn(printedBefore + second.output())).toEqual(countsUpTo(COUNTER_LAST));
      expect(result.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("another version, another architecture or a foreign file is refused with the reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "axvisor-snap-"));
    try {
      const path = join(dir, "bad.snap");
      writeFileSync(path, JSON.stringify({ format: "axvisor-ts-snapshot", version: 99 }));
      expect(() => readSnapshot(path)).toThrow("version 99 of the snapshot format; this axvisor-ts reads version 1");
      writeFileSync(path, JSON.stringify({ hello: 1 }));
      expect(() => readSnapshot(path)).toThrow("not an axvisor-ts snapshot");
      const kvm = {
        format: "axvisor-ts-snapshot",
        version: 1,
        vm: { id: 1, name: "x", arch: "x86_64", backend: "kvm", board: "x86-pc" },
        config: { arch: "x86_64" },
        memory: {},
        state: {},
      };
      writeFileSync(path, JSON.stringify(kvm));
      expect(() => readSnapshot(path, "arm64")).toThrow(
        "it holds a x86_64 guest of the kvm backend; this host runs aarch64 guests on hardware backends",
      );
      expect(readFileSync(path, "utf8")).toContain("x86_64");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
