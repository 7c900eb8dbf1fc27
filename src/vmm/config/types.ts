/**
 * The resolved VM configuration: what `parseVmConfig` produces and the builder (src/vmm/builder.ts) consumes.
 *
 * It is axvisor's `AxVMCrateConfig` (sections `[base]`, `[kernel]`, `[devices]`) after validation, in camelCase,
 * with every default filled in, every path absolute, addresses and sizes as numbers (≤ 53 bits, see
 * `src/hal/types.ts`), mapping flags as `MappingFlags` bits and enumerations as strings. A `VmConfig` is plain
 * data: it can be built in memory (`bareMachineConfig`) as well as from TOML, and nothing in it has been loaded
 * into a VM yet.
 */

import type { BackendName, GuestArch, MappingFlagBits } from "../../hal/types.ts";

/** axvmconfig `VMType`: 0 = host VM ("type 1.5"), 1 = RTOS (the default), 2 = Linux. */
export type VmType = "host" | "rtos" | "linux";
export const VM_TYPE_CODES: Readonly<Record<VmType, number>> = { host: 0, rtos: 1, linux: 2 };

/** Which HAL backend runs the VM; "auto" lets the VMM pick the first one that is available and fits the arch. */
export type BackendChoice = "auto" | BackendName;

/**
 * The machine the guest sees.
 * - "virt-hypervisor": axvisor's model, the guest runs as a VM (RISC-V: VS-mode behind a G-stage table) on a
 *   QEMU-`virt`-like board, with SBI provided by the VMM. Works with every backend.
 * - "virt-bare": a bare QEMU-`virt`-like RISC-V board with no hypervisor in between: the hart starts in M-mode at
 *   the entry, every non-RAM physical access is MMIO. For conformance programs; emulated backend, riscv64 only.
 */
export type MachineKind = "virt-hypervisor" | "virt-bare";

/** axvmconfig `VmMemMappingType`: 0 = MapAlloc, 1 = MapIdentical, 2 = MapReserved. */
export type MemoryMapType = "alloc" | "identical" | "reserved";
export const MEMORY_MAP_TYPE_CODES: Readonly<Record<MemoryMapType, number>> = { alloc: 0, identical: 1, reserved: 2 };

/** axvisor `image_location`: "fs" reads images from the host file system; "memory" is accepted for
 * compatibility (axvisor links such images into its own binary; we read them from the host as well). */
export type ImageLocation = "fs" | "memory";

/** axvmconfig `VMInterruptMode` ("no_irq"/"no"/"none", "emu"/"emulated", "passthrough"/"pt"). */
export type InterruptMode = "none" | "emulated" | "passthrough";

/** What to do with a guest access to a guest-physical address that is neither RAM nor a device. */
export type UnmappedMmioPolicy = "ignore" | "fault";

/** Where the guest's console (its UART or SBI console) goes. */
export type ConsoleConfig =
  | { readonly kind: "stdout" }
  | { readonly kind: "none" }
  | { readonly kind: "file"; readonly path: string };

/**
 * How the kernel image is laid out, detected from its first bytes:
 * - "raw": a flat binary copied to `loadAddr`;
 * - "elf": an ELF executable whose PT_LOAD segments carry their own physical addresses;
 * - "linux-image": a RISC-V or arm64 Linux `Image` (flat, with a header giving the memory it needs);
 * - "bzimage": an x86 Linux bzImage (setup header "HdrS").
 */
export type KernelImageFormat = "raw" | "elf" | "linux-image" | "bzimage";

/** The kernel image. */
export interface KernelImage {
  /** Absolute path on the host. */
  readonly path: string;
  readonly format: KernelImageFormat;
  /** Guest-physical address of the image's first byte (for ELF: the lowest PT_LOAD physical address). */
  readonly loadAddr: number;
  /**
   * Bytes of guest memory the image occupies from `loadAddr`: the file size, or for a Linux `Image` the larger
   * `image_size` from its header (it includes .bss), or for ELF the span of its PT_LOAD segments. `undefined`
   * when the file was not examined (`checkFiles: false` and the file is absent).
   */
  readonly size: number | undefined;
}

/** A further boot file (BIOS, ramdisk, user-supplied DTB). */
export interface BootFile {
  readonly path: string;
  /** Where to load it; `undefined` lets the builder choose (e.g. a ramdisk above the kernel). */
  readonly loadAddr: number | undefined;
  /** File size in bytes, `undefined` when the file was not examined. */
  readonly size: number | undefined;
}

/** The device tree the guest receives (riscv64 and aarch64 guests; x86_64 guests get none). */
export type DtbConfig =
  | { readonly kind: "generate"; readonly loadAddr: number | undefined }
  | ({ readonly kind: "file" } & BootFile);

/** One guest memory region (axvmconfig `VmMemConfig`). */
export interface MemoryRegionConfig {
  readonly gpa: number;
  readonly size: number;
  /** `MappingFlags` bits (READ 1, WRITE 2, EXECUTE 4, USER 8, DEVICE 16, UNCACHED 32). */
  readonly flags: MappingFlagBits;
  readonly mapType: MemoryMapType;
}

/**
 * axvmconfig `EmulatedDeviceType`, by the names we use in configs and messages, with their numeric codes; plus
 * "virtio-rng" (0xe4), our addition next to axvmconfig's virtio codes.
 */
export const EMULATED_DEVICE_TYPE_CODES = {
  dummy: 0x0,
  "interrupt-controller": 0x1,
  console: 0x2,
  "fw-cfg": 0x3,
  "ivc-channel": 0xa,
  "gppt-redistributor": 0x20,
  "gppt-distributor": 0x21,
  "gppt-its": 0x22,
  "x86-ioapic": 0x23,
  "x86-pit": 0x24,
  "loongarch-pch-pic": 0x25,
  "pppt-global": 0x30,
  "virtio-blk": 0xe1,
  "virtio-net": 0xe2,
  "virtio-console": 0xe3,
  "virtio-rng": 0xe4,
} as const;
export type EmulatedDeviceType = keyof typeof EMULATED_DEVICE_TYPE_CODES;

/** axvmconfig `EmulatedDeviceConfig`. */
export interface EmulatedDeviceConfig {
  readonly name: string;
  readonly baseGpa: number;
  readonly length: number;
  readonly irqId: number;
  readonly emuType: EmulatedDeviceType;
  /** Device-specific parameters (e.g. the PLIC's context count for "pppt-global"). */
  readonly cfgList: readonly number[];
}

/** axvmconfig `PassThroughDeviceConfig`. */
export interface PassthroughDeviceConfig {
  readonly name: string;
  readonly baseGpa: number;
  readonly baseHpa: number;
  readonly length: number;
  readonly irqId: number;
}

/** axvmconfig `PassThroughAddressConfig`. */
export interface PassthroughAddressConfig {
  readonly baseGpa: number;
  readonly length: number;
}

export interface KernelConfig {
  /** Guest address where the first vCPU starts. */
  readonly entryPoint: number;
  readonly imageLocation: ImageLocation;
  readonly image: KernelImage;
  readonly bios: BootFile | undefined;
  /** `undefined` for x86_64 guests. */
  readonly dtb: DtbConfig | undefined;
  readonly ramdisk: BootFile | undefined;
  readonly cmdline: string | undefined;
  /** RISC-V `timebase-frequency` in Hz (the rate of the `time` CSR). */
  readonly timebaseFrequency: number;
}

/**
 * A disk: a raw image served by a virtio-blk device. From axvmconfig's `kernel.disk_path` (read-write, the first
 * disk) and our `[[devices.disks]]` tables. The n-th virtio-blk `emu_devices` entry places the n-th disk; the
 * others take the board's free virtio-mmio windows in order.
 */
export interface DiskConfig {
  /** The image, absolute. */
  readonly path: string;
  /** Read-only: VIRTIO_BLK_F_RO offered, writes refused, the image opened read-only under a shared lock. */
  readonly readOnly: boolean;
  /** The serial the guest reads (VIRTIO_BLK_T_GET_ID; printable ASCII, at most 20 bytes), or the device's default. */
  readonly serial: string | undefined;
  /** Where the config names it, for messages: "kernel.disk_path" or "devices.disks[1]". */
  readonly key: string;
}

/**
 * A network interface: a virtio-net device whose host end is the TAP interface `tap` (created when missing and we
 * may, attached when it exists). The n-th virtio-net `emu_devices` entry places the n-th one; the others take the
 * board's free virtio-mmio windows after the disks.
 */
export interface NetConfig {
  /** The host TAP interface's name. */
  readonly tap: string;
  /** The guest's MAC address, "52:54:00:12:34:56" (lower case). */
  readonly mac: string;
  /** Whether `mac` came from the config or is the default derived from the VM id and the net's index. */
  readonly macFrom: "config" | "default";
  /** Where the config names it, for messages: "devices.nets[0]". */
  readonly key: string;
}

export interface DevicesConfig {
  readonly emuDevices: readonly EmulatedDeviceConfig[];
  readonly passthroughDevices: readonly PassthroughDeviceConfig[];
  readonly passthroughAddresses: readonly PassthroughAddressConfig[];
  /** Device-tree paths not to pass through (axvmconfig `excluded_devices`, a list of lists). */
  readonly excludedDevices: readonly (readonly string[])[];
  readonly interruptMode: InterruptMode;
  readonly console: ConsoleConfig;
  readonly unmappedMmio: UnmappedMmioPolicy;
  readonly disks: readonly DiskConfig[];
  readonly nets: readonly NetConfig[];
  /** `[devices] rng`: whether the board adds its default virtio-rng device (default true). */
  readonly rng: boolean;
}

/** One resolved, validated VM. */
export interface VmConfig {
  /** Where it came from (a file path, or a description such as "bare machine for x.elf"), for messages. */
  readonly source: string;
  readonly id: number;
  readonly name: string;
  readonly vmType: VmType;
  readonly arch: GuestArch;
  readonly backend: BackendChoice;
  readonly machine: MachineKind;
  /**
   * What a guest-requested reset (SBI SRST reboot, the x86 i8042 reset line that `reboot=k` pulses, the test
   * finisher's reset) does: "reboot" boots the VM again from its config (QEMU's default); "stop" ends it with
   * exit code 0 (Firecracker's behaviour, QEMU's `-no-reboot`).
   */
  readonly onReset: "reboot" | "stop";
  readonly cpuNum: number;
  /** Physical CPU id per vCPU (length `cpuNum`), or `undefined` = vCPU i uses id i. */
  readonly physCpuIds: readonly number[] | undefined;
  /** Physical CPU affinity mask per vCPU (length `cpuNum`), or `undefined` = any. */
  readonly physCpuSets: readonly number[] | undefined;
  readonly kernel: KernelConfig;
  /** Sorted by `gpa`, non-overlapping. */
  readonly memoryRegions: readonly MemoryRegionConfig[];
  readonly devices: DevicesConfig;
}

/** Most vCPUs one VM may have (KVM_MAX_VCPUS on x86 is 1024; a larger number is a typo, not a plan). */
export const MAX_VCPUS = 1024;

/** Largest guest-physical address + 1 we can represent (addresses are numbers ≤ 53 bits). */
export const GUEST_PHYS_LIMIT = 2 ** 53;
