// SPDX-License-Identifier: Apache-2.0
/*
 * Merging a diff snapshot's memory file onto its base: every extent of
 * data in the diff (SEEK_DATA/SEEK_HOLE) is copied to the same offset of
 * the base, whose holes and other pages stay.  The result is the memory
 * file the diff's snapshot restores with.
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"

#define MERGE_CHUNK (1u << 20)

static int copy_extent(int from, int to, off_t off, off_t end, u8 *buf)
{
	while (off < end) {
		size_t n = end - off > MERGE_CHUNK ? MERGE_CHUNK : (size_t)(end - off);
		ssize_t got = pread(from, buf, n, off);

		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		if (pwrite(to, buf, (size_t)got, off) != got)
			return -errno ? -errno : -EIO;
		off += got;
	}
	return 0;
}

int snapshot_merge(const char *base, const char *diff)
{
	int from = open(diff, O_RDONLY | O_CLOEXEC), to = -1, ret = 0;
	struct stat sd, sb;
	u8 *buf = NULL;
	off_t off = 0;

	if (from < 0)
		return -errno;
	to = open(base, O_WRONLY | O_CLOEXEC);
	if (to < 0 || fstat(from, &sd) || fstat(to, &sb)) {
		ret = -errno;
		goto out;
	}
	/* A diff of another machine's memory would not fit: same size only. */
	if (sd.st_size != sb.st_size) {
		ret = -ERANGE;
		goto out;
	}
	buf = malloc(MERGE_CHUNK);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (off < sd.st_size && !ret) {
		off_t data = lseek(from, off, SEEK_DATA), hole;

		if (data < 0) {
			ret = errno == ENXIO ? 0 : -errno;   /* no more data */
			break;
		}
		hole = lseek(from, data, SEEK_HOLE);
		if (hole < 0) {
			ret = -errno;
			break;
		}
		ret = copy_extent(from, to, data, hole, buf);
		off = hole;
	}
	if (!ret && fsync(to))
		ret = -errno;
out:
	free(buf);
	if (to >= 0)
		close(to);
	close(from);
	return ret;
}
