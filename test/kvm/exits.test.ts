/**
 * Every exit kind of the KVM backend, produced by real guests (test/guests/x86) on the host's /dev/kvm.
 */
import { expect, test } from "bun:test";
import type { KvmVcpu } from "../../src/hal/kvm/index.ts";
import { TRIPLE_FAULT_CODE, x86Vcpu } from "../../src/hal/kvm/x86_64/index.ts";
import type { AxVCpuExitReason, HalAccessHandler } from "../../src/hal/types.ts";
import { setupLongModeBoot } from "../../src/vmm/boards/x86-pc/boot-cpu.ts";
import { describeIf } from "../support/skip.ts";
import {
  createTestVm,
  guestImage,
  HC_CPL3_ROUND,
  HC_DONE,
  HC_REPORT,
  isHypercall,
  kvmRequirement,
  LONG_MODE_LOAD,
  REAL_MODE_LOAD,
  runUntil,
  setupX86,
  TEST_MMIO,
  TEST_PORT,
} from "./harness.ts";

const finished = (exit: AxVCpuExitReason): boolean =>
  isHypercall(exit, HC_DONE) || exit.kind === "SystemDown" || exit.kind === "FailEntry" || exit.kind === "Unsupported";

describeIf(kvmRequirement(), "kvm exits")("KVM exits from test guests", () => {
  test("serial hello: one IoWrite per byte to COM1, then the done hypercall", () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("serial-hello"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    const exits = runUntil(vcpu, finished);
    const text = exits
      .map((exit) => (exit.kind === "IoWrite" && exit.port === 0x3f8 ? String.fromCharCode(Number(exit.data)) : ""))
      .join("");
    expect(text).toBe("Hello from the x86 guest\n");
    expect(exits.at(-1)).toMatchObject({
      kind: "Hypercall",
      nr: HC_DONE,
      args: [0n, expect.any(BigInt), expect.any(BigInt), 0n, 0n, 0n],
    });
  });

  test("port I/O of each size, and string I/O presented element by element", () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("pio"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    let insb = 0;
    const exits = runUntil(vcpu, (exit) => {
      if (exit.kind === "IoRead") {
        if (exit.port === 0x534) vcpu.setReturnValue(BigInt(0xa0 + insb++));
        else vcpu.setReturnValue(exit.width === 1 ? 0x1abn : exit.width === 2 ? 0x1cdefn : 0x1_1234_5678n);
      }
      return finished(exit);
    });
    const io: AxVCpuExitReason[] = exits.filter((exit) => exit.kind === "IoRead" || exit.kind === "IoWrite");
    expect(io.slice(0, 6)).toEqual([
      { kind: "IoWrite", port: TEST_PORT, width: 1, data: 0x12n },
      { kind: "IoWrite", port: TEST_PORT + 2, width: 2, data: 0x3456n },
      { kind: "IoWrite", port: TEST_PORT + 4, width: 4, data: 0x789abcden },
      { kind: "IoRead", port: TEST_PORT, width: 1 },
      { kind: "IoRead", port: TEST_PORT + 2, width: 2 },
      { kind: "IoRead", port: TEST_PORT + 4, width: 4 },
    ]);
    // Values were truncated to the access width before the guest saw them.
    const report = exits.find((exit) => isHypercall(exit, HC_REPORT));
    expect(report).toMatchObject({
      args: [0xabn, 0xcdefn, 0x1234_5678n, expect.any(BigInt), expect.any(BigInt), expect.any(BigInt)],
    });
    const write = (port: number, width: 1 | 2 | 4, data: bigint): AxVCpuExitReason => ({
      kind: "IoWrite",
      port,
      width,
      data,
    });
    expect(io.slice(6)).toEqual([
      write(0x530, 1, 0x61n),
      write(0x530, 1, 0x62n),
      write(0x530, 1, 0x63n),
      write(0x532, 2, 0x1122n),
      write(0x532, 2, 0x3344n),
      write(0x538, 4, 0x5566_7788n),
      write(0x538, 4, 0x99aa_bbccn),
      { kind: "IoRead", port: 0x534, width: 1 },
      { kind: "IoRead", port: 0x534, width: 1 },
      { kind: "IoRead", port: 0x534, width: 1 },
      { kind: "IoRead", port: 0x534, width: 1 },
      // rep insb stored our four answers in order; rep outsb echoes them.
      write(0x536, 1, 0xa0n),
      write(0x536, 1, 0xa1n),
      write(0x536, 1, 0xa2n),
      write(0x536, 1, 0xa3n),
    ]);
    expect(exits.at(-1)).toMatchObject({ kind: "Hypercall", nr: HC_DONE });
    // Each rep instruction was one KVM_RUN: more exits than runs.
    expect(vcpu.stats.exits).toBeGreaterThan(vcpu.stats.runs);
  });

  test("MMIO writes and reads of each width; KVM applies sign extension", () => {
    using t = createTestVm();
    t.memory.write(LONG_MODE_LOAD, guestImage("mmio"));
    const vcpu = t.vm.createVcpu(0);
    setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD }));
    const exits = runUntil(vcpu, (exit) => {
      if (exit.kind === "MmioRead")
        vcpu.setReturnValue(exit.addr === TEST_MMIO + 0x20 ? 0x80n : 0x8877_6655_4433_2211n);
      return finished(exit);
    });
    const mmio: AxVCpuExitReason[] = exits.filter((exit) => exit.kind === "MmioRead" || exit.kind === "MmioWrite");
    expect(mmio).toEqual([
      { kind: "MmioWrite", addr: TEST_MMIO, width: 1, data: 0x11n },
      { kind: "MmioWrite", addr: TEST_MMIO + 2, width: 2, data: 0x2233n },
      { kind: "MmioWrite", addr: TEST_MMIO + 4, width: 4, data: 0x4455_6677n },
      { kind: "MmioWrite", addr: TEST_MMIO + 8, width: 8, data: 0x8899_aabb_ccdd_eeffn },
      { kind: "MmioRead", addr: TEST_MMIO + 0x10, width: 1, reg: -1, regWidth: 1, signedExt: false },
      { kind: "MmioRead", addr: TEST_MMIO + 0x12, width: 2, reg: -1, regWidth: 2, signedExt: false },
      { kind: "MmioRead", addr: TEST_MMIO + 0x14, width: 4, reg: -1, regWidth: 4, signedExt: false },
      { kind: "MmioRead", addr: TEST_MMIO + 0x18, width: 8, reg: -1, regWidth: 8, signedExt: false },
      { kind: "MmioRead", addr: TEST_MMIO + 0x20, width: 1, reg: -1, regWidth: 1, signedExt: false },
    ]);
    const report = exits.find((exit) => isHypercall(exit, HC_REPORT));
    expect(report).toMatchObject({
      args: [0x11n, 0x2211n, 0x4433_2211n, BigInt(TEST_MMIO), 0x8877_6655_4433_2211n, 0xffff_ffff_ffff_ff80n],
    });
  });

  test("runAccesses: plain port and MMIO accesses go to the handler, string I/O and 8-byte MMIO come back as exits", () => {
    const calls: string[] = [];
    const handler: HalAccessHandler = {
      mmioRead: (addr, width) => {
        calls.push(`mmio read ${(addr - TEST_MMIO).toString(16)}/${width}`);
        return addr === TEST_MMIO + 0x20 ? 0x80 : 0x4433_2211;
      },
      mmioWrite: (addr, width, value) =>
        calls.push(`mmio write ${(addr - TEST_MMIO).toString(16)}/${width}=${value.toString(16)}`),
      portRead: (port, width) => {
        calls.push(`in ${port.toString(16)}/${width}`);
        return width === 1 ? 0xab : width === 2 ? 0xcdef : 0x1234_5678;
      },
      portWrite: (port, width, value) => calls.push(`out ${port.toString(16)}/${width}=${value.toString(16)}`),
    };
    const runWithHandler = (vcpu: KvmVcpu, answer: (exit: AxVCpuExitReason) => void): AxVCpuExitReason[] => {
      const exits: AxVCpuExitReason[] = [];
      for (let i = 0; i < 1000; i++) {
        const exit = vcpu.runAccesses(handler, 64);
        if (exit.kind === "Nothing") continue;
        exits.push(exit);
        answer(exit);
        if (finished(exit)) break;
      }
      return exits;
    };
    {
      using t = createTestVm();
      t.memory.write(REAL_MODE_LOAD, guestImage("pio"));
      const vcpu = t.vm.createVcpu(0);
      vcpu.setup({ entry: REAL_MODE_LOAD });
      let insb = 0;
      // Exits and handler calls in one log: whether KVM reports a string element alone (count 1, then the handler
      // answers it) or batched (count > 1, then they come back as exits) is KVM's choice.
      const exits = runWithHandler(vcpu, (exit) => {
        if (exit.kind === "IoRead") {
          calls.push(`in ${exit.port.toString(16)}/${exit.width}`);
          vcpu.setReturnValue(BigInt(0xa0 + insb++));
        } else if (exit.kind === "IoWrite") {
          calls.push(`out ${exit.port.toString(16)}/${exit.width}=${exit.data.toString(16)}`);
        }
      });
      expect(calls.slice(0, 6)).toEqual([
        "out 510/1=12",
        "out 512/2=3456",
        "out 514/4=789abcde",
        "in 510/1",
        "in 512/2",
        "in 514/4",
      ]);
      expect(calls.slice(6)).toEqual([
        "out 530/1=61",
        "out 530/1=62",
        "out 530/1=63",
        "out 532/2=1122",
        "out 532/2=3344",
        "out 538/4=55667788",
        "out 538/4=99aabbcc",
        "in 534/1",
        "in 534/1",
        "in 534/1",
        "in 534/1",
        "out 536/1=a0",
        "out 536/1=a1",
        "out 536/1=a2",
        "out 536/1=a3",
      ]);
      // The six plain accesses were the handler's: no exit stood for them.
      expect(exits.filter((exit) => exit.kind === "IoRead" || exit.kind === "IoWrite").length).toBeLessThanOrEqual(15);
      expect(exits.find((exit) => isHypercall(exit, HC_REPORT))).toMatchObject({
        args: [0xabn, 0xcdefn, 0x1234_5678n, expect.any(BigInt), expect.any(BigInt), expect.any(BigInt)],
      });
      expect(exits.at(-1)).toMatchObject({ kind: "Hypercall", nr: HC_DONE });
    }
    calls.length = 0;
    {
      using t = createTestVm();
      t.memory.write(LONG_MODE_LOAD, guestImage("mmio"));
      const vcpu = t.vm.createVcpu(0);
      setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD }));
      const exits = runWithHandler(vcpu, (exit) => {
        if (exit.kind === "MmioRead") vcpu.setReturnValue(0x8877_6655_4433_2211n);
      });
      expect(calls).toEqual([
        "mmio write 0/1=11",
        "mmio write 2/2=2233",
        "mmio write 4/4=44556677",
        "mmio read 10/1",
        "mmio read 12/2",
        "mmio read 14/4",
        "mmio read 20/1",
      ]);
      expect(exits.filter((exit) => exit.kind === "MmioRead" || exit.kind === "MmioWrite")).toEqual([
        { kind: "MmioWrite", addr: TEST_MMIO + 8, width: 8, data: 0x8899_aabb_ccdd_eeffn },
        { kind: "MmioRead", addr: TEST_MMIO + 0x18, width: 8, reg: -1, regWidth: 8, signedExt: false },
      ]);
      expect(exits.find((exit) => isHypercall(exit, HC_REPORT))).toMatchObject({
        args: [0x11n, 0x2211n, 0x4433_2211n, BigInt(TEST_MMIO), 0x8877_6655_4433_2211n, 0xffff_ffff_ffff_ff80n],
      });
    }
  });

  test("a hypercall's result set with setGpr(rax) reaches the guest", () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("hypercall"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    expect(vcpu.run()).toEqual({ kind: "Hypercall", nr: 7n, args: [0x1234n, 0n, 0n, 0n, 0n, 0n] });
    vcpu.setGpr(0, 0x99n);
    expect(vcpu.run()).toMatchObject({ kind: "Hypercall", nr: HC_DONE, args: [0x99n, 0n, 0n, 0n, 0n, 0n] });
    expect(vcpu.stats.completions).toBe(1);
  });

  test("setEntry restarts the vCPU in its set-up state at the new entry", () => {
    using t = createTestVm();
    t.memory.write(REAL_MODE_LOAD, guestImage("serial-hello"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    runUntil(vcpu, finished);
    // Again from the top: the same greeting, from real mode again.
    vcpu.setEntry(REAL_MODE_LOAD);
    const exits = runUntil(vcpu, finished);
    expect(exits[0]).toEqual({ kind: "IoWrite", port: 0x3f8, width: 1, data: BigInt("H".charCodeAt(0)) });
    expect(x86Vcpu(vcpu).getSregs().cr0 & 1n).toBe(0n);
  });

  test("HLT exits when the VM has no in-kernel irqchip, and the guest continues after it", () => {
    using t = createTestVm({ irqchip: false });
    t.memory.write(REAL_MODE_LOAD, guestImage("hlt"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    expect(vcpu.run()).toEqual({ kind: "Halt" });
    expect(vcpu.run()).toMatchObject({ kind: "Hypercall", nr: HC_DONE, args: [0x42n, 0n, 0n, 0n, 0n, 0n] });
  });

  test("a triple fault stops only its own VM", () => {
    using crashing = createTestVm();
    using healthy = createTestVm();
    crashing.memory.write(LONG_MODE_LOAD, guestImage("triple-fault"));
    healthy.memory.write(REAL_MODE_LOAD, guestImage("serial-hello"));
    const bad = crashing.vm.createVcpu(0);
    setupX86(bad, setupLongModeBoot(crashing.memory, { entry: LONG_MODE_LOAD }));
    const good = healthy.vm.createVcpu(0);
    good.setup({ entry: REAL_MODE_LOAD });
    expect(good.run()).toMatchObject({ kind: "IoWrite", port: 0x3f8 });
    expect(bad.run()).toEqual({ kind: "SystemDown", action: "crash", code: TRIPLE_FAULT_CODE });
    const rest = runUntil(good, finished);
    expect(rest.at(-1)).toMatchObject({ kind: "Hypercall", nr: HC_DONE });
  });

  test("a guest at CPL3 computes natively and reports with IOPL 3 port I/O", () => {
    using t = createTestVm();
    t.memory.write(LONG_MODE_LOAD, guestImage("cpl3"));
    const vcpu = t.vm.createVcpu(0);
    setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD, userPages: true, gprs: { rdi: 1000n } }));
    const exits = runUntil(vcpu, (exit) => exit.kind === "Hypercall" || finished(exit));
    const round = exits.at(-1);
    expect(round).toMatchObject({ kind: "Hypercall", nr: HC_CPL3_ROUND });
    if (round?.kind !== "Hypercall") throw new Error("unreachable");
    expect(round.args[0]).toBe(xorshiftRounds(1000));
    // The code segment's RPL is 3: the loop ran in user mode.
    expect(round.args[1] & 3n).toBe(3n);
  });
});

/** The guest's cpl3_loop in TypeScript: n rounds of xorshift64 (13, 7, 17) from the golden-ratio seed. */
function xorshiftRounds(n: number): bigint {
  let x = 0x9e37_79b9_7f4a_7c15n;
  for (let i = 0; i < n; i++) {
    x ^= BigInt.asUintN(64, x << 13n);
    x ^= x >> 7n;
    x ^= BigInt.asUintN(64, x << 17n);
  }
  return x;
}
