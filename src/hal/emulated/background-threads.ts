/**
 * The hart's thread first: JavaScriptCore's compiler threads and the region compiler thread run at a lower
 * priority than the threads that run harts.
 *
 * Why: on a 2-core host the hart's thread has one core, and the other is shared by the region compiler thread
 * (wasm/compile-thread.ts) and JavaScriptCore's JIT threads ("JITWorker": DFG and FTL; the WebAssembly tier-up
 * thread). While the code generator is cold they want more than that core, and with equal priorities the kernel
 * shares both cores among all of them, taking the difference off the hart: in the project kernel's boot the hart's
 * thread ran 0.70 s of a 0.88 s boot. JavaScriptCore asks for lower priorities for these threads itself
 * (priorityDeltaOf*CompilerThreads), which Linux's default scheduler ignores; a nice value is what it honours.
 * Compiles then wait for a free core instead of taking the hart's. Measured (A/B, alternating cold boots): the
 * project kernel's boot 1.09 -> 0.89 s (median of 10; faster in 9 of 10 pairs); Debian's boot, cold and in the
 * benchmark's warm rounds, 1 and 4 harts, unchanged within this machine's noise.
 *
 * The compiler thread lowers itself when it starts (wasm/compile-thread.ts); JavaScriptCore's threads are
 * found by name and lowered from the hart's run loop (`lowerCompilerThreads`). Threads JavaScriptCore starts from
 * the compiler thread (a GC helper, a second JIT thread) inherit its nice value.
 *
 * Linux only (where the nice value is per thread, and /proc/self/task names the threads); elsewhere nothing is
 * done.
 */

import { readdirSync, readFileSync } from "node:fs";
import { setThreadNice } from "./sys.ts";

/** The nice value background threads get (0 is the default; 19 the lowest priority). */
export const BACKGROUND_NICE = 10;

/**
 * Names (as /proc shows them: at most 15 bytes, JavaScriptCore keeps the end) of JavaScriptCore's compiler
 * threads: the JIT worklist's and the WebAssembly worklist's ("Wasm Worklist Helper Thread").
 */
export const COMPILER_THREAD_NAMES: ReadonlySet<string> = new Set(["JITWorker", "t Helper Thread"]);

/**
 * Times each thread's name was read (a thread lowered counts as done). A name is read at most twice: JavaScriptCore
 * names a thread as it starts, so a second look covers one seen before it was named, and the threads that are not
 * compiler threads (the hart's, GC helpers, Bun's pool) are not read every look for the rest of the run. (Ids are
 * only reused after a thread ends.)
 */
const looks = new Map<number, number>();
/** Reads of a thread's name before it is left alone. */
const MAX_LOOKS = 2;
/** performance.now() of the last look. */
let lastLook = Number.NEGATIVE_INFINITY;
/** How often to look for new compiler threads (JavaScriptCore starts them on demand). */
const LOOK_INTERVAL_MS = 50;

/**
 * Lower the priority of JavaScriptCore's compiler threads that have not been lowered yet: at most every
 * LOOK_INTERVAL_MS (the look costs a directory listing of /proc/self/task). Call it from a hart's run loop.
 */
export function lowerCompilerThreads(now = performance.now()): void {
  if (now - lastLook < LOOK_INTERVAL_MS || process.platform !== "linux") return;
  lastLook = now;
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return;
  }
  for (const name of tids) {
    const tid = Number(name);
    const seen = looks.get(tid) ?? 0;
    if (seen >= MAX_LOOKS) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/self/task/${name}/comm`, "utf8").trim();
    } catch {
      continue; // ended meanwhile
    }
    if (!COMPILER_THREAD_NAMES.has(comm)) {
      looks.set(tid, seen + 1);
      continue;
    }
    looks.set(tid, MAX_LOOKS);
    setThreadNice(tid, BACKGROUND_NICE);
  }
}
