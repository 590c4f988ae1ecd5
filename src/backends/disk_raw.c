// SPDX-License-Identifier: Apache-2.0
/*
 * The raw disk backend: the guest's disk is the host file, byte for byte.
 *
 * Reads, writes and flushes go to io_uring: submitted in batches (one
 * io_uring_enter per kick), their completions announced on an eventfd the
 * device polls, so a slow disk never stalls the I/O thread and the guest's
 * queue depth reaches the host disk.  Discard and write-zeroes are
 * fallocate() calls, done in the submit.  The ring is restricted to what
 * it is for (raw_restrictions), because the kernel does its work outside
 * the I/O thread's seccomp filter.  Where such a ring is not available (a
 * kernel before 5.10, a container that filters io_uring), or it breaks
 * later, the same requests are served with preadv/pwritev/fdatasync.
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <liburing.h>

#include "backends/disk_raw.h"
#include "disk.h"
#include "file.h"
#include "log.h"
#include "virtqueue.h"

/* As many as virtio-blk keeps in flight; the completion ring is twice that. */
#define RAW_RING_ENTRIES 64
#define RAW_FIXED_FD     0   /* the disk file's index among the ring's registered files */

struct disk_raw {
	struct disk disk;
	char *path;            /* for messages */
	int fd;
	u64 size;
	struct io_uring ring;
	bool has_ring;
	bool borrowed;         /* fd and its lock are another backend's (disk_raw_engine) */
};

static struct disk_raw *to_raw(const struct disk *d)
{
	return container_of(d, struct disk_raw, disk);
}

/* preadv/pwritev until done: they may stop short. */
static int raw_rw_sync(int fd, struct iovec *iov, unsigned int n, u64 off, bool write)
{
	while (n) {
		ssize_t got = write ? pwritev(fd, iov, (int)MIN(n, (unsigned int)IOV_MAX), (off_t)off)
				    : preadv(fd, iov, (int)MIN(n, (unsigned int)IOV_MAX), (off_t)off);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -EIO;
		off += (u64)got;
		n = iov_advance(&iov, n, (size_t)got);
	}
	return 0;
}

/* Does [off, off + len) lie inside the disk? */
static bool raw_range_ok(const struct disk_raw *raw, u64 off, u64 len)
{
	return off <= raw->size && len <= raw->size - off;
}

/* Serves @r here and now. */
static int raw_execute(struct disk_raw *raw, struct disk_req *r)
{
	int mode;

	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		return raw_rw_sync(raw->fd, r->iov, r->nr_iov, r->offset, r->op == DISK_WRITE);
	case DISK_FLUSH:
		return fdatasync(raw->fd) ? -errno : 0;
	case DISK_DISCARD:
	case DISK_WRITE_ZEROES:
		if (r->op == DISK_DISCARD || r->unmap)
			mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		else
			mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		return fallocate(raw->fd, mode, (off_t)r->offset, (off_t)r->len) ? -errno : 0;
	}
	return -EOPNOTSUPP;
}

/* Refuses what this disk cannot do: a write to a read-only one, a range outside it. */
static int raw_check(const struct disk_raw *raw, const struct disk_req *r)
{
	if (r->op != DISK_READ && raw->disk.readonly)
		return -EROFS;
	if (r->op != DISK_FLUSH && !raw_range_ok(raw, r->offset, r->len))
		return -EINVAL;
	return 0;
}

/* Puts @r on io_uring; false when it cannot (then serve it here). */
static bool raw_queue(struct disk_raw *raw, struct disk_req *r)
{
	struct io_uring_sqe *sqe;

	if (!raw->disk.async || !raw->has_ring)
		return false;
	sqe = io_uring_get_sqe(&raw->ring);
	if (!sqe)
		return false;
	/* The disk is the ring's registered file 0: the ring may name no other. */
	switch (r->op) {
	case DISK_READ:
		io_uring_prep_readv(sqe, RAW_FIXED_FD, r->iov, r->nr_iov, r->offset);
		break;
	case DISK_WRITE:
		io_uring_prep_writev(sqe, RAW_FIXED_FD, r->iov, r->nr_iov, r->offset);
		break;
	default:
		io_uring_prep_fsync(sqe, RAW_FIXED_FD, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN; /* after every write queued before it */
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, r);
	raw->disk.nr_queued++;
	return true;
}

static int raw_submit(struct disk *d, struct disk_req *r)
{
	struct disk_raw *raw = to_raw(d);

	r->result = raw_check(raw, r);
	if (r->result)
		return DISK_DONE;
	if (r->op != DISK_DISCARD && r->op != DISK_WRITE_ZEROES && raw_queue(raw, r))
		return DISK_QUEUED;
	r->result = raw_execute(raw, r);
	return DISK_DONE;
}

/* A queued request finished with @res (bytes, or -errno): a short one is finished here. */
static int raw_result(struct disk_raw *raw, struct disk_req *r, int res)
{
	struct iovec *rest = r->iov;
	unsigned int n;

	if (res < 0 || r->op == DISK_FLUSH)
		return res < 0 ? res : 0;
	if ((u64)res >= r->len)
		return 0;
	n = iov_advance(&rest, r->nr_iov, (size_t)res);
	return raw_rw_sync(raw->fd, rest, n, r->offset + (u64)res, r->op == DISK_WRITE);
}

static void raw_complete(struct disk_raw *raw, struct disk_req *r, int result)
{
	r->result = result;
	raw->disk.nr_queued--;
	raw->disk.complete(&raw->disk, r);
}

/*
 * io_uring refused to take what is left in its submission queue: serve
 * those requests the plain way, and every later one too.  The entries stay
 * in the queue as no-ops with no request, so nothing waits on them.
 */
static void raw_uring_broken(struct disk_raw *raw, int err)
{
	struct io_uring_sq *sq = &raw->ring.sq;
	unsigned int head = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	unsigned int tail = *sq->ktail;

	pr_warn_ratelimited("disk '%s': io_uring: %s; going on with preadv/pwritev", raw->path,
			    strerror(-err));
	raw->disk.async = false;
	for (; head != tail; head++) {
		struct io_uring_sqe *sqe = &sq->sqes[sq->array[head & sq->ring_mask]];
		struct disk_req *r = (struct disk_req *)(uintptr_t)sqe->user_data;

		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		if (r)
			raw_complete(raw, r, raw_execute(raw, r));
	}
}

static void raw_kick(struct disk *d)
{
	struct disk_raw *raw = to_raw(d);
	int ret;

	/*
	 * A short submission is fine: the kernel stopped at an entry it
	 * could not take and posted its error, and that completion brings
	 * the device back here (through reap) for the rest.  Once io_uring
	 * is given up, what it left is never submitted.
	 */
	while (raw->has_ring && d->async && io_uring_sq_ready(&raw->ring)) {
		ret = io_uring_submit(&raw->ring);
		if (ret >= 0)
			return;
		if (ret != -EINTR) {
			raw_uring_broken(raw, ret);
			return;
		}
	}
}

static unsigned int raw_reap(struct disk *d, bool wait)
{
	struct disk_raw *raw = to_raw(d);
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, done = 0;
	u64 count;

	if (!raw->has_ring)
		return 0;
	/* Cleared before looking, so a completion posted after this wakes the loop again. */
	if (d->event_fd >= 0 && read(d->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("disk '%s': completion eventfd: %s", raw->path,
				    strerror(errno));
	if (wait && d->nr_queued) {
		int ret = io_uring_wait_cqe(&raw->ring, &cqe);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
			pr_warn_ratelimited("disk '%s': io_uring wait: %s", raw->path,
					    strerror(-ret));
	}
	io_uring_for_each_cqe(&raw->ring, head, cqe) {
		struct disk_req *r = io_uring_cqe_get_data(cqe);

		seen++;
		if (!r)
			continue; /* a no-op left by raw_uring_broken() */
		raw_complete(raw, r, raw_result(raw, r, cqe->res));
		done++;
	}
	io_uring_cq_advance(&raw->ring, seen);
	/* What the kernel could not take before (a short submission) goes now. */
	raw_kick(d);
	return done;
}

static u64 raw_size(const struct disk *d)
{
	return to_raw(d)->size;
}

static void raw_ring_close(struct disk_raw *raw)
{
	if (raw->disk.event_fd >= 0)
		close(raw->disk.event_fd);
	raw->disk.event_fd = -1;
	/* Requests still in flight are cancelled or finish here. */
	if (raw->has_ring)
		io_uring_queue_exit(&raw->ring);
	raw->has_ring = false;
}

static void raw_close(struct disk *d)
{
	struct disk_raw *raw = to_raw(d);

	raw_ring_close(raw);
	/* Whatever the guest wrote reaches the disk, even without its flush. */
	if (raw->borrowed)
		goto out;
	if (!d->readonly)
		fdatasync(raw->fd);
	/*
	 * The ring registered the file and the kernel lets go of it a moment
	 * after the ring's exit: unlock now, or opening the image again at
	 * once (PATCH /drives back to it, an ephemeral disk's image check)
	 * would find it still locked.
	 */
	flock(raw->fd, LOCK_UN);
	close(raw->fd);
out:
	free(raw->path);
	free(raw);
}

static const struct disk_ops disk_raw_ops = {
	.read = raw_submit,
	.write = raw_submit,
	.flush = raw_submit,
	.discard = raw_submit,
	.write_zeroes = raw_submit,
	.size = raw_size,
	.kick = raw_kick,
	.reap = raw_reap,
	.close = raw_close,
};

/*
 * What the ring may do, once enabled: the kernel does io_uring's work
 * outside the I/O thread's seccomp filter, so the ring is held to what
 * this backend submits.  Reads, writes and flushes, each of the one
 * registered file (IOSQE_FIXED_FILE required, so no other descriptor of
 * the process can be named), optionally ordered after what came before
 * (IOSQE_IO_DRAIN); and no io_uring_register() call at all.
 */
static const struct io_uring_restriction raw_restrictions[] = {
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_IO_DRAIN },
};

/*
 * io_uring_register_restrictions() and io_uring_enable_rings() by hand:
 * Debian 12's liburing 2.3 declares them, but its shared library does not
 * export them (only liburing.a has them), so a dynamic build cannot link.
 * io_uring_register() is exported, and returns -errno.
 */
static int raw_ring_restrict(struct io_uring *ring)
{
	int ret = io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_RESTRICTIONS,
				    raw_restrictions, ARRAY_SIZE(raw_restrictions));

	if (ret < 0)
		return ret;
	ret = io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS,
				NULL, 0);
	return ret < 0 ? ret : 0;
}

/*
 * The ring starts disabled (IORING_SETUP_R_DISABLED): the disk file and
 * the completion eventfd are registered, the restrictions set, and only
 * then is it enabled.  Returns 0 or -errno; on error there is no ring.
 */
static int raw_ring_setup(struct disk_raw *raw)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	int ret = io_uring_queue_init_params(RAW_RING_ENTRIES, &raw->ring, &p);

	if (ret)
		return ret;
	raw->has_ring = true;
	ret = io_uring_register_files(&raw->ring, &raw->fd, 1);
	if (ret)
		goto err;
	raw->disk.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (raw->disk.event_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = io_uring_register_eventfd(&raw->ring, raw->disk.event_fd);
	if (!ret)
		ret = raw_ring_restrict(&raw->ring);
	if (ret)
		goto err;
	return 0;

err:
	raw_ring_close(raw);
	return ret;
}

/*
 * io_uring when the kernel can restrict it (Linux 5.10 and later), else
 * preadv/pwritev.  An unrestricted ring would be a way around the
 * seccomp filter, so it is not used as a fallback.
 */
static void raw_ring_open(struct disk_raw *raw)
{
	int ret = raw_ring_setup(raw);

	if (!ret) {
		raw->disk.async = true;
		return;
	}
	/* No io_uring at all (ENOSYS, or EPERM in a container) is not news. */
	if (ret != -ENOSYS && ret != -EPERM)
		pr_warn("disk '%s': no restricted io_uring (%s): using preadv/pwritev",
			raw->path, strerror(-ret));
}

/* A raw disk on @fd (taken unless @borrowed), its ring set up when the kernel allows. */
static int raw_new(int fd, u64 size, const char *path, bool readonly, bool borrowed,
		   struct disk **out)
{
	struct disk_raw *raw = calloc(1, sizeof(*raw));

	if (raw)
		raw->path = strdup(path);
	if (!raw || !raw->path) {
		free(raw);
		pr_err("disk '%s': %s", path, strerror(ENOMEM));
		if (!borrowed)
			close(fd);
		return -ENOMEM;
	}
	raw->disk = (struct disk){ .ops = &disk_raw_ops, .readonly = readonly, .event_fd = -1 };
	raw->fd = fd;
	raw->size = size;
	raw->borrowed = borrowed;
	raw_ring_open(raw);
	*out = &raw->disk;
	return 0;
}

int disk_raw_open(const char *path, bool readonly, struct disk **out)
{
	u64 size;
	int fd;

	fd = open_image_file(path, readonly, &size);
	if (fd < 0)
		return fd;
	return raw_new(fd, size, path, readonly, false, out);
}

int disk_raw_engine(int fd, const char *path, bool readonly, struct disk **out)
{
	int ret = raw_new(fd, UINT64_MAX, path, readonly, true, out);

	if (!ret && !(*out)->async) {
		disk_close(*out);
		return -EOPNOTSUPP;
	}
	return ret;
}

struct io_uring *disk_raw_ring(struct disk *d)
{
	struct disk_raw *raw = to_raw(d);

	return raw->has_ring ? &raw->ring : NULL;
}
