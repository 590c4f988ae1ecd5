// SPDX-License-Identifier: Apache-2.0
/*
 * Extended attributes, the user.* namespace only: security.capability
 * would be host privilege, trusted.* and system.* (ACLs, declined at
 * INIT) are not the guest's to set.  Linux keeps user.* on regular files
 * and directories only, exactly what inode_reopen() opens, so the f*
 * calls run on a descriptor reopened read-only for the purpose.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuse_int.h"

#define XATTR_USER "user."
#define XATTR_NAME_LEN 255
#define XATTR_VALUE_MAX 65536
#define XATTR_LIST_MAX_ 65536

/* An attribute's name: NUL-terminated in the request, user.*, at most 255 bytes. */
static int take_xattr_name(struct fuse_req *r, size_t off, const char **name)
{
	const char *p = (const char *)r->arg + off;
	size_t room = off < r->arg_len ? r->arg_len - off : 0;
	const char *nul = memchr(p, 0, MIN(room, XATTR_NAME_LEN + 1));

	if (!nul)
		return room > XATTR_NAME_LEN ? -ERANGE : -EINVAL;
	if (strncmp(p, XATTR_USER, strlen(XATTR_USER)) || !p[strlen(XATTR_USER)])
		return -EOPNOTSUPP;
	*name = p;
	return 0;
}

/* The node's file, opened for its attributes: -EPERM for other types, as Linux. */
static int xattr_fd(struct fuse_req *r)
{
	struct fuse_inode *ino;
	int fd = inode_get(r->s, r->hdr.nodeid, &ino);

	if (fd)
		return fd;
	if (ino->type == S_IFREG || ino->type == S_IFDIR)
		fd = inode_reopen(r->s, ino, O_RDONLY);
	else
		fd = -EPERM;
	inode_put(r->s, ino);
	return fd;
}

/* The reply to a get or list: the size asked for with size 0, else the bytes. */
static int reply_sized(struct fuse_req *r, u32 size, const void *p, ssize_t n)
{
	struct fuse_getxattr_out o = { .size = (u32)n };

	if (n < 0)
		return (int)n;
	if (!size)
		return fuse_reply(r, &o, sizeof(o));
	if ((size_t)n > size)
		return -ERANGE;
	return fuse_reply(r, p, (size_t)n);
}

int op_getxattr(struct fuse_req *r)
{
	struct fuse_getxattr_in in;
	const char *name;
	void *buf;
	ssize_t n;
	int fd, ret;

	memcpy(&in, r->arg, sizeof(in));
	ret = take_xattr_name(r, sizeof(in), &name);
	if (ret)
		return ret;
	fd = xattr_fd(r);
	if (fd < 0)
		return fd;
	buf = malloc(XATTR_VALUE_MAX);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = fgetxattr(fd, name, buf, XATTR_VALUE_MAX);
	if (n < 0)
		n = -errno;
	close(fd);
	ret = reply_sized(r, in.size, buf, n);
	free(buf);
	return ret;
}

/* Keeps the user.* names of a list in place: its new length. */
static size_t only_user(char *list, size_t n)
{
	size_t out = 0;

	for (size_t pos = 0; pos < n;) {
		size_t len = strnlen(list + pos, n - pos);

		if (!strncmp(list + pos, XATTR_USER, strlen(XATTR_USER)) && pos + len < n) {
			memmove(list + out, list + pos, len + 1);
			out += len + 1;
		}
		pos += len + 1;
	}
	return out;
}

int op_listxattr(struct fuse_req *r)
{
	struct fuse_getxattr_in in;
	char *buf;
	ssize_t n;
	int fd, ret;

	memcpy(&in, r->arg, sizeof(in));
	fd = xattr_fd(r);
	if (fd == -EPERM)
		return reply_sized(r, in.size, "", 0);  /* a symlink lists none */
	if (fd < 0)
		return fd;
	buf = malloc(XATTR_LIST_MAX_);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = flistxattr(fd, buf, XATTR_LIST_MAX_);
	n = n < 0 ? -errno : (ssize_t)only_user(buf, (size_t)n);
	close(fd);
	ret = reply_sized(r, in.size, buf, n);
	free(buf);
	return ret;
}

int op_setxattr(struct fuse_req *r)
{
	/* SETXATTR_EXT is not negotiated: the 8-byte compat header. */
	struct fuse_setxattr_in in = { 0 };
	const char *name;
	size_t off = FUSE_COMPAT_SETXATTR_IN_SIZE, vo;
	int fd, ret;

	memcpy(&in, r->arg, FUSE_COMPAT_SETXATTR_IN_SIZE);
	ret = take_xattr_name(r, off, &name);
	if (ret)
		return ret;
	vo = off + strlen(name) + 1;
	if (in.size > XATTR_VALUE_MAX || in.size > r->arg_len - vo)
		return -EINVAL;
	if (in.flags & ~(u32)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	fd = xattr_fd(r);
	if (fd < 0)
		return fd;
	ret = fsetxattr(fd, name, r->arg + vo, in.size, (int)in.flags) ? -errno : 0;
	close(fd);
	return ret ? ret : fuse_reply(r, NULL, 0);
}

int op_removexattr(struct fuse_req *r)
{
	const char *name;
	int fd, ret = take_xattr_name(r, 0, &name);

	if (ret)
		return ret;
	fd = xattr_fd(r);
	if (fd < 0)
		return fd;
	ret = fremovexattr(fd, name) ? -errno : 0;
	close(fd);
	return ret ? ret : fuse_reply(r, NULL, 0);
}
