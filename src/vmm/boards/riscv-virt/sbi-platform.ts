/**
 * The VMM side of SBI on the riscv-virt boards: the `SbiPlatform` the dispatcher (`sbi.ts`) calls — HSM hart
 * states, SBI timers (the hart's own VS timer comparator, as KVM programs vstimecmp on harts with Sstc: the
 * interrupt comes on time whatever the VMM's loop is doing, and a deadline already passed is pending at once),
 * IPIs (→ VSSIP), remote fences, the PMU, the debug console, guest memory reads through the guest's page tables —
 * and carrying out the dispatcher's outcome for the calling vCPU: writing a0/a1, moving harts between HSM states,
 * and turning hart start/stop, suspend, system reset and hypercalls into the generic exits the VM handles.
 *
 * HSM suspend: the hart halts with its state as it is, so what wakes it is what its own sie enables (as WFI).
 * A non-retentive suspend's restart at resume_addr (a0 = hart id, a1 = opaque, vsatp = 0, SIE = 0) happens when
 * the halt ends (`poll`, before the hart runs again): applied at suspend time it would also reset sie, and no
 * interrupt could ever wake the hart.
 */

import { REG_A0, REG_A1 } from "../../../arch/riscv64/registers.ts";
import {
  SBI_ERR_NOT_SUPPORTED,
  SBI_HSM_STATE_START_PENDING,
  SBI_HSM_STATE_STARTED,
  SBI_HSM_STATE_STOPPED,
  SBI_HSM_STATE_SUSPENDED,
  SBI_SUCCESS,
  type SbiHsmState,
} from "../../../arch/riscv64/sbi.ts";
import { CAUSE_LOAD_ACCESS_FAULT, IRQ_S_SOFT } from "../../../arch/riscv64/traps.ts";
import type { GuestMemoryAccess, GuestPhysAddr, RiscvVcpuOps } from "../../../hal/types.ts";
import type { AxVCpu } from "../../../vcpu/axvcpu.ts";
import type { BoardServices, GenericExit } from "../../board.ts";
import { VmError } from "../../errors.ts";
import {
  type GuestVirtualRead,
  handleSbiCall,
  type RemoteFence,
  type SbiCall,
  type SbiOutcome,
  type SbiPlatform,
  type SbiRet,
  sbiLegacyRegister,
  sbiRetRegisters,
} from "./sbi.ts";
import { SbiPmu } from "./sbi-pmu.ts";

/** `RiscvVirtSbiPlatform.saveState`: plain data, one entry per hart. */
export interface RiscvSbiPlatformState {
  readonly hsm: readonly SbiHsmState[];
  readonly suspended: readonly boolean[];
  readonly resumeOnWake: ReadonlyArray<{ readonly addr: number; readonly opaque: string } | null>;
  readonly ipiPending: readonly boolean[];
}

export class RiscvVirtSbiPlatform implements SbiPlatform {
  readonly hartCount: number;
  readonly memory: GuestMemoryAccess;
  readonly guestHasHypervisorExtension = false;
  readonly machineIds = { mvendorid: 0n, marchid: 0n, mimpid: 0n };
  readonly pmu: SbiPmu;
  /** SBI calls answered (for `--trace-exits`). */
  calls = 0;
  readonly #s: BoardServices;
  readonly #readConsole: (maxBytes: number) => Uint8Array;
  readonly #hsm: SbiHsmState[];
  readonly #suspended: boolean[];
  /** Non-retentive suspends waiting for their hart to wake: where it resumes and its a1. */
  readonly #resumeOnWake: Array<{ readonly addr: GuestPhysAddr; readonly opaque: bigint } | undefined>;
  readonly #ipiPending: boolean[];

  /** `readConsole` supplies console input for SBI reads (the same stream the UART delivers). */
  constructor(services: BoardServices, readConsole: (maxBytes: number) => Uint8Array) {
    this.#s = services;
    this.#readConsole = readConsole;
    this.hartCount = services.vcpuCount;
    this.memory = services.memory;
    this.#hsm = Array.from({ length: this.hartCount }, () => SBI_HSM_STATE_STOPPED);
    this.#suspended = Array.from({ length: this.hartCount }, () => false);
    this.#resumeOnWake = Array.from({ length: this.hartCount }, () => undefined);
    this.#ipiPending = Array.from({ length: this.hartCount }, () => false);
    this.pmu = new SbiPmu({
      hartCount: this.hartCount,
      hfenceEvents: this.guestHasHypervisorExtension,
      hardware: {
        write: (hart, counter, value) => this.#riscv(services.vcpu(hart)).setHardwareCounter(counter, { value }),
        setRunning: (hart, counter, running) =>
          this.#riscv(services.vcpu(hart)).setHardwareCounter(counter, { running }),
      },
    });
  }

  /**
   * The platform's own state for snapshots: each hart's HSM state, suspend and IPI flags. The PMU counters'
   * configuration is not saved (a restored guest's counters run as they were last programmed in the hart).
   */
  saveState(): RiscvSbiPlatformState {
    this.#takeAnsweredElsewhere();
    return {
      hsm: [...this.#hsm],
      suspended: [...this.#suspended],
      resumeOnWake: this.#resumeOnWake.map((r) =>
        r === undefined ? null : { addr: r.addr, opaque: `0x${r.opaque.toString(16)}` },
      ),
      ipiPending: [...this.#ipiPending],
    };
  }

  restoreState(state: RiscvSbiPlatformState): void {
    // What the harts' threads answered before the restore belongs to the state being replaced.
    this.#takeAnsweredElsewhere();
    const n = this.hartCount;
    if (
      state.hsm.length !== n ||
      state.suspended.length !== n ||
      state.resumeOnWake.length !== n ||
      state.ipiPending.length !== n
    ) {
      throw new VmError(
        "snapshot",
        this.#s.label,
        `cannot restore the SBI platform: the snapshot has ${state.hsm.length} harts, the VM ${n}`,
      );
    }
    for (let hart = 0; hart < n; hart++) {
      this.#hsm[hart] = state.hsm[hart] ?? SBI_HSM_STATE_STOPPED;
      this.#suspended[hart] = state.suspended[hart] === true;
      const r = state.resumeOnWake[hart];
      this.#resumeOnWake[hart] = r === null || r === undefined ? undefined : { addr: r.addr, opaque: BigInt(r.opaque) };
      this.#ipiPending[hart] = state.ipiPending[hart] === true;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // What the dispatcher calls
  // ------------------------------------------------------------------------------------------------------------

  hartState(hart: number): SbiHsmState {
    // A suspended hart that is running again (its halt ended) is STARTED.
    if (this.#suspended[hart] === true && this.#s.vcpu(hart).state !== "Blocked") this.#suspended[hart] = false;
    if (this.#suspended[hart] === true) return SBI_HSM_STATE_SUSPENDED;
    return this.#hsm[hart] ?? SBI_HSM_STATE_STOPPED;
  }

  setTimer(hart: number, stimeValue: bigint): void {
    this.#riscv(this.#s.vcpu(hart)).setTimer(stimeValue);
  }

  sendIpi(targets: readonly number[]): void {
    for (const hart of targets) {
      this.#ipiPending[hart] = true;
      this.#s.vcpu(hart).arch.setInterruptLevel(IRQ_S_SOFT, true);
      this.#s.wakeVcpu(hart);
    }
  }

  clearIpi(hart: number): boolean {
    const was = this.#ipiPending[hart] === true;
    this.#ipiPending[hart] = false;
    this.#s.vcpu(hart).arch.setInterruptLevel(IRQ_S_SOFT, false);
    return was;
  }

  remoteFence(targets: readonly number[], fence: RemoteFence): void {
    for (const hart of targets) this.#s.vcpu(hart).arch.riscv?.fence(fence.kind);
  }

  consoleWrite(bytes: Uint8Array): number {
    this.#s.console.write(bytes);
    return bytes.length;
  }

  consoleRead(maxBytes: number): Uint8Array {
    return this.#readConsole(maxBytes);
  }

  readGuestVirtualU64(hart: number, gva: bigint): GuestVirtualRead {
    const s = this.#s;
    const riscv = this.#riscv(s.vcpu(hart));
    const translated = riscv.translateGuestVirtual(gva, "read");
    if (!translated.ok) return { ok: false, cause: BigInt(translated.cause), tval: translated.tval };
    if (!s.memory.contains(translated.gpa, 8)) return { ok: false, cause: BigInt(CAUSE_LOAD_ACCESS_FAULT), tval: gva };
    return { ok: true, value: s.memory.readU64(translated.gpa) };
  }

  // ------------------------------------------------------------------------------------------------------------
  // What the board calls
  // ------------------------------------------------------------------------------------------------------------

  /** Answer an SBI call of vCPU `hart`: `undefined` when handled, else the generic exit for the VM. */
  handleCall(hart: number, call: SbiCall): GenericExit | undefined {
    this.calls++;
    this.#takeAnsweredElsewhere();
    return this.#apply(hart, handleSbiCall(call, hart, this));
  }

  /**
   * Let backends that can answer SBI TIME, IPI and RFENCE calls on the harts' own threads do so
   * (`RiscvVcpuOps.handleExitsOnHartThread`: harts on threads of their own, as KVM answers them in the kernel). They
   * answer only what this dispatcher would answer with success, the same way; what they answered is added to this
   * platform's bookkeeping (`#takeAnsweredElsewhere`) before any call it answers itself and before a snapshot.
   */
  handleExitsOnHartThreads(): void {
    for (let hart = 0; hart < this.hartCount; hart++) this.#s.vcpu(hart).arch.riscv?.handleExitsOnHartThread?.();
  }

  /**
   * Let backends that can answer the byte-at-a-time SBI console output calls on the hart do so
   * (`RiscvVcpuOps.answerConsoleOnHart`): each reaches this platform's console through `consoleWrite` and counts as
   * a call, as if it had been dispatched here.
   */
  answerConsoleOnHarts(): void {
    for (let hart = 0; hart < this.hartCount; hart++)
      this.#s.vcpu(hart).arch.riscv?.answerConsoleOnHart?.((bytes) => {
        this.calls++;
        return this.consoleWrite(bytes);
      });
  }

  /** The PMU firmware events and IPI flags of SBI calls the harts' threads answered since the last look. */
  #takeAnsweredElsewhere(): void {
    for (let hart = 0; hart < this.hartCount; hart++) {
      const events = this.#s.vcpu(hart).arch.riscv?.takeAnsweredSbiEvents?.();
      if (events === undefined) continue;
      if (events.ipiRaised) this.#ipiPending[hart] = true;
      events.firmwareEvents.forEach((count, code) => {
        for (let i = 0; i < count; i++) this.pmu.record(hart, code);
      });
    }
  }

  /**
   * Between vCPU runs: a hart whose non-retentive suspend ended (its halt is over) restarts at its resume address
   * before it runs again.
   */
  poll(): void {
    for (let hart = 0; hart < this.hartCount; hart++) {
      const resume = this.#resumeOnWake[hart];
      if (resume === undefined) continue;
      const vcpu = this.#s.vcpu(hart);
      if (vcpu.state === "Blocked") continue;
      this.#resumeOnWake[hart] = undefined;
      this.#suspended[hart] = false;
      vcpu.setEntry(resume.addr);
      vcpu.setGpr(REG_A0, BigInt(hart));
      vcpu.setGpr(REG_A1, resume.opaque);
    }
  }

  /** Hart `hart` runs from the start (a boot hart). */
  markStarted(hart: number): void {
    this.#hsm[hart] = SBI_HSM_STATE_STARTED;
  }

  /** Restart a stopped vCPU at `entry` with a0 = its hart id and a1 = `arg` (HSM hart_start, CpuUp). */
  startVcpu(vcpu: AxVCpu, entry: GuestPhysAddr, arg: bigint): void {
    vcpu.setEntry(entry);
    vcpu.setGpr(REG_A0, BigInt(vcpu.id));
    vcpu.setGpr(REG_A1, arg);
    this.#hsm[vcpu.id] = SBI_HSM_STATE_STARTED;
    this.#suspended[vcpu.id] = false;
    this.#resumeOnWake[vcpu.id] = undefined;
  }

  /** The hypercall extension answers like any SBI call: a0 = error (NOT_SUPPORTED if unhandled), a1 = value. */
  completeHypercall(vcpu: AxVCpu, result: bigint | undefined): void {
    writeSbiReturn(
      vcpu,
      result === undefined ? { error: SBI_ERR_NOT_SUPPORTED, value: 0n } : { error: SBI_SUCCESS, value: result },
    );
  }

  #apply(hart: number, outcome: SbiOutcome): GenericExit | undefined {
    const vcpu = this.#s.vcpu(hart);
    switch (outcome.kind) {
      case "Return":
        writeSbiReturn(vcpu, outcome);
        return undefined;
      case "LegacyReturn":
        vcpu.setGpr(REG_A0, sbiLegacyRegister(outcome.value));
        return undefined;
      case "CpuUp":
        writeSbiReturn(vcpu, outcome.ret);
        this.#hsm[outcome.targetCpu] = SBI_HSM_STATE_START_PENDING;
        return { kind: "CpuUp", targetCpu: outcome.targetCpu, entryPoint: outcome.entryPoint, arg: outcome.arg };
      case "CpuDown":
        this.#hsm[hart] = SBI_HSM_STATE_STOPPED;
        return { kind: "CpuDown", state: 0n };
      case "Suspend":
        this.#suspended[hart] = true;
        if (outcome.retentive) writeSbiReturn(vcpu, outcome.ret);
        else this.#resumeOnWake[hart] = { addr: outcome.resumeAddr, opaque: outcome.opaque };
        return { kind: "Halt" };
      case "SystemDown":
        return { kind: "SystemDown", action: outcome.action, code: outcome.code };
      case "Hypercall":
        return { kind: "Hypercall", nr: outcome.nr, args: outcome.args };
      case "GuestTrap": {
        const riscv = this.#riscv(vcpu);
        riscv.setPc(riscv.getPc() - 4n);
        riscv.injectException(Number(outcome.cause), outcome.tval);
        return undefined;
      }
    }
  }

  #riscv(vcpu: AxVCpu): RiscvVcpuOps {
    const riscv = vcpu.arch.riscv;
    if (riscv === undefined)
      throw new VmError("backend", this.#s.label, "the backend does not offer RISC-V vCPU operations");
    return riscv;
  }
}

/** Write a v0.2+ SBI return: a0 = error, a1 = value. */
function writeSbiReturn(vcpu: AxVCpu, ret: SbiRet): void {
  const { a0, a1 } = sbiRetRegisters(ret);
  vcpu.setGpr(REG_A0, a0);
  vcpu.setGpr(REG_A1, a1);
}
