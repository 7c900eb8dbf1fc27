/**
 * The emulated backend's VM: a physical address space (`PhysicalMemory`) shared by its harts, a host-physical
 * allocator for `allocateMemory`, and the architectural timer.
 *
 * Address spaces:
 * - "hypervisor" VMs: the harts' physical space is the host-physical space. Every block from `allocateMemory`
 *   sits at its `hostPhysAddr`; the guest reaches it only through the G-stage table the VMM builds (hgatp).
 *   `mapGuestMemory` is accepted for symmetry with memory-slot backends and recorded, but translation is the
 *   G-stage table's job.
 * - "bare-machine" VMs: the harts run without a G-stage and their physical space is exactly the map
 *   `mapGuestMemory` builds; every other physical data access is MMIO.
 */

import { PAGE_SIZE } from "../../arch/riscv64/paging.ts";
import {
  DEFAULT_TIMEBASE_HZ,
  type GuestArch,
  type GuestPhysAddr,
  HalError,
  type HalVcpu,
  type HalVm,
  type HalVmOptions,
  type HostMemory,
  type HostPhysAddr,
  type MappingFlagBits,
} from "../types.ts";
import { Arena } from "./arena.ts";
import { VmClock } from "./clock.ts";
import { MEM_BLOCK_MAX_SIZE, MemBlock, PhysicalMemory } from "./phys-memory.ts";
import { hartThreadsWanted } from "./threads/switch.ts";
import { ThreadedVcpu } from "./threads/threaded-vcpu.ts";
import { EmulatedVcpu } from "./vcpu.ts";

/**
 * The largest memory region (one `allocateMemory`) the emulated backend can give: 4 GiB, the largest ArrayBuffer
 * Bun's JavaScriptCore creates (measured: `new ArrayBuffer(2 ** 32)` works, one byte more is "Out of memory"
 * whatever the host has free). Guest RAM beyond that takes several regions. Buffers are allocated lazily by the
 * host (untouched pages cost nothing), so the total is bounded only by what the guest touches and the host can
 * give, and by host-physical space (HOST_PHYS_LIMIT). Inside the backend each region is mapped as blocks of at
 * most MEM_BLOCK_MAX_SIZE (1 GiB), which keeps the harts' int32 offset arithmetic exact.
 */
export const EMULATED_MAX_REGION_SIZE = 2 ** 32;

/** Where automatic placement of host-physical blocks starts (above any fixed low placement a VMM asks for). */
export const HOST_PHYS_ALLOC_BASE = 0x1_0000_0000;
/** Host-physical addresses must fit a PTE's PPN (44 bits) shifted by 12, and a double: stay below 2^52. */
export const HOST_PHYS_LIMIT = 2 ** 52;

interface Allocation {
  readonly base: number;
  readonly end: number;
}

/** One MemBlock of a host allocation, at `offset` bytes into it. */
interface BlockPiece {
  readonly offset: number;
  readonly block: MemBlock;
}

/**
 * Cut `bytes` into blocks of at most MEM_BLOCK_MAX_SIZE (views of the same buffer: no copy). `arenaOffset` is where
 * `bytes` starts in the VM's arena, or -1 when it is not in the arena.
 */
function splitIntoBlocks(bytes: Uint8Array, arenaOffset: number): BlockPiece[] {
  const pieces: BlockPiece[] = [];
  for (let offset = 0; offset < bytes.length; offset += MEM_BLOCK_MAX_SIZE) {
    const end = Math.min(bytes.length, offset + MEM_BLOCK_MAX_SIZE);
    pieces.push({
      offset,
      block: new MemBlock(bytes.subarray(offset, end), arenaOffset < 0 ? -1 : arenaOffset + offset),
    });
  }
  return pieces;
}

/** A VM object on a hart's thread (threads/hart-worker.ts): the creating thread's arena and clock. */
export interface AttachedVm {
  readonly memory: WebAssembly.Memory;
  /** Arena offset of the clock's two doubles (clock.ts). */
  readonly clockOffset: number;
  readonly creatorTimeOrigin: number;
}

/** Bytes of the clock's slots in the arena. */
const CLOCK_BYTES = 16;

export class EmulatedVm implements HalVm {
  readonly backend = "emulated" as const;
  readonly arch: GuestArch;
  readonly stage2 = "nested-page-table" as const;
  readonly timebaseHz: number;
  readonly vmId: number;
  readonly mode: "hypervisor" | "bare-machine";
  readonly memory: PhysicalMemory;
  readonly #allocations: Allocation[] = [];
  readonly #blocks = new WeakMap<HostMemory, readonly BlockPiece[]>();
  readonly #guestMap: { gpa: number; end: number; memory: HostMemory }[] = [];
  readonly #vcpus = new Map<number, EmulatedVcpu | ThreadedVcpu>();
  readonly #clock: VmClock;
  /** Arena offset of the clock's slots, or -1 (no arena). */
  readonly clockOffset: number;
  /** Harts run on threads of their own (threads/): chosen at creation (threads/switch.ts). */
  readonly threaded: boolean;
  /** How many harts the VM was created for (hart ids 0 .. cpuCount-1). */
  readonly cpuCount: number;
  /** Several harts take turns on this thread (not threaded, not a hart's own thread, more than one hart). */
  readonly hartsShareThread: boolean;
  #closed = false;
  /** The vCPU that ran last (LR/SC reservations of the others are broken when another hart runs). */
  lastRun: EmulatedVcpu | undefined;

  constructor(options: HalVmOptions, attached?: AttachedVm) {
    if (options.arch !== "riscv64") {
      throw new HalError(
        "emulated",
        "unsupported",
        "createVm",
        `Cannot create a ${options.arch} VM: the emulated backend runs riscv64 guests only`,
      );
    }
    const hz = options.timebaseHz ?? DEFAULT_TIMEBASE_HZ;
    if (!Number.isFinite(hz) || hz <= 0) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "createVm",
        `Cannot create VM ${options.vmId}: timebaseHz ${hz} is not a positive frequency`,
      );
    }
    this.arch = options.arch;
    this.vmId = options.vmId;
    this.timebaseHz = hz;
    this.mode = options.mode ?? "hypervisor";
    const arena = attached === undefined ? Arena.create() : new Arena(attached.memory);
    this.memory = new PhysicalMemory(arena);
    const clockOffset = attached?.clockOffset ?? arena?.allocate(CLOCK_BYTES, 8) ?? -1;
    this.clockOffset = clockOffset;
    const slots =
      arena === undefined || clockOffset < 0 ? new Float64Array(2) : new Float64Array(arena.buffer, clockOffset, 2);
    this.#clock = new VmClock(slots, hz, attached?.creatorTimeOrigin);
    this.cpuCount = options.cpuCount;
    this.threaded = attached === undefined && arena !== undefined && hartThreadsWanted(options.cpuCount);
    this.hartsShareThread = attached === undefined && !this.threaded && options.cpuCount > 1;
  }

  /** On a hart's thread: map a RAM block of the creating thread's arena at the same physical address. */
  mapArenaBlock(base: number, arenaOffset: number, size: number): void {
    const arena = this.memory.arena;
    if (arena === undefined)
      throw new HalError("emulated", "state", "mapArenaBlock", "Cannot map: the VM has no arena");
    if (this.memory.regions.some((r) => r.base === base)) return;
    this.memory.map(base, new MemBlock(arena.bytes(arenaOffset, size), arenaOffset));
  }

  get vcpus(): ReadonlyMap<number, EmulatedVcpu | ThreadedVcpu> {
    return this.#vcpus;
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new HalError("emulated", "state", operation, `Cannot ${operation} on VM ${this.vmId}: the VM is closed`);
  }

  allocateMemory(size: number, options: { alignment?: number; hostPhysAddr?: HostPhysAddr } = {}): HostMemory {
    this.#checkOpen("allocateMemory");
    const alignment = options.alignment ?? PAGE_SIZE;
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "allocateMemory",
        `Cannot allocate ${size} bytes: the size must be a positive multiple of 4 KiB`,
      );
    }
    if (size > EMULATED_MAX_REGION_SIZE) {
      throw new HalError(
        "emulated",
        "resource",
        "allocateMemory",
        `Cannot allocate ${size} bytes: one emulated memory region holds at most ${EMULATED_MAX_REGION_SIZE} bytes (4 GiB, the largest buffer the JavaScript engine creates); use several regions`,
      );
    }
    if (!Number.isSafeInteger(alignment) || alignment < PAGE_SIZE || (alignment & (alignment - 1)) !== 0) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "allocateMemory",
        `Cannot allocate ${size} bytes: alignment ${alignment} is not a power of two of at least 4 KiB`,
      );
    }
    let base: number;
    if (options.hostPhysAddr !== undefined) {
      base = options.hostPhysAddr;
      if (!Number.isSafeInteger(base) || base < 0 || base % alignment !== 0 || base + size > HOST_PHYS_LIMIT) {
        throw new HalError(
          "emulated",
          "resource",
          "allocateMemory",
          `Cannot place ${size} bytes at host-physical 0x${base.toString(16)}: not ${alignment}-byte aligned or beyond the 2^52 limit`,
        );
      }
      const clash = this.#allocations.find((a) => base < a.end && a.base < base + size);
      if (clash !== undefined) {
        throw new HalError(
          "emulated",
          "resource",
          "allocateMemory",
          `Cannot place ${size} bytes at host-physical 0x${base.toString(16)}: overlaps the block at 0x${clash.base.toString(16)}..0x${(clash.end - 1).toString(16)}`,
        );
      }
    } else {
      base = this.#findFree(size, alignment);
    }
    let bytes: Uint8Array;
    // In the arena while it fits (compiled code and Workers reach it there; arena.ts states the limits).
    const arena = this.memory.arena;
    const arenaOffset = arena?.allocate(size, PAGE_SIZE) ?? -1;
    try {
      bytes = arena !== undefined && arenaOffset >= 0 ? arena.bytes(arenaOffset, size) : new Uint8Array(size);
    } catch (error) {
      throw new HalError(
        "emulated",
        "resource",
        "allocateMemory",
        `Cannot allocate ${size} bytes: the host refused (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    // (The arena asks for huge pages where it grows: arena.ts.)
    const pieces = splitIntoBlocks(bytes, arenaOffset);
    this.#allocations.push({ base, end: base + size });
    if (this.mode === "hypervisor") for (const p of pieces) this.memory.map(base + p.offset, p.block);
    const memory = this.memory;
    const host: HostMemory = {
      bytes,
      hostPhysAddr: base,
      // The arena is a shared WebAssembly.Memory: one private anonymous mapping, unmapped when it is collected.
      privatePages: arenaOffset >= 0,
      notifyWritten(offset: number, length: number): void {
        for (const p of pieces) {
          const start = Math.max(offset, p.offset);
          const end = Math.min(offset + length, p.offset + p.block.size);
          if (start < end) memory.externalWrite(p.block, start - p.offset, end - start);
        }
      },
      watchWrites(offset: number, length: number): void {
        for (const p of pieces) {
          const start = Math.max(offset, p.offset);
          const end = Math.min(offset + length, p.offset + p.block.size);
          if (start < end) memory.watchWrites(p.block, start - p.offset, end - start);
        }
      },
    };
    this.#blocks.set(host, pieces);
    return host;
  }

  #findFree(size: number, alignment: number): number {
    let candidate = Math.ceil(HOST_PHYS_ALLOC_BASE / alignment) * alignment;
    const sorted = [...this.#allocations].sort((a, b) => a.base - b.base);
    for (const a of sorted) {
      if (candidate + size <= a.base) break;
      if (a.end > candidate) candidate = Math.ceil(a.end / alignment) * alignment;
    }
    if (candidate + size > HOST_PHYS_LIMIT) {
      throw new HalError(
        "emulated",
        "resource",
        "allocateMemory",
        `Cannot allocate ${size} bytes: host-physical space exhausted`,
      );
    }
    return candidate;
  }

  mapGuestMemory(gpa: GuestPhysAddr, memory: HostMemory, _flags: MappingFlagBits): void {
    this.#checkOpen("mapGuestMemory");
    const pieces = this.#blocks.get(memory);
    if (pieces === undefined) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "mapGuestMemory",
        `Cannot map guest-physical 0x${gpa.toString(16)}: the memory was not allocated by this VM`,
      );
    }
    const end = gpa + memory.bytes.length;
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa % PAGE_SIZE !== 0 || end > HOST_PHYS_LIMIT) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "mapGuestMemory",
        `Cannot map guest-physical 0x${gpa.toString(16)}: not page aligned or out of range`,
      );
    }
    const clash = this.#guestMap.find((m) => gpa < m.end && m.gpa < end);
    if (clash !== undefined) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "mapGuestMemory",
        `Cannot map guest-physical 0x${gpa.toString(16)}..0x${(end - 1).toString(16)}: overlaps the mapping at 0x${clash.gpa.toString(16)}`,
      );
    }
    this.#guestMap.push({ gpa, end, memory });
    if (this.mode === "bare-machine") for (const p of pieces) this.memory.map(gpa + p.offset, p.block);
  }

  createVcpu(id: number): HalVcpu {
    this.#checkOpen("createVcpu");
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "createVcpu",
        `Cannot create vCPU ${id}: the id must be a non-negative integer`,
      );
    }
    if (this.#vcpus.has(id)) {
      throw new HalError(
        "emulated",
        "state",
        "createVcpu",
        `Cannot create vCPU ${id} on VM ${this.vmId}: it already exists`,
      );
    }
    const vcpu = this.threaded ? new ThreadedVcpu(this, id) : new EmulatedVcpu(this, id);
    this.#vcpus.set(id, vcpu);
    return vcpu;
  }

  removeVcpu(vcpu: EmulatedVcpu | ThreadedVcpu): void {
    if (this.#vcpus.get(vcpu.id) === vcpu) this.#vcpus.delete(vcpu.id);
  }

  setIrqLine(line: number, _level: boolean): void {
    throw new HalError(
      "emulated",
      "unsupported",
      "setIrqLine",
      `Cannot set IRQ line ${line}: RISC-V interrupt controllers live in the VMM; use HalVcpu.setInterruptLevel`,
    );
  }

  currentTime(): number {
    return this.#clock.currentTime();
  }

  /** The hart's `time` is this clock: stopping it stops the guest's time too. */
  pauseClock(): void {
    this.#clock.pause();
  }

  resumeClock(): void {
    this.#clock.resume();
  }

  /** Make the clock read `ticks` now and go on from there (a restored snapshot's time). */
  setCurrentTime(ticks: number): void {
    this.#clock.set(ticks);
  }

  [Symbol.dispose](): void {
    for (const vcpu of [...this.#vcpus.values()]) vcpu[Symbol.dispose]();
    this.#closed = true;
  }
}
