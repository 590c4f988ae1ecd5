/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_SCREENSHOT_H
#define ARKVM_SCREENSHOT_H

#include <stddef.h>

#include "compiler.h"

/*
 * PNG screenshots (libpng), for --screenshot.  The file is opened once,
 * at start-up, so a bad path fails before the guest runs and no later
 * open() is needed under the sandbox; each screenshot replaces its
 * contents.
 */
int screenshot_open(const char *path);

/* Encodes 8-bit RGB rows (@width * 3 bytes each) as a PNG in a malloc'd buffer. */
int png_encode_rgb(const u8 *rgb, u32 width, u32 height, void **png, size_t *len);

/* Replaces the contents of @fd with a PNG of the pixels. */
int screenshot_write(int fd, const u8 *rgb, u32 width, u32 height);

#endif
