/**
 * Whether an emulated VM runs its harts on threads of their own (threads/README in threaded-vcpu.ts). Chosen once
 * per VM from AXVISOR_EMULATED_THREADS:
 * - unset, "off" or "0": every hart on the VMM's thread (deterministic slices). The default for now: on this
 *   project's 2-core machines a 4-hart Linux boot is as fast threaded as on one thread, not faster (Debian 6.12,
 *   load 8-10: 82.0 s either way; 118.9 s threaded before WFI and SBI TIME/IPI/RFENCE stayed on the harts' threads),
 *   while compute in the guest is (a 4-thread LCG: 2,656 ms → 397 ms); the tests also want deterministic
 *   multi-hart runs. README, "Harts on host threads";
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
