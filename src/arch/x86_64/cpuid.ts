/**
 * CPUID leaves and bits a VMM adjusts per vCPU (Intel SDM vol. 2A, "CPUID—CPU Identification": table "Information
 * Returned by CPUID Instruction" and figures for leaf 1 ECX/EDX). Leaf 1 ECX bit 31 is reserved by Intel and AMD for
 * hypervisors to report themselves.
 */

/** Leaf 1: version and feature information. */
export const CPUID_LEAF_FEATURES = 0x1;
/** Leaf 0xB: extended topology enumeration. */
export const CPUID_LEAF_EXT_TOPOLOGY = 0xb;
/** Leaf 0x1F: V2 extended topology enumeration. */
export const CPUID_LEAF_V2_EXT_TOPOLOGY = 0x1f;
/**
 * Leaf 1 ECX bit 24: TSC-deadline mode of the local APIC timer (IA32_TSC_DEADLINE, MSR 0x6e0). Hardware CPUID says
 * nothing about a virtual LAPIC, so KVM leaves it to the VMM, which sets it when its in-kernel LAPIC emulates the
 * mode (KVM_CAP_TSC_DEADLINE_TIMER).
 */
export const CPUID_1_ECX_TSC_DEADLINE = 1 << 24;
/** Leaf 1 ECX bit 31: a hypervisor is present. */
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;
/** Leaf 1 EDX bit 28: HTT, "EBX[23:16] (logical processors per package) is valid". */
export const CPUID_1_EDX_HTT = 1 << 28;
/** Leaf 1 EBX[31:24]: initial APIC id. */
export const CPUID_1_EBX_APIC_ID_SHIFT = 24;
/** Leaf 1 EBX[23:16]: maximum addressable logical processor ids in the package. */
export const CPUID_1_EBX_LOGICAL_COUNT_SHIFT = 16;
/** Leaf 0xB/0x1F ECX[15:8]: the level type. */
export const CPUID_TOPOLOGY_LEVEL_TYPE_SHIFT = 8;
export const CPUID_TOPOLOGY_LEVEL_SMT = 1;
export const CPUID_TOPOLOGY_LEVEL_CORE = 2;
