/**
 * The GDB stub's socket (`axvisor run --gdb PORT|PATH`): a TCP port on 127.0.0.1 (or HOST:PORT) or a unix socket
 * path, one debugger at a time, in Bun's own event loop. It attaches to a VM before the VM runs and holds it
 * paused until GDB connects and continues it (QEMU's `-s -S`), so a breakpoint at the first instruction works.
 *
 * A debugger that disconnects without `D` or `k` detaches: the guest runs on without debugging. A second
 * connection while one is open is refused (closed at once).
 */

import { existsSync, lstatSync, unlinkSync } from "node:fs";
import type { ConsolaInstance } from "consola";
import type { GdbArchitecture } from "./gdb-arch.ts";
import { GdbPacketDecoder } from "./gdb-packet.ts";
import { GDB_SIGTRAP, GdbSession } from "./gdb-session.ts";
import { type DebuggableVm, VmGdbTarget } from "./vm-target.ts";

export type GdbListenAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export class GdbServerError extends Error {
  override readonly name = "GdbServerError";
  readonly kind: "bad-address" | "listen";
  constructor(kind: "bad-address" | "listen", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/**
 * `PORT`, `HOST:PORT` (TCP) or a path (a unix socket: anything with a `/`, or `unix:PATH`). Throws
 * `GdbServerError` "bad-address" naming the value.
 */
export function parseGdbAddress(text: string): GdbListenAddress {
  if (text.startsWith("unix:")) return { kind: "unix", path: text.slice("unix:".length) };
  if (text.includes("/")) return { kind: "unix", path: text };
  const colon = text.lastIndexOf(":");
  const host = colon < 0 ? "127.0.0.1" : text.slice(0, colon) || "127.0.0.1";
  const portText = colon < 0 ? text : text.slice(colon + 1);
  const port = /^[0-9]+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new GdbServerError(
      "bad-address",
      `Cannot listen for GDB on "${text}": expected PORT (1..65535), HOST:PORT or a unix socket path`,
    );
  }
  return { kind: "tcp", host, port };
}

export function formatGdbAddress(address: GdbListenAddress): string {
  return address.kind === "tcp" ? `tcp ${address.host}:${address.port}` : `unix socket ${address.path}`;
}

interface Connection {
  readonly socket: Bun.Socket<undefined>;
  readonly decoder: GdbPacketDecoder;
  readonly session: GdbSession;
  /** Bytes the socket did not take yet (sent on drain). */
  pending: Uint8Array[];
}

interface Attached {
  readonly vm: DebuggableVm;
  readonly arch: GdbArchitecture;
}

export class GdbServer {
  readonly address: GdbListenAddress;
  readonly #listener: Bun.SocketListener<undefined> | Bun.TCPSocketListener<undefined>;
  readonly #log: ConsolaInstance;
  #connection: Connection | undefined;
  #attached: Attached | undefined;
  #target: VmGdbTarget | undefined;

  private constructor(address: GdbListenAddress, log: ConsolaInstance) {
    this.address = address;
    this.#log = log;
    const handlers: Bun.SocketHandler<undefined> = {
      open: (socket) => this.#open(socket),
      data: (socket, data) => this.#data(socket, data),
      drain: (socket) => this.#drain(socket),
      close: (socket) => this.#closed(socket),
      error: (socket, error) => {
        this.#log.warn(`gdb: connection error: ${error.message}`);
        this.#closed(socket);
      },
    };
    try {
      if (address.kind === "unix") {
        refuseNonSocket(address.path);
        this.#listener = Bun.listen<undefined>({ unix: address.path, socket: handlers });
      } else {
        this.#listener = Bun.listen<undefined>({ hostname: address.host, port: address.port, socket: handlers });
      }
    } catch (error) {
      if (error instanceof GdbServerError) throw error;
      throw new GdbServerError(
        "listen",
        `Cannot listen for GDB on ${formatGdbAddress(address)}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /** Open the socket. Throws `GdbServerError` when it cannot. */
  static listen(address: GdbListenAddress, log: ConsolaInstance): GdbServer {
    return new GdbServer(address, log);
  }

  /** The TCP port actually bound (useful with port 0 in tests), or undefined for unix sockets. */
  get port(): number | undefined {
    return "port" in this.#listener ? this.#listener.port : undefined;
  }

  /**
   * Debug `vm` (built, not yet running, or paused): it is paused now and stays so until GDB resumes it. A VM
   * built again after a guest reboot is attached the same way; GDB sees one target throughout.
   */
  attach(vm: DebuggableVm & { boot(): void; readonly status: string }, arch: GdbArchitecture): void {
    if (vm.status === "Loaded") vm.boot();
    const paused = vm.pause();
    if (paused instanceof Promise)
      paused.catch((error: unknown) => this.#log.error(`gdb: cannot pause: ${String(error)}`));
    this.#attached = { vm, arch };
    this.#target = this.#makeTarget();
    const connection = this.#connection;
    if (connection !== undefined) {
      // A debugger already connected (a reboot): it is told the target stopped.
      connection.session.stopped({ kind: "interrupt", thread: 1, signal: GDB_SIGTRAP });
    }
  }

  /** The attached VM ended with `exitCode`: the debugger is told (`W`), and nothing is attached any more. */
  vmEnded(exitCode: number): void {
    this.#connection?.session.stopped({ kind: "exited", code: exitCode });
    this.#attached = undefined;
    this.#target = undefined;
  }

  close(): void {
    this.#connection?.socket.end();
    this.#connection = undefined;
    this.#listener.stop(true);
    if (this.address.kind === "unix" && existsSync(this.address.path)) {
      try {
        unlinkSync(this.address.path);
      } catch {
        // Already gone.
      }
    }
  }

  #makeTarget(): VmGdbTarget | undefined {
    const attached = this.#attached;
    if (attached === undefined) return undefined;
    return new VmGdbTarget(
      attached.vm,
      attached.arch,
      (event) => this.#connection?.session.stopped(event),
      (error) => this.#log.error(`gdb: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  #open(socket: Bun.Socket<undefined>): void {
    const target = this.#target;
    if (this.#connection !== undefined || target === undefined) {
      this.#log.warn(
        this.#connection !== undefined
          ? "gdb: refused a second debugger connection (one is attached)"
          : "gdb: refused a debugger connection: no VM is running",
      );
      socket.end();
      return;
    }
    target.reattach();
    const connection: Connection = {
      socket,
      decoder: new GdbPacketDecoder(),
      session: new GdbSession({
        target,
        send: (bytes) => this.#send(connection, bytes),
        close: () => socket.end(),
      }),
      pending: [],
    };
    this.#connection = connection;
    this.#log.info(`gdb: debugger connected on ${formatGdbAddress(this.address)}`);
  }

  #data(socket: Bun.Socket<undefined>, data: Uint8Array): void {
    const connection = this.#connection;
    if (connection === undefined || connection.socket !== socket) return;
    let inputs: ReturnType<GdbPacketDecoder["push"]>;
    try {
      inputs = connection.decoder.push(data);
    } catch (error) {
      this.#log.warn(`gdb: ${error instanceof Error ? error.message : String(error)}; closing the connection`);
      socket.end();
      return;
    }
    for (const input of inputs) {
      switch (input.kind) {
        case "packet":
          connection.session.receivePacket(input.data);
          break;
        case "bad-checksum":
          connection.session.receiveBadChecksum();
          break;
        case "nack":
          connection.session.receiveNack();
          break;
        case "ack":
          break;
        case "interrupt":
          connection.session.receiveInterrupt();
          break;
      }
    }
  }

  #send(connection: Connection, bytes: Uint8Array): void {
    if (connection.pending.length > 0) {
      connection.pending.push(bytes);
      return;
    }
    const written = connection.socket.write(bytes);
    if (written < bytes.length) connection.pending.push(bytes.subarray(Math.max(0, written)));
  }

  #drain(socket: Bun.Socket<undefined>): void {
    const connection = this.#connection;
    if (connection === undefined || connection.socket !== socket) return;
    while (connection.pending.length > 0) {
      const next = connection.pending[0];
      if (next === undefined) break;
      const written = socket.write(next);
      if (written < next.length) {
        connection.pending[0] = next.subarray(Math.max(0, written));
        return;
      }
      connection.pending.shift();
    }
  }

  #closed(socket: Bun.Socket<undefined>): void {
    const connection = this.#connection;
    if (connection === undefined || connection.socket !== socket) return;
    this.#connection = undefined;
    // Gone without `D` or `k`: the guest goes on without a debugger (a later debugger finds it running).
    this.#target?.detach();
    this.#log.info("gdb: debugger disconnected");
  }
}

/** A unix socket path must be free, or a stale socket (which is removed); anything else is refused. */
function refuseNonSocket(path: string): void {
  if (!existsSync(path)) return;
  const stat = lstatSync(path);
  if (!stat.isSocket()) {
    throw new GdbServerError(
      "listen",
      `Cannot listen for GDB on unix socket ${path}: the path exists and is not a socket`,
    );
  }
  unlinkSync(path);
}
