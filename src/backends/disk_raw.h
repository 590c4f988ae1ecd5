/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_DISK_RAW_H
#define ARKVM_BACKENDS_DISK_RAW_H

/* The raw backend's insides, for its unit tests only. */
#include <liburing.h>

#include "disk.h"

/* The raw disk @d's io_uring, or NULL when it serves requests without one. */
struct io_uring *disk_raw_ring(struct disk *d);

#endif
