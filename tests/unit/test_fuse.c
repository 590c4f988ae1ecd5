// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server's opcodes against a temporary share (fuse_env.h);
 * after each case the share's sibling must be as it was.  The hostile
 * guest has its own file, test_fuse_hostile.c.
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
#include "fuse_env.h"
#include "test.h"

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

/*
 * rm -rf: the guest reads a directory a few entries at a time and removes
 * each entry it got before reading on.  On tmpfs before Linux 6.6 a
 * directory offset is a position in the list, so seeking back to the last
 * cookie after removals skipped entries and rmdir found the directory not
 * empty: the lab's 6.1 host showed it (rm -rf on a share); a newer host's
 * tmpfs keeps offsets stable, and there this test passes either way.
 */
static void fuse_readdir_while_removing(void)
{
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	char names[8][32];
	u64 dir, fh, off = 0;
	int removed = 0;

	if (!access("/dev/shm", W_OK))
		fuse_env_root = "/dev/shm";   /* tmpfs, where the offsets are positions */
	CHECK(env_setup());
	fuse_env_root = "/tmp";
	for (int i = 0; i < 60; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(write_file(env.share, name, "x"), 0);
	}
	dir = 1;
	CHECK_EQ(call(FUSE_OPENDIR, dir, &oi, sizeof(oi), NULL, 0), 0);
	memcpy(&oo, env.reply, sizeof(oo));
	fh = oo.fh;
	for (int round = 0; round < 200; round++) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 160 };
		unsigned int nr = 0;
		size_t pos = 0;

		CHECK_EQ(call(FUSE_READDIR, dir, &in, sizeof(in), NULL, 0), 0);
		if (!env.reply_len)
			break;
		while (pos < env.reply_len && nr < 8) {
			struct fuse_dirent d;
			const char *n = (const char *)env.reply + pos + FUSE_NAME_OFFSET;

			memcpy(&d, env.reply + pos, sizeof(d));
			off = d.off;
			if (d.namelen < sizeof(names[0]) && n[0] == 'f')
				snprintf(names[nr++], sizeof(names[0]), "%.*s", (int)d.namelen, n);
			pos += FUSE_DIRENT_SIZE(&d);
		}
		for (unsigned int i = 0; i < nr; i++, removed++)
			CHECK_EQ(call_name(FUSE_UNLINK, dir, NULL, 0, names[i]), 0);
	}
	CHECK_EQ(removed, 60);
	for (int i = 0; i < 60; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		CHECK(!exists(env.share, name));
	}
	CHECK_EQ(do_release(fh, true), 0);
	CHECK(outside_untouched());
	env_teardown();
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

TEST_SUITE(fuse,
	   TEST(fuse_init_negotiates),
	   TEST(fuse_unknown_opcodes),
	   TEST(fuse_lookup_getattr),
	   TEST(fuse_create_write_read),
	   TEST(fuse_write_clears_setuid),
	   TEST(fuse_setattr),
	   TEST(fuse_id_map),
	   TEST(fuse_directories),
	   TEST(fuse_readdir_while_removing),
	   TEST(fuse_names),
	   TEST(fuse_mknod),
	   TEST(fuse_xattrs),
	   TEST(fuse_fallocate_lseek_access),
	   TEST(fuse_cache_modes));
