import { describe, expect, test } from "bun:test";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import { DeviceError } from "../errors.ts";
import { VIRTIO_ID_ENTROPY } from "./constants.ts";
import { VIRTIO_MMIO_DEVICE_ID, VirtioMmioTransport } from "./mmio-transport.ts";
import { VIRTIO_RNG_REQUESTQ, VirtioRng, type VirtioRngOptions } from "./rng.ts";

function setup(options: VirtioRngOptions = {}) {
  const rng = new VirtioRng(options);
  const ram = new TestGuestRam(1 << 20);
  const irq = new RecordingIrqLine();
  const turns = new ManualTurns();
  const transport = new VirtioMmioTransport({ device: rng, memory: ram.memory, irq, deferWork: turns.defer });
  const driver = new VirtioMmioDriver(transport, ram);
  driver.init();
  return { rng, driver, irq, transport, turns };
}

describe("virtio-rng", () => {
  test("device ID 4, one queue, no device features, no config space", () => {
    const { driver, transport } = setup();
    expect(driver.r32(VIRTIO_MMIO_DEVICE_ID)).toBe(VIRTIO_ID_ENTROPY);
    expect(driver.deviceFeatures() & 0xff_ffffn).toBe(0n);
    expect(transport.queues).toHaveLength(1);
    expect(driver.config32(0)).toBe(0);
  });

  test("fills device-writable buffers from the entropy source, across descriptors", () => {
    let counter = 0;
    const { driver, irq, rng } = setup({ random: (dest) => dest.forEach((_, i) => (dest[i] = counter++ & 0xff)) });
    const { buffers } = driver.submit(VIRTIO_RNG_REQUESTQ, [
      { writable: true, length: 3 },
      { writable: true, length: 5 },
    ]);
    const [used] = driver.queue(VIRTIO_RNG_REQUESTQ).takeUsed();
    expect(used?.len).toBe(8);
    expect(buffers.flatMap((b) => [...driver.queue(VIRTIO_RNG_REQUESTQ).readBuffer(b)])).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
    expect(irq.level).toBe(true);
    expect(rng.stats).toMatchObject({ requests: 1, bytes: 8 });
  });

  test("crypto.getRandomValues by default; large buffers are capped, partially filled", () => {
    const { driver } = setup({ maxBytesPerRequest: 0x1_8000 });
    const { buffers } = driver.submit(VIRTIO_RNG_REQUESTQ, [{ writable: true, length: 0x2_0000 }]);
    const [used] = driver.queue(VIRTIO_RNG_REQUESTQ).takeUsed();
    expect(used?.len).toBe(0x1_8000);
    const [buffer] = buffers;
    if (buffer === undefined) throw new Error("no buffer");
    const bytes = driver.queue(VIRTIO_RNG_REQUESTQ).readBuffer(buffer);
    // 96 KiB of random bytes (more than one getRandomValues call) has every byte value; the uncapped tail stays 0.
    expect(new Set(bytes.subarray(0, 0x1_8000)).size).toBe(256);
    expect(bytes.subarray(0x1_8000).every((b) => b === 0)).toBe(true);
  });

  test("a chain without writable bytes gets used length 0; readable buffers are ignored", () => {
    const { driver, rng, transport } = setup();
    driver.submit(VIRTIO_RNG_REQUESTQ, [{ writable: false, data: Uint8Array.of(1, 2) }]);
    driver.submit(VIRTIO_RNG_REQUESTQ, [
      { writable: false, data: Uint8Array.of(1, 2) },
      { writable: true, length: 4 },
    ]);
    expect(
      driver
        .queue(VIRTIO_RNG_REQUESTQ)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([0, 4]);
    expect(rng.stats.emptyRequests).toBe(1);
    expect(transport.running).toBe(true);
  });

  test("bad options are configuration errors", () => {
    expect(() => new VirtioRng({ queueSize: 0 })).toThrow(DeviceError);
    expect(() => new VirtioRng({ maxBytesPerRequest: 0 })).toThrow("maxBytesPerRequest 0 is not in 1..16 MiB");
  });
});

describe("virtio-rng served in bounded turns (issue 9, item 10)", () => {
  test("a queue full of maximal requests fills one turn's budget per turn; every request is filled in the end", () => {
    const { driver, rng, turns } = setup();
    const q = driver.queue(VIRTIO_RNG_REQUESTQ);
    for (let i = 0; i < 8; i++) q.add([{ writable: true, length: 0x1_0000 }]);
    driver.notify(VIRTIO_RNG_REQUESTQ);
    // One 64 KiB request spends the 64 KiB budget; the other seven wait for later turns.
    expect(q.takeUsed()).toHaveLength(1);
    expect(turns.runAll()).toBe(7);
    expect(q.takeUsed().map((u) => u.len)).toEqual(Array.from({ length: 7 }, () => 0x1_0000));
    expect(rng.stats.bytes).toBe(8 * 0x1_0000);
  });
});
