/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_FS_H
#define ARKVM_VIRTIO_FS_H

#include <linux/virtio_fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "fuse_server.h"
#include "virtio_mmio.h"

/*
 * virtio-fs (devices/virtio_fs.c): one device per --share, its requests
 * served by the share's own worker threads through the FUSE server
 * (include/fuse_server.h).  Queue 0 is the high-priority queue (FORGET),
 * queue 1 the one request queue: Linux spreads its requests over however
 * many there are, and the workers already serve one queue's requests in
 * parallel, out of order.  No notification queue, no DAX window.
 */
#define VIRTIO_FS_HIPRIO_Q     0
#define VIRTIO_FS_REQUEST_Q    1
#define VIRTIO_FS_NR_REQUEST_Q 1
#define VIRTIO_FS_NR_QUEUES    (1 + VIRTIO_FS_NR_REQUEST_Q)
/*
 * Linux caps a request's pages at the queue size less its headers: a
 * queue this long carries FUSE_MAX_WRITE (256 pages) in one chain.
 */
#define VIRTIO_FS_QUEUE_SIZE   VIRTQ_MAX_SIZE

/*
 * Worker threads: a blocking call (an fsync, a slow disk) holds one of
 * a share's, never the I/O thread or another share.  Every share gets
 * at least the minimum; the total stays under the cap however many
 * shares there are (CFG_MAX_SHARES of them get the minimum each).
 */
#define VIRTIO_FS_MIN_WORKERS   2
#define VIRTIO_FS_MAX_WORKERS   4
#define VIRTIO_FS_TOTAL_WORKERS 16

/*
 * How the device reaches its share's server: fuse_server_handle() in
 * arkvm, a fake in the unit tests (so both can live in one test binary).
 */
typedef ssize_t virtio_fs_handle_fn(struct fuse_server *s, const struct iovec *in,
				    unsigned int nr_in, const struct iovec *out,
				    unsigned int nr_out);

struct virtio_fs;

struct virtio_fs_worker {
	struct virtio_fs *fs;
	pthread_t thread;
	bool started;
	struct virtq_chain chain;       /* the request it serves */
};

struct virtio_fs {
	struct virtio_dev vdev;
	struct virtio_fs_config config;
	char name[16 + CFG_SHARE_TAG_MAX];  /* "virtio-fs <tag>", for warnings */
	struct fuse_server *server;
	virtio_fs_handle_fn *handle;
	bool seccomp;                   /* workers enter SANDBOX_FS */

	/* Under vdev.lock: */
	pthread_cond_t work;            /* a worker may find a chain: a kick, a resume */
	pthread_cond_t idle;            /* no request in flight; or a worker started */
	unsigned int in_flight;         /* requests taken, not yet answered */
	/* Requests ever taken; never reset, as the server keeps what they did. */
	unsigned long taken;
	unsigned int resetting;         /* resets waiting for in_flight to drain */
	bool quiesced;                  /* take nothing until resume */
	bool stopping;                  /* workers leave */
	unsigned int nr_started;        /* workers that got as far as their filter */
	int start_err;                  /* the first worker's failure to start */

	unsigned int nr_workers;
	struct virtio_fs_worker *workers;

	atomic_ulong bad_chains;        /* --stats: chains the device refused */
};

/*
 * Builds the device for @share (the tag in its config space) over
 * @server, answered through @handle, and starts @nr_workers workers
 * (clamped to VIRTIO_FS_MIN_WORKERS..VIRTIO_FS_MAX_WORKERS), each of
 * which enters its seccomp filter first when @seccomp.  Main thread, at
 * start-up: 0, or -errno with one line said and nothing left running.
 * The server stays the caller's: destroy it after virtio_fs_close().
 */
int virtio_fs_init(struct virtio_fs *fs, const struct share_config *share,
		   struct fuse_server *server, virtio_fs_handle_fn *handle,
		   unsigned int nr_workers, bool seccomp, const struct guest_mem *mem);
/* Stops and joins the workers (each finishes the request it serves). */
void virtio_fs_close(struct virtio_fs *fs);

/*
 * Pause: requests in flight finish (and are returned to the guest), and
 * no worker takes another until resume.  Any thread but a worker.
 */
int virtio_fs_quiesce(struct virtio_fs *fs);
void virtio_fs_resume(struct virtio_fs *fs);

/*
 * Snapshots.  The FUSE server's state (inodes and handles: host
 * descriptors the guest holds by number) cannot go in a file, so only a
 * device whose server has seen no request and has none waiting in a
 * ring is saved: Linux's driver sends nothing before the guest mounts
 * (FUSE_INIT comes with the mount).  Such a device is its transport's
 * state and a marker; the restored one, over a fresh server for the
 * share the restoring config names, serves the guest's mount when it
 * comes.  Quiesced, on any thread but a worker:
 * virtio_fs_can_save() is 0, or -EBUSY with one line in @why naming the
 * share's tag; virtio_fs_save() refuses the same (said on stderr);
 * virtio_fs_restore() takes the marker back, -EINVAL for other bytes.
 */
struct state_writer;
struct state_reader;
int virtio_fs_can_save(struct virtio_fs *fs, char *why, size_t len);
int virtio_fs_save(struct virtio_fs *fs, struct state_writer *w);
int virtio_fs_restore(struct virtio_fs *fs, struct state_reader *r);

/* How many workers a share gets when @nr_shares shares are configured. */
unsigned int virtio_fs_workers_per_share(unsigned int nr_shares);

#endif
