/** The builder's machine choice: which board a VM config gets. */

import type { VmConfig } from "../config/types.ts";
import { VmError } from "../errors.ts";
import type { Machine } from "../machine.ts";
import { RiscvVirtMachine } from "./riscv-virt.ts";
import { X86PcMachine } from "./x86-pc.ts";

export function machineFor(config: VmConfig): Machine {
  const label = `vm ${config.id} (${config.name})`;
  switch (config.arch) {
    case "riscv64":
      return new RiscvVirtMachine(config.machine === "virt-bare" ? "bare" : "hypervisor");
    case "x86_64":
      if (config.machine === "virt-bare")
        throw new VmError(
          "config",
          label,
          `base.machine = "virt-bare" is a RISC-V board; x86_64 guests use the PC machine`,
        );
      return new X86PcMachine();
    case "aarch64":
      throw new VmError("config", label, "aarch64 guests have no machine yet");
  }
}
