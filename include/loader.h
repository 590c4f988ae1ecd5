/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_LOADER_H
#define ARKVM_LOADER_H

#include "compiler.h"
#include "guest_mem.h"

#define ARM64_IMAGE_HEADER_SIZE 64
#define ARM64_IMAGE_MAGIC       0x644d5241 /* "ARM\x64" */
#define ARM64_IMAGE_DEFAULT_TEXT_OFFSET 0x80000 /* image_size == 0: pre-3.17 */

/* What Documentation/arch/arm64/booting.rst's header tells a loader. */
struct arm64_image {
	u64 text_offset;
	u64 image_size;   /* bytes the kernel occupies from its load address; 0: unknown */
	u64 flags;
};

/* Where everything went in guest RAM. */
struct boot_layout {
	u64 ram_base, ram_size;
	u64 kernel_gpa;   /* load address, = entry point */
	u64 kernel_end;   /* first byte after the kernel's footprint */
	u64 initrd_gpa, initrd_size;
	u64 fdt_gpa;      /* images stay below it; then boot_layout_place_fdt() */
	u64 fdt_size;
};

/* Parses the 64-byte header: -ENOEXEC when it is not a little-endian arm64 Image. */
int arm64_image_parse(const void *hdr, u64 len, struct arm64_image *img);

/*
 * When the Image carries a PE/COFF header (EFI stub kernels do), checks
 * that it is for arm64 and that its sections' file data lie within @len
 * bytes: -ENOEXEC for another machine, -ENODATA when truncated.
 */
int arm64_image_check_pe(const u8 *image, u64 len);

/* Sets up @b for RAM at @ram_base of @ram_size bytes, nothing loaded yet. */
void boot_layout_init(struct boot_layout *b, u64 ram_base, u64 ram_size);
/*
 * Once the images are in: the device tree goes right after the last of
 * them.  The last 2 MiB of RAM were kept free of images, so it always fits
 * (fdt_build() makes at most ARM64_FDT_MAX_SIZE).
 */
void boot_layout_place_fdt(struct boot_layout *b);

/*
 * Loads a plain or gzip-compressed arm64 Image from @fd into guest RAM at
 * the base of RAM plus text_offset.  @name is used in error lines.
 */
int load_kernel_fd(const struct guest_mem *mem, struct boot_layout *b, int fd,
		   const char *name);
int load_kernel(const struct guest_mem *mem, struct boot_layout *b, const char *path);

/* Loads the initrd page-aligned after the kernel, below the device tree. */
int load_initrd(const struct guest_mem *mem, struct boot_layout *b, const char *path);

#endif
