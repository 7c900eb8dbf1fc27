/**
 * JavaScriptCore's compiler threads and the region compiler thread run at a lower priority than the harts'
 * threads (background-threads.ts): checked in /proc, where Linux shows each thread's name and nice value.
 */
import { expect } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKGROUND_NICE, COMPILER_THREAD_NAMES } from "../../src/hal/emulated/background-threads.ts";
import { CompileService } from "../../src/hal/emulated/wasm/compile-service.ts";
import { type Requirement, testIf } from "../support/skip.ts";
import { compileSumLoopPage } from "./fixture.ts";

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
    // In a process of its own: in this one, harts run by earlier tests may have lowered the threads already.
    const module = join(import.meta.dir, "../../src/hal/emulated/background-threads.ts");
    const script = `
      import { readdirSync, readFileSync } from "node:fs";
      import { lowerCompilerThreads } from ${JSON.stringify(module)};
      const threads = () => readdirSync("/proc/self/task").map((tid) => {
        const stat = readFileSync("/proc/self/task/" + tid + "/stat", "utf8");
        return { tid: Number(tid), name: readFileSync("/proc/self/task/" + tid + "/comm", "utf8").trim(),
                 nice: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) };
      });
      // Something for the JIT to optimize, so that its threads exist.
      const mix = (n) => { let s = 0; for (let k = 0; k < n; k++) s = (s + ((k * 7) ^ (s >>> 3))) | 0; return s; };
      let sum = 0;
      for (let k = 0; k < 2000; k++) sum ^= mix(2000);
      await Bun.sleep(20);
      const before = threads();
      lowerCompilerThreads(Number.POSITIVE_INFINITY);
      console.log(JSON.stringify({ sum, pid: process.pid, before, after: threads() }));
    `;
    // (From a file: code run by `bun -e` did not start the JIT threads.)
    const dir = mkdtempSync(join(tmpdir(), "axvisor-nice-"));
    const file = join(dir, "lower.ts");
    writeFileSync(file, script);
    const r = Bun.spawnSync([process.execPath, file]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout.toString()) as { pid: number; before: ThreadInfo[]; after: ThreadInfo[] };
    const compilerThreads = out.before.filter((t) => COMPILER_THREAD_NAMES.has(t.name));
    expect(compilerThreads.length).toBeGreaterThan(0);
    expect(compilerThreads.every((t) => t.nice === 0)).toBe(true);
    for (const t of compilerThreads) expect(out.after.find((a) => a.tid === t.tid)?.nice).toBe(BACKGROUND_NICE);
    expect(out.after.find((t) => t.tid === out.pid)?.nice).toBe(0);
  },
);

testIf(linux, "thread priorities")("the region compiler thread lowers its own priority when it starts", async () => {
  const lowered = (): number => threads().filter((t) => t.name === "Worker" && t.nice === BACKGROUND_NICE).length;
  const before = lowered();
  const reply = await compileSumLoopPage(new CompileService());
  expect(reply?.kind).toBe("compiled");
  // (Threads the compiler thread starts inherit its nice value and may share its name.)
  expect(lowered()).toBeGreaterThan(before);
  expect(threads().find((t) => t.tid === process.pid)?.nice).toBe(0);
});
