/**
 * Compiling regions off the hart's thread: the requesting side of the region compiler thread (compile-thread.ts).
 *
 * Why: planning, generating and compiling a region costs the hart's thread ~3-4 ms (Debian's 6.12 boot to init:
 * 158 regions, 89 ms planning, 208 ms generating, 23 ms padding, 212 ms in `new WebAssembly.Module` for the 107
 * compiled there, 15 ms instantiating), all of it time the guest does not run. JavaScriptCore's own background
 * compile (`WebAssembly.compile`) moves only the last part, on one low-priority thread whose results reach the
 * hart only when the event loop turns (2-240 ms later, measured). Here a Worker does all of it; the hart's thread
 * copies the page (4 KiB), posts the job, and later instantiates the module it gets back (~0.1 ms).
 *
 * Replies are taken without turning the event loop: the compiler thread counts its replies in a shared int32,
 * and the run loop (engine.ts), when it waits for compiles, compares that count with the replies it has taken
 * and takes new ones with `receiveMessageOnPort`.
 *
 * One compiler thread per process, started on first use and never terminated (idle, it costs nothing; it is
 * unref'd, so it never keeps the process alive). Only harts on the process's main thread use it: a hart on a
 * thread of its own (threads/) compiles there, so that a 4-hart VM does not add 4 more threads on machines with
 * few cores.
 */

import { isMainThread, MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import type { CompileJob, CompileReply, CompileThreadInit } from "./compile-thread.ts";

const SCRIPT = new URL("./compile-thread.ts", import.meta.url);

export class CompileService {
  /** The thread and its end of the job channel, once the first job has started it (see `#start`). */
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  readonly #replies = new Int32Array(new SharedArrayBuffer(4));
  #taken = 0;
  #nextId = 1;
  readonly #waiting = new Map<number, (reply: CompileReply) => void>();
  /** Why the thread cannot be used any more (it failed to start or exited), once it cannot. */
  #broken: string | undefined;

  /**
   * Whether the thread has been started (by the first job). It is started then rather than with the first VM: a
   * run that never compiles a region (a short program, a run on another tier) should not pay for a second
   * JavaScript VM loading the code generator (~20 ms of CPU, its first reply ~40 ms after the job).
   */
  get started(): boolean {
    return this.#worker !== undefined;
  }

  /** Start the thread if it is not started (a job does too): so that it is up when the next job comes. */
  start(): void {
    this.#start();
  }

  /** The job port, the thread started first if it is not yet; undefined once the thread is unusable. */
  #start(): MessagePort | undefined {
    if (this.#port !== undefined || this.#broken !== undefined) return this.#port;
    const channel = new MessageChannel();
    const init: CompileThreadInit = { port: channel.port2, replies: this.#replies.buffer as SharedArrayBuffer };
    try {
      const worker = new Worker(SCRIPT.href, { workerData: init, transferList: [channel.port2] } as WorkerOptions);
      worker.unref();
      worker.addEventListener("error", (event) => this.#fail(`it failed: ${event.message}`));
      worker.addEventListener("close", () => this.#fail("it exited"));
      this.#worker = worker;
    } catch (error) {
      this.#fail(`it could not be started: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    this.#port = channel.port1;
    return this.#port;
  }

  /** Whether jobs can be posted (the thread has not failed or exited). */
  get usable(): boolean {
    return this.#broken === undefined;
  }

  /** Jobs posted and not answered yet. */
  get outstanding(): number {
    return this.#waiting.size;
  }

  /** Post a job; `done` is called with its reply from `deliver` (or at once with a failure if the thread broke). */
  request(job: Omit<CompileJob, "id">, done: (reply: CompileReply) => void): void {
    const id = this.#nextId++;
    const port = this.#start();
    if (port === undefined) {
      done({ id, kind: "failed", error: `Cannot compile a region: the compiler thread is unusable (${this.#broken})` });
      return;
    }
    this.#waiting.set(id, done);
    port.postMessage({ ...job, id } satisfies CompileJob);
  }

  /** Whether replies are waiting to be delivered. Cheap: one shared-memory read. */
  get hasReplies(): boolean {
    return Atomics.load(this.#replies, 0) !== this.#taken;
  }

  /** Call the `done` of every reply that has arrived. */
  deliver(): void {
    const port = this.#port;
    if (port === undefined) return;
    while (Atomics.load(this.#replies, 0) !== this.#taken) {
      const received = receiveMessageOnPort(port) as { message: CompileReply } | undefined;
      if (received === undefined) return; // counted but not visible yet: the next call takes it
      this.#taken++;
      const reply = received.message;
      const done = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      done?.(reply);
    }
  }

  #fail(why: string): void {
    if (this.#broken !== undefined) return;
    this.#broken = why;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const [id, done] of waiting)
      done({ id, kind: "failed", error: `Cannot compile a region: the compiler thread is unusable (${why})` });
  }
}

let shared: CompileService | undefined;

/**
 * The process's region compiler thread (started by its first job); undefined off the main thread, or when it
 * could not be started or has stopped (regions are then compiled on the hart's thread).
 */
export function compileService(): CompileService | undefined {
  if (!isMainThread) return undefined;
  shared ??= new CompileService();
  return shared.usable ? shared : undefined;
}
