/**
 * The GDB stub against the real debugger: Debian's `gdb-multiarch` in batch mode debugs the `hello` guest
 * (test/guests/riscv/hello.elf, which has its symbols) on the emulated hart through `Vmm({ gdb })`, the same
 * path as `axvisor run --gdb`: break at a symbol, continue, read registers (GPRs, pc, a CSR, priv) and memory
 * (guest-virtual and, with `monitor phys on`, guest-physical), single-step, set a hardware watchpoint, continue to
 * the guest's own poweroff. A second test speaks the protocol by hand over a unix socket for what batch GDB
 * cannot do: Ctrl-C while the guest runs.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { encodePacket, GdbPacketDecoder } from "../src/vmm/debug/gdb-packet.ts";
import type { GdbServer } from "../src/vmm/debug/index.ts";
import { Vmm, type VmmResult } from "../src/vmm/vmm.ts";
import { hasCommand, testIf } from "./support/skip.ts";

const guests = join(import.meta.dir, "guests/riscv");

function guestConfig(guest: string, cpus = 1) {
  return parseVmConfig(
    `
[base]
id = 1
name = "${guest}"
cpu_num = ${cpus}
arch = "riscv64"
backend = "emulated"

[kernel]
kernel_path = "${guest}.bin"
kernel_load_addr = 0x8020_0000
memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]

[devices]
console = "stdout"
`,
    { baseDir: guests, sourceName: `${guest}.toml` },
  );
}

/** Run `guest` under the stub; `debug` gets the listening server and drives the debugger. */
async function debugGuest(
  guest: string | { readonly guest: string; readonly cpus: number },
  gdb: { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string },
  debug: (server: GdbServer) => Promise<void>,
): Promise<{ result: VmmResult; console: string }> {
  let consoleText = "";
  const decoder = new TextDecoder();
  let debugging: Promise<void> = Promise.resolve();
  const vmm = new Vmm({
    logLevel: "error",
    console: { writer: (bytes) => (consoleText += decoder.decode(bytes, { stream: true })) },
    gdb,
    onGdbListening: (server) => {
      debugging = debug(server);
    },
  });
  vmm.addVm(typeof guest === "string" ? guestConfig(guest) : guestConfig(guest.guest, guest.cpus));
  const result = await vmm.run();
  await debugging;
  return { result, console: consoleText };
}

testIf(hasCommand("gdb-multiarch"), "gdb-multiarch debugs the hello guest")(
  "gdb-multiarch: break at a symbol, registers, memory, stepi, a watchpoint, continue to the guest's exit",
  async () => {
    let transcript = "";
    const { result, console: guestOutput } = await debugGuest(
      "hello",
      { kind: "tcp", host: "127.0.0.1", port: 0 },
      async (server) => {
        const commands = [
          "set pagination off",
          "set confirm off",
          `target remote 127.0.0.1:${server.port}`,
          "info registers pc",
          "break console_puts",
          "continue",
          "x/s $a0",
          "info registers pc",
          "stepi",
          "info registers pc",
          "info registers sstatus priv",
          "p/x $sp",
          "monitor phys on",
          "x/2xw 0x80200000",
          "monitor phys off",
          "delete",
          "watch *((unsigned char *)(long)&composite + 4)",
          "continue",
          "delete",
          "continue",
        ];
        transcript = await gdbBatch(commands, join(guests, "hello.elf"));
      },
    );
    // The guest stopped at its first instruction, then at the breakpoint, with its first string in a0.
    expect(transcript).toMatch(/pc\s+0x80200000\s+0x80200000 <_start>/);
    expect(transcript).toMatch(/Breakpoint 1, 0x[0-9a-f]+ in console_puts \(\)/);
    expect(transcript).toContain('"Hello from an axvisor-ts guest on RISC-V!\\n"');
    // GDB puts the breakpoint after the function's prologue; stepi moves one instruction on.
    const at = /pc\s+0x([0-9a-f]+)\s+0x[0-9a-f]+ <console_puts\+(\d+)>\n0x0+([0-9a-f]+) in console_puts/.exec(
      transcript,
    );
    expect(at).not.toBeNull();
    const [, bpPc, , steppedPc] = at ?? [];
    const step = Number.parseInt(steppedPc ?? "0", 16) - Number.parseInt(bpPc ?? "0", 16);
    expect(step === 2 || step === 4).toBe(true);
    // A VS-mode guest: priv is S, and sstatus is the guest's (vsstatus: UXL = 64-bit, nothing else set yet).
    expect(transcript).toMatch(/priv\s+0x1\s+prv:1 \[Supervisor\]/);
    expect(transcript).toMatch(/sstatus\s+0x200000000/);
    expect(transcript).toMatch(/\$1 = 0x80206a[0-9a-f]{2}/);
    // Guest-physical read of _start's first two instructions.
    const elf = new Uint8Array(await Bun.file(join(guests, "hello.bin")).arrayBuffer());
    const firstWord = new DataView(elf.buffer).getUint32(0, true);
    expect(transcript).toContain(`0x80200000 <_start>:\t0x${firstWord.toString(16).padStart(8, "0")}`);
    // The watchpoint: the sieve marks 4 composite.
    expect(transcript).toMatch(/Hardware watchpoint 2: \*\(\(unsigned char \*\)\(long\)&composite \+ 4\)/);
    expect(transcript).toMatch(/Old value = 0 '\\000'\s+New value = 1 '\\001'/);
    expect(transcript).toContain("[Inferior 1 (Remote target) exited normally]");
    expect(guestOutput).toContain("hello: 1229 primes below 10000, sum 5736396");
    expect(result.exitCode).toBe(0);
  },
  60_000,
);

/** Run gdb-multiarch in batch mode with `commands` on `elf`; returns stdout and stderr together. */
async function gdbBatch(commands: readonly string[], elf: string): Promise<string> {
  const proc = Bun.spawn(["gdb-multiarch", "-nx", "-batch", ...commands.flatMap((c) => ["-ex", c]), elf], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill(), 50_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  await proc.exited;
  return `${out}\n${err}`;
}

testIf(hasCommand("gdb-multiarch"), "gdb-multiarch debugs the two-hart smp guest")(
  "gdb-multiarch on two vCPUs: one thread each, a breakpoint hit by the second hart stops both, the guest passes",
  async () => {
    let transcript = "";
    const { result, console: guestOutput } = await debugGuest(
      { guest: "smp", cpus: 2 },
      { kind: "tcp", host: "127.0.0.1", port: 0 },
      async (server) => {
        transcript = await gdbBatch(
          [
            `target remote 127.0.0.1:${server.port}`,
            "info threads",
            "break secondary_main",
            "continue",
            "info threads",
            "delete",
            "continue",
          ],
          join(guests, "smp.elf"),
        );
      },
    );
    expect(transcript).toMatch(/Thread 1 \(vCPU 0 of vm 1 \(smp\)\)/);
    expect(transcript).toMatch(/Thread 2 \(vCPU 1 of vm 1 \(smp\)\)/);
    expect(transcript).toMatch(/Thread 2 hit Breakpoint 1, 0x[0-9a-f]+ in secondary_main \(\)/);
    expect(transcript).toMatch(/\* 2 +Thread 2 \(vCPU 1 of vm 1 \(smp\)\) 0x[0-9a-f]+ in secondary_main \(\)/);
    expect(transcript).toContain("[Inferior 1 (Remote target) exited normally]");
    expect(guestOutput).toContain("smp: ok");
    expect(result.exitCode).toBe(0);
  },
  60_000,
);

test("the protocol by hand over a unix socket: Ctrl-C stops the running (idle) echo guest with SIGINT, k ends it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "axvisor-gdb-"));
  const path = join(dir, "gdb.sock");
  try {
    const replies: string[] = [];
    const { result } = await debugGuest("echo", { kind: "unix", path }, async () => {
      const decoder = new GdbPacketDecoder();
      let wake: (() => void) | undefined;
      const socket = await Bun.connect({
        unix: path,
        socket: {
          data: (_socket, data) => {
            for (const input of decoder.push(data)) {
              if (input.kind === "packet") replies.push(new TextDecoder().decode(input.data));
            }
            wake?.();
          },
        },
      });
      const reply = async (): Promise<string> => {
        while (replies.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return replies.shift() ?? "";
      };
      const ask = async (packet: string): Promise<string> => {
        socket.write(encodePacket(packet));
        return reply();
      };
      expect(await ask("QStartNoAckMode")).toBe("OK");
      expect(await ask("?")).toBe("T05thread:01;");
      expect(await ask("qfThreadInfo")).toBe("m01");
      // pc = 0x80200000 is the 33rd register of g.
      expect((await ask("g")).slice(32 * 16, 33 * 16)).toBe("0000208000000000");
      socket.write(encodePacket("c"));
      // echo prints its prompt and waits in WFI for input (up to 10 s).
      await Bun.sleep(300);
      socket.write(Uint8Array.of(0x03));
      expect(await reply()).toBe("T02thread:01;");
      expect(await ask("p20")).not.toBe("0000208000000000");
      socket.write(encodePacket("k"));
      socket.end();
    });
    expect(result.vms[0]?.reason).toBe("host-stop");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
