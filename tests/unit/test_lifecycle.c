// SPDX-License-Identifier: Apache-2.0
/*
 * The lifecycle's pieces that cross threads: the state table, the command
 * queue (any thread -> the owner's loop) and the park that pause is made
 * of.  Clean under ThreadSanitizer (make tsan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "compiler.h"
#include "park.h"
#include "test.h"
#include "vm_state.h"

static void test_state_table(void)
{
	enum vm_state to;

	CHECK_EQ(vm_state_next(VM_STATE_CONFIGURED, VM_CMD_START, &to), 0);
	CHECK_EQ(to, VM_STATE_RUNNING);
	CHECK_EQ(vm_state_next(VM_STATE_RUNNING, VM_CMD_PAUSE, &to), 0);
	CHECK_EQ(to, VM_STATE_PAUSED);
	CHECK_EQ(vm_state_next(VM_STATE_PAUSED, VM_CMD_RESUME, &to), 0);
	CHECK_EQ(to, VM_STATE_RUNNING);
	CHECK_EQ(vm_state_next(VM_STATE_PAUSED, VM_CMD_STOP, &to), 0);
	CHECK_EQ(to, VM_STATE_STOPPED);
	/* Asking for the state it is in changes nothing and is no error. */
	CHECK_EQ(vm_state_next(VM_STATE_PAUSED, VM_CMD_PAUSE, &to), 0);
	CHECK_EQ(to, VM_STATE_PAUSED);
	/* Nothing to pause or resume before the start, nothing after the stop. */
	CHECK_EQ(vm_state_next(VM_STATE_CONFIGURED, VM_CMD_PAUSE, &to), -EINVAL);
	CHECK_EQ(vm_state_next(VM_STATE_CONFIGURED, VM_CMD_RESUME, &to), -EINVAL);
	CHECK_EQ(vm_state_next(VM_STATE_STOPPED, VM_CMD_RESUME, &to), -EINVAL);
	CHECK_EQ(vm_state_next(VM_STATE_STOPPED, VM_CMD_START, &to), -EINVAL);
	CHECK_EQ(vm_state_next(VM_STATE_RUNNING, VM_CMD_START, &to), -EINVAL);
	CHECK(!strcmp(vm_state_name(VM_STATE_PAUSED), "paused"));
	CHECK(!strcmp(vm_cmd_name(VM_CMD_RESUME), "resume"));
}

/* An owner thread running a loop with a queue, as the main thread does. */
struct owner {
	struct event_loop loop;
	struct vm_cmd_queue q;
	enum vm_state state;
	unsigned int handled;
	int order[64];
};

static int owner_handle(struct vm_cmd_queue *q, const struct vm_cmd *cmd)
{
	struct owner *o = container_of(q, struct owner, q);
	enum vm_state to;
	int ret = vm_state_next(o->state, cmd->kind, &to);

	if (o->handled < ARRAY_SIZE(o->order))
		o->order[o->handled] = cmd->arg;
	o->handled++;
	if (!ret)
		o->state = to;
	if (o->state == VM_STATE_STOPPED)
		event_loop_stop(&o->loop);
	return ret;
}

static void *owner_thread(void *arg)
{
	struct owner *o = arg;

	event_loop_run(&o->loop);
	return NULL;
}

static void *caller_thread(void *arg)
{
	struct owner *o = arg;
	intptr_t bad = vm_cmd_queue_call(&o->q, VM_CMD_START, 0);   /* already running */

	if (vm_cmd_queue_call(&o->q, VM_CMD_PAUSE, 0) || vm_cmd_queue_call(&o->q, VM_CMD_RESUME, 0))
		return (void *)(intptr_t)1;
	return (void *)bad;
}

static void test_queue_across_threads(void)
{
	struct owner o = { .state = VM_STATE_RUNNING };
	pthread_t owner, callers[2];
	void *res;

	CHECK_EQ(event_loop_init(&o.loop), 0);
	CHECK_EQ(vm_cmd_queue_init(&o.q, &o.loop, owner_handle), 0);
	CHECK_EQ(pthread_create(&owner, NULL, owner_thread, &o), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&callers[i], NULL, caller_thread, &o), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(callers[i], &res);
		CHECK_EQ((intptr_t)res, -EINVAL);  /* the refused START came back as a value */
	}
	CHECK_EQ(vm_cmd_queue_post(&o.q, VM_CMD_STOP, 7), 0);
	pthread_join(owner, NULL);
	CHECK_EQ(o.state, VM_STATE_STOPPED);
	CHECK_EQ(o.handled, 7);
	CHECK_EQ(o.order[6], 7);
	/* Once its owner is gone the queue refuses, and says so. */
	vm_cmd_queue_destroy(&o.q);
	CHECK_EQ(vm_cmd_queue_post(&o.q, VM_CMD_PAUSE, 0), -ESHUTDOWN);
	CHECK_EQ(vm_cmd_queue_call(&o.q, VM_CMD_PAUSE, 0), -ESHUTDOWN);
	event_loop_destroy(&o.loop);
}

static void test_queue_is_bounded(void)
{
	struct owner o = { .state = VM_STATE_RUNNING };

	CHECK_EQ(event_loop_init(&o.loop), 0);
	CHECK_EQ(vm_cmd_queue_init(&o.q, &o.loop, owner_handle), 0);
	for (int i = 0; i < VM_CMD_QUEUE_LEN; i++)
		CHECK_EQ(vm_cmd_queue_post(&o.q, VM_CMD_PAUSE, i), 0);
	CHECK_EQ(vm_cmd_queue_post(&o.q, VM_CMD_PAUSE, 99), -EAGAIN);
	CHECK_EQ(event_loop_run_once(&o.loop, 0), 1);
	CHECK_EQ(o.handled, VM_CMD_QUEUE_LEN);
	CHECK_EQ(o.order[0], 0);
	CHECK_EQ(o.order[VM_CMD_QUEUE_LEN - 1], VM_CMD_QUEUE_LEN - 1);  /* in order */
	vm_cmd_queue_destroy(&o.q);
	event_loop_destroy(&o.loop);
}

/*
 * Workers standing for vCPUs and the I/O thread: each round they "write
 * guest RAM" (a counter), and they call park_point() between rounds.
 * While parked nothing may change; after release they go on.
 */
struct group {
	struct park park;
	atomic_bool stop;
	atomic_ulong work[3];
};

struct worker {
	struct group *g;
	unsigned int id;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w->g->stop)) {
		park_point(&w->g->park);
		atomic_fetch_add(&w->g->work[w->id], 1);
	}
	park_leave(&w->g->park);
	return NULL;
}

static void test_park_holds_every_thread(void)
{
	struct group g = { .stop = false };
	struct worker w[3];
	pthread_t t[3];
	unsigned long before[3];

	CHECK_EQ(park_init(&g.park), 0);
	for (unsigned int i = 0; i < 3; i++) {
		w[i] = (struct worker){ .g = &g, .id = i };
		CHECK_EQ(pthread_create(&t[i], NULL, worker_thread, &w[i]), 0);
	}
	for (int round = 0; round < 50; round++) {
		park_request(&g.park);
		park_wait(&g.park, 3);
		for (unsigned int i = 0; i < 3; i++)
			before[i] = atomic_load(&g.work[i]);
		sched_yield();
		for (unsigned int i = 0; i < 3; i++)
			CHECK_EQ(atomic_load(&g.work[i]), before[i]);  /* paused: no work done */
		park_release(&g.park);
	}
	/* A stop while parked: release, and every thread ends. */
	park_request(&g.park);
	park_wait(&g.park, 3);
	atomic_store(&g.stop, true);
	park_release(&g.park);
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* Threads that are gone count as parked: a pause never waits for them. */
	park_request(&g.park);
	park_wait(&g.park, 3);
	park_release(&g.park);
	park_destroy(&g.park);
}

TEST_SUITE(lifecycle,
	   TEST(test_state_table),
	   TEST(test_queue_across_threads),
	   TEST(test_queue_is_bounded),
	   TEST(test_park_holds_every_thread));
