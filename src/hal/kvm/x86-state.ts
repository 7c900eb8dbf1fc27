/** Transitional: the x86 facts now live in src/arch/x86_64/ (this file goes with the KVM backend split). */

export { X86_GPR_NAMES, X86_REG_RFLAGS, X86_REG_RIP, type X86GprName } from "../../arch/x86_64/registers.ts";
export { realModeSegment, type X86DescriptorTable, type X86Segment } from "../../arch/x86_64/segments.ts";
export * from "../../arch/x86_64/system-registers.ts";
export { realModeState, type X86VcpuState } from "../../arch/x86_64/vcpu-state.ts";
