// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "log.h"

int open_input_file(const char *path, const char *what, int flags, u64 *size)
{
	struct stat st;
	int fd, ret;

	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("%s '%s': %s", what, path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		pr_err("%s '%s': %s", what, path, strerror(errno));
		goto err;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		pr_err("%s '%s': is a directory", what, path);
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		pr_err("%s '%s': not a regular file", what, path);
		goto err;
	}
	if (st.st_size == 0) {
		ret = -EINVAL;
		pr_err("%s '%s': the file is empty", what, path);
		goto err;
	}
	*size = (u64)st.st_size;
	return fd;

err:
	close(fd);
	return ret;
}

int open_image_file(const char *path, bool readonly, u64 *size)
{
	int fd = open_input_file(path, "disk", readonly ? O_RDONLY : O_RDWR, size);
	int tries = 50;

	if (fd < 0)
		return fd;
	/*
	 * Never two writers on one image; readers share.  A process that
	 * just ended may still hold it for a moment (its io_uring lets go of
	 * the file after it exits): a restart right after a kill waits for
	 * that, up to half a second, instead of failing.
	 */
	while (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if ((errno == EWOULDBLOCK || errno == EINTR) && --tries > 0) {
			poll(NULL, 0, 10);
			continue;
		}
		pr_err("disk '%s': in use by another process (%s)", path,
		       errno == EWOULDBLOCK ? "locked" : strerror(errno));
		close(fd);
		return -EBUSY;
	}
	return fd;
}

/* pread or pwrite until @len bytes moved: 0, or -errno (-EIO when one moved nothing). */
static int pio_full(int fd, char *p, u64 len, u64 off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, p, MIN(len, (u64)SZ_1G), (off_t)off)
				  : pread(fd, p, MIN(len, (u64)SZ_1G), (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (u64)n;
		len -= (u64)n;
	}
	return 0;
}

int pread_full(int fd, void *buf, u64 len, u64 off)
{
	return pio_full(fd, buf, len, off, false);
}

int pwrite_full(int fd, const void *buf, u64 len, u64 off)
{
	return pio_full(fd, (char *)buf, len, off, true);
}
