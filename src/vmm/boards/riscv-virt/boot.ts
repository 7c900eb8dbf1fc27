/**
 * Images and boot of the riscv-virt boards: the kernel (a Linux `Image` checked against its header, anything else
 * as is), an optional BIOS and ramdisk, the device tree (a file, or generated for the hypervisor board), and the
 * per-hart boot plan of the RISC-V Linux boot protocol: a0 = hart id, a1 = the device tree's address. On the
 * hypervisor board hart 0 starts and the others wait for SBI HSM hart_start; on the bare board every hart starts.
 */

import { REG_A0, REG_A1 } from "../../../arch/riscv64/registers.ts";
import { hex } from "../../../common/format.ts";
import { alignUp, rangesOverlap } from "../../../common/ranges.ts";
import type { GuestPhysAddr } from "../../../hal/types.ts";
import type { BoardServices, VcpuBoot } from "../../board.ts";
import { VmError } from "../../errors.ts";
import { type LoadedImage, loadFileAt, loadKernel, withImageFile } from "../../loader/image.ts";
import {
  parseRiscvImage,
  planRiscvImageLoad,
  RISCV_IMAGE_HEADER_SIZE,
  RiscvImageError,
} from "../../loader/riscv-image.ts";
import { buildRiscvVirtDtb, DEFAULT_ISA_EXTENSIONS, virtBoardDescription } from "./device-tree.ts";
import type { RiscvBoardKind, VirtioMmioNode } from "./devices.ts";
import { RISCV_VIRT } from "./layout.ts";

/** Where a ramdisk goes when the config does not say: this far above the kernel at most (QEMU's rule). */
const RAMDISK_MAX_DISTANCE = 128 * 1024 * 1024;
const RAMDISK_ALIGN = 0x1000;

/** What `loadImages` put in guest memory. */
export interface LoadedImages {
  readonly kernel: LoadedImage;
  /** The device tree's address (a1), or undefined when the board gives none. */
  readonly dtbAddr: GuestPhysAddr | undefined;
}

/** Load the kernel, BIOS, ramdisk and device tree of the config into guest memory. */
export function loadImages(
  s: BoardServices,
  kind: RiscvBoardKind,
  virtioNodes: readonly VirtioMmioNode[],
): LoadedImages {
  const { kernel } = s.config;
  const loaded = loadRiscvKernel(s);
  if (kernel.bios !== undefined) {
    if (kernel.bios.loadAddr === undefined)
      throw new VmError("image", s.label, `kernel.bios_load_addr is required with bios_path ${kernel.bios.path}`);
    loadFileAt(s.memory, kernel.bios.path, kernel.bios.loadAddr, "BIOS");
  }
  const initrd = loadRamdisk(s, loaded);
  const dtbAddr = placeDtb(s, kind, virtioNodes, loaded, initrd);
  return { kernel: loaded, dtbAddr };
}

/** How each hart boots: at the kernel entry with a0 = hart id and a1 = the device tree. */
export function vcpuBootPlan(s: BoardServices, kind: RiscvBoardKind, dtbAddr: GuestPhysAddr | undefined): VcpuBoot[] {
  return Array.from(
    { length: s.vcpuCount },
    (_, hart): VcpuBoot => ({
      entry: s.config.kernel.entryPoint,
      startsRunning: kind === "bare" || hart === 0,
      setup: {
        gprs: [
          [REG_A0, BigInt(hart)],
          [REG_A1, BigInt(dtbAddr ?? 0)],
        ],
      },
    }),
  );
}

/** A Linux `Image` is checked against its header (2 MiB alignment, image_size inside RAM); others load as is. */
function loadRiscvKernel(s: BoardServices): LoadedImage {
  const image = s.config.kernel.image;
  if (image.format !== "linux-image") return loadKernel(s.memory, image);
  // Only the header is read here; the kernel goes from the file straight into guest RAM.
  return withImageFile(image.path, "kernel", (file) => {
    try {
      const header = parseRiscvImage(file.read(0, RISCV_IMAGE_HEADER_SIZE), image.path, file.length);
      const plan = planRiscvImageLoad(
        header,
        file.length,
        {
          ram: s.config.memoryRegions.map((r) => ({ base: r.gpa, size: r.size })),
          loadAddress: image.loadAddr,
        },
        image.path,
      );
      return loadKernel(s.memory, { ...image, loadAddr: plan.loadAddress, size: plan.span }, file);
    } catch (error) {
      if (error instanceof RiscvImageError) throw new VmError("image", s.label, error.message, { cause: error });
      throw error;
    }
  });
}

function loadRamdisk(s: BoardServices, kernel: LoadedImage): { start: number; end: number } | undefined {
  const ramdisk = s.config.kernel.ramdisk;
  if (ramdisk === undefined) return undefined;
  let at = ramdisk.loadAddr;
  if (at === undefined) {
    // QEMU's rule: far enough above the kernel that decompressing it cannot clobber the initrd.
    const region = s.addrSpace.regionOf(kernel.start);
    const ramSize = region?.size ?? 0;
    at = alignUp(kernel.start + Math.min(ramSize / 2, RAMDISK_MAX_DISTANCE), RAMDISK_ALIGN);
  }
  const image = loadFileAt(s.memory, ramdisk.path, at, "ramdisk");
  return { start: image.start, end: image.end };
}

/** Load or generate the device tree; returns its address (a1), or undefined when the board gives none. */
function placeDtb(
  s: BoardServices,
  kind: RiscvBoardKind,
  virtioNodes: readonly VirtioMmioNode[],
  kernel: LoadedImage,
  initrd: { start: number; end: number } | undefined,
): GuestPhysAddr | undefined {
  const dtb = s.config.kernel.dtb;
  if (dtb === undefined) return undefined;
  if (dtb.kind === "file") {
    const at = dtb.loadAddr ?? defaultDtbAddr(s, dtb.size ?? RISCV_VIRT.DTB_MAX_SIZE);
    return loadFileAt(s.memory, dtb.path, at, "DTB").start;
  }
  // The bare board has no generated tree: bare-metal programs probe nothing, and one with a CLINT and M-mode
  // PLIC contexts would be a different description. A `dtb_path` is still honoured above.
  if (kind === "bare") return undefined;
  const memory = s.config.memoryRegions
    .filter((r) => r.mapType !== "reserved")
    .map((r) => ({ base: r.gpa, size: r.size }));
  const board = virtBoardDescription({
    harts: s.vcpuCount,
    memory,
    // The emulated hart's extensions; the VMM turns on Sstc (henvcfg.STCE) for its guests.
    isaExtensions: DEFAULT_ISA_EXTENSIONS,
    sstc: true,
    mmuType: "riscv,sv48",
    timebaseFrequency: s.config.kernel.timebaseFrequency,
    ...(s.config.kernel.cmdline === undefined ? {} : { bootargs: s.config.kernel.cmdline }),
    ...(initrd === undefined ? {} : { initrd }),
  });
  const blob = buildRiscvVirtDtb({
    ...board,
    virtio: virtioNodes,
    reservedMemory: s.config.memoryRegions
      .filter((r) => r.mapType === "reserved")
      .map((r) => ({ base: r.gpa, size: r.size })),
  });
  const at = dtb.loadAddr ?? defaultDtbAddr(s, blob.length);
  if (rangesOverlap(at, blob.length, kernel.start, kernel.end - kernel.start)) {
    throw new VmError(
      "image",
      s.label,
      `the device tree at ${hex(at)} (${blob.length} bytes) would overlap the kernel at ${hex(kernel.start)}..${hex(kernel.end - 1)}`,
    );
  }
  if (initrd !== undefined && rangesOverlap(at, blob.length, initrd.start, initrd.end - initrd.start)) {
    throw new VmError(
      "image",
      s.label,
      `the device tree at ${hex(at)} (${blob.length} bytes) would overlap the ramdisk at ${hex(initrd.start)}..${hex(initrd.end - 1)}`,
    );
  }
  if (!s.memory.contains(at, blob.length)) {
    throw new VmError(
      "image",
      s.label,
      `the device tree (${blob.length} bytes) does not fit in guest RAM at ${hex(at)}`,
    );
  }
  s.memory.write(at, blob);
  return at;
}

/** Top of the first RAM region, DTB_ALIGN aligned, with room for `size` bytes. */
function defaultDtbAddr(s: BoardServices, size: number): GuestPhysAddr {
  const region = s.addrSpace.regions[0];
  if (region === undefined) throw new VmError("image", s.label, "no RAM for the device tree");
  const end = region.gpa + region.size;
  return Math.floor((end - size) / RISCV_VIRT.DTB_ALIGN) * RISCV_VIRT.DTB_ALIGN;
}
