// SPDX-License-Identifier: Apache-2.0
/*
 * benchproc: apibench's child process, its pipes, its API socket and its
 * smaps (see benchproc.h).
 */
#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchproc.h"

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void figure(const char *name, double value, const char *unit)
{
	int digits = !strcmp(unit, "KiB") ? 0 : !strcmp(unit, "us") ? 1 : 3;

	printf("APIBENCH %s %.*f %s\n", name, digits, value, unit);
	fflush(stdout);
}

/* Says why the run failed, with the end of what arkvm and its guest wrote. */
void complain(const struct child *c, const char *what)
{
	fprintf(stderr, "apibench: %s\n", what);
	if (!c)
		return;
	fprintf(stderr, "apibench: arkvm's stderr ends: %.*s\n", (int)(c->err.len > 600 ? 600 : c->err.len),
		c->err.buf + (c->err.len > 600 ? c->err.len - 600 : 0));
	fprintf(stderr, "apibench: the console ends: %.*s\n", (int)(c->out.len > 600 ? 600 : c->out.len),
		c->out.buf + (c->out.len > 600 ? c->out.len - 600 : 0));
}

/* The markers, looked for as soon as the bytes arrive, so the time is theirs. */
static void scan(struct child *c, double t)
{
	char *line, *end;

	if (!c->timer_at && (line = memmem(c->err.buf, c->err.len, TIMER_LINE, strlen(TIMER_LINE))) &&
	    (end = memchr(line, '\n', c->err.len - (size_t)(line - c->err.buf)))) {
		char *total = memmem(line, (size_t)(end - line), "total ", 6);

		c->timer_at = t;
		c->timer_total = total ? strtod(total + 6, NULL) : 0;
	}
	if (!c->idle_at && memmem(c->out.buf, c->out.len, IDLE_MARK, strlen(IDLE_MARK)))
		c->idle_at = t;
	/* A line that starts with it: the shell's echo of the loop holds it too. */
	if (!c->count_at && c->out.len >= strlen(COUNT_MARK) &&
	    (!memcmp(c->out.buf, COUNT_MARK, strlen(COUNT_MARK)) ||
	     memmem(c->out.buf, c->out.len, "\n" COUNT_MARK, strlen(COUNT_MARK) + 1)))
		c->count_at = t;
}

/* Reads what @s has; keeps the last half of the buffer when it fills.  0 at EOF. */
static ssize_t stream_read(struct stream *s)
{
	ssize_t n;

	if (s->len > STREAM_BUF / 2) {
		memmove(s->buf, s->buf + s->len - STREAM_BUF / 4, STREAM_BUF / 4);
		s->len = STREAM_BUF / 4;
	}
	n = read(s->fd, s->buf + s->len, STREAM_BUF - s->len);
	if (n > 0)
		s->len += (size_t)n;
	else if (n == 0 || errno != EAGAIN)
		s->fd = -1;
	return n;
}

/*
 * Drains arkvm's pipes until @fd is readable (fd -1: until @done says so)
 * or the deadline.  0, or -ETIMEDOUT, or -EPIPE when arkvm closed both.
 */
int wait_for(struct child *c, int fd, int (*done)(const struct child *), double deadline)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = c->out.fd, .events = POLLIN },
				       { .fd = c->err.fd, .events = POLLIN },
				       { .fd = fd, .events = POLLIN } };
		double left = deadline - now();
		int n;

		if (done && done(c))
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		if (c->out.fd < 0 && c->err.fd < 0 && fd < 0)
			return -EPIPE;
		n = poll(p, 3, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (p[0].revents)
			stream_read(&c->out);
		if (p[1].revents)
			stream_read(&c->err);
		scan(c, now());
		if (fd >= 0 && p[2].revents)
			return 0;
	}
}
int timer_seen(const struct child *c) { return c->timer_at != 0; }
int idle_seen(const struct child *c) { return c->idle_at != 0; }
int count_seen(const struct child *c) { return c->count_at != 0; }
static int never(const struct child *c) { (void)c; return 0; }

/* Sleeps @s seconds, still draining the pipes. */
void settle(struct child *c, double s)
{
	wait_for(c, -1, never, now() + s);
}

int spawn(struct child *c, char **argv, const char *input)
{
	int out[2], err[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -errno;
	c->t0 = now();
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (!c->pid) {
		int in = open(input ? input : "/dev/null", O_RDONLY);

		if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	c->out.fd = out[0];
	c->err.fd = err[0];
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* SIGTERM, then the exit status; the rest of the output is drained first. */
void stop(struct child *c)
{
	int status;

	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	wait_for(c, -1, NULL, now() + 30);
	if (waitpid(c->pid, &status, 0) == c->pid && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM))
		fprintf(stderr, "apibench: arkvm ended with status 0x%x after SIGTERM\n", status);
	c->pid = 0;
}

/* ---- smaps ---- */

int read_smaps(pid_t pid, unsigned long sp, struct mem *m)
{
	unsigned long lo = 0, hi = 0, largest = 0, kib;
	int in_largest = 0, in_stack = 0;
	char path[64], line[512];
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in_largest = hi - lo > largest;
			if (in_largest)
				largest = hi - lo;
			in_stack = sp && sp >= lo && sp < hi;
			if (in_stack)
				m->stack_size_kib = (hi - lo) / 1024;
		} else if (sscanf(line, "Rss: %lu kB", &kib) == 1) {
			m->total_kib += kib;
			if (in_largest)
				m->largest_kib = kib;
			if (in_stack)
				m->stack_kib = kib;
		} else if (sscanf(line, "Pss: %lu kB", &kib) == 1) {
			m->pss_kib += kib;
			if (in_largest)
				m->largest_pss_kib = kib;
		} else if (sscanf(line, "Anonymous: %lu kB", &kib) == 1 && in_largest) {
			m->largest_anon_kib = kib;
		}
	}
	fclose(f);
	return 0;
}

/* ---- HTTP over the socket ---- */

static int api_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One request on the keep-alive connection @fd, and its whole answer
 * (headers and Content-Length bytes); arkvm's pipes are drained meanwhile.
 * The status, or -1.
 */
int http_call(struct child *c, int fd, const char *method, const char *path, const char *body)
{
	char req[4096], resp[8192], *head_end = NULL;
	size_t len = 0, want = 0;
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, strlen(body), body);
	int status = -1;

	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
		return -1;
	while (!head_end || len < want) {
		ssize_t got;

		if (wait_for(c, fd, NULL, now() + DEADLINE_S))
			return -1;
		got = read(fd, resp + len, sizeof(resp) - 1 - len);
		if (got <= 0)
			return -1;
		len += (size_t)got;
		resp[len] = '\0';
		if (!head_end && (head_end = strstr(resp, "\r\n\r\n"))) {
			char *cl = strcasestr(resp, "\r\nContent-Length:");

			want = (size_t)(head_end + 4 - resp) + (cl && cl < head_end ? strtoul(cl + 17, NULL, 10) : 0);
			if (want >= sizeof(resp))
				return -1;
		}
	}
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		return -1;
	if (status / 100 != 2)
		fprintf(stderr, "apibench: %s %s -> %s\n", method, path, resp);
	return status;
}

int wait_ready(struct child *c, const char *sock, int report)
{
	double deadline = c->t0 + 60;
	int fd;

	while ((fd = api_connect(sock)) < 0) {
		if (now() > deadline || waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return -1;
		}
		usleep(100);
	}
	if (report)
		figure("ready-accept", (now() - c->t0) * 1e3, "ms");
	if (http_call(c, fd, "GET", "/", "") != 200) {
		close(fd);
		return -1;
	}
	if (report)
		figure("ready-answer", (now() - c->t0) * 1e3, "ms");
	return fd;
}

int json_safe(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || iscntrl((unsigned char)*s))
			return 0;
	return 1;
}

