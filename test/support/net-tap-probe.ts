/**
 * Run by test/net-tap.test.ts inside a network namespace of its own (`ip netns exec`): a virtio-net device on a
 * real TAP, driven by the test virtio driver acting as a tiny guest (one MAC, one IPv4 address, answering ARP and
 * ICMP echo), with the host kernel on the other end of the TAP. Prints one JSON line with what happened.
 *
 *   bun test/support/net-tap-probe.ts
 */
import { existsSync } from "node:fs";
import { VirtioMmioTransport } from "../../src/devices/virtio/mmio-transport.ts";
import {
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_RECEIVEQ,
  VIRTIO_NET_TRANSMITQ,
  VirtioNet,
} from "../../src/devices/virtio/net.ts";
import { HostError } from "../../src/hal/host/errors.ts";
import { TapDevice } from "../../src/hal/host/tap.ts";
import { TestGuestRam, VirtioMmioDriver } from "./virtio-driver.ts";

const HOST_IP = [10, 9, 0, 1];
const GUEST_IP = [10, 9, 0, 2];
const GUEST_MAC = [0x52, 0x54, 0x00, 0x00, 0x00, 0x02];
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function sh(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

function errorOf(f: () => unknown): { kind: string; message: string } | undefined {
  try {
    const value = f();
    if (value instanceof TapDevice) value.close();
    return undefined;
  } catch (error) {
    if (error instanceof HostError) return { kind: error.kind, message: error.message };
    return { kind: "other", message: String(error) };
  }
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function arp(
  op: 1 | 2,
  targetMac: readonly number[],
  targetIp: readonly number[],
  dest: readonly number[],
): Uint8Array {
  return Uint8Array.from([
    ...dest,
    ...GUEST_MAC,
    0x08,
    0x06,
    ...[0, 1, 8, 0, 6, 4, 0, op],
    ...GUEST_MAC,
    ...GUEST_IP,
    ...targetMac,
    ...targetIp,
  ]);
}

/** An IPv4 ICMP packet (echo request 8 or reply 0) in an Ethernet frame. */
function icmp(type: 0 | 8, destMac: readonly number[], destIp: readonly number[], rest: Uint8Array): Uint8Array {
  const message = Uint8Array.from([type, 0, 0, 0, ...rest]);
  const sum = checksum(message);
  message[2] = sum >> 8;
  message[3] = sum & 0xff;
  const ip = Uint8Array.from([0x45, 0, 0, 20 + message.length, 0, 0, 0x40, 0, 64, 1, 0, 0, ...GUEST_IP, ...destIp]);
  const ipSum = checksum(ip);
  ip[10] = ipSum >> 8;
  ip[11] = ipSum & 0xff;
  return Uint8Array.from([...destMac, ...GUEST_MAC, 0x08, 0x00, ...ip, ...message]);
}

const result: Record<string, unknown> = {};

// -- error paths ---------------------------------------------------------------------------------------------------
result.badName = errorOf(() => TapDevice.open("bad/name"));
sh("ip", "tuntap", "add", "dev", "axtun0", "mode", "tun");
result.notTap = errorOf(() => TapDevice.open("axtun0"));

// -- attach to an existing TAP; a second attachment is refused; deleting it ends the reader -------------------------
sh("ip", "tuntap", "add", "dev", "axt1", "mode", "tap");
let readerFailure: string | undefined;
const attached = TapDevice.open("axt1", { onReaderFailure: (m) => (readerFailure = m) });
result.attachedCreated = attached.created;
result.secondAttach = errorOf(() => TapDevice.open("axt1"));
attached.setReceiveListener(() => attached.discardPending());
sh("ip", "link", "del", "axt1");
for (let i = 0; i < 100 && readerFailure === undefined; i++) await Bun.sleep(20);
result.readerFailure = readerFailure;
attached.close();

// -- create a TAP, and run the device on it ----------------------------------------------------------------------------
const tap = TapDevice.open("axt0");
result.created = tap.created;
sh("ip", "addr", "add", `${HOST_IP.join(".")}/24`, "dev", "axt0");
sh("ip", "link", "set", "axt0", "up");

const net = new VirtioNet({ backend: tap, mac: Uint8Array.from(GUEST_MAC) });
const ram = new TestGuestRam(8 << 20);
const transport = new VirtioMmioTransport({
  device: net,
  memory: ram.memory,
  irq: { set: () => undefined, trigger: () => undefined },
  deferWork: (task) => setImmediate(task),
});
const driver = new VirtioMmioDriver(transport, ram);
driver.init();
const postReceive = (n: number): void => {
  for (let i = 0; i < n; i++)
    driver.submit(VIRTIO_NET_RECEIVEQ, [{ writable: true, length: VIRTIO_NET_HDR_SIZE + 1518 }]);
};
postReceive(32);
const send = (frame: Uint8Array): void => {
  driver.submit(VIRTIO_NET_TRANSMITQ, [
    { writable: false, data: Uint8Array.from([...new Uint8Array(VIRTIO_NET_HDR_SIZE), ...frame]) },
  ]);
};

let hostMac: number[] | undefined;
let echoReplies = 0;
let echoRequestsAnswered = 0;
const seen = (frame: Uint8Array): void => {
  const type = ((frame[12] ?? 0) << 8) | (frame[13] ?? 0);
  if (type === 0x0806) {
    const op = frame[21];
    const targetIp = Array.from(frame.subarray(38, 42));
    if (op === 2 && targetIp.join(".") === GUEST_IP.join(".")) hostMac = Array.from(frame.subarray(22, 28));
    if (op === 1 && targetIp.join(".") === GUEST_IP.join(".")) {
      send(
        arp(
          2,
          Array.from(frame.subarray(22, 28)),
          Array.from(frame.subarray(28, 32)),
          Array.from(frame.subarray(6, 12)),
        ),
      );
    }
  } else if (type === 0x0800 && frame[23] === 1) {
    const ihl = ((frame[14] ?? 0) & 0xf) * 4;
    const body = frame.subarray(14 + ihl);
    const from = Array.from(frame.subarray(26, 30));
    if (body[0] === 0) echoReplies++;
    if (body[0] === 8) {
      echoRequestsAnswered++;
      send(icmp(0, Array.from(frame.subarray(6, 12)), from, body.slice(4)));
    }
  }
};
// The "guest" polls its used rings (no interrupt handler here), reposting every receive buffer it gets back.
const poll = setInterval(() => {
  const rx = driver.queue(VIRTIO_NET_RECEIVEQ);
  const used = rx.takeUsed();
  for (const u of used) {
    const buffer = u.buffers?.[0];
    if (buffer !== undefined && u.len > VIRTIO_NET_HDR_SIZE)
      seen(rx.readBuffer(buffer, u.len).slice(VIRTIO_NET_HDR_SIZE));
  }
  if (used.length > 0) postReceive(used.length);
  driver.queue(VIRTIO_NET_TRANSMITQ).takeUsed();
}, 2);

// Guest → host: ARP for the host, then an ICMP echo request.
send(arp(1, [0, 0, 0, 0, 0, 0], HOST_IP, BROADCAST));
for (let i = 0; i < 200 && hostMac === undefined; i++) await Bun.sleep(10);
result.arpReply = hostMac !== undefined;
if (hostMac !== undefined) {
  send(icmp(8, hostMac, HOST_IP, Uint8Array.from([0x12, 0x34, 0, 1, ...new TextEncoder().encode("axvisor")])));
  for (let i = 0; i < 200 && echoReplies === 0; i++) await Bun.sleep(10);
}
result.echoReplies = echoReplies;
// Host → guest: the host's own ping, answered by the probe through the device.
const ping = Bun.spawn(["ping", "-c", "2", "-i", "0.2", "-W", "3", GUEST_IP.join(".")], {
  stdout: "pipe",
  stderr: "pipe",
});
const pingOut = await new Response(ping.stdout).text();
result.hostPingReceived = Number(/(\d+) received/.exec(pingOut)?.[1] ?? 0);
result.echoRequestsAnswered = echoRequestsAnswered;
clearInterval(poll);
result.deviceStats = net.stats;
result.tapStats = tap.stats;
result.deviceFailure = transport.lastFailure?.kind;
tap.close();
result.goneAfterClose = !existsSync("/sys/class/net/axt0");
console.log(JSON.stringify(result));
process.exit(0);
