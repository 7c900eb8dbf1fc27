/**
 * The CLI commands against a stand-in VMM (a local stub: the real one is exercised by end-to-end tests), checking
 * what reaches the VMM, what is printed, and the exit status.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import type { BackendSupport, HalBackend } from "../hal/types.ts";
import { HalError } from "../hal/types.ts";
import type { VmConfig } from "../vmm/config/index.ts";
import type { LogLevelName } from "../vmm/log-level.ts";
import { exitCodeOf, formatInfo, runCli } from "./cli.ts";
import {
  type CliDeps,
  type CliVmmOptions,
  DEFAULT_CONFIG_PATH,
  type HostStopReason,
  type VmmRunResult,
  type VmOutcome,
} from "./context.ts";

const FIXTURES = resolve(import.meta.dir, "../../test/fixtures/configs");
const ARCEOS = join(FIXTURES, "arceos-riscv64-qemu-smp1.toml");
const LINUX = join(FIXTURES, "linux-riscv64-qemu-smp1.toml");

const dir = mkdtempSync(join(tmpdir(), "axvisor-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records what the CLI asks of the VMM and answers `run` with a scripted outcome. */
class StubVmm {
  readonly configs: VmConfig[] = [];
  stopped = 0;
  constructor(
    readonly options: CliVmmOptions,
    private readonly outcome: (configs: readonly VmConfig[], vmm: StubVmm) => Promise<VmmRunResult>,
  ) {}
  addVm(config: VmConfig): number {
    this.configs.push(config);
    return config.id;
  }
  run(): Promise<VmmRunResult> {
    return this.outcome(this.configs, this);
  }
  stop(): void {
    this.stopped++;
  }
}

function backend(name: "kvm" | "hvf" | "emulated", support: Omit<BackendSupport, "backend">): HalBackend {
  return {
    name,
    hasHardwareSupport: () => ({ backend: name, ...support }),
    open: () => {
      throw new HalError(name, "unsupported", "open", "stub backend");
    },
  };
}

interface Harness {
  readonly deps: CliDeps;
  readonly out: string[];
  readonly err: string[];
  readonly vmms: StubVmm[];
  readonly levels: LogLevelName[];
  /** Simulate Ctrl-C, or another way the host ends a run. */
  interrupt(reason?: HostStopReason): void;
  handlers(): number;
}

const allOk = (configs: readonly VmConfig[]): Promise<VmmRunResult> =>
  Promise.resolve({
    exitCode: 0,
    vms: configs.map((c) => ({ id: c.id, name: c.name, status: "Stopped", exitCode: 0 })),
  });

function harness(outcome: (configs: readonly VmConfig[], vmm: StubVmm) => Promise<VmmRunResult> = allOk): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const vmms: StubVmm[] = [];
  const levels: LogLevelName[] = [];
  const handlers = new Set<(reason: HostStopReason) => void>();
  const deps: CliDeps = {
    loadVmm: () =>
      Promise.resolve({
        loadBackends: () =>
          Promise.resolve([
            backend("kvm", { available: false, reason: "no /dev/kvm", archs: [] }),
            backend("emulated", { available: true, reason: "pure-TypeScript RV64GC+H hart", archs: ["riscv64"] }),
          ]),
        createVmm: (options: CliVmmOptions) => {
          const vmm = new StubVmm(options, outcome);
          vmms.push(vmm);
          return vmm;
        },
      }),
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    onHostStop: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    stdinIsTty: false,
    setLogLevel: (level) => levels.push(level),
    version: "9.9.9",
  };
  return {
    deps,
    out,
    err,
    vmms,
    levels,
    interrupt: (reason = "SIGINT") => {
      for (const handler of handlers) handler(reason);
    },
    handlers: () => handlers.size,
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour sequences start with ESC.
const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "");

describe("check", () => {
  test("prints each resolved VM and exits 0", async () => {
    const h = harness();
    expect(await runCli(["check", LINUX], h.deps)).toBe(0);
    expect(h.err).toEqual([]);
    const text = h.out.join("\n");
    expect(text).toStartWith(`VM 1 "linux-qemu" from ${LINUX}\n`);
    expect(text).toContain("  memory   0x90000000..0xcfffffff 1 GiB rwx reserved");
    expect(h.vmms).toEqual([]);
  });

  test("a bad config: the problem list on stderr, no stack trace, exit 2", async () => {
    const bad = join(dir, "bad.toml");
    writeFileSync(
      bad,
      '[base]\nid = 1\nname = "b"\ncpu_num = 0\ncpus = 3\n[kernel]\nkernel_path = "none.bin"\nkernel_load_addr = 0x8020_0000\nmemory_regions = []\n',
    );
    const h = harness();
    expect(await runCli(["check", bad], h.deps)).toBe(2);
    expect(h.out).toEqual([]);
    expect(h.err).toEqual([`Cannot load VM config ${bad}: 1 problem\n  - base.cpus = 3: unknown key`]);
    expect(h.err.join("\n")).not.toMatch(/\n\s+at /);
  });

  test("two configs with the same id are refused (axvisor's two riscv64 examples both use id 1)", async () => {
    const h = harness();
    expect(await runCli(["check", ARCEOS, LINUX], h.deps)).toBe(2);
    expect(h.err).toEqual([
      `Cannot load VM config ${LINUX}: 1 problem\n  - base.id = 1: is also the id of ${ARCEOS} ("arceos-qemu"); VM ids must differ`,
    ]);
    const r = harness();
    expect(await runCli(["run", ARCEOS, LINUX], r.deps)).toBe(2);
    expect(r.vmms).toEqual([]);
  });
});

describe("run", () => {
  test("no arguments runs the embedded default config", async () => {
    const h = harness();
    const code = await runCli([], h.deps);
    // configs/default.toml names test/guests/riscv/hello.bin; until that guest is built the config is refused.
    if (h.vmms.length === 0) {
      expect(code).toBe(2);
      expect(h.err.join("\n")).toContain(`Cannot load VM config ${DEFAULT_CONFIG_PATH}`);
    } else {
      expect(code).toBe(0);
      expect(h.vmms[0]?.configs.map((c) => c.source)).toEqual([DEFAULT_CONFIG_PATH]);
    }
  });

  test("one VM: exit status is the guest's shutdown code; options reach the VMM", async () => {
    const h = harness((configs) =>
      Promise.resolve({
        exitCode: 3,
        vms: configs.map((c) => ({ id: c.id, name: c.name, status: "Stopped", exitCode: 3 })),
      }),
    );
    expect(await runCli(["run", "--log-level", "debug", "--trace-exits", ARCEOS], h.deps)).toBe(3);
    expect(h.vmms).toHaveLength(1);
    expect(h.vmms[0]?.options).toEqual({ logLevel: "debug", traceExits: true, console: { stdin: false } });
    expect(h.vmms[0]?.configs.map((c) => c.name)).toEqual(["arceos-qemu"]);
    expect(h.levels).toEqual(["debug"]);
    expect(h.handlers()).toBe(0); // the Ctrl-C handler is removed after the run
  });

  test("flags before the subcommand apply to it", async () => {
    const h = harness();
    expect(await runCli(["--log-level", "trace", "run", ARCEOS, "--stdin"], h.deps)).toBe(0);
    expect(h.vmms[0]?.options).toEqual({ logLevel: "trace", traceExits: false, console: { stdin: true } });
  });

  test("--gdb takes a port, HOST:PORT or a socket path; anything else is a usage error naming it", async () => {
    const h = harness();
    expect(await runCli(["run", ARCEOS, "--gdb", "1234"], h.deps)).toBe(0);
    expect(h.vmms[0]?.options).toMatchObject({ gdb: { kind: "tcp", host: "127.0.0.1", port: 1234 } });
    expect(await runCli(["run", ARCEOS, "--gdb", "0.0.0.0:5555"], h.deps)).toBe(0);
    expect(h.vmms[1]?.options).toMatchObject({ gdb: { kind: "tcp", host: "0.0.0.0", port: 5555 } });
    expect(await runCli(["run", ARCEOS, "--gdb", "/tmp/axvisor-gdb.sock"], h.deps)).toBe(0);
    expect(h.vmms[2]?.options).toMatchObject({ gdb: { kind: "unix", path: "/tmp/axvisor-gdb.sock" } });
    expect(await runCli(["run", ARCEOS, "--gdb", "70000"], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain('Cannot listen for GDB on "70000": expected PORT (1..65535)');
    expect(h.vmms).toHaveLength(3);
  });

  test("several configs run as several VMs in one VMM; 0 only if all succeeded", async () => {
    const other = join(dir, "other.toml");
    writeFileSync(
      other,
      (await Bun.file(ARCEOS).text())
        .replace("id = 1", "id = 2")
        .replace('kernel_path = "images/', `kernel_path = "${FIXTURES}/images/`),
    );
    const ok = harness();
    expect(await runCli(["run", ARCEOS, other], ok.deps)).toBe(0);
    expect(ok.vmms).toHaveLength(1);
    expect(ok.vmms[0]?.configs.map((c) => c.id)).toEqual([1, 2]);

    const oneFails = harness((configs) =>
      Promise.resolve({
        exitCode: 0,
        vms: configs.map(
          (c, i): VmOutcome => ({ id: c.id, name: c.name, status: "Stopped", exitCode: i === 1 ? 7 : 0 }),
        ),
      }),
    );
    expect(await runCli(["run", ARCEOS, other], oneFails.deps)).toBe(7);
  });

  test("a runtime VM error: its message on stderr, exit 1", async () => {
    const h = harness((configs) =>
      Promise.resolve({
        exitCode: 1,
        vms: configs.map((c) => ({
          id: c.id,
          name: c.name,
          status: "Stopped",
          exitCode: 1,
          error: 'backend "kvm" cannot run here: no /dev/kvm',
        })),
      }),
    );
    expect(await runCli(["run", ARCEOS], h.deps)).toBe(1);
    expect(h.err).toEqual(['vm 1 (arceos-qemu): backend "kvm" cannot run here: no /dev/kvm']);
  });

  test("Ctrl-C stops the VMM and exits 130", async () => {
    const h = harness((configs, vmm) => {
      h.interrupt();
      expect(vmm.stopped).toBe(1);
      return Promise.resolve({
        exitCode: 0,
        vms: configs.map((c) => ({ id: c.id, name: c.name, status: "Stopped", exitCode: 0 })),
      });
    });
    expect(await runCli(["run", ARCEOS], h.deps)).toBe(130);
    expect(h.vmms[0]?.stopped).toBe(1);
  });

  test("SIGTERM, SIGHUP and a closed stdout stop the VMM too: 143, 129, 141; signals are reported", async () => {
    for (const [reason, code] of [
      ["SIGTERM", 143],
      ["SIGHUP", 129],
      ["stdout-closed", 141],
    ] as const) {
      const h = harness((configs, vmm) => {
        h.interrupt(reason);
        // A second signal only repeats the stop; the first reason sets the status.
        h.interrupt("SIGINT");
        expect(vmm.stopped).toBe(2);
        return Promise.resolve({
          exitCode: 0,
          vms: configs.map((c) => ({ id: c.id, name: c.name, status: "Stopped", exitCode: 130 })),
        });
      });
      expect({ reason, code: await runCli(["run", ARCEOS], h.deps) }).toEqual({ reason, code });
      expect(h.err).toEqual(reason === "stdout-closed" ? [] : [`axvisor: ${reason} received: stopping the VMs`]);
    }
  });

  test("--machine virt --bios none builds a bare-machine VM (128 MiB unless --memory)", async () => {
    const program = join(dir, "prog.bin");
    writeFileSync(program, new Uint8Array(64));
    const h = harness();
    expect(await runCli(["run", "--machine", "virt", "--bios", "none", program], h.deps)).toBe(0);
    const config = h.vmms[0]?.configs[0];
    expect(config?.machine).toBe("virt-bare");
    expect(config?.backend).toBe("emulated");
    expect(config?.arch).toBe("riscv64");
    expect(config?.memoryRegions).toEqual([{ gpa: 0x8000_0000, size: 128 * 2 ** 20, flags: 7, mapType: "alloc" }]);

    const small = harness();
    expect(await runCli(["run", "--machine", "virt", "--bios", "none", "--memory", "16M", program], small.deps)).toBe(
      0,
    );
    expect(small.vmms[0]?.configs[0]?.memoryRegions[0]?.size).toBe(16 * 2 ** 20);
  });

  test("usage errors exit 2 with a hint and run nothing", async () => {
    for (const argv of [
      ["run", "--log-levle", "debug", ARCEOS],
      ["run", "--log-level", "loud", ARCEOS],
      ["run", "--memory", "64M", ARCEOS],
      ["run", "--machine", "virt", "--memory", "lots", "x.elf"],
      ["run", "--machine", "virt"],
      ["frobnicate"],
      ["check", "--bogus"],
    ]) {
      const h = harness();
      expect({ argv, code: await runCli(argv, h.deps) }).toEqual({ argv, code: 2 });
      expect(h.vmms).toEqual([]);
      expect(stripAnsi(h.err.join("\n"))).toContain("See: axvisor --help");
    }
  });

  test("a missing program for --machine is a config error", async () => {
    const h = harness();
    expect(await runCli(["run", "--machine", "virt", "--bios", "none", join(dir, "missing.elf")], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain("program =");
  });
});

describe("info, help, version", () => {
  test("info lists every backend, available or not, with the reason", async () => {
    const h = harness();
    expect(await runCli(["info"], h.deps)).toBe(0);
    const lines = h.out.join("\n").split("\n");
    expect(lines[0]).toStartWith("axvisor-ts 9.9.9 on ");
    expect(lines.slice(1)).toEqual([
      "backends:",
      "  kvm       unavailable                         no /dev/kvm",
      "  emulated  available    guests riscv64         pure-TypeScript RV64GC+H hart",
    ]);
  });

  test("info reports a probe that throws instead of crashing", () => {
    const broken: HalBackend = {
      name: "hvf",
      hasHardwareSupport: () => {
        throw new Error("dlopen failed");
      },
      open: () => {
        throw new Error("unreachable");
      },
    };
    expect(formatInfo({ backends: [broken], version: "1" })).toContain(
      "hvf       unavailable                         probe failed: dlopen failed",
    );
  });

  test("a VMM that cannot be loaded: its reason on stderr, exit 1; check still works", async () => {
    const h = harness();
    const deps: CliDeps = {
      ...h.deps,
      loadVmm: () => Promise.reject(new Error("Cannot find module '../hal/emulated/index.ts'")),
    };
    expect(await runCli(["run", ARCEOS], deps)).toBe(1);
    expect(await runCli(["info"], deps)).toBe(1);
    expect(h.err).toEqual([
      "Cannot start the VMM: Cannot find module '../hal/emulated/index.ts'",
      "Cannot start the VMM: Cannot find module '../hal/emulated/index.ts'",
    ]);
    expect(await runCli(["check", LINUX], deps)).toBe(0);
  });

  test("--help and --version", async () => {
    const h = harness();
    expect(await runCli(["--help"], h.deps)).toBe(0);
    const text = stripAnsi(h.out.join("\n"));
    expect(text).toContain("run");
    expect(text).toContain("check");
    expect(text).toContain("info");
    const r = harness();
    expect(await runCli(["run", "--help"], r.deps)).toBe(0);
    expect(stripAnsi(r.out.join("\n"))).toContain("--machine");
    const v = harness();
    expect(await runCli(["--version"], v.deps)).toBe(0);
    expect(v.out).toEqual(["9.9.9"]);
  });
});

describe("exitCodeOf", () => {
  const vm = (exitCode: number, error?: string): VmOutcome => ({
    id: 0,
    name: "x",
    status: "Stopped",
    exitCode,
    ...(error === undefined ? {} : { error }),
  });
  test("one VM: its own code, and 1 for an error reported with code 0", () => {
    expect(exitCodeOf({ exitCode: 5, vms: [vm(5)] })).toBe(5);
    expect(exitCodeOf({ exitCode: 0, vms: [vm(0, "boom")] })).toBe(1);
  });
  test("several: 0 only if all succeeded", () => {
    expect(exitCodeOf({ exitCode: 0, vms: [vm(0), vm(0)] })).toBe(0);
    expect(exitCodeOf({ exitCode: 0, vms: [vm(0), vm(4)] })).toBe(4);
    expect(exitCodeOf({ exitCode: 0, vms: [vm(0), vm(0, "boom")] })).toBe(1);
  });
});

describe("serve, run --api-sock, api", () => {
  test("serve needs --api-sock; a VMM without an API server says so", async () => {
    const h = harness();
    expect(await runCli(["serve"], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain("api-sock");
    const g = harness();
    expect(await runCli(["serve", "--api-sock", join(dir, "s.sock")], g.deps)).toBe(1);
    expect(g.err).toEqual(["--api-sock: this VMM has no API server"]);
  });

  test("run --api-sock with a VMM without an API server fails before running anything", async () => {
    const h = harness();
    expect(await runCli(["run", "--api-sock", join(dir, "r.sock"), LINUX], h.deps)).toBe(1);
    expect(h.err).toEqual(["--api-sock: this VMM has no API server"]);
    expect(h.vmms[0]?.configs.length).toBe(1);
  });

  test("api: a bad method, a URL that is not a path or a body that is not JSON is a usage error", async () => {
    const h = harness();
    expect(await runCli(["api", "x.sock", "FETCH", "/"], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain('Unknown HTTP method "FETCH"');
    expect(await runCli(["api", "x.sock", "GET", "vm"], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain('The URL must be a path starting with "/"');
    expect(await runCli(["api", "x.sock", "PUT", "/vm", "{state"], h.deps)).toBe(2);
    expect(h.err.join("\n")).toContain("The request body is not JSON");
  });

  test("api: a socket nobody serves is reported, exit 1", async () => {
    const h = harness();
    expect(await runCli(["api", join(dir, "nobody.sock"), "GET", "/"], h.deps)).toBe(1);
    expect(h.err.join("\n")).toContain("Cannot reach the API on");
  });
});
