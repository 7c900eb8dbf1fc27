/**
 * Our VS-mode test guests (test/guests/riscv/) on the emulated backend, through the whole VMM: config → VM →
 * vCPUs → exits → devices → SBI. Each guest checks itself and powers off with SRST reason 0 (pass) or 1 (fail).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import type { VmConfig } from "../src/vmm/config/types.ts";
import { Vmm } from "../src/vmm/vmm.ts";

const guests = join(import.meta.dir, "guests/riscv");

function guestConfig(
  guest: string,
  options: { id?: number; cpus?: number; name?: string; extra?: string; ramBytes?: number } = {},
): VmConfig {
  const text = `
[base]
id = ${options.id ?? 1}
name = "${options.name ?? guest}"
cpu_num = ${options.cpus ?? 1}
arch = "riscv64"
backend = "emulated"

[kernel]
kernel_path = "${guest}.bin"
kernel_load_addr = 0x8020_0000
memory_regions = [[0x8000_0000, ${options.ramBytes ?? 0x100_0000}, 0x7, 0]]

[devices]
console = "stdout"
${options.extra ?? ""}
`;
  return parseVmConfig(text, { baseDir: guests, sourceName: `${guest}.toml` });
}

async function run(
  configs: VmConfig[],
  setup?: (vmm: Vmm) => void,
): Promise<{ exitCode: number; output: string; vmm: Vmm; result: Awaited<ReturnType<Vmm["run"]>> }> {
  let output = "";
  const decoder = new TextDecoder();
  const vmm = new Vmm({
    logLevel: "error",
    console: { writer: (bytes) => (output += decoder.decode(bytes, { stream: true })) },
  });
  for (const config of configs) vmm.addVm(config);
  setup?.(vmm);
  const result = await vmm.run();
  return { exitCode: result.exitCode, output, vmm, result };
}

describe("RISC-V guests on the emulated backend", () => {
  test("hello prints its greeting, computes, and powers off with 0", async () => {
    const { exitCode, output } = await run([guestConfig("hello")]);
    expect(output).toContain("Hello from an axvisor-ts guest on RISC-V!");
    expect(output).toContain("hello: 1229 primes below 10000, sum 5736396");
    expect(exitCode).toBe(0);
  });

  test("MMIO reads of each width, signed and unsigned, land in the right registers", async () => {
    const { exitCode, output } = await run([guestConfig("mmio-widths")]);
    expect(output).toMatch(/mmio-widths: ok \(\d+ checks\)/);
    expect(exitCode).toBe(0);
  });

  test("a guest touching unmapped memory is not a VMM crash: reads give 0, it finishes", async () => {
    const { exitCode, output, result } = await run([guestConfig("unmapped")]);
    expect(output).toContain("unmapped: survived");
    expect(exitCode).toBe(0);
    expect(result.vms[0]?.error).toBeUndefined();
  });

  test('with unmapped_mmio = "fault" the same guest is stopped with an error naming the address', async () => {
    const { exitCode, result } = await run([guestConfig("unmapped", { extra: 'unmapped_mmio = "fault"' })]);
    expect(exitCode).toBe(1);
    expect(result.vms[0]?.error).toContain("mmio read at 0x50000000");
  });

  test("two VMs run in one process, both finish, and their output is prefixed per VM", async () => {
    const { exitCode, output, result } = await run([
      guestConfig("hello", { id: 1, name: "first" }),
      guestConfig("mmio-widths", { id: 2, name: "second" }),
    ]);
    expect(exitCode).toBe(0);
    expect(result.vms.map((vm) => [vm.name, vm.exitCode])).toEqual([
      ["first", 0],
      ["second", 0],
    ]);
    expect(output).toContain("[first] Hello from an axvisor-ts guest on RISC-V!");
    expect(output).toMatch(/\[second\] mmio-widths: ok/);
  });

  test("a timer set 1 ms ahead (SBI and Sstc) fires after its deadline, not before", async () => {
    const { exitCode, output } = await run([guestConfig("timer")]);
    // The guest itself checks time >= deadline inside its handler and fails otherwise.
    expect(output).toMatch(/timer: sbi set_timer: interrupt after \d+ ticks \(deadline 10000\)/);
    expect(output).toMatch(/timer: sstc: interrupt after \d+ ticks \(deadline 10000\)/);
    expect(output).toContain("timer: ok");
    expect(exitCode).toBe(0);
  });

  test("counters: user mode reads time/cycle/instret (scounteren as KVM sets it); SBI PMU starts, stops, presets", async () => {
    const { exitCode, output } = await run([guestConfig("counters")]);
    expect(output).toContain("counters: user mode read time, cycle and instret");
    expect(output).not.toContain("FAIL");
    expect(output).toContain("counters: ok");
    expect(exitCode).toBe(0);
  });

  test("guest RAM above 2 GiB: a 3 GiB region, loads, stores, atomics and code near its top", async () => {
    // The buffers are allocated lazily by the host: the guest touches a few pages, so this costs little memory.
    const { exitCode, output } = await run([guestConfig("bigmem", { ramBytes: 3 * 2 ** 30 })]);
    expect(output).not.toContain("FAIL");
    expect(output).toContain("bigmem: ok");
    expect(exitCode).toBe(0);
  });

  test("an interrupt raised by a device (UART THRE) reaches the guest through the PLIC", async () => {
    const { exitCode, output } = await run([guestConfig("plic")]);
    expect(output).toContain("plic: claimed source 10 on context 1");
    expect(output).toContain("plic: ok");
    expect(exitCode).toBe(0);
  });

  test("SMP: hart 1 starts only through HSM hart_start, with the entry and opaque given", async () => {
    const { exitCode, output } = await run([guestConfig("smp", { cpus: 2 })]);
    expect(output).toContain("smp: hart 1 up, opaque 0x5a5a0000c0ffee11");
    expect(output).toContain("smp: ok");
    expect(exitCode).toBe(0);
  });

  test("SBI: set_timer(0) is pending at once; HSM suspend (retentive and non-retentive) wakes on an IPI", async () => {
    const { exitCode, output } = await run([guestConfig("hsm-suspend", { cpus: 2 })]);
    expect(output).toContain("hsm-suspend: set_timer(0) pending at once, set_timer(-1) cleared");
    expect(output).toContain("hsm-suspend: retentive suspend woken by an IPI");
    expect(output).toContain(
      "hsm-suspend: non-retentive suspend woken by an IPI, resumed with a0, a1, satp, SIE as specified",
    );
    expect(output).not.toContain("FAIL");
    expect(output).toContain("hsm-suspend: ok");
    expect(exitCode).toBe(0);
  });

  test("axvisor hypercalls reach the VMM's handler with their arguments; the result goes back in a1", async () => {
    const calls: Array<[bigint, readonly bigint[]]> = [];
    const { exitCode, output } = await run([guestConfig("hypercall")], (vmm) =>
      vmm.onHypercall((_vm, _vcpu, nr, args) => {
        calls.push([nr, args]);
        return 0x1234n;
      }),
    );
    expect(calls).toEqual([[0x10n, [0x11n, 0x22n, 0x33n, 0x44n, 0x55n, 0x66n]]]);
    expect(output).toContain("hypercall: returned error 0 value 0x0000000000001234");
    expect(exitCode).toBe(0);
  });

  test("host console input reaches an interrupt-driven guest through the UART and the PLIC", async () => {
    let output = "";
    const decoder = new TextDecoder();
    let vmm: Vmm | undefined;
    let typed = false;
    vmm = new Vmm({
      logLevel: "error",
      console: {
        writer: (bytes) => {
          output += decoder.decode(bytes, { stream: true });
          // Type once the guest is listening: more than the UART's 16-byte FIFO, so the VMM must queue the rest.
          if (!typed && /echo: ready\r?\n/.test(output)) {
            typed = true;
            setTimeout(
              () =>
                vmm?.consoleInput(1, new TextEncoder().encode("hello, guest: this line is longer than a FIFO\nquit\n")),
              1,
            );
          }
        },
      },
    });
    vmm.addVm(guestConfig("echo"));
    const result = await vmm.run();
    expect(output).toMatch(/echo: hello, guest: this line is longer than a FIFO\r?\n/);
    expect(output).toMatch(/echo: quit\r?\n/);
    expect(result.exitCode).toBe(0);
    expect(vmm.consoleInput(1, Uint8Array.of(0x41))).toBe(false);
  });

  test("without a handler the hypercall answers SBI_ERR_NOT_SUPPORTED", async () => {
    const { output } = await run([guestConfig("hypercall")]);
    expect(output).toContain("hypercall: returned error -2 value 0x0000000000000000");
  });
});
