import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { MemoryNetBackend } from "../../../test/support/memory-net-backend.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import { DeviceError } from "../errors.ts";
import { featureBit, VIRTIO_ID_NET } from "./constants.ts";
import { VIRTIO_MMIO_DEVICE_ID, VirtioMmioTransport } from "./mmio-transport.ts";
import {
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_RECEIVEQ,
  VIRTIO_NET_S_LINK_UP,
  VIRTIO_NET_TRANSMITQ,
  VirtioNet,
} from "./net.ts";
import { QUEUE_TURN_BUDGET } from "./queue-worker.ts";

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

function frameOf(length: number, seed: number): Uint8Array {
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) frame[i] = (seed + i * 7) & 0xff;
  return frame;
}

function setup(init = true, backend = new MemoryNetBackend()) {
  const net = new VirtioNet({ backend, mac: MAC, queueSize: 64 });
  const ram = new TestGuestRam(1 << 21);
  const irq = new RecordingIrqLine();
  const turns = new ManualTurns();
  const transport = new VirtioMmioTransport({ device: net, memory: ram.memory, irq, deferWork: turns.defer });
  const driver = new VirtioMmioDriver(transport, ram);
  if (init) driver.init();
  return { net, backend, driver, transport, irq, turns, ram };
}

/** Post `count` receive buffers of `size` bytes (Linux's small-buffer mode: header + 1518 bytes). */
function postReceive(driver: VirtioMmioDriver, count: number, size = VIRTIO_NET_HDR_SIZE + 1518) {
  for (let i = 0; i < count; i++) driver.submit(VIRTIO_NET_RECEIVEQ, [{ writable: true, length: size }]);
}

/** The frames of the used receive buffers, with their virtio-net headers checked. */
function receivedFrames(driver: VirtioMmioDriver): Array<Uint8Array | "empty"> {
  const q = driver.queue(VIRTIO_NET_RECEIVEQ);
  return q.takeUsed().map((used) => {
    const buffer = used.buffers?.[0];
    if (buffer === undefined) throw new Error("a used id names no posted chain");
    if (used.len === 0) return "empty";
    const bytes = q.readBuffer(buffer, used.len);
    const header = new DataView(bytes.buffer, bytes.byteOffset, VIRTIO_NET_HDR_SIZE);
    expect(header.getUint8(0)).toBe(0); // flags
    expect(header.getUint8(1)).toBe(0); // gso_type NONE
    expect(header.getUint16(10, true)).toBe(1); // num_buffers
    return bytes.slice(VIRTIO_NET_HDR_SIZE);
  });
}

function transmit(driver: VirtioMmioDriver, frame: Uint8Array, split = false) {
  const header = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  return split
    ? driver.submit(VIRTIO_NET_TRANSMITQ, [
        { writable: false, data: header },
        { writable: false, data: frame.subarray(0, 6) },
        { writable: false, data: frame.subarray(6) },
      ])
    : driver.submit(VIRTIO_NET_TRANSMITQ, [{ writable: false, data: Uint8Array.of(...header, ...frame) }]);
}

describe("virtio-net", () => {
  test("device ID 1, two queues, MAC and STATUS offered and no offload, the MAC and link-up in config space", () => {
    const { driver, transport } = setup(false);
    expect(driver.r32(VIRTIO_MMIO_DEVICE_ID)).toBe(VIRTIO_ID_NET);
    expect(driver.deviceFeatures() & 0xff_ffffn).toBe(featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_STATUS));
    expect(transport.queues.map((q) => q.maxSize)).toEqual([64, 64]);
    expect(Array.from({ length: 6 }, (_, i) => driver.config8(VIRTIO_NET_CONFIG_MAC + i))).toEqual([...MAC]);
    expect(driver.config16(VIRTIO_NET_CONFIG_STATUS)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(driver.config16(VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS)).toBe(1);
  });

  test("a transmitted frame reaches the backend without its header, whole or split, and the chain comes back", () => {
    const { driver, backend, irq, net } = setup();
    const a = frameOf(60, 1);
    const b = frameOf(1514, 2);
    transmit(driver, a);
    transmit(driver, b, true);
    expect(backend.sent).toEqual([a, b]);
    const used = driver.queue(VIRTIO_NET_TRANSMITQ).takeUsed();
    expect(used.map((u) => u.len)).toEqual([0, 0]);
    expect(irq.level).toBe(true);
    expect(net.stats).toMatchObject({ txFrames: 2, txBytes: 60 + 1514, txErrors: 0, txMalformed: 0 });
  });

  test("a transmit chain without a whole Ethernet header, or longer than a frame, sends nothing", () => {
    const { driver, backend, net } = setup(true, new MemoryNetBackend(2048));
    transmit(driver, frameOf(13, 3));
    transmit(driver, frameOf(2049, 4));
    driver.submit(VIRTIO_NET_TRANSMITQ, [{ writable: false, data: new Uint8Array(5) }]);
    expect(backend.sent).toEqual([]);
    expect(net.stats.txMalformed).toBe(3);
    expect(driver.queue(VIRTIO_NET_TRANSMITQ).takeUsed()).toHaveLength(3);
  });

  test("a frame the host refuses is counted and its chain still comes back", () => {
    const { driver, backend, net } = setup();
    backend.refuse = true;
    transmit(driver, frameOf(64, 5));
    expect(net.stats.txErrors).toBe(1);
    expect(driver.queue(VIRTIO_NET_TRANSMITQ).takeUsed()).toHaveLength(1);
  });

  test("received frames fill posted buffers in order, header first (num_buffers 1)", () => {
    const { driver, backend, irq, net } = setup();
    postReceive(driver, 4);
    driver.handleInterrupt();
    irq.clear();
    const frames = [frameOf(42, 6), frameOf(1514, 7), frameOf(60, 8)];
    backend.deliver(...frames);
    expect(receivedFrames(driver)).toEqual(frames);
    expect(irq.riseCount).toBe(1);
    expect(net.stats).toMatchObject({ rxFrames: 3, rxBytes: 42 + 1514 + 60, rxTooSmall: 0 });
  });

  test("frames wait for receive buffers, and go when the driver posts some", () => {
    const { driver, backend } = setup();
    backend.deliver(frameOf(100, 9), frameOf(200, 10));
    expect(backend.queue).toHaveLength(2);
    expect(receivedFrames(driver)).toEqual([]);
    postReceive(driver, 1);
    expect(receivedFrames(driver)).toEqual([frameOf(100, 9)]);
    postReceive(driver, 3);
    expect(receivedFrames(driver)).toEqual([frameOf(200, 10)]);
    expect(backend.queue).toHaveLength(0);
  });

  test("a receive buffer too small for the frame comes back empty and the frame is dropped", () => {
    const { driver, backend, net } = setup();
    postReceive(driver, 1, VIRTIO_NET_HDR_SIZE + 100);
    postReceive(driver, 1);
    backend.deliver(frameOf(101, 11), frameOf(99, 12));
    expect(receivedFrames(driver)).toEqual(["empty", frameOf(99, 12)]);
    expect(net.stats.rxTooSmall).toBe(1);
  });

  test("frames that arrive before DRIVER_OK or after a reset are thrown away, not delivered later", () => {
    const { driver, backend, net } = setup(false);
    backend.deliver(frameOf(64, 13));
    expect(backend.queue).toHaveLength(0);
    driver.init();
    postReceive(driver, 2);
    backend.deliver(frameOf(64, 14));
    expect(receivedFrames(driver)).toEqual([frameOf(64, 14)]);
    // Frames waiting at a reset (no buffers) go with it.
    backend.queue.push(frameOf(64, 15));
    driver.reset();
    expect(backend.queue).toHaveLength(0);
    expect(net.stats.rxDiscarded).toBe(2);
  });

  test("a flood of received frames is delivered a turn's budget at a time", () => {
    const { driver, backend, turns } = setup();
    postReceive(driver, 64);
    const frames = Array.from({ length: 60 }, (_, i) => frameOf(1514, i));
    backend.deliver(...frames);
    const firstTurn = receivedFrames(driver).length;
    expect(firstTurn).toBeGreaterThan(0);
    expect(firstTurn).toBeLessThan(60);
    expect(firstTurn * 1514).toBeLessThanOrEqual(QUEUE_TURN_BUDGET + 1514 + 512);
    turns.runAll();
    expect(firstTurn + receivedFrames(driver).length).toBe(60);
  });

  test("bad options are refused with the reason", () => {
    const backend = new MemoryNetBackend();
    const error = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (e instanceof DeviceError) return e.message;
        throw e;
      }
      throw new Error("no error");
    };
    expect(error(() => new VirtioNet({ backend, mac: new Uint8Array(5) }))).toContain(
      "a MAC address has 6 bytes, not 5",
    );
    expect(error(() => new VirtioNet({ backend, mac: Uint8Array.of(1, 0, 0, 0, 0, 1) }))).toContain(
      "01:00:00:00:00:01 is a multicast address",
    );
    expect(error(() => new VirtioNet({ backend, mac: MAC, queueSize: 3 }))).toContain("queue size 3");
  });

  test("random transmit chains never throw out of the device and never send a frame shorter than 14 bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }), (lengths) => {
        const { driver, backend, transport } = setup(true, new MemoryNetBackend(2048));
        for (const length of lengths)
          driver.submit(VIRTIO_NET_TRANSMITQ, [{ writable: false, data: new Uint8Array(length) }]);
        expect(transport.lastFailure).toBeUndefined();
        for (const frame of backend.sent) {
          expect(frame.length).toBeGreaterThanOrEqual(14);
          expect(frame.length).toBeLessThanOrEqual(2048);
        }
        const expected = lengths.filter((n) => n - VIRTIO_NET_HDR_SIZE >= 14 && n - VIRTIO_NET_HDR_SIZE <= 2048);
        expect(backend.sent.map((f) => f.length)).toEqual(expected.map((n) => n - VIRTIO_NET_HDR_SIZE));
      }),
      { numRuns: 50 },
    );
  });
});
