/** The x86 VM options KVM checks before any ioctl (no /dev/kvm needed). */
import { expect, test } from "bun:test";
import { X86_PRIVATE_PAGES_SIZE } from "../../types.ts";
import { checkPrivatePages, privatePageAddresses } from "./vm.ts";

const options = { arch: "x86_64", vmId: 1, cpuCount: 1 } as const;

test("the identity-map page comes first, then the 3-page TSS, filling the board's range", () => {
  const { identityMap, tss } = privatePageAddresses(0xfffb_c000);
  expect(identityMap).toBe(0xfffb_c000);
  expect(tss).toBe(0xfffb_d000);
  expect(tss + 3 * 0x1000).toBe(0xfffb_c000 + X86_PRIVATE_PAGES_SIZE);
});

test("an x86 VM needs its private pages: page-aligned, below 4 GiB", () => {
  expect(checkPrivatePages({ ...options, x86: { privatePagesBase: 0xfffb_c000 } })).toBe(0xfffb_c000);
  expect(() => checkPrivatePages(options)).toThrow(/without x86.privatePagesBase/);
  expect(() => checkPrivatePages({ ...options, x86: { privatePagesBase: 0xfffb_c800 } })).toThrow(/page-aligned/);
  expect(() => checkPrivatePages({ ...options, x86: { privatePagesBase: 0xffff_e000 } })).toThrow(/below 4 GiB/);
});
