/**
 * A scripted backend for tests of the VMM layers: VMs with memory-slot stage 2 over plain ArrayBuffers, and
 * vCPUs (FakeHalVcpu) that return a script of exits.
 */
import type {
  AxVCpuExitReason,
  BackendSupport,
  GuestArch,
  HalBackend,
  HalVm,
  HalVmOptions,
  HostMemory,
  Hypervisor,
} from "../../src/hal/types.ts";
import { FakeHostMemoryAllocator } from "./fake-host-memory.ts";
import { FakeHalVcpu } from "./fake-vcpu.ts";

export class FakeHalVm implements HalVm {
  readonly backend = "emulated" as const;
  readonly arch: GuestArch;
  readonly stage2 = "memory-slots" as const;
  readonly timebaseHz: number;
  readonly allocator = new FakeHostMemoryAllocator();
  readonly slots: Array<{ gpa: number; memory: HostMemory }> = [];
  readonly vcpus: FakeHalVcpu[] = [];
  readonly irqLines = new Map<number, boolean>();
  disposed = false;
  readonly #start = performance.now();
  readonly #scripts: ReadonlyMap<number, AxVCpuExitReason[]>;
  readonly #clock: (() => number) | undefined;

  constructor(
    options: HalVmOptions,
    scripts: ReadonlyMap<number, AxVCpuExitReason[]>,
    clock: (() => number) | undefined = undefined,
  ) {
    this.arch = options.arch;
    this.timebaseHz = options.timebaseHz ?? 10_000_000;
    this.#scripts = scripts;
    this.#clock = clock;
  }
  allocateMemory(size: number, options?: { alignment?: number; hostPhysAddr?: number }): HostMemory {
    return this.allocator.allocate(size, options);
  }
  mapGuestMemory(gpa: number, memory: HostMemory): void {
    this.slots.push({ gpa, memory });
  }
  createVcpu(id: number): FakeHalVcpu {
    const vcpu = new FakeHalVcpu(id, [...(this.#scripts.get(id) ?? [])]);
    this.vcpus.push(vcpu);
    return vcpu;
  }
  setIrqLine(line: number, level: boolean): void {
    this.irqLines.set(line, level);
  }
  currentTime(): number {
    if (this.#clock !== undefined) return this.#clock();
    return Math.floor(((performance.now() - this.#start) * this.timebaseHz) / 1000);
  }
  /** Calls of `pauseClock`/`resumeClock`, in order (the clock itself is the test's). */
  readonly clockEvents: Array<"pause" | "resume"> = [];
  pauseClock(): void {
    this.clockEvents.push("pause");
  }
  resumeClock(): void {
    this.clockEvents.push("resume");
  }
  [Symbol.dispose](): void {
    this.disposed = true;
  }
}

export class FakeBackend implements HalBackend {
  readonly name = "emulated" as const;
  readonly vms: FakeHalVm[] = [];
  /** Exit scripts per VM id, then per vCPU id. */
  readonly scripts = new Map<number, Map<number, AxVCpuExitReason[]>>();
  /** The VMs' clock (`currentTime`, in timebase ticks) when a test drives time itself; real time otherwise. */
  clock: (() => number) | undefined;

  script(vmId: number, vcpuId: number, exits: AxVCpuExitReason[]): this {
    let perVm = this.scripts.get(vmId);
    if (perVm === undefined) {
      perVm = new Map();
      this.scripts.set(vmId, perVm);
    }
    perVm.set(vcpuId, exits);
    return this;
  }
  hasHardwareSupport(): BackendSupport {
    return { backend: "emulated", available: true, reason: "fake backend for tests", archs: ["riscv64", "x86_64"] };
  }
  open(): Hypervisor {
    return {
      backend: "emulated",
      createVm: (options) => {
        const vm = new FakeHalVm(options, this.scripts.get(options.vmId) ?? new Map(), this.clock);
        this.vms.push(vm);
        return vm;
      },
      [Symbol.dispose]: () => undefined,
    };
  }
}
