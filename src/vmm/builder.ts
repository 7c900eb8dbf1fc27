/**
 * The builder (Firecracker's builder.rs): the one place where a resolved `VmConfig` becomes runtime objects. In
 * order: the backend (`selectBackend`) and its hypervisor, the board (`boardFor`), the console, the backend VM
 * (`hypervisor.createVm(board.vmOptions(config))`), the address space (the board's memory regions; the nested page
 * table in the board's G-stage format), the vCPUs, the devices (`board.attach`), the images and boot plan
 * (`board.load`), and each vCPU's set-up (entry, boot registers and the nested page table as one `{root, mode}`
 * value). The result is an `AxVM`, which owns all of it and runs it. The VMM builds each VM on its first boot and
 * again on every guest reboot. When a step fails, everything made before it is released and the error names
 * the VM.
 */

import type { ConsolaInstance } from "consola";
import { consola } from "consola";
import { AddrSpace } from "../addrspace/addr-space.ts";
import { Bus } from "../devices/bus.ts";
import { FileBlockBackend } from "../devices/virtio/block-backend.ts";
import { openDiskImage } from "../hal/host/disk-image.ts";
import { HostError } from "../hal/host/errors.ts";
import { TapDevice } from "../hal/host/tap.ts";
import type { HalBackend, HalVm, HostWakeChannel, Hypervisor, SystemDownAction } from "../hal/types.ts";
import { AxVCpu } from "../vcpu/axvcpu.ts";
import { type BackendCandidate, selectBackend } from "./backends.ts";
import type { AttachedDisk, AttachedNet, Board, BoardServices } from "./board.ts";
import { boardFor } from "./boards/index.ts";
import { parseMac } from "./config/resolve-nets.ts";
import type { DiskConfig, NetConfig, VmConfig } from "./config/types.ts";
import { type ByteWriter, type ConsoleOutput, type ConsoleSink, openConsoleOutput } from "./console.ts";
import { DeferredWork } from "./deferred-work.ts";
import { errorKindOf, errorMessage, VmError } from "./errors.ts";
import { TimerWheel } from "./timer.ts";
import { AxVM, type AxVMOptions } from "./vm.ts";
import { releaseVmParts } from "./vm-parts.ts";
import type { VmBuses } from "./vm-stats.ts";

/** What the VMM supplies to build a VM from its config. */
export interface VmBuildEnvironment extends AxVMOptions {
  /** The backends to choose from, in order of preference. */
  readonly backends: readonly BackendCandidate[];
  /** The open hypervisor of the chosen backend (the VMM opens each backend once and closes it when done). */
  hypervisorFor(backend: HalBackend): Hypervisor;
  /** Where console output goes: a line prefix when several VMs share the terminal, the byte sink. */
  readonly console?: { readonly prefix?: string; readonly writer?: ByteWriter | ConsoleSink };
}

/** Build VM `config`: choose its backend and board, then `assembleVm`. */
export async function buildVm(config: VmConfig, env: VmBuildEnvironment): Promise<AxVM> {
  const backend = await selectBackend(config, env.backends);
  const hypervisor = env.hypervisorFor(backend);
  const board = boardFor(config);
  const console = openConsoleOutput(config.devices.console, env.console ?? {});
  return assembleVm(config, { ...vmOptionsOf(env), hypervisor, board, console });
}

/** What `assembleVm` builds on: a hypervisor and a board chosen for the config, and the VM's console. */
export interface VmAssembly extends AxVMOptions {
  readonly hypervisor: Hypervisor;
  readonly board: Board;
  /** The VM owns it from here: closed when the VM is released, or when assembling fails. */
  readonly console: ConsoleOutput;
  /** How a net's host end is opened: its TAP (src/hal/host/tap.ts) unless a test brings its own backend. */
  readonly openNet?: (net: NetConfig) => AttachedNet;
}

/**
 * Make the VM's parts with a chosen hypervisor and board (tests bring their own). Throws a `VmError` naming the
 * VM ("cannot initialise: ...") after releasing whatever was made, the console included.
 */
export function assembleVm(config: VmConfig, assembly: VmAssembly): AxVM {
  const { hypervisor, board, console } = assembly;
  const label = `vm ${config.id} (${config.name})`;
  const log = assembly.log ?? consola.withTag(`vm${config.id}`);
  const vcpus: AxVCpu[] = [];
  const disks: AttachedDisk[] = [];
  const nets: AttachedNet[] = [];
  const timers = new TimerWheel();
  // Deferred device work waits, as the vCPUs do, while the VM's console is not being read.
  const work = new DeferredWork(() => console.backpressure?.());
  let halVm: HalVm | undefined;
  try {
    // Disks and nets first: a locked image or a refused TAP fails the VM before any memory is allocated. Nets
    // after the HAL VM (which allocates no guest memory): a TAP's reader wakes the VM's thread through it.
    for (const disk of config.devices.disks) disks.push(openDisk(disk, label, log));
    const vmOptions = board.vmOptions(config);
    halVm = hypervisor.createVm({ ...vmOptions, vmId: config.id });
    const hostWake = halVm.hostWake;
    for (const net of config.devices.nets) nets.push(assembly.openNet?.(net) ?? openNet(net, label, log, hostWake));
    const addrSpace = AddrSpace.create(halVm, board.memoryRegions(config), {
      physicalMap: vmOptions.mode === "bare-machine",
      ...(vmOptions.gstageMode === undefined ? {} : { gstageMode: vmOptions.gstageMode }),
    });
    for (let id = 0; id < config.cpuNum; id++) vcpus.push(createVcpu(config, halVm, id));
    const buses: VmBuses = { mmio: new Bus("mmio"), port: new Bus("port"), sysreg: new Bus("sysreg") };
    const link = new VmLink(label);
    const services = boardServices(config, label, {
      halVm,
      addrSpace,
      vcpus,
      buses,
      timers,
      work,
      console,
      disks,
      nets,
      log,
      link,
    });
    // What the boot writes into RAM, so that a snapshot restore can clear just that (vm-parts.ts `bootWrites`).
    addrSpace.guestMemory.startRecordingWrites();
    board.attach(services);
    const boot = board.load(services);
    const bootWrites = addrSpace.guestMemory.stopRecordingWrites();
    if (boot.length !== vcpus.length)
      throw new VmError("state", label, `board ${board.name} planned ${boot.length} vCPUs for ${vcpus.length}`);
    const stage2 = addrSpace.stage2();
    for (const [id, vcpu] of vcpus.entries()) {
      const plan = boot[id];
      if (plan === undefined) continue;
      vcpu.setup(plan.entry, stage2 === undefined ? plan.setup : { ...plan.setup, stage2 });
      vcpu.bind();
    }
    const parts = { board, halVm, addrSpace, vcpus, buses, timers, work, console, disks, nets, boot, bootWrites };
    const vm = new AxVM(config, parts, { ...vmOptionsOf(assembly), log });
    link.connect(vm);
    return vm;
  } catch (error) {
    releaseVmParts({ board, halVm, vcpus, timers, work, console, disks, nets });
    throw error instanceof VmError
      ? error
      : new VmError(errorKindOf(error), label, `cannot initialise: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * Open and lock a disk image (src/hal/host/disk-image.ts: exclusive for read-write, shared for read-only; a 0444
 * image is never opened read-write) and wrap it for virtio-blk. A host without file locks runs it unlocked, said
 * once as a warning.
 */
function openDisk(disk: DiskConfig, label: string, log: ConsolaInstance): AttachedDisk {
  const image = openDiskImage(disk.path, { readOnly: disk.readOnly });
  if (typeof image.lock === "object")
    log.warn(`${label}: disk image ${disk.path} is not locked: ${image.lock.unlocked}`);
  const backend = FileBlockBackend.fromOpenFile(image);
  return { config: disk, backend, close: () => backend.close() };
}

/**
 * Open a net's TAP (src/hal/host/tap.ts: attached when it exists, created when it does not and we may). A refusal
 * names the config key and the TAP. A TAP this VM created is down and unaddressed, and goes away with the VM:
 * said at info level, since the host side must configure it.
 */
function openNet(
  net: NetConfig,
  label: string,
  log: ConsolaInstance,
  hostWake: HostWakeChannel | undefined,
): AttachedNet {
  const mac = parseMac(net.mac);
  if ("problem" in mac) throw new VmError("config", label, `${net.key}.mac = ${net.mac}: ${mac.problem}`);
  let tap: TapDevice;
  try {
    tap = TapDevice.open(net.tap, {
      hostWake,
      onReaderFailure: (message) => log.warn(`${label}: ${net.key}: ${message}; the guest receives nothing more`),
    });
  } catch (error) {
    if (error instanceof HostError) {
      throw new VmError("config", label, `${net.key}.tap = "${net.tap}": ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (tap.created)
    log.info(`${label}: created TAP interface ${tap.name} for ${net.key} (down, no address: configure it with ip)`);
  return { config: net, backend: tap, mac: mac.bytes, close: () => tap.close() };
}

/** Just the AxVM options of a larger options object. */
function vmOptionsOf(source: AxVMOptions): AxVMOptions {
  return {
    ...(source.log === undefined ? {} : { log: source.log }),
    ...(source.traceExits === undefined ? {} : { traceExits: source.traceExits }),
    ...(source.sliceMs === undefined ? {} : { sliceMs: source.sliceMs }),
    ...(source.exclusiveThread === undefined ? {} : { exclusiveThread: source.exclusiveThread }),
  };
}

function createVcpu(config: VmConfig, halVm: HalVm, id: number): AxVCpu {
  const physCpuSet = config.physCpuSets?.[id];
  const physCpu = config.physCpuIds?.[id];
  return new AxVCpu(
    {
      id,
      vmId: config.id,
      ...(physCpu === undefined ? {} : { favorPhysCpu: physCpu }),
      ...(physCpuSet === undefined ? {} : { physCpuSet: BigInt(physCpuSet) }),
    },
    halVm.createVcpu(id),
  );
}

/**
 * Devices are made before the VM that runs them, yet wake its vCPUs and stop it later: the board's services reach
 * the VM through this link, connected once the AxVM exists (Firecracker's devices signal the VMM through event
 * fds for the same reason).
 */
class VmLink {
  readonly #label: string;
  #vm: AxVM | undefined;

  constructor(label: string) {
    this.#label = label;
  }

  connect(vm: AxVM): void {
    this.#vm = vm;
  }

  /** Before the VM exists no vCPU sleeps, so there is nothing to wake. */
  wakeVcpu(id: number): void {
    this.#vm?.wakeVcpu(id);
  }

  requestSystemDown(action: SystemDownAction, code: number, reason: string): void {
    if (this.#vm === undefined)
      throw new VmError("state", this.#label, `a device asked for ${action} (${reason}) before the VM was built`);
    this.#vm.requestSystemDown(action, code, reason);
  }
}

function boardServices(
  config: VmConfig,
  label: string,
  parts: {
    readonly halVm: HalVm;
    readonly addrSpace: AddrSpace;
    readonly vcpus: readonly AxVCpu[];
    readonly buses: VmBuses;
    readonly timers: TimerWheel;
    readonly work: DeferredWork;
    readonly console: ConsoleOutput;
    readonly disks: readonly AttachedDisk[];
    readonly nets: readonly AttachedNet[];
    readonly log: ConsolaInstance;
    readonly link: VmLink;
  },
): BoardServices {
  const { halVm, addrSpace, vcpus, buses, link } = parts;
  return {
    config,
    label,
    halVm,
    addrSpace,
    memory: addrSpace.guestMemory,
    mmio: buses.mmio,
    port: buses.port,
    sysreg: buses.sysreg,
    timers: parts.timers,
    console: parts.console,
    disks: parts.disks,
    nets: parts.nets,
    log: parts.log,
    now: () => halVm.currentTime(),
    vcpu: (id) => {
      const vcpu = vcpus[id];
      if (vcpu === undefined) throw new VmError("state", label, `no vCPU ${id} (the VM has ${vcpus.length})`);
      return vcpu;
    },
    vcpuCount: vcpus.length,
    wakeVcpu: (id) => link.wakeVcpu(id),
    deferWork: (task) => parts.work.defer(task),
    requestSystemDown: (action, code, reason) => link.requestSystemDown(action, code, reason),
  };
}
