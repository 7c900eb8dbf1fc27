/**
 * HTIF (the Berkeley host-target interface) as riscv-tests and spike use it: the guest writes a request to the
 * 64-bit `tohost` word of its ELF and the host answers in `fromhost`. The board polls the mailbox between vCPU
 * runs, and a store to it ends the run where the backend can tell (HostMemory.watchWrites). Requests: exit
 * (device 0, command 0, payload bit 0 set), the proxied syscalls of riscv-tests' benchmarks (device 0, command 0,
 * payload = address of `magic_mem`), and the console (device 1: getchar, putchar).
 */

import { ENOSYS } from "../../../common/errno.ts";
import { hex } from "../../../common/format.ts";
import type { BoardServices } from "../../board.ts";
import type { LoadedImage } from "../../loader/image.ts";

const HTIF_DEV_SYSCALL = 0;
const HTIF_DEV_CONSOLE = 1;
const HTIF_CONSOLE_GETCHAR = 0;
const HTIF_CONSOLE_PUTCHAR = 1;
/** The proxied syscalls (riscv-pk numbering, the Linux generic one). */
const SYS_WRITE = 64;
const SYS_EXIT = 93;

/** Where an image's HTIF mailbox is. */
export interface HtifMailbox {
  readonly tohost: number;
  readonly fromhost: number | undefined;
}

/** The mailbox of an ELF with a `tohost` symbol, or undefined when it has none. */
export function findHtifMailbox(image: LoadedImage): HtifMailbox | undefined {
  const tohost = image.elf?.symbols.get("tohost");
  if (tohost === undefined) return undefined;
  return { tohost: tohost.value, fromhost: image.elf?.symbols.get("fromhost")?.value };
}

export class Htif {
  readonly #mailbox: HtifMailbox;
  readonly #s: BoardServices;
  readonly #readConsole: (maxBytes: number) => Uint8Array;
  /** Requests answered (for `--trace-exits`). */
  requests = 0;

  constructor(mailbox: HtifMailbox, services: BoardServices, readConsole: (maxBytes: number) => Uint8Array) {
    this.#mailbox = mailbox;
    this.#s = services;
    this.#readConsole = readConsole;
    // A store to tohost ends the vCPU's run where the backend can tell (HostMemory.watchWrites), so the request is
    // answered now, not when the run ends: console output waits for each byte's answer, and an emulated hart's run
    // is a million instructions (~1 ms a byte, measured on the benchmark programs' 25-byte "ticks=" line).
    if (services.memory.contains(mailbox.tohost, 8)) services.memory.watchWrites(mailbox.tohost, 8);
  }

  /** Answer the request in `tohost`, if there is one. */
  poll(): void {
    const s = this.#s;
    const { tohost, fromhost } = this.#mailbox;
    if (!s.memory.contains(tohost, 8)) return;
    const value = s.memory.readU64(tohost);
    if (value === 0n) return;
    this.requests++;
    const device = Number(value >> 56n);
    const command = Number((value >> 48n) & 0xffn);
    const payload = value & 0xffff_ffff_ffffn;
    s.memory.writeU64(tohost, 0n);
    if (device === HTIF_DEV_SYSCALL && command === 0) {
      if ((payload & 1n) === 1n) {
        const code = Number(payload >> 1n);
        s.requestSystemDown("poweroff", code, `HTIF exit ${code}`);
        return;
      }
      this.#syscall(Number(payload));
      return;
    }
    if (device === HTIF_DEV_CONSOLE && command === HTIF_CONSOLE_PUTCHAR) {
      s.console.write(Uint8Array.of(Number(payload & 0xffn)));
      return;
    }
    if (device === HTIF_DEV_CONSOLE && command === HTIF_CONSOLE_GETCHAR && fromhost !== undefined) {
      const [byte] = this.#readConsole(1);
      s.memory.writeU64(fromhost, (1n << 56n) | BigInt(byte ?? 0xff));
      return;
    }
    s.log.debug(`${s.label}: HTIF request ${hex(value)} ignored`);
  }

  /** The proxied syscalls of riscv-tests' benchmarks (`magic_mem`: [which, a0, a1, a2, ...]). */
  #syscall(magic: number): void {
    const s = this.#s;
    const fromhost = this.#mailbox.fromhost;
    if (!s.memory.contains(magic, 64)) return;
    const which = Number(s.memory.readU64(magic));
    const arg0 = Number(s.memory.readU64(magic + 8));
    const arg1 = Number(s.memory.readU64(magic + 16));
    const arg2 = Number(s.memory.readU64(magic + 24));
    let result = BigInt(-ENOSYS);
    if (which === SYS_WRITE && (arg0 === 1 || arg0 === 2) && s.memory.contains(arg1, arg2)) {
      s.console.write(s.memory.read(arg1, arg2));
      result = BigInt(arg2);
    } else if (which === SYS_EXIT) {
      s.requestSystemDown("poweroff", arg0, `HTIF exit syscall ${arg0}`);
      return;
    }
    s.memory.writeU64(magic, BigInt.asUintN(64, result));
    if (fromhost !== undefined) s.memory.writeU64(fromhost, 1n);
  }
}
