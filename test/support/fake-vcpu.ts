/** A scripted backend vCPU for tests of the layers above the HAL. */
import type { AxVCpuExitReason, GuestPhysAddr, HalVcpu, HalVcpuSetup } from "../../src/hal/types.ts";

export class FakeHalVcpu implements HalVcpu {
  readonly id: number;
  readonly gprs = new Map<number, bigint>();
  readonly interrupts = new Map<number, boolean>();
  readonly returnValues: bigint[] = [];
  setups: HalVcpuSetup[] = [];
  entry: GuestPhysAddr | undefined;
  kicks = 0;
  /** Exits `run()` returns in order; `Nothing` once exhausted. */
  exits: AxVCpuExitReason[];
  failNextRun: Error | undefined;
  /**
   * A hardware timer (RISC-V Sstc): its deadline in timebase ticks, the clock it compares with, and whether its
   * interrupt is enabled (only then does it end a halt). `pendingChecks` counts `hasPendingInterrupt` calls.
   */
  timer: { deadline: number; readonly now: () => number; enabled: boolean } | undefined;
  pendingChecks = 0;

  constructor(id: number, exits: AxVCpuExitReason[] = []) {
    this.id = id;
    this.exits = exits;
  }
  setup(setup: HalVcpuSetup): void {
    this.setups.push(setup);
    this.entry = setup.entry;
  }
  setEntry(entry: GuestPhysAddr): void {
    this.entry = entry;
  }
  getGpr(reg: number): bigint {
    return this.gprs.get(reg) ?? 0n;
  }
  setGpr(reg: number, value: bigint): void {
    this.gprs.set(reg, value);
  }
  setReturnValue(value: bigint): void {
    this.returnValues.push(value);
  }
  run(): AxVCpuExitReason {
    if (this.failNextRun !== undefined) {
      const error = this.failNextRun;
      this.failNextRun = undefined;
      throw error;
    }
    return this.exits.shift() ?? { kind: "Nothing" };
  }
  kick(): void {
    this.kicks++;
  }
  setInterruptLevel(vector: number, asserted: boolean): void {
    this.interrupts.set(vector, asserted);
  }
  hasPendingInterrupt(): boolean {
    this.pendingChecks++;
    const timer = this.timer;
    if (timer?.enabled && timer.now() >= timer.deadline) return true;
    return [...this.interrupts.values()].some(Boolean);
  }
  hardwareTimerDeadline(): number | undefined {
    return this.timer?.deadline;
  }
  [Symbol.dispose](): void {}
}
