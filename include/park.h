/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_PARK_H
#define ARKVM_PARK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/*
 * Holding a group of threads at a safe point, as pause needs: the vCPU
 * threads outside KVM_RUN, the I/O thread with every device quiesced.
 * One thread (the main one) asks, each thread of the group calls
 * park_point() where stopping is safe, and the asker waits until all of
 * them are there.  A thread that ends for good says so with park_leave(),
 * so nobody waits for it.
 */
struct park {
	pthread_mutex_t lock;
	pthread_cond_t changed;   /* parked, gone or released changed */
	atomic_bool requested;
	unsigned int parked;      /* threads waiting in park_point() now */
	unsigned int gone;        /* threads that called park_leave() */
};

int park_init(struct park *p);
void park_destroy(struct park *p);

/* The asker: hold the threads at their next park_point(). */
void park_request(struct park *p);
/* The asker: wait until @nr_threads are parked or gone. */
void park_wait(struct park *p, unsigned int nr_threads);
/* The asker: let them go on (also what a stop does, so they can end). */
void park_release(struct park *p);

/* Cheap enough for every loop round: whether a park is asked for. */
static inline bool park_requested(struct park *p)
{
	return atomic_load(&p->requested);
}

/*
 * A thread of the group, at a safe point: returns false at once when no
 * park is asked for, else waits until park_release() and returns true.
 */
bool park_point(struct park *p);
/* A thread of the group that ends: it will not come to park_point() again. */
void park_leave(struct park *p);

#endif
