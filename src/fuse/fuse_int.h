/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FUSE_INT_H
#define ARKVM_FUSE_INT_H

/*
 * The FUSE server's insides (include/fuse_server.h is its interface).
 *
 *   server.c    copy-in of a request, checks, dispatch, replies, INIT/DESTROY/STATFS
 *   inode.c     the inode and handle tables (caps, nlookup, refs), reopen, attrs
 *   ops_name.c  LOOKUP, FORGET, MKDIR, MKNOD, SYMLINK, LINK, UNLINK, RENAME, ...
 *   ops_file.c  GETATTR, SETATTR, OPEN, CREATE, READ, WRITE, FSYNC, ...
 *   ops_dir.c   OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR
 *   ops_xattr.c GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR (user.* only)
 *
 * Locking: one mutex (s->lock) guards both tables; it is never held
 * across a system call that may block on the file system.  A request
 * that uses an inode's or handle's descriptor takes a reference (refs)
 * under the lock and drops it after; the descriptor is closed only when
 * nothing refers to it any more.
 */
#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "compiler.h"
#include "fuse_server.h"

struct fuse_inode {
	int fd;                 /* O_PATH | O_NOFOLLOW; -1: the slot is free */
	u32 gen;                /* bumped at each reuse of the slot: stale nodeids miss */
	dev_t dev;
	ino_t ino;
	mode_t type;            /* S_IFMT bits: an inode never changes type */
	u64 nlookup;            /* the guest's lookups not yet forgotten */
	u32 refs;               /* requests using fd right now */
	u32 hnext;              /* (dev, ino) hash chain, by slot; 0 ends it */
	u32 fnext;              /* free list */
};

struct fuse_handle {
	int fd;                 /* an open file or directory; -1: the slot is free */
	u32 gen;
	u32 refs;
	bool dir;
	bool released;          /* RELEASE seen: goes when refs reaches 0 */
	u32 fnext;
	/*
	 * A directory's position, under dir_lock.  A READDIR that goes on
	 * where the last one stopped (@dir_next) reads on from the host
	 * directory's own position, starting with what the last getdents64
	 * returned and the guest had no room for (@dir_buf): a seek would be
	 * wrong on file systems whose offsets are positions in the list
	 * (tmpfs), once the guest removed entries before it (rm -rf).
	 */
	pthread_mutex_t dir_lock;
	u64 dir_next;
	char *dir_buf;          /* DIRBUF_MAX bytes while it holds entries, else NULL */
	u32 dir_len, dir_pos;
};

struct fuse_server {
	struct share_config cfg;
	int proc_fd;            /* /proc/self/fd: how an O_PATH inode is reopened */
	pthread_mutex_t lock;
	bool initialized;       /* INIT answered, no DESTROY since (under lock) */
	u32 minor;              /* the protocol minor agreed at INIT */
	bool openat2_missing;   /* the kernel (or a filter) has no openat2 */

	struct fuse_inode *inodes;  /* slots 1..FUSE_MAX_INODES; 1 is the root */
	u32 *buckets;
	u32 inode_free, nr_inodes;
	struct fuse_handle *handles; /* slots 1..FUSE_MAX_HANDLES */
	u32 handle_free, nr_handles;
	/* The caps: FUSE_MAX_INODES and FUSE_MAX_HANDLES (lower in tests). */
	u32 max_inodes, max_handles;

	unsigned long requests, errors;  /* atomics */
};

#define FUSE_ROOT_SLOT 1
#define FUSE_NAME_MAX 255

/* One request, its header and arguments copied out of guest memory. */
struct fuse_req {
	struct fuse_server *s;
	struct fuse_in_header hdr;
	const u8 *arg;          /* the opcode's arguments, a NUL appended after */
	size_t arg_len;
	/* A WRITE's data stays in guest memory: in[] from data_off, data_len bytes. */
	const struct iovec *in;
	unsigned int nr_in;
	size_t data_off, data_len;
	const struct iovec *out;
	unsigned int nr_out;
	size_t out_len;
	size_t written;         /* bytes of the reply written to out[] */
};

/* server.c: replies.  Each returns 0 or -errno (no room: -ERANGE). */
int fuse_reply(struct fuse_req *r, const void *p, size_t n);
int fuse_reply2(struct fuse_req *r, const void *p1, size_t n1, const void *p2, size_t n2);
int fuse_reply_err(struct fuse_req *r, int err);
/* Only the header: @n bytes of payload are already in out[] after it. */
int fuse_reply_data(struct fuse_req *r, size_t n);
/* Builds an iovec array for bytes [off, off + len) of iov[] (malloc'd; NULL: -ENOMEM). */
struct iovec *iov_slice(const struct iovec *iov, unsigned int nr, size_t off, size_t len,
			unsigned int *nr_slice);

/* inode.c */
int fuse_tables_init(struct fuse_server *s, int root_fd, const struct stat *st);
void fuse_tables_free(struct fuse_server *s);
void fuse_tables_reset(struct fuse_server *s);
/* Takes a reference to the inode @nodeid names: -ESTALE if it names none. */
int inode_get(struct fuse_server *s, u64 nodeid, struct fuse_inode **ino);
void inode_put(struct fuse_server *s, struct fuse_inode *ino);
void inode_forget(struct fuse_server *s, u64 nodeid, u64 nlookup);
/*
 * Looks @name up under @parent (a checked name) and counts one lookup of
 * the result: fills @e (nodeid, attributes, timeouts).
 */
int inode_lookup(struct fuse_server *s, int dirfd, const char *name, struct fuse_entry_out *e);
/* The same for a file just created with @mode, which the host's umask must not change. */
int inode_created(struct fuse_server *s, int dirfd, const char *name, mode_t mode,
		  struct fuse_entry_out *e);
/* A new handle for @fd (closed on failure) and the OPEN reply, after @entry for CREATE. */
int reply_open(struct fuse_req *r, int fd, bool dir, u32 flags, const void *entry,
	       size_t entry_len);
int handle_new(struct fuse_server *s, int fd, bool dir, u64 *fh);
int handle_get(struct fuse_server *s, u64 fh, bool dir, struct fuse_handle **h);
void handle_put(struct fuse_server *s, struct fuse_handle *h);
int handle_release(struct fuse_server *s, u64 fh, bool dir);
/* Opens @ino (a regular file or a directory) for I/O with @flags. */
int inode_reopen(struct fuse_server *s, struct fuse_inode *ino, int flags);
int open_beneath(struct fuse_server *s, int dirfd, const char *name, int flags, mode_t mode);
int stat_fd(int fd, struct stat *st);
void fill_attr(const struct fuse_server *s, const struct stat *st, struct fuse_attr *a);
void entry_timeouts(const struct fuse_server *s, struct fuse_entry_out *e);
u64 attr_timeout(const struct fuse_server *s);
u32 map_uid_to_host(const struct fuse_server *s, u32 uid);
u32 map_gid_to_host(const struct fuse_server *s, u32 gid);
/* Whether the guest's caller is root (after the id map): may set setuid bits. */
bool req_privileged(const struct fuse_req *r);
/*
 * The permission bits a new file gets: setuid (and setgid but on a
 * directory) only when the guest's root asks, never for its users.
 */
mode_t create_mode(const struct fuse_req *r, u32 mode, bool dir);
/* Clears setuid, and setgid with group-execute, of a regular file. */
int kill_suidgid(struct fuse_server *s, int fd);
/* chmod of the inode behind an O_PATH descriptor (not a symlink). */
int chmod_opath(struct fuse_server *s, int fd, mode_t mode);

/* A name from the guest at arg[*off]: checked, *off moved past it. */
int take_name(struct fuse_req *r, size_t *off, const char **name);

/* The opcodes, by file. */
int op_lookup(struct fuse_req *r);
int op_forget(struct fuse_req *r);
int op_batch_forget(struct fuse_req *r);
int op_mkdir(struct fuse_req *r);
int op_mknod(struct fuse_req *r);
int op_symlink(struct fuse_req *r);
int op_readlink(struct fuse_req *r);
int op_link(struct fuse_req *r);
int op_unlink(struct fuse_req *r);
int op_rmdir(struct fuse_req *r);
int op_rename(struct fuse_req *r);
int op_rename2(struct fuse_req *r);

int op_getattr(struct fuse_req *r);
int op_setattr(struct fuse_req *r);
int op_open(struct fuse_req *r);
int op_create(struct fuse_req *r);
int op_read(struct fuse_req *r);
int op_write(struct fuse_req *r);
int op_flush(struct fuse_req *r);
int op_release(struct fuse_req *r);
int op_fsync(struct fuse_req *r);
int op_fallocate(struct fuse_req *r);
int op_lseek(struct fuse_req *r);
int op_access(struct fuse_req *r);

int op_opendir(struct fuse_req *r);
int op_readdir(struct fuse_req *r);
int op_readdirplus(struct fuse_req *r);
int op_releasedir(struct fuse_req *r);
int op_fsyncdir(struct fuse_req *r);

int op_getxattr(struct fuse_req *r);
int op_listxattr(struct fuse_req *r);
int op_setxattr(struct fuse_req *r);
int op_removexattr(struct fuse_req *r);

#endif
