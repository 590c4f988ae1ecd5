/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_DISK_RAW_H
#define ARKVM_BACKENDS_DISK_RAW_H

/* The raw backend's insides, for its unit tests and for image formats. */
#include <liburing.h>

#include "disk.h"

/* The raw disk @d's io_uring, or NULL when it serves requests without one. */
struct io_uring *disk_raw_ring(struct disk *d);

/*
 * The raw backend's restricted io_uring as an engine for an image format
 * (qcow2): a disk whose offsets are the file @fd's own, which it neither
 * closes nor locks nor bounds (the format owns the file and checks what it
 * sends).  -EOPNOTSUPP when no restricted ring can be had: then the format
 * serves its requests itself.
 */
int disk_raw_engine(int fd, const char *path, bool readonly, struct disk **out);

#endif
