/** The in-kernel local APIC of an x86 vCPU (struct kvm_lapic_state, KVM_GET/SET_LAPIC). */
import {
  APIC_DELIVERY_MODE_EXTINT,
  APIC_DELIVERY_MODE_NMI,
  APIC_LVT_DELIVERY_MODE_MASK,
  APIC_LVT_DELIVERY_MODE_SHIFT,
  APIC_LVT_MASKED,
  APIC_LVT0,
  APIC_LVT1,
  APIC_REGISTER_ALIGN,
} from "../../../arch/x86_64/apic.ts";
import { HalError } from "../../types.ts";
import * as sys from "../sys.ts";
import { KVM_GET_LAPIC, KVM_LAPIC_STATE_LAYOUT, KVM_SET_LAPIC } from "./abi.ts";

/**
 * LINT0 = ExtINT (the 8259 PIC's output, "virtual wire" mode) unless the machine has no 8259 for the guest
 * (`lint0: "masked"`), LINT1 = NMI: what a PC's BIOS programs and Linux expects.
 */
export function setLapicLints(vcpuFd: number, lint0: "extint" | "masked"): void {
  const lapic = new Uint8Array(KVM_LAPIC_STATE_LAYOUT.size);
  sys.ioctlBuf(vcpuFd, KVM_GET_LAPIC, lapic);
  const view = new DataView(lapic.buffer);
  const setLvt = (register: number, mode: number, masked: boolean): void => {
    const value = view.getUint32(register, true) & ~(APIC_LVT_DELIVERY_MODE_MASK | APIC_LVT_MASKED);
    view.setUint32(
      register,
      (value | (mode << APIC_LVT_DELIVERY_MODE_SHIFT) | (masked ? APIC_LVT_MASKED : 0)) >>> 0,
      true,
    );
  };
  setLvt(APIC_LVT0, APIC_DELIVERY_MODE_EXTINT, lint0 === "masked");
  setLvt(APIC_LVT1, APIC_DELIVERY_MODE_NMI, false);
  sys.ioctlBuf(vcpuFd, KVM_SET_LAPIC, lapic);
}

/** A 32-bit local APIC register (offset in the APIC page) as KVM_GET_LAPIC reports it. */
export function getLapicRegister(vcpuFd: number, offset: number): number {
  if (
    !Number.isInteger(offset) ||
    offset < 0 ||
    offset > KVM_LAPIC_STATE_LAYOUT.size - 4 ||
    offset % APIC_REGISTER_ALIGN !== 0
  ) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "KVM_GET_LAPIC",
      `Cannot read APIC register 0x${offset.toString(16)}: registers are 16-byte aligned below 0x400`,
    );
  }
  const lapic = new Uint8Array(KVM_LAPIC_STATE_LAYOUT.size);
  sys.ioctlBuf(vcpuFd, KVM_GET_LAPIC, lapic);
  return new DataView(lapic.buffer).getUint32(offset, true);
}
