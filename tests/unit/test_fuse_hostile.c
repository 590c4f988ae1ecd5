// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server against a hostile guest: names that climb out, a
 * symlink to /etc, host FIFOs, lengths past the buffers, unknown and
 * forgotten nodes, a readonly share, exhausted caps and descriptors,
 * and two threads at once (for make tsan).  Nothing outside the share
 * may change, and the server must keep answering.
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

TEST_SUITE(fuse_hostile,
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
