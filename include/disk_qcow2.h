/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_DISK_QCOW2_H
#define ARKVM_DISK_QCOW2_H

/*
 * The qcow2 disk backend (src/backends/disk_qcow2.c, qcow2_io.c), behind
 * include/disk.h's disk_ops.  Versions 2 and 3, clusters of 512 B to
 * 2 MiB, backing files (raw or qcow2, read-only), v3 zero clusters,
 * compressed clusters (read only: a write to one moves it).  DISCARD and
 * WRITE_ZEROES turn whole clusters into zero or unallocated ones and free
 * what they held.  Requests are served in the submit (DISK_DONE), runs of
 * allocated clusters in one preadv/pwritev on the caller's buffers; the
 * disk has no event_fd.  Threading
 * as for any disk (include/disk.h): one thread at a time.
 */
#include <stdbool.h>

#include "disk.h"

/*
 * Whether the open file @fd starts with the qcow2 magic: 1 if it does,
 * 0 if not (a raw image), -errno when it cannot be read.  Only the magic
 * is looked at: whether the image is one arkvm can open is for open.
 */
int disk_qcow2_probe_fd(int fd);
/* The same for the file at @path. */
int disk_qcow2_probe(const char *path);

/*
 * Opens the qcow2 image at @path, locked exclusively (shared when
 * @readonly), with its backing chain opened read-only and locked shared.
 * An image arkvm cannot serve safely (encrypted, external data file,
 * extended L2 entries, dirty, corrupt, unknown incompatible features, a
 * hostile layout) is refused with one line and -EINVAL or -ENOTSUP.
 */
int disk_qcow2_open(const char *path, bool readonly, struct disk **out);

/*
 * Writes into the empty file @fd a qcow2 v3 image of @size bytes whose
 * every cluster reads from @backing (an absolute path), an image of
 * @format ("raw" or "qcow2", recorded so that it is never probed).
 * 0, or -errno (-EINVAL for a size or name it cannot hold).
 */
int qcow2_create_overlay(int fd, u64 size, const char *backing, const char *format);

#endif
