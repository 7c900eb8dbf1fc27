/** The x87/SSE state an x86 vCPU boots with (KVM_SET_FPU): the FNINIT control word and the reset MXCSR. */
import { MXCSR_DEFAULT, X87_FCW_DEFAULT } from "../../../arch/x86_64/fpu.ts";
import * as sys from "../sys.ts";
import { KVM_FPU_LAYOUT, KVM_SET_FPU } from "./abi.ts";

export function setBootFpu(vcpuFd: number): void {
  const fpu = new Uint8Array(KVM_FPU_LAYOUT.size);
  const view = new DataView(fpu.buffer);
  view.setUint16(KVM_FPU_LAYOUT.fields.fcw.offset, X87_FCW_DEFAULT, true);
  view.setUint32(KVM_FPU_LAYOUT.fields.mxcsr.offset, MXCSR_DEFAULT, true);
  sys.ioctlBuf(vcpuFd, KVM_SET_FPU, fpu);
}
