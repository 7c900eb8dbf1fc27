/**
 * What a per-guest-arch folder (`x86_64/`, later `aarch64/`) gives the generic KVM backend, the shape of crosvm's
 * and cloud-hypervisor's `hypervisor/src/kvm/{mod,x86_64,aarch64}`. KVM runs guests of the host's own architecture,
 * so the backend picks ONE `KvmArch` from the host's `process.arch` in `arches.ts` (the only generic file that imports
 * a per-arch folder) and drives it through these interfaces, level by level, like its own handles:
 *
 *   KvmArch (module)  --openSystem(/dev/kvm fd)-->  KvmArchSystem  --setupVm(vm fd)-->  KvmArchVm
 *   KvmArchVm  --createVcpu(core)-->  KvmArchVcpu
 *
 * The generic side owns every fd, the memory slots, kvm_run, KVM_RUN itself (on the calling thread or a run
 * Worker), kicks, the immediate_exit re-entry that completes an I/O or MMIO instruction, and the exit reasons all
 * architectures share. The arch side owns registers (and any cache of them), the boot state, interrupt injection,
 * the VM-level set-up KVM needs before the first vCPU, and the exit reasons only its architecture has.
 */

import type {
  GuestArch,
  HalAccessHandler,
  HalVcpuDebug,
  HalVcpuSetup,
  HalVcpuState,
  HalVmOptions,
  HalVmState,
} from "../types.ts";
import type { KvmAbi } from "./abi.ts";
import type { ArchExitDecoder } from "./exits.ts";

/** `Hypervisor.createVm` options of the KVM backend: the HAL's, plus whether to create the in-kernel irqchip. */
export type KvmVmOptions = HalVmOptions & {
  /** Create the in-kernel interrupt controllers (default true). x86 without them: HLT exits to the VMM. */
  readonly irqchip?: boolean;
};

/** One guest architecture of the KVM backend. */
export interface KvmArch {
  /** The guest architecture this module runs (the host's own). */
  readonly guestArch: GuestArch;
  /** KVM_CHECK_EXTENSION capabilities this arch needs on top of the generic ones, keyed by their C names. */
  readonly requiredCapabilities: Readonly<Record<string, number>>;
  /** This arch's part of the ABI (structs, ioctls, numbers), which the layout test checks with the generic part. */
  readonly abi: KvmAbi;
  /** Read what this arch needs from /dev/kvm, once, when the hypervisor is opened (x86: the supported CPUID). */
  openSystem(kvmFd: number): KvmArchSystem;
}

/** An arch's host-wide state, living as long as the open /dev/kvm handle. */
export interface KvmArchSystem {
  /** The `type` argument of KVM_CREATE_VM (x86: 0; arm64: the IPA size). Throws HalError for bad options. */
  vmType(options: KvmVmOptions): number;
  /**
   * Set up a VM KVM just created, before any vCPU exists (x86: TSS and identity-map pages, irqchip, PIT). The
   * generic VM closes `vmFd` if this throws.
   */
  setupVm(vmFd: number, options: KvmVmOptions): KvmArchVm;
}

/** An arch's part of one VM. */
export interface KvmArchVm {
  /** Whether the interrupt controllers live in the kernel (then `HalVm.setIrqLine` raises interrupts). */
  readonly irqchip: boolean;
  /** KVM_IRQ_LINE's `irq` field for VM interrupt line `line`; throws HalError naming the valid lines. */
  irqLineField(line: number): number;
  /** KVM_IRQFD's `gsi` field for VM interrupt line `line` (x86: the GSI; arm64: the SPI's INTID - 32). */
  irqfdGsi(line: number): number;
  /** The arch state of a vCPU KVM just created (x86: its CPUID). The generic vCPU cleans up if this throws. */
  createVcpu(core: KvmVcpuCore): KvmArchVcpu;
  /** Stop and restart the guest's clock around a pause (`HalVm.pauseClock`); absent: the guest's clock runs on. */
  pauseClock?(): void;
  resumeClock?(): void;
  /** Snapshots (`HalVm.saveState`/`loadState`). */
  saveState(): HalVmState;
  loadState(state: HalVmState): void;
  /** Release what the arch opened for the VM (arm64: the vGIC device fd), after its vCPUs, before the VM fd. */
  close?(): void;
}

/** What the generic vCPU lends its arch part. */
export interface KvmVcpuCore {
  readonly id: number;
  readonly fd: number;
  /** vCPUs in the VM. */
  readonly cpuCount: number;
  /** The vCPU's kvm_run mapping. */
  readonly run: DataView;
  /** Throw HalError "state" if the vCPU is closed. */
  checkOpen(operation: string): void;
  /**
   * Call before reading or writing guest registers: checks the vCPU is open and not running and, after an I/O or
   * MMIO exit, has KVM finish that instruction first (a re-entry with immediate_exit that runs no guest code), so
   * the registers are the guest's. The arch drops its register caches in `afterRun`, which this calls too.
   */
  prepareRegisterAccess(operation: string): void;
}

/** An arch's part of one vCPU: its registers, boot state, interrupts and arch-only exits. */
export interface KvmArchVcpu extends ArchExitDecoder {
  /** Load the HAL boot state (the generic vCPU has checked it is open and idle). */
  setup(setup: HalVcpuSetup): void;
  /** Restart at `entry` in the vCPU's initial state (`HalVcpu.setEntry`). */
  setEntry(entry: number): void;
  /** `HalVcpu.getGpr`/`setGpr` in this arch's register numbering; call `core.prepareRegisterAccess` first. */
  getGpr(reg: number): bigint;
  setGpr(reg: number, value: bigint): void;
  /** Just before KVM_RUN: write back what the VMM changed, inject what waits for the guest. */
  beforeRun(): void;
  /** KVM_RUN returned (or a completion re-entry did): cached guest state is stale. */
  afterRun(): void;
  /**
   * Answer the plain access that `code` (sys.ts `kvmRunAccessFunction`: the exit reason, or one plain port access
   * packed) reports, through `handler` (`HalVcpu.runAccesses`): an MMIO one (exits.ts `answerMmioAccess`) and the
   * arch-only ones (x86: one `in`/`out` of 1, 2 or 4 bytes, not to the hypercall port); false when the exit is not
   * one. A plain function (no `this`), one call per exit on the hot path; absent when MMIO is the arch's only plain
   * access (then `answerMmioAccess` is used).
   */
  readonly answerAccess?: (run: DataView, code: number, handler: HalAccessHandler) => boolean;
  /** `HalVcpu.setInterruptLevel` (x86 without an in-kernel irqchip: KVM_INTERRUPT). */
  setInterruptLevel(vector: number, asserted: boolean): void;
  hasPendingInterrupt(): boolean;
  /** Guest debugging (`HalVcpu.debug`), on archs that have it (x86). */
  readonly debug?: HalVcpuDebug;
  /** Snapshots (`HalVcpu.saveState`/`loadState`; the vCPU is idle). */
  saveState(): HalVcpuState;
  loadState(state: HalVcpuState): void;
}
