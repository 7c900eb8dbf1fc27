/**
 * CPUID for a vCPU: what KVM_GET_SUPPORTED_CPUID reports, fixed up per vCPU the way Firecracker and kvmtool do so
 * that a guest sees a consistent topology and knows it is virtualized, and the encoding to struct kvm_cpuid2.
 *
 * `fixupCpuid`, `encodeCpuid2` and `decodeCpuid2` are pure data in, data out; `readSupportedCpuid` and
 * `setVcpuCpuid` are the two ioctls.
 */

import {
  CPUID_1_EBX_APIC_ID_SHIFT,
  CPUID_1_EBX_LOGICAL_COUNT_SHIFT,
  CPUID_1_ECX_HYPERVISOR,
  CPUID_1_ECX_TSC_DEADLINE,
  CPUID_1_EDX_HTT,
  CPUID_LEAF_EXT_TOPOLOGY,
  CPUID_LEAF_FEATURES,
  CPUID_LEAF_V2_EXT_TOPOLOGY,
  CPUID_TOPOLOGY_LEVEL_CORE,
  CPUID_TOPOLOGY_LEVEL_SMT,
  CPUID_TOPOLOGY_LEVEL_TYPE_SHIFT,
} from "../../../arch/x86_64/cpuid.ts";
import { E2BIG } from "../../../common/errno.ts";
import { HalError } from "../../types.ts";
import * as sys from "../sys.ts";
import { KVM_CPUID_ENTRY2_LAYOUT, KVM_CPUID2_LAYOUT, KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2 } from "./abi.ts";

export interface CpuidEntry {
  readonly function: number;
  readonly index: number;
  readonly flags: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface CpuidFixup {
  /** The vCPU's APIC id (we use the vCPU index). */
  readonly apicId: number;
  /** Logical processors in the VM (one package, one thread per core). */
  readonly cpuCount: number;
  /**
   * KVM's in-kernel LAPIC emulates TSC-deadline mode (KVM_CAP_TSC_DEADLINE_TIMER): advertise it in leaf 1 ECX.
   * KVM_GET_SUPPORTED_CPUID leaves the bit clear because it describes the CPU, not the LAPIC the VMM chose; without
   * it Linux falls back to calibrating the LAPIC timer against the PIT, which fails under a slow (nested) KVM.
   */
  readonly tscDeadline: boolean;
}

/**
 * Apply the per-vCPU fix-ups: leaf 1 EBX[31:24] = initial APIC id, EBX[23:16] = logical processor count and HTT
 * when there is more than one, ECX.hypervisor = 1, ECX.TSC-deadline as `tscDeadline` says; leaves 0xB/0x1F describe one thread per core and `cpuCount`
 * cores, with EDX = x2APIC id.
 */
export function fixupCpuid(entries: readonly CpuidEntry[], fixup: CpuidFixup): CpuidEntry[] {
  const { apicId, cpuCount, tscDeadline } = fixup;
  // Bits needed to hold a core id: the x2APIC id shift of the package level.
  const coreBits = cpuCount <= 1 ? 0 : Math.ceil(Math.log2(cpuCount));
  return entries.map((entry): CpuidEntry => {
    if (entry.function === CPUID_LEAF_FEATURES) {
      const ebx =
        ((entry.ebx & 0x0000_ffff) |
          ((cpuCount & 0xff) << CPUID_1_EBX_LOGICAL_COUNT_SHIFT) |
          ((apicId & 0xff) << CPUID_1_EBX_APIC_ID_SHIFT)) >>>
        0;
      const edx = cpuCount > 1 ? (entry.edx | CPUID_1_EDX_HTT) >>> 0 : (entry.edx & ~CPUID_1_EDX_HTT) >>> 0;
      const ecx = tscDeadline
        ? entry.ecx | CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE
        : (entry.ecx | CPUID_1_ECX_HYPERVISOR) & ~CPUID_1_ECX_TSC_DEADLINE;
      return { ...entry, ebx, ecx: ecx >>> 0, edx };
    }
    if (entry.function === CPUID_LEAF_EXT_TOPOLOGY || entry.function === CPUID_LEAF_V2_EXT_TOPOLOGY) {
      if (entry.index === 0) {
        return {
          ...entry,
          eax: 0,
          ebx: 1,
          ecx: (CPUID_TOPOLOGY_LEVEL_SMT << CPUID_TOPOLOGY_LEVEL_TYPE_SHIFT) | 0,
          edx: apicId >>> 0,
        };
      }
      if (entry.index === 1) {
        return {
          ...entry,
          eax: coreBits,
          ebx: cpuCount,
          ecx: (CPUID_TOPOLOGY_LEVEL_CORE << CPUID_TOPOLOGY_LEVEL_TYPE_SHIFT) | 1,
          edx: apicId >>> 0,
        };
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

/** KVM_GET_SUPPORTED_CPUID fails with E2BIG when the buffer is too small; we start here and grow. */
const CPUID_INITIAL_ENTRIES = 128;
const CPUID_MAX_ENTRIES = 4096;

/** KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd: the CPUID KVM can offer on this host, before per-vCPU fix-ups. */
export function readSupportedCpuid(kvmFd: number): CpuidEntry[] {
  for (let capacity = CPUID_INITIAL_ENTRIES; capacity <= CPUID_MAX_ENTRIES; capacity *= 2) {
    const buffer = new Uint8Array(KVM_CPUID2_LAYOUT.size + capacity * KVM_CPUID_ENTRY2_LAYOUT.size);
    new DataView(buffer.buffer).setUint32(KVM_CPUID2_LAYOUT.fields.nent.offset, capacity, true);
    try {
      sys.ioctlBuf(kvmFd, KVM_GET_SUPPORTED_CPUID, buffer, buffer.byteLength);
      return decodeCpuid2(buffer);
    } catch (error) {
      if (error instanceof HalError && error.errno === E2BIG) continue;
      throw error;
    }
  }
  throw new HalError(
    "kvm",
    "resource",
    "KVM_GET_SUPPORTED_CPUID",
    `Cannot read the supported CPUID: more than ${CPUID_MAX_ENTRIES} entries`,
  );
}

/** KVM_SET_CPUID2: give vCPU `vcpuFd` the supported CPUID fixed up for it. */
export function setVcpuCpuid(vcpuFd: number, supported: readonly CpuidEntry[], fixup: CpuidFixup): void {
  const encoded = encodeCpuid2(fixupCpuid(supported, fixup));
  sys.ioctlBuf(vcpuFd, KVM_SET_CPUID2, encoded, encoded.byteLength);
}
