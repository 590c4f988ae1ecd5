// SPDX-License-Identifier: Apache-2.0
#include <errno.h>

#include "park.h"

int park_init(struct park *p)
{
	int ret = pthread_mutex_init(&p->lock, NULL);

	if (ret)
		return -ret;
	ret = pthread_cond_init(&p->changed, NULL);
	if (ret) {
		pthread_mutex_destroy(&p->lock);
		return -ret;
	}
	atomic_init(&p->requested, false);
	p->parked = p->gone = 0;
	return 0;
}

void park_destroy(struct park *p)
{
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
}

void park_request(struct park *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->requested, true);
	pthread_mutex_unlock(&p->lock);
}

void park_wait(struct park *p, unsigned int nr_threads)
{
	pthread_mutex_lock(&p->lock);
	while (p->parked + p->gone < nr_threads)
		pthread_cond_wait(&p->changed, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void park_release(struct park *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->requested, false);
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

bool park_point(struct park *p)
{
	if (!park_requested(p))
		return false;
	pthread_mutex_lock(&p->lock);
	if (!atomic_load(&p->requested)) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	p->parked++;
	pthread_cond_broadcast(&p->changed);
	while (atomic_load(&p->requested))
		pthread_cond_wait(&p->changed, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
	return true;
}

void park_leave(struct park *p)
{
	pthread_mutex_lock(&p->lock);
	p->gone++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}
