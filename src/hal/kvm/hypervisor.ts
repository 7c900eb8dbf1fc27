/**
 * An open /dev/kvm (kvm-ioctls' `Kvm`): checks the API version and every capability the backend and the host's
 * guest arch rely on, lets the arch read what it needs once (x86: the supported CPUID), and creates VMs. VMs it
 * creates stay valid after it is closed (each holds its own fd).
 */
import type { Hypervisor } from "../types.ts";
import { HalError } from "../types.ts";
import {
  KVM_CAP_IOEVENTFD,
  KVM_CAP_IRQFD,
  KVM_CAP_IRQFD_RESAMPLE,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_GET_VCPU_MMAP_SIZE,
} from "./abi.ts";
import type { KvmArch, KvmArchSystem, KvmArchVm, KvmVmOptions } from "./per-arch.ts";
import { KVM_DEVICE, kvmArchFor, probeKvm } from "./probe.ts";
import * as sys from "./sys.ts";
import { KvmVm } from "./vm.ts";

export class KvmHypervisor implements Hypervisor {
  readonly backend = "kvm" as const;
  /** The guest arch module of this host. */
  readonly kvmArch: KvmArch;
  /** Its host-wide state (x86: `x86System(hypervisor)` in x86_64/ reads the supported CPUID from it). */
  readonly archSystem: KvmArchSystem;
  readonly #fd: number;
  readonly #mmapSize: number;
  readonly #maxSlots: number;
  #closed = false;

  constructor(device = KVM_DEVICE) {
    const support = probeKvm(device);
    if (!support.available) throw new HalError("kvm", "unsupported", "open", support.reason);
    const arch = kvmArchFor(process);
    if (typeof arch === "string") throw new HalError("kvm", "unsupported", "open", arch);
    this.kvmArch = arch;
    this.#fd = sys.open(device, sys.O_RDWR);
    try {
      this.#mmapSize = sys.ioctlInt(this.#fd, KVM_GET_VCPU_MMAP_SIZE);
      this.#maxSlots = sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
      this.archSystem = arch.openSystem(this.#fd);
    } catch (error) {
      sys.close(this.#fd);
      throw error;
    }
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  checkExtension(capability: number): number {
    this.#checkOpen("checkExtension");
    return sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, capability);
  }

  createVm(options: KvmVmOptions): KvmVm {
    this.#checkOpen("createVm");
    const guestArch = this.kvmArch.guestArch;
    if (options.arch !== guestArch) {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_CREATE_VM",
        `Cannot create a ${options.arch} VM: this backend runs ${guestArch} guests`,
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
    const vmFd = sys.ioctlInt(this.#fd, KVM_CREATE_VM, this.archSystem.vmType(options));
    let archVm: KvmArchVm;
    try {
      archVm = this.archSystem.setupVm(vmFd, options);
    } catch (error) {
      sys.close(vmFd);
      throw error;
    }
    // AXVISOR_KVM_EVENTFDS=0 keeps every notification and interrupt on the exit path (a diagnostic switch, and the
    // benchmark's before/after comparison).
    const eventfds =
      process.env.AXVISOR_KVM_EVENTFDS !== "0" &&
      [KVM_CAP_IOEVENTFD, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE].every(
        (cap) => sys.ioctlInt(this.#fd, KVM_CHECK_EXTENSION, cap) > 0,
      );
    return new KvmVm(vmFd, options, { mmapSize: this.#mmapSize, maxSlots: this.#maxSlots, archVm, eventfds });
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
