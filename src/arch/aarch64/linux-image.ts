/**
 * The arm64 Linux kernel `Image` header (Linux `Documentation/arch/arm64/booting.rst`, section 4 "Call the kernel
 * image"): 64 bytes at the start of the image, little-endian.
 *
 * ```
 *   0  u32 code0        executable code (a branch over the header)
 *   4  u32 code1
 *   8  u64 text_offset  image load offset from a 2 MiB-aligned base
 *  16  u64 image_size   effective image size (memory the kernel needs from its load address)
 *  24  u64 flags        bit 0 big-endian kernel; bits 1-2 page size; bit 3 physical placement
 *  32  u64 res2, res3, res4
 *  56  u32 magic        0x644d5241, "ARM\x64"
 *  60  u32 res5         PE/COFF header offset (EFI stub)
 * ```
 *
 * The RISC-V `Image` header keeps this layout (offsets 0..63, magic2 at 56; Linux
 * `Documentation/arch/riscv/boot-image-header.rst`), so image detection reads both through these offsets.
 */

export const ARM64_IMAGE_HEADER_SIZE = 64;
export const ARM64_IMAGE_TEXT_OFFSET_OFFSET = 8;
export const ARM64_IMAGE_SIZE_OFFSET = 16;
export const ARM64_IMAGE_FLAGS_OFFSET = 24;
export const ARM64_IMAGE_MAGIC_OFFSET = 56;
/** "ARM\x64" read as a little-endian u32. */
export const ARM64_IMAGE_MAGIC = 0x644d_5241;

/** flags bit 0: the kernel is big-endian. */
export const ARM64_IMAGE_FLAG_BE = 1n << 0n;
/** flags bits 1-2: the kernel's page size (0 unspecified, 1 = 4 KiB, 2 = 16 KiB, 3 = 64 KiB). */
export const ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT = 1n;
export const ARM64_IMAGE_FLAG_PAGE_SIZE_MASK = 3n << ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT;
/**
 * flags bit 3: 0 = the 2 MiB-aligned base should be as close as possible to the start of DRAM; 1 = anywhere in
 * physical memory.
 */
export const ARM64_IMAGE_FLAG_PHYS_PLACEMENT_ANY = 1n << 3n;
/** The kernel is loaded `text_offset` bytes above a base with this alignment. */
export const ARM64_IMAGE_BASE_ALIGN = 0x20_0000;
/** The device tree blob: 8-byte aligned and at most 2 MiB (booting.rst, section 2 "Setup the device tree"). */
export const ARM64_DTB_ALIGN = 8;
export const ARM64_DTB_MAX_SIZE = 0x20_0000;
