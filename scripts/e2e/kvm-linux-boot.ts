/**
 * Boots x86_64 Linux through the whole VMM — a VM config, the builder's x86 PC machine, the KVM backend — and
 * watches the serial console for a marker. Run by scripts/e2e/20-kvm-linux.sh inside the nested QEMU guest, where
 * /dev/kvm is a real SVM KVM.
 *
 *   bun scripts/e2e/kvm-linux-boot.ts --kernel vmlinuz [--initrd initrd.cpio.gz] [--cmdline "..."] [--mem MiB]
 *       [--cpus N] [--marker TEXT] [--timeout SECONDS]
 *
 * Exit status: 0 when the marker appeared and the guest then stopped itself cleanly (a reset through the i8042,
 * `reboot=k`, with on_reset = "stop"); 1 otherwise (timeout, crash, failed entry, unsupported exit), with the reason
 * on stderr.
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseVmConfig } from "../../src/vmm/config/index.ts";
import { Vmm } from "../../src/vmm/vmm.ts";

export const DEFAULT_CMDLINE =
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
const kernel = resolve(values.kernel);
const memBytes = Number(values.mem) * 0x10_0000;
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
cmdline = ${JSON.stringify(values.cmdline)}
memory_regions = [[0x0, 0x${memBytes.toString(16)}, 0x7, 0]]

[devices]
console = "stdout"
`;
const config = parseVmConfig(toml, { baseDir: dirname(kernel), sourceName: "kvm-linux-boot" });

const marker = values.marker;
const started = performance.now();
let recent = "";
let markerSeconds: number | undefined;
const decoder = new TextDecoder();
const vmm = new Vmm({
  logLevel: "info",
  console: {
    writer: (bytes) => {
      process.stdout.write(bytes);
      recent = (recent + decoder.decode(bytes, { stream: true })).slice(-4096);
      if (markerSeconds === undefined && recent.includes(marker)) markerSeconds = (performance.now() - started) / 1000;
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
  } else if (Math.floor(elapsed / 1000) % 30 === 0) {
    console.error(`\n[kvm-linux-boot] ${Math.round(elapsed / 1000)} s`);
  }
}, 1000);
const result = await vmm.run();
clearInterval(watchdog);

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const vm = result.vms[0];
if (markerSeconds !== undefined && vm?.reason === "poweroff" && vm.exitCode === 0) {
  console.error(
    `[kvm-linux-boot] PASS: marker seen after ${markerSeconds.toFixed(1)} s, the guest stopped itself after ${seconds} s`,
  );
  process.exit(0);
}
console.error(
  `[kvm-linux-boot] FAIL after ${seconds} s: ${markerSeconds === undefined ? "marker not seen" : "marker seen"}, ` +
    `${timedOut ? "timed out" : `VM ended by ${vm?.reason ?? "?"} with code ${vm?.exitCode ?? "?"}`}${vm?.error === undefined ? "" : `: ${vm.error}`}`,
);
process.exit(1);
