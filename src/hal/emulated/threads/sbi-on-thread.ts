/**
 * SBI calls answered on a hart's own thread (RiscvVcpuOps.handleExitsOnHartThread, turned on by the VMM): the calls
 * whose only effects are on harts — TIME set_timer (and legacy set_timer), IPI send_ipi, RFENCE remote fence.i /
 * sfence.vma / sfence.vma.asid — as KVM answers them in the kernel. Without this every such call crossed to the
 * VMM's thread and back (an exit, a message each way, the VMM's loop), which a multi-hart Linux makes thousands of
 * times a second (TLB shootdowns, scheduler IPIs).
 *
 * Exactness, call by call, against the VMM's dispatcher (src/vmm/boards/riscv-virt/sbi.ts):
 * - only calls that succeed are answered here; anything the dispatcher would answer with an error (bad hart mask,
 *   bad range, unknown FID, HFENCE without the H extension) exits as before, so its error stays the dispatcher's;
 * - set_timer programs the caller's own VS timer comparator, as `RiscvVcpuOps.setTimer` does;
 * - send_ipi raises VSSIP on each target through the target's control block, as the VMM's thread does
 *   (`ThreadedVcpu.setInterruptLevel`), which wakes the target's thread if it waits in WFI; a target parked after a
 *   Nothing (a turn of the VMM's loop) applies it when the VMM runs it again, at once. Any other target (stopped,
 *   suspended by HSM, parked on an exit the VMM is answering) may be asleep in the VMM's loop, which only the VMM
 *   can wake: then the call exits and the VMM raises the line again (a level already raised stays raised) and wakes
 *   it. The state is looked at after the line is raised, so a target that parks at the same moment either sees the
 *   line before it parks or is seen parked;
 * - a remote fence asks each other target through its control block and waits until every running target has
 *   applied it (a parked one applies it before it runs again), as `ThreadedVcpu.riscv.fence` does, so the call
 *   returns only when the fences are done; while it waits it applies fences other harts ask of this one, so two
 *   harts fencing each other cannot wait for each other forever;
 * - the bookkeeping the VMM keeps for these calls — the PMU's firmware events (set_timer, IPIs and fences sent and
 *   received) and the IPI flag legacy clear_ipi reports — is counted in the harts' control blocks and handed to
 *   the VMM by `takeAnsweredSbiEvents`, which it reads before it answers any SBI call and before a snapshot.
 */

import { REG_A0, REG_A1 } from "../../../arch/riscv64/registers.ts";
import {
  SBI_EXT_0_1_SET_TIMER,
  SBI_EXT_IPI,
  SBI_EXT_IPI_SEND_IPI,
  SBI_EXT_RFENCE,
  SBI_EXT_RFENCE_REMOTE_FENCE_I,
  SBI_EXT_RFENCE_REMOTE_SFENCE_VMA,
  SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID,
  SBI_EXT_TIME,
  SBI_EXT_TIME_SET_TIMER,
  SBI_PMU_FW_FENCE_I_RECEIVED,
  SBI_PMU_FW_FENCE_I_SENT,
  SBI_PMU_FW_IPI_RECEIVED,
  SBI_PMU_FW_IPI_SENT,
  SBI_PMU_FW_SET_TIMER,
  SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED,
  SBI_PMU_FW_SFENCE_VMA_ASID_SENT,
  SBI_PMU_FW_SFENCE_VMA_RECEIVED,
  SBI_PMU_FW_SFENCE_VMA_SENT,
} from "../../../arch/riscv64/sbi.ts";
import { IRQ_S_SOFT } from "../../../arch/riscv64/traps.ts";
import { fenceRange, resolveHartMask } from "../../../common/sbi-masks.ts";
import type { EmulatedVcpu } from "../vcpu.ts";
import {
  FENCE_I,
  FENCE_VMA,
  fenceDone,
  requestFence,
  STATE_RUNNING,
  setLine,
  TC_BYTES,
  TC_EXITS_ON_THREAD,
  TC_FENCE_ACK,
  TC_FW_EVENTS,
  TC_IPI_RAISED,
  TC_RESUMES,
  TC_STATE,
  TC_WORDS,
} from "./protocol.ts";

/** How long a fencing hart waits for the targets' acknowledgements before it looks at its own requests again. */
const FENCE_WAIT_MS = 1;

/** An `SbiCall` exit as `EmulatedVcpu.run` reports it. */
export interface SbiCallExit {
  readonly extensionId: bigint;
  readonly functionId: bigint;
  readonly args: readonly [bigint, bigint, bigint, bigint, bigint, bigint];
}

export class HartSbi {
  readonly #hartId: number;
  readonly #vcpu: EmulatedVcpu;
  /** Every hart's control block, by hart id. */
  readonly #controls: readonly Int32Array[];
  /** Apply the fences other harts asked of this one (the worker's control-block look). */
  readonly #applyOwnFences: () => void;
  /** SBI calls answered here (for tests and stats). */
  answered = 0;

  constructor(
    buffer: ArrayBufferLike,
    controls: number,
    hartCount: number,
    hartId: number,
    vcpu: EmulatedVcpu,
    applyOwnFences: () => void,
  ) {
    this.#hartId = hartId;
    this.#vcpu = vcpu;
    this.#controls = Array.from(
      { length: hartCount },
      (_, hart) => new Int32Array(buffer, controls + hart * TC_BYTES, TC_WORDS),
    );
    this.#applyOwnFences = applyOwnFences;
  }

  #control(hart: number): Int32Array {
    const control = this.#controls[hart];
    if (control === undefined) throw new Error(`SBI on hart ${this.#hartId}'s thread: no hart ${hart}`);
    return control;
  }

  /** Answer `call` here if it is one of ours and succeeds; returns whether it did (else it must exit). */
  answer(call: SbiCallExit): boolean {
    if (Atomics.load(this.#control(this.#hartId), TC_EXITS_ON_THREAD) === 0) return false;
    const eid = BigInt.asUintN(64, call.extensionId);
    const fid = BigInt.asUintN(64, call.functionId);
    const [a0, a1, a2, a3] = call.args;
    switch (eid) {
      case SBI_EXT_TIME:
        if (fid !== SBI_EXT_TIME_SET_TIMER) return false;
        this.#setTimer(a0);
        this.#return(0n);
        return true;
      case SBI_EXT_0_1_SET_TIMER:
        this.#setTimer(a0);
        // Legacy calling convention: a0 only.
        this.#vcpu.setGpr(REG_A0, 0n);
        this.answered++;
        return true;
      case SBI_EXT_IPI: {
        if (fid !== SBI_EXT_IPI_SEND_IPI) return false;
        const targets = resolveHartMask(a0, a1, this.#controls.length);
        if (targets === undefined || !this.#sendIpi(targets)) return false;
        this.#return(0n);
        return true;
      }
      case SBI_EXT_RFENCE: {
        let kind: number;
        let sent: number;
        let received: number;
        if (fid === SBI_EXT_RFENCE_REMOTE_FENCE_I) {
          kind = FENCE_I;
          sent = SBI_PMU_FW_FENCE_I_SENT;
          received = SBI_PMU_FW_FENCE_I_RECEIVED;
        } else if (fid === SBI_EXT_RFENCE_REMOTE_SFENCE_VMA || fid === SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID) {
          // The range only has to be valid: a remote fence drops every translation (the hart's fence does).
          if (fenceRange(a2, a3) === undefined) return false;
          kind = FENCE_VMA;
          const asid = fid === SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID;
          sent = asid ? SBI_PMU_FW_SFENCE_VMA_ASID_SENT : SBI_PMU_FW_SFENCE_VMA_SENT;
          received = asid ? SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED : SBI_PMU_FW_SFENCE_VMA_RECEIVED;
        } else return false;
        const targets = resolveHartMask(a0, a1, this.#controls.length);
        if (targets === undefined) return false;
        this.#fence(targets, kind);
        for (const target of targets) {
          this.#count(this.#hartId, sent);
          this.#count(target, received);
        }
        this.#return(0n);
        return true;
      }
      default:
        return false;
    }
  }

  #return(value: bigint): void {
    this.#vcpu.setGpr(REG_A0, 0n);
    this.#vcpu.setGpr(REG_A1, value);
    this.answered++;
  }

  #count(hart: number, event: number): void {
    Atomics.add(this.#control(hart), TC_FW_EVENTS + event, 1);
  }

  #setTimer(deadline: bigint): void {
    const riscv = this.#vcpu.riscv;
    riscv.setTimer(deadline);
    this.#count(this.#hartId, SBI_PMU_FW_SET_TIMER);
  }

  /** Whether every other target runs, or is parked only for a turn of the VMM's loop (which runs it again). */
  #othersAwake(targets: readonly number[]): boolean {
    for (const target of targets) {
      if (target === this.#hartId) continue;
      const control = this.#control(target);
      if (Atomics.load(control, TC_STATE) !== STATE_RUNNING && Atomics.load(control, TC_RESUMES) === 0) return false;
    }
    return true;
  }

  /** Raise VSSIP on the targets; false (nothing counted) when one may sleep in the VMM's loop. */
  #sendIpi(targets: readonly number[]): boolean {
    if (!this.#othersAwake(targets)) return false;
    for (const target of targets) {
      const control = this.#control(target);
      setLine(control, IRQ_S_SOFT, true);
      Atomics.store(control, TC_IPI_RAISED, 1);
    }
    if (!this.#othersAwake(targets)) return false;
    for (const target of targets) {
      this.#count(this.#hartId, SBI_PMU_FW_IPI_SENT);
      this.#count(target, SBI_PMU_FW_IPI_RECEIVED);
    }
    return true;
  }

  /** Fence the targets (this hart at once, the others through their control blocks) and wait until they have. */
  #fence(targets: readonly number[], kind: number): void {
    const asked: Array<{ control: Int32Array; req: number }> = [];
    for (const target of targets) {
      if (target === this.#hartId) {
        this.#vcpu.riscv.fence(kind === FENCE_I ? "fence.i" : "sfence.vma");
        continue;
      }
      const control = this.#control(target);
      asked.push({ control, req: requestFence(control, kind) });
    }
    for (const { control, req } of asked) {
      for (;;) {
        const ack = Atomics.load(control, TC_FENCE_ACK);
        if (fenceDone(control, req)) break;
        this.#applyOwnFences();
        Atomics.wait(control, TC_FENCE_ACK, ack, FENCE_WAIT_MS);
      }
    }
  }
}
