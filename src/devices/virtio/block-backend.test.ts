import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlock } from "./block.ts";
import { BlockBackendError, FileBlockBackend, MemoryBlockBackend } from "./block-backend.ts";
import { VirtioMmioTransport } from "./mmio-transport.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-blk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function image(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("MemoryBlockBackend", () => {
  test("reads and writes inside the store; ranges outside are errors", () => {
    const disk = new MemoryBlockBackend(1024);
    disk.write(1000, Uint8Array.of(1, 2, 3));
    const out = new Uint8Array(4);
    disk.read(999, out);
    expect([...out]).toEqual([0, 1, 2, 3]);
    expect(() => disk.read(1021, new Uint8Array(4))).toThrow(
      "Cannot read 4 bytes at 0x3fd: the store holds 0x400 bytes",
    );
    expect(() => disk.write(-1, new Uint8Array(1))).toThrow(BlockBackendError);
    expect(() => disk.write(2 ** 60, new Uint8Array(1))).toThrow(BlockBackendError);
    const ro = new MemoryBlockBackend(16, { readOnly: true });
    expect(() => ro.write(0, new Uint8Array(1))).toThrow("the store is read-only");
  });
});

describe("FileBlockBackend", () => {
  test("reads, writes and flushes a raw image file", () => {
    const path = image(
      "rw.img",
      Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff),
    );
    using disk = FileBlockBackend.open(path);
    expect(disk.size).toBe(4096);
    const out = new Uint8Array(8);
    disk.read(250, out);
    expect([...out]).toEqual([250, 251, 252, 253, 254, 255, 0, 1]);
    disk.write(4090, Uint8Array.of(9, 9, 9, 9, 9, 9));
    disk.flush();
    expect([...readFileSync(path).subarray(4088)]).toEqual([248, 249, 9, 9, 9, 9, 9, 9]);
    expect(() => disk.read(4095, new Uint8Array(2))).toThrow(BlockBackendError);
  });

  test("read-only images refuse writes; missing images and closed ones are errors", () => {
    const path = image("ro.img", new Uint8Array(512));
    const disk = FileBlockBackend.open(path, { readOnly: true });
    expect(() => disk.write(0, new Uint8Array(1))).toThrow(
      `Cannot write 1 bytes at 0x0 to "${path}": opened read-only`,
    );
    disk.flush(); // nothing to make durable
    disk.close();
    expect(() => disk.read(0, new Uint8Array(1))).toThrow(`Cannot read "${path}": the image is closed`);
    disk.close();
    const missing = join(dir, "missing.img");
    let error: unknown;
    try {
      FileBlockBackend.open(missing);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BlockBackendError);
    expect((error as BlockBackendError).kind).toBe("open");
    expect((error as BlockBackendError).message).toStartWith(`Cannot open disk image "${missing}" read-write: `);
    expect(() => FileBlockBackend.open(dir, { readOnly: true })).toThrow("it is not a regular file or block device");
  });

  test("virtio-blk on a file image: a guest write then read through the device lands in the file", () => {
    const path = image("vm.img", new Uint8Array(16 * 512));
    using disk = FileBlockBackend.open(path);
    const ram = new TestGuestRam(1 << 18);
    const transport = new VirtioMmioTransport({
      device: new VirtioBlock({ backend: disk }),
      memory: ram.memory,
      irq: new RecordingIrqLine(),
      deferWork: new ManualTurns().defer,
    });
    const driver = new VirtioMmioDriver(transport, ram);
    driver.init();
    const header = (type: number, sector: number) => {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setUint32(0, type, true);
      new DataView(h.buffer).setUint32(8, sector, true);
      return h;
    };
    const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 13) & 0xff);
    driver.submit(0, [
      { writable: false, data: header(VIRTIO_BLK_T_OUT, 5) },
      { writable: false, data },
      { writable: true, length: 1 },
    ]);
    driver.submit(0, [
      { writable: false, data: header(VIRTIO_BLK_T_FLUSH, 0) },
      { writable: true, length: 1 },
    ]);
    const read = driver.submit(0, [
      { writable: false, data: header(VIRTIO_BLK_T_IN, 5) },
      { writable: true, length: 1024 },
      { writable: true, length: 1 },
    ]);
    const used = driver.queue(0).takeUsed();
    expect(used.map((u) => u.len)).toEqual([1, 1, 1025]);
    const [, dataBuffer, status] = read.buffers;
    if (dataBuffer === undefined || status === undefined) throw new Error("missing buffers");
    expect(driver.queue(0).readBuffer(status)[0]).toBe(VIRTIO_BLK_S_OK);
    expect(driver.queue(0).readBuffer(dataBuffer)).toEqual(data);
    expect(new Uint8Array(readFileSync(path).subarray(5 * 512, 7 * 512))).toEqual(data);
  });
});
