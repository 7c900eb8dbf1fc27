/**
 * 4-level paging entries (Intel SDM vol. 3A, 4.5 "4-Level Paging and 5-Level Paging", tables 4-15 to 4-20): the
 * bits a VMM uses to build an identity map for a long-mode entry.
 */

/** The base page size (a PTE maps 4 KiB). */
export const X86_PAGE_SIZE = 0x1000;

export const PTE_PRESENT = 1n << 0n;
/** R/W: writes allowed. */
export const PTE_WRITABLE = 1n << 1n;
/** U/S: user-mode accesses allowed. */
export const PTE_USER = 1n << 2n;
/** PS in a PDPTE or PDE: the entry maps a 1 GiB or 2 MiB page instead of pointing to a table. */
export const PTE_PAGE_SIZE = 1n << 7n;
/** Each table is 4 KiB of 8-byte entries. */
export const PAGE_TABLE_ENTRY_SIZE = 8;
export const PAGE_TABLE_ENTRIES = 512;
/** The page a PDE with PS maps. */
export const LARGE_PAGE_SIZE = 0x20_0000;
