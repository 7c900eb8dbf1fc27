/**
 * One GDB connection's command handling (GDB manual, "Remote Protocol" → "Packets", "General Query Packets",
 * "Stop Reply Packets"), independent of sockets and of what is being debugged: packets in, replies out, against
 * a `GdbTarget`. All-stop mode: when one thread (vCPU) stops, the target stops them all.
 *
 * Thread ids are vCPU id + 1 (GDB reserves 0 for "any" and -1 for "all"). Breakpoints and watchpoints are kept
 * here and handed to the target, whole, each time it resumes; software (Z0) and hardware (Z1) breakpoints are the
 * same to a target that checks the pc itself, and are told apart in stop replies (swbreak/hwbreak).
 */

import type { Watchpoint, WatchpointKind } from "../../hal/types.ts";
import { encodePacket, escapeBinary, fromHex, fromLeBytes, leBytes, toHex, unescapeBinary } from "./gdb-packet.ts";

/** The largest packet we take and the size GDB is told (qSupported PacketSize, hex). */
export const GDB_PACKET_SIZE = 0x4000;
/** The most bytes one `m` reply carries (two hex digits each, within the packet size). */
const MAX_MEMORY_READ = (GDB_PACKET_SIZE - 16) / 2;

/** errno-style codes of E replies: EFAULT for memory, EINVAL for malformed packets, ENOENT for missing things. */
const E_FAULT = "E0e";
const E_INVAL = "E16";
const E_NOENT = "E02";
/** ENOSPC: no debug register left (x86), or a kind the hardware cannot watch. */
const E_NOSPC = "E1c";

export type MemorySpace = "virtual" | "physical";

/** Why the target stopped, as the stop reply says it. */
export type GdbStopEvent =
  | { readonly kind: "breakpoint"; readonly thread: number }
  | { readonly kind: "step"; readonly thread: number }
  | { readonly kind: "watchpoint"; readonly thread: number; readonly addr: bigint; readonly watch: WatchpointKind }
  /** Ctrl-C, or the initial stop (GDB's SIGINT / SIGTRAP). */
  | { readonly kind: "interrupt"; readonly thread: number; readonly signal: number }
  /** The VM ended: its exit code (`W`). */
  | { readonly kind: "exited"; readonly code: number };

/** The breakpoints (Z0: software, Z1: hardware) and watchpoints in force. */
export interface GdbDebugPoints {
  readonly softwareBreakpoints: readonly bigint[];
  readonly hardwareBreakpoints: readonly bigint[];
  readonly watchpoints: readonly Watchpoint[];
}

/** A resume request: which thread single-steps (if any); every breakpoint and watchpoint in force. */
export interface GdbResume extends GdbDebugPoints {
  readonly stepThread: number | undefined;
}

export type MemoryResult =
  | { readonly ok: true; readonly data: Uint8Array }
  | { readonly ok: false; readonly reason: string };

/** What the session debugs: a VM's vCPUs (vm-target.ts), or a fake in tests. Threads are 1-based. */
export interface GdbTarget {
  threads(): readonly number[];
  describeThread(thread: number): string;
  targetXml(thread: number): string;
  readonly gRegisters: readonly number[];
  pc(thread: number): bigint;
  setPc(thread: number, pc: bigint): void;
  registerSize(thread: number, regnum: number): number | undefined;
  readRegister(thread: number, regnum: number): bigint | undefined;
  writeRegister(thread: number, regnum: number, value: bigint): boolean;
  /** Read up to `length` bytes; fewer when a fault ends the range (ok: false only when not one byte was read). */
  readMemory(thread: number, addr: bigint, length: number, space: MemorySpace): MemoryResult;
  writeMemory(
    thread: number,
    addr: bigint,
    data: Uint8Array,
    space: MemorySpace,
  ): { ok: true } | { ok: false; reason: string };
  /**
   * Whether the target can hold these breakpoints and watchpoints together: undefined, or why not (x86: four
   * debug registers). Absent: unlimited.
   */
  checkDebugResources?(points: GdbDebugPoints): string | undefined;
  /** Let the vCPUs run (the session sends the stop reply when `GdbSession.stopped` is called). */
  resume(request: GdbResume): void;
  /** Stop every vCPU (Ctrl-C); the target then calls `stopped` with an interrupt event. */
  interrupt(): void;
  /** Debugger gone, guest continues: clear the debug state and run. */
  detach(): void;
  /** `k`: end the VM. */
  kill(): void;
}

interface BreakpointKinds {
  software: boolean;
  hardware: boolean;
}

const WATCH_KINDS: Record<string, WatchpointKind> = { "2": "write", "3": "read", "4": "access" };
const WATCH_STOP_FIELD: Record<WatchpointKind, string> = { write: "watch", read: "rwatch", access: "awatch" };

/** Bytes as a string of the same char codes (packets are ASCII; binary parts are handled as bytes). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const byte of bytes) s += String.fromCharCode(byte);
  return s;
}

const SIGINT = 2;
const SIGTRAP = 5;

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}

function threadId(thread: number): string {
  return thread.toString(16).padStart(2, "0");
}

/** Parse a hex number (addresses: up to 64 bits). */
function parseHex(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^[0-9a-fA-F]{1,16}$/.test(text)) return undefined;
  return BigInt(`0x${text}`);
}

function parseHexNumber(text: string | undefined, max: number): number | undefined {
  const v = parseHex(text);
  return v === undefined || v > BigInt(max) ? undefined : Number(v);
}

/** A GDB thread id: hex, or -1 (all), 0 (any). */
function parseThread(text: string | undefined): number | undefined {
  if (text === "-1") return -1;
  return parseHexNumber(text, 0xffff);
}

export interface GdbSessionOptions {
  readonly target: GdbTarget;
  /** Send bytes to GDB. */
  readonly send: (bytes: Uint8Array) => void;
  /** The connection should close (after `k`, or a detach). */
  readonly close: () => void;
}

export class GdbSession {
  readonly #target: GdbTarget;
  readonly #send: (bytes: Uint8Array) => void;
  readonly #close: () => void;
  #noAck = false;
  #generalThread = 1;
  #continueThread = -1;
  #space: MemorySpace = "virtual";
  readonly #breakpoints = new Map<bigint, BreakpointKinds>();
  #watchpoints: Watchpoint[] = [];
  #running = false;
  #lastStop: string;
  /** The packet last sent, for a `-` (resend) while acks are on. */
  #lastSent: Uint8Array | undefined;

  constructor(options: GdbSessionOptions) {
    this.#target = options.target;
    this.#send = options.send;
    this.#close = options.close;
    const first = this.#target.threads()[0] ?? 1;
    this.#generalThread = first;
    this.#lastStop = `T${hex2(SIGTRAP)}thread:${threadId(first)};`;
  }

  get running(): boolean {
    return this.#running;
  }

  get noAck(): boolean {
    return this.#noAck;
  }

  /** Where `m`/`M`/`X` addresses point: guest-virtual (the default) or guest-physical (`monitor phys on`). */
  get memorySpace(): MemorySpace {
    return this.#space;
  }

  /** A packet's data arrived (checksum already good). */
  receivePacket(data: Uint8Array): void {
    if (!this.#noAck) this.#send(Uint8Array.of(0x2b));
    const text = latin1(data);
    const replies = this.#handle(text, data);
    for (const reply of replies) this.#reply(reply);
  }

  /** A packet arrived with a bad checksum. */
  receiveBadChecksum(): void {
    if (!this.#noAck) this.#send(Uint8Array.of(0x2d));
  }

  /** GDB asked for the last packet again. */
  receiveNack(): void {
    if (this.#lastSent !== undefined && !this.#noAck) this.#send(this.#lastSent);
  }

  /** Ctrl-C from GDB. */
  receiveInterrupt(): void {
    if (this.#running) this.#target.interrupt();
  }

  /** The target stopped (or ended): send the stop reply if GDB is waiting for one, and remember it for `?`. */
  stopped(event: GdbStopEvent): void {
    const reply = this.#stopReply(event);
    this.#lastStop = reply;
    if (event.kind !== "exited") this.#generalThread = event.thread;
    if (!this.#running && event.kind !== "exited") return;
    this.#running = false;
    this.#reply(reply);
  }

  #reply(payload: string | Uint8Array): void {
    const packet = encodePacket(payload);
    this.#lastSent = packet;
    this.#send(packet);
  }

  #stopReply(event: GdbStopEvent): string {
    switch (event.kind) {
      case "exited":
        return `W${hex2(event.code)}`;
      case "interrupt":
        return `T${hex2(event.signal)}thread:${threadId(event.thread)};`;
      case "step":
        return `T${hex2(SIGTRAP)}thread:${threadId(event.thread)};`;
      case "breakpoint": {
        // The pc is where the stop happened; which kind of breakpoint GDB put there decides the field.
        return `T${hex2(SIGTRAP)}thread:${threadId(event.thread)};${this.#breakpointField(event.thread)}`;
      }
      case "watchpoint":
        return `T${hex2(SIGTRAP)}thread:${threadId(event.thread)};${WATCH_STOP_FIELD[event.watch]}:${event.addr.toString(16)};`;
    }
  }

  #breakpointField(thread: number): string {
    const kinds = this.#breakpoints.get(this.#target.pc(thread));
    if (kinds !== undefined && !kinds.software && kinds.hardware) return "hwbreak:;";
    return "swbreak:;";
  }

  /** Handle one packet; returns the replies (none while the target runs after `c`/`s`). */
  #handle(text: string, raw: Uint8Array): Array<string | Uint8Array> {
    if (this.#running) {
      // All-stop mode: GDB sends nothing but Ctrl-C while the target runs.
      return [E_INVAL];
    }
    const first = text[0] ?? "";
    switch (first) {
      case "?":
        return [this.#lastStop];
      case "q":
        return this.#query(text);
      case "Q":
        if (text === "QStartNoAckMode") {
          // The OK still goes out with acks on: GDB acks it, then neither side acks again.
          this.#reply("OK");
          this.#noAck = true;
          return [];
        }
        return [""];
      case "H":
        return [this.#selectThread(text)];
      case "T": {
        const thread = parseThread(text.slice(1));
        return [thread !== undefined && this.#target.threads().includes(thread) ? "OK" : E_NOENT];
      }
      case "g":
        return [this.#readAllRegisters()];
      case "G":
        return [this.#writeAllRegisters(text.slice(1))];
      case "p":
        return [this.#readOneRegister(text.slice(1))];
      case "P":
        return [this.#writeOneRegister(text.slice(1))];
      case "m":
        return [this.#readMemory(text.slice(1))];
      case "M":
        return [this.#writeMemoryHex(text.slice(1))];
      case "X":
        return [this.#writeMemoryBinary(raw)];
      case "Z":
      case "z":
        return [this.#breakpoint(first === "Z", text.slice(1))];
      case "c":
      case "s":
        return this.#resumeLegacy(first, text.slice(1));
      case "v":
        return this.#vPacket(text);
      case "D":
        this.#breakpoints.clear();
        this.#watchpoints = [];
        this.#reply("OK");
        this.#target.detach();
        this.#close();
        return [];
      case "k":
        this.#target.kill();
        this.#close();
        return [];
      default:
        // An empty reply is the protocol's "not supported".
        return [""];
    }
  }

  #query(text: string): string[] {
    if (text.startsWith("qSupported")) {
      return [
        `PacketSize=${GDB_PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+`,
      ];
    }
    if (text.startsWith("qXfer:features:read:")) return [this.#features(text.slice("qXfer:features:read:".length))];
    if (text === "qAttached") return ["1"];
    if (text === "qC") return [`QC${threadId(this.#generalThread)}`];
    if (text === "qfThreadInfo") return [`m${this.#target.threads().map(threadId).join(",")}`];
    if (text === "qsThreadInfo") return ["l"];
    if (text.startsWith("qThreadExtraInfo,")) {
      const thread = parseThread(text.slice("qThreadExtraInfo,".length));
      if (thread === undefined || !this.#target.threads().includes(thread)) return [E_NOENT];
      return [toHex(new TextEncoder().encode(this.#target.describeThread(thread)))];
    }
    if (text === "qSymbol::") return ["OK"];
    if (text.startsWith("qRcmd,")) return this.#monitor(text.slice("qRcmd,".length));
    return [""];
  }

  #features(args: string): string {
    const [annex, range] = args.split(":");
    if (annex !== "target.xml") return E_NOENT;
    const [offText, lenText] = (range ?? "").split(",");
    const offset = parseHexNumber(offText, 0xffff_ffff);
    const length = parseHexNumber(lenText, 0xffff_ffff);
    if (offset === undefined || length === undefined) return E_INVAL;
    const xml = this.#target.targetXml(this.#generalThread);
    if (offset >= xml.length) return "l";
    const chunk = xml.slice(offset, offset + Math.min(length, GDB_PACKET_SIZE - 16));
    const more = offset + chunk.length < xml.length;
    const escaped = latin1(escapeBinary(new TextEncoder().encode(chunk)));
    return `${more ? "m" : "l"}${escaped}`;
  }

  /** `monitor CMD`: output goes back as O packets, then OK. */
  #monitor(hexCommand: string): string[] {
    const bytes = fromHex(hexCommand);
    if (bytes === undefined) return [E_INVAL];
    const command = new TextDecoder().decode(bytes).trim();
    const out = (line: string): string => `O${toHex(new TextEncoder().encode(`${line}\n`))}`;
    const words = command.split(/\s+/);
    if (words[0] === "phys") {
      if (words[1] === "on") this.#space = "physical";
      else if (words[1] === "off") this.#space = "virtual";
      else if (words[1] !== undefined) return [out(`phys: expected on or off, got "${words[1]}"`), "OK"];
      return [
        out(
          `memory accesses use ${this.#space === "physical" ? "guest-physical" : "guest-virtual (the vCPU's current translation)"} addresses`,
        ),
        "OK",
      ];
    }
    if (words[0] === "help" || words[0] === "") {
      return [
        out("monitor phys [on|off]  memory packets address guest-physical (on) or guest-virtual (off) memory"),
        out("monitor help           this list"),
        "OK",
      ];
    }
    return [out(`unknown monitor command "${command}" (try: monitor help)`), "OK"];
  }

  #selectThread(text: string): string {
    const op = text[1];
    const thread = parseThread(text.slice(2));
    if (thread === undefined || (op !== "g" && op !== "c")) return E_INVAL;
    const threads = this.#target.threads();
    if (thread > 0 && !threads.includes(thread)) return E_NOENT;
    if (op === "g") this.#generalThread = thread > 0 ? thread : (threads[0] ?? 1);
    else this.#continueThread = thread;
    return "OK";
  }

  #readAllRegisters(): string {
    const thread = this.#generalThread;
    let out = "";
    for (const regnum of this.#target.gRegisters) {
      const size = this.#target.registerSize(thread, regnum) ?? 8;
      const value = this.#target.readRegister(thread, regnum);
      out += value === undefined ? "xx".repeat(size) : toHex(leBytes(value, size));
    }
    return out;
  }

  #writeAllRegisters(hexData: string): string {
    const bytes = fromHex(hexData);
    if (bytes === undefined) return E_INVAL;
    const thread = this.#generalThread;
    let offset = 0;
    for (const regnum of this.#target.gRegisters) {
      const size = this.#target.registerSize(thread, regnum) ?? 8;
      if (offset + size > bytes.length) break;
      this.#target.writeRegister(thread, regnum, fromLeBytes(bytes.subarray(offset, offset + size)));
      offset += size;
    }
    return "OK";
  }

  #readOneRegister(args: string): string {
    const regnum = parseHexNumber(args, 0xffff);
    if (regnum === undefined) return E_INVAL;
    const size = this.#target.registerSize(this.#generalThread, regnum);
    if (size === undefined) return E_NOENT;
    const value = this.#target.readRegister(this.#generalThread, regnum);
    return value === undefined ? "xx".repeat(size) : toHex(leBytes(value, size));
  }

  #writeOneRegister(args: string): string {
    const [regText, valueText] = args.split("=");
    const regnum = parseHexNumber(regText, 0xffff);
    const bytes = fromHex(valueText ?? "");
    if (regnum === undefined || bytes === undefined) return E_INVAL;
    const size = this.#target.registerSize(this.#generalThread, regnum);
    if (size === undefined) return E_NOENT;
    if (bytes.length !== size) return E_INVAL;
    return this.#target.writeRegister(this.#generalThread, regnum, fromLeBytes(bytes)) ? "OK" : E_INVAL;
  }

  #addressAndLength(args: string): { addr: bigint; length: number } | undefined {
    const [addrText, lenText] = args.split(",");
    const addr = parseHex(addrText);
    const length = parseHexNumber(lenText, 0xffff_ffff);
    return addr === undefined || length === undefined ? undefined : { addr, length };
  }

  #readMemory(args: string): string {
    const parsed = this.#addressAndLength(args);
    if (parsed === undefined) return E_INVAL;
    if (parsed.length === 0) return "";
    const length = Math.min(parsed.length, MAX_MEMORY_READ);
    const result = this.#target.readMemory(this.#generalThread, parsed.addr, length, this.#space);
    return result.ok ? toHex(result.data) : E_FAULT;
  }

  #writeMemoryHex(args: string): string {
    const [where, data] = args.split(":");
    const parsed = this.#addressAndLength(where ?? "");
    const bytes = fromHex(data ?? "");
    if (parsed === undefined || bytes === undefined || bytes.length !== parsed.length) return E_INVAL;
    return this.#writeMemory(parsed.addr, bytes);
  }

  #writeMemoryBinary(raw: Uint8Array): string {
    const colon = raw.indexOf(0x3a);
    if (colon < 0) return E_INVAL;
    const parsed = this.#addressAndLength(latin1(raw.subarray(1, colon)));
    const bytes = unescapeBinary(raw.subarray(colon + 1));
    if (parsed === undefined || bytes.length !== parsed.length) return E_INVAL;
    // `X addr,0:` is GDB's probe for X support: an empty write that succeeds.
    if (bytes.length === 0) return "OK";
    return this.#writeMemory(parsed.addr, bytes);
  }

  #writeMemory(addr: bigint, bytes: Uint8Array): string {
    const result = this.#target.writeMemory(this.#generalThread, addr, bytes, this.#space);
    return result.ok ? "OK" : E_FAULT;
  }

  #breakpoint(insert: boolean, args: string): string {
    const [type, addrText, kindText] = args.split(",");
    const addr = parseHex(addrText);
    const kind = parseHexNumber(kindText?.split(";")[0], 0xffff_ffff);
    if (addr === undefined || kind === undefined) return E_INVAL;
    if (type === "0" || type === "1") {
      const before = this.#breakpoints.get(addr);
      const existing = { software: before?.software ?? false, hardware: before?.hardware ?? false };
      if (type === "0") existing.software = insert;
      else existing.hardware = insert;
      if (existing.software || existing.hardware) this.#breakpoints.set(addr, existing);
      else this.#breakpoints.delete(addr);
      if (insert && this.#overCommitted()) {
        if (before === undefined) this.#breakpoints.delete(addr);
        else this.#breakpoints.set(addr, before);
        return E_NOSPC;
      }
      return "OK";
    }
    const watchKind = type === undefined ? undefined : WATCH_KINDS[type];
    if (watchKind === undefined) return "";
    if (kind === 0) return E_INVAL;
    if (insert) {
      this.#watchpoints.push({ addr, length: kind, kind: watchKind });
      if (this.#overCommitted()) {
        this.#watchpoints.pop();
        return E_NOSPC;
      }
    } else {
      const at = this.#watchpoints.findIndex((w) => w.addr === addr && w.length === kind && w.kind === watchKind);
      if (at >= 0) this.#watchpoints.splice(at, 1);
    }
    return "OK";
  }

  /** The target cannot hold the breakpoints and watchpoints now in force (the reason is logged by GDB as E28). */
  #overCommitted(): boolean {
    return this.#target.checkDebugResources?.(this.#debugPoints()) !== undefined;
  }

  #debugPoints(): GdbDebugPoints {
    const softwareBreakpoints: bigint[] = [];
    const hardwareBreakpoints: bigint[] = [];
    for (const [addr, kinds] of this.#breakpoints) {
      if (kinds.software) softwareBreakpoints.push(addr);
      if (kinds.hardware) hardwareBreakpoints.push(addr);
    }
    return { softwareBreakpoints, hardwareBreakpoints, watchpoints: [...this.#watchpoints] };
  }

  #resumeLegacy(action: "c" | "s", addrText: string): string[] {
    const thread = this.#continueThread > 0 ? this.#continueThread : this.#generalThread;
    if (addrText !== "") {
      const addr = parseHex(addrText);
      if (addr === undefined) return [E_INVAL];
      this.#target.setPc(thread, addr);
    }
    this.#resume(action === "s" ? thread : undefined);
    return [];
  }

  #vPacket(text: string): string[] {
    if (text === "vCont?") return ["vCont;c;C;s;S"];
    if (text.startsWith("vCont;")) {
      // Actions in order; the first that names a thread (or has none) applies. We honour one step and let the
      // other vCPUs run: the VM pauses and resumes as a whole.
      let stepThread: number | undefined;
      for (const action of text.slice("vCont;".length).split(";")) {
        const [verb, threadText] = action.split(":");
        if (verb === undefined) return [E_INVAL];
        if (verb[0] !== "s" && verb[0] !== "S") continue;
        const thread = threadText === undefined ? this.#generalThread : parseThread(threadText);
        if (thread === undefined) return [E_INVAL];
        if (stepThread === undefined) stepThread = thread > 0 ? thread : this.#generalThread;
      }
      this.#resume(stepThread);
      return [];
    }
    if (text.startsWith("vKill")) {
      this.#reply("OK");
      this.#target.kill();
      this.#close();
      return [];
    }
    // vMustReplyEmpty, vFile, vRun, ...: not supported.
    return [""];
  }

  #resume(stepThread: number | undefined): void {
    this.#running = true;
    this.#target.resume({ stepThread, ...this.#debugPoints() });
  }
}

export { SIGINT as GDB_SIGINT, SIGTRAP as GDB_SIGTRAP };
