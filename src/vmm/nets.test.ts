/**
 * Nets from config to device: `[[devices.nets]]` parse and are checked (interface names, one net per TAP, unicast
 * MAC addresses, a stable default MAC), placed like disks (virtio-net `emu_devices` entries, then the board's free
 * virtio-mmio windows after the disks), and a refused TAP fails the VM naming the config key. The TAP itself is
 * tested in test/net-tap.test.ts (it needs root and a network namespace); here the builder gets in-memory backends.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryNetBackend } from "../../test/support/memory-net-backend.ts";
import { VirtioBlock } from "../devices/virtio/block.ts";
import { VirtioMmioTransport } from "../devices/virtio/mmio-transport.ts";
import { VIRTIO_NET_CONFIG_MAC, VirtioNet } from "../devices/virtio/net.ts";
import { emulatedBackend } from "../hal/emulated/index.ts";
import type { AttachedNet } from "./board.ts";
import { boardFor } from "./boards/index.ts";
import { virtioMmioWindow } from "./boards/riscv-virt/layout.ts";
import { assembleVm } from "./builder.ts";
import { ConfigError, formatVmConfig, parseVmConfig } from "./config/index.ts";
import { defaultMac, parseMac } from "./config/resolve-nets.ts";
import type { NetConfig, VmConfig } from "./config/types.ts";
import { VmError } from "./errors.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-nets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "kernel.bin"), Uint8Array.of(0x6f, 0, 0, 0));
writeFileSync(join(dir, "disk.img"), new Uint8Array(8 * 512));

function configText(devices: string, options: { id?: number; kernel?: string } = {}): string {
  return [
    "[base]",
    `id = ${options.id ?? 1}\nname = "nets"\ncpu_num = 1\narch = "riscv64"\nbackend = "emulated"`,
    "[kernel]",
    'kernel_path = "kernel.bin"\nkernel_load_addr = 0x8020_0000',
    options.kernel ?? "",
    "memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]",
    "[devices]",
    'console = "none"',
    devices,
  ].join("\n");
}

const parse = (text: string): VmConfig => parseVmConfig(text, { baseDir: dir, sourceName: "nets.toml" });

function problems(text: string): string[] {
  try {
    parse(text);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.path} = ${i.value}: ${i.problem}`);
  }
}

const net = (tap: string, mac?: string): string =>
  `[[devices.nets]]\ntap = "${tap}"${mac === undefined ? "" : `\nmac = "${mac}"`}`;

describe("nets in the config", () => {
  test("a tap and an optional mac; without one, a default from the VM id and the index, the same every run", () => {
    const config = parse(configText([net("tap0", "52:54:00:AB:cd:01"), net("tap1")].join("\n"), { id: 7 }));
    expect(config.devices.nets).toEqual([
      { tap: "tap0", mac: "52:54:00:ab:cd:01", macFrom: "config", key: "devices.nets[0]" },
      { tap: "tap1", mac: "52:54:00:00:07:01", macFrom: "default", key: "devices.nets[1]" },
    ]);
    expect(defaultMac(1, 0)).toBe("52:54:00:00:01:00");
    expect(defaultMac(0x1_2345, 2)).toBe(defaultMac(0x1_2345, 2));
    expect(defaultMac(0x1_2345, 2)).not.toBe(defaultMac(0x2345, 2));
    expect(formatVmConfig(config)).toContain("net      tap tap1, mac 52:54:00:00:07:01 (default)");
  });

  test("bad names, a TAP used twice, and MACs a NIC may not have are refused, naming the key", () => {
    expect(
      problems(
        configText(
          [
            net("a-name-much-too-long"),
            net("bad/name"),
            net("tap0", "01:00:5e:00:00:01"),
            net("tap0", "00:00:00:00:00:00"),
            net("tap2", "52:54:00:12:34"),
            net("tap3", "52:54:00:00:01:05"),
            net("tap4", "52-54-00-00-01-05"),
          ].join("\n"),
        ),
      ),
    ).toEqual([
      'devices.nets[0].tap = "a-name-much-too-long": is 20 bytes long; interface names have at most 15 (a TAP interface name)',
      'devices.nets[1].tap = "bad/name": contains "/", ":", a NUL or white space, which interface names may not (a TAP interface name)',
      'devices.nets[2].mac = "01:00:5e:00:00:01": is a multicast address (the first byte is odd); a NIC needs a unicast one',
      'devices.nets[3].tap = "tap0": is also devices.nets[2].tap: a TAP takes one attachment, so each net needs its own',
      'devices.nets[3].mac = "00:00:00:00:00:00": is all zeros, which no NIC may use',
      'devices.nets[4].mac = "52:54:00:12:34": is not a MAC address (six hex byte pairs, "52:54:00:12:34:56")',
      'devices.nets[6].mac = "52:54:00:00:01:05": is also devices.nets[5]\'s address',
    ]);
    expect(problems(configText('[[devices.nets]]\ntap = "t"\nmacaddr = "x"'))).toEqual([
      'devices.nets[0].macaddr = "x": unknown key',
    ]);
  });

  test("a virtio-net entry without a net, and more disks and nets than free windows, are refused", () => {
    const entry = (i: number): string => {
      const w = virtioMmioWindow(i);
      return `[[devices.emu_devices]]\nname = "n${i}"\nbase_gpa = ${w.base}\nlength = ${w.size}\nirq_id = ${w.irq}\nemu_type = "virtio-net"\ncfg_list = []`;
    };
    expect(problems(configText([net("tap0"), entry(0), entry(1)].join("\n")))).toEqual([
      `devices.emu_devices[1] = 0x10002000: virtio-net entry "n1" has no net to serve: 1 net(s) ([[devices.nets]]) for 2 virtio-net entries`,
    ]);
    const nine = Array.from({ length: 8 }, (_, i) => net(`tap${i}`)).join("\n");
    expect(problems(configText(nine, { kernel: 'disk_path = "disk.img"' }))).toEqual([
      'devices.nets[7] = "tap7": 1 disks and 8 nets need a virtio-mmio window each and 8 of the board\'s 8 are free; place more with virtio-blk or virtio-net emu_devices entries',
    ]);
  });

  test("parseMac reads both separators and checks the address", () => {
    expect(parseMac("52-54-00-12-34-56")).toEqual({ bytes: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) });
    expect(parseMac("zz:54:00:12:34:56")).toHaveProperty("problem");
  });
});

function build(config: VmConfig, openNet?: (net: NetConfig) => AttachedNet) {
  return assembleVm(config, {
    hypervisor: emulatedBackend.open(),
    board: boardFor(config),
    console: { write: () => undefined, close: () => undefined },
    ...(openNet === undefined ? {} : { openNet }),
  });
}

function memoryNets(): { open: (net: NetConfig) => AttachedNet; closed: string[] } {
  const closed: string[] = [];
  return {
    closed,
    open: (net) => {
      const mac = parseMac(net.mac);
      if ("problem" in mac) throw new Error(mac.problem);
      return { config: net, backend: new MemoryNetBackend(), mac: mac.bytes, close: () => closed.push(net.tap) };
    },
  };
}

describe("nets in a VM", () => {
  test("each net gets a virtio-net after the disks, with its MAC in config space, and is closed with the VM", async () => {
    const nets = memoryNets();
    const vm = build(
      parse(
        configText([net("tap0", "52:54:00:00:00:0a"), net("tap1")].join("\n"), { kernel: 'disk_path = "disk.img"' }),
      ),
      nets.open,
    );
    const deviceAt = (index: number) => {
      const device = vm.buses.mmio.entries().find((e) => e.base === virtioMmioWindow(index).base)?.device;
      return device instanceof VirtioMmioTransport ? device.device : undefined;
    };
    expect(deviceAt(0)).toBeInstanceOf(VirtioBlock);
    const first = deviceAt(1);
    const second = deviceAt(2);
    if (!(first instanceof VirtioNet) || !(second instanceof VirtioNet))
      throw new Error("no virtio-net in windows 1, 2");
    expect(Array.from(first.mac)).toEqual([0x52, 0x54, 0, 0, 0, 0x0a]);
    expect(Array.from({ length: 6 }, (_, i) => second.readConfig(VIRTIO_NET_CONFIG_MAC + i, 1))).toEqual([
      0x52, 0x54, 0, 0, 1, 1,
    ]);
    vm.shutdown();
    await vm.run();
    expect(nets.closed).toEqual(["tap0", "tap1"]);
  });

  test("a TAP that cannot be opened fails the VM, naming the net's key", () => {
    const config = parse(configText(net("tap0")));
    const refuse = (): AttachedNet => {
      throw new VmError("config", "vm 1 (nets)", 'devices.nets[0].tap = "tap0": refused');
    };
    expect(() => build(config, refuse)).toThrow('devices.nets[0].tap = "tap0": refused');
  });
});
