// SPDX-License-Identifier: Apache-2.0
/*
 * The relay between the host's stream and the running command.  Nothing
 * is dropped and nothing grows: one outgoing frame and one STDIN frame's
 * bytes are all it holds.  While the frame to the host waits for the
 * socket, the command's output is not read (its pipe fills, it blocks);
 * while stdin bytes wait for the command, no more frames are taken from
 * the host.  When the command exits, what it wrote is drained, then EXIT.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "exec_agent.h"

struct relay {
	int sock;
	struct exec_reader *rd;
	struct agent_child *child;
	int sigfd;
	bool reap_all;
	u8 out[EXEC_HDR_SIZE + EXEC_MAX_PAYLOAD];   /* the frame on its way to the host */
	size_t out_len, out_off;
	u8 in[EXEC_MAX_PAYLOAD];                    /* stdin bytes on their way to the command */
	size_t in_len, in_off;
	bool stdin_eof;                             /* STDIN_EOF came: close once in[] is out */
	bool exited;
	int status;
	unsigned int turn;                          /* stdout and stderr take turns */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The command's stdin is done: EOF for a pipe; ^D for a terminal, as typed. */
static void end_stdin(struct relay *r)
{
	r->in_len = r->in_off = 0;
	if (r->child->tty && r->child->in_fd >= 0) {
		struct termios t;
		u8 eof = tcgetattr(r->child->in_fd, &t) ? 4 : t.c_cc[VEOF];

		if (write(r->child->in_fd, &eof, 1) < 0)
			agent_log("stdin: the terminal took no end of file: %s", strerror(errno));
	}
	close_fd(&r->child->in_fd);
}

/* Writes what stdin bytes the command takes now. */
static void push_stdin(struct relay *r)
{
	while (r->in_off < r->in_len) {
		ssize_t n = write(r->child->in_fd, r->in + r->in_off, r->in_len - r->in_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* It closed its stdin (EPIPE): what it did not read is dropped, as a pipe does. */
			r->in_len = r->in_off = 0;
			close_fd(&r->child->in_fd);
			return;
		}
		r->in_off += (size_t)n;
	}
	r->in_len = r->in_off = 0;
	if (r->stdin_eof)
		end_stdin(r);
}

/* One frame from the host; -EPROTO for any it may not send now. */
static int host_frame(struct relay *r, const struct exec_frame_hdr *hdr, const u8 *p)
{
	struct winsize ws = { 0 };
	int sig;

	switch (hdr->type) {
	case EXEC_STDIN:
		if (r->stdin_eof)
			return -EPROTO;
		if (r->child->in_fd < 0)
			return 0;                   /* closed by the command: nobody reads it */
		memcpy(r->in, p, hdr->len);
		r->in_len = hdr->len;
		r->in_off = 0;
		push_stdin(r);
		return 0;
	case EXEC_STDIN_EOF:
		if (r->stdin_eof)
			return -EPROTO;
		r->stdin_eof = true;
		if (!r->in_len)
			end_stdin(r);
		return 0;
	case EXEC_SIGNAL:
		sig = exec_signal_decode(p, hdr->len);
		if (sig < 0)
			return sig;
		/* The group may be gone already (the command exiting): nothing to do then. */
		if (!r->exited)
			kill(-r->child->pid, sig);
		return 0;
	case EXEC_WINSIZE:
		if (exec_winsize_decode(p, hdr->len, &ws.ws_row, &ws.ws_col))
			return -EPROTO;
		/* Without a terminal there is no size to set: harmless, ignored. */
		if (r->child->tty && r->child->out_fd >= 0)
			ioctl(r->child->out_fd, TIOCSWINSZ, &ws);
		return 0;
	default:
		return -EPROTO;                     /* RUN again, or the guest's own types */
	}
}

/* Takes the host's frames while stdin has room for one; then reads the socket. */
static int read_host(struct relay *r)
{
	struct exec_frame_hdr hdr;
	const u8 *p;
	size_t room;
	u8 *space;
	ssize_t n;
	int ret;

	space = exec_reader_space(r->rd, &room);
	if (!room)
		return 0;                           /* a whole frame is held: taken first */
	n = recv(r->sock, space, room, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;                      /* arkvm went away */
	exec_reader_fed(r->rd, (size_t)n);
	while (!r->in_len && (ret = exec_reader_next(r->rd, &hdr, &p)) == 1) {
		ret = host_frame(r, &hdr, p);
		if (ret)
			return ret;
	}
	return ret < 0 ? ret : 0;
}

/* Frames the reader holds that waited for stdin to drain. */
static int take_held(struct relay *r)
{
	struct exec_frame_hdr hdr;
	const u8 *p;
	int ret = 0;

	while (!r->in_len && (ret = exec_reader_next(r->rd, &hdr, &p)) == 1) {
		ret = host_frame(r, &hdr, p);
		if (ret)
			return ret;
	}
	return ret < 0 ? ret : 0;
}

static int flush_out(struct relay *r)
{
	while (r->out_off < r->out_len) {
		ssize_t n = send(r->sock, r->out + r->out_off, r->out_len - r->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -EPIPE;
		r->out_off += (size_t)n;
	}
	r->out_len = r->out_off = 0;
	return 0;
}

/*
 * Reads one chunk of the command's output into the outgoing frame.  The
 * end of a stream closes it: EOF, EIO (a pty whose other side is gone),
 * or, once the command has exited, nothing left to read.
 */
static int read_output(struct relay *r, int *fd, enum exec_msg type)
{
	ssize_t n = read(*fd, r->out + EXEC_HDR_SIZE, EXEC_MAX_PAYLOAD);

	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0 && errno == EAGAIN) {
		/* A pty's last bytes may still be in flight: it ends with EIO instead. */
		if (r->exited && !r->child->tty)
			close_fd(fd);
		return 0;
	}
	if (n <= 0) {
		close_fd(fd);
		return 0;
	}
	exec_hdr_put(r->out, type, (u32)n);
	r->out_len = EXEC_HDR_SIZE + (size_t)n;
	r->out_off = 0;
	return flush_out(r);
}

static void reap(struct relay *r)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(r->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	for (;;) {
		pid = waitpid(r->reap_all ? -1 : r->child->pid, &status, WNOHANG);
		if (pid <= 0)
			return;
		if (pid == r->child->pid && !r->exited) {
			r->exited = true;
			r->status = status;
		}
	}
}

static int send_exit(struct relay *r)
{
	if (WIFSIGNALED(r->status))
		return exec_send_exit(r->sock, EXEC_EXIT_SIGNAL, WTERMSIG(r->status));
	return exec_send_exit(r->sock, EXEC_EXIT_CODE, WEXITSTATUS(r->status));
}

enum { P_SOCK, P_OUT, P_ERR, P_IN, P_SIG, P_MAX };

static void fill_poll(struct relay *r, struct pollfd *pfd)
{
	struct agent_child *c = r->child;
	bool out_free = !r->out_len;

	pfd[P_SOCK] = (struct pollfd){ r->sock, 0, 0 };
	if (r->out_len)
		pfd[P_SOCK].events |= POLLOUT;
	/* After the exit nothing the host sends matters; before it, only with room for stdin. */
	if (!r->exited && !r->in_len)
		pfd[P_SOCK].events |= POLLIN;
	pfd[P_OUT] = (struct pollfd){ out_free ? c->out_fd : -1, POLLIN, 0 };
	pfd[P_ERR] = (struct pollfd){ out_free ? c->err_fd : -1, POLLIN, 0 };
	pfd[P_IN] = (struct pollfd){ r->in_len ? c->in_fd : -1, POLLOUT, 0 };
	pfd[P_SIG] = (struct pollfd){ r->exited ? -1 : r->sigfd, POLLIN, 0 };
}

/* Output first (in turns), so that an exit is only acted on with its output read. */
static int handle_output(struct relay *r, const struct pollfd *pfd)
{
	struct agent_child *c = r->child;
	bool out_ready = pfd[P_OUT].revents, err_ready = pfd[P_ERR].revents;

	/* Once exited, the pipes are read without waiting: what is left, then their end. */
	if (r->exited && !c->tty) {
		out_ready = c->out_fd >= 0;
		err_ready = c->err_fd >= 0;
	}
	if (out_ready && (!err_ready || r->turn++ % 2 == 0))
		return r->out_len ? 0 : read_output(r, &c->out_fd, EXEC_STDOUT);
	if (err_ready && !r->out_len)
		return read_output(r, &c->err_fd, EXEC_STDERR);
	return 0;
}

static int relay_step(struct relay *r)
{
	struct pollfd pfd[P_MAX];
	int ret = 0;

	fill_poll(r, pfd);
	/* Draining after the exit must not wait on pipes that are only read until empty. */
	if (poll(pfd, P_MAX, r->exited && !r->child->tty && !r->out_len ? 0 : -1) < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[P_SOCK].revents & POLLOUT)
		ret = flush_out(r);
	if (!ret && !r->out_len)
		ret = handle_output(r, pfd);
	if (!ret && pfd[P_IN].revents) {
		push_stdin(r);
		ret = take_held(r);
	}
	if (!ret && (pfd[P_SOCK].revents & (POLLIN | POLLHUP | POLLERR)) && !r->exited && !r->in_len)
		ret = read_host(r);
	if (!ret && pfd[P_SIG].revents)
		reap(r);
	return ret;
}

static bool drained(const struct relay *r)
{
	return r->exited && r->child->out_fd < 0 && r->child->err_fd < 0 && !r->out_len;
}

int agent_relay(int sock, struct exec_reader *rd, struct agent_child *child, int sigfd,
		bool reap_all)
{
	struct relay *r = calloc(1, sizeof(*r));
	int ret = 0;

	if (!r)
		return -ENOMEM;
	r->sock = sock;
	r->rd = rd;
	r->child = child;
	r->sigfd = sigfd;
	r->reap_all = reap_all;
	/* Frames that came with RUN are the host's first words to the command. */
	ret = take_held(r);
	while (!ret && !drained(r))
		ret = relay_step(r);
	if (!ret)
		ret = send_exit(r) ? -EPIPE : 0;
	free(r);
	return ret;
}
