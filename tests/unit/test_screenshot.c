// SPDX-License-Identifier: Apache-2.0
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "screenshot.h"
#include "test.h"

/* Decodes @png back to RGB with libpng's reader. */
static u8 *png_decode(const void *png, size_t len, u32 *w, u32 *h)
{
	png_image image = { .version = PNG_IMAGE_VERSION };
	u8 *rgb;

	if (!png_image_begin_read_from_memory(&image, png, len))
		return NULL;
	image.format = PNG_FORMAT_RGB;
	rgb = malloc(PNG_IMAGE_SIZE(image));
	if (rgb && !png_image_finish_read(&image, NULL, rgb, 0, NULL)) {
		free(rgb);
		rgb = NULL;
	}
	*w = image.width;
	*h = image.height;
	return rgb;
}

static void test_png_round_trip(void)
{
	u8 rgb[5 * 3 * 3];
	void *png = NULL;
	size_t len;
	u8 *back;
	u32 w, h;

	for (size_t i = 0; i < sizeof(rgb); i++)
		rgb[i] = (u8)(i * 7);
	CHECK_EQ(png_encode_rgb(rgb, 5, 3, &png, &len), 0);
	CHECK(!memcmp(png, "\x89PNG\r\n\x1a\n", 8));
	back = png_decode(png, len, &w, &h);
	CHECK(back);
	CHECK_EQ(w, 5);
	CHECK_EQ(h, 3);
	CHECK(!memcmp(back, rgb, sizeof(rgb)));
	free(back);
	free(png);
}

/* A second screenshot replaces the first, whole. */
static void test_screenshot_replaces_file(void)
{
	char path[] = "/tmp/arkvm-shot-XXXXXX";
	u8 big[64 * 64 * 3], small[3] = { 1, 2, 3 };
	int fd = mkstemp(path);
	u8 file[65536];
	ssize_t n;
	u8 *back;
	u32 w, h;

	CHECK(fd >= 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (u8)(i * 131 + (i >> 5));
	CHECK_EQ(screenshot_write(fd, big, 64, 64), 0);
	CHECK_EQ(screenshot_write(fd, small, 1, 1), 0);
	n = pread(fd, file, sizeof(file), 0);
	close(fd);
	unlink(path);
	CHECK(n > 0);
	back = png_decode(file, (size_t)n, &w, &h);
	CHECK(back);
	CHECK_EQ(w, 1);
	CHECK(!memcmp(back, small, 3));
	free(back);
}

TEST_SUITE(screenshot,
	   TEST(test_png_round_trip),
	   TEST(test_screenshot_replaces_file));
