// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel and initrd go into guest RAM by reading their files (a gzip
 * kernel is inflated there), never by mapping them.  A copy-on-write file
 * mapping over guest RAM (tried before) saved the copy at start-up but
 * cost the guest far more: every page of it came through its own stage-2
 * fault at 4 KiB, twice for a page written, and the kernel's text and data
 * stayed mapped at 4 KiB for good, where anonymous RAM gets 2 MiB blocks.
 * Measured in the lab, reading made set-up 0.2-0.6 s slower and the
 * guest's boot to init 1.6 s (minimal kernel) to 11-20 s (Debian's, whose
 * plain Image is 4 times bigger) faster.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch.h"
#include "file.h"
#include "loader.h"
#include "log.h"

#define IMAGE_FLAG_BE (1ULL << 0)

/* PE/COFF offsets (Microsoft PE format), as used by the arm64 EFI stub. */
#define MZ_PE_OFFSET       0x3c
#define PE_MACHINE_ARM64   0xaa64
#define PE_HEADER_SIZE     24   /* "PE\0\0" and the COFF file header */
#define PE_SECTION_SIZE    40

static u16 get_le16(const u8 *p)
{
	return (u16)(p[0] | p[1] << 8);
}

static u32 get_le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static u64 get_le64(const u8 *p)
{
	return (u64)get_le32(p) | (u64)get_le32(p + 4) << 32;
}

int arm64_image_parse(const void *hdr, u64 len, struct arm64_image *img)
{
	const u8 *h = hdr;

	if (len < ARM64_IMAGE_HEADER_SIZE || get_le32(h + 56) != ARM64_IMAGE_MAGIC)
		return -ENOEXEC;

	img->text_offset = get_le64(h + 8);
	img->image_size = get_le64(h + 16);
	img->flags = get_le64(h + 24);
	if (img->image_size == 0) {
		/* booting.rst: before v3.17 the header only promised this. */
		img->text_offset = ARM64_IMAGE_DEFAULT_TEXT_OFFSET;
		img->flags = 0;
	}
	if (img->flags & IMAGE_FLAG_BE)
		return -ENOEXEC;
	return 0;
}

int arm64_image_check_pe(const u8 *image, u64 len)
{
	u64 pe, sections, end = 0;
	unsigned int nr;

	if (len < ARM64_IMAGE_HEADER_SIZE || image[0] != 'M' || image[1] != 'Z')
		return 0;
	pe = get_le32(image + MZ_PE_OFFSET);
	if (pe > len || len - pe < PE_HEADER_SIZE)
		return -ENODATA;
	if (memcmp(image + pe, "PE\0\0", 4))
		return 0; /* "MZ" is also an instruction; no PE header follows */
	if (get_le16(image + pe + 4) != PE_MACHINE_ARM64)
		return -ENOEXEC;

	nr = get_le16(image + pe + 6);
	sections = pe + PE_HEADER_SIZE + get_le16(image + pe + 20);
	if (sections > len || (len - sections) / PE_SECTION_SIZE < nr)
		return -ENODATA;
	for (unsigned int i = 0; i < nr; i++) {
		const u8 *s = image + sections + (u64)i * PE_SECTION_SIZE;
		u64 raw_end = (u64)get_le32(s + 20) + get_le32(s + 16);

		end = MAX(end, raw_end);
	}
	return end > len ? -ENODATA : 0;
}

void boot_layout_init(struct boot_layout *b, u64 ram_base, u64 ram_size)
{
	*b = (struct boot_layout){
		.ram_base = ram_base,
		.ram_size = ram_size,
		.fdt_gpa = ram_base + ram_size - ARM64_FDT_MAX_SIZE,
	};
}

/*
 * Not at the top of RAM: where transparent huge pages are on, the first
 * write to an untouched 2 MiB region faults in a whole huge page and
 * zeroes it (3-24 ms in the lab, before the first KVM_RUN).  Right after
 * the initrd (or the kernel) it mostly lands in a region the copy of the
 * image already faulted in.
 */
void boot_layout_place_fdt(struct boot_layout *b)
{
	u64 end = b->initrd_size ? b->initrd_gpa + b->initrd_size : b->kernel_end;

	b->fdt_gpa = ALIGN_UP(end, SZ_4K);
}

/*
 * Reads the rest of the kernel into guest RAM.  zlib's gzread() passes a
 * file that is not gzip through unchanged, so one path serves both forms.
 * -EFBIG when the file holds more than @room bytes, -EIO for a corrupt or
 * truncated gzip stream.
 */
static int gz_read_all(gzFile gz, u8 *dst, u64 room, u64 *got)
{
	u64 total = 0;
	u8 spill;
	int n, err;

	while (total < room) {
		n = gzread(gz, dst + total, (unsigned int)MIN(room - total, (u64)SZ_1G));
		if (n <= 0)
			break;
		total += (u64)n;
	}
	/* RAM is full: one more byte means the kernel does not fit. */
	if (total == room && gzread(gz, &spill, 1) > 0)
		return -EFBIG;
	gzerror(gz, &err);
	if (err != Z_OK && err != Z_STREAM_END)
		return -EIO;
	*got = total;
	return 0;
}

/* Plain Images are placed whole; gzip ones are inflated into RAM. */
static bool is_gzip(int fd)
{
	u8 magic[2];

	return pread(fd, magic, sizeof(magic), 0) == sizeof(magic) &&
	       magic[0] == 0x1f && magic[1] == 0x8b;
}

static int kernel_error(const char *name, int err, const struct boot_layout *b)
{
	switch (err) {
	case -ENOEXEC:
		pr_err("kernel '%s': not an arm64 Linux Image", name);
		break;
	case -ENODATA:
		pr_err("kernel '%s': the Image is truncated", name);
		break;
	case -EIO:
		pr_err("kernel '%s': corrupt or truncated gzip data", name);
		break;
	case -EFBIG:
		pr_err("kernel '%s': does not fit in %lluM of guest memory", name,
		       (unsigned long long)(b->ram_size / SZ_1M));
		break;
	default:
		pr_err("kernel '%s': %s", name, strerror(-err));
	}
	return err;
}

/*
 * Where the kernel goes: RAM base is 2 MiB aligned, so base + text_offset
 * honours booting.rst.  Sets kernel_gpa and *@room, the bytes up to the
 * device tree; -EFBIG when the Image does not fit.
 */
static int kernel_fit(struct boot_layout *b, const struct arm64_image *img, u64 *room)
{
	if (img->text_offset >= b->fdt_gpa - b->ram_base)
		return -EFBIG;
	b->kernel_gpa = b->ram_base + img->text_offset;
	*room = b->fdt_gpa - b->kernel_gpa;
	if (img->image_size > *room || *room < ARM64_IMAGE_HEADER_SIZE)
		return -EFBIG;
	return 0;
}

/* The Image in RAM holds @got bytes: check them and note its footprint. */
static int kernel_placed(struct boot_layout *b, const struct arm64_image *img, const u8 *dst,
			 u64 got)
{
	int ret;

	if (img->image_size && got > img->image_size)
		return -ENOEXEC;
	ret = arm64_image_check_pe(dst, got);
	if (ret)
		return ret;
	b->kernel_end = b->kernel_gpa + MAX(img->image_size, got);
	return 0;
}

static int load_plain_kernel(const struct guest_mem *mem, struct boot_layout *b, int fd)
{
	u8 hdr[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;
	struct stat st;
	u64 room, size;
	u8 *dst;
	int ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	size = (u64)st.st_size;
	if (size < sizeof(hdr) || pread_full(fd, hdr, sizeof(hdr), 0) ||
	    arm64_image_parse(hdr, sizeof(hdr), &img))
		return -ENOEXEC;
	ret = kernel_fit(b, &img, &room);
	if (ret)
		return ret;
	if (size > room)
		return -EFBIG;
	dst = gpa_to_hva(mem, b->kernel_gpa, size);
	if (!dst)
		return -EFAULT;
	ret = pread_full(fd, dst, size, 0);
	return ret ? ret : kernel_placed(b, &img, dst, size);
}

int load_kernel_fd(const struct guest_mem *mem, struct boot_layout *b, int fd,
		   const char *name)
{
	u8 hdr[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;
	u64 room, got;
	u8 *dst;
	gzFile gz;
	int ret, n;

	if (!is_gzip(fd)) {
		ret = load_plain_kernel(mem, b, fd);
		close(fd);
		return ret ? kernel_error(name, ret, b) : 0;
	}
	gz = gzdopen(fd, "rb");
	if (!gz)
		return kernel_error(name, -ENOMEM, b);
	gzbuffer(gz, 128 * 1024);

	n = gzread(gz, hdr, sizeof(hdr));
	ret = n == (int)sizeof(hdr) ? arm64_image_parse(hdr, sizeof(hdr), &img) : -ENOEXEC;
	if (ret)
		goto out;
	ret = kernel_fit(b, &img, &room);
	if (ret)
		goto out;
	dst = gpa_to_hva(mem, b->kernel_gpa, room);
	if (!dst) {
		ret = -EFAULT;
		goto out;
	}
	memcpy(dst, hdr, sizeof(hdr));
	ret = gz_read_all(gz, dst + sizeof(hdr), room - sizeof(hdr), &got);
	if (ret)
		goto out;
	got += sizeof(hdr);
	ret = kernel_placed(b, &img, dst, got);
out:
	gzclose_r(gz); /* also closes fd */
	return ret ? kernel_error(name, ret, b) : 0;
}

int load_kernel(const struct guest_mem *mem, struct boot_layout *b, const char *path)
{
	u64 size;
	int fd = open_input_file(path, "kernel", O_RDONLY, &size);

	if (fd < 0)
		return fd;
	return load_kernel_fd(mem, b, fd, path);
}

int load_initrd(const struct guest_mem *mem, struct boot_layout *b, const char *path)
{
	/* 64 KiB: page aligned for any arm64 page size. */
	u64 size, gpa = ALIGN_UP(b->kernel_end, SZ_64K);
	void *dst;
	int fd, ret;

	fd = open_input_file(path, "initrd", O_RDONLY, &size);
	if (fd < 0)
		return fd;

	dst = gpa < b->fdt_gpa && size <= b->fdt_gpa - gpa ? gpa_to_hva(mem, gpa, size) : NULL;
	if (!dst) {
		pr_err("initrd '%s': kernel and initrd do not fit in %lluM of guest memory",
		       path, (unsigned long long)(b->ram_size / SZ_1M));
		ret = -EFBIG;
		goto out;
	}
	ret = pread_full(fd, dst, size, 0);
	if (ret) {
		pr_err("initrd '%s': %s", path, strerror(-ret));
		goto out;
	}
	b->initrd_gpa = gpa;
	b->initrd_size = size;
out:
	close(fd);
	return ret;
}
