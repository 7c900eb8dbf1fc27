import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import { DeviceError } from "../errors.ts";
import {
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_RECEIVEQ,
  VIRTIO_CONSOLE_TRANSMITQ,
  VirtioConsole,
  type VirtioConsoleOptions,
} from "./console.ts";
import { featureBit, VIRTIO_F_EVENT_IDX, VIRTIO_ID_CONSOLE } from "./constants.ts";
import { VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_DEVICE_ID, VirtioMmioTransport } from "./mmio-transport.ts";
import { VIRTQ_DESC_F_NEXT } from "./queue.ts";
import { CHAIN_COST, QUEUE_TURN_BUDGET } from "./queue-worker.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array | readonly number[]) => new TextDecoder().decode(Uint8Array.from(b));

function setup(
  options: Partial<VirtioConsoleOptions> = {},
  init = true,
  accept?: (offered: bigint) => bigint,
  ramSize = 1 << 20,
) {
  const out: number[] = [];
  const sinkCalls: Uint8Array[] = [];
  const console = new VirtioConsole({
    sink: (b) => {
      sinkCalls.push(b);
      out.push(...b);
    },
    ...options,
  });
  const ram = new TestGuestRam(ramSize);
  const irq = new RecordingIrqLine();
  const turns = new ManualTurns();
  const transport = new VirtioMmioTransport({ device: console, memory: ram.memory, irq, deferWork: turns.defer });
  const driver = new VirtioMmioDriver(transport, ram);
  if (init) driver.init(accept === undefined ? {} : { accept });
  return { console, out, sinkCalls, driver, transport, irq, ram, turns };
}

/** Post `count` receive buffers of `size` bytes each (as Linux's `fill_queue` does). */
function postReceiveBuffers(driver: VirtioMmioDriver, count: number, size: number) {
  for (let i = 0; i < count; i++) driver.submit(VIRTIO_CONSOLE_RECEIVEQ, [{ writable: true, length: size }]);
}

function received(driver: VirtioMmioDriver): string {
  const q = driver.queue(VIRTIO_CONSOLE_RECEIVEQ);
  return q
    .takeUsed()
    .map((u) => {
      const b = u.buffers?.[0];
      return b === undefined ? "" : decode(q.readBuffer(b, u.len));
    })
    .join("");
}

describe("virtio-console", () => {
  test("device ID 3, two queues, EMERG_WRITE offered, config reads 0", () => {
    const { driver, transport } = setup({}, false);
    expect(driver.r32(VIRTIO_MMIO_DEVICE_ID)).toBe(VIRTIO_ID_CONSOLE);
    expect(driver.deviceFeatures() & 0xff_ffffn).toBe(featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE));
    expect(transport.queues.map((q) => q.maxSize)).toEqual([128, 128]);
    expect(driver.config32(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS)).toBe(0);
    expect(setup({ emergencyWrite: false }, false).driver.deviceFeatures() & 0xff_ffffn).toBe(0n);
  });

  test("transmitq output reaches the sink, split or not, and buffers come back with length 0", () => {
    const { driver, out } = setup();
    driver.submit(VIRTIO_CONSOLE_TRANSMITQ, [{ writable: false, data: text("hello, ") }]);
    driver.submit(VIRTIO_CONSOLE_TRANSMITQ, [
      { writable: false, data: text("wor") },
      { writable: false, data: text("ld\n") },
    ]);
    driver.submit(VIRTIO_CONSOLE_TRANSMITQ, [{ writable: false, data: text("indirect") }], { indirect: true });
    expect(decode(out)).toBe("hello, world\nindirect");
    expect(
      driver
        .queue(VIRTIO_CONSOLE_TRANSMITQ)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([0, 0, 0]);
  });

  test("host input fills posted receive buffers; extra input waits for more buffers", () => {
    const { driver, console, irq } = setup();
    postReceiveBuffers(driver, 2, 4);
    irq.clear();
    expect(console.enqueueInput(text("abcdefghij"))).toBe(10);
    expect(irq.level).toBe(true);
    expect(received(driver)).toBe("abcdefgh");
    expect(console.pendingInput).toBe(2);
    postReceiveBuffers(driver, 1, 16); // the driver's notification delivers the rest
    expect(received(driver)).toBe("ij");
    expect(console.pendingInput).toBe(0);
    expect(console.stats).toMatchObject({ rxBytes: 10 });
  });

  test("input before DRIVER_OK waits; receive buffers are only used when there is input", () => {
    const { driver, console } = setup({}, false);
    expect(console.enqueueInput(text("early"))).toBe(5);
    driver.init();
    postReceiveBuffers(driver, 3, 64);
    expect(received(driver)).toBe("early");
    expect(driver.queue(VIRTIO_CONSOLE_RECEIVEQ).takeUsed()).toEqual([]);
    console.enqueueInput(text("x"));
    expect(received(driver)).toBe("x");
  });

  test("the input buffer is bounded; onInputSpace fires when a full buffer drains", () => {
    let spaces = 0;
    const { driver, console } = setup({ inputBufferSize: 8, onInputSpace: () => spaces++ });
    expect(console.enqueueInput(text("0123456789"))).toBe(8);
    expect(console.canAcceptInput()).toBe(false);
    expect(console.enqueueInput(text("z"))).toBe(0);
    postReceiveBuffers(driver, 1, 3);
    expect(received(driver)).toBe("012");
    expect(spaces).toBe(1);
    // The ring wraps: 5 pending at offset 3, add 3 more (positions 0..2), deliver all 8 in one buffer.
    expect(console.enqueueInput(text("abc"))).toBe(3);
    postReceiveBuffers(driver, 1, 100);
    expect(received(driver)).toBe("34567abc");
  });

  test("emerg_wr writes one character to the sink at any time, even before init", () => {
    const { driver, out, console } = setup({}, false);
    driver.device.write(VIRTIO_MMIO_CONFIG + VIRTIO_CONSOLE_CONFIG_EMERG_WR, 4, 0x1234_5621);
    driver.device.write(VIRTIO_MMIO_CONFIG + VIRTIO_CONSOLE_CONFIG_EMERG_WR, 1, 0x0a);
    driver.device.write(VIRTIO_MMIO_CONFIG + 0, 2, 80); // cols: read-only
    expect(decode(out)).toBe("!\n");
    expect(console.stats.emergencyBytes).toBe(2);
    expect(driver.config16(0)).toBe(0);
  });

  test("a chain with no writable bytes on the receiveq is returned empty; a reset keeps pending input", () => {
    const { driver, console } = setup();
    console.enqueueInput(text("hi"));
    driver.submit(VIRTIO_CONSOLE_RECEIVEQ, [{ writable: false, data: text("?") }]);
    expect(
      driver
        .queue(VIRTIO_CONSOLE_RECEIVEQ)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([0]);
    expect(console.stats.emptyReceiveBuffers).toBe(1);
    driver.reset();
    expect(console.pendingInput).toBe(2);
    driver.init();
    postReceiveBuffers(driver, 1, 8);
    expect(received(driver)).toBe("hi");
  });

  test("snapshot keeps pending input; restore checks it", () => {
    const { console } = setup({ inputBufferSize: 4 });
    console.enqueueInput(text("ab"));
    const state = console.snapshot();
    expect(state).toEqual({ pendingInput: [0x61, 0x62] });
    const other = setup({ inputBufferSize: 4 }).console;
    other.restore(state);
    expect(other.pendingInput).toBe(2);
    expect(() => other.restore({ pendingInput: [1, 2, 3, 4, 5] })).toThrow(DeviceError);
    expect(() => other.restore({ pendingInput: [256] })).toThrow("Cannot restore the console");
  });

  test("bad options are configuration errors", () => {
    expect(() => new VirtioConsole({ sink: () => {}, queueSize: 3 })).toThrow("queue size 3 is not a power of two");
    expect(() => new VirtioConsole({ sink: () => {}, inputBufferSize: 0 })).toThrow(DeviceError);
  });

  test("random input and output interleavings deliver every byte in order, with and without EVENT_IDX", () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("input" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 30 }) }),
      fc.record({ kind: fc.constant("post" as const), size: fc.integer({ min: 0, max: 12 }) }),
      fc.record({
        kind: fc.constant("output" as const),
        bytes: fc.uint8Array({ minLength: 0, maxLength: 30 }),
        indirect: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.boolean(), (steps, eventIdx) => {
        const { driver, console, out, ram } = setup(
          { inputBufferSize: 64, queueSize: 16 },
          true,
          eventIdx ? undefined : (o) => o & ~featureBit(VIRTIO_F_EVENT_IDX),
        );
        const mark = ram.checkpoint();
        const sentIn: number[] = [];
        const gotIn: number[] = [];
        const sentOut: number[] = [];
        let posted = 0;
        for (const s of steps) {
          if (s.kind === "input") {
            const n = console.enqueueInput(s.bytes);
            sentIn.push(...s.bytes.subarray(0, n));
          } else if (s.kind === "post") {
            if (posted < 16) {
              driver.submit(VIRTIO_CONSOLE_RECEIVEQ, [{ writable: true, length: s.size }]);
              posted++;
            }
          } else if (driver.queue(VIRTIO_CONSOLE_TRANSMITQ).freeDescriptors > 0) {
            driver.submit(VIRTIO_CONSOLE_TRANSMITQ, [{ writable: false, data: s.bytes }], { indirect: s.indirect });
            sentOut.push(...s.bytes);
            driver.queue(VIRTIO_CONSOLE_TRANSMITQ).takeUsed();
          }
          const q = driver.queue(VIRTIO_CONSOLE_RECEIVEQ);
          for (const u of q.takeUsed()) {
            posted--;
            const b = u.buffers?.[0];
            if (b !== undefined && u.len > 0) gotIn.push(...q.readBuffer(b, u.len));
          }
          if (posted === 0 && driver.queue(VIRTIO_CONSOLE_TRANSMITQ).freeDescriptors === 16) ram.rewind(mark);
        }
        expect(gotIn).toEqual(sentIn.slice(0, gotIn.length));
        expect(gotIn.length + console.pendingInput).toBe(sentIn.length);
        expect(out).toEqual(sentOut);
      }),
      { numRuns: 150 },
    );
  });
});

describe("virtio-console served in bounded turns (issue 9, item 10)", () => {
  /** One transmit chain of `count` descriptors, each `length` bytes of the same guest buffer (legal: §2.7.5). */
  function publishHugeChain(driver: VirtioMmioDriver, ram: TestGuestRam, count: number, length: number): void {
    const buffer = ram.alloc(length, 8);
    const q = driver.queue(VIRTIO_CONSOLE_TRANSMITQ);
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      q.writeDescriptor(i, { addr: buffer, len: length, flags: last ? 0 : VIRTQ_DESC_F_NEXT, next: last ? 0 : i + 1 });
    }
    q.publish(0);
  }

  test("127 × 32 MiB in one chain: a notification moves one turn's budget, not 4 GiB", () => {
    const sizes: number[] = [];
    const { driver, ram, turns, console, transport } = setup(
      { sink: (b) => sizes.push(b.length) },
      true,
      undefined,
      40 << 20,
    );
    publishHugeChain(driver, ram, 127, 32 << 20);
    driver.notify(VIRTIO_CONSOLE_TRANSMITQ);
    const sent = () => sizes.reduce((a, b) => a + b, 0);
    expect(sent()).toBe(QUEUE_TURN_BUDGET - CHAIN_COST);
    expect(console.stats.txBytes).toBe(sent());
    // The rest waits for the next turn; notifying again in the same turn adds nothing.
    expect(turns.pending).toHaveLength(1);
    driver.notify(VIRTIO_CONSOLE_TRANSMITQ);
    expect(sent()).toBe(QUEUE_TURN_BUDGET - CHAIN_COST);
    expect(turns.pending).toHaveLength(1);
    turns.runTurn();
    expect(sent()).toBe(2 * QUEUE_TURN_BUDGET - CHAIN_COST);
    expect(driver.queue(VIRTIO_CONSOLE_TRANSMITQ).takeUsed()).toEqual([]);
    expect(transport.stats.deferredTurns).toBe(2);
  });

  test("a chain spread over turns comes back whole, once, with the bytes in order", () => {
    const chunks: Uint8Array[] = [];
    const { driver, ram, turns, irq } = setup({ sink: (b) => chunks.push(b) }, true, undefined, 8 << 20);
    const length = 4 << 20;
    const pattern = ram.alloc(length, 8);
    const expected = Uint8Array.from({ length }, (_, i) => (i * 7 + (i >> 12)) & 0xff);
    ram.memory.write(pattern, expected);
    const q = driver.queue(VIRTIO_CONSOLE_TRANSMITQ);
    // 4 MiB readable in two descriptors: many turns' budget.
    q.writeDescriptor(0, { addr: pattern, len: length / 2, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    q.writeDescriptor(1, { addr: pattern + length / 2, len: length / 2, flags: 0, next: 0 });
    q.publish(0);
    irq.clear();
    driver.notify(VIRTIO_CONSOLE_TRANSMITQ);
    expect(irq.level).toBe(false);
    expect(turns.runAll()).toBe(Math.ceil((length + CHAIN_COST) / QUEUE_TURN_BUDGET) - 1);
    // The driver hears about the chain once, when it is done.
    expect(irq.riseCount).toBe(1);
    expect(q.takeUsed().map((u) => [u.id, u.len])).toEqual([[0, 0]]);
    const sent = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      sent.set(chunk, at);
      at += chunk.length;
    }
    expect(sent.length).toBe(length);
    expect(Buffer.compare(sent, expected)).toBe(0);
  });

  test("a reset while a chain is in flight drops the rest of it: nothing is sent after the reset", () => {
    const sizes: number[] = [];
    const { driver, ram, turns } = setup({ sink: (b) => sizes.push(b.length) }, true, undefined, 8 << 20);
    publishHugeChain(driver, ram, 4, 2 << 20);
    driver.notify(VIRTIO_CONSOLE_TRANSMITQ);
    const before = sizes.length;
    driver.reset();
    turns.runAll();
    expect(sizes.length).toBe(before);
  });
});
