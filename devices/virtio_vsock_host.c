// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's host side: the listener on uds_path, a host program's
 * "CONNECT <port>" line, readiness of each connection's unix socket, and
 * the time a connection the host opened may wait for the guest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "virtio_vsock_conn.h"

u64 vsock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/* A host program waiting for its CONNECT to be answered, not yet ending. */
static bool conn_timed(const struct vsock_conn *c)
{
	return !c->dead && !c->closing &&
	       (c->state == VS_HANDSHAKE || c->state == VS_CONNECTING);
}

/* Sets the timer for the first deadline, or stops it; under the lock. */
static void vsock_arm_timer(struct virtio_vsock *vs)
{
	struct itimerspec its = { 0 };
	u64 first = 0;

	for (unsigned int i = 0; i < vs->nr_conns; i++) {
		const struct vsock_conn *c = vs->conns[i];

		if (conn_timed(c) && (!first || c->deadline_ns < first))
			first = c->deadline_ns;
	}
	if (vs->timer_fd < 0 || first == vs->timer_armed_ns)
		return;
	its.it_value.tv_sec = (time_t)(first / 1000000000ull);
	its.it_value.tv_nsec = (long)(first % 1000000000ull);
	if (!timerfd_settime(vs->timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		vs->timer_armed_ns = first;
}

void virtio_vsock_expire(struct virtio_vsock *vs, u64 now_ns)
{
again:
	for (unsigned int i = 0; i < vs->nr_conns; i++) {
		struct vsock_conn *c = vs->conns[i];

		if (!conn_timed(c) || c->deadline_ns > now_ns)
			continue;
		pr_debug("vsock: CONNECT %u: no answer in time", c->peer_port);
		/* A guest that never heard the request gets no RST for it. */
		if (c->state == VS_HANDSHAKE || (c->owe & OWE_REQUEST)) {
			metric_inc(&vs->metrics.conns_killed);
			vsock_conn_free(c);
		} else
			vsock_conn_reset(c);
		goto again; /* the table changed under the loop */
	}
	vsock_arm_timer(vs);
}

static void timer_ready(struct event_source *src, uint32_t events __unused)
{
	struct virtio_vsock *vs = container_of(src, struct virtio_vsock, timer_src);
	u64 ticks;

	if (read(vs->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&vs->vdev.lock);
	vs->timer_armed_ns = 0;
	vsock_reap(vs);
	if (!vs->quiesced)
		virtio_vsock_expire(vs, vsock_now_ns()); /* resume looks again otherwise */
	pthread_mutex_unlock(&vs->vdev.lock);
}

/* Main thread, at start-up; without a loop (tests) there is no timer. */
int vsock_timer_init(struct virtio_vsock *vs)
{
	int ret;

	vs->timer_fd = -1;
	if (!vs->loop)
		return 0;
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->timer_fd < 0)
		return -errno;
	vs->timer_src = (struct event_source){ .fd = vs->timer_fd, .ready = timer_ready };
	ret = event_loop_add(vs->loop, &vs->timer_src, EPOLLIN);
	if (ret) {
		close(vs->timer_fd);
		vs->timer_fd = -1;
	}
	return ret;
}

void vsock_timer_close(struct virtio_vsock *vs)
{
	if (vs->timer_fd < 0)
		return;
	event_loop_del(vs->loop, &vs->timer_src);
	close(vs->timer_fd);
	vs->timer_fd = -1;
}

/* The CONNECT line, a byte at a time so nothing past it is read. */
static void conn_handshake(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	char *end;
	unsigned long port;
	ssize_t got;

	for (;;) {
		got = read(c->src.fd, &c->line[c->line_len], 1);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (got <= 0 || ++c->line_len == sizeof(c->line))
			goto drop;
		if (c->line[c->line_len - 1] == '\n')
			break;
	}
	c->line[c->line_len - 1] = '\0';
	if (strncmp(c->line, "CONNECT ", 8) || c->line[8] < '0' || c->line[8] > '9')
		goto drop;
	errno = 0;
	port = strtoul(c->line + 8, &end, 10);
	if (*end || errno || port > UINT32_MAX)
		goto drop;
	do {
		c->local_port = vs->next_local_port++;
		if (vs->next_local_port < VSOCK_FIRST_LOCAL_PORT)
			vs->next_local_port = VSOCK_FIRST_LOCAL_PORT;
	} while (vsock_conn_find(vs, c->local_port, (u32)port));
	c->peer_port = (u32)port;
	c->state = VS_CONNECTING;
	c->owe = OWE_REQUEST;
	c->deadline_ns = vsock_now_ns() + VSOCK_CONNECT_TIMEOUT_NS;
	vsock_arm_timer(vs);
	vsock_conn_watch(c, 0); /* nothing more is read before the guest answers */
	vsock_rx_flush(vs);
	return;
drop:
	vsock_conn_free(c);
}

static void conn_host_event(struct vsock_conn *c, u32 events)
{
	if (c->state == VS_HANDSHAKE) {
		conn_handshake(c);
		return;
	}
	if (c->guest_gone) {
		vsock_conn_gone_drain(c);
		return;
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		if (vsock_conn_drain(c) < 0) {
			vsock_conn_reset(c);
			return;
		}
	}
	vsock_conn_pump_rx(c);
}

void virtio_vsock_host_ready(struct virtio_vsock *vs, u32 local, u32 peer, u32 events)
{
	struct vsock_conn *c;

	pthread_mutex_lock(&vs->vdev.lock);
	vsock_reap(vs);
	c = vsock_conn_find(vs, local, peer);
	for (unsigned int i = 0; !c && i < vs->nr_conns; i++) {
		struct vsock_conn *o = vs->conns[i];

		if ((!local && !peer && o->state == VS_HANDSHAKE) ||
		    (o->guest_gone && o->local_port == local && o->peer_port == peer))
			c = o;
	}
	if (c && !vs->quiesced)
		conn_host_event(c, events);
	pthread_mutex_unlock(&vs->vdev.lock);
}

void vsock_conn_ready(struct event_source *src, uint32_t events)
{
	struct vsock_conn *c = container_of(src, struct vsock_conn, src);
	struct virtio_vsock *vs = c->vs;

	pthread_mutex_lock(&vs->vdev.lock);
	if (c->freed)
		; /* ended by another thread while this event waited for the lock */
	else if (c->dead)
		vsock_reap(vs);
	else if (vs->quiesced)
		vsock_conn_watch(c, 0); /* resume watches again */
	else
		conn_host_event(c, events);
	pthread_mutex_unlock(&vs->vdev.lock);
}

void virtio_vsock_accept(struct virtio_vsock *vs)
{
	int fd;

	pthread_mutex_lock(&vs->vdev.lock);
	vsock_reap(vs);
	while ((fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct vsock_conn *c = NULL;

		/* Before the driver is up there is nobody to connect to. */
		if (virtio_dev_running(&vs->vdev))
			c = vsock_conn_new(vs, fd, 0, 0, VS_HANDSHAKE);
		if (!c) {
			close(fd);
			continue;
		}
		c->deadline_ns = vsock_now_ns() + VSOCK_CONNECT_TIMEOUT_NS;
		vsock_conn_watch(c, EPOLLIN);
	}
	vsock_arm_timer(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

void vsock_listen_ready(struct event_source *src, uint32_t events __unused)
{
	virtio_vsock_accept(container_of(src, struct virtio_vsock, listen_src));
}

int vsock_listen(struct virtio_vsock *vs, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(vs->uds_path) - 12) {
		pr_err("vsock: socket path '%s' too long (a port is added to it)", path);
		return -ENAMETOOLONG;
	}
	if (!lstat(path, &st)) {
		pr_err("vsock: '%s' exists already: remove it, or name another socket", path);
		return -EEXIST;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		int err = -errno;

		pr_err("vsock: cannot listen on '%s': %s", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	memcpy(vs->uds_path, path, strlen(path) + 1);
	vs->listen_fd = fd;
	return 0;
}
