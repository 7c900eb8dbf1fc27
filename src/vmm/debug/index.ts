/** The GDB stub: the remote serial protocol (session, packets), the socket, and the per-architecture views. */

import type { GuestArch } from "../../hal/types.ts";
import type { GdbArchitecture } from "./gdb-arch.ts";
import { RISCV64_GDB } from "./riscv64.ts";
import { X86_64_GDB } from "./x86_64.ts";

export type { GdbArchitecture } from "./gdb-arch.ts";
export { formatGdbAddress, type GdbListenAddress, GdbServer, GdbServerError, parseGdbAddress } from "./gdb-server.ts";

/** The GDB view of guests of `arch`, or undefined when the stub does not debug that architecture yet. */
export function gdbArchitectureFor(arch: GuestArch): GdbArchitecture | undefined {
  switch (arch) {
    case "riscv64":
      return RISCV64_GDB;
    case "x86_64":
      return X86_64_GDB;
    case "aarch64":
      return undefined;
  }
}
