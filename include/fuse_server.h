/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FUSE_SERVER_H
#define ARKVM_FUSE_SERVER_H

#include <stddef.h>
#include <sys/uio.h>

#include "compiler.h"
#include "vm_config.h"

/*
 * arkvm's in-process FUSE server for virtio-fs (src/fuse/): one per
 * share, confined to its directory.  The guest is hostile: every request
 * is copied out of guest memory before it is looked at, every name is
 * checked, every inode is an O_PATH descriptor held here, and nothing
 * outside the share's directory is ever reached.
 *
 * Thread-safe: the virtio-fs device's worker threads call
 * fuse_server_handle() at once for different requests.
 */
struct fuse_server;

/* The caps that keep a guest from exhausting the host's descriptors. */
#define FUSE_MAX_INODES   65536         /* inodes the guest may hold (lookups not forgotten) */
#define FUSE_MAX_HANDLES  4096          /* open files and directories */
#define FUSE_MAX_WRITE    (1024 * 1024) /* max_write negotiated at INIT */

/*
 * Opens @cfg->path (a directory) as the share's root: *@out, or -errno
 * with one line said.  Main thread, at start-up.
 */
int fuse_server_create(struct fuse_server **out, const struct share_config *cfg);
void fuse_server_destroy(struct fuse_server *s);

/*
 * Serves one request.  @in are the device-readable segments of the
 * guest's buffer (struct fuse_in_header, the opcode's arguments, a
 * WRITE's data), @out the device-writable ones (struct fuse_out_header
 * and the reply; a READ's data goes straight there).  Returns how many
 * bytes of @out it wrote: 0 for a request that takes no reply (FORGET,
 * BATCH_FORGET), or -EINVAL for a buffer too malformed to answer at all
 * (shorter than its header, no room for a reply header), which the
 * device treats as a broken driver.  Every other failure is a FUSE reply
 * carrying -errno.
 */
ssize_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned int nr_in,
			   const struct iovec *out, unsigned int nr_out);

/* For --stats and the device's metrics: counters since creation. */
struct fuse_server_stats {
	unsigned long requests, errors, inodes, handles;
};
void fuse_server_get_stats(struct fuse_server *s, struct fuse_server_stats *st);

#endif
