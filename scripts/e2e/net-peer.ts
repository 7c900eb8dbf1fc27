/**
 * The host end of the network end-to-end test and benchmark: runs a guest (our VMM, or QEMU for the reference) whose
 * init is in network mode (test/guests/linux-init/init.c: `axvisor.net=ADDRESS/PREFIX,PEER,PORT,BYTES` on its
 * command line), and talks to it over the TAP link the caller set up (scripts/e2e/40-net-tap.sh runs this inside a
 * network namespace holding the TAP, with PEER's address on it).
 *
 *   bun scripts/e2e/net-peer.ts --listen 10.0.2.2 --port 5555 --guest 10.0.2.15 --bytes 4194304 \
 *       [--timeout SECONDS] -- <command that runs the VM...>
 *
 * What happens: a TCP server listens on PEER:PORT and the VM command starts. The guest brings eth0 up, pings PEER
 * and connects. On the connection, this side first pings the guest (`ping`, host → guest), then sends BYTES random
 * bytes; the guest prints the FNV-1a 64 checksum of what it read and sends BYTES of its xorshift64 stream (seed
 * 0x9e3779b97f4a7c15); this side checks that stream's checksum and closes the connection, which tells the guest
 * everything arrived (it powers off then). The console's
 * "AXVISOR-INIT: net: ..." lines give the guest's view (its ping replies, its checksum of our bytes).
 *
 * Timing (this side's clock): host → guest from our first write to the guest's first byte back (it starts sending
 * only after reading everything), guest → host from that byte to the last one.
 *
 * Prints the VM's console, then `NET-PEER: ...` lines and one `NET-PEER-RESULT {json}` line; exit status 0 when
 * both pings, both checksums and the VM's own exit status are right.
 */
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    listen: { type: "string" },
    port: { type: "string", default: "5555" },
    guest: { type: "string" },
    bytes: { type: "string", default: String(4 << 20) },
    timeout: { type: "string", default: "600" },
  },
});
if (values.listen === undefined || values.guest === undefined || positionals.length === 0) {
  console.error("net-peer: usage: --listen ADDRESS --guest ADDRESS [--port N] [--bytes N] [--timeout S] -- command...");
  process.exit(2);
}
const listen = values.listen;
const guest = values.guest;
const port = Number(values.port);
const bytes = Number(values.bytes);
const timeoutMs = Number(values.timeout) * 1000;

// -- the checksum and the guest's stream, in 32-bit halves (BigInt per byte would take seconds) ---------------------

/** FNV-1a 64 over `data`, continuing from `state` ([high, low]). */
export function fnv1a64(state: [number, number], data: Uint8Array): void {
  let [hi, lo] = state;
  for (let i = 0; i < data.length; i++) {
    lo = (lo ^ (data[i] ?? 0)) >>> 0;
    // (hi:lo) * 0x100_0000_01b3 mod 2^64; every partial product is below 2^53, so doubles are exact.
    const low = lo * 0x1b3;
    const carry = Math.floor(low / 0x1_0000_0000);
    hi = (hi * 0x1b3 + lo * 0x100 + carry) % 0x1_0000_0000;
    lo = low % 0x1_0000_0000;
  }
  state[0] = hi;
  state[1] = lo;
}

const FNV_OFFSET: [number, number] = [0xcbf29ce4, 0x84222325];

function hex64(state: [number, number]): string {
  return `0x${state[0].toString(16).padStart(8, "0")}${state[1].toString(16).padStart(8, "0")}`;
}

/** The guest's xorshift64 stream (x ^= x << 13; x ^= x >> 7; x ^= x << 17), little-endian words. */
function guestStream(length: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(length / 8) * 8);
  const view = new DataView(out.buffer);
  let hi = 0x9e3779b9;
  let lo = 0x7f4a7c15;
  for (let at = 0; at < out.length; at += 8) {
    // x ^= x << 13
    let nhi = (hi ^ ((hi << 13) | (lo >>> 19))) >>> 0;
    let nlo = (lo ^ (lo << 13)) >>> 0;
    hi = nhi;
    lo = nlo;
    // x ^= x >> 7
    nlo = (lo ^ ((lo >>> 7) | (hi << 25))) >>> 0;
    nhi = (hi ^ (hi >>> 7)) >>> 0;
    hi = nhi;
    lo = nlo;
    // x ^= x << 17
    nhi = (hi ^ ((hi << 17) | (lo >>> 15))) >>> 0;
    nlo = (lo ^ (lo << 17)) >>> 0;
    hi = nhi;
    lo = nlo;
    view.setUint32(at, lo, true);
    view.setUint32(at + 4, hi, true);
  }
  return out.subarray(0, length);
}

// -- the VM ----------------------------------------------------------------------------------------------------------

const started = performance.now();
const vm = Bun.spawn(positionals, { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
let consoleText = "";
const decoder = new TextDecoder();
const consoleDone = (async () => {
  for await (const chunk of vm.stdout) {
    process.stdout.write(chunk);
    consoleText = (consoleText + decoder.decode(chunk, { stream: true })).slice(-65536);
  }
})();

// -- the TCP side --------------------------------------------------------------------------------------------------

interface Transfer {
  pingReplies: number;
  sentFnv: string;
  receivedBytes: number;
  receivedFnv: string;
  expectedFnv: string;
  hostToGuestMs: number;
  guestToHostMs: number;
}

function ping(address: string): Promise<number> {
  const proc = Bun.spawn(["ping", "-c", "3", "-i", "0.5", "-W", "10", address], { stdout: "pipe", stderr: "pipe" });
  return new Response(proc.stdout).text().then((out) => {
    const match = /(\d+) received/.exec(out);
    return match === null ? 0 : Number(match[1]);
  });
}

function writeAll(socket: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

const transfer = new Promise<Transfer>((resolve, reject) => {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    server.close();
    void (async () => {
      try {
        const pingReplies = await ping(guest);
        const sentFnv: [number, number] = [...FNV_OFFSET];
        const received: [number, number] = [...FNV_OFFSET];
        let receivedBytes = 0;
        let firstByteAt = 0;
        let endAt = 0;
        const ended = new Promise<void>((done, failed) => {
          const finish = (): void => {
            endAt = performance.now();
            done();
          };
          socket.on("data", (chunk: Buffer) => {
            if (receivedBytes === 0) firstByteAt = performance.now();
            fnv1a64(received, chunk);
            receivedBytes += chunk.length;
            if (receivedBytes >= bytes) finish();
          });
          socket.on("end", finish);
          socket.on("error", failed);
        });
        const sendStart = performance.now();
        const chunk = new Uint8Array(0x1_0000);
        for (let at = 0; at < bytes; at += chunk.length) {
          const piece = chunk.subarray(0, Math.min(chunk.length, bytes - at));
          crypto.getRandomValues(piece);
          fnv1a64(sentFnv, piece);
          await writeAll(socket, Uint8Array.from(piece));
        }
        await ended;
        socket.end();
        const expected: [number, number] = [...FNV_OFFSET];
        fnv1a64(expected, guestStream(bytes));
        resolve({
          pingReplies,
          sentFnv: hex64(sentFnv),
          receivedBytes,
          receivedFnv: hex64(received),
          expectedFnv: hex64(expected),
          hostToGuestMs: (firstByteAt || endAt) - sendStart,
          guestToHostMs: endAt - (firstByteAt || endAt),
        });
      } catch (error) {
        reject(error);
      }
    })();
  });
  server.on("error", reject);
  server.listen(port, listen);
});

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  vm.kill("SIGTERM");
  setTimeout(() => vm.kill("SIGKILL"), 5000).unref();
}, timeoutMs);

// The guest powers off as soon as its close is acknowledged, so the VM may be gone before this side has finished
// checking: a transfer in progress gets a few seconds more after the VM exits.
const done = transfer.then((t) => ({ kind: "done" as const, t }));
const outcome = await Promise.race([
  done,
  vm.exited.then((code) => Promise.race([done, Bun.sleep(15_000).then(() => ({ kind: "vm-exited" as const, code }))])),
]).catch((error: unknown) => ({ kind: "error" as const, error }));
const status = await vm.exited;
clearTimeout(timer);
await consoleDone;
const seconds = (performance.now() - started) / 1000;

const mibps = (ms: number): number => (ms > 0 ? bytes / 0x10_0000 / (ms / 1000) : 0);
const problems: string[] = [];
if (timedOut) problems.push(`timed out after ${values.timeout} s`);
if (status !== 0) problems.push(`the VM exited with ${status}`);
const guestPing = /AXVISOR-INIT: net: ping \S+: (\d+)\/(\d+) replies/.exec(consoleText);
if (guestPing === null || guestPing[1] !== guestPing[2])
  problems.push(`guest → host ping: ${guestPing?.[0] ?? "no result"}`);
const guestReceived = /AXVISOR-INIT: net: tcp received (\d+) bytes fnv=(0x[0-9a-f]+)/.exec(consoleText);
let result: Record<string, unknown> = { seconds, status };
if (outcome.kind === "done") {
  const t = outcome.t;
  console.log(`NET-PEER: host -> guest ping: ${t.pingReplies}/3 replies`);
  console.log(
    `NET-PEER: host -> guest ${bytes} bytes fnv=${t.sentFnv}, guest read ${guestReceived?.[1] ?? "?"} bytes fnv=${guestReceived?.[2] ?? "?"} in ${t.hostToGuestMs.toFixed(0)} ms (${mibps(t.hostToGuestMs).toFixed(2)} MiB/s)`,
  );
  console.log(
    `NET-PEER: guest -> host ${t.receivedBytes} bytes fnv=${t.receivedFnv} (expected ${t.expectedFnv}) in ${t.guestToHostMs.toFixed(0)} ms (${mibps(t.guestToHostMs).toFixed(2)} MiB/s)`,
  );
  if (t.pingReplies !== 3) problems.push(`host → guest ping: ${t.pingReplies}/3 replies`);
  if (guestReceived === null || Number(guestReceived[1]) !== bytes || guestReceived[2] !== t.sentFnv)
    problems.push(`the guest's checksum of our ${bytes} bytes is ${guestReceived?.[2] ?? "missing"}, not ${t.sentFnv}`);
  if (t.receivedBytes !== bytes || t.receivedFnv !== t.expectedFnv)
    problems.push(`the guest's ${t.receivedBytes} bytes have checksum ${t.receivedFnv}, not ${t.expectedFnv}`);
  result = {
    ...result,
    pingHostToGuest: t.pingReplies,
    pingGuestToHost: Number(guestPing?.[1] ?? 0),
    bytes,
    hostToGuestMs: t.hostToGuestMs,
    guestToHostMs: t.guestToHostMs,
    hostToGuestMiBps: mibps(t.hostToGuestMs),
    guestToHostMiBps: mibps(t.guestToHostMs),
  };
} else if (outcome.kind === "vm-exited") {
  problems.push(`the VM exited (${outcome.code}) before the transfer finished`);
} else {
  problems.push(`transfer failed: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`);
}
result = { ...result, ok: problems.length === 0, problems };
for (const problem of problems) console.log(`NET-PEER: problem: ${problem}`);
console.log(`NET-PEER-RESULT ${JSON.stringify(result)}`);
process.exit(problems.length === 0 ? 0 : 1);
