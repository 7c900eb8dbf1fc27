/** The arm64 ABI pieces that need no /dev/kvm: register ids, the KVM_IRQ_LINE encoding, the GIC placement checks. */
import { expect, test } from "bun:test";
import { AARCH64_REG_PC, AARCH64_REG_PSTATE } from "../../../arch/aarch64/registers.ts";
import { ARM64_REGISTER_IDS, coreRegId, KVM_ARM64_REGS_LAYOUT, kvmArmSpiIrq, sysRegId } from "./abi.ts";
import { checkGicPlacement } from "./vm.ts";

test("core register ids are KVM_REG_ARM64 | U64 | CORE | offset/4, system registers their encoding", () => {
  expect(ARM64_REGISTER_IDS.x0).toBe(0x6030_0000_0010_0000n);
  expect(ARM64_REGISTER_IDS.x30).toBe(0x6030_0000_0010_003cn);
  expect(ARM64_REGISTER_IDS.pc).toBe(coreRegId(KVM_ARM64_REGS_LAYOUT.fields["regs.pc"].offset));
  expect(ARM64_REGISTER_IDS.pc).toBe(0x6030_0000_0010_0040n);
  // MPIDR_EL1 = op0 3, op1 0, CRn 0, CRm 0, op2 5.
  expect(sysRegId(3, 0, 0, 0, 5)).toBe(0x6030_0000_0013_c005n);
  expect(AARCH64_REG_PC).not.toBe(AARCH64_REG_PSTATE);
});

test("an SPI is KVM_IRQ_LINE type 1 with its INTID, no vCPU", () => {
  expect(kvmArmSpiIrq(33)).toBe(0x0100_0021);
  expect(kvmArmSpiIrq(1019)).toBe(0x0100_03fb);
});

test("the GIC placement is checked before KVM sees it, naming what is wrong", () => {
  const gic = { gicDistributorBase: 0x0800_0000, gicRedistributorBase: 0x080a_0000, gicRedistributorSize: 0xf6_0000 };
  const options = (cpuCount: number, aarch64?: typeof gic) => ({
    arch: "aarch64" as const,
    vmId: 1,
    cpuCount,
    ...(aarch64 === undefined ? {} : { aarch64 }),
  });
  expect(checkGicPlacement(options(123, gic))).toEqual(gic);
  expect(() => checkGicPlacement(options(1))).toThrow(/gicDistributorBase\/gicRedistributorBase are missing/);
  expect(() => checkGicPlacement(options(124, gic))).toThrow(
    /124 vCPUs need 15872 KiB of GIC redistributors, and the board's region holds 15744 KiB \(123 vCPUs\)/,
  );
  expect(() => checkGicPlacement(options(1, { ...gic, gicDistributorBase: 0x0800_1000 }))).toThrow(
    /distributor at 0x8001000 must be 64 KiB-aligned/,
  );
  expect(() => checkGicPlacement(options(2, { ...gic, gicDistributorBase: 0x080a_0000 }))).toThrow(
    /the GIC distributor overlaps the redistributor region/,
  );
});
