// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fake_disk.h"

static struct fake_disk *to_fake(const struct disk *d)
{
	return container_of(d, struct fake_disk, disk);
}

static void fake_disk_execute(struct fake_disk *fd, struct disk_req *r)
{
	r->result = 0;
	if (r->op == DISK_READ)
		iov_copy_to(r->iov, r->nr_iov, 0, fd->bytes + r->offset, r->len);
	else if (r->op == DISK_WRITE)
		iov_copy_from(r->iov, r->nr_iov, 0, fd->bytes + r->offset, r->len);
}

static int fake_disk_submit(struct disk *d, struct disk_req *r)
{
	struct fake_disk *fd = to_fake(d);
	int ret = DISK_QUEUED;

	pthread_mutex_lock(&fd->lock);
	if (fd->nr == fd->capacity) {
		ret = -EAGAIN;
	} else {
		fd->queue[fd->nr++] = r;
		fd->submitted++;
		fd->released += fd->auto_release;
		d->nr_queued++;
		pthread_cond_broadcast(&fd->changed);
	}
	pthread_mutex_unlock(&fd->lock);
	if (ret == DISK_QUEUED && fd->auto_release && eventfd_write(d->event_fd, 1))
		abort();
	return ret;
}

/* Completes the released requests; with @wait, waits for a release first. */
static unsigned int fake_disk_reap(struct disk *d, bool wait)
{
	struct fake_disk *fd = to_fake(d);
	struct disk_req *done[64];
	unsigned int n;
	u64 count;

	if (read(d->event_fd, &count, sizeof(count)) < 0)
		count = 0; /* nothing signalled */
	pthread_mutex_lock(&fd->lock);
	while (wait && fd->nr && !fd->released)
		pthread_cond_wait(&fd->changed, &fd->lock);
	n = MIN(fd->released, fd->nr);
	memcpy(done, fd->queue, n * sizeof(done[0]));
	memmove(fd->queue, fd->queue + n, (fd->nr - n) * sizeof(done[0]));
	fd->nr -= n;
	fd->released -= n;
	pthread_mutex_unlock(&fd->lock);
	for (unsigned int i = 0; i < n; i++) {
		fake_disk_execute(fd, done[i]);
		d->nr_queued--;
		d->complete(d, done[i]);
	}
	pthread_mutex_lock(&fd->lock);
	fd->completed += n;
	pthread_cond_broadcast(&fd->changed);
	pthread_mutex_unlock(&fd->lock);
	return n;
}

static u64 fake_disk_size(const struct disk *d)
{
	return sizeof(to_fake(d)->bytes);
}

static void fake_disk_close(struct disk *d)
{
	struct fake_disk *fd = to_fake(d);

	close(d->event_fd);
	pthread_cond_destroy(&fd->changed);
	pthread_mutex_destroy(&fd->lock);
	free(fd);
}

static const struct disk_ops fake_disk_ops = {
	.read = fake_disk_submit,
	.write = fake_disk_submit,
	.flush = fake_disk_submit,
	.size = fake_disk_size,
	.reap = fake_disk_reap,
	.close = fake_disk_close,
};

struct fake_disk *fake_disk_new(unsigned int capacity)
{
	struct fake_disk *fd = calloc(1, sizeof(*fd));

	fd->disk = (struct disk){ .ops = &fake_disk_ops, .async = true,
				  .event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	fd->capacity = capacity;
	pthread_mutex_init(&fd->lock, NULL);
	pthread_cond_init(&fd->changed, NULL);
	for (unsigned int i = 0; i < FAKE_DISK_SECTORS; i++)
		memset(fd->bytes + i * 512, 'A' + i % 26, 512);
	return fd;
}

/* Lets the @n oldest requests complete, and wakes the I/O thread to reap them. */
void fake_disk_release(struct fake_disk *fd, unsigned int n)
{
	u64 one = 1;

	pthread_mutex_lock(&fd->lock);
	fd->released += n;
	pthread_cond_broadcast(&fd->changed);
	pthread_mutex_unlock(&fd->lock);
	if (write(fd->disk.event_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Waits until the disk has seen @n submissions; false after 5 s. */
bool fake_disk_wait_submitted(struct fake_disk *fd, unsigned int n)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&fd->lock);
	while (ok && fd->submitted < n)
		ok = !pthread_cond_timedwait(&fd->changed, &fd->lock, &until);
	ok = fd->submitted >= n;
	pthread_mutex_unlock(&fd->lock);
	return ok;
}

static void threads_interrupt(void *opaque)
{
	struct blk_threads *t = opaque;

	pthread_mutex_lock(&t->lock);
	t->interrupts++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void threads_kicked(struct event_source *src, u32 events)
{
	struct blk_threads *t = container_of(src, struct blk_threads, kick);
	u64 count;

	if (read(src->fd, &count, sizeof(count)) == sizeof(count))
		virtio_dev_queue_notify(&t->blk.vdev, 0);
}

static void threads_called(struct event_source *src, u32 events)
{
	struct blk_threads *t = container_of(src, struct blk_threads, call);
	int (*fn)(struct blk_threads *t);
	u64 count;
	int ret;

	if (read(src->fd, &count, sizeof(count)) != sizeof(count))
		return;
	pthread_mutex_lock(&t->lock);
	fn = t->call_fn;
	pthread_mutex_unlock(&t->lock);
	ret = fn(t);
	pthread_mutex_lock(&t->lock);
	t->call_ret = ret;
	t->call_done = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void *threads_io(void *arg)
{
	event_loop_run(&((struct blk_threads *)arg)->loop);
	return NULL;
}

int threads_start(struct blk_threads *t, unsigned int capacity)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	fake_driver_init(&t->drv, 8);
	t->disk = fake_disk_new(capacity);
	if (event_loop_init(&t->loop) ||
	    virtio_blk_init(&t->blk, &t->disk->disk, NULL, 0, &t->drv.mem, &t->loop))
		return -EIO;
	t->blk.vdev.interrupt = threads_interrupt;
	t->blk.vdev.interrupt_opaque = t;
	fake_bring_up(&t->blk.vdev, FAKE_DESC, 0);
	t->kick = (struct event_source){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
					 .ready = threads_kicked };
	t->call = (struct event_source){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
					 .ready = threads_called };
	if (event_loop_add(&t->loop, &t->kick, EPOLLIN) ||
	    event_loop_add(&t->loop, &t->call, EPOLLIN))
		return -EIO;
	return pthread_create(&t->io, NULL, threads_io, t) ? -EIO : 0;
}

void threads_stop(struct blk_threads *t)
{
	event_loop_stop(&t->loop);
	pthread_join(t->io, NULL);
	virtio_blk_close(&t->blk);
	close(t->kick.fd);
	close(t->call.fd);
	event_loop_destroy(&t->loop);
	fake_driver_free(&t->drv);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

void threads_kick(struct blk_threads *t)
{
	u64 one = 1;

	if (write(t->kick.fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Posts a read of @sector into @data (512 bytes), status at @stat. */
void threads_post_read(struct blk_threads *t, u64 hdr, u64 sector, u64 data, u64 stat)
{
	struct virtio_blk_outhdr *h = fake_hva(&t->drv, hdr);
	struct fake_seg segs[3] = { { hdr, sizeof(*h), false }, { data, 512, true },
				    { stat, 1, true } };

	h->type = htole32(VIRTIO_BLK_T_IN);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(u8 *)fake_hva(&t->drv, stat) = 0xff;
	fake_post(&t->drv, segs, 3, false);
}

/* Waits for the device's interrupts to reach @n; false after 5 s. */
bool threads_wait_interrupts(struct blk_threads *t, unsigned int n)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&t->lock);
	while (t->interrupts < n && !pthread_cond_timedwait(&t->cond, &t->lock, &until))
		;
	ok = t->interrupts >= n;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* A vCPU writing 0 to Status: the driver resets the device. */
void *threads_reset(void *arg)
{
	struct blk_threads *t = arg;

	virtio_mmio_ops.write(&t->blk.vdev, VIRTIO_MMIO_STATUS, 0, 4);
	pthread_mutex_lock(&t->lock);
	t->reset_returned = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/*
 * Waits up to @ms for @flag (under t->lock) and returns it.  Where the
 * flag must stay false while the disk holds a request, the wait only
 * bounds how long a correct device is given to show it waits: the
 * verdict is what happened, not when.
 */
bool threads_wait(struct blk_threads *t, const bool *flag, long ms)
{
	struct timespec until;
	bool set;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&t->lock);
	while (!*flag && !pthread_cond_timedwait(&t->cond, &t->lock, &until))
		;
	set = *flag;
	pthread_mutex_unlock(&t->lock);
	return set;
}

/* Has the I/O thread run @fn (it waits up to @ms)?  Its return value in *@ret. */
bool threads_call(struct blk_threads *t, int (*fn)(struct blk_threads *t), long ms,
			 int *ret)
{
	pthread_mutex_lock(&t->lock);
	t->call_fn = fn;
	t->call_done = false;
	pthread_mutex_unlock(&t->lock);
	if (eventfd_write(t->call.fd, 1))
		abort();
	if (!threads_wait(t, &t->call_done, ms))
		return false;
	*ret = t->call_ret;
	return true;
}

/* Waits for a call that threads_call() left running. */
bool threads_call_done(struct blk_threads *t, int *ret)
{
	if (!threads_wait(t, &t->call_done, 5000))
		return false;
	*ret = t->call_ret;
	return true;
}

int disk_rw_wait(struct disk *d, enum disk_op op, u64 off, void *buf, u64 len)
{
	struct iovec iov = { buf, len };
	struct disk_req r = { .op = op, .offset = off, .len = len, .iov = &iov, .nr_iov = 1 };
	int ret = disk_submit(d, &r);

	if (ret == DISK_QUEUED) {
		disk_kick(d);
		while (d->nr_queued)
			disk_reap(d, true);
	}
	return ret < 0 ? ret : r.result;
}
