/**
 * The Linux KVM backend (x86_64 guests on x86_64 hosts).
 *
 * `kvmBackend.hasHardwareSupport()` probes without throwing and names what is missing; `open()` opens /dev/kvm,
 * checks the API version and every capability the backend relies on, and reads the supported CPUID once.
 */
import type { BackendSupport, GuestArch, HalBackend, HalVmOptions, Hypervisor } from "../types.ts";
import { HalError } from "../types.ts";
import {
  KVM_API_VERSION,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_NAMES,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CHECK_EXTENSION,
  KVM_CPUID_ENTRY2_LAYOUT,
  KVM_CPUID2_LAYOUT,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_REQUIRED_CAPS,
} from "./abi.ts";
import { type CpuidEntry, decodeCpuid2 } from "./cpuid.ts";
import * as sys from "./sys.ts";
import { KvmVm, type KvmVmOptions } from "./vm.ts";

export { HYPERCALL_PORT, TRIPLE_FAULT_CODE } from "./exits.ts";
export { KvmVcpu, type KvmVcpuSetup } from "./vcpu.ts";
export { KVM_IDENTITY_MAP_ADDR, KVM_TSS_ADDR, KvmVm, type KvmVmOptions } from "./vm.ts";
export * from "./x86-state.ts";

export const KVM_DEVICE = "/dev/kvm";
/** KVM_GET_SUPPORTED_CPUID fails with E2BIG when the buffer is too small; we start here and grow. */
const CPUID_INITIAL_ENTRIES = 128;
const CPUID_MAX_ENTRIES = 4096;
const E2BIG = 7;

/** Probe /dev/kvm: never throws; says what is missing. */
export function probeKvm(device = KVM_DEVICE): BackendSupport {
  const no = (reason: string): BackendSupport => ({ backend: "kvm", available: false, reason, archs: [] });
  if (process.platform !== "linux") return no(`KVM needs Linux; this host is ${process.platform}`);
  if (process.arch !== "x64")
    return no(`this backend runs x86_64 guests on x86_64 hosts; this host is ${process.arch}`);
  let fd = -1;
  try {
    const opened = sys.tryOpen(device, sys.O_RDWR);
    if (opened.fd < 0) {
      if (opened.errno === sys.ENOENT)
        return no(`no ${device} (the kvm module is not loaded, or this is a VM without nested virtualization)`);
      if (opened.errno === sys.EACCES || opened.errno === sys.EPERM)
        return no(`no permission to open ${device} (add the user to the kvm group)`);
      return no(`cannot open ${device}: ${sys.errnoName(opened.errno)}`);
    }
    fd = opened.fd;
    const version = sys.ioctlInt(fd, KVM_GET_API_VERSION);
    if (version !== KVM_API_VERSION) return no(`${device} speaks KVM API version ${version}, not ${KVM_API_VERSION}`);
    const missing = missingCapabilities(fd);
    if (missing.length > 0) return no(`${device} lacks ${missing.join(", ")}`);
    const archs: GuestArch[] = ["x86_64"];
    return {
      backend: "kvm",
      available: true,
      reason: `${device}: KVM API ${version}, all required capabilities present`,
      archs,
    };
  } catch (error) {
    return no(`probing ${device} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (fd >= 0) sys.close(fd);
  }
}

function missingCapabilities(fd: number): string[] {
  return KVM_REQUIRED_CAPS.filter((cap) => sys.ioctlInt(fd, KVM_CHECK_EXTENSION, cap) <= 0).map(
    (cap) => KVM_CAP_NAMES.get(cap) ?? `capability ${cap}`,
  );
}

function supportedCpuid(fd: number): CpuidEntry[] {
  for (let capacity = CPUID_INITIAL_ENTRIES; capacity <= CPUID_MAX_ENTRIES; capacity *= 2) {
    const buffer = new Uint8Array(KVM_CPUID2_LAYOUT.size + capacity * KVM_CPUID_ENTRY2_LAYOUT.size);
    new DataView(buffer.buffer).setUint32(KVM_CPUID2_LAYOUT.fields.nent.offset, capacity, true);
    try {
      sys.ioctlBuf(fd, KVM_GET_SUPPORTED_CPUID, buffer, buffer.byteLength);
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

/** An open /dev/kvm. VMs it creates stay valid after it is closed (each holds its own fd). */
export class KvmHypervisor implements Hypervisor {
  readonly backend = "kvm" as const;
  readonly #fd: number;
  readonly #mmapSize: number;
  readonly #maxSlots: number;
  readonly #supportedCpuid: readonly CpuidEntry[];
  #closed = false;

  constructor(device = KVM_DEVICE) {
    const support = probeKvm(device);
    if (!support.available) throw new HalError("kvm", "unsupported", "open", support.reason);
    this.#fd = sys.open(device, sys.O_RDWR);
    try {
      this.#mmapSize = sys.ioctlInt(this.#fd, KVM_GET_VCPU_MMAP_SIZE);
      this.#maxSlots = sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
      this.#supportedCpuid = supportedCpuid(this.#fd);
    } catch (error) {
      sys.close(this.#fd);
      throw error;
    }
  }

  /** The CPUID KVM supports on this host, before per-vCPU fix-ups. */
  get supportedCpuid(): readonly CpuidEntry[] {
    return this.#supportedCpuid;
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  checkExtension(capability: number): number {
    this.#checkOpen("checkExtension");
    return sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, capability);
  }

  createVm(options: HalVmOptions & Partial<Pick<KvmVmOptions, "irqchip">>): KvmVm {
    this.#checkOpen("createVm");
    if (options.arch !== "x86_64") {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_CREATE_VM",
        `Cannot create a ${options.arch} VM: this backend runs x86_64 guests`,
      );
    }
    if ((options.mode ?? "hypervisor") !== "hypervisor") {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_CREATE_VM",
        `Cannot create a VM in ${options.mode} mode: KVM only has "hypervisor"`,
      );
    }
    if (!Number.isInteger(options.cpuCount) || options.cpuCount < 1) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_CREATE_VM",
        `Cannot create a VM with ${options.cpuCount} vCPUs`,
      );
    }
    const maxVcpus = sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (maxVcpus > 0 && options.cpuCount > maxVcpus) {
      throw new HalError(
        "kvm",
        "resource",
        "KVM_CREATE_VM",
        `Cannot create a VM with ${options.cpuCount} vCPUs: KVM allows ${maxVcpus}`,
      );
    }
    const vmFd = sys.ioctlInt(this.#fd, KVM_CREATE_VM, 0);
    const vmOptions: KvmVmOptions = {
      vmId: options.vmId,
      cpuCount: options.cpuCount,
      ...(options.irqchip === undefined ? {} : { irqchip: options.irqchip }),
      ...(options.timebaseHz === undefined ? {} : { timebaseHz: options.timebaseHz }),
    };
    return new KvmVm(vmFd, vmOptions, {
      mmapSize: this.#mmapSize,
      maxSlots: this.#maxSlots,
      supportedCpuid: this.#supportedCpuid,
    });
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new HalError("kvm", "state", operation, "Cannot use /dev/kvm: the hypervisor handle is closed");
  }

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    sys.close(this.#fd);
  }
}

/** The backend, typed with its KVM-specific handles (still a `HalBackend`). */
export interface KvmBackend extends HalBackend {
  open(): KvmHypervisor;
}

export const kvmBackend: KvmBackend = {
  name: "kvm",
  hasHardwareSupport: () => probeKvm(),
  open: () => new KvmHypervisor(),
};
