/**
 * Boots x86_64 Linux on our KVM backend with the x86 machine pieces (src/vmm/x86) and the PC legacy devices, and
 * watches the serial console for a marker. A self-contained driver for scripts/e2e/kvm-linux.sh (run inside the
 * nested QEMU guest, where /dev/kvm is a real SVM KVM) until the VMM builder runs x86 configs.
 *
 *   bun scripts/e2e/kvm-linux-boot.ts --kernel vmlinuz [--initrd initrd.cpio.gz] [--cmdline "..."] [--mem MiB]
 *       [--cpus N] [--marker TEXT] [--timeout SECONDS]
 *
 * Exit status: 0 when the marker appeared and the guest then asked for a reset (i8042, `reboot=k`) or a power-off;
 * 1 otherwise (timeout, crash, failed entry, unsupported exit), with the reason on stderr.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GuestMemory } from "../../src/addrspace/guest-memory.ts";
import { Bus } from "../../src/devices/bus.ts";
import { kvmBackend, type KvmVcpu } from "../../src/hal/kvm/index.ts";
import { type AxVCpuExitReason, MappingFlags } from "../../src/hal/types.ts";
import { attachX86LegacyDevices } from "../../src/vmm/x86/legacy-devices.ts";
import { ramRegions } from "../../src/vmm/x86/layout.ts";
import { prepareLinuxBoot } from "../../src/vmm/x86/linux-boot.ts";

const DEFAULT_CMDLINE =
  "console=ttyS0 reboot=k panic=-1 pci=off nomodule i8042.noaux i8042.nomux i8042.dumbkbd no_timer_check tsc=reliable nowatchdog quiet";

const { values } = parseArgs({
  options: {
    kernel: { type: "string" },
    initrd: { type: "string" },
    cmdline: { type: "string", default: DEFAULT_CMDLINE },
    mem: { type: "string", default: "256" },
    cpus: { type: "string", default: "1" },
    marker: { type: "string", default: "AXVISOR-KVM-E2E: init reached" },
    timeout: { type: "string", default: "900" },
  },
});
if (values.kernel === undefined) {
  console.error("kvm-linux-boot: --kernel is required");
  process.exit(2);
}
const memSize = Number(values.mem) * 0x10_0000;
const cpuCount = Number(values.cpus);
const deadline = performance.now() + Number(values.timeout) * 1000;
const marker = values.marker;

const support = kvmBackend.hasHardwareSupport();
if (!support.available) {
  console.error(`kvm-linux-boot: KVM unavailable: ${support.reason}`);
  process.exit(1);
}

using hypervisor = kvmBackend.open();
using vm = hypervisor.createVm({ arch: "x86_64", vmId: 1, cpuCount });
const regions = ramRegions(memSize).map((region, i) => {
  const host = vm.allocateMemory(region.size);
  vm.mapGuestMemory(region.gpa, host, MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE);
  return { name: i === 0 ? "ram" : "ram-high", gpa: region.gpa, bytes: host.bytes, host, hostOffset: 0 };
});
const memory = new GuestMemory(regions);

type Outcome = { kind: "running" } | { kind: "reset" } | { kind: "poweroff" } | { kind: "failed"; reason: string };
/** Mutated by device callbacks and the exit handler (an object, so TypeScript does not narrow it away). */
const run: { outcome: Outcome } = { outcome: { kind: "running" } };
let console_ = "";
let markerSeen = false;
let markerSeconds = 0;
const started = performance.now();
const portBus = new Bus("port");
/** Diagnostics for the status lines: GSI level changes ("4+" / "4-") and accesses per COM1 register. */
const irqChanges = new Map<string, number>();
const com1Accesses = new Map<string, number>();
const mmioBus = new Bus("mmio");
const devices = attachX86LegacyDevices({
  portBus,
  mmioBus,
  setIrqLine: (gsi, level) => {
    irqChanges.set(`${gsi}${level ? "+" : "-"}`, (irqChanges.get(`${gsi}${level ? "+" : "-"}`) ?? 0) + 1);
    vm.setIrqLine(gsi, level);
  },
  serialSink: (bytes) => {
    process.stdout.write(bytes);
    console_ = (console_ + new TextDecoder().decode(bytes)).slice(-4096);
    if (!markerSeen && console_.includes(marker)) {
      markerSeen = true;
      markerSeconds = (performance.now() - started) / 1000;
    }
  },
  onReset: () => {
    if (run.outcome.kind === "running") run.outcome = { kind: "reset" };
  },
  onBootComplete: () => console.error(`\n[kvm-linux-boot] boot-timer: init started after ${((performance.now() - started) / 1000).toFixed(1)} s`),
});

const plan = prepareLinuxBoot(memory, {
  kernel: new Uint8Array(readFileSync(values.kernel)),
  ...(values.initrd === undefined ? {} : { initrd: new Uint8Array(readFileSync(values.initrd)) }),
  cmdline: values.cmdline,
  ram: ramRegions(memSize),
  cpuCount,
});
console.error(`[kvm-linux-boot] ${plan.kernel.format} entry 0x${plan.kernel.entry.toString(16)}, ${values.mem} MiB, ${cpuCount} vCPU(s)`);

const vcpus: KvmVcpu[] = [];
for (let id = 0; id < cpuCount; id++) {
  const vcpu = vm.createVcpu(id);
  vcpu.setupX86(plan.vcpuState);
  vcpus.push(vcpu);
}

/** The exit dispatch of this driver: devices on the port and MMIO buses, everything else ends the run. */
function handle(vcpu: KvmVcpu, exit: AxVCpuExitReason): void {
  switch (exit.kind) {
    case "IoWrite": {
      if (exit.port >= 0x3f8 && exit.port < 0x400) com1Accesses.set(`w${exit.port - 0x3f8}`, (com1Accesses.get(`w${exit.port - 0x3f8}`) ?? 0) + 1);
      const result = portBus.write(exit.port, exit.width, exit.data);
      if (result.kind === "unmapped") devices.unclaimed.write(exit.port, exit.width === 8 ? 4 : exit.width, Number(exit.data & 0xffff_ffffn));
      return;
    }
    case "IoRead": {
      if (exit.port >= 0x3f8 && exit.port < 0x400) com1Accesses.set(`r${exit.port - 0x3f8}`, (com1Accesses.get(`r${exit.port - 0x3f8}`) ?? 0) + 1);
      const result = portBus.read(exit.port, exit.width);
      vcpu.setReturnValue(result.kind === "ok" ? result.value : BigInt(devices.unclaimed.read(exit.port, exit.width === 8 ? 4 : exit.width)));
      return;
    }
    case "MmioWrite":
      mmioBus.write(exit.addr, exit.width, exit.data);
      return;
    case "MmioRead": {
      const result = mmioBus.read(exit.addr, exit.width);
      vcpu.setReturnValue(result.kind === "ok" ? result.value : (1n << BigInt(exit.width * 8)) - 1n);
      return;
    }
    case "Hypercall":
      // No hypercalls are defined for Linux guests: -ENOSYS.
      vcpu.setGpr(0, -38n);
      return;
    case "Nothing":
    case "Halt":
      return;
    case "SystemDown":
      if (run.outcome.kind === "running") run.outcome = exit.action === "crash" ? { kind: "failed", reason: `vCPU ${vcpu.id}: ${exit.action}` } : exit.action === "poweroff" ? { kind: "poweroff" } : { kind: "reset" };
      return;
    default:
      if (run.outcome.kind === "running") run.outcome = { kind: "failed", reason: `vCPU ${vcpu.id}: ${JSON.stringify(exit, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))}` };
  }
}

const lastExit = new Map<number, string>();

/** One loop per vCPU on run threads; every exit is handled here, on the main thread. */
async function runVcpu(vcpu: KvmVcpu): Promise<void> {
  while (run.outcome.kind === "running") {
    if (performance.now() > deadline) {
      run.outcome = { kind: "failed", reason: `timeout after ${values.timeout} s` };
      break;
    }
    const exit = await vcpu.runAsync();
    lastExit.set(vcpu.id, exit.kind === "IoRead" || exit.kind === "IoWrite" ? `${exit.kind} 0x${exit.port.toString(16)}` : exit.kind);
    handle(vcpu, exit);
  }
  for (const other of vcpus) other.kick();
}

// Run threads keep this thread free, so the watchdog can kick a vCPU that never exits.
const STATUS_INTERVAL_MS = 30_000;
let nextStatus = performance.now() + STATUS_INTERVAL_MS;
const status = (): string =>
  vcpus.map((vcpu) => `vCPU ${vcpu.id}: ${vcpu.stats.runs} runs, ${vcpu.stats.exits} exits, last ${lastExit.get(vcpu.id) ?? "-"}`).join("; ") +
  `; irq ${JSON.stringify(Object.fromEntries(irqChanges))}; com1 ${JSON.stringify(Object.fromEntries(com1Accesses))}`;
const watchdog = setInterval(() => {
  if (performance.now() > deadline) for (const vcpu of vcpus) vcpu.kick();
  if (performance.now() > nextStatus) {
    nextStatus += STATUS_INTERVAL_MS;
    console.error(`\n[kvm-linux-boot] ${((performance.now() - started) / 1000).toFixed(0)} s: ${status()}`);
  }
}, 1000);
await Promise.all(vcpus.map((vcpu) => runVcpu(vcpu)));
clearInterval(watchdog);

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const exits = vcpus.reduce((sum, vcpu) => sum + vcpu.stats.exits, 0);
const finalOutcome: Outcome = run.outcome;
if (markerSeen && (finalOutcome.kind === "reset" || finalOutcome.kind === "poweroff")) {
  console.error(`[kvm-linux-boot] PASS: marker seen after ${markerSeconds.toFixed(1)} s, guest stopped by ${finalOutcome.kind} after ${seconds} s (${exits} exits)`);
  process.exit(0);
}
console.error(`[kvm-linux-boot] ${status()}`);
console.error(
  `[kvm-linux-boot] FAIL after ${seconds} s (${exits} exits): ${markerSeen ? "marker seen" : "marker not seen"}, outcome ${finalOutcome.kind === "failed" ? finalOutcome.reason : finalOutcome.kind}`,
);
process.exit(1);
