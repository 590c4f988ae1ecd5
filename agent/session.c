// SPDX-License-Identifier: Apache-2.0
/*
 * One exec session, from the agent's side: HELLO, then the host's RUN,
 * the shares, the command, the relay, EXIT.  The host is trusted with
 * nothing: its first frame must be RUN, and RUN must decode.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec_agent.h"

void agent_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "arkvm-agent: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = MIN(n, (int)sizeof(line) - 2);
	line[n++] = '\n';
	/* One write: the line stays whole among the kernel's. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* Blocks until the host's first frame; it must be RUN. */
static int read_run(int sock, struct exec_reader *rd, const u8 **payload, size_t *len)
{
	struct exec_frame_hdr hdr;
	int ret;

	while ((ret = exec_reader_next(rd, &hdr, payload)) == 0) {
		size_t room;
		u8 *space = exec_reader_space(rd, &room);
		ssize_t n = recv(sock, space, room, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		exec_reader_fed(rd, (size_t)n);
	}
	if (ret < 0)
		return ret;
	if (hdr.type != EXEC_RUN)
		return -EPROTO;
	*len = hdr.len;
	return 0;
}

/* A command that could not start: its EXIT, which ends the session well. */
static int send_failure(int sock, const struct agent_failure *fail)
{
	return exec_send_exit(sock, fail->kind, fail->err) ? -EPIPE : 0;
}

/* RUN decoded: the shares, the command, STARTED, then the relay. */
static int run_command(int sock, struct exec_reader *rd, const struct exec_run *run,
		       const struct agent_session_ops *ops, int sigfd)
{
	struct agent_failure fail = { EXEC_EXIT_SETUP, 0 };
	struct agent_child child;
	int ret;

	if (ops->prepare || run->nr_mounts) {
		ret = ops->prepare ? ops->prepare(run) : -ENOTSUP;
		if (ret) {
			fail.err = -ret;
			return send_failure(sock, &fail);
		}
	}
	ret = agent_spawn(run, &child, &fail);
	if (ret < 0) {
		agent_log("cannot start the command: %s", strerror(-ret));
		fail = (struct agent_failure){ EXEC_EXIT_SETUP, -ret };
		ret = 1;
	}
	if (ret == 1)
		return send_failure(sock, &fail);
	ret = exec_send(sock, EXEC_STARTED, NULL, 0) ? -EPIPE : 0;
	if (!ret)
		ret = agent_relay(sock, rd, &child, sigfd, ops->reap_all);
	if (child.in_fd >= 0)
		close(child.in_fd);
	if (child.out_fd >= 0)
		close(child.out_fd);
	if (child.err_fd >= 0)
		close(child.err_fd);
	return ret;
}

static int session(int sock, struct exec_reader *rd, const struct agent_session_ops *ops,
		   int sigfd)
{
	struct exec_run *run;
	const u8 *payload;
	size_t len;
	int ret;

	/* Before RUN the host may go and another come: not an end. */
	if (exec_send_u32(sock, EXEC_HELLO, EXEC_PROTO_VERSION))
		return -ECONNRESET;
	ret = read_run(sock, rd, &payload, &len);
	if (ret)
		return ret == -EPIPE ? -ECONNRESET : ret;
	run = malloc(sizeof(*run));
	if (!run)
		return -ENOMEM;
	ret = exec_run_decode(payload, len, run);
	if (!ret)
		ret = run_command(sock, rd, run, ops, sigfd);
	free(run);
	return ret;
}

int agent_session(int sock, const struct agent_session_ops *ops)
{
	struct exec_reader rd;
	sigset_t chld, old;
	int sigfd, ret;

	/* SIGCHLD is read from a signalfd: blocked from before the fork on. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, &old))
		return -errno;
	sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		ret = -errno;
		goto out_mask;
	}
	ret = exec_reader_init(&rd);
	if (!ret) {
		ret = session(sock, &rd, ops, sigfd);
		exec_reader_free(&rd);
	}
	if (ret == -EPROTO)
		agent_log("the host broke the protocol");
	close(sigfd);
out_mask:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
