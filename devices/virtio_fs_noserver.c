// SPDX-License-Identifier: Apache-2.0
/*
 * TEMPORARY: built into arkvm only while src/fuse/ holds no server (the
 * Makefile picks it), so that arkvm links before the FUSE server lands.
 * Every --share is refused at start-up; nothing is ever served.
 */
#include <errno.h>

#include "fuse_server.h"
#include "log.h"

int fuse_server_create(struct fuse_server **out, const struct share_config *cfg)
{
	*out = NULL;
	pr_err("--share '%s': this arkvm was built without its FUSE server (src/fuse/)", cfg->path);
	return -ENOSYS;
}

void fuse_server_destroy(struct fuse_server *s __unused)
{
}

ssize_t fuse_server_handle(struct fuse_server *s __unused, const struct iovec *in __unused,
			   unsigned int nr_in __unused, const struct iovec *out __unused,
			   unsigned int nr_out __unused)
{
	return -EINVAL;
}

void fuse_server_get_stats(struct fuse_server *s __unused, struct fuse_server_stats *st)
{
	*st = (struct fuse_server_stats){ 0 };
}
