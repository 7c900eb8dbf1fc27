/**
 * Host CPU an idle VM costs (issue 9, item 9): `axvisor run` on a guest that waits in WFI for console input with
 * no timer armed (test/guests/riscv/echo.bin, stdin not connected), measured from outside over 10 s as the
 * process's user + system time (/proc/<pid>/stat). Reference, measured the same way in the same run: an idle Bun
 * process that only holds a timer (what "doing nothing" costs a Bun process on this host). Target: < 2 % of a
 * core. Before the fix the idle VM cost 100 % (Bun spins its event loop under a top-level await when nothing is
 * pending in it).
 *
 *   bun bench/idle-cpu.ts [seconds]     (default 10)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SECONDS = Number(process.argv[2] ?? 10);
const ROOT = resolve(import.meta.dir, "..");
const CLI = join(ROOT, "src/cli/main.ts");
const GUEST = join(ROOT, "test/guests/riscv/echo.bin");

if (process.platform !== "linux") {
  console.log(`[skip] idle-cpu: reads /proc/<pid>/stat, which ${process.platform} does not have`);
  process.exit(0);
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    if (Number.isInteger(value) && value > 0) return value;
  } catch {
    // getconf missing: Linux's USER_HZ is 100 on every architecture we run on.
  }
  return 100;
}

/** utime + stime of `pid`, in seconds. */
function cpuSeconds(pid: number, hz: number): number {
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / hz;
}

/** Wait until `stream` has produced `marker` (the process is then in its steady state). */
async function waitFor(stream: ReadableStream<Uint8Array>, marker: string): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the process ended before printing ${JSON.stringify(marker)}; it printed ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
}

/** Share of one core `pid` used over `seconds`, as a percentage. */
async function measure(pid: number, seconds: number, hz: number): Promise<number> {
  const cpu0 = cpuSeconds(pid, hz);
  const wall0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const cpu1 = cpuSeconds(pid, hz);
  const wall = (performance.now() - wall0) / 1000;
  return ((cpu1 - cpu0) / wall) * 100;
}

const hz = clockTicksPerSecond();
const dir = mkdtempSync(join(tmpdir(), "axvisor-idle-"));
try {
  const config = join(dir, "idle.toml");
  writeFileSync(
    config,
    [
      "[base]",
      'id = 0\nname = "idle"\ncpu_num = 1\narch = "riscv64"\nbackend = "emulated"',
      "[kernel]",
      `kernel_path = ${JSON.stringify(GUEST)}`,
      "entry_point = 0x8020_0000\nkernel_load_addr = 0x8020_0000",
      "memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]",
      "[devices]",
      'console = "stdout"',
      "",
    ].join("\n"),
  );

  const reference = Bun.spawn(
    ["bun", "-e", "console.log('ready'); setInterval(() => undefined, 2 ** 31 - 1); await new Promise(() => {});"],
    { stdout: "pipe", stderr: "inherit", stdin: "ignore" },
  );
  await waitFor(reference.stdout, "ready");
  const referencePercent = await measure(reference.pid, SECONDS, hz);
  reference.kill("SIGKILL");
  await reference.exited;

  const vm = Bun.spawn(["bun", CLI, "run", "--no-stdin", config], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  await waitFor(vm.stdout, "echo: ready");
  const vmPercent = await measure(vm.pid, SECONDS, hz);
  vm.kill("SIGINT");
  const code = await vm.exited;
  // The line a stopping run prints is expected; anything else is worth seeing.
  const errors = (await new Response(vm.stderr).text()).replace("axvisor: SIGINT received: stopping the VMs\n", "");
  if (errors !== "") console.log(errors);

  console.log(`Host CPU while idle, over ${SECONDS} s (utime + stime from /proc, ${hz} ticks/s)`);
  console.log(`  idle Bun process (reference)          ${referencePercent.toFixed(2)} % of a core`);
  console.log(
    `  axvisor run, guest waiting in WFI     ${vmPercent.toFixed(2)} % of a core   target < 2 %   ${vmPercent < 2 ? "ok" : "OVER TARGET"}`,
  );
  console.log(`  (the VM stopped on SIGINT with exit status ${code})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
