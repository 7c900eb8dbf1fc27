/**
 * What the per-vCPU loop does with a generic exit (axvisor's vmm/vcpus.rs): sleep a halted vCPU until an interrupt
 * or a timer wakes it, start and stop vCPUs (CpuUp/CpuDown), end the VM on a SystemDown or axvisor-ts's own
 * "exit" hypercall, hand other hypercalls to the embedder, deliver IPIs for backends without an in-kernel
 * interrupt controller, and stop the VM with an error naming the vCPU for exits it cannot go on from.
 */

import type { ConsolaInstance } from "consola";
import { hex } from "../common/format.ts";
import { type AxVCpuExitReason, assertNever, type SystemDownAction } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { Board, GenericExit } from "./board.ts";
import { VmError } from "./errors.ts";
import type { TimerWheel } from "./timer.ts";

/**
 * Hypercall number 1 belongs to the VMM: "exit(status)" stops the VM with exit code status & 0xff. Every other
 * number goes to the embedder's handler (`AxVM.onHypercall`). RISC-V: SBI extension 0x485643, FID = number,
 * a0..a5 = arguments; x86 (KVM): `out` to port 0x0cf0 with RAX = number, RDI, RSI, RCX, RBX, R8, R9 = arguments.
 */
const HYPERCALL_EXIT = 1n;

/** A vCPU's debug event (a step, breakpoint or watchpoint the GDB stub asked for). */
export type DebugExit = Extract<AxVCpuExitReason, { readonly kind: "Debug" }>;

/** How a VM ends from inside (the subset of `VmResult` a dispatch decides). */
export interface VmStop {
  readonly reason: SystemDownAction | "error";
  readonly exitCode: number;
  readonly error?: VmError;
}

/** The VM's parts and operations a dispatch uses (AxVM gives them). */
export interface GenericExitHost {
  readonly label: string;
  readonly log: ConsolaInstance;
  readonly vcpus: readonly AxVCpu[];
  /** vCPU `id`; throws VmError "state" for an id the VM does not have. */
  vcpu(id: number): AxVCpu;
  readonly board: Board;
  /** Which vCPUs run (updated by CpuUp/CpuDown). */
  readonly online: boolean[];
  readonly timers: TimerWheel;
  now(): number;
  shuttingDown(): boolean;
  suspended(): boolean;
  sleep(id: number, deadline: number | undefined): Promise<void>;
  wake(id: number): void;
  stop(result: VmStop): void;
  systemDown(action: SystemDownAction, code: number): void;
  /** The embedder's answer to hypercall `nr`, undefined for "not supported". */
  hypercall(vcpuId: number, nr: bigint, args: readonly bigint[]): bigint | undefined;
  /**
   * Hand a Debug exit to the attached debugger (it pauses the VM; the loop parks on its next turn); false when no
   * debugger is attached.
   */
  debugStop(vcpuId: number, exit: DebugExit): boolean;
}

export async function dispatchGenericExit(host: GenericExitHost, id: number, exit: GenericExit): Promise<void> {
  switch (exit.kind) {
    case "Nothing":
    case "ExternalInterrupt":
      return;
    case "Halt":
      await waitForInterrupt(host, id);
      return;
    case "CpuUp": {
      const target = host.vcpus[exit.targetCpu];
      if (target === undefined) {
        host.log.warn(`${host.label}: vCPU ${id} asked to start vCPU ${exit.targetCpu}, which does not exist`);
        return;
      }
      host.board.startVcpu(target, exit.entryPoint, exit.arg);
      host.online[exit.targetCpu] = true;
      host.wake(exit.targetCpu);
      return;
    }
    case "CpuDown":
      host.online[id] = false;
      return;
    case "SystemDown":
      host.systemDown(exit.action, exit.code);
      return;
    case "Hypercall": {
      if (exit.nr === HYPERCALL_EXIT) {
        // axvisor-ts's own hypercall: the guest ends its VM with a status (0 = success), on every architecture.
        host.stop({ reason: "poweroff", exitCode: Number(BigInt.asUintN(8, exit.args[0])) });
        return;
      }
      const result = host.hypercall(id, exit.nr, exit.args);
      host.board.completeHypercall(host.vcpu(id), result);
      if (result === undefined) host.log.debug(`${host.label}: hypercall ${exit.nr} not handled`);
      return;
    }
    case "SendIPI": {
      // Backends with an in-kernel interrupt controller deliver IPIs themselves; this is for the others.
      const targets = exit.sendToAll
        ? host.vcpus.map((_, i) => i).filter((i) => exit.sendToSelf || i !== id)
        : [exit.targetCpu];
      for (const target of targets) {
        host.vcpus[target]?.injectInterrupt(exit.vector);
        host.wake(target);
      }
      return;
    }
    case "FailEntry":
      host.stop({
        reason: "error",
        exitCode: 1,
        error: new VmError(
          "guest",
          host.label,
          `vCPU ${id} failed to enter the guest: ${exit.detail} (reason ${hex(exit.hardwareEntryFailureReason)})`,
        ),
      });
      return;
    case "Unsupported":
      host.stop({
        reason: "error",
        exitCode: 1,
        error: new VmError("guest", host.label, `vCPU ${id}: unsupported exit from ${exit.backend}: ${exit.raw}`),
      });
      return;
    case "Debug":
      if (!host.debugStop(id, exit)) {
        host.log.warn(`${host.label}: vCPU ${id} made a debug exit (${exit.reason}) with no debugger attached`);
      }
      return;
    case "NestedPageFault":
      host.stop({
        reason: "error",
        exitCode: 1,
        error: new VmError(
          "guest",
          host.label,
          `vCPU ${id}: nested page fault at ${hex(exit.addr)} (access ${hex(exit.accessFlags)})`,
        ),
      });
      return;
    default:
      assertNever(exit, "exit");
  }
}

/**
 * Halt: sleep until an interrupt is pending for `id`, a timer fires, or the VM stops or pauses.
 *
 * The clock is read once, first, and every check after it looks at a time no earlier than `now`. So a hardware
 * deadline at or before `now` has already made its interrupt pending by the time `hasPendingInterrupt` looks,
 * if that interrupt is enabled; one still not pending then cannot wake the vCPU and is rightly ignored. Reading
 * the clock after the pending check instead (as this loop once did) let the clock pass the deadline between the
 * two reads: the deadline was dropped as "in the past" and the vCPU slept with no timer (a one-vCPU guest hung
 * about one boot in 25).
 */
async function waitForInterrupt(host: GenericExitHost, id: number): Promise<void> {
  const vcpu = host.vcpu(id);
  vcpu.block();
  try {
    while (!host.shuttingDown() && !host.suspended()) {
      const now = host.now();
      host.timers.runDue(now);
      host.board.poll?.();
      const hardware = vcpu.arch.hardwareTimerDeadline();
      if (vcpu.arch.hasPendingInterrupt() || !host.online[id]) return;
      let deadline = host.timers.nextDeadline();
      if (hardware !== undefined && hardware > now && (deadline === undefined || hardware < deadline))
        deadline = hardware;
      await host.sleep(id, deadline);
    }
  } finally {
    vcpu.unblock();
  }
}
