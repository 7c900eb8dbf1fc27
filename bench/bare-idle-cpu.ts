/**
 * Host CPU a bare-machine program idling in WFI costs (issue 9, item 7): `axvisor run --machine virt --bios none`
 * on two tiny M-mode programs, measured from outside over 10 s as the process's user + system time
 * (/proc/<pid>/stat), after a warm-up:
 * - "CLINT tick": a machine timer interrupt every 10 ms (mtimecmp += 100000 in the handler), WFI in between. The
 *   hart must sleep until the CLINT's next deadline, not spin to it.
 * - "nothing armed": MTIE enabled but mtimecmp all ones, so nothing can ever wake the hart; WFI must cost nothing.
 * Reference, measured the same way in the same run: an idle Bun process that only holds a timer. Target for
 * "nothing armed": < 2 % of a core above the reference. For "CLINT tick" the cost per tick is printed: each tick is
 * a wake-up, a trap, two CLINT accesses and a halt, code that runs too rarely for JavaScriptCore to optimize.
 *
 *   bun bench/bare-idle-cpu.ts [seconds]     (default 10)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CSR_MIE, CSR_MSTATUS, CSR_MTVEC, MSTATUS_MIE } from "../src/arch/riscv64/csr.ts";
import { MIP_MTIP } from "../src/arch/riscv64/traps.ts";
import { CLINT_MTIME, CLINT_MTIMECMP_BASE } from "../src/devices/clint.ts";
import { RISCV_VIRT } from "../src/vmm/boards/riscv-virt/layout.ts";
import * as A from "../test/emulated/asm.ts";

const SECONDS = Number(process.argv[2] ?? 10);
const WARM_UP_MS = 2000;
const ROOT = resolve(import.meta.dir, "..");
const CLI = join(ROOT, "src/cli/main.ts");
/** 10 ms at the default 10 MHz timebase. */
const TICK = 100_000;

if (process.platform !== "linux") {
  console.log(`[skip] bare-idle-cpu: reads /proc/<pid>/stat, which ${process.platform} does not have`);
  process.exit(0);
}

const MTIMECMP = RISCV_VIRT.CLINT_BASE + CLINT_MTIMECMP_BASE;
const MTIME = RISCV_VIRT.CLINT_BASE + CLINT_MTIME;

/** MTIE on, mtimecmp = all ones (no deadline), WFI forever. */
function nothingArmed(): Uint8Array {
  const p = new A.Program(RISCV_VIRT.RAM_BASE);
  p.emit(A.li(A.t0, MIP_MTIP), A.csrw(CSR_MIE, A.t0));
  p.emit(A.li(A.t0, MTIMECMP), A.li(A.t1, -1), A.sd(A.t1, A.t0, 0));
  p.label("idle")
    .emit(A.wfi())
    .ref("idle", (off) => A.jal(0, off));
  return p.assemble();
}

/** A machine timer interrupt every TICK: the handler moves mtimecmp on; WFI in between. */
function clintTick(): Uint8Array {
  // The handler sits at a fixed offset (mtvec direct mode).
  const program = new A.Program(RISCV_VIRT.RAM_BASE);
  const handlerAt = RISCV_VIRT.RAM_BASE + 0x100;
  program.emit(A.li(A.t0, handlerAt), A.csrw(CSR_MTVEC, A.t0));
  program.emit(A.li(A.s0, MTIMECMP), A.li(A.s1, MTIME), A.li(A.s2, TICK));
  program.emit(A.ld(A.t1, A.s1, 0), A.add(A.t1, A.t1, A.s2), A.sd(A.t1, A.s0, 0));
  program.emit(A.li(A.t0, MIP_MTIP), A.csrw(CSR_MIE, A.t0), A.csrsi(CSR_MSTATUS, MSTATUS_MIE));
  program
    .label("idle")
    .emit(A.wfi())
    .ref("idle", (off) => A.jal(0, off));
  while (program.pc < handlerAt) program.emit(A.addi(0, 0, 0));
  program.emit(A.ld(A.t1, A.s0, 0), A.add(A.t1, A.t1, A.s2), A.sd(A.t1, A.s0, 0), A.mret());
  return program.assemble();
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

/** Share of one core `pid` used over `seconds` after the warm-up, as a percentage. */
async function measure(pid: number, seconds: number, hz: number): Promise<number> {
  await Bun.sleep(WARM_UP_MS);
  const cpu0 = cpuSeconds(pid, hz);
  const wall0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const cpu1 = cpuSeconds(pid, hz);
  const wall = (performance.now() - wall0) / 1000;
  return ((cpu1 - cpu0) / wall) * 100;
}

async function measureCommand(argv: string[], hz: number): Promise<number> {
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "inherit", stdin: "ignore" });
  try {
    return await measure(proc.pid, SECONDS, hz);
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

const hz = clockTicksPerSecond();
const dir = mkdtempSync(join(tmpdir(), "axvisor-bare-idle-"));
try {
  const programs = [
    { name: "CLINT tick every 10 ms", bytes: clintTick(), ticksPerSecond: 100 },
    { name: "nothing armed", bytes: nothingArmed(), ticksPerSecond: 0 },
  ];
  const reference = await measureCommand(
    ["bun", "-e", "setInterval(() => undefined, 2 ** 31 - 1); await new Promise(() => {});"],
    hz,
  );
  console.log(`Host CPU of a bare-machine program idling in WFI, over ${SECONDS} s after ${WARM_UP_MS} ms warm-up`);
  console.log(`  idle Bun process (reference)      ${reference.toFixed(2).padStart(6)} % of a core`);
  for (const program of programs) {
    const path = join(dir, `${program.name.replaceAll(" ", "-")}.bin`);
    writeFileSync(path, program.bytes);
    const percent = await measureCommand(["bun", CLI, "run", "--machine", "virt", "--bios", "none", path], hz);
    const over = percent - reference;
    const verdict = program.ticksPerSecond === 0 ? `target < 2 %   ${over < 2 ? "ok" : "OVER TARGET"}` : "";
    const perTick =
      program.ticksPerSecond === 0 ? "" : `, ${((over / 100 / program.ticksPerSecond) * 1e6).toFixed(0)} µs per tick`;
    console.log(
      `  WFI, ${program.name.padEnd(24)} ${percent.toFixed(2).padStart(6)} % of a core (+${over.toFixed(2)} over the reference${perTick})   ${verdict}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
