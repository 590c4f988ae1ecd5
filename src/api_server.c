// SPDX-License-Identifier: Apache-2.0
/*
 * The API's unix-socket server (src/api.c has the routes): its own thread
 * with its own epoll loop and seccomp filter, up to API_MAX_CONNS clients,
 * each request answered whole before the next is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "log.h"
#include "sandbox.h"
#include "vmm.h"

#define API_THREAD_STACK (512 * 1024)   /* handlers copy a struct vm_config */

static void conn_close(struct api_conn *c)
{
	event_loop_del(&c->srv->loop, &c->src);
	close(c->src.fd);
	http_conn_destroy(&c->http);
	c->used = false;
}

/* Writes the whole answer; a client that does not read it loses its connection. */
static int conn_reply(struct api_conn *c, int status, const char *body)
{
	char *out;
	int len = http_format_response(status, body, &out);
	ssize_t n;

	if (len < 0)
		return len;
	n = send(c->src.fd, out, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(out);
	return n == len ? 0 : -EIO;
}

static void conn_answer(struct api_conn *c, bool *close_it)
{
	const struct http_request *req = &c->http.req;
	char *body;
	int status = api_handle(c->srv->vmm, req, &body);

	if (conn_reply(c, status, body) || !req->keep_alive || req->error)
		*close_it = true;
	free(body);
}

static void conn_ready(struct event_source *src, uint32_t events)
{
	struct api_conn *c = container_of(src, struct api_conn, src);
	char buf[4096];
	bool close_it = false;
	ssize_t n = read(src->fd, buf, sizeof(buf));
	size_t off = 0;

	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			conn_close(c);
		return;
	}
	while (off < (size_t)n && !close_it) {
		size_t used;

		switch (http_conn_feed(&c->http, buf + off, (size_t)n - off, &used)) {
		case HTTP_FEED_REQUEST:
			conn_answer(c, &close_it);
			http_conn_next(&c->http);
			break;
		case HTTP_FEED_BAD:
			conn_reply(c, 400, "{\"fault_message\":\"The request is not valid HTTP/1.1.\"}");
			close_it = true;
			break;
		case HTTP_FEED_MORE:
			break;
		}
		off += used;
	}
	if (close_it)
		conn_close(c);
}

static void listen_ready(struct event_source *src, uint32_t events)
{
	struct api_server *srv = container_of(src, struct api_server, listen_src);
	int fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct api_conn *c = NULL;

	if (fd < 0)
		return;
	for (size_t i = 0; i < API_MAX_CONNS && !c; i++)
		if (!srv->conns[i].used)
			c = &srv->conns[i];
	if (!c) {
		close(fd);   /* as many clients as arkvm serves: this one waits its turn */
		return;
	}
	c->used = true;
	c->srv = srv;
	c->src.fd = fd;
	c->src.ready = conn_ready;
	http_conn_init(&c->http, srv->vmm->opts.max_payload);
	if (event_loop_add(&srv->loop, &c->src, EPOLLIN)) {
		close(fd);
		c->used = false;
	}
}

static void *api_thread(void *arg)
{
	struct api_server *srv = arg;

	pthread_setname_np(pthread_self(), "fc_api");
	if (sandbox_enter(SANDBOX_API, srv->filtered)) {
		pr_err("API: cannot enter its seccomp filter");
		return NULL;
	}
	if (event_loop_run(&srv->loop))
		pr_err("API: the event loop failed");
	return NULL;
}

static int api_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("--api-sock '%s': the path is too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	if (!lstat(path, &st)) {
		pr_err("--api-sock '%s': the path already exists", path);
		return -EEXIST;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);   /* the socket file gets mode 0600 */
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(fd, 16)) {
		ret = -errno;
		pr_err("--api-sock '%s': %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The thread starts with every asynchronous signal blocked: SIGTERM and
 * the rest are the main thread's (on its signalfd), and the API thread
 * exists before the main thread blocks them.  The faults stay open, and
 * SIGSYS for the filter's report.
 */
static int api_thread_create(struct api_server *srv)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int ret = pthread_attr_init(&attr);

	sigfillset(&all);
	for (int sig = 0, *s = (int[]){ SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, 0 };
	     (sig = *s); s++)
		sigdelset(&all, sig);
	if (!ret)
		ret = pthread_attr_setstacksize(&attr, API_THREAD_STACK);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (!ret)
		ret = pthread_create(&srv->thread, &attr, api_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -ret;
}

int api_server_start(struct api_server *srv, struct vmm *vmm, bool seccomp)
{
	int ret;

	memset(srv, 0, sizeof(*srv));
	/*
	 * jansson seeds its hash tables from /dev/urandom on first use: here,
	 * before the API thread's filter (which opens nothing to read) exists.
	 */
	json_object_seed(0);
	srv->vmm = vmm;
	srv->filtered = seccomp;
	srv->listen_fd = api_listen(vmm->opts.api_sock);
	if (srv->listen_fd < 0)
		return srv->listen_fd;
	srv->listen_src.fd = srv->listen_fd;
	srv->listen_src.ready = listen_ready;
	ret = event_loop_init(&srv->loop);
	if (!ret)
		ret = event_loop_add(&srv->loop, &srv->listen_src, EPOLLIN);
	if (!ret)
		ret = api_thread_create(srv);
	if (ret) {
		pr_err("starting the API server: %s", strerror(-ret));
		close(srv->listen_fd);
		unlink(vmm->opts.api_sock);
		return ret;
	}
	srv->started = true;
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv->started)
		return;
	event_loop_stop(&srv->loop);
	pthread_join(srv->thread, NULL);
	for (size_t i = 0; i < API_MAX_CONNS; i++)
		if (srv->conns[i].used)
			conn_close(&srv->conns[i]);
	event_loop_destroy(&srv->loop);
	close(srv->listen_fd);
	unlink(srv->vmm->opts.api_sock);
	srv->started = false;
}
