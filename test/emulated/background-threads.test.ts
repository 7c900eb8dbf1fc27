/**
 * JavaScriptCore's compiler threads and the region compiler thread run at a lower priority than the harts'
 * threads (background-threads.ts): checked in /proc, where Linux shows each thread's name and nice value.
 */
import { expect } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import {
  BACKGROUND_NICE,
  COMPILER_THREAD_NAMES,
  lowerCompilerThreads,
} from "../../src/hal/emulated/background-threads.ts";
import { CompileService } from "../../src/hal/emulated/wasm/compile-service.ts";
import type { CompileReply } from "../../src/hal/emulated/wasm/compile-thread.ts";
import { type Requirement, testIf } from "../support/skip.ts";
import { sumLoop } from "./fixture.ts";

interface ThreadInfo {
  readonly tid: number;
  readonly name: string;
  readonly nice: number;
}

/** This process's threads: name and nice value (the 19th field of /proc/<pid>/task/<tid>/stat). */
function threads(): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const entry of readdirSync("/proc/self/task")) {
    try {
      const name = readFileSync(`/proc/self/task/${entry}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/self/task/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ tid: Number(entry), name, nice: Number(fields[16]) });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

const linux: Requirement =
  process.platform === "linux"
    ? { available: true, reason: "Linux" }
    : { available: false, reason: "thread priorities are set through Linux's per-thread nice values and /proc" };

testIf(linux, "thread priorities")(
  "JavaScriptCore's compiler threads are lowered to BACKGROUND_NICE; the calling thread keeps its priority",
  () => {
    // Something for the JIT to optimize, so that its threads exist.
    let sum = 0;
    for (let k = 0; k < 2_000_000; k++) sum = (sum + ((k * 7) ^ (sum >>> 3))) | 0;
    expect(sum).not.toBe(0.5);
    const compilerThreads = threads().filter((t) => COMPILER_THREAD_NAMES.has(t.name));
    expect(compilerThreads.length).toBeGreaterThan(0);
    lowerCompilerThreads(Number.POSITIVE_INFINITY);
    const after = threads();
    for (const t of compilerThreads)
      expect(after.find((a) => a.tid === t.tid)?.nice ?? BACKGROUND_NICE).toBe(BACKGROUND_NICE);
    expect(after.find((t) => t.tid === process.pid)?.nice).toBe(0);
  },
);

testIf(linux, "thread priorities")("the region compiler thread lowers its own priority when it starts", async () => {
  const lowered = (): number => threads().filter((t) => t.name === "Worker" && t.nice === BACKGROUND_NICE).length;
  const before = lowered();
  const service = new CompileService();
  const page = new Uint8Array(4096);
  page.set(sumLoop(10));
  let reply: CompileReply | undefined;
  service.request({ page, entries: [0], mapBase: 0x10000, threaded: false, optimizable: false }, (r) => {
    reply = r;
  });
  const deadline = Date.now() + 20_000;
  while (reply === undefined && Date.now() < deadline) {
    await Bun.sleep(1);
    service.deliver();
  }
  expect(reply?.kind).toBe("compiled");
  // (Threads the compiler thread starts inherit its nice value and may share its name.)
  expect(lowered()).toBeGreaterThan(before);
  expect(threads().find((t) => t.tid === process.pid)?.nice).toBe(0);
});
