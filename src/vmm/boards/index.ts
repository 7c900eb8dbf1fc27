/** Which board a VM config gets (the board step of the builder, src/vmm/builder.ts). */

import type { Board } from "../board.ts";
import type { VmConfig } from "../config/types.ts";
import { VmError } from "../errors.ts";
import { RiscvVirtBoard } from "./riscv-virt/board.ts";
import { X86PcBoard } from "./x86-pc/board.ts";

export function boardFor(config: VmConfig): Board {
  const label = `vm ${config.id} (${config.name})`;
  switch (config.arch) {
    case "riscv64":
      return new RiscvVirtBoard(config.machine === "virt-bare" ? "bare" : "hypervisor");
    case "x86_64":
      if (config.machine === "virt-bare")
        throw new VmError(
          "config",
          label,
          `base.machine = "virt-bare" is a RISC-V board; x86_64 guests use the PC machine`,
        );
      return new X86PcBoard();
    case "aarch64":
      throw new VmError("config", label, "aarch64 guests have no machine yet");
  }
}
