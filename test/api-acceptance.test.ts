/**
 * The control plane's acceptance test: a VM driven ONLY through the API socket of `axvisor serve`, in two
 * processes. The first is configured (machine-config, boot-source), started, paused and snapshotted, then
 * stopped (SIGTERM); a second, new process loads the snapshot, is resumed, and the counter guest's output goes
 * on from the next number to the end: no gap, no repeat, and its clock does not jump (counter.c checks).
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socketAnswers } from "../src/vmm/control/unix-socket.ts";
import { COUNTER_BIN, COUNTER_LAST, countsIn, countsUpTo, sleep, until } from "./support/counter-guest.ts";

const MAIN = join(import.meta.dir, "../src/cli/main.ts");

interface Server {
  readonly process: ReturnType<typeof Bun.spawn>;
  readonly output: () => string;
  readonly errors: () => string;
  /** The exit status once stdout and stderr are read to the end (`exited` may come before their last chunks). */
  readonly finished: () => Promise<number>;
}

function collect(stream: ReadableStream<Uint8Array>): { text: () => string; drained: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    text += decoder.decode();
  })();
  return { text: () => text, drained };
}

async function serve(socket: string, cwd: string): Promise<Server> {
  const child = Bun.spawn(["bun", MAIN, "serve", "--api-sock", socket], { cwd, stdout: "pipe", stderr: "pipe" });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const finished = async () => {
    const code = await child.exited;
    await Promise.all([stdout.drained, stderr.drained]);
    return code;
  };
  const server = { process: child, output: stdout.text, errors: stderr.text, finished };
  // The socket file appears at bind(), before the server listens: wait for a connection to be accepted.
  await until(() => socketAnswers(socket), `the API socket ${socket}`);
  return server;
}

async function call(socket: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`http://localhost${path}`, {
    unix: socket,
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

describe("the API socket drives a VM across processes", () => {
  test("configure, start, pause, snapshot, stop; load in a new process, resume: the output continues", async () => {
    const dir = mkdtempSync(join(tmpdir(), "axvisor-api-"));
    const socket = join(dir, "api.sock");
    try {
      const first = await serve(socket, dir);
      expect((await call(socket, "GET", "/")).body?.state).toBe("Not started");
      expect((await call(socket, "PUT", "/machine-config", { vcpu_count: 1, mem_size_mib: 128 })).status).toBe(204);
      expect((await call(socket, "PUT", "/boot-source", { kernel_image_path: COUNTER_BIN })).status).toBe(204);
      expect((await call(socket, "PUT", "/actions", { action_type: "InstanceStart" })).status).toBe(204);
      await until(() => countsIn(first.output()).length >= 30, "30 counts");
      expect((await call(socket, "PATCH", "/vm", { state: "Paused" })).status).toBe(204);
      expect((await call(socket, "GET", "/")).body?.state).toBe("Paused");
      const created = await call(socket, "PUT", "/snapshot/create", {
        snapshot_path: "vm.snap",
        mem_file_path: "vm.mem",
      });
      expect(created).toEqual({ status: 204, body: undefined });
      await sleep(100);
      const before = countsIn(first.output());
      first.process.kill("SIGTERM");
      expect(await first.finished()).toBe(143);
      expect(statSync(join(dir, "vm.mem")).size).toBe(128 * 2 ** 20);

      const second = await serve(socket, dir);
      const loaded = await call(socket, "PUT", "/snapshot/load", {
        snapshot_path: "vm.snap",
        mem_backend: { backend_type: "File", backend_path: "vm.mem" },
      });
      expect(loaded.status).toBe(204);
      expect((await call(socket, "GET", "/")).body?.state).toBe("Paused");
      await sleep(200);
      expect(countsIn(second.output())).toEqual([]);
      expect((await call(socket, "PATCH", "/vm", { state: "Resumed" })).status).toBe(204);
      // `serve` ends with its VM, with the guest's exit status.
      expect(await second.finished()).toBe(0);
      expect(second.output()).not.toContain("clock jumped");
      expect(second.output()).toContain("counter: done");
      expect(before.length).toBeGreaterThanOrEqual(30);
      // The pause may fall inside a line: the output continues byte for byte, so both are read as one.
      expect(countsIn(first.output() + second.output())).toEqual(countsUpTo(COUNTER_LAST));
      expect(second.errors()).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
