/**
 * Write the riscv virt board's device tree (src/vmm/riscv/fdt.ts) as a DTB file, to boot a kernel on QEMU with
 * *our* device tree instead of QEMU's: that checks the generator against real Linux and real device models.
 *
 *   bun scripts/linux/riscv-virt-dtb.ts --harts 2 --bootargs "console=ttyS0" --with-clint -o board.dtb
 *
 * --with-clint adds a CLINT node for an M-mode firmware (QEMU's OpenSBI needs one for its timer and IPIs); our
 * VMM's VS-mode guests do not get one. The board otherwise matches src/vmm/boards/riscv-virt/layout.ts.
 */
import { parseArgs } from "node:util";
import { IRQ_M_SOFT, IRQ_M_TIMER } from "../../src/arch/riscv64/traps.ts";
import {
  buildRiscvVirtFdt,
  type RiscvBoardDescription,
  virtBoardDescription,
} from "../../src/vmm/boards/riscv-virt/device-tree.ts";
import { RISCV_VIRT } from "../../src/vmm/boards/riscv-virt/layout.ts";
import type { FdtNode } from "../../src/vmm/fdt/fdt.ts";

export interface DtbOptions {
  readonly harts: number;
  readonly memoryMiB: number;
  readonly bootargs: string;
  readonly withClint: boolean;
  readonly isa: readonly string[];
}

export function boardFor(options: DtbOptions): RiscvBoardDescription {
  return virtBoardDescription({
    harts: options.harts,
    memory: [{ base: RISCV_VIRT.RAM_BASE, size: options.memoryMiB * 1024 * 1024 }],
    isaExtensions: options.isa,
    mmuType: "riscv,sv39",
    bootargs: options.bootargs,
  });
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
  if (!Number.isInteger(harts) || harts < 1)
    throw new Error(`Cannot build the DTB: --harts ${values.harts} is not a positive integer`);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 1)
    throw new Error(`Cannot build the DTB: --memory-mib ${values["memory-mib"]} is not a positive integer`);
  const dtb = buildDtb({
    harts,
    memoryMiB,
    bootargs: values.bootargs,
    withClint: values["with-clint"],
    isa: values.isa.split(","),
  });
  if (values.output === undefined) {
    await Bun.write(Bun.stdout, dtb);
  } else {
    await Bun.write(values.output, dtb);
  }
}
