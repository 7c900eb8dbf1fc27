/**
 * The hardware abstraction layer: what every backend (kvm, hvf, emulated) provides.
 *
 * Handles follow kvm-ioctls: a `HalBackend` opens a `Hypervisor`, which creates `HalVm`s, which create
 * `HalVcpu`s. Each handle owns its native resources and is closed with `[Symbol.dispose]()`. Nothing in this
 * layer knows about devices, configs or the VMM; it is the bottom of the dependency graph.
 *
 * Addresses are plain `number`s: guest-physical and host-physical addresses on every architecture we support fit
 * in 53 bits (Sv48x4 is 50 bits, x86 MAXPHYADDR is at most 52), and numbers keep the hot paths free of BigInt.
 * Register values and data words are 64-bit and therefore `bigint` at this API edge.
 */

import { X86_PAGE_SIZE } from "../arch/x86_64/paging.ts";
import type { X86VcpuState } from "../arch/x86_64/vcpu-state.ts";

export type BackendName = "kvm" | "hvf" | "emulated";
export type GuestArch = "riscv64" | "x86_64" | "aarch64";

/** A guest-physical address (fits in 53 bits). */
export type GuestPhysAddr = number;
/** A host-physical address in the backend's own physical address space (emulated), or a host-virtual one (kvm). */
export type HostPhysAddr = number;

/** Access width in bytes. */
export type AccessWidth = 1 | 2 | 4 | 8;

/** Mapping permissions, bit-compatible with axaddrspace's `MappingFlags`. */
export const MappingFlags = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXECUTE: 1 << 2,
  USER: 1 << 3,
  DEVICE: 1 << 4,
  UNCACHED: 1 << 5,
} as const;
export type MappingFlagBits = number;

// ---------------------------------------------------------------------------------------------------------------
// Exit reasons
// ---------------------------------------------------------------------------------------------------------------

/**
 * Why `HalVcpu.run()` returned. Mirrors axvcpu's `AxVCpuExitReason`, plus:
 * - `SbiCall`: a RISC-V `ecall` from VS-mode (the guest calling its SBI firmware). It mirrors KVM's
 *   `KVM_EXIT_RISCV_SBI`: the backend has already advanced the guest pc past the `ecall`; the VMM answers by
 *   writing a0/a1 with `setGpr`.
 * - `Unsupported`: a raw exit this backend could not decode. It carries what the backend saw.
 */
export type AxVCpuExitReason =
  | {
      readonly kind: "Hypercall";
      readonly nr: bigint;
      readonly args: readonly [bigint, bigint, bigint, bigint, bigint, bigint];
    }
  | {
      readonly kind: "MmioRead";
      readonly addr: GuestPhysAddr;
      readonly width: AccessWidth;
      /**
       * Destination general-purpose register (arch numbering; RISC-V x0..x31), or -1 when the backend completes
       * the load itself and only needs the value (KVM: `setReturnValue` fills `kvm_run.mmio.data`).
       */
      readonly reg: number;
      /** Width of the destination register in bytes. */
      readonly regWidth: AccessWidth;
      /** Sign-extend the `width`-byte value to `regWidth` bytes. */
      readonly signedExt: boolean;
    }
  | { readonly kind: "MmioWrite"; readonly addr: GuestPhysAddr; readonly width: AccessWidth; readonly data: bigint }
  | { readonly kind: "SysRegRead"; readonly addr: number; readonly reg: number }
  | { readonly kind: "SysRegWrite"; readonly addr: number; readonly value: bigint }
  | { readonly kind: "IoRead"; readonly port: number; readonly width: AccessWidth }
  | { readonly kind: "IoWrite"; readonly port: number; readonly width: AccessWidth; readonly data: bigint }
  | { readonly kind: "ExternalInterrupt"; readonly vector: number }
  | { readonly kind: "NestedPageFault"; readonly addr: GuestPhysAddr; readonly accessFlags: MappingFlagBits }
  | { readonly kind: "Halt" }
  | { readonly kind: "CpuUp"; readonly targetCpu: number; readonly entryPoint: GuestPhysAddr; readonly arg: bigint }
  | { readonly kind: "CpuDown"; readonly state: bigint }
  | {
      readonly kind: "SystemDown";
      /** What the guest asked for. axvcpu has no fields here; we keep the request so the VMM can honour it. */
      readonly action: SystemDownAction;
      /** Guest-provided exit status (0 = success), e.g. the SBI SRST reason or a test finisher code. */
      readonly code: number;
    }
  | { readonly kind: "Nothing" }
  | { readonly kind: "FailEntry"; readonly hardwareEntryFailureReason: bigint; readonly detail: string }
  | {
      readonly kind: "SendIPI";
      readonly targetCpu: number;
      readonly targetCpuAux: number;
      readonly sendToAll: boolean;
      readonly sendToSelf: boolean;
      readonly vector: number;
    }
  | {
      readonly kind: "SbiCall";
      readonly extensionId: bigint;
      readonly functionId: bigint;
      readonly args: readonly [bigint, bigint, bigint, bigint, bigint, bigint];
    }
  | {
      /**
       * A debug event the VMM asked for with `HalVcpuDebug.setGuestDebug`: a single step completed, the pc reached
       * a breakpoint (before that instruction ran), or an access touched a watchpoint (`watch`). Backends report it
       * only while guest debugging is on.
       */
      readonly kind: "Debug";
      readonly reason: DebugStopReason;
      /** The guest pc where the vCPU stopped (guest-virtual). */
      readonly pc: bigint;
      /** The watchpoint hit, for `reason` "watchpoint". */
      readonly watch?: { readonly addr: bigint; readonly kind: WatchpointKind };
    }
  | { readonly kind: "Unsupported"; readonly backend: BackendName; readonly raw: string };

export type DebugStopReason = "step" | "breakpoint" | "watchpoint";
export type WatchpointKind = "write" | "read" | "access";

export type SystemDownAction = "poweroff" | "reboot" | "crash";
export type ExitKind = AxVCpuExitReason["kind"];

/**
 * The `Nothing` exit by which a backend says the guest is spinning (it ran pause hints in a wait loop, the pause-loop
 * exiting of hardware virtualization): the VMM should let the VM's other vCPUs run before entering this one again,
 * since the one it waits for may be among them. Told apart from a plain `Nothing` by identity.
 */
export const NOTHING_SPINNING: AxVCpuExitReason = Object.freeze({ kind: "Nothing" });

export function assertNever(value: never, what = "value"): never {
  throw new Error(
    `Unexpected ${what}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

export type HalErrorKind =
  | "unsupported" // the backend cannot run here, or not this arch/feature
  | "syscall" // a native call failed (errno kept)
  | "invalid-argument" // checked before crossing into native code
  | "resource" // out of memory slots, vcpu ids, host memory
  | "state"; // wrong order of operations (vcpu after close, memory after vcpu creation, ...)

export class HalError extends Error {
  override readonly name = "HalError";
  readonly kind: HalErrorKind;
  readonly backend: BackendName;
  /** The failed operation, e.g. "KVM_CREATE_VM". */
  readonly operation: string;
  /** errno for `syscall` errors. */
  readonly errno: number | undefined;

  constructor(
    backend: BackendName,
    kind: HalErrorKind,
    operation: string,
    message: string,
    options: { errno?: number; cause?: unknown } = {},
  ) {
    super(`${backend}: ${operation}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.backend = backend;
    this.kind = kind;
    this.operation = operation;
    this.errno = options.errno;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------------------------

/** Whether a backend can run on this host, and if not, why. */
export interface BackendSupport {
  readonly backend: BackendName;
  readonly available: boolean;
  /** Human-readable reason: what was found, or what is missing ("no /dev/kvm", "not macOS", ...). */
  readonly reason: string;
  /** Guest architectures this backend can run on this host (empty when unavailable). */
  readonly archs: readonly GuestArch[];
  /**
   * The largest memory region (one `HalVm.allocateMemory`) the backend can give, in bytes, when it has a limit of
   * its own beyond what the host can give (the emulated backend: 4 GiB); undefined when it has none.
   */
  readonly maxMemoryRegionSize?: number;
}

/** A backend module's factory (one per backend, typed against this interface). */
export interface HalBackend {
  readonly name: BackendName;
  /** Cheap probe; never throws. */
  hasHardwareSupport(): BackendSupport;
  /** Open the hypervisor. Throws `HalError` of kind "unsupported" with the probe's reason when unavailable. */
  open(): Hypervisor;
}

export interface Hypervisor extends Disposable {
  readonly backend: BackendName;
  createVm(options: HalVmOptions): HalVm;
}

/** The VM clock's default rate: 10 MHz, QEMU virt's RISC-V timebase (the rate of `time`, and of `currentTime()`). */
export const DEFAULT_TIMEBASE_HZ = 10_000_000;
/**
 * The fastest timebase a guest can be told about: the device tree's `timebase-frequency` is one 32-bit cell. The
 * config check and the device tree both hold the value to it.
 */
export const MAX_TIMEBASE_HZ = 0xffff_ffff;

export interface HalVmOptions {
  readonly arch: GuestArch;
  /** VM id, for messages and (emulated) VMID tagging. */
  readonly vmId: number;
  /** Number of vCPUs that will be created (some backends size tables from it). */
  readonly cpuCount: number;
  /**
   * Emulated backend: "hypervisor" runs guests in VS/VU-mode behind a G-stage table built by the VMM (axvisor's
   * model); "bare-machine" starts the hart in M-mode at the entry and treats every non-RAM physical access as MMIO
   * (a QEMU `virt`-like board for conformance suites). Other backends only accept "hypervisor".
   */
  readonly mode?: "hypervisor" | "bare-machine";
  /** Frequency of the architectural timer the guest reads (RISC-V `time`), in Hz. Default `DEFAULT_TIMEBASE_HZ`. */
  readonly timebaseHz?: number;
  /** x86 guests on a hardware backend: what the board sets aside for the backend. Required by KVM for x86_64. */
  readonly x86?: X86VmOptions;
  /** aarch64 guests on a hardware backend: where the board puts the in-kernel GIC. Required by KVM for aarch64. */
  readonly aarch64?: Aarch64VmOptions;
}

/**
 * Guest-physical space an x86 hardware backend may take for itself: KVM on Intel hosts emulates real mode with
 * vm86 and needs a 3-page TSS and a 1-page identity map in guest-physical memory (KVM_SET_TSS_ADDR,
 * KVM_SET_IDENTITY_MAP_ADDR). The board's layout picks where no RAM or device is; the backend puts the identity-map
 * page first and the TSS after it.
 */
export const X86_PRIVATE_PAGES_SIZE = 4 * X86_PAGE_SIZE;

export interface X86VmOptions {
  /** Start of X86_PRIVATE_PAGES_SIZE bytes, page-aligned and below 4 GiB, that the guest never uses. */
  readonly privatePagesBase: GuestPhysAddr;
}

/**
 * Where an aarch64 board puts the interrupt controller a hardware backend emulates in the host kernel (KVM's
 * GICv3): the distributor's 64 KiB frame and the redistributor region, which holds one 128 KiB frame pair per vCPU.
 * `HalVm.setIrqLine(line)` then raises the GIC's SPI whose INTID is `line` (32..1019).
 */
export interface Aarch64VmOptions {
  readonly gicDistributorBase: GuestPhysAddr;
  readonly gicRedistributorBase: GuestPhysAddr;
  readonly gicRedistributorSize: number;
}

/**
 * Guest memory as its consumers see it (vm-memory's `GuestMemory`, consumer side): devices, virtqueues, loaders,
 * the SBI layer and boards reach guest RAM only through this. Guest-physical addresses, little-endian multi-byte
 * values, every access bounds-checked. The address space's `GuestMemory` implements it; code below the VMM never
 * imports `addrspace`.
 *
 * An access that leaves guest memory throws (`GuestMemoryError`), and a write may have been partly done when it
 * does. Code acting for the guest therefore checks `contains` before touching a guest-supplied range, and treats a
 * throw that slips through as a guest error (a failed request, DEVICE_NEEDS_RESET for virtio): it never escapes a
 * guest-triggered path.
 */
export interface GuestMemoryAccess {
  /** Whether every byte of [gpa, gpa + length) is guest memory. Never throws. */
  contains(gpa: GuestPhysAddr, length: number): boolean;
  /** A copy of [gpa, gpa + length). */
  read(gpa: GuestPhysAddr, length: number): Uint8Array;
  /** Fill `target` from [gpa, gpa + target.length). */
  readInto(gpa: GuestPhysAddr, target: Uint8Array): void;
  /** Write `data` at `gpa` (and tell the backend, so the emulated hart drops stale decoded code). */
  write(gpa: GuestPhysAddr, data: Uint8Array): void;
  readU16(gpa: GuestPhysAddr): number;
  readU32(gpa: GuestPhysAddr): number;
  readU64(gpa: GuestPhysAddr): bigint;
  writeU16(gpa: GuestPhysAddr, value: number): void;
  writeU32(gpa: GuestPhysAddr, value: number): void;
  writeU64(gpa: GuestPhysAddr, value: bigint): void;
}

/**
 * The largest block `allocateMemory` can give: a `HostMemory` is one `Uint8Array`, and JavaScriptCore (Bun)
 * refuses array buffers over 4 GiB ("Out of memory" whatever the host has free). The address space backs a larger
 * RAM region with several blocks.
 */
export const MAX_HOST_MEMORY_BLOCK = 4 * 2 ** 30;

/**
 * A block of host memory that can back guest memory or hold VMM-built structures (nested page tables).
 * It is page-aligned and zeroed when allocated, and owned by the VM that allocated it.
 */
export interface HostMemory {
  /** The bytes. Views stay valid until the owning VM is closed. */
  readonly bytes: Uint8Array;
  /** Where the block sits in the backend's host-physical address space (emulated), or its host address (kvm). */
  readonly hostPhysAddr: HostPhysAddr;
  /**
   * Tell the backend that software other than the vCPUs (the VMM, a device, DMA) wrote [offset, offset+length).
   * The emulated backend drops decoded blocks and translations for those pages; hardware backends do nothing.
   */
  notifyWritten(offset: number, length: number): void;
  /**
   * Optional: end a vCPU's run right after a guest store into [offset, offset + length), so that the VMM, which
   * polls memory mailboxes between runs (HTIF's `tohost`), sees the request at once rather than when the run would
   * have ended. The emulated backend does it for harts on the VM's thread (harts on threads of their own end their
   * runs as before); hardware backends have no such hook.
   */
  watchWrites?(offset: number, length: number): void;
  /**
   * True when `bytes` are whole host pages of a private anonymous mapping that lives exactly as long as the VM and
   * nothing else reuses (the emulated arena, an mmap): a snapshot restore may map its memory file privately over
   * them, and a snapshot may skip the pages the kernel says were never touched (src/hal/host/memory-map.ts).
   */
  readonly privatePages?: boolean;
}

export interface HalVm extends Disposable {
  readonly backend: BackendName;
  readonly arch: GuestArch;
  /**
   * Who translates guest-physical to host-physical addresses:
   * - "nested-page-table": the VMM builds the table (Sv39x4/Sv48x4) in host memory from `allocateMemory` and
   *   passes its root to `HalVcpu.setup` (axvisor on RISC-V, our emulated backend).
   * - "memory-slots": the backend keeps its own table; the VMM registers regions with `mapGuestMemory`
   *   (KVM, HVF).
   */
  readonly stage2: "nested-page-table" | "memory-slots";

  /**
   * Allocate zeroed, page-aligned host memory of `size` bytes (a multiple of 4 KiB). `alignment` (a power of two,
   * at least 4 KiB) constrains `hostPhysAddr`; `hostPhysAddr` asks for a fixed host-physical address (identity
   * mappings, bare-machine RAM); the backend throws `HalError` "resource" if that is not possible.
   */
  allocateMemory(size: number, options?: { alignment?: number; hostPhysAddr?: HostPhysAddr }): HostMemory;

  /**
   * Make guest-physical [gpa, gpa + memory.bytes.length) resolve to `memory`. Required for "memory-slots"
   * backends; on the emulated backend it defines the physical map that M/HS-mode (bare-machine) accesses use.
   */
  mapGuestMemory(gpa: GuestPhysAddr, memory: HostMemory, flags: MappingFlagBits): void;

  /** Create vCPU `id` (0-based). */
  createVcpu(id: number): HalVcpu;

  /**
   * Assert or deassert a VM-level interrupt line (x86: a GSI of the in-kernel irqchip; aarch64: the INTID of an SPI
   * of the in-kernel GIC). Backends whose interrupt
   * controller lives in the VMM (RISC-V: the VMM's PLIC drives `HalVcpu.setInterruptLevel`) throw "unsupported".
   */
  setIrqLine(line: number, level: boolean): void;

  /** The architectural timer value now (RISC-V `time`; ticks of `timebaseHz`). */
  currentTime(): number;
  readonly timebaseHz: number;
  /**
   * Stop the VM's clock while the VM is paused (every vCPU out of the guest): `currentTime()` stays where it is and,
   * where the backend can, so does the clock the guest reads (emulated: `time`; KVM x86: kvmclock through
   * KVM_GET_CLOCK/KVM_SET_CLOCK). `resumeClock()` goes on from that value, so the guest does not see the paused
   * interval. Calls do not nest; a second `pauseClock()` before `resumeClock()` does nothing.
   */
  pauseClock(): void;
  resumeClock(): void;
  /** Snapshots: make the clock read `ticks` now (a restored VM's time); backends that cannot lack it. */
  setCurrentTime?(ticks: number): void;
  /**
   * Snapshots: state the backend keeps for the whole VM (KVM x86: kvmclock, the in-kernel PICs, IOAPIC and PIT),
   * saved while paused and loaded into a VM built the same way before its vCPUs' states. Absent: none.
   */
  saveState?(): HalVmState;
  loadState?(state: HalVmState): void;

  /**
   * Notifications and interrupt lines the backend delivers without a vCPU exit (KVM: ioeventfd and irqfd), or
   * undefined when it has none (the emulated backend, a KVM without the capabilities, a VM without an in-kernel
   * irqchip). Devices then keep the exit path (`setIrqLine`, MMIO writes on the bus).
   */
  readonly eventChannels?: HalEventChannels | undefined;
  /**
   * How host helper threads (a TAP's reader) get the VMM's thread out of a vCPU run it blocks in (a KVM vCPU that
   * runs on the caller's thread, `HalVcpu.useCallerThread`), so their work is not left waiting for the run's end.
   * Undefined when no run ever blocks the VMM's thread.
   */
  readonly hostWake?: HostWakeChannel | undefined;
}

/**
 * Fast paths for virtio-style devices (KVM's ioeventfd and irqfd). Callbacks run on the VMM's thread: in a later
 * turn of its event loop, or before the vCPU the VMM's thread runs re-enters the guest. Register everything before
 * the VM's first vCPU run.
 */
export interface HalEventChannels {
  /**
   * A guest write of `value` (`width` bytes) to guest-physical `addr` no longer exits: `onWrite` is called instead
   * (KVM_IOEVENTFD with DATAMATCH). Writes of other values still exit as usual.
   */
  watchMmioWrite(addr: GuestPhysAddr, width: 4, value: number, onWrite: () => void): void;
  /**
   * VM interrupt line `line` (as `HalVm.setIrqLine` numbers it) as a level line driven through the backend's fast
   * path: the returned setter asserts it (true) or lets it fall (false); call it on changes only. KVM: an irqfd with
   * resample, so the line stays asserted until the guest's EOI and is asserted again then while the level is high.
   */
  levelIrqLine(line: number): (level: boolean) => void;
}

/**
 * Shared slots (Int32Array over `control`, every access through Atomics) a host helper thread uses to interrupt the
 * VMM's thread while it blocks in a vCPU run: after publishing its work, bump the slot HOST_WAKE_HOST_SEQ
 * (Atomics.add), then, when the slot HOST_WAKE_IN_RUN is not 0, send HOST_WAKE_SIGNAL to the thread whose kernel id is
 * in HOST_WAKE_TID (tgkill). The running side sets IN_RUN before it looks at HOST_SEQ, so one of the two always
 * sees the other.
 */
export interface HostWakeChannel {
  readonly control: SharedArrayBuffer;
}
export const HOST_WAKE_TID = 0;
export const HOST_WAKE_IN_RUN = 1;
export const HOST_WAKE_HOST_SEQ = 3;
/** SIGURG (23 on Linux x86_64, arm64 and riscv64): ignored by default, so a stray one never kills the process. */
export const HOST_WAKE_SIGNAL = 23;

/** A G-stage translation format (RISC-V H extension hgatp modes). */
export type Stage2Mode = "sv39x4" | "sv48x4";

/** A nested page table: where its root is in host-physical memory and how it is laid out. */
export interface Stage2Table {
  readonly root: HostPhysAddr;
  readonly mode: Stage2Mode;
}

/** Architecture-specific vCPU set-up handed to `HalVcpu.setup`. */
export interface HalVcpuSetup {
  /** Guest-physical (or, before paging, guest-virtual) entry point. */
  readonly entry: GuestPhysAddr;
  /**
   * The nested page table of a "nested-page-table" VM (hgatp root and mode), as the VMM's address space built it.
   * Required there; "memory-slots" VMs (and bare-machine VMs, which have no G-stage) ignore it.
   */
  readonly stage2?: Stage2Table;
  /** Initial values of general-purpose registers (RISC-V a0 = hart id, a1 = DTB address for Linux). */
  readonly gprs?: ReadonlyArray<readonly [reg: number, value: bigint]>;
  /**
   * x86: the complete boot state (segments, descriptor tables, control registers, EFER, GPRs), e.g. for the
   * 64-bit Linux boot protocol entry. Without it an x86 vCPU starts in real mode at `entry` (below 1 MiB).
   */
  readonly x86?: X86VcpuState;
}

/** What `HalVcpu.runAccesses` calls for each plain access (values are unsigned, at most 32 bits). */
export interface HalAccessHandler {
  mmioRead(addr: GuestPhysAddr, width: 1 | 2 | 4): number;
  mmioWrite(addr: GuestPhysAddr, width: 1 | 2 | 4, value: number): void;
  portRead(port: number, width: 1 | 2 | 4): number;
  portWrite(port: number, width: 1 | 2 | 4, value: number): void;
}

export interface HalVcpu extends Disposable {
  readonly id: number;
  /** Prepare the vCPU to enter the guest at `entry` (RISC-V: VS-mode, vsatp = 0; x86: see the KVM backend). */
  setup(setup: HalVcpuSetup): void;
  /**
   * (Re)start the vCPU at `entry` in its initial architectural state. RISC-V: VS-mode (or M-mode for
   * bare-machine VMs), vsatp = 0, vsstatus.SIE = 0, pending guest interrupts left as they are — what SBI HSM
   * `hart_start` requires; the VMM then sets a0/a1 with `setGpr`.
   */
  setEntry(entry: GuestPhysAddr): void;
  getGpr(reg: number): bigint;
  setGpr(reg: number, value: bigint): void;
  /**
   * Complete the last `MmioRead`/`IoRead`/`SysRegRead` exit with `value` (truncated to the access width and
   * sign- or zero-extended as the exit said) before the next `run()`.
   */
  setReturnValue(value: bigint): void;
  /**
   * Run the guest until something needs the VMM. Returns `Nothing` when the backend's time slice ran out (the
   * emulated backend runs at most `budget` instructions per call), so callers can interleave vCPUs and events.
   */
  run(): AxVCpuExitReason;
  /**
   * Backends whose `run` blocks in the host kernel (KVM_RUN) provide this: the guest runs on a helper thread
   * (one Bun Worker per vCPU) while the caller's event loop stays free. Register access and `setReturnValue`
   * stay synchronous on the calling thread between runs. The VMM prefers `runAsync` when present.
   */
  runAsync?(): Promise<AxVCpuExitReason>;
  /** Make a vCPU that is inside `run`/`runAsync` return soon (with `Nothing` if nothing else happened). */
  kick(): void;
  /**
   * Backends whose `run` blocks in the host kernel (KVM) may run the guest on the calling thread instead of a
   * helper thread when that thread serves no other vCPU: call this once, on that thread, before its first `run()`.
   * From then on a `run()` returns (with `Nothing` if nothing else happened) at the latest about `sliceMs` after it
   * began, and at once when a helper thread has work for the caller (`HalVm.eventChannels` callbacks, a
   * `hostWake` signal), so the caller's event loop keeps turning between runs. Returns false when the backend
   * cannot (then keep using `runAsync`).
   */
  useCallerThread?(sliceMs: number): boolean;
  /**
   * `run()` that answers the plain accesses itself, through `handler`, without returning them: single MMIO and
   * port reads and writes of 1, 2 or 4 bytes (not string I/O, not the hypercall port), at most `maxAccesses` of
   * them; the first other exit is returned (`Nothing` once `maxAccesses` were answered). A VMM's hot path: no exit
   * object, no bigint per access. Backends whose exits cost little JavaScript anyway need not provide it.
   */
  runAccesses?(handler: HalAccessHandler, maxAccesses: number): AxVCpuExitReason;
  /**
   * Assert or clear a guest interrupt. RISC-V: `vector` is the supervisor-level cause the guest sees
   * (1 = software, 5 = timer, 9 = external), delivered through hvip (VSSIP/VSTIP/VSEIP); in bare-machine mode the
   * machine-level causes (3, 7, 11) and supervisor ones drive mip directly. x86: a vector for KVM_INTERRUPT.
   */
  setInterruptLevel(vector: number, asserted: boolean): void;
  /**
   * True when an interrupt is pending and locally enabled (RISC-V: pending & enabled in vsie/sie/mie, ignoring
   * the global SIE/MIE bit): the condition that ends a WFI, and so a `Halt`. A hardware timer is judged at the
   * VM's clock at the time of the call (`HalVm.currentTime()`), so a deadline the clock had reached before the
   * call is pending here when its interrupt is enabled (the VMM relies on this not to lose a wake-up).
   */
  hasPendingInterrupt(): boolean;
  /**
   * When the hardware itself will next raise an interrupt (RISC-V Sstc `vstimecmp`, in `timebaseHz` ticks), or
   * `undefined` if none is armed. The VMM sleeps until min(this, its own timers) while the vCPU halts.
   */
  hardwareTimerDeadline(): number | undefined;
  /** RISC-V guests: what the VMM's SBI layer needs beyond registers (present on backends running RISC-V). */
  readonly riscv?: RiscvVcpuOps;
  /** Guest debugging (the GDB stub), on backends that support it. */
  readonly debug?: HalVcpuDebug | undefined;
  /**
   * Snapshots: the vCPU's complete architectural state as JSON-safe plain data, read while it is outside the guest
   * (the VM paused), and loaded into a vCPU of a VM built the same way. Backends that cannot save a vCPU lack them.
   * `loadState` throws HalError "invalid-argument" for a state of another format, naming what differs.
   */
  saveState?(): HalVcpuState;
  loadState?(state: HalVcpuState): void;
}

/**
 * A vCPU's saved state: `format` names the backend's shape and its version; `data` is plain data (JSON, plus bigint
 * and Uint8Array, which the snapshot file encodes).
 */
export interface HalVcpuState {
  readonly format: string;
  readonly data: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// Guest debugging
// ---------------------------------------------------------------------------------------------------------------

/** A guest-virtual range watched for accesses of `kind`. */
export interface Watchpoint {
  readonly addr: bigint;
  readonly length: number;
  readonly kind: WatchpointKind;
}

/**
 * What stops a vCPU with a `Debug` exit (KVM's `kvm_guest_debug`). Breakpoints are guest-virtual instruction
 * addresses checked before the instruction at them runs; watchpoints are checked on the guest's loads and stores
 * (RISC-V: before the access, as the Debug spec's triggers do; x86: after it, as debug registers do).
 */
export interface GuestDebugControl {
  readonly singleStep: boolean;
  readonly breakpoints: readonly bigint[];
  readonly watchpoints: readonly Watchpoint[];
  /**
   * Exit with a `Debug` breakpoint when the guest executes the architecture's breakpoint instruction (x86 `int3`:
   * KVM_GUESTDBG_USE_SW_BP), for software breakpoints the VMM planted in guest memory. Default false.
   */
  readonly breakpointExits?: boolean;
}

/**
 * Debugger access to one vCPU, used between runs only. `setGuestDebug(undefined)` turns debugging off: the vCPU
 * runs as it did before (the emulated hart goes back to its fast engine).
 */
export interface HalVcpuDebug {
  setGuestDebug(control: GuestDebugControl | undefined): void;
  /**
   * What `setGuestDebug(control)` would refuse, without changing anything: undefined when the backend can do it,
   * else why not (x86: at most four debug-register slots, no read-only watchpoints). Unlimited when absent.
   */
  checkGuestDebug?(control: GuestDebugControl): string | undefined;
  readonly riscv?: RiscvDebugRegisters;
  readonly x86?: X86DebugRegisters;
}

/** The x86 state a debugger sees beyond `getGpr` (x86 numbering: 0..15 GPRs, 16 = rip, 17 = rflags). */
export interface X86DebugRegisters {
  specialRegisters(): X86DebugSpecialRegisters;
}

export interface X86DebugSpecialRegisters {
  readonly selectors: {
    readonly cs: number;
    readonly ss: number;
    readonly ds: number;
    readonly es: number;
    readonly fs: number;
    readonly gs: number;
  };
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

/** The RISC-V registers a debugger sees beyond the GPRs and pc (`getGpr`/`setGpr`, `RiscvVcpuOps.getPc`). */
export interface RiscvDebugRegisters {
  /** The raw 64-bit contents of f0..f31 (NaN-boxed singles as stored). */
  getFpr(reg: number): bigint;
  setFpr(reg: number, value: bigint): void;
  /**
   * Read CSR `csr` as the guest's current mode names it (with V = 1, sstatus is vsstatus, satp is vsatp, ...),
   * with no side effect; undefined when the hart does not implement it.
   */
  readCsr(csr: number): bigint | undefined;
  /** Write CSR `csr` (same naming, WARL rules applied); false when the hart does not implement it. */
  writeCsr(csr: number, value: bigint): boolean;
  /** The privilege level the guest runs at (0 = U, 1 = S, 3 = M) and whether it is virtualized (V = 1). */
  privilege(): { readonly priv: number; readonly virtualized: boolean };
}

/** A VM's backend-level saved state (`HalVm.saveState`), the same shape as a vCPU's. */
export type HalVmState = HalVcpuState;

/** RISC-V-specific vCPU operations (what KVM exposes through ONE_REG/CSR access and its SBI helpers). */
export interface RiscvVcpuOps {
  /** The guest pc (sepc of the trap that caused the last exit, already advanced past an `ecall`). */
  getPc(): bigint;
  setPc(pc: bigint): void;
  /**
   * Translate guest-virtual `gva` as the guest's current mode would for a load (`read`) or store (`write`):
   * VS-stage (vsatp, with vsstatus.SUM/MXR) then G-stage. A failure gives the exception the guest would see.
   */
  translateGuestVirtual(
    gva: bigint,
    access: "read" | "write",
  ):
    | { readonly ok: true; readonly gpa: GuestPhysAddr }
    | { readonly ok: false; readonly cause: number; readonly tval: bigint };
  /** Raise exception `cause` in the guest at the current pc, as a trap delegated to VS-mode (vsepc, vscause, vstval, vstvec). */
  injectException(cause: number, tval: bigint): void;
  /** Perform a fence before the next guest instruction (SBI RFENCE): drop decoded code and/or translations. */
  fence(kind: "fence.i" | "sfence.vma" | "hfence.vvma" | "hfence.gvma"): void;
  /**
   * Program the guest's supervisor timer for SBI TIME set_timer, as KVM does on harts with Sstc: the VS-level
   * comparator (vstimecmp) takes `deadline` (guest `time` ticks), and VSTIP follows `time >= deadline` from then on
   * without further exits. A deadline already reached makes the interrupt pending at once; a later one clears it.
   */
  setTimer(deadline: bigint): void;
  /**
   * The hart's `cycle` or `instret` counter as M-mode firmware controls it for the SBI PMU extension: preset it
   * (mcycle/minstret) to `value`, and/or let it count or freeze it (`running`, mcountinhibit).
   */
  setHardwareCounter(
    counter: "cycle" | "instret",
    change: { readonly value?: bigint; readonly running?: boolean },
  ): void;
  /**
   * Optional (harts on threads of their own): let the hart's thread handle what KVM handles in the kernel instead
   * of exiting — WFI (the hart waits on its thread until an interrupt is pending, so no `Halt` exit) and the SBI
   * calls whose only effects are on harts: TIME and legacy set_timer, IPI send_ipi, RFENCE remote fence.i /
   * sfence.vma / sfence.vma.asid. It answers only calls that succeed, exactly as the SBI specification says; every
   * other call (errors, other extensions, an IPI to a hart that is not running) still exits as `SbiCall`. The VMM
   * that turns this on reads what was answered with `takeAnsweredSbiEvents`.
   */
  handleExitsOnHartThread?(): void;
  /**
   * With `handleExitsOnHartThread`: what the harts' threads answered that concerns this hart since the last call
   * (undefined: nothing) — how many times each SBI PMU firmware event happened on it (indexed by event code) and
   * whether an IPI was raised on it — for the VMM's bookkeeping (PMU counters, legacy clear_ipi).
   */
  takeAnsweredSbiEvents?(): AnsweredSbiEvents | undefined;
  /**
   * Optional: let the hart answer the SBI console output calls made one byte at a time — legacy console_putchar
   * and DBCN console_write_byte — by handing the byte to `write` (the VMM's console, which returns the bytes it
   * took), with the return values the SBI specification gives and the VMM's dispatcher would, instead of exiting
   * with `SbiCall` for each. Every other call still exits. Linux's `earlycon=sbi` and hvc console write every byte
   * so.
   */
  answerConsoleOnHart?(write: (bytes: Uint8Array) => number): void;
}

/** `RiscvVcpuOps.takeAnsweredSbiEvents`. */
export interface AnsweredSbiEvents {
  /** Counts by SBI PMU firmware event code (missing entries: 0). */
  readonly firmwareEvents: readonly number[];
  readonly ipiRaised: boolean;
}
