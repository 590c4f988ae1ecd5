// SPDX-License-Identifier: Apache-2.0
/* A stand-in FUSE server for the virtio-fs device's tests (fake_fuse_server.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_fuse_server.h"
#include "virtqueue.h"

struct fuse_server {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	u64 block_unique;              /* 0: none */
	bool released;
	unsigned int blocked;          /* requests waiting in the handler */
	struct fuse_server_stats stats;
};

int fake_fuse_create(struct fuse_server **out, const struct share_config *cfg __unused)
{
	struct fuse_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	*out = s;
	return 0;
}

void fake_fuse_destroy(struct fuse_server *s)
{
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static u64 iov_total(const struct iovec *iov, unsigned int n)
{
	u64 len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* Holds a request fake_fuse_block() named until fake_fuse_release(). */
static void fake_maybe_block(struct fuse_server *s, u64 unique)
{
	pthread_mutex_lock(&s->lock);
	if (s->block_unique && unique == s->block_unique) {
		s->blocked++;
		pthread_cond_broadcast(&s->changed);
		while (!s->released)
			pthread_cond_wait(&s->changed, &s->lock);
		s->blocked--;
	}
	pthread_mutex_unlock(&s->lock);
}

ssize_t fake_fuse_handle(struct fuse_server *s, const struct iovec *in, unsigned int nr_in,
			 const struct iovec *out, unsigned int nr_out)
{
	struct fuse_in_header ih;
	struct fuse_out_header oh;

	if (iov_copy_from(in, nr_in, 0, &ih, sizeof(ih)) != sizeof(ih))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->stats.requests++;
	pthread_mutex_unlock(&s->lock);
	fake_maybe_block(s, ih.unique);
	if (ih.opcode == FUSE_FORGET || ih.opcode == FUSE_BATCH_FORGET)
		return 0;
	if (iov_total(out, nr_out) < FAKE_FUSE_REPLY_LEN)
		return -EINVAL;
	oh = (struct fuse_out_header){ .len = FAKE_FUSE_REPLY_LEN, .error = 0, .unique = ih.unique };
	iov_copy_to(out, nr_out, 0, &oh, sizeof(oh));
	iov_copy_to(out, nr_out, sizeof(oh), FAKE_FUSE_PAYLOAD, FAKE_FUSE_PAYLOAD_LEN);
	return FAKE_FUSE_REPLY_LEN;
}

void fake_fuse_get_stats(struct fuse_server *s, struct fuse_server_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->stats;
	pthread_mutex_unlock(&s->lock);
}

void fake_fuse_block(struct fuse_server *s, u64 unique)
{
	pthread_mutex_lock(&s->lock);
	s->block_unique = unique;
	s->released = false;
	pthread_mutex_unlock(&s->lock);
}

void fake_fuse_release(struct fuse_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->released = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

bool fake_fuse_wait_blocked(struct fuse_server *s, unsigned int n)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->blocked < n && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&s->changed, &s->lock, &deadline);
	ret = s->blocked >= n;
	pthread_mutex_unlock(&s->lock);
	return ret;
}
