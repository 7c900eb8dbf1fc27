/**
 * The x86 part of the KVM system and VM: the supported CPUID read once per /dev/kvm, and what KVM needs before the
 * first vCPU of an x86 VM: the identity-map and TSS pages (Intel real-mode emulation), the in-kernel PIC/IOAPIC/
 * LAPIC and the PIT (Firecracker's order: TSS, identity map, irqchip, PIT2).
 */

import { X86_PAGE_SIZE } from "../../../arch/x86_64/paging.ts";
import { TWO_POW_32 } from "../../../common/u64.ts";
import { HalError, type HalVmState, X86_PRIVATE_PAGES_SIZE } from "../../types.ts";
import { KVM_CHECK_EXTENSION } from "../abi.ts";
import type { KvmArchSystem, KvmArchVm, KvmVcpuCore, KvmVmOptions } from "../per-arch.ts";
import * as sys from "../sys.ts";
import {
  KVM_CAP_TSC_DEADLINE_TIMER,
  KVM_CLOCK_DATA_LAYOUT,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2,
  KVM_GET_CLOCK,
  KVM_PIT_CONFIG_LAYOUT,
  KVM_PIT_SPEAKER_DUMMY,
  KVM_SET_CLOCK,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_TSS_ADDR,
} from "./abi.ts";
import { type CpuidEntry, readSupportedCpuid } from "./cpuid.ts";
import { loadVmState, saveVmState } from "./state.ts";
import { X86KvmVcpu } from "./vcpu.ts";

/** The 8259 PIC + IOAPIC have 24 GSIs. */
export const KVM_IRQCHIP_GSI_COUNT = 24;
/** KVM_CREATE_VM's machine type on x86: the only one. */
const X86_VM_TYPE_DEFAULT = 0;

/** Where the private pages go inside the board's range: the identity-map page, then the 3-page TSS. */
export function privatePageAddresses(base: number): { readonly identityMap: number; readonly tss: number } {
  return { identityMap: base, tss: base + X86_PAGE_SIZE };
}

/** Check `options.x86` of an x86 VM and return the private pages' base. */
export function checkPrivatePages(options: KvmVmOptions): number {
  const base = options.x86?.privatePagesBase;
  if (base === undefined) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "KVM_CREATE_VM",
      `Cannot create an x86_64 VM without x86.privatePagesBase: KVM needs ${X86_PRIVATE_PAGES_SIZE / X86_PAGE_SIZE} pages of guest-physical space the guest never uses (the board's layout reserves them)`,
    );
  }
  if (
    !Number.isSafeInteger(base) ||
    base < 0 ||
    base % X86_PAGE_SIZE !== 0 ||
    base + X86_PRIVATE_PAGES_SIZE > TWO_POW_32
  ) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "KVM_CREATE_VM",
      `Cannot put KVM's private pages at 0x${base.toString(16)}: the ${X86_PRIVATE_PAGES_SIZE / X86_PAGE_SIZE} pages must be page-aligned and below 4 GiB`,
    );
  }
  return base;
}

/** What every vCPU's CPUID is built from: KVM's supported CPUID and what its in-kernel LAPIC can do. */
export interface X86CpuidSource {
  readonly supportedCpuid: readonly CpuidEntry[];
  /** KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC emulates TSC-deadline mode. */
  readonly tscDeadline: boolean;
}

export class X86KvmSystem implements KvmArchSystem, X86CpuidSource {
  /** The CPUID KVM supports on this host, before per-vCPU fix-ups. */
  readonly supportedCpuid: readonly CpuidEntry[];
  readonly tscDeadline: boolean;

  constructor(kvmFd: number) {
    this.supportedCpuid = readSupportedCpuid(kvmFd);
    this.tscDeadline = sys.ioctlInt(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  }

  vmType(options: KvmVmOptions): number {
    checkPrivatePages(options);
    return X86_VM_TYPE_DEFAULT;
  }

  setupVm(vmFd: number, options: KvmVmOptions): X86KvmVm {
    const pages = privatePageAddresses(checkPrivatePages(options));
    const irqchip = options.irqchip ?? true;
    // Both must precede the first vCPU (KVM refuses the identity map afterwards).
    sys.ioctlInt(vmFd, KVM_SET_TSS_ADDR, pages.tss);
    const identity = new BigUint64Array([BigInt(pages.identityMap)]);
    sys.ioctlBuf(vmFd, KVM_SET_IDENTITY_MAP_ADDR, new Uint8Array(identity.buffer));
    if (irqchip) {
      sys.ioctlInt(vmFd, KVM_CREATE_IRQCHIP);
      const pit = new Uint8Array(KVM_PIT_CONFIG_LAYOUT.size);
      new DataView(pit.buffer).setUint32(KVM_PIT_CONFIG_LAYOUT.fields.flags.offset, KVM_PIT_SPEAKER_DUMMY, true);
      sys.ioctlBuf(vmFd, KVM_CREATE_PIT2, pit);
    }
    return new X86KvmVm(vmFd, irqchip, this);
  }
}

export class X86KvmVm implements KvmArchVm {
  readonly irqchip: boolean;
  readonly #vmFd: number;
  readonly #cpuid: X86CpuidSource;
  readonly #clockData = new Uint8Array(KVM_CLOCK_DATA_LAYOUT.size);
  readonly #clockView = new DataView(this.#clockData.buffer);
  /** kvmclock (ns) when the VM was paused, set back on resume. */
  #pausedClock: bigint | undefined;

  constructor(vmFd: number, irqchip: boolean, cpuid: X86CpuidSource) {
    this.#vmFd = vmFd;
    this.irqchip = irqchip;
    this.#cpuid = cpuid;
  }

  /**
   * The guest's kvm-clock stops while paused: KVM_GET_CLOCK now, KVM_SET_CLOCK to the same value on resume (what
   * QEMU does on stop/cont). The TSC itself keeps counting; a guest on the TSC clocksource sees the interval.
   */
  pauseClock(): void {
    if (this.#pausedClock !== undefined) return;
    this.#clockData.fill(0);
    sys.ioctlBuf(this.#vmFd, KVM_GET_CLOCK, this.#clockData);
    this.#pausedClock = this.#clockView.getBigUint64(KVM_CLOCK_DATA_LAYOUT.fields.clock.offset, true);
  }

  resumeClock(): void {
    const clock = this.#pausedClock;
    if (clock === undefined) return;
    this.#pausedClock = undefined;
    this.#clockData.fill(0);
    this.#clockView.setBigUint64(KVM_CLOCK_DATA_LAYOUT.fields.clock.offset, clock, true);
    sys.ioctlBuf(this.#vmFd, KVM_SET_CLOCK, this.#clockData);
  }

  /** kvmclock and the in-kernel PICs, IOAPIC and PIT (state.ts). */
  saveState(): HalVmState {
    return saveVmState(this.#vmFd, this.irqchip, this.#pausedClock);
  }

  loadState(state: HalVmState): void {
    loadVmState(this.#vmFd, this.irqchip, state);
  }

  /** An irqfd names the GSI itself. */
  irqfdGsi(line: number): number {
    return this.irqLineField(line);
  }

  /** x86 lines are GSIs of the in-kernel PIC/IOAPIC, passed to KVM_IRQ_LINE as they are. */
  irqLineField(line: number): number {
    if (!Number.isInteger(line) || line < 0 || line >= KVM_IRQCHIP_GSI_COUNT) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_IRQ_LINE",
        `Cannot drive GSI ${line}: the in-kernel irqchip has GSIs 0..${KVM_IRQCHIP_GSI_COUNT - 1}`,
      );
    }
    return line;
  }

  createVcpu(core: KvmVcpuCore): X86KvmVcpu {
    // The TSC-deadline timer lives in the in-kernel LAPIC: without the irqchip there is none to advertise.
    const tscDeadline = this.irqchip && this.#cpuid.tscDeadline;
    return new X86KvmVcpu(core, { irqchip: this.irqchip, supportedCpuid: this.#cpuid.supportedCpuid, tscDeadline });
  }
}
