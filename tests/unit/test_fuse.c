// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server against a temporary directory: BASE/share is the
 * share, BASE/outside a sibling with a canary file that no request may
 * reach.  Requests are built in plain buffers and passed as iovecs, as
 * the virtio-fs device passes guest memory.  After every case the
 * sibling is checked to be exactly as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuse/fuse_int.h"
#include "fuse_server.h"
#include "test.h"

#define CANARY "the host's secret\n"
#define NOREPLY (-1000)

struct fenv {
	char base[64], share[96], outside[96];
	struct share_config cfg;
	struct fuse_server *s;
	u8 reply[1 << 16];
	size_t reply_len;       /* the payload after the out header */
	u32 uid;                /* the caller the requests claim */
};

static struct fenv env;

static void path_of(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char p[256];
	int fd;

	path_of(p, sizeof(p), dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int read_file(const char *dir, const char *name, char *buf, size_t n)
{
	char p[256];
	ssize_t got;
	int fd;

	path_of(p, sizeof(p), dir, name);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = 0;
	return 0;
}

static bool exists(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	path_of(p, sizeof(p), dir, name);
	return !lstat(p, &st);
}

static bool env_setup_cfg(bool readonly, enum share_cache cache)
{
	memset(&env, 0, sizeof(env));
	snprintf(env.base, sizeof(env.base), "/tmp/arkvm-fuse-XXXXXX");
	if (!mkdtemp(env.base))
		return false;
	path_of(env.share, sizeof(env.share), env.base, "share");
	path_of(env.outside, sizeof(env.outside), env.base, "outside");
	if (mkdir(env.share, 0755) || mkdir(env.outside, 0755) ||
	    write_file(env.outside, "canary", CANARY))
		return false;
	snprintf(env.cfg.path, sizeof(env.cfg.path), "%s", env.share);
	snprintf(env.cfg.tag, sizeof(env.cfg.tag), "test");
	env.cfg.readonly = readonly;
	env.cfg.cache = cache;
	env.uid = 1000;
	return true;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

/* The sibling is untouched: just the canary, with its text and mode. */
static bool outside_untouched(void)
{
	char buf[128], p[256];
	struct stat st;
	int n = 0;
	DIR *d = opendir(env.outside);
	struct dirent *de;

	if (!d)
		return false;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	path_of(p, sizeof(p), env.outside, "canary");
	return n == 3 && !read_file(env.outside, "canary", buf, sizeof(buf)) &&
	       !strcmp(buf, CANARY) && !stat(p, &st) && (st.st_mode & 07777) == 0644;
}

static void env_teardown(void)
{
	fuse_server_destroy(env.s);
	env.s = NULL;
	nftw(env.base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * One request: @a then @b as its arguments, the header's len their sum
 * plus the header's.  Returns the reply's error (0 for success), or
 * NOREPLY when the server wrote nothing; the payload is in env.reply.
 */
static int call_out(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b,
		    size_t blen, size_t out_room)
{
	static u8 in[FUSE_MAX_WRITE + 8192], out[FUSE_MAX_WRITE + 4096];
	struct fuse_in_header h = {
		.len = (u32)(sizeof(h) + alen + blen), .opcode = opcode, .unique = 7,
		.nodeid = nodeid, .uid = env.uid, .gid = env.uid, .pid = 1,
	};
	struct iovec iv = { in, h.len }, ov = { out, out_room };
	struct fuse_out_header oh;
	ssize_t n;

	memcpy(in, &h, sizeof(h));
	if (alen)
		memcpy(in + sizeof(h), a, alen);
	if (blen)
		memcpy(in + sizeof(h) + alen, b, blen);
	n = fuse_server_handle(env.s, &iv, 1, &ov, 1);
	if (n <= 0)
		return n < 0 ? (int)n : NOREPLY;
	memcpy(&oh, out, sizeof(oh));
	if (oh.len != (u32)n || oh.unique != 7)
		return -12345;
	env.reply_len = (size_t)n - sizeof(oh);
	memcpy(env.reply, out + sizeof(oh), MIN(env.reply_len, sizeof(env.reply)));
	return oh.error;
}

static int call(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b, size_t blen)
{
	return call_out(opcode, nodeid, a, alen, b, blen, sizeof(env.reply) + 16);
}

static int call_name(u32 opcode, u64 nodeid, const void *a, size_t alen, const char *name)
{
	return call(opcode, nodeid, a, alen, name, strlen(name) + 1);
}

static int do_init(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 38, .max_readahead = 131072,
				   .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES };

	return call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0);
}

static bool env_setup_mode(bool readonly, enum share_cache cache)
{
	return env_setup_cfg(readonly, cache) && !fuse_server_create(&env.s, &env.cfg) &&
	       do_init() == 0;
}

static bool env_setup(void)
{
	return env_setup_mode(false, SHARE_CACHE_AUTO);
}

/* LOOKUP: the nodeid, 0 on failure; the entry stays in env.reply. */
static u64 lookup(u64 parent, const char *name)
{
	struct fuse_entry_out e;

	if (call_name(FUSE_LOOKUP, parent, NULL, 0, name))
		return 0;
	memcpy(&e, env.reply, sizeof(e));
	return e.nodeid;
}

static struct fuse_entry_out *entry(void)
{
	return (struct fuse_entry_out *)(void *)env.reply;
}

static u64 open_node(u64 node, u32 flags)
{
	struct fuse_open_in in = { .flags = flags };
	struct fuse_open_out o;

	if (call(FUSE_OPEN, node, &in, sizeof(in), NULL, 0))
		return 0;
	memcpy(&o, env.reply, sizeof(o));
	return o.fh;
}

static int do_write(u64 node, u64 fh, u64 off, const char *data)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = (u32)strlen(data) };

	return call(FUSE_WRITE, node, &in, sizeof(in), data, strlen(data));
}

static int do_read(u64 node, u64 fh, u64 off, u32 size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };

	return call(FUSE_READ, node, &in, sizeof(in), NULL, 0);
}

static int do_release(u64 fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };

	return call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, 1, &in, sizeof(in), NULL, 0);
}

static void fuse_init_negotiates(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 40, .max_readahead = 1 << 30,
				   .flags = 0xffffffff, .flags2 = 0xffffffff };
	struct fuse_init_out o;
	u32 declined = FUSE_WRITEBACK_CACHE | FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS |
		       FUSE_EXPORT_SUPPORT | FUSE_POSIX_ACL | FUSE_MAP_ALIGNMENT |
		       FUSE_INIT_EXT | FUSE_SETXATTR_EXT | FUSE_DONT_MASK | FUSE_SPLICE_READ;
	struct fuse_entry_out e;

	CHECK(env_setup_cfg(false, SHARE_CACHE_AUTO));
	CHECK(!fuse_server_create(&env.s, &env.cfg));
	/* Before INIT: nothing but INIT is served. */
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, "x"), -EIO);
	in.major = 6;
	CHECK_EQ(call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0), -EPROTO);
	in.major = 7;
	CHECK_EQ(call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	CHECK_EQ(env.reply_len, sizeof(o));
	memcpy(&o, env.reply, sizeof(o));
	CHECK_EQ(o.major, 7);
	CHECK_EQ(o.minor, 38);
	CHECK_EQ(o.max_write, FUSE_MAX_WRITE);
	CHECK(o.max_readahead <= FUSE_MAX_WRITE);
	CHECK_EQ(o.flags & declined, 0);
	CHECK_EQ(o.flags2, 0);
	CHECK_EQ(o.map_alignment, 0);
	CHECK(o.flags & FUSE_MAX_PAGES);
	CHECK((u64)o.max_pages * 4096 >= FUSE_MAX_WRITE);
	CHECK(o.flags & FUSE_DO_READDIRPLUS);
	/* A second INIT is refused, and the session goes on. */
	CHECK_EQ(call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0), -EPROTO);
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	CHECK(lookup(1, "f"));
	/* DESTROY ends the session: its nodes are gone, a new INIT starts another. */
	memcpy(&e, env.reply, sizeof(e));
	CHECK_EQ(call(FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(call(FUSE_GETATTR, e.nodeid, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), -EIO);
	CHECK_EQ(do_init(), 0);
	CHECK_EQ(call(FUSE_GETATTR, e.nodeid, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), -ESTALE);
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_unknown_opcodes(void)
{
	u8 args[64] = { 0 };

	CHECK(env_setup());
	CHECK_EQ(call(FUSE_GETLK, 1, args, sizeof(args), NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_IOCTL, 1, args, sizeof(args), NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_TMPFILE, 1, args, sizeof(args), NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_SETUPMAPPING, 1, args, sizeof(args), NULL, 0), -ENOSYS);
	CHECK_EQ(call(12345, 1, args, sizeof(args), NULL, 0), -ENOSYS);
	/* INTERRUPT takes no reply; FORGET neither. */
	CHECK_EQ(call(FUSE_INTERRUPT, 0, args, 8, NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_STATFS, 1, NULL, 0, NULL, 0), 0);
	CHECK_EQ(env.reply_len, sizeof(struct fuse_statfs_out));
	env_teardown();
}

static void fuse_lookup_getattr(void)
{
	struct fuse_getattr_in gi = { 0 };
	struct fuse_attr_out ao;
	struct fuse_server_stats st;
	u64 a, b;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "file", "hello"), 0);
	a = lookup(1, "file");
	CHECK(a);
	CHECK(S_ISREG(entry()->attr.mode));
	CHECK_EQ(entry()->attr.size, 5);
	CHECK_EQ(entry()->entry_valid, 1);
	b = lookup(1, "file");
	CHECK_EQ(a, b);          /* one file, one node */
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, "missing"), -ENOENT);
	CHECK_EQ(call(FUSE_GETATTR, a, &gi, sizeof(gi), NULL, 0), 0);
	memcpy(&ao, env.reply, sizeof(ao));
	CHECK_EQ(ao.attr.size, 5);
	fuse_server_get_stats(env.s, &st);
	CHECK_EQ(st.inodes, 2);
	CHECK(st.requests >= 5);
	CHECK(st.errors >= 1);
	/* Two lookups: the node lives until both are forgotten. */
	CHECK_EQ(call(FUSE_FORGET, a, &(struct fuse_forget_in){ 1 }, 8, NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_GETATTR, a, &gi, sizeof(gi), NULL, 0), 0);
	CHECK_EQ(call(FUSE_FORGET, a, &(struct fuse_forget_in){ 1 }, 8, NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_GETATTR, a, &gi, sizeof(gi), NULL, 0), -ESTALE);
	fuse_server_get_stats(env.s, &st);
	CHECK_EQ(st.inodes, 1);
	env_teardown();
}

static u64 create(u64 parent, const char *name, u32 flags, u32 mode, u64 *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = S_IFREG | mode };
	struct fuse_open_out o;
	struct fuse_entry_out e;

	if (call_name(FUSE_CREATE, parent, &in, sizeof(in), name))
		return 0;
	memcpy(&e, env.reply, sizeof(e));
	memcpy(&o, env.reply + sizeof(e), sizeof(o));
	*fh = o.fh;
	return e.nodeid;
}

static void fuse_create_write_read(void)
{
	struct fuse_fsync_in fs = { 0 };
	struct fuse_flush_in fl = { 0 };
	struct fuse_server_stats st;
	char buf[64], p[256];
	struct stat hs;
	u64 node, fh;

	CHECK(env_setup());
	node = create(1, "new", O_RDWR, 04755, &fh);
	CHECK(node);
	path_of(p, sizeof(p), env.share, "new");
	CHECK_EQ(stat(p, &hs), 0);
	/* A guest user asked for setuid: not on the host. */
	CHECK_EQ(hs.st_mode & 07777, 0755);
	CHECK_EQ(do_write(node, fh, 0, "hello, host"), 0);
	CHECK_EQ(((struct fuse_write_out *)(void *)env.reply)->size, 11);
	CHECK_EQ(read_file(env.share, "new", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "hello, host"));
	CHECK_EQ(do_read(node, fh, 7, 100), 0);
	CHECK_EQ(env.reply_len, 4);
	CHECK(!memcmp(env.reply, "host", 4));
	fl.fh = fs.fh = fh;
	CHECK_EQ(call(FUSE_FLUSH, node, &fl, sizeof(fl), NULL, 0), 0);
	CHECK_EQ(call(FUSE_FSYNC, node, &fs, sizeof(fs), NULL, 0), 0);
	fuse_server_get_stats(env.s, &st);
	CHECK_EQ(st.handles, 1);
	CHECK_EQ(do_release(fh, false), 0);
	CHECK_EQ(do_read(node, fh, 0, 10), -EBADF);      /* released */
	CHECK_EQ(do_release(fh, false), -EBADF);
	/* CREATE of an existing name: O_EXCL refused, without it opened. */
	CHECK_EQ(call_name(FUSE_CREATE, 1, &(struct fuse_create_in){ .flags = O_RDWR | O_EXCL,
		 .mode = S_IFREG | 0644 }, sizeof(struct fuse_create_in), "new"), -EEXIST);
	CHECK_EQ(create(1, "new", O_RDWR, 0644, &fh), node);
	CHECK_EQ(do_read(node, fh, 0, 5), 0);
	CHECK(!memcmp(env.reply, "hello", 5));
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_write_clears_setuid(void)
{
	char p[256];
	struct stat hs;
	u64 node, fh;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "suid", "x"), 0);
	path_of(p, sizeof(p), env.share, "suid");
	CHECK_EQ(chmod(p, 06755), 0);
	node = lookup(1, "suid");
	CHECK(node);
	fh = open_node(node, O_WRONLY);
	CHECK(fh);
	CHECK_EQ(do_write(node, fh, 0, "y"), 0);
	CHECK_EQ(stat(p, &hs), 0);
	CHECK_EQ(hs.st_mode & 07777, 0755);
	/* chown clears them too. */
	CHECK_EQ(chmod(p, 04755), 0);
	CHECK_EQ(call(FUSE_SETATTR, node, &(struct fuse_setattr_in){ .valid = FATTR_UID,
		 .uid = getuid() }, sizeof(struct fuse_setattr_in), NULL, 0), 0);
	CHECK_EQ(stat(p, &hs), 0);
	CHECK_EQ(hs.st_mode & 07777, 0755);
	env_teardown();
}

static void fuse_setattr(void)
{
	struct fuse_setattr_in in = { 0 };
	struct fuse_attr_out ao;
	char p[256];
	struct stat hs;
	u64 node;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "f", "0123456789"), 0);
	path_of(p, sizeof(p), env.share, "f");
	node = lookup(1, "f");
	CHECK(node);
	in.valid = FATTR_MODE | FATTR_SIZE | FATTR_MTIME | FATTR_ATIME | FATTR_ATIME_NOW;
	in.mode = 0600;
	in.size = 4;
	in.mtime = 1000000;
	in.mtimensec = 5;
	CHECK_EQ(call(FUSE_SETATTR, node, &in, sizeof(in), NULL, 0), 0);
	memcpy(&ao, env.reply, sizeof(ao));
	CHECK_EQ(ao.attr.size, 4);
	CHECK_EQ(ao.attr.mode & 07777, 0600);
	CHECK_EQ(ao.attr.mtime, 1000000);
	CHECK_EQ(stat(p, &hs), 0);
	CHECK_EQ(hs.st_size, 4);
	CHECK_EQ(hs.st_mtim.tv_sec, 1000000);
	CHECK_EQ(hs.st_mtim.tv_nsec, 5);
	CHECK(hs.st_atim.tv_sec > 1000000);
	/* Bad nanoseconds are refused. */
	in.valid = FATTR_MTIME;
	in.mtimensec = 2000000000u;
	CHECK_EQ(call(FUSE_SETATTR, node, &in, sizeof(in), NULL, 0), -EINVAL);
	env_teardown();
}

static void fuse_id_map(void)
{
	struct fuse_setattr_in in = { .valid = FATTR_UID | FATTR_GID };
	char p[256];
	struct stat hs;
	u64 node;

	CHECK(env_setup_cfg(false, SHARE_CACHE_AUTO));
	env.cfg.uid_map = env.cfg.gid_map = true;
	env.cfg.uid_host = getuid();    /* arkvm's user shows as the guest's root */
	env.cfg.uid_guest = 0;
	env.cfg.gid_host = getgid();
	env.cfg.gid_guest = 77;
	CHECK(!fuse_server_create(&env.s, &env.cfg));
	CHECK_EQ(do_init(), 0);
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	path_of(p, sizeof(p), env.share, "f");
	node = lookup(1, "f");
	CHECK(node);
	CHECK_EQ(entry()->attr.uid, 0);
	CHECK_EQ(entry()->attr.gid, 77);
	/* The guest's 0 and 77 are the host's mapped ids. */
	in.uid = 0;
	in.gid = 77;
	CHECK_EQ(call(FUSE_SETATTR, node, &in, sizeof(in), NULL, 0), 0);
	CHECK_EQ(stat(p, &hs), 0);
	CHECK_EQ(hs.st_uid, getuid());
	CHECK_EQ(hs.st_gid, getgid());
	if (getuid()) {
		env_teardown();
		return;
	}
	/* As root: a host file of the guest's ids shows as nobody, not as root. */
	env_teardown();
	CHECK(env_setup_cfg(false, SHARE_CACHE_AUTO));
	env.cfg.uid_map = true;
	env.cfg.uid_host = 4242;
	env.cfg.uid_guest = 0;
	CHECK(!fuse_server_create(&env.s, &env.cfg));
	CHECK_EQ(do_init(), 0);
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	CHECK(lookup(1, "f"));
	CHECK_EQ(entry()->attr.uid, 65534);
	path_of(p, sizeof(p), env.share, "f");
	CHECK_EQ(chown(p, 4242, 0), 0);
	CHECK(lookup(1, "f"));
	CHECK_EQ(entry()->attr.uid, 0);
	env_teardown();
}

/* Whether READDIR(PLUS) at offset 0 lists @name; its nodeid in *node (plus). */
static bool lists(u64 dir, u64 fh, bool plus, const char *name, u64 *node)
{
	struct fuse_read_in in = { .fh = fh, .size = 4096 };
	size_t pos = 0;

	if (call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, &in, sizeof(in), NULL, 0))
		return false;
	while (pos < env.reply_len) {
		struct fuse_direntplus dp = { 0 };
		struct fuse_dirent *d = &dp.dirent;
		const char *n;

		if (plus) {
			memcpy(&dp, env.reply + pos, sizeof(dp));
			n = (const char *)env.reply + pos + FUSE_NAME_OFFSET_DIRENTPLUS;
		} else {
			memcpy(d, env.reply + pos, sizeof(*d));
			n = (const char *)env.reply + pos + FUSE_NAME_OFFSET;
		}
		if (d->namelen == strlen(name) && !memcmp(n, name, d->namelen)) {
			if (node)
				*node = dp.entry_out.nodeid;
			return true;
		}
		pos += plus ? FUSE_DIRENTPLUS_SIZE(&dp) : FUSE_DIRENT_SIZE(d);
	}
	return false;
}

static void fuse_directories(void)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_fsync_in fs = { 0 };
	struct fuse_open_out oo;
	u64 dir, fh, node = 0;

	CHECK(env_setup());
	CHECK_EQ(call_name(FUSE_MKDIR, 1, &mk, sizeof(mk), "d"), 0);
	dir = entry()->nodeid;
	CHECK(S_ISDIR(entry()->attr.mode));
	CHECK(exists(env.share, "d"));
	CHECK_EQ(write_file(env.share, "d/a", "1"), 0);
	CHECK_EQ(write_file(env.share, "d/b", "2"), 0);
	CHECK_EQ(call(FUSE_OPENDIR, dir, &oi, sizeof(oi), NULL, 0), 0);
	memcpy(&oo, env.reply, sizeof(oo));
	fh = oo.fh;
	CHECK(lists(dir, fh, false, "a", NULL));
	CHECK(lists(dir, fh, false, "b", NULL));
	CHECK(lists(dir, fh, false, "..", NULL));
	CHECK(lists(dir, fh, true, "b", &node));
	CHECK(node);
	CHECK_EQ(node, lookup(dir, "b"));
	CHECK(lists(dir, fh, true, "..", &node));
	CHECK_EQ(node, 0);       /* "." and ".." are never looked up */
	fs.fh = fh;
	CHECK_EQ(call(FUSE_FSYNCDIR, dir, &fs, sizeof(fs), NULL, 0), 0);
	/* A file handle is not a directory handle. */
	CHECK_EQ(do_release(fh, false), -EBADF);
	CHECK_EQ(do_release(fh, true), 0);
	CHECK_EQ(call_name(FUSE_RMDIR, 1, NULL, 0, "d"), -ENOTEMPTY);
	CHECK_EQ(call_name(FUSE_UNLINK, dir, NULL, 0, "a"), 0);
	CHECK_EQ(call_name(FUSE_UNLINK, dir, NULL, 0, "b"), 0);
	CHECK_EQ(call_name(FUSE_RMDIR, 1, NULL, 0, "d"), 0);
	CHECK(!exists(env.share, "d"));
	/* OPENDIR of a file is refused. */
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	CHECK_EQ(call(FUSE_OPENDIR, lookup(1, "f"), &oi, sizeof(oi), NULL, 0), -ENOTDIR);
	env_teardown();
}

static int rename2(u64 from, const char *a, u64 to, const char *b, u32 flags)
{
	struct fuse_rename2_in in = { .newdir = to, .flags = flags };
	char names[600];
	size_t la = strlen(a) + 1, lb = strlen(b) + 1;

	memcpy(names, a, la);
	memcpy(names + la, b, lb);
	return call(FUSE_RENAME2, from, &in, sizeof(in), names, la + lb);
}

static void fuse_names(void)
{
	struct fuse_link_in li;
	struct fuse_rename_in ri = { .newdir = 1 };
	char buf[64];
	u64 node, ln;

	CHECK(env_setup());
	CHECK_EQ(call(FUSE_SYMLINK, 1, "ln\0target/x", 12, NULL, 0), 0);
	ln = entry()->nodeid;
	CHECK(S_ISLNK(entry()->attr.mode));
	CHECK_EQ(readlink(strcat(strcpy(buf, env.share), "/ln"), buf, sizeof(buf)), 8);
	CHECK_EQ(call(FUSE_READLINK, ln, NULL, 0, NULL, 0), 0);
	CHECK_EQ(env.reply_len, 8);
	CHECK(!memcmp(env.reply, "target/x", 8));
	CHECK_EQ(write_file(env.share, "a", "A"), 0);
	CHECK_EQ(write_file(env.share, "b", "B"), 0);
	node = lookup(1, "a");
	li.oldnodeid = node;
	CHECK_EQ(call_name(FUSE_LINK, 1, &li, sizeof(li), "a2"), 0);
	CHECK_EQ(entry()->nodeid, node);
	CHECK_EQ(entry()->attr.nlink, 2);
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "a2\0c", 5), 0);
	CHECK(exists(env.share, "c") && !exists(env.share, "a2"));
	CHECK_EQ(rename2(1, "a", 1, "b", RENAME_NOREPLACE), -EEXIST);
	CHECK_EQ(rename2(1, "a", 1, "b", RENAME_EXCHANGE), 0);
	CHECK_EQ(read_file(env.share, "a", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "B"));
	CHECK_EQ(rename2(1, "a", 1, "z", RENAME_WHITEOUT), -EINVAL);
	CHECK_EQ(rename2(1, "a", 1, "z", 1u << 7), -EINVAL);
	CHECK_EQ(call_name(FUSE_UNLINK, 1, NULL, 0, "c"), 0);
	CHECK(!exists(env.share, "c"));
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_mknod(void)
{
	struct fuse_mknod_in in = { .mode = S_IFIFO | 0644 };
	struct stat hs;
	char p[256];

	CHECK(env_setup());
	CHECK_EQ(call_name(FUSE_MKNOD, 1, &in, sizeof(in), "fifo"), 0);
	path_of(p, sizeof(p), env.share, "fifo");
	CHECK_EQ(lstat(p, &hs), 0);
	CHECK(S_ISFIFO(hs.st_mode));
	in.mode = S_IFREG | 0600;
	CHECK_EQ(call_name(FUSE_MKNOD, 1, &in, sizeof(in), "reg"), 0);
	CHECK(S_ISREG(entry()->attr.mode));
	/* Devices and sockets: refused even for the guest's root (and ours). */
	env.uid = 0;
	in.mode = S_IFCHR | 0666;
	in.rdev = makedev(1, 3);
	CHECK_EQ(call_name(FUSE_MKNOD, 1, &in, sizeof(in), "null"), -EPERM);
	in.mode = S_IFBLK | 0666;
	CHECK_EQ(call_name(FUSE_MKNOD, 1, &in, sizeof(in), "blk"), -EPERM);
	in.mode = S_IFSOCK | 0666;
	CHECK_EQ(call_name(FUSE_MKNOD, 1, &in, sizeof(in), "sock"), -EPERM);
	CHECK(!exists(env.share, "null") && !exists(env.share, "blk") && !exists(env.share, "sock"));
	/* The FIFO made here is never opened. */
	CHECK_EQ(open_node(lookup(1, "fifo"), O_RDONLY), 0);
	env_teardown();
}

static void fuse_xattrs(void)
{
	struct fuse_setxattr_in si = { .size = 3 };
	struct fuse_getxattr_in gi = { .size = 0 };
	char p[256], args[64];
	u64 node;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	node = lookup(1, "f");
	memcpy(args, "user.k\0abc", 10);
	CHECK_EQ(call(FUSE_SETXATTR, node, &si, 8, args, 10), 0);
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gi, sizeof(gi), "user.k"), 0);
	CHECK_EQ(((struct fuse_getxattr_out *)(void *)env.reply)->size, 3);
	gi.size = 64;
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gi, sizeof(gi), "user.k"), 0);
	CHECK_EQ(env.reply_len, 3);
	CHECK(!memcmp(env.reply, "abc", 3));
	gi.size = 2;
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gi, sizeof(gi), "user.k"), -ERANGE);
	/* Only user.* shows, even when the host file has others. */
	path_of(p, sizeof(p), env.share, "f");
	setxattr(p, "trusted.hidden", "1", 1, 0);   /* as root only; fine if refused */
	gi.size = 256;
	CHECK_EQ(call(FUSE_LISTXATTR, node, &gi, sizeof(gi), NULL, 0), 0);
	CHECK_EQ(env.reply_len, 7);
	CHECK(!memcmp(env.reply, "user.k", 7));
	/* Other namespaces: refused both ways. */
	memcpy(args, "security.capability\0abc", 23);
	CHECK_EQ(call(FUSE_SETXATTR, node, &si, 8, args, 23), -EOPNOTSUPP);
	CHECK_EQ(getxattr(p, "security.capability", args, sizeof(args)), -1);
	memcpy(args, "trusted.x\0abc", 13);
	CHECK_EQ(call(FUSE_SETXATTR, node, &si, 8, args, 13), -EOPNOTSUPP);
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gi, sizeof(gi), "trusted.hidden"), -EOPNOTSUPP);
	/* A value longer than sent. */
	si.size = 100;
	memcpy(args, "user.k\0abc", 10);
	CHECK_EQ(call(FUSE_SETXATTR, node, &si, 8, args, 10), -EINVAL);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.k"), 0);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.k"), -ENODATA);
	env_teardown();
}

static void fuse_fallocate_lseek_access(void)
{
	struct fuse_fallocate_in fa = { .offset = 0, .length = 65536 };
	struct fuse_lseek_in ls = { .whence = SEEK_DATA };
	struct fuse_access_in ac = { .mask = R_OK | W_OK };
	u64 node, fh;

	CHECK(env_setup());
	node = create(1, "f", O_RDWR, 0644, &fh);
	CHECK(node);
	fa.fh = ls.fh = fh;
	CHECK_EQ(call(FUSE_FALLOCATE, node, &fa, sizeof(fa), NULL, 0), 0);
	CHECK_EQ(call(FUSE_GETATTR, node, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), 0);
	CHECK_EQ(((struct fuse_attr_out *)(void *)env.reply)->attr.size, 65536);
	fa.mode = 0x80;  /* not one we pass on */
	CHECK_EQ(call(FUSE_FALLOCATE, node, &fa, sizeof(fa), NULL, 0), -EOPNOTSUPP);
	/* Past the file's only data: where it starts again, or ENXIO at the end. */
	CHECK_EQ(do_write(node, fh, 100, "data"), 0);
	ls.offset = 50;
	CHECK_EQ(call(FUSE_LSEEK, node, &ls, sizeof(ls), NULL, 0), 0);
	CHECK(((struct fuse_lseek_out *)(void *)env.reply)->offset <= 100);
	ls.whence = SEEK_SET;
	CHECK_EQ(call(FUSE_LSEEK, node, &ls, sizeof(ls), NULL, 0), -EINVAL);
	CHECK_EQ(call(FUSE_ACCESS, node, &ac, sizeof(ac), NULL, 0), 0);
	env_teardown();
}

static void fuse_cache_modes(void)
{
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	u64 node;

	CHECK(env_setup_mode(false, SHARE_CACHE_NEVER));
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	node = lookup(1, "f");
	CHECK_EQ(entry()->entry_valid, 0);
	CHECK_EQ(entry()->attr_valid, 0);
	CHECK_EQ(call(FUSE_OPEN, node, &oi, sizeof(oi), NULL, 0), 0);
	memcpy(&oo, env.reply, sizeof(oo));
	CHECK(oo.open_flags & FOPEN_DIRECT_IO);
	env_teardown();

	CHECK(env_setup_mode(false, SHARE_CACHE_ALWAYS));
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	node = lookup(1, "f");
	CHECK(entry()->entry_valid >= 3600);
	CHECK_EQ(call(FUSE_OPEN, node, &oi, sizeof(oi), NULL, 0), 0);
	memcpy(&oo, env.reply, sizeof(oo));
	CHECK(oo.open_flags & FOPEN_KEEP_CACHE);
	CHECK(!(oo.open_flags & FOPEN_DIRECT_IO));
	CHECK_EQ(call(FUSE_OPENDIR, 1, &oi, sizeof(oi), NULL, 0), 0);
	memcpy(&oo, env.reply, sizeof(oo));
	CHECK(oo.open_flags & FOPEN_CACHE_DIR);
	env_teardown();
}

/* ---- the hostile guest ---- */

static void fuse_hostile_names(void)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	char longname[300];

	CHECK(env_setup());
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, ".."), -EINVAL);
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, "."), -EINVAL);
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, "../outside/canary"), -EINVAL);
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, "../outside"), -EINVAL);
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, ""), -EINVAL);
	CHECK_EQ(call_name(FUSE_MKDIR, 1, &mk, sizeof(mk), ".."), -EINVAL);
	CHECK_EQ(call_name(FUSE_MKDIR, 1, &mk, sizeof(mk), "../outside/x"), -EINVAL);
	CHECK_EQ(call_name(FUSE_UNLINK, 1, NULL, 0, "../outside/canary"), -EINVAL);
	CHECK_EQ(call_name(FUSE_CREATE, 1, &(struct fuse_create_in){ .flags = O_RDWR,
		 .mode = 0644 }, sizeof(struct fuse_create_in), "../outside/new"), -EINVAL);
	CHECK_EQ(call(FUSE_SYMLINK, 1, "../x\0/etc", 10, NULL, 0), -EINVAL);
	/* Not NUL-terminated inside the request. */
	CHECK_EQ(call(FUSE_LOOKUP, 1, "abc", 3, NULL, 0), -EINVAL);
	CHECK_EQ(call(FUSE_UNLINK, 1, "canary", 6, NULL, 0), -EINVAL);
	/* Longer than 255 bytes. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(call_name(FUSE_LOOKUP, 1, NULL, 0, longname), -ENAMETOOLONG);
	CHECK_EQ(call(FUSE_LOOKUP, 1, longname, sizeof(longname) - 1, NULL, 0), -ENAMETOOLONG);
	longname[255] = 0;
	CHECK_EQ(call_name(FUSE_MKDIR, 1, &mk, sizeof(mk), longname), 0);
	/* RENAME to "..": refused, the file stays. */
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	CHECK_EQ(rename2(1, "f", 1, "..", 0), -EINVAL);
	CHECK_EQ(rename2(1, "f", 1, "../outside/f", 0), -EINVAL);
	CHECK(exists(env.share, "f"));
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_hostile_symlink_out(void)
{
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_getxattr_in gi = { .size = 64 };
	char p[256];
	u64 etc, out;

	CHECK(env_setup());
	path_of(p, sizeof(p), env.share, "etc");
	CHECK_EQ(symlink("/etc", p), 0);
	path_of(p, sizeof(p), env.share, "out");
	CHECK_EQ(symlink("../outside", p), 0);
	path_of(p, sizeof(p), env.share, "canary");
	CHECK_EQ(symlink("../outside/canary", p), 0);
	etc = lookup(1, "etc");
	CHECK(etc);
	CHECK(S_ISLNK(entry()->attr.mode));      /* the link itself, not /etc */
	CHECK_EQ(call(FUSE_READLINK, etc, NULL, 0, NULL, 0), 0);
	CHECK_EQ(env.reply_len, 4);
	CHECK(!memcmp(env.reply, "/etc", 4));
	/* Nothing goes through it. */
	CHECK(!lookup(etc, "passwd"));
	CHECK_EQ(call(FUSE_OPEN, etc, &oi, sizeof(oi), NULL, 0), -EPERM);
	CHECK_EQ(call(FUSE_OPENDIR, etc, &oi, sizeof(oi), NULL, 0), -ENOTDIR);
	out = lookup(1, "out");
	CHECK(out);
	CHECK(!lookup(out, "canary"));
	CHECK_EQ(call_name(FUSE_UNLINK, out, NULL, 0, "canary"), -ENOTDIR);
	CHECK_EQ(call_name(FUSE_MKDIR, out, &(struct fuse_mkdir_in){ .mode = 0777 },
			   sizeof(struct fuse_mkdir_in), "x"), -ENOTDIR);
	out = lookup(1, "canary");
	CHECK(out);
	CHECK_EQ(call(FUSE_OPEN, out, &oi, sizeof(oi), NULL, 0), -EPERM);
	CHECK_EQ(call(FUSE_SETATTR, out, &sa, sizeof(sa), NULL, 0), -EPERM);
	sa.valid = FATTR_MODE;
	sa.mode = 0777;
	CHECK_EQ(call(FUSE_SETATTR, out, &sa, sizeof(sa), NULL, 0), -EOPNOTSUPP);
	CHECK_EQ(call_name(FUSE_GETXATTR, out, &gi, sizeof(gi), "user.x"), -EPERM);
	/* CREATE over the link: not followed. */
	CHECK_EQ(call_name(FUSE_CREATE, 1, &(struct fuse_create_in){ .flags = O_RDWR | O_TRUNC,
		 .mode = 0644 }, sizeof(struct fuse_create_in), "canary"), -EPERM);
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_hostile_fifo_on_host(void)
{
	struct fuse_create_in ci = { .flags = O_RDONLY, .mode = 0644 };
	char p[256];
	u64 node;

	CHECK(env_setup());
	path_of(p, sizeof(p), env.share, "fifo");
	CHECK_EQ(mkfifo(p, 0666), 0);
	node = lookup(1, "fifo");
	CHECK(node);
	CHECK(S_ISFIFO(entry()->attr.mode));
	CHECK_EQ(open_node(node, O_RDONLY), 0);
	CHECK_EQ(call_name(FUSE_CREATE, 1, &ci, sizeof(ci), "fifo"), -EPERM);
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &(struct fuse_getxattr_in){ 0 },
			   sizeof(struct fuse_getxattr_in), "user.x"), -EPERM);
	env_teardown();
}

/* A buffer with guard bytes after the room the server is told about. */
static void fuse_hostile_lengths(void)
{
	u8 in[256], out[256];
	struct fuse_in_header h = { .opcode = FUSE_READ, .unique = 1, .nodeid = 1 };
	struct fuse_read_in ri = { .size = 8192 };
	struct fuse_write_in wi = { .size = 4096 };
	struct iovec iv = { in, 0 }, ov = { out, 64 };
	char buf[32];
	u64 node, fh;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "f", "0123456789"), 0);
	node = lookup(1, "f");
	fh = open_node(node, O_RDWR);
	CHECK(fh);
	/* READ bigger than the reply's room: refused, nothing past it written. */
	ri.fh = fh;
	h.len = sizeof(h) + sizeof(ri);
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &ri, sizeof(ri));
	iv.iov_len = h.len;
	memset(out, 0xa5, sizeof(out));
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), 16);
	CHECK_EQ(((struct fuse_out_header *)(void *)out)->error, -EINVAL);
	for (size_t i = 64; i < sizeof(out); i++)
		CHECK_EQ(out[i], 0xa5);
	/* READDIR likewise. */
	h.opcode = FUSE_READDIR;
	memcpy(in, &h, sizeof(h));
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), 16);
	CHECK_EQ(((struct fuse_out_header *)(void *)out)->error, -EINVAL);
	/* WRITE claiming more data than it carries. */
	wi.fh = fh;
	CHECK_EQ(call(FUSE_WRITE, node, &wi, sizeof(wi), "XYZ", 3), -EINVAL);
	CHECK_EQ(read_file(env.share, "f", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "0123456789"));
	/* A header claiming more than the segments hold, or less than itself. */
	h.opcode = FUSE_GETATTR;
	h.len = 200;
	memcpy(in, &h, sizeof(h));
	iv.iov_len = sizeof(h) + 16;
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), 16);
	CHECK_EQ(((struct fuse_out_header *)(void *)out)->error, -EINVAL);
	h.len = 8;
	memcpy(in, &h, sizeof(h));
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), 16);
	CHECK_EQ(((struct fuse_out_header *)(void *)out)->error, -EINVAL);
	/* Arguments shorter than the opcode's struct. */
	CHECK_EQ(call(FUSE_SETATTR, node, &wi, 8, NULL, 0), -EINVAL);
	/* Too short to answer at all: the device's business. */
	iv.iov_len = 20;
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), -EINVAL);
	iv.iov_len = sizeof(h) + 16;
	h.len = (u32)iv.iov_len;
	memcpy(in, &h, sizeof(h));
	ov.iov_len = 8;
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), -EINVAL);
	/* A reply that does not fit: an error that does. */
	ov.iov_len = 20;
	CHECK_EQ(fuse_server_handle(env.s, &iv, 1, &ov, 1), 16);
	CHECK_EQ(((struct fuse_out_header *)(void *)out)->error, -ERANGE);
	/* Still serving. */
	CHECK_EQ(do_read(node, fh, 0, 4), 0);
	CHECK(!memcmp(env.reply, "0123", 4));
	env_teardown();
}

static void fuse_hostile_forget(void)
{
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one[3];
	} bf = { { .count = 3 }, { { 0xdeadbeef, 5 }, { 1, 100 }, { 0xffffffffffffffffull, 1 } } };
	u64 node;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	node = lookup(1, "f");
	CHECK_EQ(call(FUSE_FORGET, 0xdeadbeef, &(struct fuse_forget_in){ 9 }, 8, NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_FORGET, 1, &(struct fuse_forget_in){ 9 }, 8, NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_FORGET, node + (1ull << 32), &(struct fuse_forget_in){ 9 }, 8, NULL, 0),
		 NOREPLY);
	CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0), NOREPLY);
	/* A count beyond what is carried: nothing forgotten. */
	bf.h.count = 1000000;
	bf.one[0].nodeid = node;
	CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0), NOREPLY);
	/* The root and the file are still there. */
	CHECK_EQ(lookup(1, "f"), node);
	CHECK_EQ(call(FUSE_GETATTR, 1, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), 0);
	bf.h.count = 1;
	bf.one[0].nlookup = 2;
	CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0), NOREPLY);
	CHECK_EQ(call(FUSE_GETATTR, node, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), -ESTALE);
	env_teardown();
}

static void fuse_hostile_rename_parent(void)
{
	struct fuse_rename_in ri = { .newdir = 0xdeadbeef };
	u64 dir;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "f", "x"), 0);
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f\0g", 4), -ESTALE);
	ri.newdir = 0;
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f\0g", 4), -ESTALE);
	/* A directory the guest forgot: its nodeid names nothing any more. */
	CHECK_EQ(mkdir(strcat(strcpy((char[256]){ 0 }, env.share), "/d"), 0755), 0);
	dir = lookup(1, "d");
	CHECK(dir);
	CHECK_EQ(call(FUSE_FORGET, dir, &(struct fuse_forget_in){ 1 }, 8, NULL, 0), NOREPLY);
	ri.newdir = dir;
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f\0g", 4), -ESTALE);
	CHECK_EQ(call(FUSE_RENAME, dir, &(struct fuse_rename_in){ 1 }, sizeof(ri), "x\0g", 4),
		 -ESTALE);
	ri.newdir = 1;
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f\0..", 5), -EINVAL);
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f\0../outside/f", 15), -EINVAL);
	CHECK_EQ(call(FUSE_RENAME, 1, &ri, sizeof(ri), "f", 2), -EINVAL);
	CHECK(exists(env.share, "f"));
	CHECK(outside_untouched());
	env_teardown();
}

static void fuse_readonly_share(void)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	struct fuse_write_in wi = { .size = 1 };
	struct fuse_open_in oi = { .flags = O_RDONLY | O_TRUNC };
	struct fuse_setxattr_in si = { .size = 1 };
	char buf[32];
	u64 node, fh;

	CHECK(env_setup_mode(true, SHARE_CACHE_AUTO));
	CHECK_EQ(write_file(env.share, "f", "ro"), 0);
	node = lookup(1, "f");
	CHECK(node);
	CHECK_EQ(open_node(node, O_WRONLY), 0);
	CHECK_EQ(call(FUSE_OPEN, node, &oi, sizeof(oi), NULL, 0), -EROFS);
	fh = open_node(node, O_RDWR);
	CHECK_EQ(fh, 0);
	fh = open_node(node, O_RDONLY);
	CHECK(fh);
	CHECK_EQ(do_read(node, fh, 0, 2), 0);
	wi.fh = fh;
	CHECK_EQ(call(FUSE_WRITE, node, &wi, sizeof(wi), "x", 1), -EROFS);
	CHECK_EQ(call_name(FUSE_MKDIR, 1, &mk, sizeof(mk), "d"), -EROFS);
	CHECK_EQ(call_name(FUSE_CREATE, 1, &(struct fuse_create_in){ .flags = O_RDWR },
			   sizeof(struct fuse_create_in), "g"), -EROFS);
	CHECK_EQ(call(FUSE_SETATTR, node, &sa, sizeof(sa), NULL, 0), -EROFS);
	CHECK_EQ(call_name(FUSE_UNLINK, 1, NULL, 0, "f"), -EROFS);
	CHECK_EQ(call(FUSE_SYMLINK, 1, "l\0x", 4, NULL, 0), -EROFS);
	CHECK_EQ(call(FUSE_SETXATTR, node, &si, 8, "user.a\0b", 9), -EROFS);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.a"), -EROFS);
	CHECK_EQ(call(FUSE_ACCESS, node, &(struct fuse_access_in){ .mask = W_OK }, 8, NULL, 0), -EROFS);
	CHECK_EQ(read_file(env.share, "f", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "ro"));
	CHECK(!exists(env.share, "d") && !exists(env.share, "g"));
	env_teardown();
}

static void fuse_caps(void)
{
	struct fuse_server_stats st;
	char name[32];
	u64 first = 0, fhs[4];
	int failed = 0;

	CHECK(env_setup());
	env.s->max_inodes = 9;          /* the root and 8 */
	env.s->max_handles = 3;
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(write_file(env.share, name, "x"), 0);
		if (call_name(FUSE_LOOKUP, 1, NULL, 0, name) == -ENFILE)
			failed++;
		else if (!first)
			first = entry()->nodeid;
	}
	CHECK_EQ(failed, 4);
	fuse_server_get_stats(env.s, &st);
	CHECK_EQ(st.inodes, 9);
	/* A node already held is found without a new slot. */
	CHECK_EQ(lookup(1, "f0"), first);
	/* Forgetting makes room. */
	CHECK_EQ(call(FUSE_FORGET, first, &(struct fuse_forget_in){ 2 }, 8, NULL, 0), NOREPLY);
	CHECK(lookup(1, "f11"));
	for (int i = 0; i < 3; i++) {
		fhs[i] = open_node(lookup(1, "f11"), O_RDONLY);
		CHECK(fhs[i]);
	}
	CHECK_EQ(call(FUSE_OPEN, lookup(1, "f11"), &(struct fuse_open_in){ .flags = O_RDONLY }, 8, NULL, 0),
		 -EMFILE);
	CHECK_EQ(do_release(fhs[0], false), 0);
	CHECK(open_node(lookup(1, "f11"), O_RDONLY));
	CHECK_EQ(call(FUSE_STATFS, 1, NULL, 0, NULL, 0), 0);
	env_teardown();
}

/* The host's own descriptor limit reached: lookups fail, the server answers. */
static void fuse_fd_exhaustion(void)
{
	struct rlimit old, low;
	int fd = open("/dev/null", O_RDONLY), ok = 0, failed = 0;
	char name[32];

	CHECK(env_setup());
	CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(write_file(env.share, name, "x"), 0);
	}
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 24;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < 64; i++) {
		int ret;

		snprintf(name, sizeof(name), "f%d", i);
		ret = call_name(FUSE_LOOKUP, 1, NULL, 0, name);
		if (!ret)
			ok++;
		else if (ret == -EMFILE)
			failed++;
	}
	setrlimit(RLIMIT_NOFILE, &old);
	CHECK(ok > 0 && failed > 0);
	CHECK_EQ(ok + failed, 64);
	CHECK_EQ(call(FUSE_GETATTR, 1, &(struct fuse_getattr_in){ 0 },
		      sizeof(struct fuse_getattr_in), NULL, 0), 0);
	env_teardown();
}

/* Two workers at once on lookups, forgets and reads of the same files. */
struct worker {
	u64 fh, node;
	int errors;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	static const char *names[] = { "a", "b" };
	u8 in[256], out[512];

	for (int i = 0; i < 2000; i++) {
		struct fuse_in_header h = { .unique = (u64)i, .nodeid = 1, .uid = 1000 };
		struct iovec iv = { in, 0 }, ov = { out, sizeof(out) };
		const char *n = names[i & 1];
		struct fuse_out_header *oh = (void *)out;
		struct fuse_entry_out e;
		struct fuse_read_in ri = { .fh = w->fh, .size = 64 };
		struct fuse_forget_in fi = { 1 };

		h.opcode = FUSE_LOOKUP;
		h.len = (u32)(sizeof(h) + strlen(n) + 1);
		memcpy(in, &h, sizeof(h));
		memcpy(in + sizeof(h), n, strlen(n) + 1);
		iv.iov_len = h.len;
		if (fuse_server_handle(env.s, &iv, 1, &ov, 1) <= 0 || oh->error) {
			w->errors++;
			continue;
		}
		memcpy(&e, out + sizeof(*oh), sizeof(e));
		h.opcode = FUSE_READ;
		h.nodeid = w->node;
		h.len = sizeof(h) + sizeof(ri);
		memcpy(in, &h, sizeof(h));
		memcpy(in + sizeof(h), &ri, sizeof(ri));
		iv.iov_len = h.len;
		if (fuse_server_handle(env.s, &iv, 1, &ov, 1) != 16 + 5)
			w->errors++;
		h.opcode = FUSE_FORGET;
		h.nodeid = e.nodeid;
		h.len = sizeof(h) + sizeof(fi);
		memcpy(in, &h, sizeof(h));
		memcpy(in + sizeof(h), &fi, sizeof(fi));
		iv.iov_len = h.len;
		fuse_server_handle(env.s, &iv, 1, NULL, 0);
	}
	return NULL;
}

static void fuse_concurrent(void)
{
	struct worker w[2];
	pthread_t t[2];
	struct fuse_server_stats st;
	u64 node;

	CHECK(env_setup());
	CHECK_EQ(write_file(env.share, "a", "AAAAA"), 0);
	CHECK_EQ(write_file(env.share, "b", "BBBBB"), 0);
	node = lookup(1, "a");
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .node = node, .fh = open_node(node, O_RDONLY) };
		CHECK(w[i].fh);
	}
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(w[0].errors + w[1].errors, 0);
	fuse_server_get_stats(env.s, &st);
	CHECK_EQ(st.inodes, 2);          /* the root and "a", still looked up once */
	env_teardown();
}

TEST_SUITE(fuse,
	   TEST(fuse_init_negotiates),
	   TEST(fuse_unknown_opcodes),
	   TEST(fuse_lookup_getattr),
	   TEST(fuse_create_write_read),
	   TEST(fuse_write_clears_setuid),
	   TEST(fuse_setattr),
	   TEST(fuse_id_map),
	   TEST(fuse_directories),
	   TEST(fuse_names),
	   TEST(fuse_mknod),
	   TEST(fuse_xattrs),
	   TEST(fuse_fallocate_lseek_access),
	   TEST(fuse_cache_modes),
	   TEST(fuse_hostile_names),
	   TEST(fuse_hostile_symlink_out),
	   TEST(fuse_hostile_fifo_on_host),
	   TEST(fuse_hostile_lengths),
	   TEST(fuse_hostile_forget),
	   TEST(fuse_hostile_rename_parent),
	   TEST(fuse_readonly_share),
	   TEST(fuse_caps),
	   TEST(fuse_fd_exhaustion),
	   TEST(fuse_concurrent));
