import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { acceptAllBut, TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import type { GuestMemoryAccess } from "../../hal/types.ts";
import { DeviceError } from "../errors.ts";
import {
  featureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from "./constants.ts";
import type { VirtioDevice, VirtioDeviceContext } from "./device.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_RESET,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_SHM_BASE_HIGH,
  VIRTIO_MMIO_SHM_LEN_LOW,
  VIRTIO_MMIO_SHM_SEL,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VENDOR_ID_AXVISOR,
  VIRTIO_MMIO_VERSION,
  type VirtioMmioOptions,
  VirtioMmioTransport,
} from "./mmio-transport.ts";

/** For transports that are never activated: nothing is ever deferred. */
const noTurns = new ManualTurns().defer;

// The VMM's GuestMemory (TestGuestRam.memory) must be usable wherever devices expect GuestMemoryAccess.
const deviceMemory: (ram: TestGuestRam) => GuestMemoryAccess = (ram) => ram.memory;
void deviceMemory;

const ECHO_ID = 0x7e;
const ECHO_FEATURE_A = 0;
const ECHO_FEATURE_B = 5;

/**
 * A test device: queue 0 echoes each chain's readable bytes, reversed, into its writable bytes; queue 1 misbehaves
 * on demand (throws, or reports a failure). Config space: le32 0xcafef00d (read-only), le16 scratch, u8 u8.
 */
class EchoDevice implements VirtioDevice<{ readonly scratch: number; readonly echoed: number }> {
  readonly name = "echo";
  readonly deviceId = ECHO_ID;
  readonly features = featureBit(ECHO_FEATURE_A) | featureBit(ECHO_FEATURE_B);
  readonly queueMaxSizes = [8, 4];
  readonly configSize = 8;
  context: VirtioDeviceContext | undefined;
  activations = 0;
  resets = 0;
  echoed = 0;
  scratch = 0;
  misbehave: "throw" | "fail" | undefined;

  readConfig(offset: number, width: 1 | 2 | 4): number {
    const bytes = new Uint8Array(8);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0xcafe_f00d, true);
    view.setUint16(4, this.scratch, true);
    bytes[6] = 0x66;
    bytes[7] = 0x77;
    let value = 0;
    for (let i = width - 1; i >= 0; i--) value = value * 256 + (bytes[offset + i] ?? 0);
    return value;
  }
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset === 4 && width === 2) this.scratch = value & 0xffff;
  }
  activate(context: VirtioDeviceContext): void {
    this.context = context;
    this.activations++;
  }
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined) throw new Error("queueNotify before activate");
    if (index === 1) {
      if (this.misbehave === "throw") throw new Error("echo device bug");
      if (this.misbehave === "fail") ctx.fail({ kind: "activation", message: "queue 1 is not for use" });
      return;
    }
    const q = ctx.queues[0];
    if (q === undefined) return;
    for (;;) {
      const r = q.pop();
      if (r.kind === "empty") break;
      if (r.kind === "error") {
        ctx.fail({ kind: "queue", error: r.error });
        return;
      }
      const input = new Uint8Array(r.chain.readableLength);
      r.chain.read(0, input);
      const n = r.chain.write(0, input.reverse());
      q.addUsed(r.chain.head, n);
      this.echoed++;
    }
    ctx.signalUsed(0);
  }
  reset(): void {
    this.context = undefined;
    this.resets++;
  }
  snapshot() {
    return { scratch: this.scratch, echoed: this.echoed };
  }
  restore(state: { readonly scratch: number; readonly echoed: number }): void {
    this.scratch = state.scratch;
    this.echoed = state.echoed;
  }
}

function setup(
  options: Partial<Omit<VirtioMmioOptions<unknown>, "device" | "memory" | "irq" | "deferWork">> = {},
  ram = new TestGuestRam(1 << 18),
) {
  const device = new EchoDevice();
  const irq = new RecordingIrqLine();
  const turns = new ManualTurns();
  const transport = new VirtioMmioTransport({ device, memory: ram.memory, irq, deferWork: turns.defer, ...options });
  const driver = new VirtioMmioDriver(transport, ram);
  return { device, irq, transport, driver, ram, turns };
}

const data = (...bytes: number[]) => ({ writable: false as const, data: Uint8Array.from(bytes) });
const space = (length: number) => ({ writable: true as const, length });

describe("virtio-mmio identity and features", () => {
  test("MagicValue, Version 2, DeviceID, VendorID, window size", () => {
    const { driver, transport } = setup();
    expect(driver.r32(VIRTIO_MMIO_MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(driver.r32(VIRTIO_MMIO_MAGIC_VALUE)).toBe(0x74726976);
    expect(driver.r32(VIRTIO_MMIO_VERSION)).toBe(2);
    expect(driver.r32(VIRTIO_MMIO_DEVICE_ID)).toBe(ECHO_ID);
    expect(driver.r32(VIRTIO_MMIO_VENDOR_ID)).toBe(VIRTIO_MMIO_VENDOR_ID_AXVISOR);
    expect(transport.windowSize).toBe(0x200);
    expect(transport.name).toBe("echo");
  });

  test("DeviceFeatures: device bits, VERSION_1, INDIRECT_DESC, EVENT_IDX; words above 1 read 0", () => {
    const { driver } = setup();
    const offered = driver.deviceFeatures();
    expect(offered).toBe(
      featureBit(ECHO_FEATURE_A) |
        featureBit(ECHO_FEATURE_B) |
        featureBit(VIRTIO_F_INDIRECT_DESC) |
        featureBit(VIRTIO_F_EVENT_IDX) |
        featureBit(VIRTIO_F_VERSION_1),
    );
    driver.w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    expect(driver.r32(VIRTIO_MMIO_DEVICE_FEATURES)).toBe(0);
    const plain = setup({ indirectDescriptors: false, eventIdx: false });
    expect(plain.driver.deviceFeatures()).toBe(
      featureBit(ECHO_FEATURE_A) | featureBit(ECHO_FEATURE_B) | featureBit(VIRTIO_F_VERSION_1),
    );
  });

  test("a device offering transport bits itself, or no queues, is a configuration error", () => {
    const ram = new TestGuestRam(1 << 12);
    const device = new EchoDevice();
    const bad = Object.assign(Object.create(device) as EchoDevice, { features: featureBit(VIRTIO_F_VERSION_1) });
    expect(
      () =>
        new VirtioMmioTransport({ device: bad, memory: ram.memory, irq: new RecordingIrqLine(), deferWork: noTurns }),
    ).toThrow(DeviceError);
    const noQueues = Object.assign(Object.create(device) as EchoDevice, { queueMaxSizes: [] });
    expect(
      () =>
        new VirtioMmioTransport({
          device: noQueues,
          memory: ram.memory,
          irq: new RecordingIrqLine(),
          deferWork: noTurns,
        }),
    ).toThrow('Cannot create a virtio-mmio transport for "echo": the device has no queues');
    const oddQueue = Object.assign(Object.create(device) as EchoDevice, { queueMaxSizes: [6] });
    expect(
      () =>
        new VirtioMmioTransport({
          device: oddQueue,
          memory: ram.memory,
          irq: new RecordingIrqLine(),
          deferWork: noTurns,
        }),
    ).toThrow("queue 0 has maximum size 6");
  });
});

describe("virtio-mmio status and feature negotiation", () => {
  test("the Linux init sequence reaches DRIVER_OK and activates the device once", () => {
    const { driver, device, transport } = setup();
    const accepted = driver.init();
    expect(driver.status).toBe(
      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK,
    );
    expect(transport.driverFeatures).toBe(accepted);
    expect(device.activations).toBe(1);
    expect(device.context?.features).toBe(accepted);
    expect(transport.running).toBe(true);
  });

  test("FEATURES_OK does not stick without VERSION_1, with an unoffered bit, or with bits above 63", () => {
    const attempts: Array<(d: VirtioMmioDriver) => void> = [
      (d) => d.writeDriverFeatures(d.deviceFeatures() & ~featureBit(VIRTIO_F_VERSION_1)),
      (d) => d.writeDriverFeatures(d.deviceFeatures() | featureBit(1)),
      (d) => {
        d.writeDriverFeatures(d.deviceFeatures());
        d.w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
        d.w32(VIRTIO_MMIO_DRIVER_FEATURES, 1);
      },
    ];
    for (const attempt of attempts) {
      const { driver, transport } = setup();
      driver.reset();
      driver.addStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
      attempt(driver);
      driver.addStatus(VIRTIO_STATUS_FEATURES_OK);
      expect(driver.status & VIRTIO_STATUS_FEATURES_OK).toBe(0);
      expect(transport.stats.refusedFeatures).toBe(1);
      // DRIVER_OK without FEATURES_OK is ignored too.
      driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
      expect(driver.status & VIRTIO_STATUS_DRIVER_OK).toBe(0);
    }
  });

  test("a subset without the ring features is accepted; DriverFeatures is frozen after FEATURES_OK", () => {
    const { driver, transport, device } = setup();
    driver.init({ accept: acceptAllBut(VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, ECHO_FEATURE_B) });
    expect(transport.driverFeatures).toBe(featureBit(ECHO_FEATURE_A) | featureBit(VIRTIO_F_VERSION_1));
    const before = transport.stats.badAccesses;
    driver.w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    driver.w32(VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
    expect(transport.driverFeatures).toBe(featureBit(ECHO_FEATURE_A) | featureBit(VIRTIO_F_VERSION_1));
    expect(transport.stats.badAccesses).toBe(before + 1);
    expect(device.context?.queues[0]?.features).toEqual({ indirect: false, eventIdx: false });
  });

  test("status bits are added in order; clearing bits is ignored; writing 0 resets everything", () => {
    const { driver, transport, irq, device } = setup();
    driver.reset();
    driver.w32(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER); // DRIVER before ACKNOWLEDGE
    expect(driver.status).toBe(0);
    driver.w32(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER); // both at once, in order: fine
    expect(driver.status).toBe(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver.w32(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE); // tries to clear DRIVER
    expect(driver.status).toBe(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    driver.init();
    driver.submit(0, [data(1, 2), space(2)]);
    expect(irq.level).toBe(true);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_READY)).toBe(1);
    driver.w32(VIRTIO_MMIO_STATUS, 0);
    expect(driver.status).toBe(0);
    expect(driver.r32(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
    expect(irq.level).toBe(false);
    driver.w32(VIRTIO_MMIO_QUEUE_SEL, 0);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    expect(transport.driverFeatures).toBe(0n);
    expect(device.context).toBeUndefined();
    expect(device.resets).toBeGreaterThanOrEqual(2);
    // And the device can be brought up again.
    driver.init();
    driver.submit(0, [data(3, 4), space(2)]);
    expect([
      ...driver
        .queue(0)
        .takeUsed()
        .map((u) => u.len),
    ]).toEqual([2]);
  });

  test("FAILED stops queue processing until reset", () => {
    const { driver, transport, device } = setup();
    driver.init();
    driver.addStatus(VIRTIO_STATUS_FAILED);
    expect(transport.running).toBe(false);
    driver.submit(0, [data(1), space(1)]);
    expect(device.echoed).toBe(0);
    expect(transport.stats.ignoredNotifications).toBe(1);
  });
});

describe("virtio-mmio queues and notifications", () => {
  test("QueueNumMax is 0 for queues that do not exist; their registers ignore writes", () => {
    const { driver, transport } = setup();
    driver.w32(VIRTIO_MMIO_QUEUE_SEL, 1);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(4);
    driver.w32(VIRTIO_MMIO_QUEUE_SEL, 2);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(0);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    const before = transport.stats.badAccesses;
    driver.w32(VIRTIO_MMIO_QUEUE_NUM, 4);
    driver.w32(VIRTIO_MMIO_QUEUE_READY, 1);
    expect(transport.stats.badAccesses).toBe(before + 2);
  });

  test("queue registers are frozen while the queue is ready and after DRIVER_OK; QueueReady can always be cleared", () => {
    const { driver, transport } = setup();
    driver.init();
    const q = transport.queues[0];
    if (q === undefined) throw new Error("no queue 0");
    driver.w32(VIRTIO_MMIO_QUEUE_SEL, 0);
    driver.w32(VIRTIO_MMIO_QUEUE_NUM, 2);
    driver.w32(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
    expect(q.size).toBe(8);
    expect(q.address("desc")).toBe(driver.queue(0).desc);
    driver.w32(VIRTIO_MMIO_QUEUE_READY, 0);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    expect(q.active).toBe(false);
    driver.w32(VIRTIO_MMIO_QUEUE_READY, 1); // after DRIVER_OK: not allowed
    expect(driver.r32(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    driver.submit(0, [data(1), space(1)]);
    expect(transport.stats.ignoredNotifications).toBe(1);
  });

  test("echo I/O: used buffers, the used-buffer interrupt, and InterruptACK", () => {
    const { driver, irq } = setup();
    driver.init();
    const { head, buffers } = driver.submit(0, [data(1, 2, 3), space(2), space(2)]);
    expect(irq.changes()).toEqual([true]);
    expect(driver.r32(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_MMIO_INT_VRING);
    const used = driver.queue(0).takeUsed();
    expect(used.map((u) => [u.id, u.len])).toEqual([[head, 3]]);
    const out = buffers.filter((b) => b.writable).flatMap((b) => [...driver.queue(0).readBuffer(b)]);
    expect(out).toEqual([3, 2, 1, 0]);
    expect(driver.handleInterrupt()).toBe(VIRTIO_MMIO_INT_VRING);
    expect(irq.level).toBe(false);
    expect(irq.changes()).toEqual([true, false]);
  });

  test("indirect chains work through the transport when negotiated", () => {
    const { driver } = setup();
    driver.init();
    driver.submit(0, [data(9, 8), space(1), space(1)], { indirect: true });
    const [u] = driver.queue(0).takeUsed();
    expect(u?.len).toBe(2);
    expect(u?.buffers?.filter((b) => b.writable).map((b) => driver.queue(0).readBuffer(b)[0])).toEqual([8, 9]);
  });

  test("VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt (without EVENT_IDX)", () => {
    const { driver, irq } = setup();
    driver.init({ accept: acceptAllBut(VIRTIO_F_EVENT_IDX) });
    driver.suppressInterrupts(0);
    driver.submit(0, [data(1), space(1)]);
    expect(driver.queue(0).takeUsed()).toHaveLength(1);
    expect(irq.events).toEqual([]);
  });

  test("with EVENT_IDX the driver is asked to notify for each new buffer after the device caught up", () => {
    const { driver, device } = setup();
    driver.init();
    for (let i = 0; i < 5; i++) {
      const { kicked } = driver.submit(0, [data(i), space(1)]);
      expect(kicked).toBe(true);
      expect(driver.queue(0).takeUsed()).toHaveLength(1);
    }
    expect(device.echoed).toBe(5);
    expect(driver.queue(0).availEvent).toBe(5);
  });

  test("notifications before DRIVER_OK are ignored; buffers made available then are processed at DRIVER_OK", () => {
    const { driver, device, transport } = setup();
    driver.reset();
    driver.addStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver.writeDriverFeatures(driver.deviceFeatures());
    driver.addStatus(VIRTIO_STATUS_FEATURES_OK);
    driver.setupQueue(0);
    driver.setupQueue(1);
    driver.queue(0).add([data(5, 6), space(2)]);
    driver.notify(0);
    expect(device.echoed).toBe(0);
    expect(transport.stats.ignoredNotifications).toBe(1);
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    expect(device.echoed).toBe(1);
    expect(driver.queue(0).takeUsed()).toHaveLength(1);
  });

  test("notifying a queue index that does not exist is ignored and counted", () => {
    const { driver, transport } = setup();
    driver.init();
    driver.notify(7);
    driver.notify(0xffff_ffff);
    expect(transport.stats.ignoredNotifications).toBe(2);
    expect(transport.running).toBe(true);
  });
});

describe("virtio-mmio DEVICE_NEEDS_RESET", () => {
  test("a misaligned ring at DRIVER_OK: NEEDS_RESET, config interrupt, no activation; reset recovers", () => {
    const { driver, transport, device, irq } = setup();
    driver.reset();
    driver.addStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver.writeDriverFeatures(driver.deviceFeatures());
    driver.addStatus(VIRTIO_STATUS_FEATURES_OK);
    driver.setupQueue(0);
    driver.w32(VIRTIO_MMIO_QUEUE_SEL, 1);
    driver.w32(VIRTIO_MMIO_QUEUE_NUM, 4);
    driver.w32(VIRTIO_MMIO_QUEUE_DESC_LOW, driver.ram.alloc(64, 16) + 4);
    driver.w32(VIRTIO_MMIO_QUEUE_READY, 1);
    driver.addStatus(VIRTIO_STATUS_DRIVER_OK);
    expect(driver.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    expect(driver.r32(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_MMIO_INT_CONFIG);
    expect(irq.level).toBe(true);
    expect(device.activations).toBe(0);
    const failure = transport.lastFailure;
    expect(failure?.kind).toBe("queue");
    if (failure?.kind === "queue")
      expect(failure.error.message).toContain("Cannot activate virtqueue 1: the descriptor table at");
    // A driver that writes back the status it read does not clear NEEDS_RESET.
    driver.addStatus(0);
    expect(driver.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
    driver.init();
    expect(transport.running).toBe(true);
  });

  test("a broken chain puts the device in NEEDS_RESET; later notifications are ignored", () => {
    const { driver, transport, device } = setup();
    driver.init();
    const q = driver.queue(0);
    const addr = driver.ram.alloc(8);
    q.writeDescriptor(0, { addr, len: 1, flags: 1, next: 0 }); // NEXT to itself: a loop
    q.publish(0);
    driver.notify(0);
    expect(driver.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(transport.lastFailure?.kind).toBe("queue");
    expect(transport.stats.deviceErrors).toBe(1);
    driver.notify(0);
    expect(transport.stats.ignoredNotifications).toBe(1);
    expect(device.echoed).toBe(0);
  });

  test("an exception from the device model becomes NEEDS_RESET, never an exception out of the bus write", () => {
    const { driver, transport, device } = setup();
    driver.init();
    device.misbehave = "throw";
    expect(() => driver.notify(1)).not.toThrow();
    const failure = transport.lastFailure;
    expect(failure?.kind).toBe("internal");
    if (failure?.kind === "internal")
      expect(failure.message).toBe("Cannot run echo: the device model threw (echo device bug)");
  });

  test("context.fail from the device; a context from before a reset has no effect", () => {
    const { driver, transport, device, irq } = setup();
    driver.init();
    const stale = device.context;
    device.misbehave = "fail";
    driver.notify(1);
    expect(transport.lastFailure).toEqual({ kind: "activation", message: "queue 1 is not for use" });
    device.misbehave = undefined;
    driver.init();
    irq.clear();
    stale?.fail({ kind: "activation", message: "stale" });
    stale?.configChanged();
    stale?.signalUsed(0);
    expect(transport.running).toBe(true);
    expect(irq.events).toEqual([]);
  });
});

describe("virtio-mmio registers", () => {
  test("config space: any width, little-endian, writes reach the device, out-of-range reads are 0", () => {
    const { driver, transport } = setup();
    expect(driver.config32(0)).toBe(0xcafe_f00d);
    expect(driver.config16(2)).toBe(0xcafe);
    expect(driver.config8(7)).toBe(0x77);
    expect(driver.config64(0)).toBe(0x7766_0000_cafe_f00dn);
    transport.write(VIRTIO_MMIO_CONFIG + 4, 2, 0xbeef);
    expect(driver.config16(4)).toBe(0xbeef);
    const before = transport.stats.badAccesses;
    expect(driver.config32(6)).toBe(0);
    expect(transport.read(0x1f0, 4)).toBe(0);
    expect(transport.stats.badAccesses).toBe(before + 2);
  });

  test("control registers take only aligned 32-bit accesses; write-only ones read 0", () => {
    const { transport } = setup();
    expect(transport.read(VIRTIO_MMIO_MAGIC_VALUE, 2)).toBe(0);
    expect(transport.read(VIRTIO_MMIO_MAGIC_VALUE + 1, 4)).toBe(0);
    expect(transport.read(VIRTIO_MMIO_QUEUE_NOTIFY, 4)).toBe(0);
    transport.write(VIRTIO_MMIO_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    expect(transport.status).toBe(0);
    transport.write(VIRTIO_MMIO_MAGIC_VALUE, 4, 0);
    expect(transport.stats.badAccesses).toBe(5);
  });

  test("no shared memory regions: SHMLen and SHMBase read -1; QueueReset reads 0", () => {
    const { driver } = setup();
    driver.w32(VIRTIO_MMIO_SHM_SEL, 0);
    expect(driver.r32(VIRTIO_MMIO_SHM_LEN_LOW)).toBe(0xffff_ffff);
    expect(driver.r32(VIRTIO_MMIO_SHM_BASE_HIGH)).toBe(0xffff_ffff);
    expect(driver.r32(VIRTIO_MMIO_QUEUE_RESET)).toBe(0);
  });

  test("configChanged bumps ConfigGeneration and raises the config interrupt", () => {
    const { driver, device, irq } = setup();
    driver.init();
    const before = driver.r32(VIRTIO_MMIO_CONFIG_GENERATION);
    device.context?.configChanged();
    expect(driver.r32(VIRTIO_MMIO_CONFIG_GENERATION)).toBe(before + 1);
    expect(driver.r32(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_MMIO_INT_CONFIG);
    expect(irq.level).toBe(true);
    driver.w32(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING); // acknowledging the other bit changes nothing
    expect(irq.level).toBe(true);
    driver.w32(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
    expect(irq.level).toBe(false);
  });
});

describe("virtio-mmio snapshot", () => {
  test("a running device restores onto a new transport and continues where it stopped", () => {
    const ram = new TestGuestRam(1 << 18);
    const a = setup({}, ram);
    a.driver.init();
    a.driver.submit(0, [data(1, 2), space(2)]);
    a.device.scratch = 0x1234;
    const state = a.transport.snapshot();
    expect(state.status & VIRTIO_STATUS_DRIVER_OK).not.toBe(0);
    expect(state.interruptStatus).toBe(VIRTIO_MMIO_INT_VRING);

    const device = new EchoDevice();
    const irq = new RecordingIrqLine();
    const b = new VirtioMmioTransport({ device, memory: ram.memory, irq, deferWork: new ManualTurns().defer });
    b.restore(state);
    expect(irq.level).toBe(true);
    expect(b.running).toBe(true);
    expect(device.scratch).toBe(0x1234);
    expect(device.echoed).toBe(1);
    expect(b.queues[0]?.nextAvail).toBe(1);
    // The old driver state keeps working against the restored device.
    const driver = a.driver;
    Object.defineProperty(driver, "device", { value: b });
    driver.submit(0, [data(7, 8, 9), space(3)]);
    expect(
      driver
        .queue(0)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([2, 3]);
    expect(b.snapshot().queues[0]?.nextUsed).toBe(2);
  });

  test("buffers made available but not yet taken when the snapshot was made are served after the restore", () => {
    const ram = new TestGuestRam(1 << 18);
    const a = setup({}, ram);
    a.driver.init();
    // Published without a notification: the device has not seen it when the snapshot is made.
    a.driver.queue(0).add([data(4, 5, 6), space(3)]);
    const state = a.transport.snapshot();
    expect(a.device.echoed).toBe(0);
    expect(state.queues[0]?.nextAvail).toBe(0);

    const device = new EchoDevice();
    const b = new VirtioMmioTransport({
      device,
      memory: ram.memory,
      irq: new RecordingIrqLine(),
      deferWork: new ManualTurns().defer,
    });
    b.restore(state);
    expect(device.echoed).toBe(1);
    expect(b.queues[0]?.nextAvail).toBe(1);
    expect(
      a.driver
        .queue(0)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([3]);
  });

  test("restore rejects a snapshot of another shape", () => {
    const { transport } = setup();
    const state = transport.snapshot();
    expect(() => transport.restore({ ...state, queues: [] })).toThrow(
      'Cannot restore "echo": the snapshot has 0 queues, the device 2',
    );
    expect(() => transport.restore({ ...state, status: 0x100 })).toThrow("status 256 is not a byte");
  });
});

describe("virtio-mmio fuzz", () => {
  test("random register and config accesses over random guest memory never throw", () => {
    const offsets = [
      VIRTIO_MMIO_STATUS,
      VIRTIO_MMIO_QUEUE_SEL,
      VIRTIO_MMIO_QUEUE_NUM,
      VIRTIO_MMIO_QUEUE_READY,
      VIRTIO_MMIO_QUEUE_NOTIFY,
      VIRTIO_MMIO_DRIVER_FEATURES,
      VIRTIO_MMIO_DRIVER_FEATURES_SEL,
      VIRTIO_MMIO_INTERRUPT_ACK,
      0x080,
      0x084,
      0x090,
      0x094,
      0x0a0,
      0x0a4,
    ];
    const access = fc.record({
      offset: fc.oneof(
        { arbitrary: fc.constantFrom(...offsets), weight: 6 },
        { arbitrary: fc.integer({ min: 0, max: 0x210 }), weight: 1 },
      ),
      width: fc.constantFrom<1 | 2 | 4>(4, 4, 4, 2, 1),
      write: fc.boolean(),
      value: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 16 }), weight: 4 },
        { arbitrary: fc.constantFrom(0x8000_0000, 0x8000_1000, 0x8000_2000, 0x0f), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }), weight: 1 },
      ),
    });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.array(access, { minLength: 20, maxLength: 200 }),
        (noise, accesses) => {
          const ram = new TestGuestRam(1 << 14);
          for (let i = 0; i < ram.bytes.length; i++) ram.bytes[i] = noise[i % 64] ?? 0;
          const { transport } = setup({}, ram);
          for (const a of accesses) {
            if (a.write) transport.write(a.offset, a.width, a.value);
            else expect(transport.read(a.offset, a.width)).toBeLessThan(2 ** (8 * a.width));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
