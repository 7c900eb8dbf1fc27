/**
 * Driving `axvisor` processes through the control API, for the end-to-end drivers (scripts/e2e/linux-snapshot.ts,
 * scripts/e2e/kvm-snapshot-api.ts): spawn the CLI with its stdout collected, wait for a condition or for an API
 * socket to accept connections, and make a request that must succeed.
 */
import { join, resolve } from "node:path";
import { socketAnswers } from "../../src/vmm/control/unix-socket.ts";

const MAIN = join(resolve(import.meta.dir, "../.."), "src/cli/main.ts");

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AxvisorProcess {
  readonly process: ReturnType<typeof Bun.spawn>;
  /** Everything the process wrote to stdout so far. */
  readonly output: () => string;
  /**
   * The exit status, once the process has exited **and** its stdout has been read to the end: `exited` alone can
   * resolve while the last chunks are still in the pipe, and a check of the output would then miss its tail.
   */
  readonly finished: () => Promise<number>;
}

/** `bun src/cli/main.ts ARGS` in `cwd`, its stdout collected and its stderr passed through. */
export function spawnAxvisor(args: readonly string[], cwd: string): AxvisorProcess {
  const child = Bun.spawn(["bun", MAIN, ...args], { cwd, stdout: "pipe", stderr: "inherit" });
  let text = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of child.stdout) text += decoder.decode(chunk, { stream: true });
    text += decoder.decode();
  })();
  const finished = async () => {
    const code = await child.exited;
    await drained;
    return code;
  };
  return { process: child, output: () => text, finished };
}

/** Wait until `condition` holds, polling every `pollMs`; throws naming `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
  pollMs = 10,
): Promise<void> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** The socket is up once it accepts a connection: its file appears at bind(), before the server listens. */
export const socketUp = (path: string) => (): Promise<boolean> => socketAnswers(path);

/** One API request that must succeed (status < 300); returns the status, throws with the body otherwise. */
export async function callApi(socket: string, method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`http://localhost${path}`, {
    unix: socket,
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return response.status;
}
