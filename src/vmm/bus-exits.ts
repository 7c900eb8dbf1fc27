/**
 * A VM's answer to MMIO, port and system-register exits: the access goes through the bus of its space (the bus
 * checks the window, splits 8-byte accesses, counts bad and unmapped ones), and an access no device takes follows
 * the unmapped-access policy. The backend applies the access width and sign extension to the value returned.
 */

import type { ConsolaInstance } from "consola";
import { PAGE_SIZE_4K } from "../addrspace/addr.ts";
import { hex } from "../common/format.ts";
import { BUS_UNMAPPED, type Bus } from "../devices/bus.ts";
import type { AccessWidth, HalAccessHandler } from "../hal/types.ts";
import type { AxVCpu } from "../vcpu/axvcpu.ts";
import type { BusExit } from "./board.ts";
import type { UnmappedMmioPolicy } from "./config/types.ts";
import { VmError } from "./errors.ts";
import type { VmBuses } from "./vm-stats.ts";

const WIDTH_ONES: Record<AccessWidth, bigint> = { 1: 0xffn, 2: 0xffffn, 4: 0xffff_ffffn, 8: 0xffff_ffff_ffff_ffffn };
/** WIDTH_ONES as numbers, for the access handler's unmapped port reads. */
const PORT_ONES: Record<1 | 2 | 4, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };
/** Distinct unmapped pages we warn about before going quiet (the buses keep counting). */
const UNMAPPED_WARNINGS = 8;

export interface BusExitOptions {
  readonly buses: VmBuses;
  /** `devices.unmapped_mmio`. */
  readonly policy: UnmappedMmioPolicy;
  /** What an MMIO read with no device returns (`Board.unmappedRead`). */
  readonly unmappedRead: "zeros" | "ones";
  /** "vm 1 (name)" for messages. */
  readonly label: string;
  readonly log: ConsolaInstance;
  /** Stop the VM with this error (unmapped_mmio = "fault"). */
  readonly fault: (error: VmError) => void;
}

export class BusExitHandler {
  readonly #options: BusExitOptions;
  readonly #mmio: Bus;
  readonly #port: Bus;
  readonly #sysreg: Bus;
  readonly #warnedPages = new Set<number>();

  constructor(options: BusExitOptions) {
    this.#options = options;
    this.#mmio = options.buses.mmio;
    this.#port = options.buses.port;
    this.#sysreg = options.buses.sysreg;
  }

  /**
   * The same answers for `HalVcpu.runAccesses` (plain accesses of up to 4 bytes, as numbers), for vCPU `vcpuId`.
   * `answered` counts the accesses it took, so the VMM's batch can count them too.
   */
  accessHandler(vcpuId: number): HalAccessHandler & { answered: number } {
    const mmio = this.#mmio;
    const port = this.#port;
    const handler = {
      answered: 0,
      mmioRead: (addr: number, width: 1 | 2 | 4): number => {
        handler.answered++;
        const value = mmio.readNumber(addr, width);
        if (value >= 0) return value;
        return value === BUS_UNMAPPED ? Number(this.#unmapped(mmio, "read", addr, width, vcpuId)) : 0;
      },
      mmioWrite: (addr: number, width: 1 | 2 | 4, value: number): void => {
        handler.answered++;
        if (mmio.writeNumber(addr, width, value) === BUS_UNMAPPED) this.#unmapped(mmio, "write", addr, width, vcpuId);
      },
      portRead: (addr: number, width: 1 | 2 | 4): number => {
        handler.answered++;
        const value = port.readNumber(addr, width);
        if (value >= 0) return value;
        // An unmapped port reads all ones (a PC's floating ISA bus); the bus has counted it (see `#unmapped`).
        return value === BUS_UNMAPPED ? PORT_ONES[width] : 0;
      },
      portWrite: (addr: number, width: 1 | 2 | 4, value: number): void => {
        handler.answered++;
        // An unmapped port write is dropped, counted by the bus; ports never fault nor warn (see `#unmapped`).
        port.writeNumber(addr, width, value);
      },
    };
    return handler;
  }

  /** Do the access `exit` asks for; a read's value goes back to the vCPU. */
  handle(vcpu: AxVCpu, exit: BusExit): void {
    switch (exit.kind) {
      case "MmioRead":
        vcpu.setReturnValue(this.#read(this.#mmio, exit.addr, exit.width, vcpu.id));
        return;
      case "MmioWrite":
        this.#write(this.#mmio, exit.addr, exit.width, exit.data, vcpu.id);
        return;
      case "IoRead":
        vcpu.setReturnValue(this.#read(this.#port, exit.port, exit.width, vcpu.id));
        return;
      case "IoWrite":
        this.#write(this.#port, exit.port, exit.width, exit.data, vcpu.id);
        return;
      case "SysRegRead":
        vcpu.setReturnValue(this.#read(this.#sysreg, exit.addr, 8, vcpu.id));
        return;
      case "SysRegWrite":
        this.#write(this.#sysreg, exit.addr, 8, exit.value, vcpu.id);
        return;
    }
  }

  #read(bus: Bus, addr: number, width: AccessWidth, vcpuId: number): bigint {
    const result = bus.read(addr, width);
    switch (result.kind) {
      case "ok":
        return result.value;
      case "bad-access":
        // Counted by the bus.
        return 0n;
      case "unmapped":
        return this.#unmapped(bus, "read", addr, width, vcpuId);
    }
  }

  #write(bus: Bus, addr: number, width: AccessWidth, value: bigint, vcpuId: number): void {
    // A bad access is counted by the bus and otherwise ignored.
    if (bus.write(addr, width, value).kind === "unmapped") this.#unmapped(bus, "write", addr, width, vcpuId);
  }

  /**
   * The unmapped-access policy. "ignore" (default): MMIO reads give what the board's bus floats to (zeros or
   * all ones), port reads all ones (a PC's), writes are dropped; counted (by the bus), with a warning for the
   * first few pages. "fault": the VM stops with an error naming the address (a guest bug we want to see, not
   * paper over).
   */
  #unmapped(bus: Bus, access: "read" | "write", addr: number, width: AccessWidth, vcpuId: number): bigint {
    // Ports: a PC probes absent ISA devices all the time; they read all ones, writes are dropped, no message.
    if (bus.space === "port") return access === "write" ? 0n : WIDTH_ONES[width];
    const value = access === "write" ? 0n : this.#options.unmappedRead === "ones" ? WIDTH_ONES[width] : 0n;
    // The message is built only when it is used: unmapped accesses can be a guest's hot path.
    const what = (): string => `${width}-byte ${bus.space} ${access} at ${hex(addr)} by vCPU ${vcpuId}`;
    if (this.#options.policy === "fault") {
      const error = new VmError("guest", this.#options.label, `${what()} hits no device (unmapped_mmio = "fault")`);
      this.#options.fault(error);
    } else if (this.#warnedPages.size < UNMAPPED_WARNINGS) {
      const page = Math.floor(addr / PAGE_SIZE_4K);
      if (!this.#warnedPages.has(page)) {
        this.#warnedPages.add(page);
        this.#options.log.warn(
          `${this.#options.label}: ${what()} hits no device; ${access === "read" ? `reading ${hex(value)}` : "ignored"} (further accesses are only counted)`,
        );
      }
    }
    return value;
  }
}
