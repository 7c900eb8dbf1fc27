/**
 * The emulated hart's snapshot state (src/hal/emulated/vcpu-state.ts): what one vCPU saves, another loads and saves
 * back unchanged (registers, f registers with NaN payloads, CSRs, privilege, pc); a state of another format or with
 * a malformed field is refused naming it.
 */
import { expect, test } from "bun:test";
import { CSR_MEPC, CSR_MSCRATCH, CSR_MTVEC, CSR_SATP, CSR_STIMECMP } from "../../src/arch/riscv64/csr.ts";
import { csrWrite } from "../../src/hal/emulated/csr-file.ts";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";

function vcpu(): EmulatedVcpu {
  const vm = emulatedBackend.open().createVm({ arch: "riscv64", vmId: 1, cpuCount: 1, mode: "bare-machine" });
  const ram = vm.allocateMemory(0x10_0000, { hostPhysAddr: 0x8000_0000 });
  vm.mapGuestMemory(0x8000_0000, ram, 7);
  const cpu = vm.createVcpu(0) as EmulatedVcpu;
  cpu.setup({ entry: 0x8000_0000 });
  return cpu;
}

test("a saved hart state loads into another hart and saves back the same", () => {
  const source = vcpu();
  const h = source.hart;
  for (let r = 1; r < 32; r++) source.setGpr(r, (0x1234_5678_9abc_def0n * BigInt(r)) & 0xffff_ffff_ffff_ffffn);
  new BigUint64Array(h.fp.f64.buffer, h.fp.f64.byteOffset, 32).fill(0x7ff8_0000_dead_beefn);
  csrWrite(h, CSR_MTVEC, 0x8000_1000, 0);
  csrWrite(h, CSR_MEPC, 0x8000_2000, 0);
  csrWrite(h, CSR_MSCRATCH, 0x1111_2222, 0x3333_4444);
  csrWrite(h, CSR_SATP, 0x12345, 8 << 28);
  csrWrite(h, CSR_STIMECMP, 1000, 0);
  h.pc = 0x8000_0abc;
  const saved = source.saveState();
  const target = vcpu();
  target.loadState(saved);
  expect(target.saveState()).toEqual(saved);
  expect(target.getGpr(31)).toBe(source.getGpr(31));
  expect(target.hart.pc).toBe(0x8000_0abc);
});

test("another format or a malformed field is refused, naming it", () => {
  const cpu = vcpu();
  const saved = cpu.saveState();
  expect(() => cpu.loadState({ format: "riscv64-emulated-hart/0", data: saved.data })).toThrow(
    'its format is "riscv64-emulated-hart/0", this hart reads "riscv64-emulated-hart/1"',
  );
  const data = saved.data as Record<string, unknown>;
  expect(() => cpu.loadState({ format: saved.format, data: { ...data, priv: 2 } })).toThrow("priv 2 is not 0, 1 or 3");
  expect(() => cpu.loadState({ format: saved.format, data: { ...data, gprs: ["0x1"] } })).toThrow(
    "gprs must be 32 hex values",
  );
});
