// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2's fast path: a guest request that lies in one run of allocated
 * clusters is the raw file's bytes at another offset, so it goes to the
 * raw backend's restricted io_uring on the image's own descriptor, queued
 * like a raw disk's and completed through its eventfd.  Everything else
 * (allocation, copy-on-write, backing files, compressed or zero clusters,
 * flushes) is served in the submit, as before.
 *
 * Why this is safe beside the synchronous path: the engine only ever gets
 * clusters that are allocated and stay where they are (a write needs them
 * ours alone, so it never moves them); metadata is never written through
 * it; and a cluster freed by a discard is never handed out again while the
 * image is open (allocation takes new clusters at the end of the file), so
 * a request still in flight to it can hit nothing else.  A flush covers
 * what completed before it, as include/disk.h asks, and nothing completes
 * before the engine reports it.
 */
#include <errno.h>
#include <stdlib.h>

#include "backends/disk_raw.h"
#include "backends/qcow2.h"

static struct qcow2 *engine_owner(const struct disk *engine)
{
	return engine->opaque;
}

/* The engine finished @sub: the guest's request completes with its result. */
static void aio_done(struct disk *engine, struct disk_req *sub)
{
	struct qcow2 *q = engine_owner(engine);
	struct qcow2_aio *a = container_of(sub, struct qcow2_aio, sub);
	struct disk_req *r = a->orig;

	r->result = sub->result;
	a->next_free = q->aio_free;
	q->aio_free = (unsigned int)(a - q->aio);
	q->disk.nr_queued--;
	q->disk.complete(&q->disk, r);
}

void qcow2_aio_open(struct qcow2 *q)
{
	q->aio = calloc(QCOW2_AIO_MAX, sizeof(*q->aio));
	if (!q->aio || disk_raw_engine(q->fd, q->path, q->disk.readonly, &q->engine)) {
		free(q->aio);
		q->aio = NULL;
		q->engine = NULL;
		return;
	}
	for (unsigned int i = 0; i < QCOW2_AIO_MAX; i++)
		q->aio[i].next_free = i + 1;
	q->aio_free = 0;
	q->engine->complete = aio_done;
	q->engine->opaque = q;
	q->disk.event_fd = q->engine->event_fd;
	q->disk.async = true;
}

void qcow2_aio_close(struct qcow2 *q)
{
	disk_close(q->engine);
	q->engine = NULL;
	q->disk.event_fd = -1;
	free(q->aio);
	q->aio = NULL;
}

int qcow2_aio_submit(struct qcow2 *q, struct disk_req *r)
{
	struct qcow2_aio *a;
	u64 host;
	int ret;

	if (!q->engine || !q->disk.async || !q->engine->async || q->aio_free >= QCOW2_AIO_MAX ||
	    !qcow2_one_run(q, r, &host))
		return -ENOENT;
	a = &q->aio[q->aio_free];
	a->sub = (struct disk_req){ .op = r->op, .offset = host, .len = r->len, .iov = r->iov,
				    .nr_iov = r->nr_iov };
	a->orig = r;
	ret = disk_submit(q->engine, &a->sub);
	if (ret != DISK_QUEUED) {
		/* Served at once (the ring was full): the slot was never taken. */
		r->result = ret < 0 ? ret : a->sub.result;
		return DISK_DONE;
	}
	q->aio_free = a->next_free;
	q->disk.nr_queued++;
	return DISK_QUEUED;
}
