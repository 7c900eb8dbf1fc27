/** The MSRs an x86 vCPU boots with (KVM_SET_MSRS): all 0 but fast strings and write-back MTRRs, as Firecracker. */
import {
  MISC_ENABLE_FAST_STRING,
  MSR_CSTAR,
  MSR_IA32_MISC_ENABLE,
  MSR_IA32_SYSENTER_CS,
  MSR_IA32_SYSENTER_EIP,
  MSR_IA32_SYSENTER_ESP,
  MSR_IA32_TSC,
  MSR_KERNEL_GS_BASE,
  MSR_LSTAR,
  MSR_MTRR_DEF_TYPE,
  MSR_STAR,
  MSR_SYSCALL_MASK,
  MTRR_DEF_TYPE_ENABLE,
  MTRR_MEMORY_TYPE_WRITE_BACK,
} from "../../../arch/x86_64/msr.ts";
import { HalError } from "../../types.ts";
import * as sys from "../sys.ts";
import { KVM_MSR_ENTRY_LAYOUT, KVM_MSRS_LAYOUT, KVM_SET_MSRS } from "./abi.ts";

/** The MSR values every vCPU starts with (all else as KVM resets it). */
export const BOOT_MSRS: ReadonlyArray<readonly [number, bigint]> = [
  [MSR_IA32_SYSENTER_CS, 0n],
  [MSR_IA32_SYSENTER_ESP, 0n],
  [MSR_IA32_SYSENTER_EIP, 0n],
  [MSR_STAR, 0n],
  [MSR_CSTAR, 0n],
  [MSR_KERNEL_GS_BASE, 0n],
  [MSR_SYSCALL_MASK, 0n],
  [MSR_LSTAR, 0n],
  [MSR_IA32_TSC, 0n],
  [MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING],
  [MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_ENABLE | MTRR_MEMORY_TYPE_WRITE_BACK],
];

/** KVM_SET_MSRS; throws naming the first MSR KVM refused. */
export function setMsrs(vcpuFd: number, msrs: ReadonlyArray<readonly [number, bigint]>): void {
  const E = KVM_MSR_ENTRY_LAYOUT;
  const buffer = new Uint8Array(KVM_MSRS_LAYOUT.size + msrs.length * E.size);
  const view = new DataView(buffer.buffer);
  view.setUint32(KVM_MSRS_LAYOUT.fields.nmsrs.offset, msrs.length, true);
  msrs.forEach(([index, value], i) => {
    const at = KVM_MSRS_LAYOUT.fields.entries.offset + i * E.size;
    view.setUint32(at + E.fields.index.offset, index, true);
    view.setBigUint64(at + E.fields.data.offset, value, true);
  });
  // KVM_SET_MSRS returns how many entries it set; it stops at the first one it refuses.
  const set = sys.ioctlBuf(vcpuFd, KVM_SET_MSRS, buffer, buffer.byteLength);
  if (set !== msrs.length) {
    const refused = msrs[set];
    throw new HalError(
      "kvm",
      "unsupported",
      "KVM_SET_MSRS",
      `Cannot set MSR 0x${(refused?.[0] ?? 0).toString(16)}: KVM accepted ${set} of ${msrs.length} boot MSRs`,
    );
  }
}
