// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "vm_state.h"

static const char *const state_names[] = {
	[VM_STATE_CONFIGURED] = "configured",
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_PAUSED] = "paused",
	[VM_STATE_STOPPED] = "stopped",
};

static const char *const cmd_names[] = {
	[VM_CMD_START] = "start",
	[VM_CMD_PAUSE] = "pause",
	[VM_CMD_RESUME] = "resume",
	[VM_CMD_STOP] = "stop",
	[VM_CMD_UPDATE] = "update",
	[VM_CMD_SNAPSHOT] = "snapshot",
};

const char *vm_state_name(enum vm_state state)
{
	return (unsigned int)state < ARRAY_SIZE(state_names) ? state_names[state] : "?";
}

const char *vm_cmd_name(enum vm_cmd_kind kind)
{
	return (unsigned int)kind < ARRAY_SIZE(cmd_names) ? cmd_names[kind] : "?";
}

/* Every move the lifecycle allows; anything else is refused. */
static const struct {
	enum vm_state from;
	enum vm_cmd_kind cmd;
	enum vm_state to;
} transitions[] = {
	{ VM_STATE_CONFIGURED, VM_CMD_START, VM_STATE_RUNNING },
	{ VM_STATE_CONFIGURED, VM_CMD_STOP, VM_STATE_STOPPED },
	{ VM_STATE_RUNNING, VM_CMD_PAUSE, VM_STATE_PAUSED },
	{ VM_STATE_RUNNING, VM_CMD_RESUME, VM_STATE_RUNNING },
	{ VM_STATE_RUNNING, VM_CMD_STOP, VM_STATE_STOPPED },
	{ VM_STATE_PAUSED, VM_CMD_PAUSE, VM_STATE_PAUSED },
	{ VM_STATE_PAUSED, VM_CMD_RESUME, VM_STATE_RUNNING },
	{ VM_STATE_PAUSED, VM_CMD_STOP, VM_STATE_STOPPED },
	/* A device's config changes in place: the state stays. */
	{ VM_STATE_RUNNING, VM_CMD_UPDATE, VM_STATE_RUNNING },
	{ VM_STATE_PAUSED, VM_CMD_UPDATE, VM_STATE_PAUSED },
	/* Only a paused VM is snapshotted: nothing changes while it is written. */
	{ VM_STATE_PAUSED, VM_CMD_SNAPSHOT, VM_STATE_PAUSED },
	{ VM_STATE_STOPPED, VM_CMD_STOP, VM_STATE_STOPPED },
};

int vm_state_next(enum vm_state from, enum vm_cmd_kind cmd, enum vm_state *to)
{
	for (size_t i = 0; i < ARRAY_SIZE(transitions); i++) {
		if (transitions[i].from == from && transitions[i].cmd == cmd) {
			*to = transitions[i].to;
			return 0;
		}
	}
	return -EINVAL;
}

/* What a caller of vm_cmd_queue_call() waits on. */
struct vm_cmd_reply {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
	int result;
};

static void reply_send(struct vm_cmd_reply *r, int result)
{
	pthread_mutex_lock(&r->lock);
	r->result = result;
	r->done = true;
	pthread_cond_signal(&r->done_cond);
	pthread_mutex_unlock(&r->lock);
}

/* The eventfd said there is work: serve every queued command, oldest first. */
static void vm_cmd_queue_ready(struct event_source *src, uint32_t events __unused)
{
	struct vm_cmd_queue *q = container_of(src, struct vm_cmd_queue, src);
	uint64_t v;

	if (read(src->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	for (;;) {
		struct vm_cmd cmd;
		int result;

		pthread_mutex_lock(&q->lock);
		if (!q->count) {
			pthread_mutex_unlock(&q->lock);
			return;
		}
		cmd = q->ring[q->head];
		q->head = (q->head + 1) % VM_CMD_QUEUE_LEN;
		q->count--;
		pthread_mutex_unlock(&q->lock);

		result = q->handle(q, &cmd);
		if (cmd.reply)
			reply_send(cmd.reply, result);
	}
}

int vm_cmd_queue_init(struct vm_cmd_queue *q, struct event_loop *loop,
		      int (*handle)(struct vm_cmd_queue *q, const struct vm_cmd *cmd))
{
	int ret = -pthread_mutex_init(&q->lock, NULL);

	if (ret)
		return ret;
	q->head = q->count = 0;
	q->closed = false;
	q->handle = handle;
	q->src.ready = vm_cmd_queue_ready;
	q->src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->src.fd < 0) {
		ret = -errno;
		goto err_lock;
	}
	ret = event_loop_add(loop, &q->src, EPOLLIN);
	if (ret)
		goto err_fd;
	return 0;

err_fd:
	close(q->src.fd);
	q->src.fd = -1;
err_lock:
	pthread_mutex_destroy(&q->lock);
	return ret;
}

void vm_cmd_queue_destroy(struct vm_cmd_queue *q)
{
	if (q->src.fd < 0)
		return;
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	for (; q->count; q->count--, q->head = (q->head + 1) % VM_CMD_QUEUE_LEN)
		if (q->ring[q->head].reply)
			reply_send(q->ring[q->head].reply, -ESHUTDOWN);
	pthread_mutex_unlock(&q->lock);
	/*
	 * The lock stays: a thread may still be posting.  Its owner frees
	 * the queue only once every thread that posts to it has ended.
	 */
	close(q->src.fd);
	q->src.fd = -1;
}

static int vm_cmd_queue_push(struct vm_cmd_queue *q, const struct vm_cmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	if (q->closed || q->count == VM_CMD_QUEUE_LEN) {
		pthread_mutex_unlock(&q->lock);
		return q->closed ? -ESHUTDOWN : -EAGAIN;
	}
	q->ring[(q->head + q->count) % VM_CMD_QUEUE_LEN] = *cmd;
	q->count++;
	/*
	 * Under the lock, so the descriptor cannot be closed meanwhile.  It
	 * only fails if the counter would overflow, and then it is pending.
	 */
	if (write(q->src.fd, &one, sizeof(one)) < 0)
		one = 0;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int vm_cmd_queue_post(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg)
{
	return vm_cmd_queue_push(q, &(struct vm_cmd){ .kind = kind, .arg = arg });
}

int vm_cmd_queue_call(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg)
{
	return vm_cmd_queue_call_data(q, kind, arg, NULL);
}

int vm_cmd_queue_call_data(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg,
			   const void *data)
{
	struct vm_cmd_reply r = { .done = false };
	int ret;

	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.done_cond, NULL);
	ret = vm_cmd_queue_push(q, &(struct vm_cmd){ .kind = kind, .arg = arg, .data = data,
						     .reply = &r });
	if (!ret) {
		pthread_mutex_lock(&r.lock);
		while (!r.done)
			pthread_cond_wait(&r.done_cond, &r.lock);
		ret = r.result;
		pthread_mutex_unlock(&r.lock);
	}
	pthread_cond_destroy(&r.done_cond);
	pthread_mutex_destroy(&r.lock);
	return ret;
}
