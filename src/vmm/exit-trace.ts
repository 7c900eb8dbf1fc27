/**
 * `--trace-exits`: one line per vCPU exit, with addresses and ports in hex and 64-bit values as hex strings.
 */

import { hex } from "../common/format.ts";
import type { AxVCpuExitReason } from "../hal/types.ts";

/** The trace line of `exit` from vCPU `vcpuId` of the VM labelled `label`. */
export function formatExit(label: string, vcpuId: number, exit: AxVCpuExitReason): string {
  const fields = JSON.stringify(exit, (key, value: unknown) =>
    typeof value === "bigint"
      ? `0x${value.toString(16)}`
      : typeof value === "number" && (key === "addr" || key === "port")
        ? hex(value)
        : value,
  );
  return `[${label} vcpu${vcpuId}] exit ${fields}`;
}
