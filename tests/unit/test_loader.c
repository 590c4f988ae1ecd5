// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "arch.h"
#include "loader.h"
#include "test.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (8 * SZ_1M)

static void put_le32(u8 *p, u32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (u8)(v >> (8 * i));
}

static void put_le64(u8 *p, u64 v)
{
	put_le32(p, (u32)v);
	put_le32(p + 4, (u32)(v >> 32));
}

/* A made-up Image of @len bytes; @pe adds an arm64 PE header covering @pe_end bytes. */
static u8 *make_image(u64 len, u64 text_offset, u64 image_size, bool pe, u32 pe_end)
{
	u8 *img = calloc(1, len);

	put_le64(img + 8, text_offset);
	put_le64(img + 16, image_size);
	put_le64(img + 24, 0xa); /* LE, 4K pages, anywhere */
	put_le32(img + 56, ARM64_IMAGE_MAGIC);
	for (u64 i = 64; i < len; i++)
		img[i] = (u8)(i * 7);
	if (pe) {
		u8 *h = img + 0x40;

		memset(h, 0, 24 + 40);
		img[0] = 'M';
		img[1] = 'Z';
		put_le32(img + 0x3c, 0x40);
		memcpy(h, "PE\0\0", 4);
		h[4] = 0x64; h[5] = 0xaa;        /* machine arm64 */
		h[6] = 1;                        /* one section */
		h[20] = 0;                       /* no optional header */
		put_le32(h + 24 + 16, pe_end - 0x1000); /* SizeOfRawData */
		put_le32(h + 24 + 20, 0x1000);          /* PointerToRawData */
	}
	return img;
}

static int memfd_with(const void *data, u64 len, bool gzip)
{
	int fd = memfd_create("img", 0);

	if (gzip) {
		gzFile gz = gzdopen(dup(fd), "wb");

		gzwrite(gz, data, (unsigned int)len);
		gzclose(gz);
	} else if (write(fd, data, len) != (ssize_t)len) {
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

struct fake_ram {
	struct guest_mem mem;
	struct boot_layout boot;
	u8 *ram;
};

static void fake_ram_init(struct fake_ram *f)
{
	memset(f, 0, sizeof(*f));
	f->ram = calloc(1, RAM_SIZE);
	guest_mem_add(&f->mem, RAM_BASE, RAM_SIZE, f->ram);
	boot_layout_init(&f->boot, RAM_BASE, RAM_SIZE);
}

static int load(struct fake_ram *f, const u8 *img, u64 len, bool gzip)
{
	return load_kernel_fd(&f->mem, &f->boot, memfd_with(img, len, gzip), "test");
}

static void test_header_parse(void)
{
	u8 *img = make_image(4096, 0x80000, 0x100000, false, 0);
	struct arm64_image h;

	CHECK_EQ(arm64_image_parse(img, 64, &h), 0);
	CHECK_EQ(h.text_offset, 0x80000);
	CHECK_EQ(h.image_size, 0x100000);
	CHECK_EQ(arm64_image_parse(img, 63, &h), -ENOEXEC);
	img[24] |= 1; /* big-endian kernel */
	CHECK_EQ(arm64_image_parse(img, 64, &h), -ENOEXEC);
	img[24] &= (u8)~1;
	img[56] = 'X';
	CHECK_EQ(arm64_image_parse(img, 64, &h), -ENOEXEC);
	free(img);
}

static void test_header_image_size_zero(void)
{
	u8 *img = make_image(4096, 0x1234, 0, false, 0);
	struct arm64_image h;

	CHECK_EQ(arm64_image_parse(img, 64, &h), 0);
	CHECK_EQ(h.text_offset, ARM64_IMAGE_DEFAULT_TEXT_OFFSET);
	free(img);
}

static void test_load_plain(void)
{
	struct fake_ram f;
	u8 *img = make_image(0x3000, 0, 0x5000, true, 0x3000);

	fake_ram_init(&f);
	CHECK_EQ(load(&f, img, 0x3000, false), 0);
	CHECK_EQ(f.boot.kernel_gpa, RAM_BASE);
	CHECK_EQ(f.boot.kernel_end, RAM_BASE + 0x5000);
	CHECK(!memcmp(f.ram, img, 0x3000));
	CHECK_EQ(f.boot.fdt_gpa, RAM_BASE + RAM_SIZE - SZ_2M);
	free(img);
	free(f.ram);
}

/*
 * RAM that arkvm mapped itself, as vm.c does: the Image is copied in, the
 * guest sees the bytes, and what it writes stays in RAM, not in the file.
 */
static void test_load_plain_into_mapped_ram(void)
{
	u8 *img = make_image(0x3000, 0, 0x5000, true, 0x3000);
	struct fake_ram f = { 0 };
	u8 back[16];
	int fd;

	f.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(f.ram != MAP_FAILED);
	guest_mem_add(&f.mem, RAM_BASE, RAM_SIZE, f.ram);
	boot_layout_init(&f.boot, RAM_BASE, RAM_SIZE);
	fd = memfd_with(img, 0x3000, false);
	CHECK_EQ(load_kernel_fd(&f.mem, &f.boot, dup(fd), "test"), 0);
	CHECK(!memcmp(f.ram, img, 0x3000));
	CHECK_EQ(f.ram[0x3000], 0);                 /* past the file: still zero */
	CHECK_EQ(f.boot.kernel_end, RAM_BASE + 0x5000);
	memset(f.ram, 0xee, 16);                    /* the guest writes its copy */
	CHECK_EQ(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	CHECK(!memcmp(back, img, sizeof(back)));    /* the file is untouched */
	close(fd);
	munmap(f.ram, RAM_SIZE);
	free(img);
}

static void test_load_gzip_with_text_offset(void)
{
	struct fake_ram f;
	u8 *img = make_image(0x20000, 0x80000, 0x30000, true, 0x20000);

	fake_ram_init(&f);
	CHECK_EQ(load(&f, img, 0x20000, true), 0);
	CHECK_EQ(f.boot.kernel_gpa, RAM_BASE + 0x80000);
	CHECK(IS_ALIGNED(f.boot.kernel_gpa - 0x80000, SZ_2M));
	CHECK(!memcmp(f.ram + 0x80000, img, 0x20000));
	free(img);
	free(f.ram);
}

static void test_load_rejects_non_images(void)
{
	struct fake_ram f;
	u8 junk[200] = "#!/bin/sh\necho not a kernel\n";
	u8 *img = make_image(0x3000, 0, 0x5000, true, 0x3000);

	fake_ram_init(&f);
	CHECK_EQ(load(&f, junk, sizeof(junk), false), -ENOEXEC);
	CHECK_EQ(load(&f, junk, 10, false), -ENOEXEC);
	CHECK_EQ(load(&f, junk, sizeof(junk), true), -ENOEXEC);
	/* An x86-64 EFI binary with an arm64-looking header. */
	img[0x44] = 0x64;
	img[0x45] = 0x86;
	CHECK_EQ(load(&f, img, 0x3000, false), -ENOEXEC);
	free(img);
	free(f.ram);
}

static void test_load_rejects_truncated(void)
{
	struct fake_ram f;
	u8 *img = make_image(0x3000, 0, 0x5000, true, 0x3000);
	uLongf zlen = compressBound(0x3000);
	u8 *z = malloc(zlen + 32);
	gzFile gz;
	int fd;

	fake_ram_init(&f);
	/* The PE header promises 0x3000 bytes; the file has fewer. */
	CHECK_EQ(load(&f, img, 0x2800, false), -ENODATA);

	/* A gzip stream cut in the middle. */
	fd = memfd_create("gz", 0);
	gz = gzdopen(dup(fd), "wb");
	gzwrite(gz, img, 0x3000);
	gzclose(gz);
	zlen = (uLongf)lseek(fd, 0, SEEK_END);
	CHECK(pread(fd, z, zlen, 0) == (ssize_t)zlen);
	close(fd);
	CHECK_EQ(load(&f, z, zlen / 2, false), -EIO);
	free(z);
	free(img);
	free(f.ram);
}

static void test_load_rejects_too_big(void)
{
	struct fake_ram f;
	u8 *img = make_image(0x3000, 0, RAM_SIZE, false, 0);

	fake_ram_init(&f);
	CHECK_EQ(load(&f, img, 0x3000, false), -EFBIG);      /* image_size > RAM */
	free(img);
	img = make_image(7 * SZ_1M, 0, 0, false, 0);         /* file > RAM */
	CHECK_EQ(load(&f, img, 7 * SZ_1M, false), -EFBIG);
	free(img);
	img = make_image(0x3000, 0xffffffffffff0000ULL, 0x5000, false, 0);
	CHECK_EQ(load(&f, img, 0x3000, false), -EFBIG);      /* absurd text_offset */
	free(img);
	free(f.ram);
}

static void test_load_rejects_file_bigger_than_image_size(void)
{
	struct fake_ram f;
	u8 *img = make_image(0x6000, 0, 0x5000, false, 0);

	fake_ram_init(&f);
	CHECK_EQ(load(&f, img, 0x6000, false), -ENOEXEC);
	free(img);
	free(f.ram);
}

static void test_pe_check(void)
{
	u8 *img = make_image(0x3000, 0, 0x5000, true, 0x3000);

	CHECK_EQ(arm64_image_check_pe(img, 0x3000), 0);
	CHECK_EQ(arm64_image_check_pe(img, 0x2fff), -ENODATA);
	put_le32(img + 0x3c, 0xfffffff0); /* PE offset beyond the file */
	CHECK_EQ(arm64_image_check_pe(img, 0x3000), -ENODATA);
	put_le32(img + 0x3c, 0x40);
	img[0x46] = 0xff; img[0x47] = 0xff; /* 65535 sections: table past the end */
	CHECK_EQ(arm64_image_check_pe(img, 0x3000), -ENODATA);
	free(img);
}

/* The device tree goes right after the last image, and always fits below the top. */
static void test_fdt_after_images(void)
{
	struct boot_layout b;

	boot_layout_init(&b, RAM_BASE, RAM_SIZE);
	b.kernel_gpa = RAM_BASE;
	b.kernel_end = RAM_BASE + 0x5123;
	boot_layout_place_fdt(&b);
	CHECK_EQ(b.fdt_gpa, RAM_BASE + 0x6000);

	boot_layout_init(&b, RAM_BASE, RAM_SIZE);
	b.kernel_end = RAM_BASE + 0x5123;
	b.initrd_gpa = RAM_BASE + 0x10000;
	b.initrd_size = 0x2001;
	boot_layout_place_fdt(&b);
	CHECK_EQ(b.fdt_gpa, RAM_BASE + 0x13000);

	/* Images up to the limit: the 2 MiB above them are left for the tree. */
	boot_layout_init(&b, RAM_BASE, RAM_SIZE);
	b.initrd_gpa = RAM_BASE + 0x10000;
	b.initrd_size = b.fdt_gpa - b.initrd_gpa;
	boot_layout_place_fdt(&b);
	CHECK(b.fdt_gpa + ARM64_FDT_MAX_SIZE <= RAM_BASE + RAM_SIZE);
}

TEST_SUITE(loader,
	   TEST(test_header_parse),
	   TEST(test_header_image_size_zero),
	   TEST(test_load_plain),
	   TEST(test_load_plain_into_mapped_ram),
	   TEST(test_load_gzip_with_text_offset),
	   TEST(test_load_rejects_non_images),
	   TEST(test_load_rejects_truncated),
	   TEST(test_load_rejects_too_big),
	   TEST(test_load_rejects_file_bigger_than_image_size),
	   TEST(test_pe_check),
	   TEST(test_fdt_after_images));
