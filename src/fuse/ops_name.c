// SPDX-License-Identifier: Apache-2.0
/*
 * Opcodes about names: each name from the guest passes take_name() (one
 * component, NUL-terminated inside the request, no '/', not "." or "..")
 * and is used only relative to its parent's O_PATH descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"

/* The request's node as a parent, and the name at arg[*off]. */
static int parent_name(struct fuse_req *r, size_t *off, struct fuse_inode **parent,
		       const char **name)
{
	int ret = take_name(r, off, name);

	if (ret)
		return ret;
	return inode_get(r->s, r->hdr.nodeid, parent);
}

static int reply_entry(struct fuse_req *r, struct fuse_inode *parent, const char *name,
		       mode_t mode)
{
	struct fuse_entry_out e;
	int ret = inode_created(r->s, parent->fd, name, mode, &e);

	inode_put(r->s, parent);
	return ret ? ret : fuse_reply(r, &e, sizeof(e));
}

int op_lookup(struct fuse_req *r)
{
	struct fuse_inode *parent;
	const char *name;
	size_t off = 0;
	int ret = parent_name(r, &off, &parent, &name);

	if (ret)
		return ret;
	return reply_entry(r, parent, name, (mode_t)-1);
}

int op_forget(struct fuse_req *r)
{
	struct fuse_forget_in in;

	memcpy(&in, r->arg, sizeof(in));
	inode_forget(r->s, r->hdr.nodeid, in.nlookup);
	return 0;
}

int op_batch_forget(struct fuse_req *r)
{
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;
	size_t off = sizeof(in);

	memcpy(&in, r->arg, sizeof(in));
	if (in.count > (r->arg_len - off) / sizeof(one))
		return -EINVAL;
	for (u32 i = 0; i < in.count; i++, off += sizeof(one)) {
		memcpy(&one, r->arg + off, sizeof(one));
		inode_forget(r->s, one.nodeid, one.nlookup);
	}
	return 0;
}

int op_mkdir(struct fuse_req *r)
{
	struct fuse_mkdir_in in;
	struct fuse_inode *parent;
	const char *name;
	size_t off = sizeof(in);
	mode_t mode;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = parent_name(r, &off, &parent, &name);
	if (ret)
		return ret;
	mode = create_mode(r, in.mode, true);
	if (mkdirat(parent->fd, name, mode)) {
		ret = -errno;
		inode_put(r->s, parent);
		return ret;
	}
	return reply_entry(r, parent, name, mode);
}

/* Regular files and FIFOs only: a device node would be a door to the host. */
int op_mknod(struct fuse_req *r)
{
	struct fuse_mknod_in in;
	struct fuse_inode *parent;
	const char *name;
	size_t off = sizeof(in);
	mode_t type, mode;
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	type = in.mode & S_IFMT;
	if (type != S_IFREG && type != S_IFIFO && type != 0)
		return -EPERM;
	ret = parent_name(r, &off, &parent, &name);
	if (ret)
		return ret;
	mode = create_mode(r, in.mode, false);
	if (mknodat(parent->fd, name, (type ? type : S_IFREG) | mode, 0)) {
		ret = -errno;
		inode_put(r->s, parent);
		return ret;
	}
	return reply_entry(r, parent, name, mode);
}

/* The target is only text to the host: the guest resolves it. */
int op_symlink(struct fuse_req *r)
{
	struct fuse_inode *parent;
	const char *name, *target;
	size_t off = 0, room;
	int ret = take_name(r, &off, &name);

	if (ret)
		return ret;
	target = (const char *)r->arg + off;
	room = r->arg_len - off;
	if (!memchr(target, 0, MIN(room, PATH_MAX)))
		return room >= PATH_MAX ? -ENAMETOOLONG : -EINVAL;
	if (!*target)
		return -ENOENT;
	ret = inode_get(r->s, r->hdr.nodeid, &parent);
	if (ret)
		return ret;
	if (symlinkat(target, parent->fd, name)) {
		ret = -errno;
		inode_put(r->s, parent);
		return ret;
	}
	return reply_entry(r, parent, name, (mode_t)-1);
}

int op_readlink(struct fuse_req *r)
{
	struct fuse_inode *ino;
	char *buf;
	ssize_t n;
	int ret = inode_get(r->s, r->hdr.nodeid, &ino);

	if (ret)
		return ret;
	buf = malloc(PATH_MAX);
	if (!buf) {
		inode_put(r->s, ino);
		return -ENOMEM;
	}
	n = readlinkat(ino->fd, "", buf, PATH_MAX);
	ret = n < 0 ? -errno : 0;
	inode_put(r->s, ino);
	if (!ret)
		ret = fuse_reply(r, buf, (size_t)n);
	free(buf);
	return ret;
}

/*
 * linkat through the inode's /proc/self/fd link (AT_SYMLINK_FOLLOW
 * follows the magic link only, to the pinned file): linkat with
 * AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH, which arkvm has not.
 */
int op_link(struct fuse_req *r)
{
	struct fuse_link_in in;
	struct fuse_inode *parent, *old;
	const char *name;
	size_t off = sizeof(in);
	char num[16];
	int ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = parent_name(r, &off, &parent, &name);
	if (ret)
		return ret;
	ret = inode_get(r->s, in.oldnodeid, &old);
	if (ret) {
		inode_put(r->s, parent);
		return ret;
	}
	snprintf(num, sizeof(num), "%d", old->fd);
	if (old->type == S_IFDIR)
		ret = -EPERM;
	else if (linkat(r->s->proc_fd, num, parent->fd, name, AT_SYMLINK_FOLLOW))
		ret = -errno;
	inode_put(r->s, old);
	if (ret) {
		inode_put(r->s, parent);
		return ret;
	}
	return reply_entry(r, parent, name, (mode_t)-1);
}

static int remove_name(struct fuse_req *r, int flags)
{
	struct fuse_inode *parent;
	const char *name;
	size_t off = 0;
	int ret = parent_name(r, &off, &parent, &name);

	if (ret)
		return ret;
	ret = unlinkat(parent->fd, name, flags) ? -errno : 0;
	inode_put(r->s, parent);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_unlink(struct fuse_req *r)
{
	return remove_name(r, 0);
}

int op_rmdir(struct fuse_req *r)
{
	return remove_name(r, AT_REMOVEDIR);
}

static int do_rename(struct fuse_req *r, u64 newdir, size_t off, u32 flags)
{
	struct fuse_inode *oldp, *newp;
	const char *oldname, *newname;
	int ret;

	ret = take_name(r, &off, &oldname);
	if (!ret)
		ret = take_name(r, &off, &newname);
	if (ret)
		return ret;
	ret = inode_get(r->s, r->hdr.nodeid, &oldp);
	if (ret)
		return ret;
	ret = inode_get(r->s, newdir, &newp);
	if (ret) {
		inode_put(r->s, oldp);
		return ret;
	}
	ret = renameat2(oldp->fd, oldname, newp->fd, newname, flags) ? -errno : 0;
	inode_put(r->s, newp);
	inode_put(r->s, oldp);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_rename(struct fuse_req *r)
{
	struct fuse_rename_in in;

	memcpy(&in, r->arg, sizeof(in));
	return do_rename(r, in.newdir, sizeof(in), 0);
}

/* NOREPLACE and EXCHANGE; WHITEOUT would make a character device. */
int op_rename2(struct fuse_req *r)
{
	struct fuse_rename2_in in;

	memcpy(&in, r->arg, sizeof(in));
	if (in.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	return do_rename(r, in.newdir, sizeof(in), in.flags);
}
