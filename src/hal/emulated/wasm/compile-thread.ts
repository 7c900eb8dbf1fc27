/**
 * The region compiler thread (compile-service.ts says why there is one): a Worker that turns a copy of a guest
 * page and its entry offsets into a compiled WebAssembly module — planning the region (region.ts), generating its
 * code (compile.ts), padding it for the baseline tier unless it is small (baseline-only.ts), compiling it with
 * `new WebAssembly.Module` and having JavaScriptCore make its machine code (warm-up.ts) — and posts the module
 * back. A module can be posted between threads of one process: the hart's thread only instantiates it.
 *
 * Every job carries its page bytes, so nothing here can go stale: the modules it keeps (module-cache.ts) are
 * found by those bytes; the requesting thread drops a reply whose page was written meanwhile.
 */

import { workerData } from "node:worker_threads";
import { BACKGROUND_NICE } from "../background-threads.ts";
import { setThreadNice } from "../sys.ts";
import { moduleForTier } from "./baseline-only.ts";
import { compileRegion } from "./compile.ts";
import { ModuleCache } from "./module-cache.ts";
import { planRegion } from "./region.ts";
import { warmUpRegion } from "./warm-up.ts";

/** What the compiler thread is started with. */
export interface CompileThreadInit {
  /** Jobs come in and replies go out on this port. */
  readonly port: MessagePort;
  /** One int32 the thread adds 1 to after posting each reply (so the requester need not turn its event loop). */
  readonly replies: SharedArrayBuffer;
}

export interface CompileJob {
  readonly id: number;
  /** The page's 4 KiB, copied when the job was made. */
  readonly page: Uint8Array;
  /** Offsets in the page the region is entered at. */
  readonly entries: readonly number[];
  /** Arena offset of the page's region entry map (compiled into the module). */
  readonly mapBase: number;
  readonly threaded: boolean;
  /** Leave the module to JavaScriptCore's optimizing tier too (no baseline-only padding). */
  readonly optimizable: boolean;
}

export type CompileReply =
  | {
      readonly id: number;
      readonly kind: "compiled";
      readonly module: WebAssembly.Module;
      /** Page offset of each instruction, in the order the module's calls number them. */
      readonly offsets: readonly number[];
      /** Block start offsets, by block index. */
      readonly blockStarts: readonly number[];
      /** Bytes of WebAssembly generated (without the padding). */
      readonly generatedBytes: number;
      /** Whether the module may be OMG-compiled: asked for, or small enough (baseline-only.ts). */
      readonly optimizable: boolean;
      /** Whether it came from the thread's ModuleCache (compiled earlier from the same page and entries). */
      readonly cached: boolean;
      /** Milliseconds this thread spent on the job. */
      readonly ms: number;
    }
  /** Nothing in the page could be compiled from those entries. */
  | { readonly id: number; readonly kind: "empty"; readonly ms: number }
  | { readonly id: number; readonly kind: "failed"; readonly error: string };

/** Build and compile one region's module, or take it from `cache` when it was made from the same inputs. */
export function compileJob(job: CompileJob, cache?: ModuleCache): CompileReply {
  const started = performance.now();
  const kept = cache?.get(job);
  if (kept !== undefined)
    return { id: job.id, kind: "compiled", ...kept, cached: true, ms: performance.now() - started };
  const view = new DataView(job.page.buffer, job.page.byteOffset, job.page.byteLength);
  const plan = planRegion(view, 0, job.entries);
  if (plan === undefined) return { id: job.id, kind: "empty", ms: performance.now() - started };
  const generated = compileRegion(plan, job.mapBase, job.threaded);
  const { bytes, optimizable } = moduleForTier(generated.bytes, job.optimizable);
  const module = new WebAssembly.Module(bytes);
  warmUpRegion(module);
  const made = {
    module,
    offsets: generated.offsets,
    blockStarts: generated.blockStarts,
    generatedBytes: generated.bytes.length,
    optimizable,
  };
  // Only modules JavaScriptCore may optimize are kept (module-cache.ts says why).
  if (optimizable) cache?.set(job, made);
  return { id: job.id, kind: "compiled", ...made, cached: false, ms: performance.now() - started };
}

function isInit(value: unknown): value is CompileThreadInit {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<CompileThreadInit>;
  return v.port !== undefined && v.replies instanceof SharedArrayBuffer;
}

if (isInit(workerData)) {
  // Compiles wait for a free core rather than take the hart's (background-threads.ts says why).
  setThreadNice(0, BACKGROUND_NICE);
  const { port, replies } = workerData;
  const count = new Int32Array(replies);
  const cache = new ModuleCache();
  port.on("message", (job: CompileJob) => {
    let reply: CompileReply;
    try {
      reply = compileJob(job, cache);
    } catch (error) {
      reply = {
        id: job.id,
        kind: "failed",
        error: `Cannot compile the region of a page with entries ${job.entries.join(",")}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    port.postMessage(reply);
    Atomics.add(count, 0, 1);
  });
}
