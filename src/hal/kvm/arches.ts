/**
 * The KVM backend's arch table: which guest architecture module runs on which host. KVM runs guests of the host's
 * own architecture, so the key is the host's `process.arch`. This is the only generic file of the backend that
 * imports a per-arch folder (scripts/lint-imports.ts enforces it); adding an architecture is a folder and a line
 * here.
 */

import type { KvmArch } from "./per-arch.ts";
import { X86_64_KVM } from "./x86_64/index.ts";

export const KVM_ARCHES: Readonly<Partial<Record<NodeJS.Architecture, KvmArch>>> = {
  x64: X86_64_KVM,
};

/** The arch module for a host, or undefined when this backend has none for it. */
export function kvmArchForHost(hostArch: string): KvmArch | undefined {
  return Object.hasOwn(KVM_ARCHES, hostArch) ? KVM_ARCHES[hostArch as NodeJS.Architecture] : undefined;
}
