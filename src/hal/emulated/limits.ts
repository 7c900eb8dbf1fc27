/**
 * What the emulated backend's memory model can back, for the config check (which must refuse what a run would
 * fail on, without loading the backend).
 *
 * RAM size is not limited by the model: the address space backs a region with host blocks of at most 4 GiB (the
 * largest ArrayBuffer Bun's JavaScriptCore creates), the backend maps each as pieces of at most 1 GiB so the
 * harts' int32 offset arithmetic stays exact, and host pages are committed only when the guest touches them. What
 * is limited is where RAM may be: a hypervisor-mode guest's physical addresses go through the G-stage table, whose
 * widest mode (Sv48x4) translates 50-bit guest-physical addresses.
 */
import { SV48X4_GPA_BITS } from "../../arch/riscv64/paging.ts";

/** End (exclusive) of the guest-physical space the emulated backend can map: 2^50 (Sv48x4). */
export const EMULATED_GPA_LIMIT = 2 ** SV48X4_GPA_BITS;
