// SPDX-License-Identifier: Apache-2.0
/*
 * The host's side of an exec session (include/exec_proto.h): RUN after
 * HELLO, stdin out as STDIN frames, STDOUT and STDERR to fds 1 and 2,
 * arkvm's signals as SIGNAL frames, and EXIT as arkvm's exit status.
 *
 * One poll loop.  The command's output is written with blocking writes:
 * a slow reader of arkvm's stdout stops arkvm reading the socket, and
 * that stops the guest (backpressure, never a drop).  Frames to the guest
 * wait in an out buffer, flushed when the socket takes them, and stdin is
 * read only once the buffer is empty: the loop never blocks on the socket,
 * so a guest that writes while it does not read cannot deadlock us.
 * The guest is hostile: a frame that breaks a rule ends the session (125).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"

#define HDR 8
#define STDIN_CHUNK 16384
#define OUT_CAP (HDR + EXEC_MAX_PAYLOAD + 1024)  /* RUN, or a STDIN chunk, and signals */

u64 exec_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

struct session {
	struct exec_client *c;
	struct exec_reader rd;
	u8 *out;
	size_t out_len;
	bool hello, in_open;
	unsigned int sigints;
	int status;              /* -1 until the session is over */
};

static u32 get_le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static void put_le32(u8 *p, u32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (u8)(v >> (8 * i));
}

static __printf(2, 3) void fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->status >= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(s->c->err, sizeof(s->c->err), fmt, ap);
	va_end(ap);
	s->c->stop_vm = true;
	s->status = EXEC_STATUS_ERROR;
}

/* A frame for the guest, queued: false when there is no room (said). */
static bool queue(struct session *s, enum exec_msg type, const void *payload, size_t len)
{
	if (s->out_len + HDR + len > OUT_CAP)
		return false;
	put_le32(s->out + s->out_len, type);
	put_le32(s->out + s->out_len + 4, (u32)len);
	if (len)
		memcpy(s->out + s->out_len + HDR, payload, len);
	s->out_len += HDR + len;
	return true;
}

static void queue_winsize(struct session *s)
{
	struct winsize ws;
	u8 p[4];

	if (s->c->tty_fd < 0 || ioctl(s->c->tty_fd, TIOCGWINSZ, &ws) || !ws.ws_row || !ws.ws_col)
		return;
	p[0] = (u8)ws.ws_row;
	p[1] = (u8)(ws.ws_row >> 8);
	p[2] = (u8)ws.ws_col;
	p[3] = (u8)(ws.ws_col >> 8);
	queue(s, EXEC_WINSIZE, p, sizeof(p));
}

static void send_run(struct session *s)
{
	struct exec_run *run = malloc(sizeof(*run));
	u8 *buf = malloc(EXEC_MAX_PAYLOAD);
	int len = -ENOMEM;

	if (run && buf) {
		*run = *s->c->run;
		if (run->tty && s->c->tty_fd >= 0) {
			struct winsize ws;

			if (!ioctl(s->c->tty_fd, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
				run->rows = ws.ws_row;
				run->cols = ws.ws_col;
			}
		}
		len = exec_run_encode(run, buf, EXEC_MAX_PAYLOAD);
	}
	if (len < 0)
		fail(s, "the command does not fit in one RUN (%s)", strerror(-len));
	else
		queue(s, EXEC_RUN, buf, (size_t)len);
	free(buf);
	free(run);
}

/* All of @len to @fd, waiting when it is non-blocking: 0 or -errno. */
static int write_all(int fd, const u8 *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void on_exit_frame(struct session *s, const u8 *p, u32 len)
{
	enum exec_exit kind;
	int value;

	if (exec_exit_decode(p, len, &kind, &value)) {
		fail(s, "the guest sent a bad EXIT (kind %u, value %d)", len == 8 ? get_le32(p) : 0,
		     len == 8 ? (int)get_le32(p + 4) : 0);
		return;
	}
	if (kind == EXEC_EXIT_SETUP)
		snprintf(s->c->err, sizeof(s->c->err),
			 "the guest could not set the command up: %s", strerror(value));
	s->status = exec_exit_status(kind, value);
}

/* The agent is there: RUN, the terminal's size, and EOF for an empty stdin. */
static void on_hello(struct session *s)
{
	s->hello = true;
	send_run(s);
	if (s->c->run->tty)
		queue_winsize(s);
	if (!s->in_open)
		queue(s, EXEC_STDIN_EOF, NULL, 0);
}

/* One frame from the guest: anything out of order or of the host's kinds is an error. */
static void on_frame(struct session *s, const struct exec_frame_hdr *h, const u8 *p)
{
	int ret = 0;

	if (!s->hello && h->type != EXEC_HELLO) {
		fail(s, "the guest sent frame %u before HELLO", h->type);
		return;
	}
	switch (h->type) {
	case EXEC_HELLO:
		if (s->hello || h->len != 4 || get_le32(p) != EXEC_PROTO_VERSION) {
			fail(s, "the guest's agent speaks another protocol (HELLO)");
			return;
		}
		on_hello(s);
		break;
	case EXEC_STARTED:
		s->c->started = true;
		break;
	case EXEC_STDOUT:
	case EXEC_STDERR:
		if (!h->len)
			break;
		ret = write_all(h->type == EXEC_STDOUT ? s->c->out_fd : s->c->err_fd, p, h->len);
		/* A closed stdout (| head) is the reader's choice: keep the session. */
		(void)ret;
		break;
	case EXEC_EXIT:
		on_exit_frame(s, p, h->len);
		break;
	default:
		fail(s, "the guest sent a host's frame (type %u)", h->type);
	}
}

static void read_sock(struct session *s)
{
	struct exec_frame_hdr h;
	const u8 *payload;
	size_t room;
	u8 *space = exec_reader_space(&s->rd, &room);
	ssize_t n = room ? read(s->c->sock, space, room) : 0;
	int ret;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fail(s, "the guest closed the session before the command ended");
		return;
	}
	exec_reader_fed(&s->rd, (size_t)n);
	while (s->status < 0 && (ret = exec_reader_next(&s->rd, &h, &payload)) != 0) {
		if (ret < 0) {
			fail(s, "the guest broke the protocol (bad frame)");
			return;
		}
		on_frame(s, &h, payload);
	}
}

static void flush_out(struct session *s)
{
	ssize_t n = send(s->c->sock, s->out, s->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		fail(s, "the session's socket: %s", strerror(errno));
		return;
	}
	memmove(s->out, s->out + n, s->out_len - (size_t)n);
	s->out_len -= (size_t)n;
}

static void read_stdin(struct session *s)
{
	u8 buf[STDIN_CHUNK];
	ssize_t n = read(s->c->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->in_open = false;
		queue(s, EXEC_STDIN_EOF, NULL, 0);
		return;
	}
	queue(s, EXEC_STDIN, buf, (size_t)n);
}

static void on_signal(struct session *s, int sig)
{
	u8 p[4];

	switch (sig) {
	case SIGCHLD:
		if (s->c->vm_gone && s->c->vm_gone(s->c->opaque))
			fail(s, "the VM stopped before the command ended");
		return;
	case SIGWINCH:
		if (s->hello && s->c->run->tty)
			queue_winsize(s);
		return;
	case SIGINT:
		/* A second Ctrl-C: the command did not stop, so the VM does. */
		if (++s->sigints > 1) {
			s->c->stop_vm = true;
			s->status = 128 + SIGINT;
			return;
		}
		break;
	default:
		break;
	}
	put_le32(p, (u32)sig);
	if (s->hello)
		queue(s, EXEC_SIGNAL, p, sizeof(p));
	else if (s->status < 0)
		s->status = 128 + sig;  /* before the command: nothing to deliver it to */
	if (!s->hello)
		s->c->stop_vm = true;
}

static void read_signals(struct session *s)
{
	u8 sigs[16];
	ssize_t n = read(s->c->sig_fd, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n && s->status < 0; i++)
		on_signal(s, sigs[i]);
}

static int poll_timeout(const struct exec_client *c)
{
	u64 now;

	if (!c->deadline_ns)
		return -1;
	now = exec_now_ns();
	return now >= c->deadline_ns ? 0 : (int)MIN((c->deadline_ns - now) / 1000000 + 1, 60000);
}

static void session_step(struct session *s)
{
	struct exec_client *c = s->c;
	struct pollfd pfd[3] = {
		{ .fd = c->sock, .events = POLLIN | (s->out_len ? POLLOUT : 0) },
		{ .fd = c->sig_fd, .events = POLLIN },
		{ .fd = s->hello && s->in_open && !s->out_len ? c->in_fd : -1, .events = POLLIN },
	};
	int n = poll(pfd, 3, poll_timeout(c));

	if (n < 0 && errno != EINTR) {
		fail(s, "poll: %s", strerror(errno));
		return;
	}
	if (c->deadline_ns && exec_now_ns() >= c->deadline_ns) {
		c->stop_vm = true;
		s->status = EXEC_STATUS_TIMEOUT;
		return;
	}
	if (n <= 0)
		return;
	if (pfd[1].revents)
		read_signals(s);
	if (s->status < 0 && (pfd[0].revents & POLLOUT))
		flush_out(s);
	if (s->status < 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		read_sock(s);
	if (s->status < 0 && pfd[2].revents)
		read_stdin(s);
}

int exec_client_run(struct exec_client *c)
{
	struct session s = { .c = c, .status = -1, .in_open = c->in_fd >= 0 };

	c->started = c->stop_vm = false;
	c->err[0] = '\0';
	s.out = malloc(OUT_CAP);
	if (!s.out || exec_reader_init(&s.rd)) {
		free(s.out);
		snprintf(c->err, sizeof(c->err), "out of memory");
		c->stop_vm = true;
		return EXEC_STATUS_ERROR;
	}
	fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
	if (c->hello_seen)
		on_hello(&s);
	while (s.status < 0)
		session_step(&s);
	/* Whatever the guest still needs to hear (a last signal) is not worth a wait. */
	exec_reader_free(&s.rd);
	free(s.out);
	return s.status;
}

int exec_read_hello(int sock, u64 deadline_ns)
{
	struct exec_frame_hdr hdr;
	struct exec_reader rd;
	const u8 *p;
	size_t got = 0;
	int ret;

	if (exec_reader_init(&rd))
		return -ENOMEM;
	while ((ret = exec_reader_next(&rd, &hdr, &p)) == 0) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		u64 now = exec_now_ns();
		size_t room;
		u8 *space = exec_reader_space(&rd, &room);
		ssize_t n;

		if (now >= deadline_ns || poll(&pfd, 1, (int)MIN((deadline_ns - now) / 1000000 + 1,
								  1000)) < 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (!pfd.revents)
			continue;
		/* One frame's worth at most: what follows HELLO is the session's. */
		n = read(sock, space, MIN(room, EXEC_HDR_SIZE + 4 - got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -EPIPE;
			break;
		}
		got += (size_t)n;
		exec_reader_fed(&rd, (size_t)n);
	}
	if (ret > 0)
		ret = hdr.type == EXEC_HELLO && hdr.len == 4 && get_le32(p) == EXEC_PROTO_VERSION ?
			0 : -EPROTO;
	exec_reader_free(&rd);
	return ret;
}
