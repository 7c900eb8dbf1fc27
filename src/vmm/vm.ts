/**
 * One virtual machine (axvm's `AxVM`): its address space, buses and devices (through its machine), vCPUs, and
 * the per-vCPU exit loops.
 *
 * Status: Loading (created) → Loaded (`init`: memory, devices, vCPUs, images) → Running (`boot`) →
 * Stopping (`shutdown` or a guest request) → Stopped. Suspended is a paused Running VM (`pause`/`resume`).
 *
 * `runVcpu(id)` runs a vCPU and handles, inside, every exit the VM can answer by itself: MMIO, port and
 * system-register accesses (through the buses, honouring width and sign extension, with the unmapped-access
 * policy) and the machine's architecture-specific exits (SBI). It returns the rest (Halt, CpuUp, CpuDown,
 * SystemDown, Hypercall, FailEntry, SendIPI, Nothing, ...), which `run()`'s per-vCPU loops dispatch as axvisor's
 * VMM does. Everything runs on one JS thread; backends whose `run` blocks (KVM) run the guest on a Worker and are
 * awaited, so device state is only ever touched from this thread.
 */

import { type ConsolaInstance, consola } from "consola";
import { AddrSpace } from "../addrspace/addr-space.ts";
import type { GuestMemory } from "../addrspace/guest-memory.ts";
import { hex } from "../common/format.ts";
import { Bus } from "../devices/bus.ts";
import type {
  AccessWidth,
  AxVCpuExitReason,
  GuestPhysAddr,
  HalVm,
  Hypervisor,
  Stage2Table,
  SystemDownAction,
} from "../hal/types.ts";
import { assertNever } from "../hal/types.ts";
import { AxVCpu } from "../vcpu/axvcpu.ts";
import type { Board, BoardServices, VcpuBoot } from "./board.ts";
import type { VmConfig } from "./config/types.ts";
import type { ConsoleOutput } from "./console.ts";
import { errorMessage, VmError } from "./errors.ts";
import { TimerWheel } from "./timer.ts";

export type VmStatus = "Loading" | "Loaded" | "Running" | "Suspended" | "Stopping" | "Stopped";

/** How a VM ended. */
export interface VmResult {
  readonly vmId: number;
  readonly name: string;
  /** What stopped it: a guest request, the host (`shutdown()`), or an error. */
  readonly reason: SystemDownAction | "host-stop" | "error";
  /** 0 = success. A guest poweroff carries the guest's code; errors give 1; host stops give 130 (SIGINT style). */
  readonly exitCode: number;
  readonly error?: VmError;
}

export interface AxVMOptions {
  readonly hypervisor: Hypervisor;
  readonly board: Board;
  readonly console: ConsoleOutput;
  readonly log?: ConsolaInstance;
  /** Called with one line per exit (`--trace-exits`); nothing is formatted when absent. */
  readonly traceExits?: (line: string) => void;
  /** Run at most this long (ms) before yielding to the event loop. */
  readonly sliceMs?: number;
}

/** Counters per VM. */
export interface VmStats {
  exits: Record<string, number>;
  unmappedMmioReads: number;
  unmappedMmioWrites: number;
  unmappedPortReads: number;
  unmappedPortWrites: number;
  badDeviceAccesses: number;
}

/**
 * Hypercall number 1 belongs to the VMM: "exit(status)" stops the VM with exit code status & 0xff. Every other
 * number goes to the embedder's handler (`onHypercall`). RISC-V: SBI extension 0x485643, FID = number, a0..a5 =
 * arguments; x86 (KVM): `out` to port 0x0cf0 with RAX = number, RDI, RSI, RCX, RBX, R8, R9 = arguments.
 */
export const HYPERCALL_EXIT = 1n;

const WIDTH_ONES: Record<AccessWidth, bigint> = { 1: 0xffn, 2: 0xffffn, 4: 0xffff_ffffn, 8: 0xffff_ffff_ffff_ffffn };
/** Handled exits in a row after which `runVcpu` returns `Nothing` anyway, so one vCPU cannot starve the loop. */
const INTERNAL_EXIT_BATCH = 256;
/** Distinct unmapped pages we warn about before going quiet (the counters keep counting). */
const UNMAPPED_WARNINGS = 8;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class AxVM {
  readonly id: number;
  readonly name: string;
  readonly config: VmConfig;
  readonly label: string;
  readonly stats: VmStats = {
    exits: {},
    unmappedMmioReads: 0,
    unmappedMmioWrites: 0,
    unmappedPortReads: 0,
    unmappedPortWrites: 0,
    badDeviceAccesses: 0,
  };

  readonly #options: AxVMOptions;
  readonly #board: Board;
  readonly #log: ConsolaInstance;
  readonly #timers = new TimerWheel();
  readonly #mmio = new Bus("mmio");
  readonly #port = new Bus("port");
  readonly #sysreg = new Bus("sysreg");
  #status: VmStatus = "Loading";
  #halVm: HalVm | undefined;
  #addrSpace: AddrSpace | undefined;
  #vcpus: AxVCpu[] = [];
  #boot: VcpuBoot[] = [];
  #online: boolean[] = [];
  #wakers: Array<(() => void) | undefined> = [];
  #resumeWaiters: Array<() => void> = [];
  #warnedPages = new Set<number>();
  #result: VmResult | undefined;
  #released = false;
  #hypercallHandler: ((vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined) | undefined;

  constructor(config: VmConfig, options: AxVMOptions) {
    this.id = config.id;
    this.name = config.name;
    this.config = config;
    this.label = `vm ${config.id} (${config.name})`;
    this.#options = options;
    this.#board = options.board;
    this.#log = options.log ?? consola.withTag(`vm${config.id}`);
  }

  get status(): VmStatus {
    return this.#status;
  }

  get vcpuCount(): number {
    return this.#vcpus.length;
  }

  /** The VM's guest memory (after `init`). */
  get memory(): GuestMemory {
    return this.#requireAddrSpace().guestMemory;
  }

  get buses(): { readonly mmio: Bus; readonly port: Bus; readonly sysreg: Bus } {
    return { mmio: this.#mmio, port: this.#port, sysreg: this.#sysreg };
  }

  get board(): Board {
    return this.#board;
  }

  vcpu(id: number): AxVCpu {
    const vcpu = this.#vcpus[id];
    if (vcpu === undefined) throw new VmError("state", this.label, `no vCPU ${id} (the VM has ${this.#vcpus.length})`);
    return vcpu;
  }

  /** Answer axvisor hypercalls (EID 0x485643 on RISC-V); return undefined for "not supported". */
  onHypercall(handler: (vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined): void {
    this.#hypercallHandler = handler;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------------------------

  /** Loading → Loaded: create memory, devices and vCPUs, and load the images. */
  init(): void {
    this.#expectStatus("init", "Loading");
    try {
      const vmOptions = this.#board.vmOptions(this.config);
      const halVm = this.#options.hypervisor.createVm({ ...vmOptions, vmId: this.id });
      this.#halVm = halVm;
      this.#addrSpace = AddrSpace.create(halVm, this.#board.memoryRegions(this.config), {
        physicalMap: vmOptions.mode === "bare-machine",
        ...(vmOptions.gstageMode === undefined ? {} : { gstageMode: vmOptions.gstageMode }),
      });
      for (let id = 0; id < this.config.cpuNum; id++) {
        const physCpuSet = this.config.physCpuSets?.[id];
        const physCpu = this.config.physCpuIds?.[id];
        this.#vcpus.push(
          new AxVCpu(
            {
              id,
              vmId: this.id,
              ...(physCpu === undefined ? {} : { favorPhysCpu: physCpu }),
              ...(physCpuSet === undefined ? {} : { physCpuSet: BigInt(physCpuSet) }),
            },
            halVm.createVcpu(id),
          ),
        );
        this.#online.push(false);
        this.#wakers.push(undefined);
      }
      const services = this.#services();
      this.#board.attach(services);
      this.#boot = this.#board.load(services);
      if (this.#boot.length !== this.#vcpus.length) {
        throw new VmError(
          "state",
          this.label,
          `board ${this.#board.name} planned ${this.#boot.length} vCPUs for ${this.#vcpus.length}`,
        );
      }
      const stage2 = this.#addrSpace.stage2();
      for (const [id, vcpu] of this.#vcpus.entries()) {
        const boot = this.#boot[id];
        if (boot === undefined) continue;
        vcpu.setup(boot.entry, stage2 === undefined ? boot.setup : { ...boot.setup, stage2 });
        vcpu.bind();
      }
    } catch (error) {
      this.#status = "Stopped";
      this.#release();
      throw error instanceof VmError
        ? error
        : new VmError(classify(error), this.label, `cannot initialise: ${errorMessage(error)}`, { cause: error });
    }
    this.#status = "Loaded";
  }

  /** Loaded → Running: the boot vCPUs become runnable. `run()` drives them. */
  boot(): void {
    this.#expectStatus("boot", "Loaded");
    for (const [id, boot] of this.#boot.entries()) this.#online[id] = boot.startsRunning;
    this.#status = "Running";
  }

  /** Run every vCPU until the VM stops. Resolves with how it ended; never rejects. */
  async run(): Promise<VmResult> {
    if (this.#status === "Loaded") this.boot();
    if (this.#status !== "Running") {
      return this.#finish({
        reason: "error",
        exitCode: 1,
        error: new VmError("state", this.label, `cannot run: the VM is ${this.#status}`),
      });
    }
    await Promise.all(this.#vcpus.map((_, id) => this.#vcpuLoop(id)));
    // #finish keeps the result recorded when the VM was stopped.
    return this.#finish({ reason: "host-stop", exitCode: 130 });
  }

  /** Ask the VM to stop (from the host). Running vCPUs stop at their next exit. */
  shutdown(): void {
    this.#stop({ reason: "host-stop", exitCode: 130 });
  }

  shuttingDown(): boolean {
    return this.#status === "Stopping" || this.#status === "Stopped";
  }

  pause(): void {
    if (this.#status !== "Running") return;
    this.#status = "Suspended";
    for (const vcpu of this.#vcpus) vcpu.arch.kick();
  }

  resume(): void {
    if (this.#status !== "Suspended") return;
    this.#status = "Running";
    for (const wake of this.#resumeWaiters.splice(0)) wake();
    for (let id = 0; id < this.#vcpus.length; id++) this.#wake(id);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Memory (axvm API)
  // ------------------------------------------------------------------------------------------------------------

  /** The nested page table (hgatp root and mode), or undefined for backends with memory slots. */
  stage2(): Stage2Table | undefined {
    return this.#addrSpace?.stage2();
  }

  getImageLoadRegion(gpa: GuestPhysAddr, size: number): Uint8Array[] {
    return this.#requireAddrSpace().getImageLoadRegion(gpa, size);
  }

  readFromGuest(gpa: GuestPhysAddr, length: number): Uint8Array {
    return this.memory.read(gpa, length);
  }

  writeToGuest(gpa: GuestPhysAddr, data: Uint8Array): void {
    this.memory.write(gpa, data);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Exits
  // ------------------------------------------------------------------------------------------------------------

  /** Run vCPU `id`, handling MMIO/port/sysreg/arch exits inside; returns the exits the VMM must act on. */
  runVcpu(id: number): AxVCpuExitReason {
    const vcpu = this.vcpu(id);
    for (let handled = 0; handled < INTERNAL_EXIT_BATCH; handled++) {
      const exit = vcpu.run();
      const rest = this.#handleInternal(vcpu, exit);
      if (rest !== undefined) return rest;
    }
    return { kind: "Nothing" };
  }

  /** `runVcpu` for backends that run the guest on another thread. */
  async runVcpuAsync(id: number): Promise<AxVCpuExitReason> {
    const vcpu = this.vcpu(id);
    for (let handled = 0; handled < INTERNAL_EXIT_BATCH; handled++) {
      const exit = await vcpu.runAsync();
      const rest = this.#handleInternal(vcpu, exit);
      if (rest !== undefined) return rest;
    }
    return { kind: "Nothing" };
  }

  /** Returns undefined when the exit was handled and the vCPU can go on. */
  #handleInternal(vcpu: AxVCpu, exit: AxVCpuExitReason): AxVCpuExitReason | undefined {
    if (this.#options.traceExits !== undefined) this.#trace(this.#options.traceExits, vcpu.id, exit);
    switch (exit.kind) {
      case "MmioRead": {
        vcpu.setReturnValue(this.#busRead(this.#mmio, exit.addr, exit.width, vcpu.id));
        return undefined;
      }
      case "MmioWrite":
        this.#busWrite(this.#mmio, exit.addr, exit.width, exit.data, vcpu.id);
        return undefined;
      case "IoRead":
        vcpu.setReturnValue(this.#busRead(this.#port, exit.port, exit.width, vcpu.id));
        return undefined;
      case "IoWrite":
        this.#busWrite(this.#port, exit.port, exit.width, exit.data, vcpu.id);
        return undefined;
      case "SysRegRead":
        vcpu.setReturnValue(this.#busRead(this.#sysreg, exit.addr, 8, vcpu.id));
        return undefined;
      case "SysRegWrite":
        this.#busWrite(this.#sysreg, exit.addr, 8, exit.value, vcpu.id);
        return undefined;
      case "SbiCall":
        return this.#board.handleExit(vcpu.id, exit);
      default:
        return exit;
    }
  }

  #busRead(bus: Bus, addr: number, width: AccessWidth, vcpuId: number): bigint {
    const result = bus.read(addr, width);
    switch (result.kind) {
      case "ok":
        return result.value;
      case "bad-access":
        this.stats.badDeviceAccesses++;
        return 0n;
      case "unmapped":
        return this.#unmapped(bus, "read", addr, width, vcpuId);
    }
  }

  #busWrite(bus: Bus, addr: number, width: AccessWidth, value: bigint, vcpuId: number): void {
    const result = bus.write(addr, width, value);
    if (result.kind === "bad-access") this.stats.badDeviceAccesses++;
    else if (result.kind === "unmapped") this.#unmapped(bus, "write", addr, width, vcpuId);
  }

  /**
   * The unmapped-access policy. "ignore" (default): MMIO reads give what the machine's bus floats to (zeros or
   * all ones), port reads all ones (a PC's), writes are dropped; counted, with a warning for the first few pages. "fault": the VM stops with an error
   * naming the address (a guest bug we want to see, not paper over).
   */
  #unmapped(bus: Bus, access: "read" | "write", addr: number, width: AccessWidth, vcpuId: number): bigint {
    const isPort = bus.space === "port";
    if (isPort) {
      if (access === "read") this.stats.unmappedPortReads++;
      else this.stats.unmappedPortWrites++;
    } else if (access === "read") this.stats.unmappedMmioReads++;
    else this.stats.unmappedMmioWrites++;
    const what = `${width}-byte ${bus.space} ${access} at ${hex(addr)} by vCPU ${vcpuId}`;
    if (this.config.devices.unmappedMmio === "fault" && !isPort) {
      this.#stop({
        reason: "error",
        exitCode: 1,
        error: new VmError("guest", this.label, `${what} hits no device (unmapped_mmio = "fault")`),
      });
    } else {
      const page = Math.floor(addr / 0x1000);
      if (!isPort && this.#warnedPages.size < UNMAPPED_WARNINGS && !this.#warnedPages.has(page)) {
        this.#warnedPages.add(page);
        this.#log.warn(
          `${this.label}: ${what} hits no device; ${access === "read" ? "reading 0" : "ignored"} (further accesses are only counted)`,
        );
      }
    }
    if (access === "write") return 0n;
    return isPort || this.#board.unmappedRead === "ones" ? WIDTH_ONES[width] : 0n;
  }

  #trace(sink: (line: string) => void, vcpuId: number, exit: AxVCpuExitReason): void {
    this.stats.exits[exit.kind] = (this.stats.exits[exit.kind] ?? 0) + 1;
    if (exit.kind === "Nothing") return;
    sink(
      `[${this.label} vcpu${vcpuId}] exit ${JSON.stringify(exit, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : typeof v === "number" && (_k === "addr" || _k === "port") ? hex(v) : v))}`,
    );
  }

  // ------------------------------------------------------------------------------------------------------------
  // The per-vCPU loop (axvisor vmm/vcpus.rs)
  // ------------------------------------------------------------------------------------------------------------

  async #vcpuLoop(id: number): Promise<void> {
    const async = this.vcpu(id).arch.runAsync !== undefined;
    const sliceMs = this.#options.sliceMs ?? 4;
    let sliceStart = performance.now();
    try {
      while (!this.shuttingDown()) {
        if (this.#status === "Suspended") {
          await new Promise<void>((resolve) => this.#resumeWaiters.push(resolve));
          continue;
        }
        if (!this.#online[id]) {
          await this.#sleep(id, undefined);
          continue;
        }
        this.#timers.runDue(this.#now());
        this.#board.poll?.();
        const exit = async ? await this.runVcpuAsync(id) : this.runVcpu(id);
        await this.#dispatch(id, exit);
        if (performance.now() - sliceStart >= sliceMs) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
    } catch (error) {
      this.#stop({
        reason: "error",
        exitCode: 1,
        error: new VmError(classify(error), this.label, `vCPU ${id} failed: ${errorMessage(error)}`, { cause: error }),
      });
    }
  }

  async #dispatch(id: number, exit: AxVCpuExitReason): Promise<void> {
    switch (exit.kind) {
      case "Nothing":
      case "ExternalInterrupt":
        return;
      case "Halt":
        await this.#waitForInterrupt(id);
        return;
      case "CpuUp": {
        const target = this.#vcpus[exit.targetCpu];
        if (target === undefined) {
          this.#log.warn(`${this.label}: vCPU ${id} asked to start vCPU ${exit.targetCpu}, which does not exist`);
          return;
        }
        this.#board.startVcpu(target, exit.entryPoint, exit.arg);
        this.#online[exit.targetCpu] = true;
        this.#wake(exit.targetCpu);
        return;
      }
      case "CpuDown":
        this.#online[id] = false;
        return;
      case "SystemDown":
        this.#systemDown(exit.action, exit.code);
        return;
      case "Hypercall": {
        if (exit.nr === HYPERCALL_EXIT) {
          // axvisor-ts's own hypercall: the guest ends its VM with a status (0 = success), on every architecture.
          this.#stop({ reason: "poweroff", exitCode: Number(BigInt.asUintN(8, exit.args[0])) });
          return;
        }
        const result = this.#hypercallHandler?.(id, exit.nr, exit.args);
        this.#board.completeHypercall(this.vcpu(id), result);
        if (result === undefined) this.#log.debug(`${this.label}: hypercall ${exit.nr} not handled`);
        return;
      }
      case "SendIPI": {
        // Backends with an in-kernel interrupt controller deliver IPIs themselves; this is for the others.
        const targets = exit.sendToAll
          ? this.#vcpus.map((_, i) => i).filter((i) => exit.sendToSelf || i !== id)
          : [exit.targetCpu];
        for (const target of targets) {
          this.#vcpus[target]?.injectInterrupt(exit.vector);
          this.#wake(target);
        }
        return;
      }
      case "FailEntry":
        this.#stop({
          reason: "error",
          exitCode: 1,
          error: new VmError(
            "guest",
            this.label,
            `vCPU ${id} failed to enter the guest: ${exit.detail} (reason ${hex(exit.hardwareEntryFailureReason)})`,
          ),
        });
        return;
      case "Unsupported":
        this.#stop({
          reason: "error",
          exitCode: 1,
          error: new VmError("guest", this.label, `vCPU ${id}: unsupported exit from ${exit.backend}: ${exit.raw}`),
        });
        return;
      case "NestedPageFault":
        this.#stop({
          reason: "error",
          exitCode: 1,
          error: new VmError(
            "guest",
            this.label,
            `vCPU ${id}: nested page fault at ${hex(exit.addr)} (access ${hex(exit.accessFlags)})`,
          ),
        });
        return;
      case "MmioRead":
      case "MmioWrite":
      case "IoRead":
      case "IoWrite":
      case "SysRegRead":
      case "SysRegWrite":
      case "SbiCall":
        throw new Error(`exit ${exit.kind} escaped runVcpu`);
      default:
        assertNever(exit, "exit");
    }
  }

  /** Halt: sleep until an interrupt is pending for `id`, a timer fires, or the VM stops. */
  async #waitForInterrupt(id: number): Promise<void> {
    const vcpu = this.vcpu(id);
    vcpu.block();
    try {
      while (!this.shuttingDown() && this.#status !== "Suspended") {
        this.#timers.runDue(this.#now());
        this.#board.poll?.();
        if (vcpu.arch.hasPendingInterrupt() || !this.#online[id]) return;
        const now = this.#now();
        let deadline = this.#timers.nextDeadline();
        const hardware = vcpu.arch.hardwareTimerDeadline();
        // A hardware deadline in the past whose interrupt is not enabled cannot wake the vCPU: ignore it.
        if (hardware !== undefined && hardware > now && (deadline === undefined || hardware < deadline))
          deadline = hardware;
        await this.#sleep(id, deadline);
      }
    } finally {
      vcpu.unblock();
    }
  }

  /** Sleep until `wake(id)` or until the VM clock reaches `deadline`. */
  #sleep(id: number, deadline: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.#wakers[id] === done) this.#wakers[id] = undefined;
        resolve();
      };
      this.#wakers[id] = done;
      if (deadline !== undefined) {
        const halVm = this.#requireHalVm();
        const ms = Math.max(0, ((deadline - this.#now()) * 1000) / halVm.timebaseHz);
        timer = setTimeout(done, Math.ceil(ms));
      }
    });
  }

  #wake(id: number): void {
    this.#wakers[id]?.();
  }

  #now(): number {
    return this.#requireHalVm().currentTime();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Stopping
  // ------------------------------------------------------------------------------------------------------------

  /** The guest asked to power off, reset or report a crash. A reset is a reboot unless the config says stop. */
  #systemDown(action: SystemDownAction, code: number): void {
    if (action === "reboot" && this.config.onReset === "stop") {
      this.#stop({ reason: "poweroff", exitCode: 0 });
      return;
    }
    this.#stop({ reason: action, exitCode: action === "crash" ? Math.max(1, code) : code });
  }

  #stop(result: Omit<VmResult, "vmId" | "name">): void {
    if (this.shuttingDown()) return;
    this.#status = "Stopping";
    this.#result = this.#makeResult(result);
    if (result.error !== undefined) this.#log.error(result.error.message);
    for (const vcpu of this.#vcpus) vcpu.arch.kick();
    for (const wake of this.#resumeWaiters.splice(0)) wake();
    for (let id = 0; id < this.#wakers.length; id++) this.#wake(id);
  }

  #finish(result: Omit<VmResult, "vmId" | "name">): VmResult {
    const final = this.#result ?? this.#makeResult(result);
    this.#result = final;
    this.#status = "Stopped";
    this.#release();
    return final;
  }

  #makeResult(result: Omit<VmResult, "vmId" | "name">): VmResult {
    return { vmId: this.id, name: this.name, ...result };
  }

  #release(): void {
    // Once only: a file console must not be closed twice, nor native handles disposed twice.
    if (this.#released) return;
    this.#released = true;
    this.#timers.clear();
    try {
      this.#board.close?.();
    } finally {
      for (const vcpu of this.#vcpus) vcpu.arch[Symbol.dispose]();
      this.#halVm?.[Symbol.dispose]();
      this.#options.console.close();
    }
  }

  // ------------------------------------------------------------------------------------------------------------

  #services(): BoardServices {
    const halVm = this.#requireHalVm();
    const addrSpace = this.#requireAddrSpace();
    return {
      config: this.config,
      label: this.label,
      halVm,
      addrSpace,
      memory: addrSpace.guestMemory,
      mmio: this.#mmio,
      port: this.#port,
      sysreg: this.#sysreg,
      timers: this.#timers,
      console: this.#options.console,
      log: this.#log,
      now: () => halVm.currentTime(),
      vcpu: (id) => this.vcpu(id),
      vcpuCount: this.#vcpus.length,
      wakeVcpu: (id) => this.#wake(id),
      requestSystemDown: (action, code, reason) => {
        this.#log.debug(`${this.label}: ${reason}`);
        this.#systemDown(action, code);
      },
    };
  }

  #requireHalVm(): HalVm {
    if (this.#halVm === undefined) throw new VmError("state", this.label, "the VM is not initialised");
    return this.#halVm;
  }

  #requireAddrSpace(): AddrSpace {
    if (this.#addrSpace === undefined) throw new VmError("state", this.label, "the VM is not initialised");
    return this.#addrSpace;
  }

  #expectStatus(operation: string, expected: VmStatus): void {
    if (this.#status !== expected)
      throw new VmError("state", this.label, `cannot ${operation}: the VM is ${this.#status}, expected ${expected}`);
  }
}

function classify(error: unknown): VmError["kind"] {
  if (error instanceof VmError) return error.kind;
  const name = error instanceof Error ? error.name : "";
  if (name === "HalError") return "backend";
  if (name === "ElfError" || name === "ImageError" || name === "GuestMemoryError" || name === "AddrSpaceError")
    return "image";
  return "guest";
}
