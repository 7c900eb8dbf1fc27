/**
 * Boots x86_64 Linux through the whole VMM — a VM config, the builder's x86 PC machine, the KVM backend — and
 * watches the serial console for a marker. Run by scripts/e2e/20-kvm-linux.sh inside the nested QEMU guest, where
 * /dev/kvm is a real SVM KVM.
 *
 *   bun scripts/e2e/kvm-linux-boot.ts --kernel vmlinuz [--initrd initrd.cpio.gz] [--cmdline "..."] [--mem MiB]
 *       [--cpus N] [--marker TEXT] [--timeout SECONDS] [--expect poweroff|reset] [--disk FILE] [--rng] [--hvc]
 *       [--shutdown-request-on TEXT] [--tap NAME]
 *
 * The VM runs with on_reset = "stop", so both ways a guest can end itself stop the VM with exit 0; which one it was
 * is taken from the VMM's reason for the stop (logged at debug level): `--expect poweroff` (the default) wants ACPI
 * S5 (PM1a_CNT.SLP_EN), `--expect reset` a pulse of the reset line (the i8042, directly with `reboot=k` or through
 * the FADT's reset register).
 * `--disk` gives the VM a virtio-blk (kernel.disk_path), `--rng` a virtio-rng and `--hvc` a virtio-console (as
 * emu_devices entries in the x86 board's virtio-mmio windows 1 and 2). `--shutdown-request-on TEXT`: once TEXT
 * appears on the console, ask the guest to shut down as Ctrl-A R does (Vmm.requestShutdown) and print what was sent.
 * `--tap NAME` gives the VM a virtio-net on host TAP NAME (`[[devices.nets]]`, placed by the board).
 *
 * The marker line must also say "cpus N," with N = --cpus (the guest brought every vCPU up); this is checked on the
 * console stream itself, which the driver's own notes on stderr cannot split.
 *
 * Exit status: 0 when the marker appeared and the guest then stopped itself the expected way; 1 otherwise
 * (timeout, crash, failed entry, unsupported exit, the other way of stopping), with the reason on stderr.
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { consola } from "consola";
import { virtioMmioWindow } from "../../src/vmm/boards/x86-pc/layout.ts";
import { parseVmConfig } from "../../src/vmm/config/index.ts";
import { Vmm } from "../../src/vmm/vmm.ts";

/** A stock command line: no i8042.* options, no pci=off; `quiet` keeps the slow (nested) serial console short. */
export const DEFAULT_CMDLINE = "console=ttyS0 panic=-1 quiet";

const { values } = parseArgs({
  options: {
    kernel: { type: "string" },
    initrd: { type: "string" },
    cmdline: { type: "string", default: DEFAULT_CMDLINE },
    mem: { type: "string", default: "256" },
    cpus: { type: "string", default: "1" },
    marker: { type: "string", default: "AXVISOR-KVM-E2E: init reached" },
    timeout: { type: "string", default: "900" },
    expect: { type: "string", default: "poweroff" },
    disk: { type: "string" },
    rng: { type: "boolean", default: false },
    hvc: { type: "boolean", default: false },
    "shutdown-request-on": { type: "string" },
    tap: { type: "string" },
  },
});
if (values.kernel === undefined) {
  console.error("kvm-linux-boot: --kernel is required");
  process.exit(2);
}
const expected = values.expect;
if (expected !== "poweroff" && expected !== "reset") {
  console.error(`kvm-linux-boot: --expect must be poweroff or reset, not "${expected}"`);
  process.exit(2);
}
const kernel = resolve(values.kernel);
const memBytes = Number(values.mem) * 0x10_0000;
const emuDevice = (name: string, type: string, window: number): string => {
  const { base, size, gsi } = virtioMmioWindow(window);
  return `
[[devices.emu_devices]]
name = "${name}"
base_gpa = 0x${base.toString(16)}
length = 0x${size.toString(16)}
irq_id = ${gsi}
emu_type = "${type}"
cfg_list = []
`;
};
const toml = `
[base]
id = 1
name = "linux-x86"
vm_type = 2
cpu_num = ${Number(values.cpus)}
arch = "x86_64"
backend = "kvm"
on_reset = "stop"

[kernel]
kernel_path = ${JSON.stringify(kernel)}
${values.initrd === undefined ? "" : `ramdisk_path = ${JSON.stringify(resolve(values.initrd))}`}
${values.disk === undefined ? "" : `disk_path = ${JSON.stringify(resolve(values.disk))}`}
cmdline = ${JSON.stringify(values.cmdline)}
memory_regions = [[0x0, 0x${memBytes.toString(16)}, 0x7, 0]]

[devices]
console = "stdout"
${values.rng ? emuDevice("rng", "virtio-rng", 1) : ""}
${values.hvc ? emuDevice("hvc", "virtio-console", 2) : ""}
${values.tap === undefined ? "" : `[[devices.nets]]\ntap = ${JSON.stringify(values.tap)}`}
`;
const config = parseVmConfig(toml, { baseDir: dirname(kernel), sourceName: "kvm-linux-boot" });

// How the VM stopped, from the reason the VMM logs (at debug level) when a device stops it.
let stoppedBy: "acpi-s5" | "reset" | undefined;
consola.addReporter({
  log: (entry) => {
    const text = entry.args.map(String).join(" ");
    if (text.includes("ACPI S5")) stoppedBy = "acpi-s5";
    else if (text.includes("reset line pulsed")) stoppedBy = "reset";
  },
});

const marker = values.marker;
const shutdownOn = values["shutdown-request-on"];
const started = performance.now();
let recent = "";
let markerSeconds: number | undefined;
let lastOutput = performance.now();
const cpusText = `cpus ${Number(values.cpus)},`;
let cpusSeen = false;
let shutdownRequested = false;
const decoder = new TextDecoder();
const vmm = new Vmm({
  logLevel: "debug",
  console: {
    writer: (bytes) => {
      process.stdout.write(bytes);
      lastOutput = performance.now();
      recent = (recent + decoder.decode(bytes, { stream: true })).slice(-4096);
      if (markerSeconds === undefined && recent.includes(marker)) markerSeconds = (performance.now() - started) / 1000;
      if (markerSeconds !== undefined && !cpusSeen) cpusSeen = recent.slice(recent.indexOf(marker)).includes(cpusText);
      if (shutdownOn !== undefined && !shutdownRequested && recent.includes(shutdownOn)) {
        shutdownRequested = true;
        // Outside the console write: the request reaches devices the way Ctrl-A R does, between exits.
        setTimeout(() => {
          const sent = vmm.requestShutdown(config.id);
          console.error(`[kvm-linux-boot] shutdown request: sent ${sent ?? "nothing (no shutdown control)"}`);
        }, 0);
      }
    },
  },
});
vmm.addVm(config);
const timeoutMs = Number(values.timeout) * 1000;
let timedOut = false;
const watchdog = setInterval(() => {
  const elapsed = performance.now() - started;
  if (elapsed > timeoutMs) {
    timedOut = true;
    vmm.stop();
  } else if (performance.now() - lastOutput > 30_000) {
    // Only while the console is quiet (a hang shows), so the note never splits a console line.
    lastOutput = performance.now();
    console.error(`\n[kvm-linux-boot] ${Math.round(elapsed / 1000)} s, no console output for 30 s`);
  }
}, 1000);
const result = await vmm.run();
clearInterval(watchdog);

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const vm = result.vms[0];
const wanted = expected === "poweroff" ? "acpi-s5" : "reset";
if (markerSeconds !== undefined && cpusSeen && vm?.reason === "poweroff" && vm.exitCode === 0 && stoppedBy === wanted) {
  console.error(
    `[kvm-linux-boot] PASS: marker (${cpusText.slice(0, -1)}) seen after ${markerSeconds.toFixed(1)} s, the guest stopped itself by ${stoppedBy} after ${seconds} s`,
  );
  process.exit(0);
}
console.error(
  `[kvm-linux-boot] FAIL after ${seconds} s: ${markerSeconds === undefined ? "marker not seen" : cpusSeen ? "marker seen" : `marker seen without "${cpusText}"`}, ` +
    `${timedOut ? "timed out" : `VM ended by ${vm?.reason ?? "?"} (${stoppedBy ?? "no device stop"}, wanted ${wanted}) with code ${vm?.exitCode ?? "?"}`}${vm?.error === undefined ? "" : `: ${vm.error}`}`,
);
process.exit(1);
