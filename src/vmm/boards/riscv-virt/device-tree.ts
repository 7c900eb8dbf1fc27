/**
 * The device tree of the RISC-V virt board as a VS-mode guest sees it, generated from a plain description
 * (`RiscvBoardDescription`) that the board fills from the config and `layout.ts`.
 *
 * The shape follows QEMU's `virt` machine, which Linux, OpenSBI-less kernels and hobby OSes all know:
 *
 *   / (#address-cells = #size-cells = 2, compatible "axvisor-ts,riscv-virt" + "riscv-virtio")
 *   ├─ chosen           bootargs, stdout-path, linux,initrd-start/end
 *   ├─ aliases          serial0
 *   ├─ memory@<base>    one per RAM region
 *   ├─ cpus             timebase-frequency; cpu@N (riscv,isa + riscv,isa-base + riscv,isa-extensions, mmu-type,
 *   │                   interrupt-controller "riscv,cpu-intc"); cpu-map/cluster0/coreN
 *   ├─ soc (simple-bus) plic@…, serial@…, rtc@… (google,goldfish-rtc), virtio_mmio@…, test@… (sifive,test0 +
 *   │                   syscon)
 *   ├─ poweroff         syscon-poweroff on the test device (value 0x5555)
 *   └─ reboot           syscon-reboot on the test device (value 0x7777)
 *
 * PLIC contexts. A context is one (hart, privilege) target; the order of `interrupts-extended` entries *is* the
 * context number. Two layouts are offered:
 * - "machine-and-supervisor" (default, QEMU's numbering): per hart `<&cpuN_intc 11>, <&cpuN_intc 9>`, so context
 *   2h is hart h's M-mode (present in the register map, never delivered: a VS guest has no M-mode) and context
 *   2h+1 is hart h's S-mode, which the VMM delivers as VSEIP. Guests that hard-code QEMU's `2*hart+1` work, and
 *   it matches `plicContext(hart, "S")` in layout.ts. Linux skips entries whose cause is not 9.
 * - "supervisor-only" (kvmtool's): per hart `<&cpuN_intc 9>`, so context h is hart h's S-mode.
 * `plicContexts()` lists the contexts a layout implies, for wiring the PLIC model to match.
 */

import { PAGE_SIZE } from "../../../arch/riscv64/paging.ts";
import { IRQ_M_EXT, IRQ_S_EXT } from "../../../arch/riscv64/traps.ts";
import { alignUp } from "../../../common/ranges.ts";
import { plicWindowSize } from "../../../devices/plic.ts";
import { FINISHER_PASS, FINISHER_RESET, SIFIVE_TEST_FINISHER_OFFSET } from "../../../devices/sifive-test.ts";
import { DEFAULT_TIMEBASE_HZ, MAX_TIMEBASE_HZ } from "../../../hal/types.ts";
import { Fdt, FdtError, type FdtNode } from "../../fdt/fdt.ts";
import { RISCV_VIRT, virtioMmioWindow } from "./layout.ts";

export type PlicContextLayout = "machine-and-supervisor" | "supervisor-only";
export type RiscvMmuType = "riscv,sv39" | "riscv,sv48" | "riscv,sv57";

export interface RiscvBoardDescription {
  /** Number of harts (vCPUs); hart ids 0 .. harts-1. */
  readonly harts: number;
  /**
   * ISA extensions the guest's harts implement, lower-case: single letters ("i", "m", "a", "f", "d", "c", "h")
   * and multi-letter names ("zicsr", "zifencei", "sstc", ...). "g" expands to i, m, a, f, d, zicsr, zifencei.
   * They are put in canonical order for `riscv,isa`.
   */
  readonly isaExtensions: readonly string[];
  readonly xlen?: 32 | 64;
  readonly mmuType: RiscvMmuType;
  /** Frequency of `time`, in Hz (QEMU uses 10 MHz). */
  readonly timebaseFrequency: number;
  readonly memory: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  /** Memory reservation block entries (firmware the guest must not touch); usually none. */
  readonly reservedMemory?: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  readonly chosen: {
    readonly bootargs?: string;
    /** Guest-physical [start, end) of an initrd the VMM loaded. */
    readonly initrd?: { readonly start: number; readonly end: number };
    /** Point stdout-path at the UART (default true when there is a UART). */
    readonly stdoutToUart?: boolean;
  };
  readonly plic: {
    readonly base: number;
    readonly size: number;
    /** Number of interrupt sources (riscv,ndev): source ids 1..ndev. */
    readonly ndev: number;
    readonly contextLayout?: PlicContextLayout;
  };
  readonly uart?: {
    readonly base: number;
    readonly size: number;
    readonly irq: number;
    readonly clockFrequency: number;
  };
  /** The Goldfish RTC (the wall clock). */
  readonly rtc?: { readonly base: number; readonly size: number; readonly irq: number };
  readonly virtio?: ReadonlyArray<{ readonly base: number; readonly size: number; readonly irq: number }>;
  /** The SiFive test finisher; emitted with syscon-poweroff and syscon-reboot nodes. */
  readonly testFinisher?: { readonly base: number; readonly size: number };
}

/** One PLIC context: which hart and privilege level it interrupts, and whether the VMM delivers it. */
export interface PlicContextTarget {
  readonly context: number;
  readonly hart: number;
  readonly mode: "M" | "S";
  /** True for S contexts (→ the hart's VSEIP); M contexts exist in the register map but reach no one. */
  readonly delivered: boolean;
}

/** The contexts the generated `interrupts-extended` implies, in context-number order. */
export function plicContexts(harts: number, layout: PlicContextLayout = "machine-and-supervisor"): PlicContextTarget[] {
  const out: PlicContextTarget[] = [];
  for (let hart = 0; hart < harts; hart++) {
    if (layout === "machine-and-supervisor") out.push({ context: out.length, hart, mode: "M", delivered: false });
    out.push({ context: out.length, hart, mode: "S", delivered: true });
  }
  return out;
}

/** Node path of the UART, for `stdout-path` and `aliases`. */
export function uartNodePath(base: number): string {
  return `/soc/serial@${unitAddress(base)}`;
}

// Canonical order of single-letter extensions (unprivileged ISA, "ISA Extension Naming Conventions").
const SINGLE_LETTER_ORDER = "iemafdqlcbkjtpvh";
const MULTI_LETTER = /^[zsx][a-z0-9]+$/;

/**
 * `riscv,isa` ("rv64imafdc_zicsr_zifencei_sstc") and the `riscv,isa-extensions` list for the given extensions.
 * Multi-letter names go after the single letters, separated by "_": Z-extensions first, ordered by the category
 * of their second letter and then alphabetically, then S-extensions, then X-extensions, alphabetically.
 */
export function riscvIsa(
  xlen: 32 | 64,
  extensions: readonly string[],
): { isa: string; base: string; extensions: string[] } {
  const names = new Set<string>();
  for (const raw of extensions) {
    const name = raw.toLowerCase();
    if (name === "g") {
      for (const e of ["i", "m", "a", "f", "d", "zicsr", "zifencei"]) names.add(e);
    } else if (name.length === 1 ? SINGLE_LETTER_ORDER.includes(name) : MULTI_LETTER.test(name)) {
      names.add(name);
    } else {
      throw new FdtError("invalid-value", `Cannot describe the ISA: "${raw}" is not a RISC-V extension name`);
    }
  }
  if (!names.has("i"))
    throw new FdtError("invalid-value", `Cannot describe the ISA: the base integer extension "i" is missing`);
  const single = [...names]
    .filter((n) => n.length === 1)
    .sort((a, b) => SINGLE_LETTER_ORDER.indexOf(a) - SINGLE_LETTER_ORDER.indexOf(b));
  const rank = (n: string): number => {
    if (n.startsWith("z")) {
      const category = SINGLE_LETTER_ORDER.indexOf(n[1] ?? "");
      return category < 0 ? SINGLE_LETTER_ORDER.length : category;
    }
    return n.startsWith("s") ? 100 : 200;
  };
  const multi = [...names]
    .filter((n) => n.length > 1)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const isa = `rv${xlen}${single.join("")}${multi.map((n) => `_${n}`).join("")}`;
  return { isa, base: `rv${xlen}i`, extensions: [...single, ...multi] };
}

/**
 * What the emulated hart implements: RV64GC and the bit-manipulation extensions Zba, Zbb, Zbc and Zbs (as QEMU's
 * default rv64 CPU; RVA22/RVA23 profiles require Zba/Zbb/Zbs, and Linux patches in Zbb string and bit routines
 * when the tree lists it). The H extension is the host's, not the guest's.
 */
export const DEFAULT_ISA_EXTENSIONS: readonly string[] = ["g", "c", "zba", "zbb", "zbc", "zbs"];

export interface VirtBoardOptions {
  readonly harts: number;
  readonly memory: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  /** The guest harts' extensions; default DEFAULT_ISA_EXTENSIONS. */
  readonly isaExtensions?: readonly string[];
  /**
   * List "sstc" in riscv,isa. Only when the VMM sets henvcfg.STCE: Linux then writes stimecmp directly, which traps
   * as a virtual instruction when STCE is clear.
   */
  readonly sstc?: boolean;
  /** The largest translation mode the guest harts implement. */
  readonly mmuType: RiscvMmuType;
  readonly timebaseFrequency?: number;
  readonly bootargs?: string;
  readonly initrd?: { readonly start: number; readonly end: number };
  /** How many of the layout's virtio-mmio windows to list (default all of them). */
  readonly virtioWindows?: number;
  readonly plicContextLayout?: PlicContextLayout;
}

/** The description of the riscv virt board (`layout.ts`) for `buildRiscvVirtDtb`. */
export function virtBoardDescription(options: VirtBoardOptions): RiscvBoardDescription {
  const isa = [...(options.isaExtensions ?? DEFAULT_ISA_EXTENSIONS), ...(options.sstc === true ? ["sstc"] : [])];
  const layout = options.plicContextLayout ?? "machine-and-supervisor";
  // The PLIC window covers every context the layout lists (two per hart for QEMU's numbering, one otherwise).
  const contexts = plicContexts(options.harts, layout).length;
  const plicBytes = alignUp(plicWindowSize(contexts), PAGE_SIZE);
  return {
    harts: options.harts,
    isaExtensions: isa,
    mmuType: options.mmuType,
    timebaseFrequency: options.timebaseFrequency ?? DEFAULT_TIMEBASE_HZ,
    memory: options.memory,
    chosen: {
      ...(options.bootargs === undefined ? {} : { bootargs: options.bootargs }),
      ...(options.initrd === undefined ? {} : { initrd: options.initrd }),
    },
    plic: { base: RISCV_VIRT.PLIC_BASE, size: plicBytes, ndev: RISCV_VIRT.PLIC_NUM_SOURCES - 1, contextLayout: layout },
    uart: {
      base: RISCV_VIRT.UART0_BASE,
      size: RISCV_VIRT.UART0_SIZE,
      irq: RISCV_VIRT.UART0_IRQ,
      clockFrequency: RISCV_VIRT.UART0_CLOCK_HZ,
    },
    rtc: { base: RISCV_VIRT.GOLDFISH_RTC_BASE, size: RISCV_VIRT.GOLDFISH_RTC_SIZE, irq: RISCV_VIRT.GOLDFISH_RTC_IRQ },
    virtio: Array.from({ length: options.virtioWindows ?? RISCV_VIRT.VIRTIO_MMIO_COUNT }, (_, i) =>
      virtioMmioWindow(i),
    ),
    testFinisher: { base: RISCV_VIRT.SIFIVE_TEST_BASE, size: RISCV_VIRT.SIFIVE_TEST_SIZE },
  };
}

/** Build the board's device tree. Throws `FdtError` ("invalid-value") naming the field for a bad description. */
export function buildRiscvVirtFdt(board: RiscvBoardDescription): Fdt {
  validate(board);
  const fdt = new Fdt({ bootCpuId: 0 });
  const root = fdt.root;
  root.u32("#address-cells", 2).u32("#size-cells", 2);
  root.strings("compatible", ["axvisor-ts,riscv-virt", "riscv-virtio"]).string("model", "axvisor-ts riscv virt");
  for (const r of board.reservedMemory ?? []) fdt.addReservation(r.base, r.size);

  // chosen and aliases first, as QEMU does; filled once the UART path is known.
  const chosen = root.addNode("chosen");
  const aliases = board.uart === undefined ? undefined : root.addNode("aliases");

  for (const region of board.memory) {
    root
      .addNode(`memory@${unitAddress(region.base)}`)
      .string("device_type", "memory")
      .u64s("reg", [region.base, region.size]);
  }

  const intcs = addCpus(root, board);
  const soc = root.addNode("soc");
  soc.u32("#address-cells", 2).u32("#size-cells", 2).string("compatible", "simple-bus").empty("ranges");
  const plic = addPlic(soc, board, intcs);

  if (board.uart !== undefined) {
    const { base, size, irq, clockFrequency } = board.uart;
    soc
      .addNode(`serial@${unitAddress(base)}`)
      .string("compatible", "ns16550a")
      .u64s("reg", [base, size])
      .u32("clock-frequency", clockFrequency)
      .u32("interrupts", irq)
      .u32("interrupt-parent", plic);
    aliases?.string("serial0", uartNodePath(base));
    if (board.chosen.stdoutToUart ?? true) chosen.string("stdout-path", uartNodePath(base));
  }
  if (board.rtc !== undefined) {
    soc
      .addNode(`rtc@${unitAddress(board.rtc.base)}`)
      .string("compatible", "google,goldfish-rtc")
      .u64s("reg", [board.rtc.base, board.rtc.size])
      .u32("interrupts", board.rtc.irq)
      .u32("interrupt-parent", plic);
  }
  for (const v of board.virtio ?? []) {
    soc
      .addNode(`virtio_mmio@${unitAddress(v.base)}`)
      .string("compatible", "virtio,mmio")
      .u64s("reg", [v.base, v.size])
      .u32("interrupts", v.irq)
      .u32("interrupt-parent", plic);
  }
  if (board.testFinisher !== undefined) {
    const test = soc
      .addNode(`test@${unitAddress(board.testFinisher.base)}`)
      .strings("compatible", ["sifive,test1", "sifive,test0", "syscon"])
      .u64s("reg", [board.testFinisher.base, board.testFinisher.size]);
    root
      .addNode("poweroff")
      .string("compatible", "syscon-poweroff")
      .u32("regmap", test)
      .u32("offset", SIFIVE_TEST_FINISHER_OFFSET)
      .u32("value", FINISHER_PASS);
    root
      .addNode("reboot")
      .string("compatible", "syscon-reboot")
      .u32("regmap", test)
      .u32("offset", SIFIVE_TEST_FINISHER_OFFSET)
      .u32("value", FINISHER_RESET);
  }

  if (board.chosen.bootargs !== undefined) chosen.string("bootargs", board.chosen.bootargs);
  if (board.chosen.initrd !== undefined) {
    chosen.u64("linux,initrd-start", board.chosen.initrd.start).u64("linux,initrd-end", board.chosen.initrd.end);
  }
  return fdt;
}

/** `buildRiscvVirtFdt(board).toDtb()`. */
export function buildRiscvVirtDtb(board: RiscvBoardDescription): Uint8Array {
  return buildRiscvVirtFdt(board).toDtb();
}

function addCpus(root: FdtNode, board: RiscvBoardDescription): FdtNode[] {
  const isa = riscvIsa(board.xlen ?? 64, board.isaExtensions);
  const cpus = root.addNode("cpus");
  cpus.u32("#address-cells", 1).u32("#size-cells", 0).u32("timebase-frequency", board.timebaseFrequency);
  const cpuNodes: FdtNode[] = [];
  const intcs: FdtNode[] = [];
  for (let hart = 0; hart < board.harts; hart++) {
    const cpu = cpus.addNode(`cpu@${hart.toString(16)}`);
    cpu
      .string("device_type", "cpu")
      .u32("reg", hart)
      .string("status", "okay")
      .string("compatible", "riscv")
      .string("riscv,isa", isa.isa)
      .string("riscv,isa-base", isa.base)
      .strings("riscv,isa-extensions", isa.extensions)
      .string("mmu-type", board.mmuType);
    const intc = cpu.addNode("interrupt-controller");
    // #address-cells = 0: an interrupt provider without it makes interrupt-map parsing guess (dtc warns).
    intc
      .u32("#address-cells", 0)
      .u32("#interrupt-cells", 1)
      .empty("interrupt-controller")
      .string("compatible", "riscv,cpu-intc");
    cpuNodes.push(cpu);
    intcs.push(intc);
  }
  const cluster = cpus.addNode("cpu-map").addNode("cluster0");
  cpuNodes.forEach((cpu, hart) => cluster.addNode(`core${hart}`).u32("cpu", cpu));
  return intcs;
}

function addPlic(soc: FdtNode, board: RiscvBoardDescription, intcs: readonly FdtNode[]): FdtNode {
  const { base, size, ndev } = board.plic;
  const plic = soc.addNode(`plic@${unitAddress(base)}`);
  plic
    .u32("#interrupt-cells", 1)
    .u32("#address-cells", 0)
    .strings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"])
    .empty("interrupt-controller")
    .u64s("reg", [base, size])
    .u32("riscv,ndev", ndev);
  const cells = plicContexts(board.harts, board.plic.contextLayout).flatMap((ctx) => {
    const intc = intcs[ctx.hart];
    if (intc === undefined) throw new Error(`bug: no interrupt controller for hart ${ctx.hart}`);
    return [intc, ctx.mode === "S" ? IRQ_S_EXT : IRQ_M_EXT];
  });
  plic.cells("interrupts-extended", cells);
  return plic;
}

/** A node's unit address: hex without the 0x (`uart@10000000`). */
function unitAddress(n: number): string {
  return n.toString(16);
}

function validate(board: RiscvBoardDescription): void {
  const bad = (field: string, why: string): FdtError =>
    new FdtError("invalid-value", `Cannot build the riscv virt device tree: ${field} ${why}`);
  const isAddress = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
  if (!Number.isInteger(board.harts) || board.harts < 1) throw bad("harts", `is ${board.harts}, expected at least 1`);
  if (
    !Number.isInteger(board.timebaseFrequency) ||
    board.timebaseFrequency < 1 ||
    board.timebaseFrequency > MAX_TIMEBASE_HZ
  ) {
    throw bad("timebaseFrequency", `is ${board.timebaseFrequency}, expected 1..2^32-1 Hz`);
  }
  if (board.memory.length === 0) throw bad("memory", "is empty: a guest needs at least one RAM region");
  board.memory.forEach((r, i) => {
    if (!isAddress(r.base) || !isAddress(r.size) || r.size === 0)
      throw bad(`memory[${i}]`, `(base 0x${r.base.toString(16)}, size ${r.size}) is not a non-empty range`);
  });
  const { ndev } = board.plic;
  if (!Number.isInteger(ndev) || ndev < 1 || ndev > 1023)
    throw bad("plic.ndev", `is ${ndev}, expected 1..1023 sources`);
  const checkIrq = (field: string, irq: number): void => {
    if (!Number.isInteger(irq) || irq < 1 || irq > ndev)
      throw bad(field, `is ${irq}, expected a PLIC source 1..${ndev}`);
  };
  if (board.uart !== undefined) checkIrq("uart.irq", board.uart.irq);
  if (board.rtc !== undefined) checkIrq("rtc.irq", board.rtc.irq);
  board.virtio?.forEach((v, i) => checkIrq(`virtio[${i}].irq`, v.irq));
  const initrd = board.chosen.initrd;
  if (initrd !== undefined && !(isAddress(initrd.start) && isAddress(initrd.end) && initrd.end >= initrd.start)) {
    throw bad("chosen.initrd", `[0x${initrd.start.toString(16)}, 0x${initrd.end.toString(16)}) is not a valid range`);
  }
}
