// SPDX-License-Identifier: Apache-2.0
/*
 * Attributes and the I/O of regular files.  A file is opened only
 * through inode_reopen() (regular files and directories, checked before
 * and after), or created afresh with O_EXCL; READ and WRITE move data
 * between the file and the guest's segments with preadv and pwritev,
 * bounded by what the guest's buffers really hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"

#define NSEC_PER_SEC 1000000000u

/* The open flags a guest may pass on: no O_CREAT, O_NOFOLLOW, O_PATH... */
static int open_flags(u32 flags)
{
	return (int)flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_DSYNC | O_SYNC);
}

static bool opens_for_change(u32 flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* FOPEN_* for a file: what cache= lets the guest keep. */
static u32 fopen_flags(const struct fuse_server *s)
{
	switch (s->cfg.cache) {
	case SHARE_CACHE_NEVER:
		return FOPEN_DIRECT_IO;
	case SHARE_CACHE_ALWAYS:
		return FOPEN_KEEP_CACHE;
	default:
		/* Kept across opens; AUTO_INVAL_DATA drops it when mtime moves. */
		return FOPEN_KEEP_CACHE;
	}
}

static int reply_attr(struct fuse_req *r, int fd)
{
	struct fuse_attr_out o = { .attr_valid = attr_timeout(r->s) };
	struct stat st;

	if (stat_fd(fd, &st))
		return -errno;
	fill_attr(r->s, &st, &o.attr);
	return fuse_reply(r, &o, sizeof(o));
}

int op_getattr(struct fuse_req *r)
{
	struct fuse_inode *ino;
	int ret = inode_get(r->s, r->hdr.nodeid, &ino);

	if (ret)
		return ret;
	ret = reply_attr(r, ino->fd);
	inode_put(r->s, ino);
	return ret;
}

static int set_size(struct fuse_req *r, struct fuse_inode *ino, const struct fuse_setattr_in *in)
{
	struct fuse_handle *h;
	int fd, ret;

	if (in->size > INT64_MAX)
		return -EINVAL;
	if ((in->valid & FATTR_FH) && !handle_get(r->s, in->fh, false, &h)) {
		ret = ftruncate(h->fd, (off_t)in->size) ? -errno : 0;
		handle_put(r->s, h);
	} else {
		fd = inode_reopen(r->s, ino, O_WRONLY);
		if (fd < 0)
			return fd;
		ret = ftruncate(fd, (off_t)in->size) ? -errno : 0;
		close(fd);
	}
	if (!ret && (in->valid & FATTR_KILL_SUIDGID))
		ret = kill_suidgid(r->s, ino->fd);
	return ret;
}

static int set_owner(struct fuse_req *r, struct fuse_inode *ino, const struct fuse_setattr_in *in)
{
	uid_t uid = (in->valid & FATTR_UID) ? map_uid_to_host(r->s, in->uid) : (uid_t)-1;
	gid_t gid = (in->valid & FATTR_GID) ? map_gid_to_host(r->s, in->gid) : (gid_t)-1;

	if (fchownat(ino->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	/* As chown(2) does for everyone since Linux 2.2.13. */
	return kill_suidgid(r->s, ino->fd);
}

static int time_of(u32 valid, u32 set, u32 now, u64 sec, u32 nsec, struct timespec *ts)
{
	if (!(valid & set)) {
		ts->tv_nsec = UTIME_OMIT;
	} else if (valid & now) {
		ts->tv_nsec = UTIME_NOW;
	} else {
		if (nsec >= NSEC_PER_SEC || sec > INT64_MAX)
			return -EINVAL;
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = nsec;
	}
	return 0;
}

static int set_times(struct fuse_inode *ino, const struct fuse_setattr_in *in)
{
	struct timespec ts[2];

	if (time_of(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime, in->atimensec, &ts[0]) ||
	    time_of(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime, in->mtimensec, &ts[1]))
		return -EINVAL;
	/* AT_EMPTY_PATH: the pinned inode itself, a symlink included. */
	return utimensat(ino->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int do_setattr(struct fuse_req *r, struct fuse_inode *ino, const struct fuse_setattr_in *in)
{
	int ret = 0;

	if (in->valid & FATTR_MODE)
		ret = chmod_opath(r->s, ino->fd, create_mode(r, in->mode, ino->type == S_IFDIR));
	if (!ret && (in->valid & (FATTR_UID | FATTR_GID)))
		ret = set_owner(r, ino, in);
	if (!ret && (in->valid & FATTR_SIZE))
		ret = set_size(r, ino, in);
	if (!ret && (in->valid & (FATTR_ATIME | FATTR_MTIME)))
		ret = set_times(ino, in);
	return ret;
}

int op_setattr(struct fuse_req *r)
{
	struct fuse_setattr_in in;
	struct fuse_inode *ino;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = inode_get(r->s, r->hdr.nodeid, &ino);
	if (ret)
		return ret;
	ret = do_setattr(r, ino, &in);
	if (!ret)
		ret = reply_attr(r, ino->fd);
	inode_put(r->s, ino);
	return ret;
}

int reply_open(struct fuse_req *r, int fd, bool dir, u32 flags, const void *entry,
	       size_t entry_len)
{
	struct fuse_open_out o = { .open_flags = flags };
	int ret = handle_new(r->s, fd, dir, &o.fh);

	if (ret) {
		close(fd);
		return ret;
	}
	ret = fuse_reply2(r, entry, entry_len, &o, sizeof(o));
	if (ret)
		handle_release(r->s, o.fh, dir);
	return ret;
}

int op_open(struct fuse_req *r)
{
	struct fuse_open_in in;
	struct fuse_inode *ino;
	int fd, ret;

	memcpy(&in, r->arg, sizeof(in));
	if ((in.flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (r->s->cfg.readonly && opens_for_change(in.flags))
		return -EROFS;
	ret = inode_get(r->s, r->hdr.nodeid, &ino);
	if (ret)
		return ret;
	fd = inode_reopen(r->s, ino, open_flags(in.flags));
	if (fd >= 0 && (in.flags & O_TRUNC))
		kill_suidgid(r->s, fd);
	inode_put(r->s, ino);
	if (fd < 0)
		return fd;
	return reply_open(r, fd, false, fopen_flags(r->s), NULL, 0);
}

/* The guest's dentry was stale: the name exists, open it the safe way. */
static int create_existing(struct fuse_req *r, struct fuse_inode *parent, const char *name,
			   int flags, struct fuse_entry_out *e)
{
	struct fuse_inode *ino;
	int ret = inode_lookup(r->s, parent->fd, name, e), fd;

	if (ret)
		return ret;
	fd = inode_get(r->s, e->nodeid, &ino);
	if (!fd) {
		fd = inode_reopen(r->s, ino, flags);
		inode_put(r->s, ino);
	}
	if (fd < 0)
		inode_forget(r->s, e->nodeid, 1);
	return fd;
}

/* A file just made with O_EXCL: its node, checked to be the same file. */
static int create_new(struct fuse_req *r, struct fuse_inode *parent, const char *name, int fd,
		      mode_t mode, struct fuse_entry_out *e)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st))
		return -errno;
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode))
		return -errno;
	ret = inode_lookup(r->s, parent->fd, name, e);
	if (ret)
		return ret;
	if (e->attr.ino != st.st_ino) {
		inode_forget(r->s, e->nodeid, 1);
		return -EIO;
	}
	return 0;
}

int op_create(struct fuse_req *r)
{
	struct fuse_create_in in;
	struct fuse_entry_out e;
	struct fuse_inode *parent;
	const char *name;
	size_t off = sizeof(in);
	mode_t mode;
	int fd, ret;

	memcpy(&in, r->arg, sizeof(in));
	if ((in.flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	ret = take_name(r, &off, &name);
	if (!ret)
		ret = inode_get(r->s, r->hdr.nodeid, &parent);
	if (ret)
		return ret;
	mode = create_mode(r, in.mode, false);
	/* O_EXCL always: an existing name may be a device or a FIFO. */
	fd = open_beneath(r->s, parent->fd, name, open_flags(in.flags) | O_CREAT | O_EXCL, mode);
	if (fd >= 0) {
		ret = create_new(r, parent, name, fd, mode, &e);
		if (ret) {
			close(fd);
			fd = ret;
		}
	} else if (fd == -EEXIST && !(in.flags & O_EXCL)) {
		fd = create_existing(r, parent, name, open_flags(in.flags), &e);
	}
	inode_put(r->s, parent);
	if (fd < 0)
		return fd;
	ret = reply_open(r, fd, false, fopen_flags(r->s), &e, sizeof(e));
	if (ret)
		inode_forget(r->s, e.nodeid, 1);
	return ret;
}

/* preadv or pwritev over @v, IOV_MAX segments at a time, until short. */
static ssize_t rw_iov(int fd, struct iovec *v, unsigned int nr, off_t off, bool write)
{
	size_t done = 0;

	for (unsigned int i = 0; i < nr;) {
		unsigned int cnt = MIN(nr - i, (unsigned int)IOV_MAX);
		size_t want = 0;
		ssize_t n;

		for (unsigned int j = i; j < i + cnt; j++)
			want += v[j].iov_len;
		n = write ? pwritev(fd, v + i, (int)cnt, off + (off_t)done)
			  : preadv(fd, v + i, (int)cnt, off + (off_t)done);
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		done += (size_t)n;
		if ((size_t)n < want)
			break;
		i += cnt;
	}
	return (ssize_t)done;
}

static int file_io(struct fuse_req *r, u64 fh, u64 off, const struct iovec *iov,
		   unsigned int nr, size_t skip, size_t size, bool write, ssize_t *done)
{
	struct fuse_handle *h;
	struct iovec *v;
	unsigned int nr_v;
	int ret;

	if (off > INT64_MAX || size > (u64)INT64_MAX - off)
		return -EINVAL;
	ret = handle_get(r->s, fh, false, &h);
	if (ret)
		return ret;
	v = iov_slice(iov, nr, skip, size, &nr_v);
	if (!v) {
		handle_put(r->s, h);
		return -ENOMEM;
	}
	*done = rw_iov(h->fd, v, nr_v, (off_t)off, write);
	free(v);
	ret = *done < 0 ? (int)*done : 0;
	/* The host clears them for an unprivileged arkvm; this for any arkvm. */
	if (write && *done > 0)
		ret = kill_suidgid(r->s, h->fd);
	handle_put(r->s, h);
	return ret;
}

int op_read(struct fuse_req *r)
{
	struct fuse_read_in in;
	ssize_t n;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if (in.size > r->out_len - sizeof(struct fuse_out_header))
		return -EINVAL;
	ret = file_io(r, in.fh, in.offset, r->out, r->nr_out, sizeof(struct fuse_out_header),
		      in.size, false, &n);
	if (ret)
		return ret;
	return fuse_reply_data(r, (size_t)n);
}

int op_write(struct fuse_req *r)
{
	struct fuse_write_in in;
	struct fuse_write_out o = { 0 };
	ssize_t n;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if (in.size > r->data_len || in.size > FUSE_MAX_WRITE)
		return -EINVAL;
	ret = file_io(r, in.fh, in.offset, r->in, r->nr_in, r->data_off, in.size, true, &n);
	if (ret)
		return ret;
	o.size = (u32)n;
	return fuse_reply(r, &o, sizeof(o));
}

int op_flush(struct fuse_req *r)
{
	struct fuse_flush_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = handle_get(r->s, in.fh, false, &h);
	if (ret)
		return ret;
	handle_put(r->s, h);
	return fuse_reply(r, NULL, 0);
}

int op_release(struct fuse_req *r)
{
	struct fuse_release_in in;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = handle_release(r->s, in.fh, false);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_fsync(struct fuse_req *r)
{
	struct fuse_fsync_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = handle_get(r->s, in.fh, false, &h);
	if (ret)
		return ret;
	if (in.fsync_flags & FUSE_FSYNC_FDATASYNC)
		ret = fdatasync(h->fd) ? -errno : 0;
	else
		ret = fsync(h->fd) ? -errno : 0;
	handle_put(r->s, h);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_fallocate(struct fuse_req *r)
{
	struct fuse_fallocate_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if (in.mode & ~(u32)(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (in.offset > INT64_MAX || in.length > INT64_MAX)
		return -EINVAL;
	ret = handle_get(r->s, in.fh, false, &h);
	if (ret)
		return ret;
	ret = fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) ? -errno : 0;
	handle_put(r->s, h);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

/* SEEK_DATA and SEEK_HOLE; the guest does the others itself. */
int op_lseek(struct fuse_req *r)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out o;
	struct fuse_handle *h;
	off_t pos;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if ((in.whence != SEEK_DATA && in.whence != SEEK_HOLE) || in.offset > INT64_MAX)
		return -EINVAL;
	ret = handle_get(r->s, in.fh, false, &h);
	if (ret)
		return ret;
	pos = lseek(h->fd, (off_t)in.offset, (int)in.whence);
	ret = pos < 0 ? -errno : 0;
	handle_put(r->s, h);
	if (ret)
		return ret;
	o.offset = (u64)pos;
	return fuse_reply(r, &o, sizeof(o));
}

/* Asked only without default_permissions: the host's answer for arkvm's user. */
int op_access(struct fuse_req *r)
{
	struct fuse_access_in in;
	struct fuse_inode *ino;
	char num[16];
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	if (in.mask & ~(u32)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((in.mask & W_OK) && r->s->cfg.readonly)
		return -EROFS;
	ret = inode_get(r->s, r->hdr.nodeid, &ino);
	if (ret)
		return ret;
	snprintf(num, sizeof(num), "%d", ino->fd);
	if (in.mask && ino->type != S_IFLNK && faccessat(r->s->proc_fd, num, (int)in.mask, AT_EACCESS))
		ret = -errno;
	inode_put(r->s, ino);
	return ret ? ret : fuse_reply(r, NULL, 0);
}
