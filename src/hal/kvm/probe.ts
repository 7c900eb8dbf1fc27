/**
 * Whether KVM can run here, and why not: never throws. The guest architecture comes from the host's (KVM runs
 * guests of its own architecture) through the arch table; then libc must load, /dev/kvm must open, speak API 12
 * and have every capability the generic backend and that arch rely on.
 */
import { EACCES, ENOENT, EPERM, errnoName } from "../../common/errno.ts";
import type { BackendSupport } from "../types.ts";
import { KVM_API_VERSION, KVM_CHECK_EXTENSION, KVM_GENERIC_REQUIRED_CAPS, KVM_GET_API_VERSION } from "./abi.ts";
import { kvmArchForHost } from "./arches.ts";
import type { KvmArch } from "./per-arch.ts";
import * as sys from "./sys.ts";

export const KVM_DEVICE = "/dev/kvm";

/** Guest architectures named for hosts whose KVM arch module is not written yet. */
const PLANNED_GUEST_ARCH: Readonly<Record<string, string>> = { riscv64: "riscv64" };

export interface KvmHost {
  readonly platform: string;
  readonly arch: string;
}

/** The arch module for `host`, or why there is none. */
export function kvmArchFor(host: KvmHost): KvmArch | string {
  if (host.platform !== "linux") return `KVM needs Linux; this host is ${host.platform}`;
  const arch = kvmArchForHost(host.arch);
  if (arch !== undefined) return arch;
  const guest = PLANNED_GUEST_ARCH[host.arch];
  return guest === undefined
    ? `KVM on ${host.arch} hosts is not supported by this backend`
    : `KVM on ${host.arch} hosts runs ${guest} guests, which this backend does not support yet`;
}

/** Capabilities (generic, then the arch's) that `kvmFd` lacks, by name. */
export function missingCapabilities(kvmFd: number, arch: KvmArch): string[] {
  const required = { ...KVM_GENERIC_REQUIRED_CAPS, ...arch.requiredCapabilities };
  return Object.entries(required)
    .filter(([, cap]) => sys.ioctlInt(kvmFd, KVM_CHECK_EXTENSION, cap) <= 0)
    .map(([name]) => name);
}

/** Probe /dev/kvm on this host: never throws; says what is missing. */
export function probeKvm(device = KVM_DEVICE, host: KvmHost = process): BackendSupport {
  const no = (reason: string): BackendSupport => ({ backend: "kvm", available: false, reason, archs: [] });
  const arch = kvmArchFor(host);
  if (typeof arch === "string") return no(arch);
  const libraryProblem = sys.nativeLibraryProblem();
  if (libraryProblem !== undefined) return no(libraryProblem);
  let fd = -1;
  try {
    const opened = sys.tryOpen(device, sys.O_RDWR);
    if (opened.fd < 0) {
      if (opened.errno === ENOENT)
        return no(`no ${device} (the kvm module is not loaded, or this is a VM without nested virtualization)`);
      if (opened.errno === EACCES || opened.errno === EPERM)
        return no(`no permission to open ${device} (add the user to the kvm group)`);
      return no(`cannot open ${device}: ${errnoName(opened.errno)}`);
    }
    fd = opened.fd;
    const version = sys.ioctlInt(fd, KVM_GET_API_VERSION);
    if (version !== KVM_API_VERSION) return no(`${device} speaks KVM API version ${version}, not ${KVM_API_VERSION}`);
    const missing = missingCapabilities(fd, arch);
    if (missing.length > 0) return no(`${device} lacks ${missing.join(", ")}`);
    return {
      backend: "kvm",
      available: true,
      reason: `${device}: KVM API ${version}, all required capabilities present`,
      archs: [arch.guestArch],
    };
  } catch (error) {
    return no(`probing ${device} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (fd >= 0) sys.close(fd);
  }
}
