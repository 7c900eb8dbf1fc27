import { describe, expect, test } from "bun:test";
import { encodePacket, GdbPacketDecoder } from "./gdb-packet.ts";
import {
  type GdbDebugPoints,
  type GdbResume,
  GdbSession,
  type GdbStopEvent,
  type GdbTarget,
  type MemoryResult,
  type MemorySpace,
} from "./gdb-session.ts";

const MEM_BASE = 0x1000n;
const PC = 3;

/** Two threads, four 8-byte registers (r3 = pc) in `g`, a 5th only through `p`, 256 bytes of memory at 0x1000. */
class FakeTarget implements GdbTarget {
  readonly gRegisters = [0, 1, 2, 3];
  readonly regs = new Map<string, bigint>();
  readonly memory = new Uint8Array(256);
  readonly resumes: GdbResume[] = [];
  readonly spaces: MemorySpace[] = [];
  interrupts = 0;
  detached = false;
  killed = false;

  threads(): readonly number[] {
    return [1, 2];
  }
  describeThread(thread: number): string {
    return `vCPU ${thread - 1}`;
  }
  targetXml(): string {
    return `<target>${"x".repeat(100)}$</target>`;
  }
  pc(thread: number): bigint {
    return this.regs.get(`${thread}:${PC}`) ?? 0n;
  }
  setPc(thread: number, pc: bigint): void {
    this.regs.set(`${thread}:${PC}`, pc);
  }
  registerSize(_thread: number, regnum: number): number | undefined {
    return regnum <= 4 ? 8 : undefined;
  }
  readRegister(thread: number, regnum: number): bigint | undefined {
    if (regnum === 2) return undefined; // unavailable
    return this.regs.get(`${thread}:${regnum}`) ?? BigInt(thread * 0x100 + regnum);
  }
  writeRegister(thread: number, regnum: number, value: bigint): boolean {
    this.regs.set(`${thread}:${regnum}`, value);
    return true;
  }
  readMemory(_thread: number, addr: bigint, length: number, space: MemorySpace): MemoryResult {
    this.spaces.push(space);
    const start = Number(addr - MEM_BASE);
    if (start < 0 || start >= this.memory.length) return { ok: false, reason: "outside" };
    return { ok: true, data: this.memory.slice(start, Math.min(this.memory.length, start + length)) };
  }
  writeMemory(_thread: number, addr: bigint, data: Uint8Array): { ok: true } | { ok: false; reason: string } {
    const start = Number(addr - MEM_BASE);
    if (start < 0 || start + data.length > this.memory.length) return { ok: false, reason: "outside" };
    this.memory.set(data, start);
    return { ok: true };
  }
  resume(request: GdbResume): void {
    this.resumes.push(request);
  }
  interrupt(): void {
    this.interrupts++;
  }
  detach(): void {
    this.detached = true;
  }
  kill(): void {
    this.killed = true;
  }
}

/** A session on a fake target, talking in packets: `ask` sends one and returns the reply packets' payloads. */
function harness() {
  const target = new FakeTarget();
  const decoder = new GdbPacketDecoder();
  const sent: string[] = [];
  let closed = false;
  const session = new GdbSession({
    target,
    send: (bytes) => {
      for (const input of decoder.push(bytes)) {
        if (input.kind === "packet") sent.push(new TextDecoder().decode(input.data));
        else sent.push(input.kind === "ack" ? "+" : input.kind);
      }
    },
    close: () => {
      closed = true;
    },
  });
  const ask = (packet: string | Uint8Array): string[] => {
    sent.length = 0;
    const bytes = typeof packet === "string" ? new TextEncoder().encode(packet) : packet;
    session.receivePacket(bytes);
    return sent.filter((s) => s !== "+");
  };
  const stop = (event: GdbStopEvent): string[] => {
    sent.length = 0;
    session.stopped(event);
    return [...sent];
  };
  return { target, session, ask, stop, sent, closed: () => closed };
}

describe("GDB session", () => {
  test("qSupported advertises the packet size, target.xml, swbreak/hwbreak and no-ack mode", () => {
    const { ask } = harness();
    const [reply] = ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
    expect(reply).toContain("PacketSize=4000");
    expect(reply).toContain("qXfer:features:read+");
    expect(reply).toContain("swbreak+");
    expect(reply).toContain("hwbreak+");
    expect(reply).toContain("QStartNoAckMode+");
  });

  test("packets are acked until QStartNoAckMode, whose OK is still acked, and not after", () => {
    const { ask, sent, session } = harness();
    ask("?");
    session.receivePacket(new TextEncoder().encode("QStartNoAckMode"));
    expect(sent[0]).toBe("+");
    expect(session.noAck).toBe(true);
    sent.length = 0;
    session.receivePacket(new TextEncoder().encode("?"));
    expect(sent).toEqual(["T05thread:01;"]);
  });

  test("the target description is served in chunks, m while more follows, l for the last, escaped", () => {
    const { ask } = harness();
    const first = ask("qXfer:features:read:target.xml:0,20")[0] ?? "";
    expect(first).toBe(`m<target>${"x".repeat(0x20 - 8)}`);
    // 8 + 100 + 1 + 9 characters: the `$` at 108 goes out as `}` 0x04.
    const last = ask("qXfer:features:read:target.xml:6a,100")[0] ?? "";
    expect(last).toBe("lxx}\x04</target>");
    expect(ask("qXfer:features:read:target.xml:1000,10")).toEqual(["l"]);
    expect(ask("qXfer:features:read:other.xml:0,10")).toEqual(["E02"]);
  });

  test("threads are the vCPUs; Hg selects whose registers g, p and P use", () => {
    const { ask, target } = harness();
    expect(ask("qfThreadInfo")).toEqual(["m01,02"]);
    expect(ask("qsThreadInfo")).toEqual(["l"]);
    expect(ask("qC")).toEqual(["QC01"]);
    expect(ask("T02")).toEqual(["OK"]);
    expect(ask("T03")).toEqual(["E02"]);
    expect(ask("qThreadExtraInfo,2")).toEqual([Buffer.from("vCPU 1").toString("hex")]);
    // Thread 1: r0 = 0x100, r1 = 0x101, r2 unavailable, r3 = 0x103, little-endian.
    expect(ask("g")).toEqual([`0001000000000000${"0101000000000000"}${"xx".repeat(8)}0301000000000000`]);
    expect(ask("Hg2")).toEqual(["OK"]);
    expect(ask("p1")).toEqual(["0102000000000000"]);
    expect(ask("P1=efbeadde00000000")).toEqual(["OK"]);
    expect(target.regs.get("2:1")).toBe(0xdeadbeefn);
    expect(ask("p2")).toEqual(["xx".repeat(8)]);
    expect(ask("p40")).toEqual(["E02"]);
    expect(ask("P1=12")).toEqual(["E16"]);
    expect(ask("Hg9")).toEqual(["E02"]);
  });

  test("memory reads and writes (hex and binary), faults as E0e, malformed packets as E16", () => {
    const { ask, target } = harness();
    expect(ask("M1004,4:01020304")).toEqual(["OK"]);
    expect(ask("m1003,6")).toEqual(["000102030400"]);
    const x = new Uint8Array([...new TextEncoder().encode("X1010,3:"), 0x7d, 0x04, 0x41, 0x42]);
    expect(ask(x)).toEqual(["OK"]);
    expect([...target.memory.subarray(0x10, 0x13)]).toEqual([0x24, 0x41, 0x42]);
    expect(ask("X1010,0:")).toEqual(["OK"]);
    expect(ask("m0,4")).toEqual(["E0e"]);
    expect(ask("M10fe,4:01020304")).toEqual(["E0e"]);
    expect(ask("mzz,4")).toEqual(["E16"]);
    expect(ask("M1000,2:01")).toEqual(["E16"]);
  });

  test("monitor phys switches memory packets to guest-physical addresses and back", () => {
    const { ask, target, session } = harness();
    const monitor = (cmd: string): string[] => ask(`qRcmd,${Buffer.from(cmd).toString("hex")}`);
    const [output, ok] = monitor("phys on");
    expect(ok).toBe("OK");
    expect(Buffer.from((output ?? "").slice(1), "hex").toString()).toContain("guest-physical");
    expect(session.memorySpace).toBe("physical");
    ask("m1000,1");
    monitor("phys off");
    ask("m1000,1");
    expect(target.spaces).toEqual(["physical", "virtual"]);
    expect(Buffer.from((monitor("frobnicate")[0] ?? "").slice(1), "hex").toString()).toContain(
      "unknown monitor command",
    );
  });

  test("c and vCont resume with every breakpoint and watchpoint; the stop reply comes when the target stops", () => {
    const { ask, target, stop } = harness();
    expect(ask("Z0,1000,2")).toEqual(["OK"]);
    expect(ask("Z1,2000,4")).toEqual(["OK"]);
    expect(ask("Z2,3000,8")).toEqual(["OK"]);
    expect(ask("Z4,3100,1")).toEqual(["OK"]);
    expect(ask("z4,3100,1")).toEqual(["OK"]);
    expect(ask("Z9,0,0")).toEqual([""]);
    expect(ask("vCont?")).toEqual(["vCont;c;C;s;S"]);
    expect(ask("vCont;s:2;c")).toEqual([]);
    expect(target.resumes[0]).toEqual({
      stepThread: 2,
      softwareBreakpoints: [0x1000n],
      hardwareBreakpoints: [0x2000n],
      watchpoints: [{ addr: 0x3000n, length: 8, kind: "write" }],
    });
    expect(stop({ kind: "step", thread: 2 })).toEqual(["T05thread:02;"]);
    expect(ask("qC")).toEqual(["QC02"]);
    ask("c");
    expect(target.resumes[1]?.stepThread).toBeUndefined();
    target.setPc(1, 0x2000n);
    expect(stop({ kind: "breakpoint", thread: 1 })).toEqual(["T05thread:01;hwbreak:;"]);
    ask("c");
    target.setPc(1, 0x1000n);
    expect(stop({ kind: "breakpoint", thread: 1 })).toEqual(["T05thread:01;swbreak:;"]);
    ask("c");
    expect(stop({ kind: "watchpoint", thread: 1, addr: 0x3000n, watch: "write" })).toEqual([
      "T05thread:01;watch:3000;",
    ]);
    expect(ask("?")).toEqual(["T05thread:01;watch:3000;"]);
    expect(ask("z0,1000,2")).toEqual(["OK"]);
    expect(ask("z1,2000,4")).toEqual(["OK"]);
    ask("s");
    expect(target.resumes[4]?.softwareBreakpoints).toEqual([]);
    expect(target.resumes[4]?.hardwareBreakpoints).toEqual([]);
    expect(target.resumes[4]?.stepThread).toBe(1);
  });

  test("Ctrl-C while running interrupts the target; the stop reply says SIGINT", () => {
    const { ask, target, session, stop } = harness();
    session.receiveInterrupt();
    expect(target.interrupts).toBe(0); // not running: nothing to interrupt
    ask("c");
    session.receiveInterrupt();
    expect(target.interrupts).toBe(1);
    expect(stop({ kind: "interrupt", thread: 1, signal: 2 })).toEqual(["T02thread:01;"]);
  });

  test("c ADDR sets the pc first; the VM ending is reported as W with its exit code", () => {
    const { ask, target, stop } = harness();
    ask("c2468");
    expect(target.pc(1)).toBe(0x2468n);
    expect(stop({ kind: "exited", code: 3 })).toEqual(["W03"]);
  });

  test("D detaches (OK, then the connection closes); k kills", () => {
    const a = harness();
    expect(a.ask("D")).toEqual(["OK"]);
    expect(a.target.detached).toBe(true);
    expect(a.closed()).toBe(true);
    const b = harness();
    b.ask("k");
    expect(b.target.killed).toBe(true);
    expect(b.closed()).toBe(true);
  });

  test("a bad checksum is answered with -, and - makes the last reply go again", () => {
    const { session, sent, ask } = harness();
    ask("qC");
    sent.length = 0;
    session.receiveBadChecksum();
    session.receiveNack();
    expect(sent).toEqual(["nack", "QC01"]);
    expect(new TextDecoder().decode(encodePacket("QC01"))).toBe("$QC01#f5");
  });

  test("a target with limited debug registers refuses what does not fit with E1c and keeps what it had", () => {
    const { ask, target } = harness();
    const limited = target as FakeTarget & { checkDebugResources?: (points: GdbDebugPoints) => string | undefined };
    limited.checkDebugResources = (p) =>
      p.hardwareBreakpoints.length + p.watchpoints.length > 2 ? "only two slots" : undefined;
    expect(ask("Z1,1000,1")).toEqual(["OK"]);
    expect(ask("Z2,2000,4")).toEqual(["OK"]);
    expect(ask("Z1,3000,1")).toEqual(["E1c"]);
    expect(ask("Z3,4000,4")).toEqual(["E1c"]);
    expect(ask("Z0,5000,1")).toEqual(["OK"]); // software breakpoints take no slot here
    ask("c");
    expect(target.resumes[0]).toMatchObject({
      softwareBreakpoints: [0x5000n],
      hardwareBreakpoints: [0x1000n],
      watchpoints: [{ addr: 0x2000n }],
    });
  });

  test("unknown packets get the empty reply", () => {
    const { ask } = harness();
    expect(ask("vMustReplyEmpty")).toEqual([""]);
    expect(ask("qTStatus")).toEqual([""]);
    expect(ask("!")).toEqual([""]);
  });
});
