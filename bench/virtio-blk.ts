/**
 * virtio-blk sequential throughput seen by a Linux guest: `dd` with O_DIRECT writing then reading the disk, through
 * our VMM and through QEMU, on the same kernel, initramfs and (fresh copies of the same) raw image, as a ratio.
 *
 * Which VMMs: the emulated RISC-V backend vs `qemu-system-riscv64 -M virt` (TCG), both on this host. (The nested
 * KVM set-ups of the e2e scripts cost about 1 ms per exit in the outer TCG guest, which would measure QEMU's SVM
 * emulation, not our device.) The guest is the small riscv64 kernel of scripts/build-linux-riscv64.sh (virtio-blk
 * built in) with a busybox initramfs: Debian's busybox-static:riscv64, fetched once into
 * $AXVISOR_CACHE/blk-bench through the apt state scripts/fetch-debian-riscv64.sh keeps. The disk is the guest's only
 * one, so it is /dev/vda. Both VMMs go through the host's page cache (QEMU's default cache=writeback; ours
 * pread/pwrite), and the guest times each dd itself from /proc/uptime, so boot time is not in the numbers.
 *
 * Since the CPU is emulated on both sides, the ratio is of the whole path a request takes (guest driver on the
 * emulated CPU, MMIO exits, the device, the host file), as a user of each would see it.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";

const root = join(import.meta.dir, "..");
const image = join(root, ".cache/linux-riscv64/current/Image");
const cacheRoot =
  process.env.AXVISOR_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "axvisor-ts");
const cache = join(cacheRoot, "blk-bench");
const aptState = join(cacheRoot, "debian-riscv64/apt");
const MIB = Number(process.env.BLK_BENCH_MIB ?? 128);
const DISK_BYTES = 256 << 20;
/** A run that has not powered off by then is stopped (and reported without a result). */
const RUN_LIMIT_MS = 600_000;

function skip(why: string): never {
  console.log(`[skip] virtio-blk throughput: ${why}`);
  process.exit(0);
}

function run(command: string[], cwd?: string): { ok: boolean; output: string } {
  const result = Bun.spawnSync(command, { ...(cwd === undefined ? {} : { cwd }), stdout: "pipe", stderr: "pipe" });
  return { ok: result.exitCode === 0, output: `${result.stdout.toString()}${result.stderr.toString()}`.trim() };
}

/** Debian's riscv64 busybox, downloaded once. */
function busybox(): string {
  const binary = join(cache, "busybox/usr/bin/busybox");
  if (existsSync(binary)) return binary;
  if (!existsSync(join(aptState, "sources.list")))
    skip(`no riscv64 apt state at ${aptState}: run scripts/fetch-debian-riscv64.sh once (it sets it up)`);
  mkdirSync(cache, { recursive: true });
  const apt = [
    "-o",
    `Dir::Etc::SourceList=${join(aptState, "sources.list")}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${join(aptState, "lists")}`,
    "-o",
    "APT::Architectures::=riscv64",
    "-o",
    "Debug::NoLocking=1",
  ];
  const download = run(["apt-get", ...apt, "download", "busybox-static:riscv64"], cache);
  if (!download.ok) skip(`apt-get download busybox-static:riscv64 failed: ${download.output.slice(-300)}`);
  const deb = run(["sh", "-c", "ls busybox-static_*_riscv64.deb | head -1"], cache).output;
  const unpack = run(["dpkg-deb", "-x", deb, join(cache, "busybox")], cache);
  if (!unpack.ok || !existsSync(binary)) skip(`dpkg-deb -x ${deb} failed: ${unpack.output}`);
  return binary;
}

/**
 * The steps, run by busybox's init (the small kernel has no BINFMT_SCRIPT: /init is busybox itself, which reads
 * /etc/inittab and runs this with its own sh).
 */
const STEPS = `/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
t() { cut -d" " -f1 /proc/uptime; }
s=$(t); dd if=/dev/zero of=/dev/vda bs=1M count=${MIB} oflag=direct 2>/dev/null; e=$(t)
echo "BLK-BENCH write $s $e"
s=$(t); dd if=/dev/vda of=/dev/null bs=1M count=${MIB} iflag=direct 2>/dev/null; e=$(t)
echo "BLK-BENCH read $s $e"
poweroff -f
`;
const INITTAB = "::sysinit:/bin/busybox sh /bench.sh\n";

/** The bench initramfs (cpio newc), rebuilt when the init changes. */
function initramfs(bb: string): string {
  const path = join(cache, `bench-${Bun.hash(STEPS + INITTAB).toString(16)}.cpio`);
  if (existsSync(path)) return path;
  const work = mkdtempSync(join(tmpdir(), "axvisor-blk-bench-"));
  try {
    for (const dir of ["bin", "dev", "proc", "etc"]) mkdirSync(join(work, dir));
    copyFileSync(bb, join(work, "bin/busybox"));
    chmodSync(join(work, "bin/busybox"), 0o755);
    symlinkSync("bin/busybox", join(work, "init"));
    writeFileSync(join(work, "etc/inittab"), INITTAB);
    writeFileSync(join(work, "bench.sh"), STEPS, { mode: 0o755 });
    const made = run(
      ["sh", "-c", `find . | cpio -o -H newc --quiet > "${path}.tmp" && mv "${path}.tmp" "${path}"`],
      work,
    );
    if (!made.ok) skip(`cpio failed: ${made.output}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return path;
}

interface Throughput {
  readonly write: number | undefined;
  readonly read: number | undefined;
  readonly exitCode: number;
}

/** MiB/s of the "BLK-BENCH <what> <start> <end>" lines in `log`. */
function parse(log: string, exitCode: number): Throughput {
  const rate = (what: string): number | undefined => {
    const match = new RegExp(`BLK-BENCH ${what} ([0-9.]+) ([0-9.]+)`).exec(log);
    if (match === null) return undefined;
    const seconds = Number(match[2]) - Number(match[1]);
    return seconds > 0 ? MIB / seconds : undefined;
  };
  return { write: rate("write"), read: rate("read"), exitCode };
}

function freshDisk(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(0));
  run(["truncate", "-s", String(DISK_BYTES), path]);
  return path;
}

async function ours(initrd: string, disk: string): Promise<Throughput> {
  const toml = `
[base]
id = 1
name = "blk-bench"
vm_type = 2
cpu_num = 1
arch = "riscv64"
backend = "emulated"
machine = "virt-hypervisor"

[kernel]
entry_point = 0x8020_0000
kernel_path = ${JSON.stringify(image)}
kernel_load_addr = 0x8020_0000
ramdisk_path = ${JSON.stringify(initrd)}
disk_path = ${JSON.stringify(disk)}
cmdline = "console=ttyS0 quiet panic=-1"
memory_regions = [[0x8000_0000, 0x800_0000, 0x7, 0]]

[devices]
console = "stdout"
`;
  const config = parseVmConfig(toml, { baseDir: root, sourceName: "virtio-blk bench" });
  let log = "";
  const decoder = new TextDecoder();
  const vmm = new Vmm({
    logLevel: "warn",
    console: {
      writer: (bytes) => {
        log = (log + decoder.decode(bytes, { stream: true })).slice(-8192);
      },
    },
  });
  vmm.addVm(config);
  const watchdog = setTimeout(() => vmm.stop(), RUN_LIMIT_MS);
  const result = await vmm.run();
  clearTimeout(watchdog);
  return parse(log, result.exitCode);
}

async function qemu(initrd: string, disk: string): Promise<Throughput> {
  const proc = Bun.spawn(
    [
      "qemu-system-riscv64",
      "-M",
      "virt",
      "-bios",
      "default",
      "-m",
      "128M",
      "-smp",
      "1",
      "-nographic",
      "-kernel",
      image,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 quiet panic=-1",
      "-no-reboot",
      "-drive",
      `file=${disk},if=none,id=d0,format=raw`,
      "-device",
      "virtio-blk-device,drive=d0",
    ],
    { stdout: "pipe", stderr: "ignore" },
  );
  const watchdog = setTimeout(() => proc.kill(), RUN_LIMIT_MS);
  const log = await new Response(proc.stdout).text();
  clearTimeout(watchdog);
  return parse(log, await proc.exited);
}

if (!existsSync(image)) skip(`${image} is missing; build it with scripts/build-linux-riscv64.sh`);
const initrd = initramfs(busybox());
const work = mkdtempSync(join(tmpdir(), "axvisor-blk-bench-disks-"));
const fmt = (n: number | undefined): string => (n === undefined ? "no result" : `${n.toFixed(2)} MiB/s`);
try {
  const o = await ours(initrd, freshDisk(work, "ours.img"));
  console.log(
    `axvisor-ts (emulated riscv64, virtio-blk): ${MIB} MiB dd O_DIRECT write ${fmt(o.write)}, read ${fmt(o.read)} (exit ${o.exitCode})`,
  );
  if (Bun.which("qemu-system-riscv64") === null) {
    console.log("[skip] QEMU reference: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");
  } else {
    const q = await qemu(initrd, freshDisk(work, "qemu.img"));
    console.log(
      `qemu-system-riscv64 -M virt (TCG, virtio-blk-device): write ${fmt(q.write)}, read ${fmt(q.read)} (exit ${q.exitCode})`,
    );
    const ratio = (a: number | undefined, b: number | undefined): string =>
      a === undefined || b === undefined ? "n/a" : `${(a / b).toFixed(2)}x`;
    console.log(
      `ratio (ours / QEMU, higher is better): write ${ratio(o.write, q.write)}, read ${ratio(o.read, q.read)}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
