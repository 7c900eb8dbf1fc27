/**
 * Disks: axvmconfig's `kernel.disk_path` (a read-write first disk) and our `[[devices.disks]]` tables (path,
 * read_only, serial). Checked here as the run would open and place them (src/hal/host/disk-image.ts, the board):
 * a regular file or block device; read-write only if it may be written, by its mode as well (root could write a
 * 0444 image, which must stay unwritten) and by this user; one disk per image (the second open of an image is
 * refused by the first one's lock); a serial the device can carry. `checkVirtioPlacement` then checks, for disks and
 * nets (resolve-nets.ts) together, that each virtio-blk / virtio-net `emu_devices` entry has one to serve and that
 * every disk and net without an entry finds a free virtio-mmio window.
 */

import { accessSync, constants, realpathSync, type Stats, statSync } from "node:fs";
import { VIRTIO_BLK_ID_BYTES } from "../../devices/virtio/block.ts";
import type { GuestArch } from "../../hal/types.ts";
import { ARM64_VIRT, arm64VirtioWindow } from "../boards/arm64-virt/layout.ts";
import { RISCV_VIRT, virtioMmioWindow as riscvVirtioWindow } from "../boards/riscv-virt/layout.ts";
import {
  VIRTIO_MMIO_COUNT as X86_VIRTIO_MMIO_COUNT,
  virtioMmioWindow as x86VirtioWindow,
} from "../boards/x86-pc/layout.ts";
import { fileKindOf } from "../host-file.ts";
import type { ResolveContext } from "./resolve-context.ts";
import type { RawVmConfig } from "./schema.ts";
import type { DiskConfig, EmulatedDeviceConfig, NetConfig } from "./types.ts";

type RawDisk = NonNullable<NonNullable<RawVmConfig["devices"]>["disks"]>[number];

const VIRTIO_TYPES = new Set(["virtio-blk", "virtio-net", "virtio-console", "virtio-rng"]);

export function resolveDisks(
  diskPath: string | undefined,
  tables: readonly RawDisk[] | undefined,
  ctx: ResolveContext,
): DiskConfig[] {
  const { issues } = ctx;
  const raw: Array<{ key: string; shown: string; path: string; readOnly: boolean; serial: string | undefined }> = [];
  if (diskPath !== undefined)
    raw.push({ key: "kernel.disk_path", shown: diskPath, path: diskPath, readOnly: false, serial: undefined });
  (tables ?? []).forEach((d, i) =>
    raw.push({
      key: `devices.disks[${i}]`,
      shown: d.path,
      path: d.path,
      readOnly: d.read_only ?? false,
      serial: d.serial,
    }),
  );
  const disks: DiskConfig[] = [];
  const seen = new Map<string, string>();
  for (const d of raw) {
    const path = ctx.absolute(d.path);
    if (ctx.checkFiles) checkImage(d.key, d.shown, path, d.readOnly, ctx);
    if (d.serial !== undefined && (!/^[\x20-\x7e]*$/.test(d.serial) || d.serial.length > VIRTIO_BLK_ID_BYTES)) {
      issues.add(`${d.key}.serial`, d.serial, `must be printable ASCII of at most ${VIRTIO_BLK_ID_BYTES} bytes`);
    }
    const identity = realPath(path);
    const first = seen.get(identity);
    if (first !== undefined) {
      issues.add(d.key, d.shown, `is also ${first}: an image backs one disk (its lock would refuse the second open)`);
    } else seen.set(identity, d.key);
    disks.push({ path, readOnly: d.readOnly, serial: d.serial, key: d.key });
  }
  return disks;
}

/** What the open at run time would refuse, found now. */
function checkImage(key: string, shown: string, path: string, readOnly: boolean, ctx: ResolveContext): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    ctx.issues.add(key, shown, `file not found (looked for ${path})`);
    return;
  }
  if (!stats.isFile() && !stats.isBlockDevice()) {
    ctx.issues.add(key, shown, `is ${fileKindOf(stats)}; a disk image must be a regular file or a block device`);
    return;
  }
  if (readOnly) return;
  const fix =
    key === "kernel.disk_path"
      ? "attach it read-only with a [[devices.disks]] table and read_only = true"
      : "set read_only = true";
  if ((stats.mode & 0o222) === 0) {
    ctx.issues.add(key, shown, `is read-only (mode 0${(stats.mode & 0o777).toString(8)}): nobody may write it; ${fix}`);
    return;
  }
  try {
    accessSync(path, constants.W_OK);
  } catch {
    ctx.issues.add(key, shown, `is not writable by this user; ${fix}`);
  }
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The n-th virtio-blk `emu_devices` entry places the n-th disk, the n-th virtio-net entry the n-th net; an entry
 * without its disk or net is a mistake. The other disks, then the other nets, take the board's virtio-mmio windows
 * that no virtio entry occupies, in order.
 */
export function checkVirtioPlacement(
  disks: readonly DiskConfig[],
  nets: readonly NetConfig[],
  emuDevices: readonly EmulatedDeviceConfig[],
  arch: GuestArch,
  ctx: ResolveContext,
): void {
  const entriesOf = (type: string): number[] => {
    const found: number[] = [];
    emuDevices.forEach((d, i) => {
      if (d.emuType === type) found.push(i);
    });
    return found;
  };
  const blockEntries = entriesOf("virtio-blk");
  const netEntries = entriesOf("virtio-net");
  blockEntries.slice(disks.length).forEach((entry) => {
    const device = emuDevices[entry];
    ctx.issues.add(
      `devices.emu_devices[${entry}]`,
      device?.baseGpa,
      `virtio-blk entry "${device?.name}" has no disk to serve: ${disks.length} disk(s) (kernel.disk_path, [[devices.disks]]) for ${blockEntries.length} virtio-blk entries`,
    );
  });
  netEntries.slice(nets.length).forEach((entry) => {
    const device = emuDevices[entry];
    ctx.issues.add(
      `devices.emu_devices[${entry}]`,
      device?.baseGpa,
      `virtio-net entry "${device?.name}" has no net to serve: ${nets.length} net(s) ([[devices.nets]]) for ${netEntries.length} virtio-net entries`,
    );
  });
  const entries = emuDevices.filter((d) => VIRTIO_TYPES.has(d.emuType));
  const occupied = new Set(entries.map((d) => d.baseGpa));
  // The board places the remaining disks and nets in its free layout windows: the riscv-virt and arm64 boards in
  // any window no entry sits in; the PC board also skips windows whose IOAPIC pin an entry took (its GSIs are not
  // shared).
  const windows = boardVirtioWindows(arch);
  const takenIrqs = new Set(arch === "x86_64" ? entries.map((d) => d.irqId) : []);
  const free = windows.filter((w) => !occupied.has(w.base) && !takenIrqs.has(w.irq)).length;
  const unplacedDisks = disks.slice(blockEntries.length).map((d) => ({ key: d.key, shown: d.path }));
  const unplacedNets = nets.slice(netEntries.length).map((n) => ({ key: n.key, shown: n.tap }));
  const unplaced = [...unplacedDisks, ...unplacedNets];
  if (unplaced.length > free) {
    const first = unplaced[free];
    const who =
      unplacedNets.length === 0
        ? `${unplacedDisks.length} disks need`
        : unplacedDisks.length === 0
          ? `${unplacedNets.length} nets need`
          : `${unplacedDisks.length} disks and ${unplacedNets.length} nets need`;
    const entries =
      unplacedNets.length === 0 ? "virtio-blk" : unplacedDisks.length === 0 ? "virtio-net" : "virtio-blk or virtio-net";
    ctx.issues.add(
      first?.key ?? "devices",
      first?.shown,
      `${who} a virtio-mmio window each and ${free} of the board's ${windows.length} are free; place more with ${entries} emu_devices entries`,
    );
  }
}

/** The board's own virtio-mmio windows (base and interrupt), where disks and nets without an entry go. */
function boardVirtioWindows(arch: GuestArch): ReadonlyArray<{ readonly base: number; readonly irq: number }> {
  if (arch === "x86_64") {
    return Array.from({ length: X86_VIRTIO_MMIO_COUNT }, (_, i) => {
      const w = x86VirtioWindow(i);
      return { base: w.base, irq: w.gsi };
    });
  }
  if (arch === "aarch64") {
    return Array.from({ length: ARM64_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => {
      const w = arm64VirtioWindow(i);
      return { base: w.base, irq: w.intid };
    });
  }
  return Array.from({ length: RISCV_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => riscvVirtioWindow(i));
}
