/**
 * Disks from config to device (issue 9, item 16): `[[devices.disks]]` and `kernel.disk_path` parse and are checked
 * as the run would open them; the builder opens and locks each image (a second VM on a read-write image is
 * refused, naming it); a read-only disk offers VIRTIO_BLK_F_RO, refuses writes, and its image stays unwritten.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualTurns } from "../../test/support/manual-turns.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../test/support/virtio-driver.ts";
import { VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_T_OUT, VirtioBlock } from "../devices/virtio/block.ts";
import { featureBit } from "../devices/virtio/constants.ts";
import { VirtioMmioTransport } from "../devices/virtio/mmio-transport.ts";
import { emulatedBackend } from "../hal/emulated/index.ts";
import { boardFor } from "./boards/index.ts";
import { virtioMmioWindow } from "./boards/riscv-virt/layout.ts";
import { assembleVm } from "./builder.ts";
import { ConfigError, parseVmConfig } from "./config/index.ts";
import type { VmConfig } from "./config/types.ts";
import { VmError } from "./errors.ts";
import type { AxVM } from "./vm.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-disks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "kernel.bin"), Uint8Array.of(0x6f, 0, 0, 0));

function image(name: string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(16 * 512).fill(0xab));
  chmodSync(path, mode);
  return path;
}

function configText(devices: string, kernel = ""): string {
  return [
    "[base]",
    'id = 1\nname = "disks"\ncpu_num = 1\narch = "riscv64"\nbackend = "emulated"',
    "[kernel]",
    'kernel_path = "kernel.bin"\nkernel_load_addr = 0x8020_0000',
    kernel,
    "memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]",
    "[devices]",
    'console = "none"',
    devices,
  ].join("\n");
}

const parse = (text: string): VmConfig => parseVmConfig(text, { baseDir: dir, sourceName: "disks.toml" });

function problems(text: string): string[] {
  try {
    parse(text);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.path} = ${i.value}: ${i.problem}`);
  }
}

function build(config: VmConfig): AxVM {
  return assembleVm(config, {
    hypervisor: emulatedBackend.open(),
    board: boardFor(config),
    console: { write: () => undefined, close: () => undefined },
  });
}

/** The virtio-blk transport a VM placed at virtio window `index`. */
function blockAt(vm: AxVM, index: number): VirtioMmioTransport {
  const entry = vm.buses.mmio.entries().find((e) => e.base === virtioMmioWindow(index).base);
  const transport = entry?.device;
  if (!(transport instanceof VirtioMmioTransport) || !(transport.device instanceof VirtioBlock))
    throw new Error(`no virtio-blk at window ${index}`);
  return transport;
}

describe("disks in the config", () => {
  test("kernel.disk_path is a read-write first disk; [[devices.disks]] add disks with read_only and serial", () => {
    const rw = image("a.img");
    const ro = image("b.img");
    const config = parse(
      configText(`[[devices.disks]]\npath = "b.img"\nread_only = true\nserial = "axvisor-b"`, 'disk_path = "a.img"'),
    );
    expect(config.devices.disks).toEqual([
      { path: rw, readOnly: false, serial: undefined, key: "kernel.disk_path" },
      { path: ro, readOnly: true, serial: "axvisor-b", key: "devices.disks[0]" },
    ]);
  });

  test("what the open would refuse is a config problem: 0444 read-write, a missing file, one image twice", () => {
    image("locked-mode.img", 0o444);
    image("twice.img");
    expect(problems(configText('[[devices.disks]]\npath = "locked-mode.img"'))).toEqual([
      'devices.disks[0] = "locked-mode.img": is read-only (mode 0444): nobody may write it; set read_only = true',
    ]);
    expect(problems(configText("", 'disk_path = "locked-mode.img"'))).toEqual([
      'kernel.disk_path = "locked-mode.img": is read-only (mode 0444): nobody may write it; attach it read-only with a [[devices.disks]] table and read_only = true',
    ]);
    expect(problems(configText('[[devices.disks]]\npath = "locked-mode.img"\nread_only = true'))).toEqual([]);
    expect(problems(configText('[[devices.disks]]\npath = "gone.img"'))).toEqual([
      `devices.disks[0] = "gone.img": file not found (looked for ${join(dir, "gone.img")})`,
    ]);
    expect(
      problems(
        configText('[[devices.disks]]\npath = "twice.img"\n[[devices.disks]]\npath = "./twice.img"\nread_only = true'),
      ),
    ).toEqual([
      'devices.disks[1] = "./twice.img": is also devices.disks[0]: an image backs one disk (its lock would refuse the second open)',
    ]);
  });

  test("serials, unknown keys, virtio-blk entries without a disk and too many disks are refused", () => {
    image("c.img");
    expect(problems(configText('[[devices.disks]]\npath = "c.img"\nserial = "a serial longer than twenty"'))).toEqual([
      'devices.disks[0].serial = "a serial longer than twenty": must be printable ASCII of at most 20 bytes',
    ]);
    expect(problems(configText('[[devices.disks]]\npath = "c.img"\nreadonly = true'))).toEqual([
      "devices.disks[0].readonly = true: unknown key",
    ]);
    expect(problems(configText('emu_devices = [["blk", 0x1000_1000, 0x1000, 1, "virtio-blk", []]]'))).toEqual([
      'devices.emu_devices[0] = 0x10001000: virtio-blk entry "blk" has no disk to serve: 0 disk(s) (kernel.disk_path, [[devices.disks]]) for 1 virtio-blk entries',
    ]);
    const nine = Array.from({ length: 9 }, (_, i) => {
      image(`many${i}.img`);
      return `[[devices.disks]]\npath = "many${i}.img"\nread_only = true`;
    }).join("\n");
    expect(problems(configText(nine))).toEqual([
      `devices.disks[8] = "${join(dir, "many8.img")}": 9 disks need a virtio-mmio window each and 8 of the board's 8 are free; place more with virtio-blk emu_devices entries`,
    ]);
  });
});

describe("disks in a VM", () => {
  test("each disk gets a virtio-blk in the next free window; read-only ones offer VIRTIO_BLK_F_RO", () => {
    image("vda.img");
    image("vdb.img");
    const vm = build(
      parse(
        configText(
          '[[devices.disks]]\npath = "vdb.img"\nread_only = true\nserial = "serial-b"',
          'disk_path = "vda.img"',
        ),
      ),
    );
    try {
      const vda = blockAt(vm, 0);
      const vdb = blockAt(vm, 1);
      expect(vda.offeredFeatures & featureBit(VIRTIO_BLK_F_RO)).toBe(0n);
      expect(vdb.offeredFeatures & featureBit(VIRTIO_BLK_F_RO)).toBe(featureBit(VIRTIO_BLK_F_RO));
    } finally {
      vm.shutdown();
      void vm.run();
    }
  });

  test("a second VM on a read-write image is refused, naming the image; after the first stops it may run", async () => {
    const path = image("shared.img");
    const config = parse(configText("", 'disk_path = "shared.img"'));
    const first = build(config);
    let refused: unknown;
    try {
      build({ ...config, id: 2, name: "second" });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(VmError);
    expect(refused instanceof VmError && refused.message).toStartWith(
      `vm 2 (second): cannot initialise: Cannot open disk image ${path} read-write: it is in use, a write lock is held by`,
    );
    first.shutdown();
    await first.run();
    const second = build({ ...config, id: 2, name: "second" });
    second.shutdown();
    await second.run();
  });

  test("a read-only 0444 image is served; a guest write fails with IOERR and the file is unchanged", () => {
    const path = image("golden.img", 0o444);
    const before = readFileSync(path);
    const config = parse(configText('[[devices.disks]]\npath = "golden.img"\nread_only = true'));
    const vm = build(config);
    try {
      // The VM's device model, driven through a transport of the test's own over a small test RAM.
      const transport = blockAt(vm, 0);
      const ram = new TestGuestRam(1 << 16);
      const turns = new ManualTurns();
      const probe = new VirtioMmioTransport({
        device: transport.device,
        memory: ram.memory,
        irq: { set: () => undefined, trigger: () => undefined },
        deferWork: turns.defer,
      });
      const driver = new VirtioMmioDriver(probe, ram);
      driver.init();
      const header = new Uint8Array(16);
      new DataView(header.buffer).setUint32(0, VIRTIO_BLK_T_OUT, true);
      driver.submit(0, [
        { writable: false, data: header },
        { writable: false, data: new Uint8Array(512).fill(0x11) },
        { writable: true, length: 1 },
      ]);
      turns.runAll();
      const [used] = driver.queue(0).takeUsed();
      const status = used?.buffers?.[2];
      if (status === undefined) throw new Error("no completion");
      expect(driver.queue(0).readBuffer(status)[0]).toBe(VIRTIO_BLK_S_IOERR);
    } finally {
      vm.shutdown();
      void vm.run();
    }
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
  });
});
