import { expect, test } from "bun:test";
import { CPUID_1_ECX_HYPERVISOR, CPUID_1_ECX_TSC_DEADLINE, CPUID_1_EDX_HTT } from "../../../arch/x86_64/cpuid.ts";
import { type CpuidEntry, decodeCpuid2, encodeCpuid2, fixupCpuid } from "./cpuid.ts";

const base: CpuidEntry[] = [
  { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69 },
  { function: 1, index: 0, flags: 0, eax: 0x806f8, ebx: 0xff00_0800, ecx: 0x7ffa_3203, edx: 0x178b_fbff },
  { function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7 },
  { function: 0xb, index: 1, flags: 1, eax: 4, ebx: 8, ecx: 0x201, edx: 7 },
  { function: 0xb, index: 2, flags: 1, eax: 0, ebx: 0, ecx: 2, edx: 7 },
];

test("leaf 1 gets the APIC id, the CPU count, HTT and the hypervisor bit", () => {
  const fixed = fixupCpuid(base, { apicId: 3, cpuCount: 4, tscDeadline: false });
  const leaf1 = fixed.find((entry) => entry.function === 1);
  expect(leaf1?.ebx).toBe(0x0304_0800);
  expect((leaf1?.ecx ?? 0) & CPUID_1_ECX_HYPERVISOR).not.toBe(0);
  expect((leaf1?.edx ?? 0) & CPUID_1_EDX_HTT).not.toBe(0);
  const single = fixupCpuid(base, { apicId: 0, cpuCount: 1, tscDeadline: false }).find((entry) => entry.function === 1);
  expect((single?.edx ?? 0) & CPUID_1_EDX_HTT).toBe(0);
});

test("leaf 1 ECX advertises TSC-deadline exactly when the in-kernel LAPIC emulates it, leaving the other bits", () => {
  const leaf1 = (entries: CpuidEntry[]): CpuidEntry | undefined => entries.find((entry) => entry.function === 1);
  const withEcx = (ecx: number): CpuidEntry[] =>
    base.map((entry) => (entry.function === 1 ? { ...entry, ecx: ecx >>> 0 } : entry));
  const otherBits = (base[1]?.ecx ?? 0) & ~CPUID_1_ECX_TSC_DEADLINE;
  // KVM_GET_SUPPORTED_CPUID reports the bit clear (it describes the CPU): the fix-up sets it.
  const on = leaf1(fixupCpuid(withEcx(otherBits), { apicId: 0, cpuCount: 1, tscDeadline: true }))?.ecx ?? 0;
  expect(on >>> 0).toBe((otherBits | CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE) >>> 0);
  // Without the capability the bit is cleared even when the source had it set.
  const source = otherBits | CPUID_1_ECX_TSC_DEADLINE;
  const off = leaf1(fixupCpuid(withEcx(source), { apicId: 0, cpuCount: 1, tscDeadline: false }))?.ecx ?? 0;
  expect(off & CPUID_1_ECX_TSC_DEADLINE).toBe(0);
  expect(off >>> 0).toBe((otherBits | CPUID_1_ECX_HYPERVISOR) >>> 0);
});

test("leaf 0xB describes one thread per core and carries the x2APIC id", () => {
  const fixed = fixupCpuid(base, { apicId: 5, cpuCount: 6, tscDeadline: false }).filter(
    (entry) => entry.function === 0xb,
  );
  expect(fixed.map((entry) => [entry.eax, entry.ebx, entry.ecx, entry.edx])).toEqual([
    [0, 1, 0x100, 5],
    [3, 6, 0x201, 5],
    [0, 0, 2, 5],
  ]);
});

test("kvm_cpuid2 encoding round-trips, and a bad nent is refused", () => {
  const encoded = encodeCpuid2(base);
  expect(encoded.byteLength).toBe(8 + base.length * 40);
  expect(decodeCpuid2(encoded)).toEqual(base);
  new DataView(encoded.buffer).setUint32(0, 100, true);
  expect(() => decodeCpuid2(encoded)).toThrow(/nent 100 exceeds the 5 entries/);
});
