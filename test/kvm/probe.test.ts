/** The KVM probe, capability checks and memory slots, against the host's /dev/kvm. */
import { describe, expect, test } from "bun:test";
import { APIC_LVT0, APIC_LVT1 } from "../../src/arch/x86_64/apic.ts";
import { realModeState } from "../../src/arch/x86_64/vcpu-state.ts";
import { KVM_CAP_IRQCHIP, KVM_CAP_USER_MEMORY } from "../../src/hal/kvm/abi.ts";
import { kvmBackend, probeKvm } from "../../src/hal/kvm/index.ts";
import { x86System, x86Vcpu } from "../../src/hal/kvm/x86_64/index.ts";
import { HalError, MappingFlags } from "../../src/hal/types.ts";
import { describeIf } from "../support/skip.ts";
import { createTestVm, guestImage, kvmRequirement, REAL_MODE_LOAD, setupX86 } from "./harness.ts";

describe("probe without hardware", () => {
  test("a missing device is named, and the probe does not throw", () => {
    const support = probeKvm("/dev/does-not-exist-kvm");
    expect(support.available).toBe(false);
    expect(support.reason).toContain("no /dev/does-not-exist-kvm");
    expect(support.archs).toEqual([]);
  });

  test("a device that is not KVM is reported, not thrown", () => {
    const support = probeKvm("/dev/null");
    expect(support.available).toBe(false);
    expect(support.reason).toMatch(/\/dev\/null/);
  });
});

describeIf(kvmRequirement(), "kvm probe and memory slots")("with /dev/kvm", () => {
  test("the probe finds API 12 and every required capability", () => {
    const support = kvmBackend.hasHardwareSupport();
    expect(support).toMatchObject({ backend: "kvm", available: true, archs: ["x86_64"] });
    expect(support.reason).toContain("KVM API 12");
  });

  test("capabilities are queried on the open hypervisor", () => {
    using hypervisor = kvmBackend.open();
    expect(hypervisor.checkExtension(KVM_CAP_USER_MEMORY)).toBeGreaterThan(0);
    expect(hypervisor.checkExtension(KVM_CAP_IRQCHIP)).toBeGreaterThan(0);
    expect(x86System(hypervisor).supportedCpuid.some((entry) => entry.function === 1)).toBe(true);
  });

  test("a non-x86 VM is refused with the arch named", () => {
    using hypervisor = kvmBackend.open();
    expect(() => hypervisor.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1 })).toThrow(
      /riscv64 VM: this backend runs x86_64/,
    );
  });

  test("memory is zeroed, page-aligned and shared with the guest through a slot", () => {
    using t = createTestVm();
    expect(t.ram.hostPhysAddr % 4096).toBe(0);
    expect(t.ram.bytes.every((byte) => byte === 0)).toBe(true);
    // The guest's serial output proves it executes the bytes we wrote through the same mapping.
    t.memory.write(REAL_MODE_LOAD, guestImage("serial-hello"));
    const vcpu = t.vm.createVcpu(0);
    vcpu.setup({ entry: REAL_MODE_LOAD });
    expect(vcpu.run()).toEqual({ kind: "IoWrite", port: 0x3f8, width: 1, data: BigInt("H".charCodeAt(0)) });
  });

  test("alignment beyond a page is honoured", () => {
    using t = createTestVm();
    const block = t.vm.allocateMemory(0x20_0000, { alignment: 0x20_0000 });
    expect(block.hostPhysAddr % 0x20_0000).toBe(0);
    expect(block.bytes.length).toBe(0x20_0000);
  });

  test("overlapping slots, foreign memory and bad sizes are rejected before the ioctl", () => {
    using t = createTestVm();
    const other = t.vm.allocateMemory(0x1000);
    expect(() => t.vm.mapGuestMemory(0x1000, other, MappingFlags.READ)).toThrow(/overlaps slot 0 at \[0x0, 0x200000\)/);
    using u = createTestVm();
    expect(() => t.vm.mapGuestMemory(0x100_0000, u.ram, MappingFlags.READ)).toThrow(/did not allocate/);
    expect(() => t.vm.allocateMemory(100)).toThrow(/multiple of 4096/);
    expect(() => t.vm.mapGuestMemory(0x100_0800, other, MappingFlags.READ)).toThrow(/not page-aligned/);
    expect(() => t.vm.allocateMemory(0x1000, { hostPhysAddr: 0x1000 })).toThrow(HalError);
  });

  test("views of guest memory are detached when the VM closes (no use-after-unmap)", () => {
    const t = createTestVm();
    const bytes = t.ram.bytes;
    t[Symbol.dispose]();
    expect(bytes.length).toBe(0);
  });

  test("LINT0 is ExtINT (unmasked) by default and masked on request; LINT1 is NMI", () => {
    using t = createTestVm({ cpuCount: 2 });
    const pc = t.vm.createVcpu(0);
    pc.setup({ entry: REAL_MODE_LOAD });
    expect(x86Vcpu(pc).getLapicRegister(APIC_LVT0) & 0x1_0700).toBe(0x700);
    expect(x86Vcpu(pc).getLapicRegister(APIC_LVT1) & 0x1_0700).toBe(0x400);
    const reduced = t.vm.createVcpu(1);
    setupX86(reduced, { ...realModeState(REAL_MODE_LOAD), lint0: "masked" });
    expect(x86Vcpu(reduced).getLapicRegister(APIC_LVT0) & 0x1_0700).toBe(0x1_0700);
    expect(() => x86Vcpu(reduced).getLapicRegister(0x351)).toThrow(/16-byte aligned/);
  });

  test("a vCPU id beyond cpuCount is refused", () => {
    using t = createTestVm({ cpuCount: 1 });
    expect(() => t.vm.createVcpu(1)).toThrow(/created for 1 vCPUs/);
  });

  test("syscall failures keep the ioctl name and errno", () => {
    using t = createTestVm();
    t.vm.createVcpu(0);
    try {
      t.vm.createVcpu(0);
      throw new Error("unreachable");
    } catch (error) {
      expect(error).toBeInstanceOf(HalError);
      expect((error as HalError).kind).toBe("state");
    }
    const setIrq = (): void => t.vm.setIrqLine(99, true);
    expect(setIrq).toThrow(/GSIs 0..23/);
  });
});
