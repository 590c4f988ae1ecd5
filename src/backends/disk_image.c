// SPDX-License-Identifier: Apache-2.0
/*
 * From a disk's configuration to an open backend: the format (probed or
 * given), the probed-raw guard, and ephemeral overlays.  See
 * include/disk_image.h for the rules.
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "disk_image.h"
#include "disk_qcow2.h"
#include "file.h"
#include "log.h"

static const u8 qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };

/* The bytes @r would leave in the first sizeof(head) of the disk. */
static void head_after(const struct disk *d, const struct disk_req *r, u8 *head)
{
	u64 end = MIN(r->offset + r->len, (u64)sizeof(d->head));
	u64 pos = r->offset, skip = 0;

	memcpy(head, d->head, sizeof(d->head));
	if (r->op != DISK_WRITE) {                     /* DISCARD, WRITE_ZEROES: zeroes */
		if (end > pos)
			memset(head + pos, 0, end - pos);
		return;
	}
	for (unsigned int i = 0; i < r->nr_iov && pos < end; i++) {
		const u8 *b = r->iov[i].iov_base;
		u64 n = r->iov[i].iov_len;

		for (skip = 0; skip < n && pos < end; skip++)
			head[pos++] = b[skip];
	}
}

bool disk_head_refuses(struct disk *d, const struct disk_req *r)
{
	u8 head[sizeof(d->head)];

	head_after(d, r, head);
	if (!memcmp(head, qcow2_magic, sizeof(head))) {
		pr_warn_ratelimited("disk: refused a guest write that would make its probed raw "
				    "image read as qcow2 (give format=raw to allow it)");
		return true;
	}
	memcpy(d->head, head, sizeof(head));
	return false;
}

/* AUTO: the format the image's first bytes say; the guard's head is read on the way. */
static int probe(const char *path, u8 head[4], enum disk_format *format)
{
	u64 size;
	int fd = open_input_file(path, "disk", O_RDONLY, &size);
	int ret;

	if (fd < 0)
		return fd;
	memset(head, 0, 4);
	ret = pread_full(fd, head, MIN(size, 4), 0);
	close(fd);
	if (ret) {
		pr_err("disk '%s': %s", path, strerror(-ret));
		return ret;
	}
	*format = memcmp(head, qcow2_magic, 4) ? DISK_FORMAT_RAW : DISK_FORMAT_QCOW2;
	return 0;
}

static int open_format(const char *path, enum disk_format format, bool readonly,
		       struct disk **out)
{
	return format == DISK_FORMAT_QCOW2 ? disk_qcow2_open(path, readonly, out)
					   : disk_raw_open(path, readonly, out);
}

/* An unlinked file in $TMPDIR for the overlay: its fd, or -errno. */
static int overlay_file(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (!dir || !dir[0])
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	if (snprintf(tmpl, sizeof(tmpl), "%s/arkvm-overlay-XXXXXX", dir) >= (int)sizeof(tmpl))
		return -ENAMETOOLONG;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

/*
 * An ephemeral disk: a fresh overlay over the image, which the overlay's
 * backend opens read-only and shared.  The image is opened first, alone,
 * for its size and to fail early with its own message.
 */
static int open_ephemeral(const char *path, enum disk_format format, struct disk **out)
{
	char *abs = realpath(path, NULL);
	struct disk *image;
	u64 size;
	int fd, ret;

	if (!abs) {
		ret = -errno;
		pr_err("disk '%s': %s", path, strerror(errno));
		return ret;
	}
	ret = open_format(abs, format, true, &image);
	if (ret)
		goto out;
	size = disk_size(image);
	disk_close(image);
	fd = overlay_file();
	if (fd < 0) {
		ret = fd;
		pr_err("disk '%s': cannot make its ephemeral overlay in $TMPDIR: %s", path,
		       strerror(-ret));
		goto out;
	}
	ret = qcow2_create_overlay(fd, size, abs, format == DISK_FORMAT_QCOW2 ? "qcow2" : "raw");
	if (ret) {
		pr_err("disk '%s': writing its ephemeral overlay: %s", path, strerror(-ret));
		close(fd);
		goto out;
	}
	/* The file is fresh, unnamed and ours: nothing else can lock or open it. */
	ret = qcow2_open_fd(fd, (u64)lseek(fd, 0, SEEK_END), abs, false, 0, out);
out:
	free(abs);
	return ret;
}

int disk_image_open(const struct disk_config *cfg, struct disk **out)
{
	enum disk_format format = cfg->format;
	u8 head[4];
	int ret;

	if (format == DISK_FORMAT_AUTO) {
		ret = probe(cfg->path, head, &format);
		if (ret)
			return ret;
	}
	if (cfg->ephemeral)
		return open_ephemeral(cfg->path, format, out);
	ret = open_format(cfg->path, format, cfg->readonly, out);
	if (!ret && cfg->format == DISK_FORMAT_AUTO && format == DISK_FORMAT_RAW) {
		(*out)->guard_head = true;
		memcpy((*out)->head, head, sizeof(head));
	}
	return ret;
}
