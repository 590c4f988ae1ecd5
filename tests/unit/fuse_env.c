// SPDX-License-Identifier: Apache-2.0
/* Helpers for the FUSE server's tests: a temporary share and requests to it. */
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

struct fenv env;
const char *fuse_env_root = "/tmp";

void path_of(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

int write_file(const char *dir, const char *name, const char *text)
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

int read_file(const char *dir, const char *name, char *buf, size_t n)
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

bool exists(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	path_of(p, sizeof(p), dir, name);
	return !lstat(p, &st);
}

bool env_setup_cfg(bool readonly, enum share_cache cache)
{
	memset(&env, 0, sizeof(env));
	snprintf(env.base, sizeof(env.base), "%s/arkvm-fuse-XXXXXX", fuse_env_root);
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
bool outside_untouched(void)
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

void env_teardown(void)
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
int call_out(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b,
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

int call(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b, size_t blen)
{
	return call_out(opcode, nodeid, a, alen, b, blen, sizeof(env.reply) + 16);
}

int call_name(u32 opcode, u64 nodeid, const void *a, size_t alen, const char *name)
{
	return call(opcode, nodeid, a, alen, name, strlen(name) + 1);
}

int do_init(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 38, .max_readahead = 131072,
				   .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES };

	return call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0);
}

bool env_setup_mode(bool readonly, enum share_cache cache)
{
	return env_setup_cfg(readonly, cache) && !fuse_server_create(&env.s, &env.cfg) &&
	       do_init() == 0;
}

bool env_setup(void)
{
	return env_setup_mode(false, SHARE_CACHE_AUTO);
}

/* LOOKUP: the nodeid, 0 on failure; the entry stays in env.reply. */
u64 lookup(u64 parent, const char *name)
{
	struct fuse_entry_out e;

	if (call_name(FUSE_LOOKUP, parent, NULL, 0, name))
		return 0;
	memcpy(&e, env.reply, sizeof(e));
	return e.nodeid;
}

struct fuse_entry_out *entry(void)
{
	return (struct fuse_entry_out *)(void *)env.reply;
}

u64 open_node(u64 node, u32 flags)
{
	struct fuse_open_in in = { .flags = flags };
	struct fuse_open_out o;

	if (call(FUSE_OPEN, node, &in, sizeof(in), NULL, 0))
		return 0;
	memcpy(&o, env.reply, sizeof(o));
	return o.fh;
}

int do_write(u64 node, u64 fh, u64 off, const char *data)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = (u32)strlen(data) };

	return call(FUSE_WRITE, node, &in, sizeof(in), data, strlen(data));
}

int do_read(u64 node, u64 fh, u64 off, u32 size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };

	return call(FUSE_READ, node, &in, sizeof(in), NULL, 0);
}

int do_release(u64 fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };

	return call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, 1, &in, sizeof(in), NULL, 0);
}

int rename2(u64 from, const char *a, u64 to, const char *b, u32 flags)
{
	struct fuse_rename2_in in = { .newdir = to, .flags = flags };
	char names[600];
	size_t la = strlen(a) + 1, lb = strlen(b) + 1;

	memcpy(names, a, la);
	memcpy(names + la, b, lb);
	return call(FUSE_RENAME2, from, &in, sizeof(in), names, la + lb);
}

