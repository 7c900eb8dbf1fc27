/**
 * TCP throughput over virtio-net and a TAP: the same riscv64 guest (Debian's 6.12 kernel with our init in network
 * mode, scripts/fetch-debian-riscv64.sh) moving 4 MiB each way to a peer on the host, under our VMM (emulated
 * backend, `[[devices.nets]]`) and under qemu-system-riscv64 (`-netdev tap,script=no -device virtio-net-device`),
 * with the same TAP set-up: a network namespace made here holding TAP axtap0 with the peer's address. The peer and
 * the guest's checks are scripts/e2e/net-peer.ts's (the e2e test is scripts/e2e/40-net-tap.sh). Both guests run on
 * one vCPU; QEMU's is its own TCG RISC-V CPU, ours the emulated hart, so the ratio mostly measures the CPUs (the
 * guest's TCP stack, checksums and copies run on them).
 *
 * Prints MiB/s per direction and ours/QEMU ratios. Needs root, /dev/net/tun, ip, ping and QEMU; skips with the
 * reason otherwise. NET_BENCH_ROUNDS (default 1) interleaved rounds, best of each.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const BYTES = 4 << 20;
const TAP = "axtap0";
const HOST_IP = "10.0.2.2";
const GUEST_IP = "10.0.2.15";
const MAC = "52:54:00:12:34:56";
const NS = `axbench-${process.pid}`;

function skip(reason: string): never {
  console.log(`[skip] virtio-net TAP benchmark: ${reason}`);
  process.exit(0);
}

if (process.platform !== "linux") skip("TAP interfaces are a Linux feature");
if (process.getuid?.() !== 0) skip("making a network namespace and a TAP needs root");
if (!existsSync("/dev/net/tun")) skip("/dev/net/tun is missing");
for (const tool of ["ip", "ping", "qemu-system-riscv64"]) {
  if (Bun.which(tool) === null) skip(`${tool} is not installed`);
}
const fetched = Bun.spawnSync(["bash", join(root, "scripts/fetch-debian-riscv64.sh")], { stderr: "pipe" });
const debianDir = fetched.stdout.toString().trim();
if (fetched.exitCode !== 0 || !existsSync(join(debianDir, "Image"))) {
  skip(`scripts/fetch-debian-riscv64.sh failed: ${fetched.stderr.toString().trim().split("\n").pop() ?? ""}`);
}

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

const cmdline = `console=ttyS0 quiet panic=-1 axvisor.net=${GUEST_IP}/24,${HOST_IP},5555,${BYTES}`;
const work = mkdtempSync(join(tmpdir(), "axvisor-net-bench-"));
const config = join(work, "net.toml");
writeFileSync(
  config,
  `[base]
id = 1
name = "net-bench"
vm_type = 2
cpu_num = 1
arch = "riscv64"
backend = "emulated"
on_reset = "stop"
[kernel]
entry_point = 0x8020_0000
kernel_path = "${join(debianDir, "Image")}"
kernel_load_addr = 0x8020_0000
ramdisk_path = "${join(debianDir, "initramfs.cpio")}"
cmdline = "${cmdline}"
memory_regions = [[0x8000_0000, 0x2000_0000, 0x7, 0]]
[devices]
console = "stdout"
[[devices.nets]]
tap = "${TAP}"
mac = "${MAC}"
`,
);

const commands = {
  ours: ["bun", join(root, "src/cli/main.ts"), "run", config],
  qemu: [
    "qemu-system-riscv64",
    ...["-M", "virt", "-m", "512M", "-smp", "1", "-bios", "default", "-nographic", "-no-reboot"],
    ...["-kernel", join(debianDir, "Image"), "-initrd", join(debianDir, "initramfs.cpio"), "-append", cmdline],
    ...["-global", "virtio-mmio.force-legacy=false"],
    ...[
      "-netdev",
      `tap,id=n0,ifname=${TAP},script=no,downscript=no`,
      "-device",
      `virtio-net-device,netdev=n0,mac=${MAC}`,
    ],
  ],
};

interface PeerResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly hostToGuestMiBps?: number;
  readonly guestToHostMiBps?: number;
}

async function run(which: keyof typeof commands): Promise<PeerResult> {
  const proc = Bun.spawn(
    [
      ...["ip", "netns", "exec", NS, "bun", join(root, "scripts/e2e/net-peer.ts")],
      ...["--listen", HOST_IP, "--guest", GUEST_IP, "--bytes", String(BYTES), "--timeout", "600", "--"],
      ...commands[which],
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const line = out.split("\n").find((l) => l.startsWith("NET-PEER-RESULT "));
  if (line === undefined) return { ok: false, problems: ["the peer printed no result"] };
  return JSON.parse(line.slice("NET-PEER-RESULT ".length)) as PeerResult;
}

const rounds = Math.max(1, Number(process.env.NET_BENCH_ROUNDS ?? "1"));
const best = { ours: { rx: 0, tx: 0 }, qemu: { rx: 0, tx: 0 } };
try {
  ip("netns", "add", NS);
  ip("-n", NS, "link", "set", "lo", "up");
  ip("-n", NS, "tuntap", "add", "dev", TAP, "mode", "tap");
  ip("-n", NS, "addr", "add", `${HOST_IP}/24`, "dev", TAP);
  ip("-n", NS, "link", "set", TAP, "up");
  for (let round = 0; round < rounds; round++) {
    for (const which of ["ours", "qemu"] as const) {
      const result = await run(which);
      if (!result.ok) {
        console.log(`!!! ${which}: ${result.problems.join("; ")}`);
        process.exitCode = 1;
        continue;
      }
      best[which].rx = Math.max(best[which].rx, result.hostToGuestMiBps ?? 0);
      best[which].tx = Math.max(best[which].tx, result.guestToHostMiBps ?? 0);
    }
  }
} finally {
  Bun.spawnSync(["ip", "netns", "del", NS]);
  rmSync(work, { recursive: true, force: true });
}

const row = (what: string, ours: number, qemu: number): string =>
  `${what.padEnd(34)}${ours.toFixed(2).padStart(10)}${qemu.toFixed(2).padStart(10)}${(qemu > 0 ? ours / qemu : 0).toFixed(2).padStart(12)}`;
console.log(`virtio-net over a TAP, TCP ${BYTES >> 20} MiB each way, 1 vCPU, best of ${rounds} round(s)`);
console.log(`${"".padEnd(34)}${"ours".padStart(10)}${"QEMU".padStart(10)}${"ours/QEMU".padStart(12)}`);
console.log(row("host -> guest (MiB/s)", best.ours.rx, best.qemu.rx));
console.log(row("guest -> host (MiB/s)", best.ours.tx, best.qemu.tx));
