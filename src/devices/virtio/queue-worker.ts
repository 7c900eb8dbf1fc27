/**
 * Serving a virtqueue in bounded turns. A notification used to be served to the end of the queue in one go: one
 * legal transmit chain of 127 × 32 MiB descriptors kept the JS thread (and so every VM of the process, and Ctrl-C)
 * busy for 8–11 s. Now a queue does at most `QUEUE_TURN_BUDGET` bytes of work per turn (each chain counts
 * `CHAIN_COST` more, so a burst of tiny chains is bounded as well); the rest is deferred to the next turn of the
 * VMM's event loop (`VirtioDeviceContext.defer`), where the other VMs have run in between. A chain may span
 * several turns: its work is a `ChainWork` that is stepped with what is left of the budget.
 *
 * While a continuation is pending, further notifications of the queue are coalesced into it (the continuation
 * sees the new buffers), so a guest that notifies in a loop gets one budget per turn, not one per notification.
 * The budget is a bucket refilled by each deferred turn: work done for notifications adds up until it is spent.
 */

import type { VirtioDeviceContext } from "./device.ts";
import type { DescriptorChain } from "./queue.ts";

/**
 * Bytes of guest buffer one queue may move per turn unless its device says otherwise. Each VM's vCPUs run 4 ms
 * slices between turns, and moving a byte to the host costs about 5 ns here (copying it out of guest memory into
 * a buffer the sink may keep): 64 KiB is a few tenths of a millisecond, under a tenth of a neighbour's slice.
 */
export const QUEUE_TURN_BUDGET = 0x1_0000;
/** What taking one chain off the ring costs against the budget, whatever its length. */
export const CHAIN_COST = 512;

/** What one step of a chain's work did. */
export interface ChainStep {
  /** Bytes of guest buffer moved (read or written) in this step. */
  readonly spent: number;
  /** Set when the chain is finished: the used length to put in the used ring. */
  readonly used?: number;
}

/** A chain's work: do at most about `budget` bytes of it (at least one byte when `budget` > 0), return the step. */
export type ChainWork = (budget: number) => ChainStep;

/** Work that finishes in one step whatever the budget (a request bounded by the device itself). */
export function finished(used: number, spent = used): ChainWork {
  return () => ({ spent, used });
}

export interface QueueWorkerStats {
  /** Chains finished (put on the used ring). */
  chains: number;
  /** Times the budget ran out and the rest of the work went to a later turn. */
  deferrals: number;
}

export class QueueWorker {
  readonly index: number;
  readonly stats: QueueWorkerStats = { chains: 0, deferrals: 0 };
  readonly #begin: (chain: DescriptorChain) => ChainWork;
  readonly #budget: number;
  /** The chain taken off the ring and not finished yet. */
  #current: { readonly head: number; readonly work: ChainWork } | undefined;
  #spent = 0;
  #deferred = false;

  /** `begin` starts the work of a chain just taken off queue `index`. */
  constructor(index: number, begin: (chain: DescriptorChain) => ChainWork, options: { budget?: number } = {}) {
    this.index = index;
    this.#begin = begin;
    this.#budget = options.budget ?? QUEUE_TURN_BUDGET;
  }

  /** A chain is half done or a continuation is pending (a snapshot now would lose work). */
  get busy(): boolean {
    return this.#current !== undefined || this.#deferred;
  }

  /**
   * Serve available chains until the queue is empty, `more()` says stop (the console's receive side without
   * input), or the turn's budget is spent (then a continuation is deferred). The driver is signalled once if any
   * chain was finished. A ring that breaks the rules stops the device (`context.fail`); returns false then.
   */
  serve(context: VirtioDeviceContext, more: () => boolean = () => true): boolean {
    if (this.#deferred) return true;
    const queue = context.queues[this.index];
    if (queue === undefined) return true;
    let finishedAny = false;
    let ok = true;
    for (;;) {
      if (this.#spent >= this.#budget) {
        // Nothing left to do needs no later turn (the driver notifies when it adds buffers).
        if (this.#current !== undefined || (more() && queue.hasAvailable())) this.#defer(context, more);
        break;
      }
      let current = this.#current;
      if (current === undefined) {
        if (!more()) break;
        const next = queue.pop();
        if (next.kind === "empty") break;
        if (next.kind === "error") {
          context.fail({ kind: "queue", error: next.error });
          ok = false;
          break;
        }
        current = { head: next.chain.head, work: this.#begin(next.chain) };
        this.#current = current;
        this.#spent += CHAIN_COST;
      }
      const step = current.work(Math.max(0, this.#budget - this.#spent));
      this.#spent += step.spent;
      if (step.used === undefined) {
        // Work that made no progress must not spin here: end the turn.
        if (step.spent <= 0) this.#spent = this.#budget;
        continue;
      }
      this.#current = undefined;
      this.stats.chains++;
      const failure = queue.addUsed(current.head, step.used);
      if (failure !== undefined) {
        context.fail({ kind: "queue", error: failure });
        ok = false;
        break;
      }
      finishedAny = true;
    }
    if (finishedAny) context.signalUsed(this.index);
    return ok;
  }

  /** Forget the chain in progress and any pending continuation (device reset). */
  reset(): void {
    this.#current = undefined;
    this.#spent = 0;
    this.#deferred = false;
  }

  #defer(context: VirtioDeviceContext, more: () => boolean): void {
    this.#deferred = true;
    this.stats.deferrals++;
    context.defer(() => {
      this.#deferred = false;
      this.#spent = 0;
      this.serve(context, more);
    });
  }
}
