/**
 * Reference boots of our riscv64 Linux guest on QEMU (OpenSBI + QEMU's virt board): the kernel and /init work,
 * and so does the device tree our VMM generates (src/vmm/riscv/fdt.ts) when QEMU uses it instead of its own.
 * Needs qemu-system-riscv64 and a built Image (scripts/build-linux-riscv64.sh); skips with the reason otherwise.
 * Each boot takes about a second of QEMU time.
 */
import { describe, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDtb } from "../../../scripts/linux/riscv-virt-dtb.ts";
import { hasCommand, type Requirement, testIf } from "../../support/skip.ts";

const ROOT = join(import.meta.dir, "../../..");
const CMDLINE = "console=ttyS0 earlycon=sbi";

function cachedImage(): Requirement & { path: string } {
  const result = Bun.spawnSync(["bash", join(ROOT, "scripts/build-linux-riscv64.sh"), "--cached"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const path = result.stdout.toString().trim();
  return result.exitCode === 0 && path !== ""
    ? { available: true, reason: `found ${path}`, path }
    : { available: false, reason: "no cached riscv64 Linux Image (run scripts/build-linux-riscv64.sh)", path: "" };
}

const qemu = hasCommand("qemu-system-riscv64");
const image = qemu.available ? cachedImage() : { available: false, reason: qemu.reason, path: "" };

async function boot(cpus: number, dtb: Uint8Array | undefined): Promise<{ output: string; exitCode: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), "axvisor-qemu-"));
  try {
    const args = ["-M", "virt", "-smp", String(cpus), "-m", "128M", "-bios", "default", "-nographic", "-no-reboot"];
    args.push("-kernel", image.path, "-append", CMDLINE);
    if (dtb !== undefined) {
      const path = join(dir, "board.dtb");
      await Bun.write(path, dtb);
      args.push("-dtb", path);
    }
    const proc = Bun.spawn(["qemu-system-riscv64", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 60_000);
    const [output] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearTimeout(timer);
    return { output, exitCode: proc.exitCode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectInitRan(output: string, cpus: number): void {
  const lines = output.split(/\r?\n/).filter((l) => l.startsWith("AXVISOR-INIT: "));
  expect(lines[0]).toStartWith("AXVISOR-INIT: hello from init");
  expect(lines).toContain(`AXVISOR-INIT: cpus=${cpus}`);
  expect(lines.some((l) => l.startsWith("AXVISOR-INIT: primes below 200001: 17984 (ok)"))).toBe(true);
  expect(lines.at(-1)).toBe("AXVISOR-INIT: powering off");
}

describe("riscv64 Linux guest on QEMU", () => {
  testIf(image, "boot on QEMU with its own device tree")(
    "QEMU's device tree, 2 harts",
    async () => {
      const { output, exitCode } = await boot(2, undefined);
      expect(exitCode).toBe(0);
      expectInitRan(output, 2);
    },
    90_000,
  );

  testIf(image, "boot on QEMU with our generated device tree")(
    "our device tree (+ a CLINT for OpenSBI), 2 harts",
    async () => {
      const { output, exitCode } = await boot(
        2,
        buildDtb({ harts: 2, memoryMiB: 128, bootargs: CMDLINE, withClint: true, isa: ["g", "c"] }),
      );
      expect(exitCode).toBe(0);
      expect(output).toContain("Machine model: axvisor-ts riscv virt");
      // Linux found the PLIC through our interrupts-extended: 2 harts × (M, S) contexts, one S handler each.
      expect(output).toContain("plic: plic@c000000: mapped 95 interrupts with 2 handlers for 4 contexts.");
      expect(output).toContain("ttyS0 at MMIO 0x10000000");
      expectInitRan(output, 2);
    },
    90_000,
  );
});
