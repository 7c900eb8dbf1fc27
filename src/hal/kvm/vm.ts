/**
 * A KVM VM, the generic part: its fd, host memory from anonymous mmap, memory slots, the vCPUs and KVM_IRQ_LINE.
 * What KVM needs set up before the first vCPU (x86: TSS and identity-map pages, irqchip, PIT; arm64: the vGIC) is the
 * guest arch's (`KvmArchVm`, created by the hypervisor right after KVM_CREATE_VM).
 */

import type {
  GuestArch,
  GuestPhysAddr,
  HalVm,
  HalVmState,
  HostMemory,
  HostWakeChannel,
  MappingFlagBits,
} from "../types.ts";
import { DEFAULT_TIMEBASE_HZ, HalError, MappingFlags } from "../types.ts";
import {
  KVM_CREATE_VCPU,
  KVM_IRQ_LEVEL_LAYOUT,
  KVM_IRQ_LINE,
  KVM_MEM_READONLY,
  KVM_SET_USER_MEMORY_REGION,
  KVM_USERSPACE_MEMORY_REGION_LAYOUT,
} from "./abi.ts";
import { KvmEventChannels } from "./event-channels.ts";
import type { KvmArchVm, KvmVmOptions } from "./per-arch.ts";
import * as sys from "./sys.ts";
import { KvmVcpu } from "./vcpu.ts";
import { WAKE_SLOTS } from "./wake-protocol.ts";

/** What a VM needs from the hypervisor that created it. */
export interface KvmVmContext {
  readonly mmapSize: number;
  readonly maxSlots: number;
  readonly archVm: KvmArchVm;
  /** KVM has KVM_CAP_IOEVENTFD, KVM_CAP_IRQFD and KVM_CAP_IRQFD_RESAMPLE (and they are not switched off). */
  readonly eventfds: boolean;
}

interface Slot {
  readonly slot: number;
  readonly gpa: number;
  readonly size: number;
}

interface Allocation {
  readonly mapping: sys.Mapping;
  readonly address: number;
  readonly size: number;
}

export class KvmVm implements HalVm {
  readonly backend = "kvm" as const;
  readonly arch: GuestArch;
  readonly stage2 = "memory-slots" as const;
  readonly timebaseHz: number;
  readonly vmId: number;
  readonly cpuCount: number;
  readonly #fd: number;
  readonly #context: KvmVmContext;
  readonly #allocations = new Map<HostMemory, Allocation>();
  readonly #slots: Slot[] = [];
  readonly #vcpus = new Map<number, KvmVcpu>();
  /** When `currentTime()` was 0 (`Bun.nanoseconds()`), moved on by each pause. */
  #startNs = Bun.nanoseconds();
  #pausedAtNs: number | undefined;
  readonly #irqLevel = new Uint8Array(KVM_IRQ_LEVEL_LAYOUT.size);
  readonly #irqLevelView = new DataView(this.#irqLevel.buffer);
  /** How helper threads get a caller-thread vCPU out of KVM_RUN (wake-protocol.ts). */
  readonly #wake = new Int32Array(new SharedArrayBuffer(WAKE_SLOTS * 4));
  readonly #eventChannels: KvmEventChannels | undefined;
  #closed = false;

  /** Takes ownership of `fd`, which the hypervisor created and the arch has set up. */
  constructor(fd: number, options: KvmVmOptions, context: KvmVmContext) {
    this.#fd = fd;
    this.arch = options.arch;
    this.vmId = options.vmId;
    this.cpuCount = options.cpuCount;
    this.timebaseHz = options.timebaseHz ?? DEFAULT_TIMEBASE_HZ;
    this.#context = context;
    const archVm = context.archVm;
    this.#eventChannels =
      context.eventfds && archVm.irqchip
        ? new KvmEventChannels(fd, (line) => archVm.irqfdGsi(line), this.#wake)
        : undefined;
  }

  /** ioeventfd and irqfd channels (HalEventChannels), when KVM has them and the irqchip is in the kernel. */
  get eventChannels(): KvmEventChannels | undefined {
    return this.#eventChannels;
  }

  /** The wake block a host helper thread (a TAP reader) uses to interrupt a caller-thread vCPU's KVM_RUN. */
  get hostWake(): HostWakeChannel {
    return { control: this.#wake.buffer as SharedArrayBuffer };
  }

  /** Whether the interrupt controllers live in the kernel. */
  get irqchip(): boolean {
    return this.#context.archVm.irqchip;
  }

  allocateMemory(size: number, options: { alignment?: number; hostPhysAddr?: number } = {}): HostMemory {
    this.#checkOpen("allocateMemory");
    if (!Number.isSafeInteger(size) || size <= 0 || size % sys.HOST_PAGE_SIZE !== 0) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "allocateMemory",
        `Cannot allocate ${size} bytes: the size must be a positive multiple of 4096`,
      );
    }
    if (options.hostPhysAddr !== undefined) {
      throw new HalError(
        "kvm",
        "resource",
        "allocateMemory",
        `Cannot place memory at host address 0x${options.hostPhysAddr.toString(16)}: KVM memory comes from mmap, which picks the address`,
      );
    }
    const alignment = options.alignment ?? sys.HOST_PAGE_SIZE;
    if (alignment < sys.HOST_PAGE_SIZE || (alignment & (alignment - 1)) !== 0) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "allocateMemory",
        `Cannot align to ${alignment}: the alignment must be a power of two >= 4096`,
      );
    }
    // mmap gives page alignment; a larger one is found inside an over-sized mapping.
    const mapping = sys.mmapAnonymous(alignment > sys.HOST_PAGE_SIZE ? size + alignment : size);
    const address = Math.ceil(mapping.address / alignment) * alignment;
    const bytes = new Uint8Array(mapping.buffer, address - mapping.address, size);
    const memory: HostMemory = {
      bytes,
      hostPhysAddr: address,
      // Hardware virtualization sees host writes directly: nothing to invalidate.
      notifyWritten: (): void => {},
      // Its own anonymous private mapping, unmapped when the VM closes (snapshot memory files may map over it).
      privatePages: true,
    };
    this.#allocations.set(memory, { mapping, address, size });
    return memory;
  }

  mapGuestMemory(gpa: GuestPhysAddr, memory: HostMemory, flags: MappingFlagBits): void {
    this.#checkOpen("mapGuestMemory");
    const allocation = this.#allocations.get(memory);
    if (allocation === undefined) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_SET_USER_MEMORY_REGION",
        "Cannot map memory that this VM did not allocate",
      );
    }
    const size = allocation.size;
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa % sys.HOST_PAGE_SIZE !== 0) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_SET_USER_MEMORY_REGION",
        `Cannot map at GPA 0x${gpa.toString(16)}: not page-aligned`,
      );
    }
    const overlap = this.#slots.find((slot) => gpa < slot.gpa + slot.size && slot.gpa < gpa + size);
    if (overlap !== undefined) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_SET_USER_MEMORY_REGION",
        `Cannot map [0x${gpa.toString(16)}, 0x${(gpa + size).toString(16)}): overlaps slot ${overlap.slot} at [0x${overlap.gpa.toString(16)}, 0x${(overlap.gpa + overlap.size).toString(16)})`,
      );
    }
    if (this.#slots.length >= this.#context.maxSlots) {
      throw new HalError(
        "kvm",
        "resource",
        "KVM_SET_USER_MEMORY_REGION",
        `Cannot map another region: all ${this.#context.maxSlots} memory slots are in use`,
      );
    }
    const slot = this.#slots.length;
    const region = new Uint8Array(KVM_USERSPACE_MEMORY_REGION_LAYOUT.size);
    const view = new DataView(region.buffer);
    const R = KVM_USERSPACE_MEMORY_REGION_LAYOUT.fields;
    view.setUint32(R.slot.offset, slot, true);
    view.setUint32(R.flags.offset, (flags & MappingFlags.WRITE) === 0 ? KVM_MEM_READONLY : 0, true);
    view.setBigUint64(R.guest_phys_addr.offset, BigInt(gpa), true);
    view.setBigUint64(R.memory_size.offset, BigInt(size), true);
    view.setBigUint64(R.userspace_addr.offset, BigInt(allocation.address), true);
    sys.ioctlBuf(this.#fd, KVM_SET_USER_MEMORY_REGION, region);
    this.#slots.push({ slot, gpa, size });
  }

  createVcpu(id: number): KvmVcpu {
    this.#checkOpen("createVcpu");
    if (!Number.isInteger(id) || id < 0 || id >= this.cpuCount) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_CREATE_VCPU",
        `Cannot create vCPU ${id}: the VM was created for ${this.cpuCount} vCPUs`,
      );
    }
    if (this.#vcpus.has(id))
      throw new HalError("kvm", "state", "KVM_CREATE_VCPU", `Cannot create vCPU ${id}: it exists`);
    const vcpuFd = sys.ioctlInt(this.#fd, KVM_CREATE_VCPU, id);
    let vcpu: KvmVcpu;
    try {
      vcpu = new KvmVcpu(id, {
        vcpuFd,
        mmapSize: this.#context.mmapSize,
        cpuCount: this.cpuCount,
        archVm: this.#context.archVm,
        wake: this.#wake,
        beforeFirstRun: () => this.#eventChannels?.start(),
        dispatchHostWork: () => {
          this.#eventChannels?.dispatch();
          const failure = this.#eventChannels?.failure;
          if (failure !== undefined) {
            throw new HalError(
              "kvm",
              "state",
              "event channel",
              `An event channel callback failed: ${String(failure)}`,
              {
                cause: failure,
              },
            );
          }
        },
        onClose: () => this.#vcpus.delete(id),
      });
    } catch (error) {
      sys.close(vcpuFd);
      throw error;
    }
    this.#vcpus.set(id, vcpu);
    return vcpu;
  }

  /**
   * Drive VM interrupt line `line` of the in-kernel irqchip (KVM_IRQ_LINE; x86: a GSI of the PIC/IOAPIC; arm64: an
   * SPI's INTID), encoded by the arch.
   */
  setIrqLine(line: number, level: boolean): void {
    this.#checkOpen("setIrqLine");
    if (!this.irqchip) {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_IRQ_LINE",
        `Cannot drive line ${line}: the VM has no in-kernel irqchip (use the vCPU's setInterruptLevel)`,
      );
    }
    const irq = this.#context.archVm.irqLineField(line);
    this.#irqLevelView.setUint32(KVM_IRQ_LEVEL_LAYOUT.fields.irq.offset, irq, true);
    this.#irqLevelView.setUint32(KVM_IRQ_LEVEL_LAYOUT.fields.level.offset, level ? 1 : 0, true);
    sys.ioctlBuf(this.#fd, KVM_IRQ_LINE, this.#irqLevel);
  }

  /** Monotonic time since the VM was created, in `timebaseHz` ticks (the guest's own clock is its TSC). */
  currentTime(): number {
    const now = this.#pausedAtNs ?? Bun.nanoseconds();
    return Math.floor(((now - this.#startNs) * this.timebaseHz) / 1e9);
  }

  /** The VMM's clock stops, and the guest's where the arch can (x86: kvmclock). */
  pauseClock(): void {
    this.#checkOpen("pauseClock");
    if (this.#pausedAtNs !== undefined) return;
    this.#pausedAtNs = Bun.nanoseconds();
    this.#context.archVm.pauseClock?.();
  }

  resumeClock(): void {
    this.#checkOpen("resumeClock");
    const pausedAt = this.#pausedAtNs;
    if (pausedAt === undefined) return;
    this.#pausedAtNs = undefined;
    this.#startNs += Bun.nanoseconds() - pausedAt;
    this.#context.archVm.resumeClock?.();
  }

  /** Make the VMM's clock read `ticks` now (a restored snapshot's time). */
  setCurrentTime(ticks: number): void {
    const now = this.#pausedAtNs ?? Bun.nanoseconds();
    this.#startNs = now - (ticks * 1e9) / this.timebaseHz;
  }

  /** The arch's VM-level state (x86: kvmclock, irqchip, PIT; arm64: the counter, the vGIC). */
  saveState(): HalVmState {
    this.#checkOpen("saveState");
    return this.#context.archVm.saveState();
  }

  loadState(state: HalVmState): void {
    this.#checkOpen("loadState");
    this.#context.archVm.loadState(state);
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw new HalError("kvm", "state", operation, `Cannot use VM ${this.vmId}: it is closed`);
  }

  [Symbol.dispose](): void {
    if (this.#closed) return;
    for (const vcpu of [...this.#vcpus.values()]) vcpu[Symbol.dispose]();
    this.#closed = true;
    this.#eventChannels?.close();
    try {
      this.#context.archVm.close?.();
    } finally {
      sys.close(this.#fd);
    }
    // Memory goes after the VM fd: the kernel drops its slots with the VM.
    for (const allocation of this.#allocations.values()) sys.munmap(allocation.mapping);
    this.#allocations.clear();
  }
}
