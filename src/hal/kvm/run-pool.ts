/**
 * Idle run threads (run-worker.ts), reused by the next vCPU instead of being terminated.
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

/** More idle threads than this are terminated rather than kept (each holds a JS heap). */
const MAX_IDLE = 32;

const idle: Worker[] = [];

/** A run thread, idle from the pool or new; unref'd, so it never keeps the process alive. */
export function acquireRunWorker(): Worker {
  const reused = idle.pop();
  if (reused !== undefined) return reused;
  const worker = new Worker(new URL("./run-worker.ts", import.meta.url).href);
  worker.unref();
  return worker;
}

/** Give back a thread whose run loop has exited (its control block said STATE_EXITED or STATE_FAILED). */
export function releaseRunWorker(worker: Worker): void {
  if (idle.length < MAX_IDLE) idle.push(worker);
  else worker.terminate();
}
