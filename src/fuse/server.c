// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server's front: a request is copied out of guest memory once
 * (header and arguments; a WRITE's data is the one thing read in place,
 * straight into pwritev), checked against what the guest really gave,
 * dispatched by opcode, and answered into the device-writable segments.
 * INIT, DESTROY and STATFS live here: they are about the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"
#include "virtqueue.h"

/*
 * The largest arguments any opcode we serve carries: SETXATTR's value
 * (XATTR_SIZE_MAX) with its name, or SYMLINK's name and target.
 */
#define FUSE_ARG_MAX (65536 + 2 * 4096)

/* Protocol 7.28 brought max_pages; every virtio-fs guest (7.31+) has it. */
#define FUSE_MIN_MINOR 28
/*
 * The protocol spoken: 7.38, whichever <linux/fuse.h> the build has
 * (the arm64 cross headers are 7.37, whose only difference that matters
 * here is the name of the header's extension length, see hdr_extlen()).
 */
#define FUSE_SERVER_MINOR 38

/* What INIT can offer: each honoured by this server (see fuse_init_flags). */
#define FUSE_OFFERED (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | \
		      FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | \
		      FUSE_HANDLE_KILLPRIV_V2 | FUSE_ASYNC_DIO | FUSE_AUTO_INVAL_DATA | \
		      FUSE_CACHE_SYMLINKS)

static bool iov_total(const struct iovec *iov, unsigned int nr, size_t *total)
{
	size_t t = 0;

	for (unsigned int i = 0; i < nr; i++) {
		if (iov[i].iov_len > SIZE_MAX - t)
			return false;
		t += iov[i].iov_len;
	}
	*total = t;
	return true;
}

struct iovec *iov_slice(const struct iovec *iov, unsigned int nr, size_t off, size_t len,
			unsigned int *nr_slice)
{
	struct iovec *v = calloc(nr ? nr : 1, sizeof(*v));
	unsigned int n = 0;

	if (!v)
		return NULL;
	for (unsigned int i = 0; i < nr && len; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = MIN(l - off, len);
		v[n].iov_base = (u8 *)iov[i].iov_base + off;
		v[n++].iov_len = c;
		len -= c;
		off = 0;
	}
	*nr_slice = n;
	return v;
}

static int reply_raw(struct fuse_req *r, int err, const void *p1, size_t n1,
		     const void *p2, size_t n2)
{
	struct fuse_out_header oh = {
		.len = (u32)(sizeof(oh) + n1 + n2), .error = err, .unique = r->hdr.unique,
	};

	if (sizeof(oh) + n1 + n2 > r->out_len)
		return -ERANGE;
	iov_copy_to(r->out, r->nr_out, 0, &oh, sizeof(oh));
	iov_copy_to(r->out, r->nr_out, sizeof(oh), p1, n1);
	iov_copy_to(r->out, r->nr_out, sizeof(oh) + n1, p2, n2);
	r->written = oh.len;
	if (err)
		__atomic_add_fetch(&r->s->errors, 1, __ATOMIC_RELAXED);
	return 0;
}

int fuse_reply(struct fuse_req *r, const void *p, size_t n)
{
	return reply_raw(r, 0, p, n, NULL, 0);
}

int fuse_reply2(struct fuse_req *r, const void *p1, size_t n1, const void *p2, size_t n2)
{
	return reply_raw(r, 0, p1, n1, p2, n2);
}

int fuse_reply_data(struct fuse_req *r, size_t n)
{
	struct fuse_out_header oh = {
		.len = (u32)(sizeof(oh) + n), .unique = r->hdr.unique,
	};

	if (sizeof(oh) + n > r->out_len)
		return -ERANGE;
	iov_copy_to(r->out, r->nr_out, 0, &oh, sizeof(oh));
	r->written = oh.len;
	return 0;
}

int fuse_reply_err(struct fuse_req *r, int err)
{
	return reply_raw(r, err, NULL, 0, NULL, 0);
}

int take_name(struct fuse_req *r, size_t *off, const char **name)
{
	const char *p = (const char *)r->arg + *off;
	size_t room = r->arg_len - *off;
	const char *nul;

	if (*off >= r->arg_len)
		return -EINVAL;
	/* r->arg has a NUL past its end: memchr within the request only. */
	nul = memchr(p, 0, MIN(room, FUSE_NAME_MAX + 1));
	if (!nul)
		return room > FUSE_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	if (nul == p || memchr(p, '/', nul - p) || !strcmp(p, ".") || !strcmp(p, ".."))
		return -EINVAL;
	*name = p;
	*off += nul - p + 1;
	return 0;
}

static void fuse_init_flags(struct fuse_server *s, u32 want, struct fuse_init_out *o)
{
	u32 offer = FUSE_OFFERED;

	/*
	 * AUTO_INVAL_DATA lets cache=auto keep file data across opens: the
	 * guest drops it when it sees the mtime or size move.  Symlinks are
	 * cached only when the guest trusts its cache for everything else.
	 */
	if (s->cfg.cache != SHARE_CACHE_AUTO)
		offer &= ~FUSE_AUTO_INVAL_DATA;
	if (s->cfg.cache != SHARE_CACHE_ALWAYS)
		offer &= ~FUSE_CACHE_SYMLINKS;
	/* Everything else is declined by leaving it out, INIT_EXT's flags2 too. */
	o->flags = want & offer;
}

static int op_init(struct fuse_req *r)
{
	struct fuse_server *s = r->s;
	struct fuse_init_in in = { 0 };
	struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION };
	bool again;

	memcpy(&in, r->arg, MIN(r->arg_len, sizeof(in)));
	if (in.major != FUSE_KERNEL_VERSION || in.minor < FUSE_MIN_MINOR) {
		pr_warn_ratelimited("fuse %s: guest speaks FUSE %u.%u, not 7.%u or later",
				    s->cfg.tag, in.major, in.minor, FUSE_MIN_MINOR);
		return -EPROTO;
	}
	pthread_mutex_lock(&s->lock);
	again = s->initialized;
	if (!again) {
		s->initialized = true;
		s->minor = MIN(in.minor, FUSE_SERVER_MINOR);
	}
	pthread_mutex_unlock(&s->lock);
	if (again)
		return -EPROTO;

	o.minor = MIN(in.minor, FUSE_SERVER_MINOR);
	o.max_readahead = MIN(in.max_readahead, FUSE_MAX_WRITE);
	fuse_init_flags(s, in.flags, &o);
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FUSE_MAX_WRITE;
	o.time_gran = 1;
	/* Enough pages for max_write at the smallest page size, 4 KiB. */
	o.max_pages = FUSE_MAX_WRITE / 4096;
	return fuse_reply(r, &o, sizeof(o));
}

/* The guest unmounted: every inode but the root and every handle goes. */
static int op_destroy(struct fuse_req *r)
{
	struct fuse_server *s = r->s;

	fuse_tables_reset(s);
	pthread_mutex_lock(&s->lock);
	s->initialized = false;
	pthread_mutex_unlock(&s->lock);
	return fuse_reply(r, NULL, 0);
}

static int op_statfs(struct fuse_req *r)
{
	struct fuse_inode *ino;
	struct fuse_statfs_out o = { 0 };
	struct statfs st;
	int ret = inode_get(r->s, r->hdr.nodeid, &ino);

	if (ret)
		return ret;
	ret = fstatfs(ino->fd, &st) ? -errno : 0;
	inode_put(r->s, ino);
	if (ret)
		return ret;
	o.st.blocks = st.f_blocks;
	o.st.bfree = st.f_bfree;
	o.st.bavail = st.f_bavail;
	o.st.files = st.f_files;
	o.st.ffree = st.f_ffree;
	o.st.bsize = (u32)st.f_bsize;
	o.st.namelen = MIN((u32)st.f_namelen, FUSE_NAME_MAX);
	o.st.frsize = (u32)st.f_frsize;
	return fuse_reply(r, &o, sizeof(o));
}

struct fuse_op {
	int (*fn)(struct fuse_req *r);
	u32 min_arg;            /* the opcode's fixed arguments */
	bool changes;           /* refused with EROFS on a readonly share */
};

static const struct fuse_op fuse_ops[] = {
	[FUSE_INIT]         = { op_init, 8, false },
	[FUSE_DESTROY]      = { op_destroy, 0, false },
	[FUSE_STATFS]       = { op_statfs, 0, false },
	[FUSE_LOOKUP]       = { op_lookup, 0, false },
	[FUSE_FORGET]       = { op_forget, sizeof(struct fuse_forget_in), false },
	[FUSE_BATCH_FORGET] = { op_batch_forget, sizeof(struct fuse_batch_forget_in), false },
	[FUSE_GETATTR]      = { op_getattr, sizeof(struct fuse_getattr_in), false },
	[FUSE_SETATTR]      = { op_setattr, sizeof(struct fuse_setattr_in), true },
	[FUSE_READLINK]     = { op_readlink, 0, false },
	[FUSE_SYMLINK]      = { op_symlink, 0, true },
	[FUSE_MKNOD]        = { op_mknod, sizeof(struct fuse_mknod_in), true },
	[FUSE_MKDIR]        = { op_mkdir, sizeof(struct fuse_mkdir_in), true },
	[FUSE_UNLINK]       = { op_unlink, 0, true },
	[FUSE_RMDIR]        = { op_rmdir, 0, true },
	[FUSE_RENAME]       = { op_rename, sizeof(struct fuse_rename_in), true },
	[FUSE_RENAME2]      = { op_rename2, sizeof(struct fuse_rename2_in), true },
	[FUSE_LINK]         = { op_link, sizeof(struct fuse_link_in), true },
	[FUSE_OPEN]         = { op_open, sizeof(struct fuse_open_in), false },
	[FUSE_CREATE]       = { op_create, sizeof(struct fuse_create_in), true },
	[FUSE_READ]         = { op_read, sizeof(struct fuse_read_in), false },
	[FUSE_WRITE]        = { op_write, sizeof(struct fuse_write_in), true },
	[FUSE_FLUSH]        = { op_flush, sizeof(struct fuse_flush_in), false },
	[FUSE_RELEASE]      = { op_release, sizeof(struct fuse_release_in), false },
	[FUSE_FSYNC]        = { op_fsync, sizeof(struct fuse_fsync_in), false },
	[FUSE_FALLOCATE]    = { op_fallocate, sizeof(struct fuse_fallocate_in), true },
	[FUSE_LSEEK]        = { op_lseek, sizeof(struct fuse_lseek_in), false },
	[FUSE_ACCESS]       = { op_access, sizeof(struct fuse_access_in), false },
	[FUSE_OPENDIR]      = { op_opendir, sizeof(struct fuse_open_in), false },
	[FUSE_READDIR]      = { op_readdir, sizeof(struct fuse_read_in), false },
	[FUSE_READDIRPLUS]  = { op_readdirplus, sizeof(struct fuse_read_in), false },
	[FUSE_RELEASEDIR]   = { op_releasedir, sizeof(struct fuse_release_in), false },
	[FUSE_FSYNCDIR]     = { op_fsyncdir, sizeof(struct fuse_fsync_in), false },
	[FUSE_GETXATTR]     = { op_getxattr, sizeof(struct fuse_getxattr_in), false },
	[FUSE_LISTXATTR]    = { op_listxattr, sizeof(struct fuse_getxattr_in), false },
	[FUSE_SETXATTR]     = { op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, true },
	[FUSE_REMOVEXATTR]  = { op_removexattr, 0, true },
};

static bool takes_no_reply(u32 opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

static bool is_initialized(struct fuse_server *s)
{
	bool v;

	pthread_mutex_lock(&s->lock);
	v = s->initialized;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/*
 * The length of the extensions after the arguments, in 8-byte units:
 * total_extlen since 7.38, padding (zero) in older headers.
 */
_Static_assert(sizeof(struct fuse_in_header) == 40, "the extension length is bytes 36-37");

static u32 hdr_extlen(const struct fuse_in_header *h)
{
	u16 v;

	memcpy(&v, (const u8 *)h + 36, sizeof(v));
	return v;
}

/*
 * Copies the arguments (all of them but a WRITE's data) out of guest
 * memory; @len is what the header claims, already checked against the
 * segments.
 */
static int copy_args(struct fuse_req *r, size_t len, u8 **buf)
{
	size_t args = len - sizeof(r->hdr), ext = (size_t)hdr_extlen(&r->hdr) * 8;

	if (ext > args)
		return -EINVAL;
	args -= ext;  /* extensions (security contexts) are declined at INIT: ignored */
	if (r->hdr.opcode == FUSE_WRITE && args >= sizeof(struct fuse_write_in)) {
		r->data_off = sizeof(r->hdr) + sizeof(struct fuse_write_in);
		r->data_len = args - sizeof(struct fuse_write_in);
		args = sizeof(struct fuse_write_in);
	}
	if (args > FUSE_ARG_MAX)
		return -E2BIG;
	*buf = malloc(args + 1);
	if (!*buf)
		return -ENOMEM;
	iov_copy_from(r->in, r->nr_in, sizeof(r->hdr), *buf, args);
	(*buf)[args] = 0;
	r->arg = *buf;
	r->arg_len = args;
	return 0;
}

static int dispatch(struct fuse_req *r, size_t in_len, u8 **buf)
{
	const struct fuse_op *op;
	u32 opcode = r->hdr.opcode;
	int ret;

	if (r->hdr.len < sizeof(r->hdr) || r->hdr.len > in_len)
		return -EINVAL;
	if (opcode == FUSE_INTERRUPT)
		return 0;       /* every request is answered in full: nothing to interrupt */
	if (opcode != FUSE_INIT && !is_initialized(r->s))
		return -EIO;
	if (opcode >= ARRAY_SIZE(fuse_ops) || !fuse_ops[opcode].fn)
		return -ENOSYS;
	op = &fuse_ops[opcode];
	ret = copy_args(r, r->hdr.len, buf);
	if (ret)
		return ret;
	if (r->arg_len < op->min_arg)
		return -EINVAL;
	if (op->changes && r->s->cfg.readonly)
		return -EROFS;
	return op->fn(r);
}

ssize_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned int nr_in,
			   const struct iovec *out, unsigned int nr_out)
{
	struct fuse_req r = { .s = s, .in = in, .nr_in = nr_in, .out = out, .nr_out = nr_out };
	size_t in_len;
	u8 *buf = NULL;
	int ret;

	if (!iov_total(in, nr_in, &in_len) || !iov_total(out, nr_out, &r.out_len) ||
	    in_len < sizeof(r.hdr))
		return -EINVAL;
	/* Copied once: the guest may rewrite its buffer while we look. */
	iov_copy_from(in, nr_in, 0, &r.hdr, sizeof(r.hdr));
	__atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
	if (!takes_no_reply(r.hdr.opcode) && r.out_len < sizeof(struct fuse_out_header))
		return -EINVAL;

	ret = dispatch(&r, in_len, &buf);
	free(buf);
	if (takes_no_reply(r.hdr.opcode)) {
		if (ret)
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (ret < 0 && fuse_reply_err(&r, ret))
		return -EINVAL;
	return (ssize_t)r.written;
}

static int open_proc_fd(void)
{
	struct statfs sf;
	int fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* A reopen through anything but procfs's magic links would not be one. */
	if (fstatfs(fd, &sf) || sf.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int fuse_server_create(struct fuse_server **out, const struct share_config *cfg)
{
	struct fuse_server *s = calloc(1, sizeof(*s));
	struct stat st;
	int root = -1, ret;

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	s->proc_fd = open_proc_fd();
	if (s->proc_fd < 0) {
		ret = s->proc_fd;
		pr_err("share %s: /proc/self/fd: %s", cfg->tag, strerror(-ret));
		goto err_free;
	}
	root = open(cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || stat_fd(root, &st)) {
		ret = -errno;
		pr_err("share %s: %s: %s", cfg->tag, cfg->path, strerror(errno));
		goto err_proc;
	}
	ret = fuse_tables_init(s, root, &st);
	if (ret) {
		pr_err("share %s: no memory for its tables", cfg->tag);
		goto err_proc;
	}
	*out = s;
	return 0;

err_proc:
	if (root >= 0)
		close(root);
	close(s->proc_fd);
err_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void fuse_server_destroy(struct fuse_server *s)
{
	if (!s)
		return;
	fuse_tables_free(s);
	close(s->proc_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void fuse_server_get_stats(struct fuse_server *s, struct fuse_server_stats *st)
{
	st->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
	st->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->lock);
	st->inodes = s->nr_inodes;
	st->handles = s->nr_handles;
	pthread_mutex_unlock(&s->lock);
}
