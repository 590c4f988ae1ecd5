// SPDX-License-Identifier: Apache-2.0
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "event_loop.h"
#include "test.h"

/*
 * Two ready sources in one batch, each of which ends the other when it
 * runs first (as vsock does when a receive kick finds a connection's
 * socket at EOF while that socket's own event waits in the batch).
 */
struct peer {
	struct event_source src;
	struct event_loop *loop;
	struct peer *other;
	int *ran, *released;
};

static void peer_release(struct event_source *src)
{
	struct peer *p = container_of(src, struct peer, src);

	++*p->released;
	close(p->src.fd);
	free(p);
}

static void peer_ready(struct event_source *src, uint32_t events __unused)
{
	struct peer *p = container_of(src, struct peer, src);

	++*p->ran;
	if (p->other) {
		p->other->other = NULL;
		event_loop_retire(p->loop, &p->other->src, peer_release);
		p->other = NULL;
	}
}

static struct peer *peer_new(struct event_loop *loop, int *ran, int *released)
{
	struct peer *p = calloc(1, sizeof(*p));

	p->src = (struct event_source){ .fd = eventfd(1, EFD_CLOEXEC), .ready = peer_ready };
	p->loop = loop;
	p->ran = ran;
	p->released = released;
	return p;
}

static void retired_source_is_not_called_and_freed_after_the_batch(void)
{
	struct event_loop loop;
	int ran[2] = { 0, 0 }, released = 0;
	struct peer *a, *b, *survivor;

	CHECK_EQ(event_loop_init(&loop), 0);
	a = peer_new(&loop, &ran[0], &released);
	b = peer_new(&loop, &ran[1], &released);
	a->other = b;
	b->other = a;
	CHECK_EQ(event_loop_add(&loop, &a->src, EPOLLIN), 0);
	CHECK_EQ(event_loop_add(&loop, &b->src, EPOLLIN), 0);
	CHECK_EQ(event_loop_run_once(&loop, 0), 2);   /* both were ready */
	CHECK_EQ(ran[0] + ran[1], 1);                 /* the one retired never ran */
	CHECK_EQ(released, 1);                        /* and is gone with the batch */
	survivor = ran[0] ? a : b;
	CHECK_EQ(event_loop_run_once(&loop, 0), 1);   /* the survivor, still ready */
	CHECK_EQ(ran[0] + ran[1], 2);
	event_loop_retire(&loop, &survivor->src, peer_release);
	event_loop_destroy(&loop);                    /* releases what is still retired */
	CHECK_EQ(released, 2);
}

/*
 * Another thread retires sources while the loop dispatches their events
 * (vsock's connections end on the main thread at resume): each is released
 * once, after a batch, never run after its retirement.  For make tsan.
 */
struct busy {
	struct event_source src;
	atomic_int *released;
};

static void busy_ready(struct event_source *src __unused, uint32_t events __unused)
{
}

static void busy_release(struct event_source *src)
{
	struct busy *b = container_of(src, struct busy, src);

	atomic_fetch_add(b->released, 1);
	close(b->src.fd);
	free(b);
}

struct spinner {
	struct event_loop *loop;
	atomic_bool stop;
};

static void *spin(void *arg)
{
	struct spinner *sp = arg;

	while (!atomic_load(&sp->stop))
		event_loop_run_once(sp->loop, 1);
	return NULL;
}

static void retired_from_another_thread(void)
{
	struct event_loop loop;
	struct spinner sp = { .loop = &loop };
	atomic_int released = 0;
	pthread_t t;

	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(pthread_create(&t, NULL, spin, &sp), 0);
	for (int i = 0; i < 200; i++) {
		struct busy *b = calloc(1, sizeof(*b));

		b->src = (struct event_source){ .fd = eventfd(1, EFD_CLOEXEC), .ready = busy_ready };
		b->released = &released;
		CHECK_EQ(event_loop_add(&loop, &b->src, EPOLLIN), 0);  /* always ready */
		event_loop_retire(&loop, &b->src, busy_release);
	}
	atomic_store(&sp.stop, true);
	pthread_join(t, NULL);
	event_loop_destroy(&loop);
	CHECK_EQ(atomic_load(&released), 200);
}

TEST_SUITE(event_loop, TEST(retired_source_is_not_called_and_freed_after_the_batch),
	   TEST(retired_from_another_thread));
