/** The page size of the address-space code (guest memory is mapped in 4 KiB pages on every architecture). */
export const PAGE_SIZE_4K = 0x1000;
