/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_DISK_H
#define ARKVM_DISK_H

/*
 * A disk backend: what a block device model reads and writes through, so
 * the model parses requests and never touches a file.  The raw host file
 * (src/backends/disk_raw.c) is the first; an image format (qcow2) fits the
 * same shape, mapping disk offsets to host offsets behind the ops.
 *
 * A request is submitted with one call and either finishes inside it
 * (DISK_DONE: r->result is set) or is queued (DISK_QUEUED): it then comes
 * back through d->complete, called from kick() or reap() and never from a
 * submit.  -EAGAIN says "not now": the backend has work queued and can take
 * no more until some of it completes; the caller submits it again after
 * the next completion.  A backend returns -EAGAIN only while something is
 * queued, so a completion always follows.
 *
 * Threading: a disk is used by one thread at a time (the I/O thread, once
 * the VM runs); d->complete runs on that thread.  Opening and closing
 * happen on the main thread, before the I/O thread starts and after it
 * ended.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "compiler.h"

enum disk_op {
	DISK_READ,
	DISK_WRITE,
	DISK_FLUSH,          /* what completed before it reaches stable storage */
	DISK_DISCARD,        /* the range may read back as anything; no more space held */
	DISK_WRITE_ZEROES,   /* the range reads back as zeroes */
};

/* One request: the caller's until it completes. */
struct disk_req {
	enum disk_op op;
	u64 offset;          /* bytes into the disk (not used by FLUSH) */
	u64 len;             /* READ, WRITE: the buffers' total; DISCARD, WRITE_ZEROES: the range */
	struct iovec *iov;   /* READ, WRITE: the buffers; the backend may trim them */
	unsigned int nr_iov;
	bool unmap;          /* WRITE_ZEROES: the range may be deallocated */
	int result;          /* once complete: 0, or -errno */
};

/* What a submit did; else -EAGAIN (see above). */
enum {
	DISK_DONE = 0,
	DISK_QUEUED = 1,
};

struct disk;

struct disk_ops {
	/* Each returns DISK_DONE, DISK_QUEUED or -EAGAIN. */
	int (*read)(struct disk *d, struct disk_req *r);
	int (*write)(struct disk *d, struct disk_req *r);
	int (*flush)(struct disk *d, struct disk_req *r);
	int (*discard)(struct disk *d, struct disk_req *r);       /* optional */
	int (*write_zeroes)(struct disk *d, struct disk_req *r);  /* optional */
	/* The disk's size in bytes, fixed while it is open. */
	u64 (*size)(const struct disk *d);
	/* Optional: starts what was queued since the last kick (one syscall a batch). */
	void (*kick)(struct disk *d);
	/*
	 * Optional: completes what has finished, through d->complete, and
	 * returns how many.  With @wait and something queued, first waits
	 * for at least one completion.
	 */
	unsigned int (*reap)(struct disk *d, bool wait);
	/* Ends what is in flight, makes written data durable, frees @d. */
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	bool readonly;
	/*
	 * The backend queues requests (io_uring) rather than serving them in
	 * the submit.  It clears this when its engine breaks; tests clear it
	 * to exercise the synchronous path.
	 */
	bool async;
	/*
	 * Readable when reap() has work (an eventfd): the user polls it on
	 * its loop.  -1 when there is none: the user waits with reap(d, true).
	 */
	int event_fd;
	unsigned int nr_queued;          /* DISK_QUEUED and not yet completed */
	/* Set by the user: called once for each request that was queued. */
	void (*complete)(struct disk *d, struct disk_req *r);
	void *opaque;                    /* the user's */
	/*
	 * A WRITE, DISCARD or WRITE_ZEROES was submitted (whether it then
	 * succeeded or not): the disk may differ from how it was opened.  A
	 * snapshot asks it of an ephemeral disk, whose overlay it cannot save.
	 */
	bool written;
	/*
	 * A raw image whose format was probed (disk_image.c): writes that
	 * would make its first bytes, kept in @head, the qcow2 magic are
	 * refused with -EPERM.
	 */
	bool guard_head;
	u8 head[4];
};

/* Whether @r must be refused on a guarded disk; else notes what it writes to the head. */
bool disk_head_refuses(struct disk *d, const struct disk_req *r);

/* Submits @r to the op it names: DISK_DONE, DISK_QUEUED or -EAGAIN. */
static inline int disk_submit(struct disk *d, struct disk_req *r)
{
	int (*op)(struct disk *, struct disk_req *) = NULL;

	switch (r->op) {
	case DISK_READ:
		op = d->ops->read;
		break;
	case DISK_WRITE:
		op = d->ops->write;
		break;
	case DISK_FLUSH:
		op = d->ops->flush;
		break;
	case DISK_DISCARD:
		op = d->ops->discard;
		break;
	case DISK_WRITE_ZEROES:
		op = d->ops->write_zeroes;
		break;
	}
	if (!op) {
		r->result = -EOPNOTSUPP;
		return DISK_DONE;
	}
	if (d->guard_head && r->op != DISK_READ && r->op != DISK_FLUSH &&
	    r->offset < sizeof(d->head) && disk_head_refuses(d, r)) {
		r->result = -EPERM;
		return DISK_DONE;
	}
	if (r->op != DISK_READ && r->op != DISK_FLUSH)
		d->written = true;
	return op(d, r);
}

static inline void disk_kick(struct disk *d)
{
	if (d->ops->kick)
		d->ops->kick(d);
}

static inline unsigned int disk_reap(struct disk *d, bool wait)
{
	return d->ops->reap ? d->ops->reap(d, wait) : 0;
}

static inline u64 disk_size(const struct disk *d)
{
	return d->ops->size(d);
}

static inline void disk_close(struct disk *d)
{
	if (d)
		d->ops->close(d);
}

/*
 * The raw backend: the host file at @path, locked (exclusively, or shared
 * when @readonly) so two VMs never write one image.  Its I/O goes through
 * an io_uring restricted to reads, writes and flushes of this one file;
 * without one (an old kernel, a filtering container) through preadv and
 * pwritev.  Prints one line and returns -errno on error.
 */
int disk_raw_open(const char *path, bool readonly, struct disk **out);

#endif
