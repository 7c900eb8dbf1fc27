/**
 * Running one vCPU through the exits the VM answers by itself (`AxVM.runVcpu`): MMIO, port and system-register
 * accesses go to the buses (bus-exits.ts), every exit the VM core does not own (`BoardExit`: SBI calls, ...) to
 * the board, and the generic exits (Halt, CpuUp, SystemDown, Hypercall, ...) come back for the per-vCPU loop to
 * dispatch (generic-exits.ts). At most INTERNAL_EXIT_BATCH exits (ACCESS_EXIT_BATCH answered in place) are handled
 * in a row, so that one vCPU cannot starve the loop; and a VM that stops running (a pause, a stop) is not entered
 * again.
 */

import type { AxVCpuExitReason, HalAccessHandler } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { Board, GenericExit } from "./board.ts";
import type { BusExitHandler } from "./bus-exits.ts";
import { formatExit } from "./exit-trace.ts";

/** Handled exits in a row after which a run returns `Nothing` anyway, so one vCPU cannot starve the loop. */
const INTERNAL_EXIT_BATCH = 256;
/**
 * The same for accesses the backend answers in place (`runAccesses`): the VM loop lets the event loop turn after
 * every batch, which costs tens of microseconds, so a batch of the cheapest exits is made longer. 1024 such exits
 * take about 1 ms natively (3.5 ms under nested KVM), within the VM loop's slice (its own yield to the event loop).
 */
const ACCESS_EXIT_BATCH = 1024;

/**
 * What `VcpuExits.run` returns when an access batch ran its full length: nothing happened that the VM loop must
 * act on, and nothing is known to be waiting (no kick, no work from a helper thread, unlike a plain `Nothing`, which
 * says the run was cut short for the event loop). Told apart by identity.
 */
export const BATCH_DONE: GenericExit = Object.freeze({ kind: "Nothing" });

export interface VcpuExitsHost {
  readonly label: string;
  readonly board: Board;
  readonly busExits: BusExitHandler;
  /** One line per exit (`--trace-exits`); nothing is formatted or counted when absent. */
  readonly traceExits: ((line: string) => void) | undefined;
  /** Whether the VM is still Running (a pause or a stop ends the batch). */
  running(): boolean;
}

export class VcpuExits {
  /** Exits by kind, counted while exits are traced. */
  readonly counts: Record<string, number> = {};
  readonly #host: VcpuExitsHost;
  /** Per vCPU id, `busExits.accessHandler` (made on first use). */
  readonly #accessHandlers: (HalAccessHandler & { answered: number })[] = [];

  constructor(host: VcpuExitsHost) {
    this.#host = host;
  }

  /** Run `vcpu`, handling bus and board exits inside; returns the generic exits the VM loop acts on. */
  run(vcpu: AxVCpu): GenericExit {
    // Plain accesses are answered inside the backend when it can (no exit objects); traced exits need the objects.
    const handler =
      this.#host.traceExits === undefined && vcpu.answersAccesses ? this.#accessHandler(vcpu.id) : undefined;
    const batch = handler === undefined ? INTERNAL_EXIT_BATCH : ACCESS_EXIT_BATCH;
    for (let handled = 0; handled < batch && this.#host.running(); handled++) {
      let exit: AxVCpuExitReason;
      if (handler === undefined) {
        exit = vcpu.run();
      } else {
        handler.answered = 0;
        exit = vcpu.runAccesses(handler, batch - handled);
        handled += handler.answered;
        if (handled >= batch && exit.kind === "Nothing") return BATCH_DONE;
      }
      const rest = this.#handle(vcpu, exit);
      if (rest !== undefined) return rest;
    }
    return { kind: "Nothing" };
  }

  #accessHandler(id: number): HalAccessHandler & { answered: number } {
    let handler = this.#accessHandlers[id];
    if (handler === undefined) {
      handler = this.#host.busExits.accessHandler(id);
      this.#accessHandlers[id] = handler;
    }
    return handler;
  }

  /** `run` for backends that run the guest on another thread. */
  async runAsync(vcpu: AxVCpu): Promise<GenericExit> {
    // A pause (or a stop) kicks the vCPU out of KVM_RUN; it must not enter it again to finish the batch.
    for (let handled = 0; handled < INTERNAL_EXIT_BATCH && this.#host.running(); handled++) {
      const rest = this.#handle(vcpu, await vcpu.runAsync());
      if (rest !== undefined) return rest;
    }
    return { kind: "Nothing" };
  }

  /**
   * Bus exits are answered here; generic exits go back to the loop; every other exit is the board's. Returns
   * undefined when the exit was handled and the vCPU can go on.
   */
  #handle(vcpu: AxVCpu, exit: AxVCpuExitReason): GenericExit | undefined {
    const trace = this.#host.traceExits;
    if (trace !== undefined) this.#trace(trace, vcpu.id, exit);
    switch (exit.kind) {
      case "MmioRead":
      case "MmioWrite":
      case "IoRead":
      case "IoWrite":
      case "SysRegRead":
      case "SysRegWrite":
        this.#host.busExits.handle(vcpu, exit);
        return undefined;
      case "Nothing":
      case "Halt":
      case "CpuUp":
      case "CpuDown":
      case "SystemDown":
      case "Hypercall":
      case "SendIPI":
      case "ExternalInterrupt":
      case "NestedPageFault":
      case "FailEntry":
      case "Unsupported":
      case "Debug":
        return exit;
      default:
        // Only board exits are left (the checker proves it: `exit` is a BoardExit here).
        return this.#host.board.handleExit(vcpu.id, exit);
    }
  }

  #trace(sink: (line: string) => void, vcpuId: number, exit: AxVCpuExitReason): void {
    this.counts[exit.kind] = (this.counts[exit.kind] ?? 0) + 1;
    if (exit.kind === "Nothing") return;
    sink(formatExit(this.#host.label, vcpuId, exit));
  }
}
