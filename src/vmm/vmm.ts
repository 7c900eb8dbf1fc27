/**
 * The VMM (axvisor's `vmm` module): takes VM configs, has the builder (src/vmm/builder.ts) make each VM, boots
 * them, runs them together in one process, and reports how each ended. A guest reboot builds its VM again from
 * the same config.
 */

import { type ConsolaInstance, consola } from "consola";
import type { HalBackend, Hypervisor } from "../hal/types.ts";
import { type BackendCandidate, backends } from "./backends.ts";
import { buildVm } from "./builder.ts";
import type { VmConfig } from "./config/types.ts";
import { type ByteWriter, type ConsoleSink, HostConsoleInput, StreamSink } from "./console.ts";
import { formatGdbAddress, type GdbListenAddress, GdbServer, gdbArchitectureFor } from "./debug/index.ts";
import { errorMessage, VmError } from "./errors.ts";
import { CONSOLA_LEVELS, type LogLevelName } from "./log-level.ts";
import type { MemoryLoad } from "./snapshot/memory-file.ts";
import { loadSnapshotInto, type SnapshotFile } from "./snapshot/snapshot.ts";
import type { AxVM, VmResult, VmStatus } from "./vm.ts";
import { formatVmStats } from "./vm-stats.ts";

export interface VmmOptions {
  readonly logLevel?: LogLevelName;
  /** Write every exit to stderr, and a summary of the VM's counters when it stops. */
  readonly traceExits?: boolean;
  readonly console?: {
    /**
     * Where guest console bytes go (default: process.stdout, with its backpressure). A `ConsoleSink` that reports
     * congestion makes the VMs writing to it wait for it to drain.
     */
    readonly writer?: ByteWriter | ConsoleSink;
    /** Feed host stdin to the first VM's console (raw mode on a TTY, Ctrl-A X quits). */
    readonly stdin?: boolean;
  };
  /** Backends to choose from (default: every backend we have). */
  readonly backends?: readonly BackendCandidate[];
  /** How many guest reboots of one VM to honour before giving up (a reboot loop is a guest bug). */
  readonly maxReboots?: number;
  /**
   * Serve the GDB remote protocol here for the (one) VM: it starts paused until a debugger connects and
   * continues it (src/vmm/debug/).
   */
  readonly gdb?: GdbListenAddress;
  /** Told where the GDB stub listens once it does (default: a line on stderr). */
  readonly onGdbListening?: (server: GdbServer) => void;
}

export interface VmSummary {
  readonly id: number;
  readonly name: string;
  readonly status: VmStatus;
  readonly reason: VmResult["reason"];
  readonly exitCode: number;
  readonly backend: string | undefined;
  readonly error?: string;
}

/** A snapshot to start a VM from (`launch`): the checked state file and the memory file's path. */
export interface VmRestore {
  readonly file: SnapshotFile;
  readonly memoryPath: string;
  /** How memory is loaded (snapshot/memory-file.ts): mapped where possible (the default), or read. */
  readonly load?: MemoryLoad;
}

export interface VmmResult {
  /** 0 when every VM succeeded; otherwise the first failing VM's code (one VM: its own code). */
  readonly exitCode: number;
  readonly vms: readonly VmSummary[];
}

/** `--trace-exits` output goes to stderr, beside the logs, never into the guest console on stdout. */
const traceLine = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export class Vmm {
  readonly #options: VmmOptions;
  readonly #log: ConsolaInstance;
  readonly #configs: VmConfig[] = [];
  readonly #hypervisors = new Map<string, Hypervisor>();
  readonly #running = new Map<number, AxVM>();
  #stopped = false;
  #gdb: GdbServer | undefined;
  /** The console of VMs started by `launch` (stdout unless the options give a writer). */
  #launchSink: ByteWriter | ConsoleSink | undefined;
  #hypercallHandler:
    | ((vm: AxVM, vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined)
    | undefined;

  constructor(options: VmmOptions = {}) {
    this.#options = options;
    this.#log = consola.withTag("vmm");
    if (options.logLevel !== undefined) consola.level = CONSOLA_LEVELS[options.logLevel];
  }

  /** Register a VM to run; returns its id. Nothing is created until `run`. */
  addVm(config: VmConfig): number {
    if (this.#configs.some((c) => c.id === config.id)) {
      throw new VmError(
        "config",
        `vm ${config.id} (${config.name})`,
        `another VM already has id ${config.id} (${config.source})`,
      );
    }
    this.#configs.push(config);
    return config.id;
  }

  /** Handle axvisor hypercalls from every VM (return undefined for "not supported"). */
  onHypercall(handler: (vm: AxVM, vcpuId: number, nr: bigint, args: readonly bigint[]) => bigint | undefined): void {
    this.#hypercallHandler = handler;
  }

  /** Create, boot and run every VM until all have stopped. Never rejects: failures are in the result. */
  async run(): Promise<VmmResult> {
    const gdbProblem = this.#startGdb();
    if (gdbProblem !== undefined) {
      this.#log.error(gdbProblem);
      return { exitCode: 1, vms: [] };
    }
    try {
      return await this.#runAll();
    } finally {
      this.#gdb?.close();
      this.#gdb = undefined;
    }
  }

  /** Open the GDB stub's socket when asked to; returns what is wrong instead when it cannot. */
  #startGdb(): string | undefined {
    const address = this.#options.gdb;
    if (address === undefined) return undefined;
    if (this.#configs.length !== 1) {
      return `Cannot debug with --gdb: it serves one VM, and ${this.#configs.length} are configured`;
    }
    const arch = this.#configs[0]?.arch;
    if (arch !== undefined && gdbArchitectureFor(arch) === undefined) {
      return `Cannot debug with --gdb: the GDB stub does not debug ${arch} guests yet (riscv64, and x86_64 on KVM)`;
    }
    try {
      this.#gdb = GdbServer.listen(address, consola.withTag("gdb"));
    } catch (error) {
      return errorMessage(error);
    }
    const server = this.#gdb;
    if (this.#options.onGdbListening !== undefined) this.#options.onGdbListening(server);
    else process.stderr.write(`axvisor: waiting for gdb on ${formatGdbAddress(server.address)}\n`);
    return undefined;
  }

  async #runAll(): Promise<VmmResult> {
    const several = this.#configs.length > 1;
    // One sink for every VM on stdout, so that they share its backpressure.
    const ownSink = this.#options.console?.writer === undefined ? new StreamSink(process.stdout) : undefined;
    const writer = this.#options.console?.writer ?? ownSink;
    let input: HostConsoleInput | undefined;
    if (this.#options.console?.stdin === true && this.#configs.length > 0) {
      const first = this.#configs[0]?.id;
      input = new HostConsoleInput({
        deliver: (bytes) => {
          if (first !== undefined) this.consoleInput(first, bytes);
        },
        onQuit: () => this.stop(),
        onShutdownRequest: () => {
          const sent = first === undefined ? undefined : this.requestShutdown(first);
          process.stderr.write(
            `\r\naxvisor: Ctrl-A R: ${sent === undefined ? "nothing sent (the VM is not running, or its machine has no shutdown control)" : `sent ${sent}`}\r\n`,
          );
        },
      });
      input.start();
    }
    try {
      const summaries = await Promise.all(this.#configs.map((config) => this.#runOne(config, several, writer)));
      const failing = summaries.find((s) => s.exitCode !== 0);
      return { exitCode: failing?.exitCode ?? 0, vms: summaries };
    } finally {
      ownSink?.dispose();
      input?.stop();
      for (const hypervisor of this.#hypervisors.values()) hypervisor[Symbol.dispose]();
      this.#hypervisors.clear();
    }
  }

  /**
   * Type `bytes` into VM `vmId`'s console (its UART receive side), as host keyboard input would. Returns false
   * when that VM is not running (nothing is queued for it then).
   */
  consoleInput(vmId: number, bytes: Uint8Array): boolean {
    const vm = this.#running.get(vmId);
    if (vm === undefined || vm.board.consoleInput === undefined) return false;
    vm.board.consoleInput(bytes);
    return true;
  }

  /**
   * Ask VM `vmId`'s guest to shut down the way its machine's controls do (Ctrl-A R): returns what was sent, or
   * undefined when that VM is not running or its board has no such control.
   */
  requestShutdown(vmId: number): string | undefined {
    const vm = this.#running.get(vmId);
    if (vm === undefined || vm.board.requestShutdown === undefined) return undefined;
    return vm.board.requestShutdown();
  }

  /** VM `vmId` while it is built and running (paused included), else undefined. */
  vm(vmId: number): AxVM | undefined {
    return this.#running.get(vmId);
  }

  /** The VMs running now (built, not yet stopped), by id. */
  runningVms(): readonly AxVM[] {
    return [...this.#running.values()];
  }

  /** Stop every VM (Ctrl-C, Ctrl-A X). */
  stop(): void {
    this.#stopped = true;
    for (const vm of this.#running.values()) vm.shutdown();
  }

  /**
   * Build and run one more VM now, beside any running (the API server's InstanceStart and snapshot/load). With
   * `restore`, the VM is built from the snapshot's config, loaded from it and left paused (`AxVM.resume`).
   * `onBuilt` gets the VM once it exists (before it runs). Resolves with how the VM ended; never rejects.
   */
  launch(
    config: VmConfig,
    options: { readonly restore?: VmRestore; readonly onBuilt?: (vm: AxVM) => void } = {},
  ): Promise<VmSummary> {
    if (this.#running.has(config.id)) {
      return Promise.resolve({
        id: config.id,
        name: config.name,
        status: "Stopped",
        reason: "error",
        exitCode: 1,
        backend: undefined,
        error: `another VM with id ${config.id} is running`,
      });
    }
    this.#launchSink ??= this.#options.console?.writer ?? new StreamSink(process.stdout);
    return this.#runOne(config, false, this.#launchSink, options);
  }

  async #runOne(
    config: VmConfig,
    several: boolean,
    writer: ByteWriter | ConsoleSink | undefined,
    options: { readonly restore?: VmRestore; readonly onBuilt?: (vm: AxVM) => void } = {},
  ): Promise<VmSummary> {
    const label = `vm ${config.id} (${config.name})`;
    let backendName: string | undefined;
    const maxReboots = this.#options.maxReboots ?? 16;
    for (let boot = 0; ; boot++) {
      let vm: AxVM;
      try {
        vm = await buildVm(config, {
          backends: this.#options.backends ?? backends,
          hypervisorFor: (backend) => {
            backendName = backend.name;
            return this.#hypervisor(backend);
          },
          console: {
            ...(several ? { prefix: `[${config.name}] ` } : {}),
            ...(writer === undefined ? {} : { writer }),
          },
          log: consola.withTag(`vm${config.id}`),
          // The only VM of the run may keep its vCPU on this thread (a KVM vCPU then exits without a hand-over).
          exclusiveThread: !several,
          ...(this.#options.traceExits === true ? { traceExits: traceLine } : {}),
        });
      } catch (error) {
        const message = errorMessage(error);
        this.#log.error(message.startsWith(label) ? message : `${label}: ${message}`);
        return {
          id: config.id,
          name: config.name,
          status: "Stopped",
          reason: "error",
          exitCode: 1,
          backend: backendName,
          error: message,
        };
      }
      const handler = this.#hypercallHandler;
      if (handler !== undefined) vm.onHypercall((vcpuId, nr, args) => handler(vm, vcpuId, nr, args));
      if (options.restore !== undefined && boot === 0) {
        try {
          loadSnapshotInto(vm, options.restore.file, options.restore.memoryPath, options.restore.load);
        } catch (error) {
          const message = errorMessage(error);
          this.#log.error(message);
          vm.shutdown();
          await vm.run();
          return {
            id: config.id,
            name: config.name,
            status: "Stopped",
            reason: "error",
            exitCode: 1,
            backend: backendName,
            error: message,
          };
        }
      }
      this.#running.set(config.id, vm);
      options.onBuilt?.(vm);
      if (this.#stopped) vm.shutdown();
      const gdbArch = this.#gdb === undefined ? undefined : gdbArchitectureFor(config.arch);
      if (gdbArch !== undefined && !this.#stopped) this.#gdb?.attach(vm, gdbArch);
      const result = await vm.run();
      this.#running.delete(config.id);
      const rebooting = result.reason === "reboot" && !this.#stopped && boot < maxReboots;
      if (!rebooting) this.#gdb?.vmEnded(result.exitCode);
      if (this.#options.traceExits === true) {
        for (const line of formatVmStats(vm.label, vm.board.name, vm.stats)) traceLine(line);
      }
      if (result.reason === "reboot" && !this.#stopped) {
        if (boot < maxReboots) {
          this.#log.info(`${label}: guest requested a reboot; booting it again`);
          continue;
        }
        this.#log.error(`${label}: rebooted ${maxReboots} times; stopping it`);
        return {
          id: config.id,
          name: config.name,
          status: vm.status,
          reason: "error",
          exitCode: 1,
          backend: backendName,
          error: `more than ${maxReboots} reboots`,
        };
      }
      return {
        id: config.id,
        name: config.name,
        status: vm.status,
        reason: result.reason,
        exitCode: result.exitCode,
        backend: backendName,
        ...(result.error === undefined ? {} : { error: result.error.message }),
      };
    }
  }

  #hypervisor(backend: HalBackend): Hypervisor {
    let hypervisor = this.#hypervisors.get(backend.name);
    if (hypervisor === undefined) {
      hypervisor = backend.open();
      this.#hypervisors.set(backend.name, hypervisor);
    }
    return hypervisor;
  }
}
