/**
 * The architecture-independent vCPU (axvcpu's `AxVCpu`): a state machine around a backend vCPU.
 *
 *   Created --setup--> Free --bind--> Ready --run--> Running --(exit)--> Ready --unbind--> Free
 *
 * Every operation names the state it needs; calling it in another state moves the vCPU to Invalid and throws a
 * `VCpuStateError` naming both states (as axvcpu's `with_state_transition` does). An Invalid vCPU stays Invalid:
 * it must be recreated. `Blocked` is the state of a vCPU waiting for an event (halt); the VMM moves it there and
 * back to Ready.
 */

import type { AxVCpuExitReason, GuestPhysAddr, HalAccessHandler, HalVcpu, HalVcpuSetup } from "../hal/types.ts";

export type VCpuState = "Invalid" | "Created" | "Free" | "Ready" | "Running" | "Blocked";

export class VCpuStateError extends Error {
  override readonly name = "VCpuStateError";
  readonly vcpuId: number;
  readonly expected: VCpuState;
  readonly actual: VCpuState;
  readonly operation: string;
  constructor(vcpuId: number, operation: string, expected: VCpuState, actual: VCpuState) {
    super(`Cannot ${operation} vCPU ${vcpuId}: it is ${actual}, expected ${expected}; the vCPU is now Invalid`);
    this.vcpuId = vcpuId;
    this.operation = operation;
    this.expected = expected;
    this.actual = actual;
  }
}

export interface AxVCpuOptions {
  readonly id: number;
  readonly vmId: number;
  /** The physical CPU this vCPU prefers (axvisor `favor_phys_cpu`). */
  readonly favorPhysCpu?: number;
  /** Physical CPUs it may run on, as a bit mask (axvisor `phys_cpu_set`); undefined = any. */
  readonly physCpuSet?: bigint;
}

/** Architecture-specific part of `setup` (axvcpu's `SetupConfig`). */
export type VCpuArchSetup = Omit<HalVcpuSetup, "entry">;

export class AxVCpu {
  readonly id: number;
  readonly vmId: number;
  readonly favorPhysCpu: number;
  readonly #physCpuSet: bigint | undefined;
  readonly #arch: HalVcpu;
  #state: VCpuState = "Created";
  #entry: GuestPhysAddr | undefined;

  constructor(options: AxVCpuOptions, arch: HalVcpu) {
    this.id = options.id;
    this.vmId = options.vmId;
    this.favorPhysCpu = options.favorPhysCpu ?? options.id;
    this.#physCpuSet = options.physCpuSet;
    this.#arch = arch;
  }

  get state(): VCpuState {
    return this.#state;
  }

  /** The bootstrap processor is vCPU 0. */
  isBsp(): boolean {
    return this.id === 0;
  }

  physCpuSet(): bigint | undefined {
    return this.#physCpuSet;
  }

  /** The backend vCPU, for the VMM's architecture-specific code (registers, interrupt lines). */
  get arch(): HalVcpu {
    return this.#arch;
  }

  /** Created → Free: program the entry, the stage-2 root and the architecture set-up. */
  setup(entry: GuestPhysAddr, archSetup: VCpuArchSetup = {}): void {
    this.#transition("setup", "Created", "Free", () => {
      this.#entry = entry;
      this.#arch.setup({ ...archSetup, entry });
    });
  }

  /** Change the entry point (before the first run, or when a stopped hart is started again via HSM). */
  setEntry(entry: GuestPhysAddr): void {
    this.#entry = entry;
    this.#arch.setEntry(entry);
  }

  get entry(): GuestPhysAddr | undefined {
    return this.#entry;
  }

  /** Free → Ready: attach to the current physical CPU. */
  bind(): void {
    this.#transition("bind", "Free", "Ready", () => undefined);
  }

  /** Ready → Free. */
  unbind(): void {
    this.#transition("unbind", "Ready", "Free", () => undefined);
  }

  /** Ready → Running → Ready: run until an exit. */
  run(): AxVCpuExitReason {
    this.#enter("run", "Ready", "Running");
    let exit: AxVCpuExitReason;
    try {
      exit = this.#arch.run();
    } catch (error) {
      this.#state = "Invalid";
      throw error;
    }
    this.#state = "Ready";
    return exit;
  }

  /** Whether the backend answers plain accesses in place (`runAccesses`). */
  get answersAccesses(): boolean {
    return this.#arch.runAccesses !== undefined;
  }

  /** As `run`, with plain MMIO/port accesses answered by `handler` inside the backend (`HalVcpu.runAccesses`). */
  runAccesses(handler: HalAccessHandler, maxAccesses: number): AxVCpuExitReason {
    this.#enter("run", "Ready", "Running");
    let exit: AxVCpuExitReason;
    try {
      exit = this.#arch.runAccesses === undefined ? this.#arch.run() : this.#arch.runAccesses(handler, maxAccesses);
    } catch (error) {
      this.#state = "Invalid";
      throw error;
    }
    this.#state = "Ready";
    return exit;
  }

  /** As `run`, on a helper thread when the backend blocks in the host kernel. */
  async runAsync(): Promise<AxVCpuExitReason> {
    const runAsync = this.#arch.runAsync?.bind(this.#arch);
    if (runAsync === undefined) return this.run();
    this.#enter("run", "Ready", "Running");
    let exit: AxVCpuExitReason;
    try {
      exit = await runAsync();
    } catch (error) {
      this.#state = "Invalid";
      throw error;
    }
    this.#state = "Ready";
    return exit;
  }

  /** Ready → Blocked (halted, waiting for an interrupt or an event). */
  block(): void {
    this.#transition("block", "Ready", "Blocked", () => undefined);
  }

  /** Blocked → Ready. */
  unblock(): void {
    this.#transition("unblock", "Blocked", "Ready", () => undefined);
  }

  setGpr(reg: number, value: bigint): void {
    this.#arch.setGpr(reg, value);
  }

  getGpr(reg: number): bigint {
    return this.#arch.getGpr(reg);
  }

  /** Assert an interrupt (RISC-V: supervisor cause 1/5/9; x86: vector). */
  injectInterrupt(vector: number): void {
    this.#arch.setInterruptLevel(vector, true);
  }

  clearInterrupt(vector: number): void {
    this.#arch.setInterruptLevel(vector, false);
  }

  /** Complete the last MMIO/port/sysreg read exit. */
  setReturnValue(value: bigint): void {
    this.#arch.setReturnValue(value);
  }

  #enter(operation: string, from: VCpuState, to: VCpuState): void {
    if (this.#state !== from) {
      const actual = this.#state;
      this.#state = "Invalid";
      throw new VCpuStateError(this.id, operation, from, actual);
    }
    this.#state = to;
  }

  #transition(operation: string, from: VCpuState, to: VCpuState, action: () => void): void {
    this.#enter(operation, from, "Invalid");
    try {
      action();
    } catch (error) {
      // A failed transition leaves the vCPU unusable, as in axvcpu's manipulate_arch_vcpu.
      this.#state = "Invalid";
      throw error;
    }
    this.#state = to;
  }
}
