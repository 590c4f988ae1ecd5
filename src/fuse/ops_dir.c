// SPDX-License-Identifier: Apache-2.0
/*
 * Directories.  READDIR hands the host's own getdents64 offsets to the
 * guest as its cookies, reads on from where the last READDIR stopped, and
 * seeks only for another cookie: a directory handle's position is under
 * its dir_lock.  READDIRPLUS
 * looks each entry up (one nlookup each, as LOOKUP would) except "."
 * and "..", which the guest never takes from it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_int.h"

/* A host read of at most this much at a time, whatever the guest's size. */
#define DIRBUF_MAX (64 * 1024)

int op_opendir(struct fuse_req *r)
{
	struct fuse_inode *ino;
	u32 flags = 0;
	int fd, ret;

	ret = inode_get(r->s, r->hdr.nodeid, &ino);
	if (ret)
		return ret;
	fd = ino->type == S_IFDIR ? inode_reopen(r->s, ino, O_RDONLY | O_DIRECTORY) : -ENOTDIR;
	inode_put(r->s, ino);
	if (fd < 0)
		return fd;
	if (r->s->cfg.cache == SHARE_CACHE_ALWAYS)
		flags = FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE;
	return reply_open(r, fd, true, flags, NULL, 0);
}

static bool dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* One entry into @o at @used, if it fits: its size, or 0. */
static size_t put_entry(struct fuse_server *s, int dirfd, const struct dirent64 *d, bool plus,
			u8 *o, size_t used, size_t size)
{
	size_t namelen = strlen(d->d_name);
	size_t rec = plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen)
			  : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
	struct fuse_direntplus dp = { 0 };

	if (rec > size - used)
		return 0;
	dp.dirent.ino = d->d_ino;
	dp.dirent.off = (u64)d->d_off;
	dp.dirent.namelen = (u32)namelen;
	dp.dirent.type = d->d_type;
	/* A failed lookup leaves nodeid 0: the guest then just lists the name. */
	if (plus && !dot_or_dotdot(d->d_name) &&
	    inode_lookup(s, dirfd, d->d_name, &dp.entry_out))
		memset(&dp.entry_out, 0, sizeof(dp.entry_out));
	memset(o + used, 0, rec);
	if (plus) {
		memcpy(o + used, &dp, sizeof(dp));
		memcpy(o + used + FUSE_NAME_OFFSET_DIRENTPLUS, d->d_name, namelen);
	} else {
		memcpy(o + used, &dp.dirent, sizeof(dp.dirent));
		memcpy(o + used + FUSE_NAME_OFFSET, d->d_name, namelen);
	}
	return rec;
}

/*
 * Fills @o (@size bytes) from directory handle @h at @cookie: how much, or
 * -errno.  Under h->dir_lock.
 */
static ssize_t fill_dir(struct fuse_server *s, struct fuse_handle *h, u64 cookie, bool plus,
			u8 *o, size_t size)
{
	size_t used = 0;
	ssize_t n = 0;

	if (cookie != h->dir_next) {
		/* Not where the last READDIR stopped: seek, forget what it left. */
		if (lseek(h->fd, (off_t)cookie, SEEK_SET) < 0)
			return -errno;
		h->dir_len = h->dir_pos = 0;
		h->dir_next = cookie;
	}
	for (;;) {
		const struct dirent64 *d;
		size_t rec;

		if (h->dir_pos == h->dir_len) {
			if (!h->dir_buf && !(h->dir_buf = malloc(DIRBUF_MAX)))
				return used ? (ssize_t)used : -ENOMEM;
			n = getdents64(h->fd, h->dir_buf, DIRBUF_MAX);
			if (n <= 0)
				break;
			h->dir_len = (u32)n;
			h->dir_pos = 0;
		}
		d = (const struct dirent64 *)(void *)(h->dir_buf + h->dir_pos);
		rec = put_entry(s, h->fd, d, plus, o, used, size);
		if (!rec)
			break; /* no room: this entry is the next READDIR's first */
		used += rec;
		h->dir_pos += d->d_reclen;
		h->dir_next = (u64)d->d_off;
	}
	if (h->dir_pos == h->dir_len) {
		free(h->dir_buf);   /* drained: a directory at rest holds no buffer */
		h->dir_buf = NULL;
		h->dir_len = h->dir_pos = 0;
	}
	if (n < 0 && !used)
		return -errno;
	return (ssize_t)used;
}

static int do_readdir(struct fuse_req *r, bool plus)
{
	struct fuse_read_in in;
	struct fuse_handle *h;
	ssize_t n;
	u8 *o;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if (in.size > r->out_len - sizeof(struct fuse_out_header))
		return -EINVAL;
	if (in.offset > INT64_MAX)
		return -EINVAL;
	ret = handle_get(r->s, in.fh, true, &h);
	if (ret)
		return ret;
	o = malloc(in.size ? in.size : 1);
	if (!o) {
		handle_put(r->s, h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->dir_lock);
	n = fill_dir(r->s, h, in.offset, plus, o, in.size);
	pthread_mutex_unlock(&h->dir_lock);
	handle_put(r->s, h);
	ret = n < 0 ? (int)n : fuse_reply(r, o, (size_t)n);
	free(o);
	return ret;
}

int op_readdir(struct fuse_req *r)
{
	return do_readdir(r, false);
}

int op_readdirplus(struct fuse_req *r)
{
	return do_readdir(r, true);
}

int op_releasedir(struct fuse_req *r)
{
	struct fuse_release_in in;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = handle_release(r->s, in.fh, true);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_fsyncdir(struct fuse_req *r)
{
	struct fuse_fsync_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = handle_get(r->s, in.fh, true, &h);
	if (ret)
		return ret;
	ret = fsync(h->fd) ? -errno : 0;
	handle_put(r->s, h);
	return ret ? ret : fuse_reply(r, NULL, 0);
}
