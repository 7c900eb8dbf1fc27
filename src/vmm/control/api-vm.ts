/**
 * What the API server drives: the one VM Firecracker's endpoints speak of (the "instance"), configured before it
 * starts (machine-config, boot-source, drives), started (InstanceStart) or loaded from a snapshot, then paused,
 * resumed, snapshotted; and every VM of the process for our `/vms` endpoints. Each operation returns an
 * `ApiResult` (status and JSON body) and never throws for bad input or a wrong state: those are 400s whose
 * `fault_message` says what and why, as Firecracker's are.
 */

import { errorMessage } from "../errors.ts";
import { createSnapshot, readSnapshot } from "../snapshot/snapshot.ts";
import type { AxVM, VmStatus } from "../vm.ts";
import type { Vmm, VmRestore, VmSummary } from "../vmm.ts";
import { apiVmConfig } from "./api-config.ts";
import type { BootSource, Drive, MachineConfig, NetworkInterface } from "./api-schemas.ts";

export interface ApiResult {
  readonly status: number;
  readonly body?: unknown;
}

export const NO_CONTENT: ApiResult = { status: 204 };
export const fault = (status: number, message: string): ApiResult => ({ status, body: { fault_message: message } });

/** Firecracker's instance states. */
type InstanceState = "Not started" | "Running" | "Paused";

const instanceState = (status: VmStatus | undefined): InstanceState =>
  status === "Suspended" ? "Paused" : status === "Running" ? "Running" : "Not started";

export interface ApiVmOptions {
  /** Relative paths in requests are resolved against it (the server's working directory). */
  readonly cwd: string;
  readonly version: string;
  /** `GET /`'s `id`. */
  readonly instanceId: string;
  /** The id of the VM the Firecracker endpoints act on: the first config's with `run`, else 1. */
  readonly instanceVmId?: number;
  /** The instance was started from config files (`run --api-sock`): pre-boot requests are refused. */
  readonly startedFromConfig?: boolean;
  /** Called with how the instance VM ended (`serve` exits then, as Firecracker does). */
  readonly onInstanceEnded?: (summary: VmSummary) => void;
}

export class ApiVm {
  readonly #vmm: Vmm;
  readonly #options: ApiVmOptions;
  readonly #vmId: number;
  #machine: MachineConfig = { vcpu_count: 1, mem_size_mib: 128 };
  #boot: BootSource | undefined;
  readonly #drives = new Map<string, Drive>();
  readonly #nets = new Map<string, NetworkInterface>();
  /** Set once InstanceStart or snapshot/load began: the configuration is frozen from then on. */
  #started: boolean;
  /** How the instance was made, for `GET /vm/config` of a VM that has stopped. */
  #instance: AxVM | undefined;

  constructor(vmm: Vmm, options: ApiVmOptions) {
    this.#vmm = vmm;
    this.#options = options;
    this.#vmId = options.instanceVmId ?? 1;
    this.#started = options.startedFromConfig === true;
  }

  /** The instance VM while it exists. */
  get vm(): AxVM | undefined {
    return this.#vmm.vm(this.#vmId) ?? this.#instance;
  }

  describe(): ApiResult {
    return {
      status: 200,
      body: {
        app_name: "axvisor-ts",
        id: this.#options.instanceId,
        state: instanceState(this.#vmm.vm(this.#vmId)?.status),
        vmm_version: this.#options.version,
      },
    };
  }

  version(): ApiResult {
    return { status: 200, body: { firecracker_version: this.#options.version } };
  }

  machineConfig(): ApiResult {
    return { status: 200, body: this.#machine };
  }

  putMachineConfig(config: MachineConfig): ApiResult {
    const refused = this.#preBoot("machine-config");
    if (refused !== undefined) return refused;
    this.#machine = config;
    return NO_CONTENT;
  }

  putBootSource(boot: BootSource): ApiResult {
    const refused = this.#preBoot("boot-source");
    if (refused !== undefined) return refused;
    this.#boot = boot;
    return NO_CONTENT;
  }

  putDrive(pathId: string, drive: Drive): ApiResult {
    const refused = this.#preBoot("drives");
    if (refused !== undefined) return refused;
    if (drive.drive_id !== pathId)
      return fault(
        400,
        `The id from the path (${pathId}) does not match the drive_id in the body (${drive.drive_id}).`,
      );
    if (drive.is_root_device && [...this.#drives.values()].some((d) => d.is_root_device && d.drive_id !== pathId))
      return fault(400, "A root block device already exists: only one drive may have is_root_device true.");
    this.#drives.set(pathId, drive);
    return NO_CONTENT;
  }

  /** A virtio-net device on a host TAP (`[[devices.nets]]`): host_dev_name is the TAP, guest_mac the MAC. */
  putNetworkInterface(pathId: string, net: NetworkInterface): ApiResult {
    const refused = this.#preBoot("network-interfaces");
    if (refused !== undefined) return refused;
    if (net.iface_id !== pathId)
      return fault(400, `The id from the path (${pathId}) does not match the iface_id in the body (${net.iface_id}).`);
    if (net.mtu !== undefined)
      return fault(400, "mtu is not supported: our virtio-net does not offer VIRTIO_NET_F_MTU (leave it out).");
    this.#nets.set(pathId, net);
    return NO_CONTENT;
  }

  async start(): Promise<ApiResult> {
    if (this.#started) return fault(400, "The instance was already started (InstanceStart or snapshot/load).");
    const boot = this.#boot;
    if (boot === undefined) return fault(400, "Cannot start the instance: no boot source (PUT /boot-source first).");
    let config: ReturnType<typeof apiVmConfig>;
    try {
      config = apiVmConfig(
        {
          id: this.#vmId,
          name: this.#options.instanceId,
          machine: this.#machine,
          boot,
          drives: [...this.#drives.values()],
          nets: [...this.#nets.values()],
        },
        this.#options.cwd,
      );
    } catch (error) {
      return fault(400, `Cannot start the instance: ${errorMessage(error)}`);
    }
    this.#started = true;
    return this.#launch(config, undefined, true);
  }

  async loadSnapshot(request: {
    readonly snapshot_path: string;
    readonly mem_file_path?: string | undefined;
    readonly mem_backend?: { readonly backend_path: string } | undefined;
    readonly resume_vm?: boolean | undefined;
  }): Promise<ApiResult> {
    if (this.#started)
      return fault(400, "Loading a snapshot is allowed only before the instance was started or loaded.");
    const memoryPath = this.#abs(request.mem_backend?.backend_path ?? request.mem_file_path ?? "");
    let file: ReturnType<typeof readSnapshot>;
    try {
      file = readSnapshot(this.#abs(request.snapshot_path));
    } catch (error) {
      return fault(400, `Cannot load the snapshot: ${errorMessage(error)}`);
    }
    this.#started = true;
    const config = { ...file.config, id: this.#vmId };
    this.#machine = {
      vcpu_count: config.cpuNum,
      mem_size_mib: Math.round(config.memoryRegions.reduce((sum, r) => sum + r.size, 0) / 2 ** 20),
    };
    return this.#launch(config, { file, memoryPath }, request.resume_vm === true);
  }

  async setState(state: "Paused" | "Resumed"): Promise<ApiResult> {
    const vm = this.#vmm.vm(this.#vmId);
    if (vm === undefined)
      return fault(400, `Cannot ${state === "Paused" ? "pause" : "resume"}: the instance is not running.`);
    try {
      if (state === "Paused") await vm.pause();
      else if (vm.status === "Suspended") await vm.resume();
      else return fault(400, `Cannot resume: the instance is ${instanceState(vm.status)}, not Paused.`);
    } catch (error) {
      return fault(400, errorMessage(error));
    }
    return NO_CONTENT;
  }

  createSnapshot(request: { readonly snapshot_path: string; readonly mem_file_path: string }): ApiResult {
    const vm = this.#vmm.vm(this.#vmId);
    if (vm === undefined) return fault(400, "Cannot create a snapshot: the instance is not running.");
    if (vm.status !== "Suspended")
      return fault(
        400,
        `Cannot create a snapshot: the instance is ${instanceState(vm.status)}; pause it first (PATCH /vm).`,
      );
    try {
      createSnapshot(vm, { statePath: this.#abs(request.snapshot_path), memoryPath: this.#abs(request.mem_file_path) });
    } catch (error) {
      return fault(400, `Cannot create the snapshot: ${errorMessage(error)}`);
    }
    return NO_CONTENT;
  }

  sendCtrlAltDel(): ApiResult {
    const sent = this.#vmm.requestShutdown(this.#vmId);
    if (sent === undefined)
      return fault(
        400,
        "Cannot send Ctrl+Alt+Del: the instance is not running, or its machine has no shutdown control.",
      );
    return NO_CONTENT;
  }

  /** `GET /vm/config`: Firecracker's FullVmConfiguration, for the parts we have. */
  fullConfig(): ApiResult {
    const config = this.vm?.config;
    if (config === undefined) {
      return {
        status: 200,
        body: {
          "machine-config": this.#machine,
          ...(this.#boot === undefined ? {} : { "boot-source": this.#boot }),
          drives: [...this.#drives.values()],
          "network-interfaces": [...this.#nets.values()],
        },
      };
    }
    return {
      status: 200,
      body: {
        "machine-config": {
          vcpu_count: config.cpuNum,
          mem_size_mib: Math.round(config.memoryRegions.reduce((sum, r) => sum + r.size, 0) / 2 ** 20),
          smt: false,
          track_dirty_pages: false,
        },
        "boot-source": {
          kernel_image_path: config.kernel.image.path,
          ...(config.kernel.cmdline === undefined ? {} : { boot_args: config.kernel.cmdline }),
          ...(config.kernel.ramdisk === undefined ? {} : { initrd_path: config.kernel.ramdisk.path }),
        },
        drives: config.devices.disks.map((disk, i) => ({
          drive_id: disk.serial ?? `disk${i}`,
          path_on_host: disk.path,
          is_root_device: false,
          is_read_only: disk.readOnly,
        })),
        "network-interfaces": config.devices.nets.map((net, i) => ({
          iface_id: [...this.#nets.keys()][i] ?? `eth${i}`,
          host_dev_name: net.tap,
          guest_mac: net.mac,
        })),
      },
    };
  }

  /** Our `GET /vms`: every VM of the process. */
  listVms(): ApiResult {
    return { status: 200, body: this.#vmm.runningVms().map(describeVm) };
  }

  /** Our `GET /vms/{id}`. */
  getVm(id: string): ApiResult {
    const vm = /^\d+$/.test(id) ? this.#vmm.vm(Number(id)) : undefined;
    return vm === undefined ? fault(404, `No VM with id ${id} is running.`) : { status: 200, body: describeVm(vm) };
  }

  #preBoot(what: string): ApiResult | undefined {
    return this.#started
      ? fault(400, `The update of ${what} is not allowed after the instance was started (pre-boot only).`)
      : undefined;
  }

  #abs(path: string): string {
    return path.startsWith("/") ? path : `${this.#options.cwd}/${path}`;
  }

  /**
   * Launch the instance VM and answer once it exists (or failed to): with `restore` it is loaded paused and
   * resumed if `resume`.
   */
  #launch(config: Parameters<Vmm["launch"]>[0], restore: VmRestore | undefined, resume: boolean): Promise<ApiResult> {
    return new Promise<ApiResult>((answer) => {
      let built = false;
      const done = this.#vmm.launch(config, {
        ...(restore === undefined ? {} : { restore }),
        onBuilt: (vm) => {
          built = true;
          this.#instance = vm;
          if (restore !== undefined && resume) {
            vm.resume().then(
              () => answer(NO_CONTENT),
              (error: unknown) => answer(fault(400, errorMessage(error))),
            );
            return;
          }
          answer(NO_CONTENT);
        },
      });
      void done.then((summary) => {
        if (!built) answer(fault(400, `Cannot start the instance: ${summary.error ?? "it stopped at once"}`));
        this.#options.onInstanceEnded?.(summary);
      });
    });
  }
}

function describeVm(vm: AxVM): Record<string, unknown> {
  return {
    id: vm.id,
    name: vm.name,
    state: vm.status,
    arch: vm.config.arch,
    backend: vm.backend,
    board: vm.board.name,
    vcpu_count: vm.vcpuCount,
  };
}
