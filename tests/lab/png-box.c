// SPDX-License-Identifier: Apache-2.0
/*
 * png-box FILE: reads a screenshot with libpng and prints its size, how many
 * pixels are lit (any channel more than 64 away from the background, the
 * colour of the top-left pixel) and the box around them:
 *   WIDTHxHEIGHT lit=N box=X0,Y0,X1,Y1      (X1, Y1 exclusive)
 * The lab checks with it that the guest's text is on the screen where it
 * was written, and nothing else is, and that kmscube's cube sits in the
 * middle of its grey background.  Built for the machine running the lab.
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

static int differs(const unsigned char *p, const unsigned char *bg)
{
	for (int i = 0; i < 3; i++)
		if (abs(p[i] - bg[i]) > 64)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	png_image image = { .version = PNG_IMAGE_VERSION };
	unsigned long lit = 0;
	unsigned int x0 = ~0u, y0 = ~0u, x1 = 0, y1 = 0;
	unsigned char *rgb;

	if (argc != 2) {
		fprintf(stderr, "usage: png-box FILE\n");
		return 2;
	}
	if (!png_image_begin_read_from_file(&image, argv[1])) {
		fprintf(stderr, "png-box: %s: %s\n", argv[1], image.message);
		return 1;
	}
	image.format = PNG_FORMAT_RGB;
	rgb = malloc(PNG_IMAGE_SIZE(image));
	if (!rgb || !png_image_finish_read(&image, NULL, rgb, 0, NULL)) {
		fprintf(stderr, "png-box: %s: %s\n", argv[1], image.message);
		return 1;
	}
	for (unsigned int y = 0; y < image.height; y++)
		for (unsigned int x = 0; x < image.width; x++) {
			const unsigned char *p = rgb + ((size_t)y * image.width + x) * 3;

			if (!differs(p, rgb))
				continue;
			lit++;
			x0 = x < x0 ? x : x0, y0 = y < y0 ? y : y0;
			x1 = x + 1 > x1 ? x + 1 : x1, y1 = y + 1 > y1 ? y + 1 : y1;
		}
	if (!lit)
		x0 = y0 = 0;
	printf("%ux%u lit=%lu box=%u,%u,%u,%u\n", image.width, image.height, lit, x0, y0, x1, y1);
	free(rgb);
	return 0;
}
