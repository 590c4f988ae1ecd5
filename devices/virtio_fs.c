// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs: the guest's FUSE requests, served by arkvm's own FUSE server
 * (include/fuse_server.h) on the share's worker threads.
 *
 * File-system calls block (an fsync, a directory on a slow disk), so
 * neither the I/O thread nor a vCPU ever makes one.  A kick (the queue's
 * ioeventfd, on the I/O thread) only wakes a worker.  A worker takes a
 * chain off the ring under vdev.lock, wakes another for the next one, and
 * serves its request with the lock dropped; then it returns the chain
 * (out of order: the used ring says which) and interrupts the guest.  So
 * one slow request holds one worker, and the share's others go on.
 *
 * A chain taken points into guest RAM until it is answered.  A reset
 * (the driver reuses its pages once its Status write returns) and a
 * quiesce (nothing may land in a paused guest) wait until every request
 * in flight is; one taken before a reset or a failure is answered into
 * nothing: its generation is gone, and its rings with it.
 */
#include <endian.h>
#include <errno.h>
#include <linux/fuse.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"
#include "state.h"
#include "virtio_fs.h"

/* A snapshot's only word of the device's own: it has served nothing. */
#define VIRTIO_FS_STATE_PRISTINE 1

/*
 * Plenty for a request's own frames; the server keeps its big buffers
 * (a READDIR's entries) off the stack.
 */
#define VIRTIO_FS_STACK_SIZE (512 * 1024)

static unsigned int clamp_workers(unsigned int n)
{
	return MAX(VIRTIO_FS_MIN_WORKERS, MIN(n, VIRTIO_FS_MAX_WORKERS));
}

static struct virtio_fs *vfs_of(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_fs, vdev);
}

unsigned int virtio_fs_workers_per_share(unsigned int nr_shares)
{
	unsigned int n = nr_shares ? VIRTIO_FS_TOTAL_WORKERS / nr_shares : VIRTIO_FS_MAX_WORKERS;

	return clamp_workers(n);
}

/* May a worker take a chain now?  Not while a reset or a quiesce drains. */
static bool vfs_taking(const struct virtio_fs *fs)
{
	return !fs->stopping && !fs->quiesced && !fs->resetting && virtio_dev_running(&fs->vdev);
}

/*
 * The next chain, from the high-priority queue (FORGETs: they free the
 * server's inodes) before the request queue: 1 with *@q set, 0 when both
 * are empty (and the driver is told to kick), -errno for a broken ring.
 * vdev.lock held.
 */
static int vfs_take(struct virtio_fs *fs, struct virtq_chain *c, unsigned int *q)
{
	struct virtio_dev *dev = &fs->vdev;
	bool more;

	if (!vfs_taking(fs))
		return 0;
	do {
		more = false;
		for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++) {
			int ret = dev->vqs[i].size ? virtq_pop(&dev->vqs[i], c) : 0;

			if (ret) {
				*q = i;
				return ret;
			}
		}
		for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++)
			more |= virtq_enable_notify(&dev->vqs[i]);
	} while (more);
	return 0;
}

/* The driver broke the rules: the device needs a reset.  vdev.lock held. */
static void vfs_fail(struct virtio_fs *fs, const char *why, int err)
{
	atomic_fetch_add_explicit(&fs->bad_chains, 1, memory_order_relaxed);
	virtio_dev_fail(&fs->vdev, why, err);
}

/*
 * One request, no lock held: the bytes the server wrote into the chain,
 * or -errno when the chain cannot carry a request and its answer.
 */
static ssize_t vfs_handle(struct virtio_fs *fs, const struct virtq_chain *c)
{
	ssize_t n;

	if (c->out_len < sizeof(struct fuse_in_header))
		return -EINVAL;
	n = fs->handle(fs->server, c->iov, c->nr_out, c->iov + c->nr_out, c->nr_in);
	if (n > 0 && ((u64)n > c->in_len || (u64)n > UINT32_MAX))
		return -EOVERFLOW; /* the server says it wrote more than there was room for */
	return n;
}

/* Gives the answered chain back, unless its rings are gone.  vdev.lock held. */
static void vfs_complete(struct virtio_fs *fs, unsigned int q, const struct virtq_chain *c,
			 ssize_t n)
{
	struct virtio_dev *dev = &fs->vdev;

	if (c->generation != dev->generation || fs->resetting)
		return; /* reset or failed meanwhile: the chain is the old rings' */
	if (n < 0) {
		vfs_fail(fs, "FUSE request without room for its header or reply", (int)n);
		return;
	}
	virtq_push(&dev->vqs[q], c->head, (u32)n);
	virtio_dev_notify_used(dev, q);
}

/* Serves the chain just taken: called and returns with vdev.lock held. */
static void vfs_serve(struct virtio_fs *fs, struct virtio_fs_worker *w, unsigned int q)
{
	struct virtio_dev *dev = &fs->vdev;
	struct virtq_chain *c = &w->chain;
	ssize_t n;

	c->generation = dev->generation;
	fs->in_flight++;
	fs->taken++;
	/* The next chain is another worker's: woken only if there is one. */
	for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++) {
		if (virtq_has_avail(&dev->vqs[i])) {
			pthread_cond_signal(&fs->work);
			break;
		}
	}
	pthread_mutex_unlock(&dev->lock);
	n = vfs_handle(fs, c);
	pthread_mutex_lock(&dev->lock);
	fs->in_flight--;
	vfs_complete(fs, q, c, n);
	if (!fs->in_flight)
		pthread_cond_broadcast(&fs->idle);
}

static void vfs_serve_loop(struct virtio_fs *fs, struct virtio_fs_worker *w)
{
	struct virtio_dev *dev = &fs->vdev;
	unsigned int q = 0;

	while (!fs->stopping) {
		int ret = vfs_take(fs, &w->chain, &q);

		if (ret > 0)
			vfs_serve(fs, w, q);
		else if (ret < 0)
			vfs_fail(fs, "malformed descriptor chain", ret);
		else
			pthread_cond_wait(&fs->work, &dev->lock);
	}
}

static void *vfs_worker(void *arg)
{
	struct virtio_fs_worker *w = arg;
	struct virtio_fs *fs = w->fs;
	struct virtio_dev *dev = &fs->vdev;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "fs-%s", fs->name + strlen("virtio-fs "));
	pthread_setname_np(pthread_self(), name);
	err = sandbox_enter(SANDBOX_FS, fs->seccomp);
	pthread_mutex_lock(&dev->lock);
	fs->nr_started++;
	if (err && !fs->start_err)
		fs->start_err = err;
	pthread_cond_broadcast(&fs->idle);
	if (!err)
		vfs_serve_loop(fs, w);
	pthread_mutex_unlock(&dev->lock);
	return NULL;
}

/* A kick (I/O thread, vdev.lock held): wake one worker; it wakes the next. */
static void vfs_queue_notify(struct virtio_dev *dev, unsigned int q __unused)
{
	pthread_cond_signal(&vfs_of(dev)->work);
}

/* DRIVER_OK: chains the driver posted before it are served now. */
static int vfs_activate(struct virtio_dev *dev)
{
	pthread_cond_broadcast(&vfs_of(dev)->work);
	return 0;
}

/*
 * The driver resets the device (a vCPU's Status write, vdev.lock held):
 * every request in flight is finished first, and none is returned into
 * the old rings; no worker takes a new one meanwhile.
 */
static void vfs_reset(struct virtio_dev *dev)
{
	struct virtio_fs *fs = vfs_of(dev);

	fs->resetting++;
	while (fs->in_flight)
		pthread_cond_wait(&fs->idle, &dev->lock);
	fs->resetting--;
}

/* VERSION_1 (the transport's) and nothing of its own: no notification queue. */
static u64 vfs_features(struct virtio_dev *dev __unused)
{
	return 0;
}

static const struct virtio_dev_ops virtio_fs_ops = {
	.features = vfs_features,
	.activate = vfs_activate,
	.queue_notify = vfs_queue_notify,
	.reset = vfs_reset,
};

int virtio_fs_quiesce(struct virtio_fs *fs)
{
	struct virtio_dev *dev = &fs->vdev;

	pthread_mutex_lock(&dev->lock);
	fs->quiesced = true;
	while (fs->in_flight)
		pthread_cond_wait(&fs->idle, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

void virtio_fs_resume(struct virtio_fs *fs)
{
	struct virtio_dev *dev = &fs->vdev;

	pthread_mutex_lock(&dev->lock);
	fs->quiesced = false;
	pthread_cond_broadcast(&fs->work); /* what the guest queued meanwhile */
	pthread_mutex_unlock(&dev->lock);
}

/*
 * Has the server seen nothing, and does nothing wait for it?  A chain
 * left in a ring (posted while quiesced) would reach the server after a
 * restore too; refusing it as well keeps the rule simple: the guest has
 * not started to mount.  vdev.lock held.
 */
static bool vfs_pristine(struct virtio_fs *fs)
{
	struct virtio_dev *dev = &fs->vdev;

	if (fs->taken)
		return false;
	for (unsigned int i = 0; i < VIRTIO_FS_NR_QUEUES; i++)
		if (dev->vqs[i].size && virtq_has_avail(&dev->vqs[i]))
			return false;
	return true;
}

int virtio_fs_can_save(struct virtio_fs *fs, char *why, size_t len)
{
	const char *tag = fs->name + strlen("virtio-fs ");
	bool pristine;

	pthread_mutex_lock(&fs->vdev.lock);
	pristine = vfs_pristine(fs);
	pthread_mutex_unlock(&fs->vdev.lock);
	if (pristine)
		return 0;
	snprintf(why, len, "the share '%s' is mounted in the guest: a VM with a mounted --share "
		 "cannot be snapshotted", tag);
	return -EBUSY;
}

int virtio_fs_save(struct virtio_fs *fs, struct state_writer *w)
{
	char why[128 + CFG_SHARE_TAG_MAX];
	int ret = virtio_fs_can_save(fs, why, sizeof(why));

	if (ret) {
		pr_err("%s", why);
		return ret;
	}
	state_put_u32(w, VIRTIO_FS_STATE_PRISTINE);
	return w->err;
}

int virtio_fs_restore(struct virtio_fs *fs __unused, struct state_reader *r)
{
	return state_check(r, state_get_u32(r) == VIRTIO_FS_STATE_PRISTINE);
}

/* Stops the workers that started and waits for them. */
static void vfs_stop_workers(struct virtio_fs *fs)
{
	struct virtio_dev *dev = &fs->vdev;

	pthread_mutex_lock(&dev->lock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->work);
	pthread_mutex_unlock(&dev->lock);
	for (unsigned int i = 0; i < fs->nr_workers; i++)
		if (fs->workers[i].started)
			pthread_join(fs->workers[i].thread, NULL);
	free(fs->workers);
	fs->workers = NULL;
	fs->nr_workers = 0;
}

/* Starts @n workers and waits until each is in its filter (or said why not). */
static int vfs_start_workers(struct virtio_fs *fs, unsigned int n)
{
	struct virtio_dev *dev = &fs->vdev;
	unsigned int started = 0;
	pthread_attr_t attr;
	int ret;

	fs->workers = calloc(n, sizeof(*fs->workers));
	if (!fs->workers)
		return -ENOMEM;
	fs->nr_workers = n;
	ret = -pthread_attr_init(&attr);
	if (!ret)
		ret = -pthread_attr_setstacksize(&attr, VIRTIO_FS_STACK_SIZE);
	for (unsigned int i = 0; !ret && i < n; i++) {
		fs->workers[i].fs = fs;
		ret = -pthread_create(&fs->workers[i].thread, &attr, vfs_worker, &fs->workers[i]);
		fs->workers[i].started = !ret;
		started += !ret;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&dev->lock);
	while (fs->nr_started < started)
		pthread_cond_wait(&fs->idle, &dev->lock);
	if (!ret)
		ret = fs->start_err;
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

int virtio_fs_init(struct virtio_fs *fs, const struct share_config *share,
		   struct fuse_server *server, virtio_fs_handle_fn *handle,
		   unsigned int nr_workers, bool seccomp, const struct guest_mem *mem)
{
	size_t tag_len = strnlen(share->tag, CFG_SHARE_TAG_MAX);
	int ret;

	/* The tag fills the field, NUL-padded and not terminated when 36 bytes long. */
	memset(&fs->config, 0, sizeof(fs->config));
	memcpy(fs->config.tag, share->tag, tag_len);
	fs->config.num_request_queues = htole32(VIRTIO_FS_NR_REQUEST_Q);
	snprintf(fs->name, sizeof(fs->name), "virtio-fs %.*s", (int)tag_len, share->tag);
	virtio_dev_init(&fs->vdev, &virtio_fs_ops, fs->name, VIRTIO_ID_FS, VIRTIO_FS_NR_QUEUES,
			VIRTIO_FS_QUEUE_SIZE, mem);
	fs->vdev.config = &fs->config;
	fs->vdev.config_len = sizeof(fs->config);
	fs->server = server;
	fs->handle = handle;
	fs->seccomp = seccomp;
	pthread_cond_init(&fs->work, NULL);
	pthread_cond_init(&fs->idle, NULL);
	ret = vfs_start_workers(fs, clamp_workers(nr_workers));
	if (ret) {
		pr_err("--share %s: cannot start its worker threads: %s", share->path, strerror(-ret));
		vfs_stop_workers(fs);
		pthread_cond_destroy(&fs->work);
		pthread_cond_destroy(&fs->idle);
		virtio_dev_destroy(&fs->vdev);
	}
	return ret;
}

void virtio_fs_close(struct virtio_fs *fs)
{
	vfs_stop_workers(fs);
	pthread_cond_destroy(&fs->work);
	pthread_cond_destroy(&fs->idle);
	virtio_dev_destroy(&fs->vdev);
}
