import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import {
  acceptAllBut,
  type DriverBuffer,
  TestGuestRam,
  type UsedBuffer,
  VirtioMmioDriver,
} from "../../../test/support/virtio-driver.ts";
import { DeviceError } from "../errors.ts";
import {
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_MAX_DISCARD_SECTORS,
  VIRTIO_BLK_MAX_DISCARD_SEG,
  VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS,
  VIRTIO_BLK_MAX_WRITE_ZEROES_SEG,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_SECURE_ERASE,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_TURN_BUDGET,
  VirtioBlock,
  type VirtioBlockOptions,
} from "./block.ts";
import { type BlockBackend, BlockBackendError, MemoryBlockBackend } from "./block-backend.ts";
import { featureBit, VIRTIO_F_VERSION_1, VIRTIO_ID_BLOCK } from "./constants.ts";
import { VIRTIO_MMIO_DEVICE_ID, VirtioMmioTransport } from "./mmio-transport.ts";
import { CHAIN_COST } from "./queue-worker.ts";

const SECTOR = 512;

function pattern(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + (i >> 9)) & 0xff);
}

function setup(
  options: Partial<VirtioBlockOptions> & {
    disk?: BlockBackend;
    accept?: (offered: bigint) => bigint;
    ramSize?: number;
  } = {},
) {
  const backend = options.disk ?? new MemoryBlockBackend(pattern(64 * SECTOR, 1));
  const blk = new VirtioBlock({ ...options, backend });
  const ram = new TestGuestRam(options.ramSize ?? 1 << 20);
  const irq = new RecordingIrqLine();
  const turns = new ManualTurns();
  const transport = new VirtioMmioTransport({ device: blk, memory: ram.memory, irq, deferWork: turns.defer });
  const driver = new VirtioMmioDriver(transport, ram);
  driver.init(options.accept === undefined ? {} : { accept: options.accept });
  return { blk, backend, ram, irq, transport, driver, turns };
}

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

/** Cut `bytes` into readable buffers of the given sizes (the rest goes in a last buffer). */
function cutReadable(bytes: Uint8Array, cuts: readonly number[] = []): DriverBuffer[] {
  const out: DriverBuffer[] = [];
  let at = 0;
  for (const c of cuts) {
    if (at + c >= bytes.length) break;
    out.push({ writable: false, data: bytes.slice(at, at + c) });
    at += c;
  }
  out.push({ writable: false, data: bytes.slice(at) });
  return out;
}

function cutWritable(length: number, cuts: readonly number[] = []): DriverBuffer[] {
  const out: DriverBuffer[] = [];
  let at = 0;
  for (const c of cuts) {
    if (at + c >= length) break;
    out.push({ writable: true, length: c });
    at += c;
  }
  out.push({ writable: true, length: length - at });
  return out;
}

interface Completed {
  readonly status: number;
  readonly len: number;
  /** Bytes of the writable area before the status byte. */
  readonly data: Uint8Array;
}

function complete(driver: VirtioMmioDriver, used: UsedBuffer): Completed {
  const writable = (used.buffers ?? []).filter((b) => b.writable);
  const bytes = Uint8Array.from(writable.flatMap((b) => [...driver.queue(0).readBuffer(b)]));
  return { status: bytes[bytes.length - 1] ?? -1, len: used.len, data: bytes.subarray(0, bytes.length - 1) };
}

/** Submit one request and return its completion. */
function submit(
  driver: VirtioMmioDriver,
  readable: Uint8Array,
  writableLength: number,
  options: { readCuts?: number[]; writeCuts?: number[]; indirect?: boolean } = {},
): Completed {
  driver.submit(
    0,
    [
      ...(readable.length > 0 ? cutReadable(readable, options.readCuts) : []),
      ...cutWritable(writableLength, options.writeCuts),
    ],
    {
      indirect: options.indirect ?? false,
    },
  );
  const used = driver.queue(0).takeUsed();
  expect(used).toHaveLength(1);
  const [first] = used;
  if (first === undefined) throw new Error("no used buffer");
  return complete(driver, first);
}

const readSectors = (driver: VirtioMmioDriver, sector: number, count: number, options = {}) =>
  submit(driver, header(VIRTIO_BLK_T_IN, sector), count * SECTOR + 1, options);
const writeSectors = (driver: VirtioMmioDriver, sector: number, data: Uint8Array, options = {}) =>
  submit(driver, Uint8Array.from([...header(VIRTIO_BLK_T_OUT, sector), ...data]), 1, options);

describe("virtio-blk configuration", () => {
  test("device ID, features, capacity, seg_max and size_max", () => {
    const { driver, blk } = setup({ queueSize: 128, sizeMax: 0x1000 });
    expect(driver.r32(VIRTIO_MMIO_DEVICE_ID)).toBe(VIRTIO_ID_BLOCK);
    const offered = driver.deviceFeatures();
    expect(offered & 0xff_ffffn).toBe(
      featureBit(VIRTIO_BLK_F_SIZE_MAX) |
        featureBit(VIRTIO_BLK_F_SEG_MAX) |
        featureBit(VIRTIO_BLK_F_FLUSH) |
        featureBit(VIRTIO_BLK_F_DISCARD) |
        featureBit(VIRTIO_BLK_F_WRITE_ZEROES),
    );
    expect(offered & featureBit(VIRTIO_F_VERSION_1)).not.toBe(0n);
    expect(driver.config64(VIRTIO_BLK_CONFIG_CAPACITY)).toBe(64n);
    expect(driver.config32(VIRTIO_BLK_CONFIG_SEG_MAX)).toBe(126);
    expect(driver.config32(VIRTIO_BLK_CONFIG_SIZE_MAX)).toBe(0x1000);
    expect(blk.maxRequestBytes).toBe(126 * 0x1000);
    // Config writes are ignored (no CONFIG_WCE).
    driver.device.write(0x100, 4, 0);
    expect(driver.config64(VIRTIO_BLK_CONFIG_CAPACITY)).toBe(64n);
  });

  test("a partial last sector is not part of the capacity; read-only disks offer VIRTIO_BLK_F_RO", () => {
    const { driver } = setup({ disk: new MemoryBlockBackend(10 * SECTOR + 100), readOnly: true });
    expect(driver.config64(VIRTIO_BLK_CONFIG_CAPACITY)).toBe(10n);
    expect(driver.deviceFeatures() & featureBit(VIRTIO_BLK_F_RO)).not.toBe(0n);
  });

  test("bad options are configuration errors", () => {
    const backend = new MemoryBlockBackend(SECTOR);
    expect(() => new VirtioBlock({ backend, queueSize: 100 })).toThrow(
      "queue size 100 is not a power of two in 4..32768",
    );
    expect(() => new VirtioBlock({ backend, sizeMax: 512 })).toThrow(DeviceError);
    expect(() => new VirtioBlock({ backend, serial: "x".repeat(21) })).toThrow(
      "is not printable ASCII of at most 20 bytes",
    );
    expect(() => new VirtioBlock({ backend, serial: "é" })).toThrow(DeviceError);
  });
});

describe("virtio-blk requests", () => {
  test("IN reads sectors; used length covers data and status; the interrupt fires", () => {
    const { driver, backend, irq } = setup();
    const done = readSectors(driver, 3, 2);
    expect(done.status).toBe(VIRTIO_BLK_S_OK);
    expect(done.len).toBe(2 * SECTOR + 1);
    const expected = new Uint8Array(2 * SECTOR);
    backend.read(3 * SECTOR, expected);
    expect(done.data).toEqual(expected);
    expect(irq.level).toBe(true);
  });

  test("OUT writes sectors; used length is the status byte", () => {
    const { driver, backend, blk } = setup();
    const data = pattern(3 * SECTOR, 9);
    const done = writeSectors(driver, 10, data);
    expect(done).toEqual({ status: VIRTIO_BLK_S_OK, len: 1, data: new Uint8Array(0) });
    const back = new Uint8Array(3 * SECTOR);
    backend.read(10 * SECTOR, back);
    expect(back).toEqual(data);
    expect(readSectors(driver, 10, 3).data).toEqual(data);
    expect(blk.stats).toMatchObject({
      requests: 2,
      reads: 1,
      writes: 1,
      bytesRead: 3 * SECTOR,
      bytesWritten: 3 * SECTOR,
    });
  });

  test("framing does not matter: headers, data and status split anywhere, or merged, direct or indirect", () => {
    const { driver } = setup();
    const data = pattern(2 * SECTOR, 4);
    // Header split 5 + 11, data in uneven pieces; header and data in one descriptor.
    expect(writeSectors(driver, 20, data, { readCuts: [5, 11, 100, 700] }).status).toBe(VIRTIO_BLK_S_OK);
    expect(writeSectors(driver, 30, data, { readCuts: [] }).status).toBe(VIRTIO_BLK_S_OK);
    // Data and status in one writable descriptor; data split oddly; all of it behind an indirect descriptor.
    expect(readSectors(driver, 20, 2, { writeCuts: [] }).data).toEqual(data);
    expect(readSectors(driver, 30, 2, { writeCuts: [1, 600, 3] }).data).toEqual(data);
    expect(readSectors(driver, 20, 2, { writeCuts: [511, 1], readCuts: [8], indirect: true }).data).toEqual(data);
  });

  test("out-of-range, unaligned and oversized requests are IOERR and leave the disk alone", () => {
    const { driver, backend } = setup({ queueSize: 4, sizeMax: 4096 });
    const before = Uint8Array.from((backend as MemoryBlockBackend).bytes);
    expect(readSectors(driver, 63, 2)).toMatchObject({ status: VIRTIO_BLK_S_IOERR, len: 0 });
    expect(readSectors(driver, 64, 1).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(readSectors(driver, 64, 0)).toEqual({ status: VIRTIO_BLK_S_OK, len: 1, data: new Uint8Array(0) });
    expect(readSectors(driver, 2 ** 40, 1).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(readSectors(driver, 2 ** 63, 1).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(writeSectors(driver, 63, pattern(2 * SECTOR, 1)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(writeSectors(driver, 0, pattern(SECTOR + 1, 1)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(submit(driver, header(VIRTIO_BLK_T_IN, 0), 100 + 1).status).toBe(VIRTIO_BLK_S_IOERR);
    // seg_max 2 * size_max 4096 = 8192 bytes per request at most.
    expect(readSectors(driver, 0, 16).status).toBe(VIRTIO_BLK_S_OK);
    expect(readSectors(driver, 0, 17).status).toBe(VIRTIO_BLK_S_IOERR);
    expect((backend as MemoryBlockBackend).bytes).toEqual(before);
  });

  test("a read-only disk fails writes with IOERR without writing; reads and flushes work", () => {
    const disk = new MemoryBlockBackend(pattern(8 * SECTOR, 2));
    const { driver, blk } = setup({ disk, readOnly: true });
    const before = Uint8Array.from(disk.bytes);
    expect(writeSectors(driver, 0, pattern(SECTOR, 3)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(disk.bytes).toEqual(before);
    expect(readSectors(driver, 0, 1).data).toEqual(before.subarray(0, SECTOR));
    expect(submit(driver, header(VIRTIO_BLK_T_FLUSH, 0), 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(blk.stats.ioErrors).toBe(1);
  });

  test("FLUSH flushes the backend; without FLUSH negotiated every write is flushed", () => {
    const disk = new MemoryBlockBackend(8 * SECTOR);
    const { driver } = setup({ disk });
    writeSectors(driver, 0, pattern(SECTOR, 1));
    expect(disk.flushes).toBe(0);
    expect(submit(driver, header(VIRTIO_BLK_T_FLUSH, 0), 1)).toEqual({
      status: VIRTIO_BLK_S_OK,
      len: 1,
      data: new Uint8Array(0),
    });
    expect(disk.flushes).toBe(1);

    const wt = new MemoryBlockBackend(8 * SECTOR);
    const second = setup({ disk: wt, accept: acceptAllBut(VIRTIO_BLK_F_FLUSH) });
    writeSectors(second.driver, 0, pattern(SECTOR, 1));
    writeSectors(second.driver, 1, pattern(SECTOR, 2));
    expect(wt.flushes).toBe(2);
  });

  test("GET_ID returns the serial NUL-padded to 20 bytes", () => {
    const { driver } = setup({ serial: "disk-7" });
    const done = submit(driver, header(VIRTIO_BLK_T_GET_ID, 0), 21);
    expect(done.status).toBe(VIRTIO_BLK_S_OK);
    expect(done.len).toBe(21);
    expect(new TextDecoder().decode(done.data)).toBe(`disk-7${"\0".repeat(14)}`);
    const full = setup({ serial: "0123456789abcdefghij" });
    expect(new TextDecoder().decode(submit(full.driver, header(VIRTIO_BLK_T_GET_ID, 0), 21).data)).toBe(
      "0123456789abcdefghij",
    );
    // A short buffer gets what fits; a long one the 20 bytes (used length 20: the rest was not written).
    expect(submit(full.driver, header(VIRTIO_BLK_T_GET_ID, 0), 5)).toMatchObject({ status: VIRTIO_BLK_S_OK, len: 5 });
    expect(submit(full.driver, header(VIRTIO_BLK_T_GET_ID, 0), 41)).toMatchObject({ status: VIRTIO_BLK_S_OK, len: 20 });
  });

  test("unsupported requests are UNSUPP; malformed chains do not stop the device", () => {
    const { driver, blk, transport } = setup();
    expect(submit(driver, header(VIRTIO_BLK_T_SECURE_ERASE, 0), 1).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(submit(driver, header(0x8000_0000, 0), 1).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(submit(driver, header(VIRTIO_BLK_T_IN, 0).subarray(0, 10), 1).status).toBe(VIRTIO_BLK_S_IOERR);
    // No writable byte: nowhere to put the status; returned with length 0.
    driver.submit(0, [{ writable: false, data: header(VIRTIO_BLK_T_FLUSH, 0) }]);
    expect(
      driver
        .queue(0)
        .takeUsed()
        .map((u) => u.len),
    ).toEqual([0]);
    expect(blk.stats.malformed).toBe(2);
    expect(transport.running).toBe(true);
    expect(readSectors(driver, 0, 1).status).toBe(VIRTIO_BLK_S_OK);
  });

  test("a backend I/O error is IOERR for that request only", () => {
    const disk = new MemoryBlockBackend(8 * SECTOR);
    let broken = true;
    const flaky: BlockBackend = {
      size: disk.size,
      read: (offset, dest) => {
        if (broken) throw new BlockBackendError("io", "Cannot read: EIO", offset, dest.length);
        disk.read(offset, dest);
      },
      write: (offset, src) => disk.write(offset, src),
      flush: () => {
        if (broken) throw new BlockBackendError("io", "Cannot flush: EIO", 0, 0);
      },
    };
    const { driver, transport } = setup({ disk: flaky });
    expect(readSectors(driver, 0, 1)).toMatchObject({ status: VIRTIO_BLK_S_IOERR, len: 0 });
    expect(submit(driver, header(VIRTIO_BLK_T_FLUSH, 0), 1).status).toBe(VIRTIO_BLK_S_IOERR);
    broken = false;
    expect(readSectors(driver, 0, 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(transport.running).toBe(true);
  });

  test("a batch of requests in one notification, completed in order with one interrupt", () => {
    const { driver, irq } = setup();
    const q = driver.queue(0);
    const heads = [0, 1, 2, 3].map(
      (i) =>
        q.add([
          { writable: false, data: header(VIRTIO_BLK_T_IN, i) },
          { writable: true, length: SECTOR + 1 },
        ]).head,
    );
    irq.clear();
    driver.notify(0);
    const used = q.takeUsed();
    expect(used.map((u) => u.id)).toEqual(heads);
    expect(used.map((u) => complete(driver, u).status)).toEqual([0, 0, 0, 0]);
    expect(irq.riseCount).toBe(1);
  });

  test("a broken chain (descriptor loop) puts the transport in DEVICE_NEEDS_RESET", () => {
    const { driver, transport } = setup();
    const q = driver.queue(0);
    q.writeDescriptor(0, { addr: driver.ram.alloc(16), len: 16, flags: 1, next: 0 });
    q.publish(0);
    driver.notify(0);
    expect(transport.running).toBe(false);
    expect(transport.lastFailure?.kind).toBe("queue");
  });
});

describe("virtio-blk against a model disk", () => {
  test("random reads and writes with random framing match a byte-array model", () => {
    const op = fc.record({
      write: fc.boolean(),
      sector: fc.integer({ min: 0, max: 40 }),
      count: fc.integer({ min: 0, max: 8 }),
      cuts: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 4 }),
      indirect: fc.boolean(),
      seed: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), (ops) => {
        const model = pattern(40 * SECTOR, 5);
        const disk = new MemoryBlockBackend(Uint8Array.from(model));
        const { driver, ram } = setup({ disk, ramSize: 1 << 20 });
        const afterRings = ram.checkpoint();
        for (const o of ops) {
          const fits = o.sector + o.count <= 40;
          const length = o.count * SECTOR;
          if (o.write) {
            const data = pattern(length, o.seed);
            const done = writeSectors(driver, o.sector, data, { readCuts: o.cuts, indirect: o.indirect });
            expect(done.status).toBe(fits ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
            if (fits) model.set(data, o.sector * SECTOR);
          } else {
            const done = readSectors(driver, o.sector, o.count, { writeCuts: o.cuts, indirect: o.indirect });
            expect(done.status).toBe(fits ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
            if (fits) expect(done.data).toEqual(model.subarray(o.sector * SECTOR, o.sector * SECTOR + length));
          }
          ram.rewind(afterRings); // buffers of completed requests are free again; the rings stay
        }
        expect(disk.bytes).toEqual(model);
      }),
      { numRuns: 60 },
    );
  });
});

describe("virtio-blk served in bounded turns (issue 9, item 10)", () => {
  /** Bytes of `backend` written so far, counted at the backend. */
  function countingBackend(size: number): { backend: MemoryBlockBackend; written: () => number } {
    const backend = new MemoryBlockBackend(size);
    let written = 0;
    const write = backend.write.bind(backend);
    backend.write = (offset, src) => {
      written += src.length;
      write(offset, src);
    };
    return { backend, written: () => written };
  }

  test("a queue of large writes moves one turn's budget per turn; each completes once its data is all there", () => {
    const { backend, written } = countingBackend(16 << 20);
    const { driver, turns } = setup({ disk: backend, ramSize: 40 << 20 });
    const requests = 4;
    const length = 2 << 20;
    const payloads = Array.from({ length: requests }, (_, r) =>
      Uint8Array.from({ length }, (_, i) => (i + r * 31) & 0xff),
    );
    const q = driver.queue(0);
    // Publish all four, then notify once, as a driver batching requests does.
    for (const [r, data] of payloads.entries()) {
      q.add([
        { writable: false, data: header(VIRTIO_BLK_T_OUT, (r * length) / 512) },
        { writable: false, data },
        { writable: true, length: 1 },
      ]);
    }
    driver.notify(0);
    expect(written()).toBe(VIRTIO_BLK_TURN_BUDGET - CHAIN_COST);
    expect(q.takeUsed()).toEqual([]);
    expect(turns.pending).toHaveLength(1);
    turns.runAll();
    const used = q.takeUsed();
    expect(used.map((u) => complete(driver, u).status)).toEqual([0, 0, 0, 0]);
    expect(written()).toBe(requests * length);
    for (const [r, data] of payloads.entries())
      expect(Buffer.compare(backend.bytes.subarray(r * length, (r + 1) * length), data)).toBe(0);
  });

  test("a large read spans turns and returns the disk's bytes in order", () => {
    const backend = new MemoryBlockBackend(Uint8Array.from({ length: 8 << 20 }, (_, i) => (i * 13) & 0xff));
    const { driver, turns } = setup({ disk: backend, ramSize: 24 << 20 });
    const length = 6 << 20;
    driver.submit(0, [
      { writable: false, data: header(VIRTIO_BLK_T_IN, 1024) },
      { writable: true, length },
      { writable: true, length: 1 },
    ]);
    expect(driver.queue(0).takeUsed()).toEqual([]);
    expect(turns.runAll()).toBe(Math.ceil((length + CHAIN_COST) / VIRTIO_BLK_TURN_BUDGET) - 1);
    const [used] = driver.queue(0).takeUsed();
    const [data, status] = used?.buffers?.filter((b) => b.writable) ?? [];
    if (used === undefined || data === undefined || status === undefined) throw new Error("the read did not complete");
    expect(used.len).toBe(length + 1);
    expect(driver.queue(0).readBuffer(status)[0]).toBe(0);
    const read = driver.queue(0).readBuffer(data);
    expect(Buffer.compare(read, backend.bytes.subarray(1024 * 512, 1024 * 512 + length))).toBe(0);
  });
});

/** A discard / write-zeroes request: the header, then one 16-byte segment per [sector, sectors, flags]. */
function clearRequest(type: number, segments: readonly (readonly [number, number, number])[]): Uint8Array {
  const bytes = new Uint8Array(16 + segments.length * 16);
  bytes.set(header(type, 0));
  const view = new DataView(bytes.buffer);
  for (const [i, [sector, sectors, flags]] of segments.entries()) {
    view.setBigUint64(16 + i * 16, BigInt(sector), true);
    view.setUint32(16 + i * 16 + 8, sectors, true);
    view.setUint32(16 + i * 16 + 12, flags, true);
  }
  return bytes;
}
const UNMAP = 1;

/** A memory disk that records its deallocations, or (cannot) refuses them like a file system without holes. */
function deallocatingDisk(size: number, options: { cannot?: boolean; fails?: boolean } = {}) {
  const disk = new MemoryBlockBackend(pattern(size, 3));
  const deallocated: [number, number][] = [];
  const deallocate = disk.deallocate.bind(disk);
  disk.deallocate = (offset, length) => {
    if (options.fails === true) throw new BlockBackendError("io", "fallocate: EIO", offset, length);
    if (options.cannot === true) return false;
    deallocated.push([offset, length]);
    return deallocate(offset, length);
  };
  return { disk, deallocated };
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

describe("virtio-blk discard and write-zeroes (§5.2.6)", () => {
  test("a read-write disk offers both with their limits; a read-only disk offers neither", () => {
    const { driver } = setup();
    const offered = driver.deviceFeatures();
    expect(offered & featureBit(VIRTIO_BLK_F_DISCARD)).not.toBe(0n);
    expect(offered & featureBit(VIRTIO_BLK_F_WRITE_ZEROES)).not.toBe(0n);
    expect(driver.config32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS)).toBe(VIRTIO_BLK_MAX_DISCARD_SECTORS);
    expect(driver.config32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG)).toBe(VIRTIO_BLK_MAX_DISCARD_SEG);
    expect(driver.config32(VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT)).toBe(8);
    expect(driver.config32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS)).toBe(VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS);
    expect(driver.config32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG)).toBe(VIRTIO_BLK_MAX_WRITE_ZEROES_SEG);
    expect(driver.device.read(0x100 + VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP, 1)).toBe(1);

    const ro = setup({ readOnly: true });
    const roOffered = ro.driver.deviceFeatures();
    expect(roOffered & (featureBit(VIRTIO_BLK_F_DISCARD) | featureBit(VIRTIO_BLK_F_WRITE_ZEROES))).toBe(0n);
    expect(ro.driver.config32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS)).toBe(0);
    expect(ro.driver.config32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS)).toBe(0);
    // Sent anyway (not negotiated): UNSUPP, and the disk is untouched.
    const before = ro.backend instanceof MemoryBlockBackend ? ro.backend.bytes.slice() : new Uint8Array();
    expect(submit(ro.driver, clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 8, 0]]), 1).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(submit(ro.driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, 8, 0]]), 1).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(ro.backend instanceof MemoryBlockBackend && Buffer.compare(ro.backend.bytes, before)).toBe(0);
  });

  test("a discard deallocates each segment; the rest of the disk is untouched", () => {
    const { disk, deallocated } = deallocatingDisk(64 * SECTOR);
    const { driver, blk } = setup({ disk });
    const before = disk.bytes.slice();
    const done = submit(
      driver,
      clearRequest(VIRTIO_BLK_T_DISCARD, [
        [8, 8, 0],
        [32, 3, 0],
        [40, 0, 0],
      ]),
      1,
    );
    expect(done.status).toBe(VIRTIO_BLK_S_OK);
    expect(done.len).toBe(1);
    // A zero-length segment is valid and does nothing.
    expect(deallocated).toEqual([
      [8 * SECTOR, 8 * SECTOR],
      [32 * SECTOR, 3 * SECTOR],
    ]);
    expect(isZero(disk.bytes.subarray(8 * SECTOR, 16 * SECTOR))).toBe(true);
    expect(isZero(disk.bytes.subarray(32 * SECTOR, 35 * SECTOR))).toBe(true);
    expect(Buffer.compare(disk.bytes.subarray(0, 8 * SECTOR), before.subarray(0, 8 * SECTOR))).toBe(0);
    expect(
      Buffer.compare(disk.bytes.subarray(16 * SECTOR, 32 * SECTOR), before.subarray(16 * SECTOR, 32 * SECTOR)),
    ).toBe(0);
    expect(Buffer.compare(disk.bytes.subarray(35 * SECTOR), before.subarray(35 * SECTOR))).toBe(0);
    expect(blk.stats).toMatchObject({ discards: 1, bytesDeallocated: 11 * SECTOR, bytesZeroed: 0 });
  });

  test("write-zeroes writes zeros without unmap and deallocates with it; both read back as zeros", () => {
    const { disk, deallocated } = deallocatingDisk(64 * SECTOR);
    const { driver, blk } = setup({ disk });
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[4, 4, 0]]), 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(deallocated).toEqual([]);
    expect(blk.stats.bytesZeroed).toBe(4 * SECTOR);
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[20, 2, UNMAP]]), 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(deallocated).toEqual([[20 * SECTOR, 2 * SECTOR]]);
    expect(blk.stats).toMatchObject({ writeZeroes: 2, bytesDeallocated: 2 * SECTOR, bytesZeroed: 4 * SECTOR });
    const read = readSectors(driver, 4, 18);
    expect(isZero(read.data.subarray(0, 4 * SECTOR))).toBe(true);
    expect(isZero(read.data.subarray(16 * SECTOR, 18 * SECTOR))).toBe(true);
    expect(isZero(read.data.subarray(4 * SECTOR, 16 * SECTOR))).toBe(false);
  });

  test("a backend that cannot deallocate (or has no deallocate) gets zeros written instead", () => {
    const { disk } = deallocatingDisk(64 * SECTOR, { cannot: true });
    const { driver, blk } = setup({ disk });
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 16, 0]]), 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(isZero(disk.bytes.subarray(0, 16 * SECTOR))).toBe(true);
    expect(blk.stats).toMatchObject({ bytesDeallocated: 0, bytesZeroed: 16 * SECTOR });

    const bytes = pattern(64 * SECTOR, 5);
    const plain: BlockBackend = {
      size: bytes.length,
      read: (offset, dest) => dest.set(bytes.subarray(offset, offset + dest.length)),
      write: (offset, src) => bytes.set(src, offset),
      flush: () => {},
    };
    const second = setup({ disk: plain });
    expect(submit(second.driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[2, 2, UNMAP]]), 1).status).toBe(
      VIRTIO_BLK_S_OK,
    );
    expect(isZero(bytes.subarray(2 * SECTOR, 4 * SECTOR))).toBe(true);
    expect(bytes[4 * SECTOR]).not.toBe(0);
  });

  test("bad requests: UNSUPP for reserved flags and unmap on discard, IOERR for bad framing, ranges and limits", () => {
    const { disk, deallocated } = deallocatingDisk(64 * SECTOR);
    const { driver, blk, transport } = setup({ disk });
    const before = disk.bytes.slice();
    const cases: [string, Uint8Array, number][] = [
      ["unmap on a discard", clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 8, UNMAP]]), VIRTIO_BLK_S_UNSUPP],
      ["a reserved flag", clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, 8, 2]]), VIRTIO_BLK_S_UNSUPP],
      // UNSUPP wins over IOERR, whichever segment carries it.
      [
        "a reserved flag after a bad range",
        clearRequest(VIRTIO_BLK_T_DISCARD, [
          [1000, 8, 0],
          [0, 8, 0x8000_0000],
        ]),
        VIRTIO_BLK_S_UNSUPP,
      ],
      ["no segment", clearRequest(VIRTIO_BLK_T_DISCARD, []), VIRTIO_BLK_S_IOERR],
      ["not whole segments", clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 8, 0]]).subarray(0, 16 + 12), VIRTIO_BLK_S_IOERR],
      ["past the end", clearRequest(VIRTIO_BLK_T_DISCARD, [[60, 8, 0]]), VIRTIO_BLK_S_IOERR],
      ["a sector past 2^53", clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[2 ** 60, 1, 0]]), VIRTIO_BLK_S_IOERR],
      [
        "one good segment and one out of range: nothing is done",
        clearRequest(VIRTIO_BLK_T_DISCARD, [
          [0, 8, 0],
          [64, 1, 0],
        ]),
        VIRTIO_BLK_S_IOERR,
      ],
      [
        "too many segments",
        clearRequest(
          VIRTIO_BLK_T_DISCARD,
          Array.from({ length: VIRTIO_BLK_MAX_DISCARD_SEG + 1 }, () => [0, 1, 0] as const),
        ),
        VIRTIO_BLK_S_IOERR,
      ],
      [
        "a segment over max_write_zeroes_sectors",
        clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS + 1, 0]]),
        VIRTIO_BLK_S_IOERR,
      ],
    ];
    for (const [what, request, status] of cases) {
      expect({ what, status: submit(driver, request, 1).status }).toEqual({ what, status });
    }
    expect(deallocated).toEqual([]);
    expect(Buffer.compare(disk.bytes, before)).toBe(0);
    expect(blk.stats).toMatchObject({ discards: 0, writeZeroes: 0, unsupported: 3, ioErrors: 7 });
    expect(transport.running).toBe(true);
  });

  test("not negotiated: UNSUPP, whatever the request holds", () => {
    const { disk, deallocated } = deallocatingDisk(64 * SECTOR);
    const { driver } = setup({ disk, accept: acceptAllBut(VIRTIO_BLK_F_DISCARD) });
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 8, 0]]), 1).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(deallocated).toEqual([]);
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, 8, UNMAP]]), 1).status).toBe(VIRTIO_BLK_S_OK);
  });

  test("a backend failure is IOERR; without FLUSH negotiated the zeros are flushed", () => {
    const { disk } = deallocatingDisk(64 * SECTOR, { fails: true });
    const { driver, blk } = setup({ disk });
    expect(submit(driver, clearRequest(VIRTIO_BLK_T_DISCARD, [[0, 8, 0]]), 1).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(blk.stats.ioErrors).toBe(1);
    const writeThrough = new MemoryBlockBackend(64 * SECTOR);
    const second = setup({ disk: writeThrough, accept: acceptAllBut(VIRTIO_BLK_F_FLUSH) });
    expect(submit(second.driver, clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, 8, 0]]), 1).status).toBe(VIRTIO_BLK_S_OK);
    expect(writeThrough.flushes).toBe(1);
  });

  test("a large write-zeroes moves one turn's budget per turn and completes once all is zero", () => {
    const size = 8 << 20;
    const disk = new MemoryBlockBackend(pattern(size, 9));
    const { driver, turns } = setup({ disk });
    driver.submit(0, [
      { writable: false, data: clearRequest(VIRTIO_BLK_T_WRITE_ZEROES, [[0, size / SECTOR, 0]]) },
      { writable: true, length: 1 },
    ]);
    expect(driver.queue(0).takeUsed()).toEqual([]);
    expect(turns.runAll()).toBe(Math.ceil((size + CHAIN_COST) / VIRTIO_BLK_TURN_BUDGET) - 1);
    const [used] = driver.queue(0).takeUsed();
    if (used === undefined) throw new Error("the write-zeroes did not complete");
    expect(complete(driver, used).status).toBe(VIRTIO_BLK_S_OK);
    expect(isZero(disk.bytes)).toBe(true);
  });

  test("random discards, write-zeroes and writes match a byte-array model", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom("discard", "zeroes", "zeroes-unmap", "write"),
            sector: fc.integer({ min: 0, max: 70 }),
            sectors: fc.integer({ min: 0, max: 12 }),
            cannot: fc.boolean(),
          }),
          { maxLength: 12 },
        ),
        (operations) => {
          const model = pattern(64 * SECTOR, 4);
          const { disk } = deallocatingDisk(64 * SECTOR);
          disk.bytes.set(model);
          const { driver } = setup({ disk });
          for (const [i, op] of operations.entries()) {
            const fits = op.sector + op.sectors <= 64;
            if (op.kind === "write") {
              if (op.sectors === 0) continue;
              const data = pattern(op.sectors * SECTOR, i + 10);
              const status = writeSectors(driver, op.sector, data).status;
              expect(status).toBe(fits ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
              if (fits) model.set(data, op.sector * SECTOR);
              continue;
            }
            const type = op.kind === "discard" ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
            const flags = op.kind === "zeroes-unmap" ? UNMAP : 0;
            const status = submit(driver, clearRequest(type, [[op.sector, op.sectors, flags]]), 1).status;
            expect(status).toBe(fits ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
            if (fits) model.fill(0, op.sector * SECTOR, (op.sector + op.sectors) * SECTOR);
          }
          expect(Buffer.compare(disk.bytes, model)).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
