/**
 * CPUID for a vCPU: what KVM_GET_SUPPORTED_CPUID reports, fixed up per vCPU the way Firecracker and kvmtool do so
 * that a guest sees a consistent topology and knows it is virtualized.
 *
 * Pure data in, data out: the KVM calls live in vcpu.ts; the encoding to struct kvm_cpuid2 is below.
 */
import { KVM_CPUID_ENTRY2_LAYOUT, KVM_CPUID2_LAYOUT } from "./abi.ts";

export interface CpuidEntry {
  readonly function: number;
  readonly index: number;
  readonly flags: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/** Leaf 1: version and feature information (Intel SDM vol. 2A, CPUID). */
export const CPUID_LEAF_FEATURES = 0x1;
/** Leaf 0xB / 0x1F: extended topology enumeration. */
export const CPUID_LEAF_EXT_TOPOLOGY = 0xb;
export const CPUID_LEAF_V2_EXT_TOPOLOGY = 0x1f;
/** Leaf 1 ECX bit 31: "hypervisor present" (reserved for that use by Intel and AMD). */
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;
/** Leaf 1 EDX bit 28: HTT, "EBX[23:16] is valid" (more than one logical processor per package). */
export const CPUID_1_EDX_HTT = 1 << 28;
/** Leaf 0xB ECX[15:8] level types. */
const TOPOLOGY_LEVEL_SMT = 1;
const TOPOLOGY_LEVEL_CORE = 2;

export interface CpuidFixup {
  /** The vCPU's APIC id (we use the vCPU index). */
  readonly apicId: number;
  /** Logical processors in the VM (one package, one thread per core). */
  readonly cpuCount: number;
}

/**
 * Apply the per-vCPU fix-ups: leaf 1 EBX[31:24] = initial APIC id, EBX[23:16] = logical processor count and HTT
 * when there is more than one, ECX.hypervisor = 1; leaves 0xB/0x1F describe one thread per core and `cpuCount`
 * cores, with EDX = x2APIC id.
 */
export function fixupCpuid(entries: readonly CpuidEntry[], fixup: CpuidFixup): CpuidEntry[] {
  const { apicId, cpuCount } = fixup;
  // Bits needed to hold a core id: the x2APIC id shift of the package level.
  const coreBits = cpuCount <= 1 ? 0 : Math.ceil(Math.log2(cpuCount));
  return entries.map((entry): CpuidEntry => {
    if (entry.function === CPUID_LEAF_FEATURES) {
      const ebx = ((entry.ebx & 0x0000_ffff) | ((cpuCount & 0xff) << 16) | ((apicId & 0xff) << 24)) >>> 0;
      const edx = cpuCount > 1 ? (entry.edx | CPUID_1_EDX_HTT) >>> 0 : (entry.edx & ~CPUID_1_EDX_HTT) >>> 0;
      return { ...entry, ebx, ecx: (entry.ecx | CPUID_1_ECX_HYPERVISOR) >>> 0, edx };
    }
    if (entry.function === CPUID_LEAF_EXT_TOPOLOGY || entry.function === CPUID_LEAF_V2_EXT_TOPOLOGY) {
      if (entry.index === 0) {
        return { ...entry, eax: 0, ebx: 1, ecx: (TOPOLOGY_LEVEL_SMT << 8) | 0, edx: apicId >>> 0 };
      }
      if (entry.index === 1) {
        return { ...entry, eax: coreBits, ebx: cpuCount, ecx: (TOPOLOGY_LEVEL_CORE << 8) | 1, edx: apicId >>> 0 };
      }
      return { ...entry, eax: 0, ebx: 0, ecx: entry.index & 0xff, edx: apicId >>> 0 };
    }
    return entry;
  });
}

/** Encode entries as struct kvm_cpuid2 (header + entries). */
export function encodeCpuid2(entries: readonly CpuidEntry[]): Uint8Array {
  const E = KVM_CPUID_ENTRY2_LAYOUT;
  const buffer = new Uint8Array(KVM_CPUID2_LAYOUT.size + entries.length * E.size);
  const view = new DataView(buffer.buffer);
  view.setUint32(KVM_CPUID2_LAYOUT.fields.nent.offset, entries.length, true);
  entries.forEach((entry, i) => {
    const at = KVM_CPUID2_LAYOUT.fields.entries.offset + i * E.size;
    view.setUint32(at + E.fields.function.offset, entry.function >>> 0, true);
    view.setUint32(at + E.fields.index.offset, entry.index >>> 0, true);
    view.setUint32(at + E.fields.flags.offset, entry.flags >>> 0, true);
    view.setUint32(at + E.fields.eax.offset, entry.eax >>> 0, true);
    view.setUint32(at + E.fields.ebx.offset, entry.ebx >>> 0, true);
    view.setUint32(at + E.fields.ecx.offset, entry.ecx >>> 0, true);
    view.setUint32(at + E.fields.edx.offset, entry.edx >>> 0, true);
  });
  return buffer;
}

/** Decode struct kvm_cpuid2 as filled by KVM_GET_SUPPORTED_CPUID (its `nent` says how many entries are valid). */
export function decodeCpuid2(buffer: Uint8Array): CpuidEntry[] {
  const E = KVM_CPUID_ENTRY2_LAYOUT;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const count = view.getUint32(KVM_CPUID2_LAYOUT.fields.nent.offset, true);
  const capacity = Math.floor((buffer.byteLength - KVM_CPUID2_LAYOUT.size) / E.size);
  if (count > capacity) {
    throw new RangeError(`Cannot decode kvm_cpuid2: nent ${count} exceeds the ${capacity} entries the buffer holds`);
  }
  const entries: CpuidEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = KVM_CPUID2_LAYOUT.fields.entries.offset + i * E.size;
    entries.push({
      function: view.getUint32(at + E.fields.function.offset, true),
      index: view.getUint32(at + E.fields.index.offset, true),
      flags: view.getUint32(at + E.fields.flags.offset, true),
      eax: view.getUint32(at + E.fields.eax.offset, true),
      ebx: view.getUint32(at + E.fields.ebx.offset, true),
      ecx: view.getUint32(at + E.fields.ecx.offset, true),
      edx: view.getUint32(at + E.fields.edx.offset, true),
    });
  }
  return entries;
}
