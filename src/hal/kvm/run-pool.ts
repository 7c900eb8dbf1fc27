/**
 * Idle helper threads of the backend (run-worker.ts, run-kicker.ts, eventfd-watcher.ts), reused by the next vCPU or
 * VM instead of being terminated.
 *
 * Why: Bun 1.4.5 on arm64 sometimes crashes the whole process (SIGSEGV or a trap inside Bun) when a Worker that has
 * made FFI calls is terminated. Measured in the nested arm64 KVM (scripts/e2e/30-kvm-arm64-linux.sh's guest), 25
 * VM lifetimes each: with `terminate()` 1 crash in 2 runs; with the threads kept and reused, none in 2 runs. A run
 * thread between vCPUs holds nothing (its vCPU fd and control block come with each RunWorkerInit), so reusing it
 * is also cheaper than starting a JS thread per vCPU per boot.
 *
 * This is process-wide state, like the libc binding in sys.ts: a cache of threads, never shared by two vCPUs at
 * once (a vCPU takes one for its lifetime and gives it back when its loop has exited).
 */

/** More idle threads of one kind than this are terminated rather than kept (each holds a JS heap). */
const MAX_IDLE = 32;

/** The helper threads of the backend, by their script (each is a loop started by a message, reusable after). */
export type HelperThread = "run-worker" | "run-kicker" | "eventfd-watcher";

const idle: Record<HelperThread, Worker[]> = { "run-worker": [], "run-kicker": [], "eventfd-watcher": [] };
const SCRIPTS: Record<HelperThread, URL> = {
  "run-worker": new URL("./run-worker.ts", import.meta.url),
  "run-kicker": new URL("./run-kicker.ts", import.meta.url),
  "eventfd-watcher": new URL("./eventfd-watcher.ts", import.meta.url),
};

/** A helper thread, idle from the pool or new; unref'd, so it never keeps the process alive. */
export function acquireHelperThread(kind: HelperThread): Worker {
  const reused = idle[kind].pop();
  if (reused !== undefined) return reused;
  const worker = new Worker(SCRIPTS[kind].href);
  worker.unref();
  return worker;
}

/** Give back a thread whose loop has exited (its control block said exited or failed). */
export function releaseHelperThread(kind: HelperThread, worker: Worker): void {
  if (idle[kind].length < MAX_IDLE) idle[kind].push(worker);
  else worker.terminate();
}

/** A run thread (run-worker.ts). */
export function acquireRunWorker(): Worker {
  return acquireHelperThread("run-worker");
}

/** Give back a run thread whose run loop has exited (its control block said STATE_EXITED or STATE_FAILED). */
export function releaseRunWorker(worker: Worker): void {
  releaseHelperThread("run-worker", worker);
}
