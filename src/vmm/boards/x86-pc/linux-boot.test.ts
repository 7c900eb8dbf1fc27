import { expect, test } from "bun:test";
import { makeBzImage } from "../../../../test/support/x86-test-images.ts";
import { GuestMemory } from "../../../addrspace/guest-memory.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { BP_ACPI_RSDP_ADDR } from "./boot-params.ts";
import { ACPI_START, HIMEM_START, MPTABLE_START, PML4_START, ramRegions, ZERO_PAGE_START } from "./layout.ts";
import { prepareLinuxBoot } from "./linux-boot.ts";

test("prepareLinuxBoot writes the MP table, ACPI tables, kernel, zero page and page tables, and gives the 64-bit state", () => {
  const size = 0x400_0000;
  const bytes = new Uint8Array(size);
  const memory: GuestMemoryAccess = new GuestMemory([{ name: "ram", gpa: 0, bytes }]);
  const plan = prepareLinuxBoot(memory, {
    kernel: makeBzImage(),
    cmdline: "console=ttyS0",
    ram: ramRegions(size),
    cpuCount: 2,
  });
  const text = (gpa: number, length: number): string => new TextDecoder().decode(bytes.subarray(gpa, gpa + length));
  expect(text(MPTABLE_START, 4)).toBe("_MP_");
  expect(text(ACPI_START, 8)).toBe("RSD PTR ");
  expect(new DataView(bytes.buffer).getBigUint64(ZERO_PAGE_START + BP_ACPI_RSDP_ADDR, true)).toBe(BigInt(ACPI_START));
  expect(plan.kernel.entry).toBe(HIMEM_START + 0x200);
  expect(plan.vcpuState).toMatchObject({ rip: HIMEM_START + 0x200, cr3: BigInt(PML4_START) });
  expect(plan.vcpuState.gprs?.rsi).toBe(BigInt(ZERO_PAGE_START));
});
