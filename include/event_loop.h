/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_EVENT_LOOP_H
#define ARKVM_EVENT_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * An epoll loop that calls back when a file descriptor is ready.  The
 * owner embeds a struct event_source in its own state and finds its way
 * back with container_of(), so adding a source allocates nothing.
 */
struct event_source {
	int fd;
	void (*ready)(struct event_source *src, uint32_t events);
	/* Set by event_loop_retire(): */
	void (*release)(struct event_source *src);
	struct event_source *next_retired;
	atomic_bool retired;
};

struct event_loop {
	int epoll_fd;
	int wake_fd;          /* eventfd: event_loop_stop() from any thread */
	struct event_source wake;
	atomic_bool stopped;
	pthread_mutex_t retired_lock;
	struct event_source *retired;   /* released after the batch in flight */
};

int event_loop_init(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events);
int event_loop_mod(struct event_loop *loop, struct event_source *src, uint32_t events);
int event_loop_del(struct event_loop *loop, struct event_source *src);

/*
 * For a source whose owner is about to free it: stops watching it, and
 * calls @release once no event of the batch in flight can still reach it
 * (a batch may hold an event for a source another callback ends).  Its
 * ready() is not called again.  Any thread; the owner closes the fd when
 * it likes, even at once.
 */
void event_loop_retire(struct event_loop *loop, struct event_source *src,
		       void (*release)(struct event_source *src));

/* Dispatches until event_loop_stop(); returns 0 or -errno. */
int event_loop_run(struct event_loop *loop);
/* Waits up to @timeout_ms for one round of events: how many, or -errno. */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);

/* Safe to call from any thread and from a callback. */
void event_loop_stop(struct event_loop *loop);

#endif
