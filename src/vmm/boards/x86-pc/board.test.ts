import { expect, test } from "bun:test";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { X86_PRIVATE_PAGES_SIZE } from "../../../hal/types.ts";
import { X86PcBoard } from "./board.ts";
import { KVM_PRIVATE_SIZE, KVM_PRIVATE_START, MMIO_MEM_START } from "./layout.ts";

test("the board hands the backend the private pages its layout reserves, inside the MMIO hole", () => {
  const options = new X86PcBoard().vmOptions(testVmConfig({ arch: "x86_64" }));
  expect(options.x86.privatePagesBase).toBe(KVM_PRIVATE_START);
  expect(KVM_PRIVATE_SIZE).toBe(X86_PRIVATE_PAGES_SIZE);
  expect(KVM_PRIVATE_START).toBeGreaterThan(MMIO_MEM_START);
  expect(KVM_PRIVATE_START + KVM_PRIVATE_SIZE).toBeLessThanOrEqual(0x1_0000_0000);
});
