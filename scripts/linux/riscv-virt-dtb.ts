/**
 * Write the riscv virt board's device tree (src/vmm/riscv/fdt.ts) as a DTB file, to boot a kernel on QEMU with
 * *our* device tree instead of QEMU's: that checks the generator against real Linux and real device models.
 *
 *   bun scripts/linux/riscv-virt-dtb.ts --harts 2 --bootargs "console=ttyS0" --with-clint -o board.dtb
 *
 * --with-clint adds a CLINT node for an M-mode firmware (QEMU's OpenSBI needs one for its timer and IPIs); our
 * VMM's VS-mode guests do not get one. The board otherwise matches src/vmm/machines/riscv-virt-layout.ts.
 */
import { parseArgs } from "node:util";
import { type FdtNode } from "../../src/vmm/fdt/fdt.ts";
import { plicSize, RISCV_VIRT, virtioMmioWindow } from "../../src/vmm/machines/riscv-virt-layout.ts";
import { buildRiscvVirtFdt, type RiscvBoardDescription } from "../../src/vmm/riscv/fdt.ts";

/** The machine-level software and timer interrupt causes (mip.MSIP, mip.MTIP). */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;

export interface DtbOptions {
  readonly harts: number;
  readonly memoryMiB: number;
  readonly bootargs: string;
  readonly withClint: boolean;
  readonly isa: readonly string[];
}

export function boardFor(options: DtbOptions): RiscvBoardDescription {
  return {
    harts: options.harts,
    isaExtensions: options.isa,
    mmuType: "riscv,sv39",
    timebaseFrequency: 10_000_000,
    memory: [{ base: RISCV_VIRT.RAM_BASE, size: options.memoryMiB * 1024 * 1024 }],
    chosen: { bootargs: options.bootargs },
    plic: { base: RISCV_VIRT.PLIC_BASE, size: plicSize(options.harts), ndev: RISCV_VIRT.PLIC_NUM_SOURCES - 1 },
    uart: { base: RISCV_VIRT.UART0_BASE, size: RISCV_VIRT.UART0_SIZE, irq: RISCV_VIRT.UART0_IRQ, clockFrequency: RISCV_VIRT.UART0_CLOCK_HZ },
    virtio: Array.from({ length: RISCV_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => virtioMmioWindow(i)),
    testFinisher: { base: RISCV_VIRT.SIFIVE_TEST_BASE, size: RISCV_VIRT.SIFIVE_TEST_SIZE },
  };
}

export function buildDtb(options: DtbOptions): Uint8Array {
  const fdt = buildRiscvVirtFdt(boardFor(options));
  if (options.withClint) {
    const soc = fdt.find("/soc");
    if (soc === undefined) throw new Error("the board has no /soc node");
    const cells: Array<number | FdtNode> = [];
    for (let hart = 0; hart < options.harts; hart++) {
      const intc = fdt.find(`/cpus/cpu@${hart.toString(16)}/interrupt-controller`);
      if (intc === undefined) throw new Error(`the board has no interrupt controller for hart ${hart}`);
      cells.push(intc, IRQ_M_SOFT, intc, IRQ_M_TIMER);
    }
    soc
      .addNode(`clint@${RISCV_VIRT.CLINT_BASE.toString(16)}`)
      .strings("compatible", ["sifive,clint0", "riscv,clint0"])
      .u64s("reg", [RISCV_VIRT.CLINT_BASE, RISCV_VIRT.CLINT_SIZE])
      .cells("interrupts-extended", cells);
  }
  return fdt.toDtb();
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      harts: { type: "string", default: "1" },
      "memory-mib": { type: "string", default: "128" },
      bootargs: { type: "string", default: "console=ttyS0" },
      isa: { type: "string", default: "i,m,a,f,d,c,zicsr,zifencei" },
      "with-clint": { type: "boolean", default: false },
      output: { type: "string", short: "o" },
    },
  });
  const harts = Number(values.harts);
  const memoryMiB = Number(values["memory-mib"]);
  if (!Number.isInteger(harts) || harts < 1) throw new Error(`Cannot build the DTB: --harts ${values.harts} is not a positive integer`);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 1) throw new Error(`Cannot build the DTB: --memory-mib ${values["memory-mib"]} is not a positive integer`);
  const dtb = buildDtb({ harts, memoryMiB, bootargs: values.bootargs, withClint: values["with-clint"], isa: values.isa.split(",") });
  if (values.output === undefined) {
    await Bun.write(Bun.stdout, dtb);
  } else {
    await Bun.write(values.output, dtb);
  }
}
