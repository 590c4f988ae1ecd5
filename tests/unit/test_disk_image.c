// SPDX-License-Identifier: Apache-2.0
/*
 * From a disk's configuration to its backend (src/backends/disk_image.c):
 * the format probe and its override, the guard on probed raw images, and
 * ephemeral overlays, which qemu-img must find well formed.  Without
 * qemu-img the cases that need it say so and check nothing.
 */
#define _FILE_OFFSET_BITS 64
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "fake_disk.h"
#include "disk_image.h"
#include "disk_qcow2.h"
#include "test.h"

#define IMG_SIZE (1ULL << 20)

static char dir[64];

static __printf(1, 2) int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static bool setup(bool need_qemu_img)
{
	if (need_qemu_img && system("qemu-img --version >/dev/null 2>&1")) {
		printf("  note: no qemu-img (apt install qemu-utils): checked nothing\n");
		return false;
	}
	strcpy(dir, "/tmp/arkvm-image-XXXXXX");
	return mkdtemp(dir) != NULL;
}

static void teardown(void)
{
	sh("rm -rf %s", dir);
}

/* A raw image of IMG_SIZE bytes, each sector filled with its number's low byte + 1. */
static void make_raw(struct disk_config *cfg, const char *name)
{
	u8 sector[512];
	int fd;

	snprintf(cfg->path, sizeof(cfg->path), "%s/%s", dir, name);
	fd = open(cfg->path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	CHECK(fd >= 0);
	for (u64 s = 0; s < IMG_SIZE / 512; s++) {
		memset(sector, (int)(s + 1), sizeof(sector));
		CHECK_EQ(write(fd, sector, sizeof(sector)), (ssize_t)sizeof(sector));
	}
	close(fd);
}

/* The raw backend completes through d->complete once queued. */
static void ignore_completion(struct disk *d, struct disk_req *r)
{
}

static int open_cfg(const struct disk_config *cfg, struct disk **d)
{
	int ret = disk_image_open(cfg, d);

	if (!ret)
		(*d)->complete = ignore_completion;
	return ret;
}

/* The byte at @off of the file @path; -1 when it cannot be read. */
static int byte_at(const char *path, u64 off)
{
	u8 b = 0;
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, &b, 1, (off_t)off) : -1;

	if (fd >= 0)
		close(fd);
	return n == 1 ? b : -1;
}

/* The magic is found whether it is probed or named; format=raw reads the header's bytes. */
static void test_image_format_probe_and_override(void)
{
	struct disk_config cfg = { 0 };
	u8 head[4];
	struct disk *d;

	if (!setup(true))
		return;
	snprintf(cfg.path, sizeof(cfg.path), "%s/a.qcow2", dir);
	CHECK(!sh("qemu-img create -q -f qcow2 %s 8M", cfg.path));
	CHECK_EQ(open_cfg(&cfg, &d), 0);
	CHECK_EQ(disk_size(d), 8ULL << 20);
	CHECK(!d->guard_head);
	disk_close(d);
	cfg.format = DISK_FORMAT_RAW;
	CHECK_EQ(open_cfg(&cfg, &d), 0);
	CHECK(disk_size(d) < 8ULL << 20);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, 0, head, sizeof(head)), 0);
	CHECK(!memcmp(head, "QFI\xfb", 4));
	disk_close(d);
	/* A raw file named qcow2 is refused with its own error, not read as raw. */
	make_raw(&cfg, "raw.img");
	cfg.format = DISK_FORMAT_QCOW2;
	CHECK(open_cfg(&cfg, &d) < 0);
	teardown();
}

/*
 * A probed raw image refuses a write that would make it a qcow2 header,
 * whole or byte by byte; other writes to sector 0 pass.  Named raw, the
 * same write is the guest's business.
 */
static void test_image_probed_raw_guards_its_head(void)
{
	struct disk_config cfg = { 0 };
	u8 sector[512] = "QFI\xfb";
	struct disk *d;

	if (!setup(false))
		return;
	make_raw(&cfg, "raw.img");
	CHECK_EQ(open_cfg(&cfg, &d), 0);
	CHECK(d->guard_head);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 0, sector, sizeof(sector)), -EPERM);
	CHECK_EQ(byte_at(cfg.path, 0), 1);
	/* Two bytes at a time: the second half completes the magic. */
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 0, sector, 2), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 2, sector + 2, 2), -EPERM);
	CHECK_EQ(byte_at(cfg.path, 2), 1);
	/* Anything else in sector 0, and the magic elsewhere, is written. */
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 2, "XY", 2), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 512, sector, sizeof(sector)), 0);
	CHECK_EQ(byte_at(cfg.path, 512), 'Q');
	/* Zeroes over it leave zeroes to compare against next. */
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE_ZEROES, 0, NULL, 512), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 0, sector, 2), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 2, sector + 2, 510), -EPERM);
	disk_close(d);
	cfg.format = DISK_FORMAT_RAW;
	CHECK_EQ(open_cfg(&cfg, &d), 0);
	CHECK(!d->guard_head);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 0, sector, sizeof(sector)), 0);
	CHECK_EQ(byte_at(cfg.path, 3), 0xfb);
	disk_close(d);
	teardown();
}

static unsigned int files_in(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	while (dp && (e = readdir(dp)))
		n += e->d_name[0] != '.';
	if (dp)
		closedir(dp);
	return n;
}

/* The guest writes; it reads its writes back; the image is untouched; nothing stays behind. */
static void check_ephemeral(struct disk_config *cfg, const char *tmp)
{
	u8 buf[4096], back[4096];
	struct disk *d;

	memset(buf, 0xab, sizeof(buf));
	cfg->ephemeral = true;
	CHECK_EQ(open_cfg(cfg, &d), 0);
	CHECK_EQ(disk_size(d), IMG_SIZE);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, 4096, back, sizeof(back)), 0);
	CHECK_EQ(back[0], 9);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 4096 + 512, buf, sizeof(buf)), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, 4096, back, sizeof(back)), 0);
	CHECK(back[0] == 9 && back[511] == 9 && back[512] == 0xab && back[4095] == 0xab);
	CHECK_EQ(files_in(tmp), 0);         /* unlinked from the start */
	disk_close(d);
	cfg->ephemeral = false;
	CHECK_EQ(open_cfg(cfg, &d), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, 4096, back, sizeof(back)), 0);
	CHECK(back[0] == 9 && back[512] == 10 && back[4095] == 16);
	disk_close(d);
}

static void test_image_ephemeral_leaves_the_image_alone(void)
{
	struct disk_config cfg = { 0 };
	char tmp[128], *old = getenv("TMPDIR");

	if (!setup(true))
		return;
	old = old ? strdup(old) : NULL;
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	CHECK(!sh("mkdir %s", tmp));
	setenv("TMPDIR", tmp, 1);
	make_raw(&cfg, "golden.raw");
	check_ephemeral(&cfg, tmp);
	/* Over a qcow2 image, its format kept: never probed, never written. */
	CHECK(!sh("cd %s && qemu-img convert -O qcow2 golden.raw golden.qcow2 && "
		  "cp golden.qcow2 before.qcow2", dir));
	snprintf(cfg.path, sizeof(cfg.path), "%s/golden.qcow2", dir);
	check_ephemeral(&cfg, tmp);
	CHECK(!sh("cmp -s %s/golden.qcow2 %s/before.qcow2", dir, dir));
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	teardown();
}

/* The overlay arkvm writes is one qemu-img reads: clean, with its backing and format. */
static void test_image_overlay_is_what_qemu_img_expects(void)
{
	struct disk_config cfg = { 0 };
	char path[128];
	u8 buf[8192];
	struct disk *d;
	int fd;

	if (!setup(true))
		return;
	make_raw(&cfg, "golden.raw");
	snprintf(path, sizeof(path), "%s/over.qcow2", dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(qcow2_create_overlay(fd, IMG_SIZE, cfg.path, "raw"), 0);
	close(fd);
	CHECK(!sh("qemu-img check -q %s", path));
	CHECK(!sh("qemu-img info %s | grep -q 'backing file format: raw'", path));
	CHECK(!sh("qemu-img compare -q %s %s", path, cfg.path));
	/* Written by arkvm, it stays clean and holds the write. */
	CHECK_EQ(disk_qcow2_open(path, false, &d), 0);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 3 * 65536 - 512, buf, sizeof(buf)), 0);
	disk_close(d);
	fd = open(cfg.path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, buf, sizeof(buf), 3 * 65536 - 512) == (ssize_t)sizeof(buf));
	close(fd);
	CHECK(!sh("qemu-img check -q %s", path));
	CHECK(!sh("qemu-img compare -q %s %s", path, cfg.path));
	teardown();
}

static const struct test_case cases[] = {
	TEST(test_image_format_probe_and_override),
	TEST(test_image_probed_raw_guards_its_head),
	TEST(test_image_ephemeral_leaves_the_image_alone),
	TEST(test_image_overlay_is_what_qemu_img_expects),
};

const struct test_suite disk_image_suite = { "disk_image", cases, ARRAY_SIZE(cases) };
