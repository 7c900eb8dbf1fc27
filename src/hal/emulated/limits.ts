/**
 * What the emulated backend's memory model can back, for the config check (which must refuse what a run would
 * fail on, without loading the backend). The hart addresses RAM through int32 offsets (its memory views, TLB and
 * interpreter): an access 2 GiB or more into guest RAM fails, so a guest gets at most 2 GiB in all. Raise this
 * when the hart's offsets are widened.
 */
export const EMULATED_MAX_GUEST_RAM = 2 * 2 ** 30;
