/**
 * The device tree of the arm64 `virt` board, generated from a plain description the board fills from the config
 * and layout.ts. Its shape is QEMU `virt`'s (what Linux's arm64 defconfig and Debian's kernel boot on):
 *
 *   / (#address-cells = #size-cells = 2, compatible "linux,dummy-virt", interrupt-parent = the GIC)
 *   ├─ chosen           bootargs, stdout-path (the PL011), linux,initrd-start/end
 *   ├─ aliases          serial0
 *   ├─ memory@<base>    one per RAM region
 *   ├─ psci             compatible arm,psci-0.2, method "hvc" (KVM implements PSCI in the kernel)
 *   ├─ cpus             cpu@<MPIDR affinity>: arm,arm-v8, enable-method "psci"
 *   ├─ timer            arm,armv8-timer: secure, non-secure, virtual and hyp PPIs (13, 14, 11, 10)
 *   ├─ intc@8000000     arm,gic-v3: distributor + redistributor region, maintenance PPI 9
 *   ├─ apb-pclk         the 24 MHz fixed clock the PrimeCells name
 *   ├─ pl011@9000000    arm,pl011 + arm,primecell, SPI 1
 *   ├─ pl031@9010000    arm,pl031 + arm,primecell, SPI 2
 *   ├─ pl061@9030000    arm,pl061 + arm,primecell, SPI 7, gpio-controller (2 cells)
 *   ├─ gpio-keys        poweroff: KEY_POWER on the PL061's line 3 (active high), as QEMU's virt has it
 *   └─ virtio_mmio@…    one per window (empty windows too, as QEMU lists them), level-high SPIs
 *
 * Interrupt specifiers are the GIC binding's three cells: <kind number flags> (kind 0 = SPI, 1 = PPI).
 */
import {
  ARCH_TIMER_HYP_PPI,
  ARCH_TIMER_NONSECURE_PHYS_PPI,
  ARCH_TIMER_SECURE_PHYS_PPI,
  ARCH_TIMER_VIRT_PPI,
  GIC_DT_PPI,
  GIC_DT_SPI,
  GIC_MAINTENANCE_PPI,
  GIC_MAX_SPI_INTID,
  GIC_SPI_BASE,
  IRQ_TYPE_LEVEL_HIGH,
} from "../../../arch/aarch64/gic.ts";
import { Fdt, FdtError } from "../../fdt/fdt.ts";
import { ARM64_VIRT } from "./layout.ts";

export interface Arm64VirtDescription {
  /** MPIDR affinity of each vCPU, in vCPU order (the cpu nodes' `reg`). */
  readonly cpuAffinities: readonly number[];
  readonly memory: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  /** Memory reservation block entries. */
  readonly reservedMemory?: ReadonlyArray<{ readonly base: number; readonly size: number }>;
  readonly bootargs?: string;
  /** Guest-physical [start, end) of the initrd. */
  readonly initrd?: { readonly start: number; readonly end: number };
  /** virtio-mmio windows: base, size and SPI number (INTID - 32). */
  readonly virtio: ReadonlyArray<{ readonly base: number; readonly size: number; readonly spi: number }>;
}

/** Node path of the UART, for `stdout-path` and `aliases`. */
export const ARM64_UART_PATH = `/pl011@${ARM64_VIRT.UART0_BASE.toString(16)}`;

/** Build the board's device tree. Throws `FdtError` ("invalid-value") naming the field for a bad description. */
export function buildArm64VirtFdt(board: Arm64VirtDescription): Fdt {
  validate(board);
  const fdt = new Fdt({ bootCpuId: board.cpuAffinities[0] ?? 0 });
  const root = fdt.root;
  root.u32("#address-cells", 2).u32("#size-cells", 2);
  root.string("compatible", "linux,dummy-virt").string("model", "axvisor-ts arm64 virt");
  for (const r of board.reservedMemory ?? []) fdt.addReservation(r.base, r.size);
  const chosen = root.addNode("chosen");
  const aliases = root.addNode("aliases");

  for (const region of board.memory) {
    root
      .addNode(`memory@${hex(region.base)}`)
      .string("device_type", "memory")
      .u64s("reg", [region.base, region.size]);
  }

  root.addNode("psci").strings("compatible", ["arm,psci-0.2", "arm,psci"]).string("method", "hvc");

  const cpus = root.addNode("cpus");
  cpus.u32("#address-cells", 1).u32("#size-cells", 0);
  for (const affinity of board.cpuAffinities) {
    cpus
      .addNode(`cpu@${hex(affinity)}`)
      .string("device_type", "cpu")
      .string("compatible", "arm,arm-v8")
      .u32("reg", affinity)
      .string("enable-method", "psci");
  }

  const gic = root.addNode(`intc@${hex(ARM64_VIRT.GIC_DIST_BASE)}`);
  gic
    .string("compatible", "arm,gic-v3")
    .u32("#interrupt-cells", 3)
    .u32("#address-cells", 2)
    .u32("#size-cells", 2)
    .empty("ranges")
    .empty("interrupt-controller")
    .u32("#redistributor-regions", 1)
    .u64s("reg", [
      ARM64_VIRT.GIC_DIST_BASE,
      ARM64_VIRT.GIC_DIST_SIZE,
      ARM64_VIRT.GIC_REDIST_BASE,
      ARM64_VIRT.GIC_REDIST_SIZE,
    ])
    .cells("interrupts", [GIC_DT_PPI, GIC_MAINTENANCE_PPI, IRQ_TYPE_LEVEL_HIGH]);
  root.u32("interrupt-parent", gic);

  root
    .addNode("timer")
    .strings("compatible", ["arm,armv8-timer", "arm,armv7-timer"])
    .cells("interrupts", [
      ...[ARCH_TIMER_SECURE_PHYS_PPI, ARCH_TIMER_NONSECURE_PHYS_PPI, ARCH_TIMER_VIRT_PPI, ARCH_TIMER_HYP_PPI].flatMap(
        (ppi) => [GIC_DT_PPI, ppi, IRQ_TYPE_LEVEL_HIGH],
      ),
    ])
    .empty("always-on");

  const clock = root.addNode("apb-pclk");
  clock
    .string("compatible", "fixed-clock")
    .u32("#clock-cells", 0)
    .u32("clock-frequency", ARM64_VIRT.APB_CLOCK_HZ)
    .string("clock-output-names", "clk24mhz");

  root
    .addNode(`pl011@${hex(ARM64_VIRT.UART0_BASE)}`)
    .strings("compatible", ["arm,pl011", "arm,primecell"])
    .u64s("reg", [ARM64_VIRT.UART0_BASE, ARM64_VIRT.UART0_SIZE])
    .cells("interrupts", [GIC_DT_SPI, ARM64_VIRT.UART0_SPI, IRQ_TYPE_LEVEL_HIGH])
    .cells("clocks", [clock, clock])
    .strings("clock-names", ["uartclk", "apb_pclk"]);
  aliases.string("serial0", ARM64_UART_PATH);
  chosen.string("stdout-path", ARM64_UART_PATH);

  root
    .addNode(`pl031@${hex(ARM64_VIRT.RTC_BASE)}`)
    .strings("compatible", ["arm,pl031", "arm,primecell"])
    .u64s("reg", [ARM64_VIRT.RTC_BASE, ARM64_VIRT.RTC_SIZE])
    .cells("interrupts", [GIC_DT_SPI, ARM64_VIRT.RTC_SPI, IRQ_TYPE_LEVEL_HIGH])
    .cells("clocks", [clock])
    .string("clock-names", "apb_pclk");

  const gpio = root.addNode(`pl061@${hex(ARM64_VIRT.GPIO_BASE)}`);
  gpio
    .strings("compatible", ["arm,pl061", "arm,primecell"])
    .u64s("reg", [ARM64_VIRT.GPIO_BASE, ARM64_VIRT.GPIO_SIZE])
    .cells("interrupts", [GIC_DT_SPI, ARM64_VIRT.GPIO_SPI, IRQ_TYPE_LEVEL_HIGH])
    .u32("#gpio-cells", 2)
    .empty("gpio-controller")
    .cells("clocks", [clock])
    .string("clock-names", "apb_pclk");
  root
    .addNode("gpio-keys")
    .string("compatible", "gpio-keys")
    .addNode("poweroff")
    .string("label", "GPIO Key Poweroff")
    .u32("linux,code", ARM64_VIRT.POWER_KEY_CODE)
    // <controller line flags>: flags 0 = active high.
    .cells("gpios", [gpio, ARM64_VIRT.POWER_KEY_GPIO_LINE, 0]);

  for (const v of board.virtio) {
    root
      .addNode(`virtio_mmio@${hex(v.base)}`)
      .string("compatible", "virtio,mmio")
      .u64s("reg", [v.base, v.size])
      .cells("interrupts", [GIC_DT_SPI, v.spi, IRQ_TYPE_LEVEL_HIGH])
      .empty("dma-coherent");
  }

  if (board.bootargs !== undefined) chosen.string("bootargs", board.bootargs);
  if (board.initrd !== undefined) {
    chosen.u64("linux,initrd-start", board.initrd.start).u64("linux,initrd-end", board.initrd.end);
  }
  return fdt;
}

/** `buildArm64VirtFdt(board).toDtb()`. */
export function buildArm64VirtDtb(board: Arm64VirtDescription): Uint8Array {
  return buildArm64VirtFdt(board).toDtb();
}

function hex(n: number): string {
  return n.toString(16);
}

function validate(board: Arm64VirtDescription): void {
  const bad = (field: string, why: string): FdtError =>
    new FdtError("invalid-value", `Cannot build the arm64 virt device tree: ${field} ${why}`);
  const isAddress = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
  if (board.cpuAffinities.length === 0) throw bad("cpuAffinities", "is empty: a guest needs at least one vCPU");
  board.cpuAffinities.forEach((a, i) => {
    if (!Number.isInteger(a) || a < 0 || a > 0xffff_ffff)
      throw bad(`cpuAffinities[${i}]`, `is ${a}, expected a 32-bit MPIDR affinity`);
  });
  if (board.memory.length === 0) throw bad("memory", "is empty: a guest needs at least one RAM region");
  board.memory.forEach((r, i) => {
    if (!isAddress(r.base) || !isAddress(r.size) || r.size === 0)
      throw bad(`memory[${i}]`, `(base 0x${r.base.toString(16)}, size ${r.size}) is not a non-empty range`);
  });
  board.virtio.forEach((v, i) => {
    if (!Number.isInteger(v.spi) || v.spi < 0 || v.spi + GIC_SPI_BASE > GIC_MAX_SPI_INTID)
      throw bad(`virtio[${i}].spi`, `is ${v.spi}, expected an SPI number 0..${GIC_MAX_SPI_INTID - GIC_SPI_BASE}`);
  });
  const initrd = board.initrd;
  if (initrd !== undefined && !(isAddress(initrd.start) && isAddress(initrd.end) && initrd.end >= initrd.start)) {
    throw bad("initrd", `[0x${initrd.start.toString(16)}, 0x${initrd.end.toString(16)}) is not a valid range`);
  }
}
