/**
 * Whether an emulated VM runs its harts on threads of their own (threads/README in threaded-vcpu.ts). Chosen once
 * per VM from AXVISOR_EMULATED_THREADS:
 * - unset, "off" or "0": every hart on the VMM's thread (deterministic slices). The default, because the JS tiers
 *   still split aligned 64-bit accesses into two 32-bit ones, which harts on other threads can see torn (RVWMO's
 *   single-copy atomicity; test/emulated/hart-threads.test.ts, README "Harts on host threads");
 * - "on", "1" or "auto": VMs with more than one hart get one thread per hart; a single hart stays on the VMM's
 *   thread (no exit crosses threads).
 */

export const HART_THREADS_ENV = "AXVISOR_EMULATED_THREADS";

export function hartThreadsWanted(cpuCount: number, value = process.env[HART_THREADS_ENV]): boolean {
  switch (value ?? "off") {
    case "":
    case "off":
    case "0":
      return false;
    case "on":
    case "1":
    case "auto":
      return cpuCount > 1;
    default:
      throw new Error(
        `Cannot choose how emulated harts run: ${HART_THREADS_ENV} is ${JSON.stringify(value)}, expected on, off or auto`,
      );
  }
}
