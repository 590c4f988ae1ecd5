// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "screenshot.h"

int screenshot_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		pr_err("--screenshot '%s': %s", path, strerror(errno));
		return -errno;
	}
	return fd;
}

int png_encode_rgb(const u8 *rgb, u32 width, u32 height, void **png, size_t *len)
{
	png_image image = {
		.version = PNG_IMAGE_VERSION,
		.width = width,
		.height = height,
		.format = PNG_FORMAT_RGB,
	};
	png_alloc_size_t size = 0;
	void *buf;

	/* The first call only sizes the output. */
	if (!png_image_write_to_memory(&image, NULL, &size, 0, rgb, 0, NULL) || !size)
		return -EINVAL;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (!png_image_write_to_memory(&image, buf, &size, 0, rgb, 0, NULL)) {
		free(buf);
		return -EINVAL;
	}
	*png = buf;
	*len = size;
	return 0;
}

int screenshot_write(int fd, const u8 *rgb, u32 width, u32 height)
{
	size_t len, done = 0;
	void *png;
	int ret = png_encode_rgb(rgb, width, height, &png, &len);

	if (ret)
		return ret;
	if (ftruncate(fd, 0) < 0)
		ret = -errno;
	while (!ret && done < len) {
		ssize_t n = pwrite(fd, (const u8 *)png + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	free(png);
	return ret;
}
