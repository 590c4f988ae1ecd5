// SPDX-License-Identifier: Apache-2.0
/*
 * The inode and handle tables.  An inode is an O_PATH descriptor of a
 * file inside the share, found again by (st_dev, st_ino) so that two
 * lookups of one file share a node, counted by nlookup until the guest
 * forgets it.  A nodeid or a file handle is a slot number with the
 * slot's generation in the upper 32 bits: a forgotten or invented one
 * misses instead of reaching a reused slot.  Both tables are capped
 * (FUSE_MAX_INODES, FUSE_MAX_HANDLES): a guest that never forgets gets
 * ENFILE or EMFILE, and the server keeps serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"

#define NR_BUCKETS 16384u       /* a power of two */
#define NOBODY 65534u

static u64 make_id(u32 slot, u32 gen)
{
	return (u64)gen << 32 | slot;
}

static u32 hash_of(dev_t dev, ino_t ino)
{
	u64 h = (u64)ino * 0x9e3779b97f4a7c15ull ^ (u64)dev * 0xff51afd7ed558ccdull;

	return (u32)(h >> 40) & (NR_BUCKETS - 1);
}

int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

static void free_list_init(struct fuse_server *s)
{
	s->inode_free = 0;
	for (u32 i = FUSE_MAX_INODES; i > FUSE_ROOT_SLOT; i--) {
		s->inodes[i].fd = -1;
		s->inodes[i].fnext = s->inode_free;
		s->inode_free = i;
	}
	s->handle_free = 0;
	for (u32 i = FUSE_MAX_HANDLES; i >= 1; i--) {
		s->handles[i].fd = -1;
		s->handles[i].fnext = s->handle_free;
		s->handle_free = i;
	}
}

static void hash_insert(struct fuse_server *s, u32 slot)
{
	struct fuse_inode *n = &s->inodes[slot];
	u32 b = hash_of(n->dev, n->ino);

	n->hnext = s->buckets[b];
	s->buckets[b] = slot;
}

static void hash_remove(struct fuse_server *s, u32 slot)
{
	struct fuse_inode *n = &s->inodes[slot];
	u32 *p = &s->buckets[hash_of(n->dev, n->ino)];

	while (*p && *p != slot)
		p = &s->inodes[*p].hnext;
	if (*p)
		*p = n->hnext;
}

static u32 hash_find(struct fuse_server *s, dev_t dev, ino_t ino)
{
	u32 slot = s->buckets[hash_of(dev, ino)];

	while (slot && (s->inodes[slot].dev != dev || s->inodes[slot].ino != ino))
		slot = s->inodes[slot].hnext;
	return slot;
}

int fuse_tables_init(struct fuse_server *s, int root_fd, const struct stat *st)
{
	struct fuse_inode *root;

	/* calloc: the kernel hands out pages as slots are first used. */
	s->inodes = calloc(FUSE_MAX_INODES + 1, sizeof(*s->inodes));
	s->handles = calloc(FUSE_MAX_HANDLES + 1, sizeof(*s->handles));
	s->buckets = calloc(NR_BUCKETS, sizeof(*s->buckets));
	if (!s->inodes || !s->handles || !s->buckets) {
		free(s->inodes);
		free(s->handles);
		free(s->buckets);
		return -ENOMEM;
	}
	for (u32 i = 1; i <= FUSE_MAX_HANDLES; i++)
		pthread_mutex_init(&s->handles[i].dir_lock, NULL);
	free_list_init(s);
	root = &s->inodes[FUSE_ROOT_SLOT];
	*root = (struct fuse_inode){
		.fd = root_fd, .dev = st->st_dev, .ino = st->st_ino, .type = S_IFDIR,
		.nlookup = 1,   /* the guest never looks the root up: pinned */
	};
	hash_insert(s, FUSE_ROOT_SLOT);
	s->nr_inodes = 1;
	s->max_inodes = FUSE_MAX_INODES;
	s->max_handles = FUSE_MAX_HANDLES;
	return 0;
}

/* Under s->lock: closes the inode's descriptor if nothing holds it. */
static int inode_maybe_free(struct fuse_server *s, struct fuse_inode *n)
{
	u32 slot = (u32)(n - s->inodes);
	int fd;

	if (n->nlookup || n->refs || slot == FUSE_ROOT_SLOT)
		return -1;
	hash_remove(s, slot);
	fd = n->fd;
	n->fd = -1;
	n->gen++;
	n->fnext = s->inode_free;
	s->inode_free = slot;
	s->nr_inodes--;
	return fd;
}

static int handle_maybe_free(struct fuse_server *s, struct fuse_handle *h, bool released)
{
	u32 slot = (u32)(h - s->handles);
	int fd;

	if (h->refs || !released)
		return -1;
	fd = h->fd;
	h->fd = -1;
	free(h->dir_buf);
	h->dir_buf = NULL;
	h->gen++;
	h->fnext = s->handle_free;
	s->handle_free = slot;
	s->nr_handles--;
	return fd;
}

void fuse_tables_reset(struct fuse_server *s)
{
	pthread_mutex_lock(&s->lock);
	for (u32 i = FUSE_ROOT_SLOT + 1; i <= FUSE_MAX_INODES; i++) {
		struct fuse_inode *n = &s->inodes[i];
		int fd;

		if (n->fd < 0)
			continue;
		n->nlookup = 0;
		fd = inode_maybe_free(s, n);
		if (fd >= 0)
			close(fd);
	}
	for (u32 i = 1; i <= FUSE_MAX_HANDLES; i++) {
		struct fuse_handle *h = &s->handles[i];
		int fd;

		if (h->fd < 0)
			continue;
		/* A handle in use by another request goes when that request puts it. */
		h->released = true;
		fd = handle_maybe_free(s, h, true);
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_unlock(&s->lock);
}

void fuse_tables_free(struct fuse_server *s)
{
	for (u32 i = 1; i <= FUSE_MAX_INODES; i++)
		if (s->inodes[i].fd >= 0)
			close(s->inodes[i].fd);
	for (u32 i = 1; i <= FUSE_MAX_HANDLES; i++) {
		if (s->handles[i].fd >= 0)
			close(s->handles[i].fd);
		free(s->handles[i].dir_buf);
		pthread_mutex_destroy(&s->handles[i].dir_lock);
	}
	free(s->inodes);
	free(s->handles);
	free(s->buckets);
}

int inode_get(struct fuse_server *s, u64 nodeid, struct fuse_inode **ino)
{
	u32 slot = (u32)nodeid, gen = (u32)(nodeid >> 32);
	struct fuse_inode *n;
	int ret = -ESTALE;

	if (slot < FUSE_ROOT_SLOT || slot > FUSE_MAX_INODES)
		return ret;
	pthread_mutex_lock(&s->lock);
	n = &s->inodes[slot];
	/* nlookup: a node the guest forgot is gone for it, even while in use. */
	if (n->fd >= 0 && n->gen == gen && n->nlookup) {
		n->refs++;
		*ino = n;
		ret = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void inode_put(struct fuse_server *s, struct fuse_inode *n)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	n->refs--;
	fd = inode_maybe_free(s, n);
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
}

void inode_forget(struct fuse_server *s, u64 nodeid, u64 nlookup)
{
	u32 slot = (u32)nodeid, gen = (u32)(nodeid >> 32);
	struct fuse_inode *n;
	int fd = -1;

	if (slot <= FUSE_ROOT_SLOT || slot > FUSE_MAX_INODES)
		return;
	pthread_mutex_lock(&s->lock);
	n = &s->inodes[slot];
	if (n->fd >= 0 && n->gen == gen) {
		n->nlookup -= MIN(nlookup, n->nlookup);
		fd = inode_maybe_free(s, n);
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
}

/*
 * Counts a lookup of the file @fd (O_PATH, stat @st): an existing node
 * for the same file takes it (and @fd is closed), else a new slot does.
 */
static int inode_add(struct fuse_server *s, int fd, const struct stat *st, u64 *nodeid)
{
	struct fuse_inode *n;
	u32 slot;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	slot = hash_find(s, st->st_dev, st->st_ino);
	if (slot) {
		n = &s->inodes[slot];
		n->nlookup++;
	} else if (!s->inode_free || s->nr_inodes >= s->max_inodes) {
		ret = -ENFILE;
	} else {
		slot = s->inode_free;
		n = &s->inodes[slot];
		s->inode_free = n->fnext;
		n->fd = fd;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->type = st->st_mode & S_IFMT;
		n->nlookup = 1;
		n->refs = 0;
		hash_insert(s, slot);
		s->nr_inodes++;
		fd = -1;
	}
	if (!ret)
		*nodeid = make_id(slot, s->inodes[slot].gen);
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
	if (ret)
		pr_warn_ratelimited("fuse %s: the guest holds %u inodes, the cap", s->cfg.tag,
				    s->max_inodes);
	return ret;
}

/*
 * One component under @dirfd, never following a symlink, never leaving
 * the directory: openat2's RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS when
 * the kernel has it, else openat with O_NOFOLLOW, which is as tight for
 * a name already checked to be one component that is not "..".
 */
int open_beneath(struct fuse_server *s, int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (u64)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
	};
	int fd;

	if (!__atomic_load_n(&s->openat2_missing, __ATOMIC_RELAXED)) {
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd < 0 ? -errno : fd;
		__atomic_store_n(&s->openat2_missing, true, __ATOMIC_RELAXED);
	}
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

static int lookup_fd(struct fuse_server *s, int fd, const struct stat *st,
		     struct fuse_entry_out *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	ret = inode_add(s, fd, st, &e->nodeid);
	if (ret)
		return ret;
	entry_timeouts(s, e);
	fill_attr(s, st, &e->attr);
	return 0;
}

int inode_lookup(struct fuse_server *s, int dirfd, const char *name, struct fuse_entry_out *e)
{
	return inode_created(s, dirfd, name, (mode_t)-1, e);
}

/*
 * What the guest asked for is the mode, umask applied by the guest: the
 * host's umask (arkvm's, process-wide) must not take more bits away.
 */
int inode_created(struct fuse_server *s, int dirfd, const char *name, mode_t mode,
		  struct fuse_entry_out *e)
{
	struct stat st;
	int fd, ret;

	fd = open_beneath(s, dirfd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (stat_fd(fd, &st)) {
		ret = -errno;
		goto err;
	}
	if (mode != (mode_t)-1 && !S_ISLNK(st.st_mode) && (st.st_mode & 07777) != mode) {
		ret = chmod_opath(s, fd, mode);
		if (!ret && stat_fd(fd, &st))
			ret = -errno;
		if (ret)
			goto err;
	}
	return lookup_fd(s, fd, &st, e);

err:
	close(fd);
	return ret;
}

/*
 * Reopening an O_PATH inode for I/O goes through its magic link in
 * /proc/self/fd (a descriptor of that directory is held from start-up):
 * the link names the very file the O_PATH descriptor pins, not a path
 * that a host process could swap under us, and it needs no parent or
 * name (which a rename would make stale).  The type is checked first on
 * the pinned inode, O_NONBLOCK keeps a FIFO from blocking should one
 * appear anyway, and a second fstat compares device, inode and type
 * before the descriptor is used.
 */
int inode_reopen(struct fuse_server *s, struct fuse_inode *ino, int flags)
{
	struct stat before, after;
	char name[16];
	int fd;

	if (stat_fd(ino->fd, &before))
		return -errno;
	if (!S_ISREG(before.st_mode) && !S_ISDIR(before.st_mode))
		return -EPERM;
	snprintf(name, sizeof(name), "%d", ino->fd);
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_PATH | O_TMPFILE | O_ASYNC);
	fd = openat(s->proc_fd, name, flags | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &after) || after.st_dev != before.st_dev || after.st_ino != before.st_ino ||
	    (after.st_mode & S_IFMT) != (before.st_mode & S_IFMT)) {
		close(fd);
		pr_warn_ratelimited("fuse %s: a file changed under a reopen", s->cfg.tag);
		return -EIO;
	}
	/* A regular file honours O_NONBLOCK on some file systems: only if asked. */
	if (!(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int chmod_opath(struct fuse_server *s, int fd, mode_t mode)
{
	struct stat st;
	char name[16];

	if (stat_fd(fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EOPNOTSUPP;
	snprintf(name, sizeof(name), "%d", fd);
	return fchmodat(s->proc_fd, name, mode, 0) ? -errno : 0;
}

int kill_suidgid(struct fuse_server *s, int fd)
{
	struct stat st;
	mode_t kill = S_ISUID;

	if (stat_fd(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	/* setgid without group-execute is mandatory locking, not privilege. */
	if (st.st_mode & S_IXGRP)
		kill |= S_ISGID;
	if (!(st.st_mode & kill))
		return 0;
	return chmod_opath(s, fd, st.st_mode & 07777 & ~kill);
}

int handle_new(struct fuse_server *s, int fd, bool dir, u64 *fh)
{
	struct fuse_handle *h;
	u32 slot;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	slot = s->handle_free;
	if (!slot || s->nr_handles >= s->max_handles) {
		ret = -EMFILE;
	} else {
		h = &s->handles[slot];
		s->handle_free = h->fnext;
		h->fd = fd;
		h->dir = dir;
		h->refs = 0;
		h->released = false;
		h->dir_next = 0;
		h->dir_buf = NULL;
		h->dir_len = h->dir_pos = 0;
		s->nr_handles++;
		*fh = make_id(slot, h->gen);
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		pr_warn_ratelimited("fuse %s: the guest holds %u open files, the cap", s->cfg.tag,
				    s->max_handles);
	return ret;
}

int handle_get(struct fuse_server *s, u64 fh, bool dir, struct fuse_handle **hp)
{
	u32 slot = (u32)fh, gen = (u32)(fh >> 32);
	struct fuse_handle *h;
	int ret = -EBADF;

	if (slot < 1 || slot > FUSE_MAX_HANDLES)
		return ret;
	pthread_mutex_lock(&s->lock);
	h = &s->handles[slot];
	if (h->fd >= 0 && h->gen == gen && h->dir == dir && !h->released) {
		h->refs++;
		*hp = h;
		ret = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void handle_put(struct fuse_server *s, struct fuse_handle *h)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	h->refs--;
	/* Released (its generation moved on) while this request used it? */
	fd = handle_maybe_free(s, h, h->released);
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
}

int handle_release(struct fuse_server *s, u64 fh, bool dir)
{
	u32 slot = (u32)fh, gen = (u32)(fh >> 32);
	struct fuse_handle *h;
	int ret = -EBADF, fd = -1;

	if (slot < 1 || slot > FUSE_MAX_HANDLES)
		return ret;
	pthread_mutex_lock(&s->lock);
	h = &s->handles[slot];
	if (h->fd >= 0 && h->gen == gen && h->dir == dir && !h->released) {
		h->released = true;
		fd = handle_maybe_free(s, h, true);
		ret = 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
	return ret;
}

static u32 map_id_to_guest(bool map, u32 host, u32 guest, u32 id)
{
	if (!map)
		return id;
	if (id == host)
		return guest;
	/* The guest id belongs to arkvm's user now: a host file of that id shows as nobody. */
	return id == guest ? NOBODY : id;
}

u32 map_uid_to_host(const struct fuse_server *s, u32 uid)
{
	return s->cfg.uid_map && uid == s->cfg.uid_guest ? s->cfg.uid_host : uid;
}

u32 map_gid_to_host(const struct fuse_server *s, u32 gid)
{
	return s->cfg.gid_map && gid == s->cfg.gid_guest ? s->cfg.gid_host : gid;
}

bool req_privileged(const struct fuse_req *r)
{
	return r->hdr.uid == 0;
}

mode_t create_mode(const struct fuse_req *r, u32 mode, bool dir)
{
	mode &= 07777;
	if (!req_privileged(r)) {
		mode &= ~S_ISUID;
		/* A directory's setgid only passes its group on. */
		if (!dir)
			mode &= ~S_ISGID;
	}
	return mode;
}

void fill_attr(const struct fuse_server *s, const struct stat *st, struct fuse_attr *a)
{
	const struct share_config *c = &s->cfg;

	*a = (struct fuse_attr){
		.ino = st->st_ino, .size = (u64)st->st_size, .blocks = (u64)st->st_blocks,
		.atime = (u64)st->st_atim.tv_sec, .atimensec = (u32)st->st_atim.tv_nsec,
		.mtime = (u64)st->st_mtim.tv_sec, .mtimensec = (u32)st->st_mtim.tv_nsec,
		.ctime = (u64)st->st_ctim.tv_sec, .ctimensec = (u32)st->st_ctim.tv_nsec,
		.mode = st->st_mode, .nlink = (u32)st->st_nlink,
		.uid = map_id_to_guest(c->uid_map, c->uid_host, c->uid_guest, st->st_uid),
		.gid = map_id_to_guest(c->gid_map, c->gid_host, c->gid_guest, st->st_gid),
		.rdev = (u32)st->st_rdev, .blksize = (u32)st->st_blksize,
	};
}

/*
 * cache=never: the guest asks every time (and FOPEN_DIRECT_IO skips its
 * page cache); auto: a second, close to what NFS gives; always: a day,
 * for a directory only the guest changes.
 */
u64 attr_timeout(const struct fuse_server *s)
{
	switch (s->cfg.cache) {
	case SHARE_CACHE_NEVER:
		return 0;
	case SHARE_CACHE_ALWAYS:
		return 86400;
	default:
		return 1;
	}
}

void entry_timeouts(const struct fuse_server *s, struct fuse_entry_out *e)
{
	e->entry_valid = e->attr_valid = attr_timeout(s);
}
