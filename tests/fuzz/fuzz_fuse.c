// SPDX-License-Identifier: Apache-2.0
/*
 * The FUSE server's parser and dispatcher against a throwaway directory
 * (created once per process, its share emptied and filled again every
 * RESET_EVERY inputs).  The input is a share mode byte, then requests:
 *
 *   u16 length, u16 reply room, u8 split, then `length` bytes of request
 *
 * `split` cuts the request and the reply into two segments; its top bit
 * makes the header's len the true length (most requests then pass the
 * first check).  A nodeid below 16 (but the root's 1) is replaced by one
 * the server returned earlier, and so is a file handle below 16 in the
 * opcodes that carry one, so that inputs reach real nodes and handles.
 * After every input the share's sibling, with its canary, must be as it
 * was: anything else aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse_server.h"
#include "fuzz.h"

#define RESET_EVERY 64
#define MAX_STEPS 64
#define MAX_REQ 0x11000
#define NR_SEEN 16
#define CANARY "canary\n"

static char base[64], share[96], outside[96];
static unsigned long runs;
static u8 req[MAX_REQ], out[0x10000 + 64];
static u64 nodes[NR_SEEN], fhs[NR_SEEN];
static unsigned int nr_nodes, nr_fhs;

static int put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (f->level == 0)
		return 0;       /* the share itself stays */
	return remove(p) && errno != ENOENT ? -1 : 0;
}

/* Directories the guest made unreadable are opened up before removal. */
static int open_up(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

static void fill_share(void)
{
	char p[256];

	nftw(share, open_up, 16, FTW_PHYS);
	nftw(share, open_up, 16, FTW_PHYS);
	nftw(share, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	put_file(share, "file", "hello, fuzzer\n", 0644);
	snprintf(p, sizeof(p), "%s/dir", share);
	mkdir(p, 0755);
	put_file(p, "inner", "inner\n", 0600);
	snprintf(p, sizeof(p), "%s/out", share);
	symlink("../outside", p);
	snprintf(p, sizeof(p), "%s/etc", share);
	symlink("/etc", p);
	snprintf(p, sizeof(p), "%s/fifo", share);
	mkfifo(p, 0644);
}

static bool outside_untouched(void)
{
	char p[256], buf[64];
	struct stat st;
	struct dirent *de;
	DIR *d = opendir(outside);
	int n = 0, fd;
	ssize_t got;

	if (!d)
		return false;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	snprintf(p, sizeof(p), "%s/canary", outside);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return false;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got < 0)
		return false;
	buf[got] = 0;
	return n == 3 && !strcmp(buf, CANARY) && !stat(p, &st) && (st.st_mode & 07777) == 0644 &&
	       !stat(outside, &st) && (st.st_mode & 07777) == 0755;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rlimit fsize = { 64 << 20, 64 << 20 };

	/* A guest's writes far into a file stay small here (SIGXFSZ: see below). */
	setrlimit(RLIMIT_FSIZE, &fsize);
	snprintf(base, sizeof(base), "/tmp/arkvm-fuzz-fuse-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	fz_scratch_adopt(base);
	snprintf(share, sizeof(share), "%s/share", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	if (mkdir(share, 0755) || mkdir(outside, 0755) || put_file(outside, "canary", CANARY, 0644))
		return -1;
	chmod(outside, 0755);
	return 0;
}

static bool has_fh(u32 opcode)
{
	switch (opcode) {
	case FUSE_READ: case FUSE_WRITE: case FUSE_RELEASE: case FUSE_RELEASEDIR:
	case FUSE_FLUSH: case FUSE_FSYNC: case FUSE_FSYNCDIR: case FUSE_READDIR:
	case FUSE_READDIRPLUS: case FUSE_LSEEK: case FUSE_FALLOCATE:
		return true;
	default:
		return false;
	}
}

static void remember(u64 *seen, unsigned int *nr, u64 v)
{
	seen[*nr % NR_SEEN] = v;
	(*nr)++;
}

/* Points small nodeids and handles at real ones; keeps fallocate small. */
static void patch(struct fuse_in_header *h, size_t len)
{
	u64 v;

	if (h->nodeid && h->nodeid != 1 && h->nodeid < 16 && nr_nodes)
		h->nodeid = nodes[h->nodeid % MIN(nr_nodes, NR_SEEN)];
	if (len < sizeof(*h) + 8)
		return;
	if (has_fh(h->opcode)) {
		memcpy(&v, req + sizeof(*h), 8);
		if (v < 16 && nr_fhs) {
			v = fhs[v % MIN(nr_fhs, NR_SEEN)];
			memcpy(req + sizeof(*h), &v, 8);
		}
	}
	if (h->opcode == FUSE_FALLOCATE && len >= sizeof(*h) + 24) {
		memcpy(&v, req + sizeof(*h) + 16, 8);
		v &= 0xfffff;
		memcpy(req + sizeof(*h) + 16, &v, 8);
	}
}

static void learn(u32 opcode, ssize_t n)
{
	const struct fuse_out_header *oh = (const void *)out;
	struct fuse_entry_out e;
	struct fuse_open_out o;

	if (n < (ssize_t)sizeof(*oh) || oh->error)
		return;
	switch (opcode) {
	case FUSE_LOOKUP: case FUSE_MKDIR: case FUSE_MKNOD: case FUSE_SYMLINK: case FUSE_LINK:
	case FUSE_CREATE:
		if (n < (ssize_t)(sizeof(*oh) + sizeof(e)))
			return;
		memcpy(&e, out + sizeof(*oh), sizeof(e));
		remember(nodes, &nr_nodes, e.nodeid);
		if (opcode != FUSE_CREATE || n < (ssize_t)(sizeof(*oh) + sizeof(e) + sizeof(o)))
			return;
		memcpy(&o, out + sizeof(*oh) + sizeof(e), sizeof(o));
		remember(fhs, &nr_fhs, o.fh);
		return;
	case FUSE_OPEN: case FUSE_OPENDIR:
		memcpy(&o, out + sizeof(*oh), sizeof(o));
		remember(fhs, &nr_fhs, o.fh);
		return;
	}
}

static void one_request(struct fuse_server *s, struct fuzz_in *in)
{
	size_t len = fz_take(in, 2), room = fz_take(in, 2);
	unsigned int split = (unsigned int)fz_take(in, 1);
	struct fuse_in_header h;
	struct iovec iv[2], ov[2];
	size_t cut, ocut;
	ssize_t n;

	len = fz_copy(in, req, MIN(len, sizeof(req)));
	room = MIN(room, sizeof(out));
	if (len >= sizeof(h)) {
		memcpy(&h, req, sizeof(h));
		if (split & 0x80)
			h.len = (u32)len;
		patch(&h, len);
		memcpy(req, &h, sizeof(h));
	}
	cut = (split & 0x7f) * len / 127;
	ocut = (split & 0x7f) * room / 127;
	iv[0] = (struct iovec){ req, cut };
	iv[1] = (struct iovec){ req + cut, len - cut };
	ov[0] = (struct iovec){ out, ocut };
	ov[1] = (struct iovec){ out + ocut, room - ocut };
	n = fuse_server_handle(s, iv, 2, ov, 2);
	if (n > (ssize_t)room)
		abort();
	if (len >= sizeof(h))
		learn(h.opcode, n);
}

static void init_session(struct fuse_server *s)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} r = { { .len = sizeof(r), .opcode = FUSE_INIT, .unique = 1 },
		{ .major = 7, .minor = 38, .max_readahead = 65536, .flags = 0x7fffffff } };
	struct iovec iv = { &r, sizeof(r) }, ov = { out, sizeof(out) };

	fuse_server_handle(s, &iv, 1, &ov, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct share_config cfg = { 0 };
	struct fuse_server *s;
	unsigned int mode = (unsigned int)fz_take(&in, 1);

	/* libFuzzer handles SIGXFSZ after LLVMFuzzerInitialize: EFBIG instead. */
	if (!runs)
		signal(SIGXFSZ, SIG_IGN);
	if (runs++ % RESET_EVERY == 0)
		fill_share();
	snprintf(cfg.path, sizeof(cfg.path), "%s", share);
	snprintf(cfg.tag, sizeof(cfg.tag), "fuzz");
	cfg.readonly = mode & 1;
	cfg.cache = (enum share_cache)((mode >> 1) % 3);
	cfg.uid_map = mode & 8;
	cfg.uid_host = getuid();
	if (fuse_server_create(&s, &cfg))
		abort();
	nr_nodes = nr_fhs = 0;
	if (!(mode & 16))
		init_session(s);
	for (int i = 0; i < MAX_STEPS && in.n; i++)
		one_request(s, &in);
	fuse_server_destroy(s);
	if (!outside_untouched())
		abort();
	return 0;
}
