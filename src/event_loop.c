// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "event_loop.h"

#define EVENT_BATCH 16

static void event_loop_woken(struct event_source *src, uint32_t events __unused)
{
	struct event_loop *loop = container_of(src, struct event_loop, wake);
	uint64_t v;

	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	atomic_store(&loop->stopped, true);
}

int event_loop_init(struct event_loop *loop)
{
	int ret;

	atomic_init(&loop->stopped, false);
	loop->retired = NULL;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		ret = -errno;
		goto err_epoll;
	}
	loop->wake = (struct event_source){ .fd = loop->wake_fd, .ready = event_loop_woken };
	ret = event_loop_add(loop, &loop->wake, EPOLLIN);
	if (ret)
		goto err_eventfd;
	ret = -pthread_mutex_init(&loop->retired_lock, NULL);
	if (ret)
		goto err_eventfd;
	return 0;

err_eventfd:
	close(loop->wake_fd);
err_epoll:
	close(loop->epoll_fd);
	return ret;
}

static void release_retired(struct event_loop *loop)
{
	struct event_source *src;

	pthread_mutex_lock(&loop->retired_lock);
	src = loop->retired;
	loop->retired = NULL;
	pthread_mutex_unlock(&loop->retired_lock);
	while (src) {
		struct event_source *next = src->next_retired;

		src->release(src);
		src = next;
	}
}

void event_loop_destroy(struct event_loop *loop)
{
	release_retired(loop);
	pthread_mutex_destroy(&loop->retired_lock);
	close(loop->wake_fd);
	close(loop->epoll_fd);
}

static int event_loop_ctl(struct event_loop *loop, int op, struct event_source *src,
			  uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epoll_fd, op, src->fd, &ev) ? -errno : 0;
}

int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_loop_ctl(loop, EPOLL_CTL_ADD, src, events);
}

int event_loop_mod(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_loop_ctl(loop, EPOLL_CTL_MOD, src, events);
}

int event_loop_del(struct event_loop *loop, struct event_source *src)
{
	return event_loop_ctl(loop, EPOLL_CTL_DEL, src, 0);
}

void event_loop_retire(struct event_loop *loop, struct event_source *src,
		       void (*release)(struct event_source *src))
{
	event_loop_del(loop, src); /* may fail: a source never added or already off */
	atomic_store(&src->retired, true);
	src->release = release;
	pthread_mutex_lock(&loop->retired_lock);
	src->next_retired = loop->retired;
	loop->retired = src;
	pthread_mutex_unlock(&loop->retired_lock);
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[EVENT_BATCH];
	int n = epoll_wait(loop->epoll_fd, events, EVENT_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct event_source *src = events[i].data.ptr;

		if (!atomic_load(&src->retired))
			src->ready(src, events[i].events);
	}
	release_retired(loop);
	return n;
}

int event_loop_run(struct event_loop *loop)
{
	while (!atomic_load(&loop->stopped)) {
		int ret = event_loop_run_once(loop, -1);

		if (ret < 0)
			return ret;
	}
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	uint64_t one = 1;

	/* An eventfd write only fails when the counter would overflow. */
	if (write(loop->wake_fd, &one, sizeof(one)) < 0)
		return;
}
