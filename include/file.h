/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FILE_H
#define ARKVM_FILE_H

#include <stdbool.h>

#include "compiler.h"

/*
 * Opens a file the user named on the command line.  @what names its role
 * ("kernel", "initrd") in the one error line printed when the file is
 * missing, unreadable, a directory, not a regular file or empty.
 * Returns the fd and its size in @size, or -errno.
 */
int open_input_file(const char *path, const char *what, int flags, u64 *size);

/*
 * Opens a disk image as open_input_file() does, locked so that two VMs
 * never write one image: exclusively, or shared when @readonly.  An image
 * another process holds is refused with one line and -EBUSY.
 */
int open_image_file(const char *path, bool readonly, u64 *size);

/* Reads exactly @len bytes at @off; -EIO on a short read. */
int pread_full(int fd, void *buf, u64 len, u64 off);
/* Writes exactly @len bytes at @off; -EIO when a write moves nothing. */
int pwrite_full(int fd, const void *buf, u64 len, u64 off);

#endif
