// SPDX-License-Identifier: Apache-2.0
/*
 * exec_client_run() against a fake agent on the other end of a
 * socketpair: the streams stay apart, stdin and its EOF arrive, signals
 * are forwarded, EXIT becomes the status, and a hostile agent's frames
 * end the session with 125 (and a VM to stop), never a crash.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "test.h"

struct agent {
	int fd;                  /* the agent's end */
	int sig_w;               /* the host's signal pipe, to send it signals */
	void (*script)(struct agent *a);
	u8 buf[8 + EXEC_MAX_PAYLOAD];
	char stdin_seen[256];
	size_t stdin_len;
	bool eof_seen;
	u32 signal_seen;
};

static bool read_full(int fd, u8 *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* The next frame from the host: its type, 0 at EOF. */
static u32 agent_read(struct agent *a, u32 *len)
{
	struct exec_frame_hdr h;

	if (!read_full(a->fd, (u8 *)&h, sizeof(h)) || h.len > EXEC_MAX_PAYLOAD ||
	    !read_full(a->fd, a->buf, h.len))
		return 0;
	*len = h.len;
	return h.type;
}

static void agent_send_u32s(struct agent *a, enum exec_msg type, u32 x, u32 y, size_t len)
{
	u32 p[2] = { x, y };

	exec_send(a->fd, type, p, len);
}

static void agent_hello_run(struct agent *a)
{
	u32 len;

	agent_send_u32s(a, EXEC_HELLO, EXEC_PROTO_VERSION, 0, 4);
	if (agent_read(a, &len) == EXEC_RUN)
		exec_send(a->fd, EXEC_STARTED, NULL, 0);
}

static void agent_exit(struct agent *a, u32 kind, u32 value)
{
	agent_send_u32s(a, EXEC_EXIT, kind, value, 8);
}

/* Until the host hangs up: what a guest does when it is stopped. */
static void agent_drain(struct agent *a)
{
	u32 len;

	while (agent_read(a, &len))
		;
}

static void *agent_thread(void *opaque)
{
	struct agent *a = opaque;

	a->script(a);
	agent_drain(a);
	return NULL;
}

struct run {
	int status;
	bool stop_vm;
	char out[256], err[256];
};

static bool gone_yes(void *opaque)
{
	return true;
}

static size_t read_pipe(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* A session against @script, with @stdin_data (NULL: no stdin). */
static int run_session(void (*script)(struct agent *), const char *stdin_data, u64 timeout_ms,
		       struct agent *a, struct run *r)
{
	struct exec_run run = { .argv = { "true" }, .argc = 1 };
	int sv[2], in[2], out[2], err[2], sig[2];
	struct exec_client c = { .tty_fd = -1, .run = &run, .vm_gone = gone_yes };
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(in) || pipe(out) || pipe(err) ||
	    pipe(sig))
		return -errno;
	a->fd = sv[1];
	a->sig_w = sig[1];
	a->script = script;
	if (stdin_data) {
		if (write(in[1], stdin_data, strlen(stdin_data)) < 0)
			return -errno;
		c.in_fd = in[0];
	} else {
		c.in_fd = -1;
	}
	close(in[1]);
	c.sock = sv[0];
	c.out_fd = out[1];
	c.err_fd = err[1];
	c.sig_fd = sig[0];
	c.deadline_ns = timeout_ms ? exec_now_ns() + timeout_ms * 1000000ull : 0;
	pthread_create(&t, NULL, agent_thread, a);
	r->status = exec_client_run(&c);
	r->stop_vm = c.stop_vm;
	close(sv[0]);
	pthread_join(t, NULL);
	close(out[1]);
	close(err[1]);
	read_pipe(out[0], r->out, sizeof(r->out));
	read_pipe(err[0], r->err, sizeof(r->err));
	close(sv[1]);
	close(in[0]);
	close(out[0]);
	close(err[0]);
	close(sig[0]);
	close(sig[1]);
	return 0;
}

static void script_streams(struct agent *a)
{
	agent_hello_run(a);
	exec_send(a->fd, EXEC_STDOUT, "out1 ", 5);
	exec_send(a->fd, EXEC_STDERR, "err1", 4);
	exec_send(a->fd, EXEC_STDOUT, "out2", 4);
	agent_exit(a, EXEC_EXIT_CODE, 7);
}

static void test_exec_client_streams(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_streams, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 7);
	CHECK(!r.stop_vm);
	CHECK(!strcmp(r.out, "out1 out2"));
	CHECK(!strcmp(r.err, "err1"));
	free(a);
}

/* Echoes stdin back on stdout once EOF came. */
static void script_cat(struct agent *a)
{
	u32 type, len;

	agent_hello_run(a);
	while ((type = agent_read(a, &len)) == EXEC_STDIN) {
		memcpy(a->stdin_seen + a->stdin_len, a->buf,
		       MIN(len, sizeof(a->stdin_seen) - 1 - a->stdin_len));
		a->stdin_len += MIN(len, sizeof(a->stdin_seen) - 1 - a->stdin_len);
	}
	a->eof_seen = type == EXEC_STDIN_EOF;
	if (a->stdin_len)       /* an empty STDOUT breaks the protocol */
		exec_send(a->fd, EXEC_STDOUT, a->stdin_seen, a->stdin_len);
	agent_exit(a, EXEC_EXIT_CODE, 0);
}

static void test_exec_client_stdin(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_cat, "some data\n", 0, a, &r), 0);
	CHECK_EQ(r.status, 0);
	CHECK(a->eof_seen);
	CHECK(!strcmp(r.out, "some data\n"));
	/* No stdin at all: EOF at once, after RUN. */
	memset(a, 0, sizeof(*a));
	CHECK_EQ(run_session(script_cat, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 0);
	CHECK(a->eof_seen && !a->stdin_len);
	free(a);
}

/* arkvm gets SIGTERM while the command runs: the command dies of it. */
static void script_signal(struct agent *a)
{
	u8 sig = SIGTERM;
	u32 type, len;

	agent_hello_run(a);
	if (write(a->sig_w, &sig, 1) != 1)
		return;
	while ((type = agent_read(a, &len)) && type != EXEC_SIGNAL)
		;
	if (type == EXEC_SIGNAL && len == 4)
		memcpy(&a->signal_seen, a->buf, 4);
	agent_exit(a, EXEC_EXIT_SIGNAL, a->signal_seen);
}

static void test_exec_client_signal(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_signal, NULL, 0, a, &r), 0);
	CHECK_EQ(a->signal_seen, SIGTERM);
	CHECK_EQ(r.status, 128 + SIGTERM);
	free(a);
}

/* Two Ctrl-C and a command that ignores the first: the VM is stopped, 130. */
static void script_two_sigint(struct agent *a)
{
	u8 sigs[2] = { SIGINT, SIGINT };

	agent_hello_run(a);
	if (write(a->sig_w, sigs, 2) != 2)
		return;
}

static void test_exec_client_second_sigint(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_two_sigint, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 130);
	CHECK(r.stop_vm);
	free(a);
}

static void script_not_found(struct agent *a)
{
	u32 len;

	agent_send_u32s(a, EXEC_HELLO, EXEC_PROTO_VERSION, 0, 4);
	agent_read(a, &len);
	agent_exit(a, EXEC_EXIT_NOT_FOUND, ENOENT);
}

static void script_setup(struct agent *a)
{
	u32 len;

	agent_send_u32s(a, EXEC_HELLO, EXEC_PROTO_VERSION, 0, 4);
	agent_read(a, &len);
	agent_exit(a, EXEC_EXIT_SETUP, ENOENT);
}

static void test_exec_client_not_started(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_not_found, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 127);
	CHECK_EQ(run_session(script_setup, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 125);
	free(a);
}

/* HELLO, then silence: the timeout ends it with 124 and a VM to stop. */
static void script_silent(struct agent *a)
{
	agent_hello_run(a);
}

static void test_exec_client_timeout(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_silent, NULL, 30, a, &r), 0);
	CHECK_EQ(r.status, 124);
	CHECK(r.stop_vm);
	free(a);
}

/* The VM died under the session (SIGCHLD): 125, not a hang. */
static void script_vm_dies(struct agent *a)
{
	u8 sig = SIGCHLD;

	agent_hello_run(a);
	if (write(a->sig_w, &sig, 1) != 1)
		return;
}

static void test_exec_client_vm_gone(void)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	CHECK_EQ(run_session(script_vm_dies, NULL, 0, a, &r), 0);
	CHECK_EQ(r.status, 125);
	free(a);
}

/* Hostile agents, one rule broken each. */
static void hostile_before_hello(struct agent *a)
{
	exec_send(a->fd, EXEC_STDOUT, "x", 1);
}

static void hostile_version(struct agent *a)
{
	agent_send_u32s(a, EXEC_HELLO, 99, 0, 4);
}

static void hostile_two_hellos(struct agent *a)
{
	agent_hello_run(a);
	agent_send_u32s(a, EXEC_HELLO, EXEC_PROTO_VERSION, 0, 4);
}

static void hostile_exit_value(struct agent *a)
{
	agent_hello_run(a);
	agent_exit(a, EXEC_EXIT_CODE, 999);
}

static void hostile_exit_kind(struct agent *a)
{
	agent_hello_run(a);
	agent_exit(a, 77, 0);
}

static void hostile_exit_short(struct agent *a)
{
	agent_hello_run(a);
	agent_send_u32s(a, EXEC_EXIT, EXEC_EXIT_CODE, 0, 4);
}

static void hostile_host_frame(struct agent *a)
{
	agent_hello_run(a);
	exec_send(a->fd, EXEC_RUN, "arg=x", 6);
}

static void hostile_unknown_type(struct agent *a)
{
	u32 h[2] = { 99, 0 };

	agent_hello_run(a);
	if (write(a->fd, h, sizeof(h)) < 0)
		return;
}

static void hostile_too_long(struct agent *a)
{
	u32 h[2] = { EXEC_STDOUT, EXEC_MAX_PAYLOAD + 1 };

	agent_hello_run(a);
	if (write(a->fd, h, sizeof(h)) < 0)
		return;
}

static void hostile_hangs_up(struct agent *a)
{
	agent_hello_run(a);
	exec_send(a->fd, EXEC_STDOUT, "partial", 7);
	shutdown(a->fd, SHUT_WR);
}

static void test_exec_client_hostile(void)
{
	static void (*const scripts[])(struct agent *) = {
		hostile_before_hello, hostile_version, hostile_two_hellos, hostile_exit_value,
		hostile_exit_kind, hostile_exit_short, hostile_host_frame, hostile_unknown_type,
		hostile_too_long, hostile_hangs_up,
	};
	struct agent *a = calloc(1, sizeof(*a));
	struct run r;

	CHECK(a);
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		memset(a, 0, sizeof(*a));
		CHECK_EQ(run_session(scripts[i], NULL, 0, a, &r), 0);
		if (r.status != 125 || !r.stop_vm)
			fprintf(stderr, "hostile script %zu: status %d\n", i, r.status);
		CHECK_EQ(r.status, 125);
		CHECK(r.stop_vm);
	}
	free(a);
}

/* --warm reads HELLO itself, and not a byte past it: the rest is the session's. */
static void test_read_hello(void)
{
	u8 frame[EXEC_HDR_SIZE + 4], next[EXEC_HDR_SIZE];
	int sv[2];

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	exec_hdr_put(frame, EXEC_HELLO, 4);
	memcpy(frame + EXEC_HDR_SIZE, &(u32){ htole32(EXEC_PROTO_VERSION) }, 4);
	exec_hdr_put(next, EXEC_STARTED, 0);
	CHECK_EQ(write(sv[1], frame, 5), 5);
	CHECK_EQ(write(sv[1], frame + 5, sizeof(frame) - 5), (ssize_t)sizeof(frame) - 5);
	CHECK_EQ(write(sv[1], next, sizeof(next)), (ssize_t)sizeof(next));
	CHECK_EQ(exec_read_hello(sv[0], exec_now_ns() + 5000000000ull), 0);
	CHECK_EQ(read(sv[0], frame, sizeof(frame)), (ssize_t)sizeof(next));
	/* Another version, another frame first, the agent gone, or silence. */
	exec_hdr_put(frame, EXEC_HELLO, 4);
	memcpy(frame + EXEC_HDR_SIZE, &(u32){ htole32(EXEC_PROTO_VERSION + 1) }, 4);
	CHECK_EQ(write(sv[1], frame, sizeof(frame)), (ssize_t)sizeof(frame));
	CHECK_EQ(exec_read_hello(sv[0], exec_now_ns() + 5000000000ull), -EPROTO);
	CHECK_EQ(write(sv[1], next, sizeof(next)), (ssize_t)sizeof(next));
	CHECK_EQ(exec_read_hello(sv[0], exec_now_ns() + 5000000000ull), -EPROTO);
	CHECK_EQ(exec_read_hello(sv[0], exec_now_ns() + 50000000ull), -ETIMEDOUT);
	close(sv[1]);
	CHECK_EQ(exec_read_hello(sv[0], exec_now_ns() + 5000000000ull), -EPIPE);
	close(sv[0]);
}

TEST_SUITE(exec_client,
	   TEST(test_read_hello),
	TEST(test_exec_client_streams),
	TEST(test_exec_client_stdin),
	TEST(test_exec_client_signal),
	TEST(test_exec_client_second_sigint),
	TEST(test_exec_client_not_started),
	TEST(test_exec_client_timeout),
	TEST(test_exec_client_vm_gone),
	TEST(test_exec_client_hostile),
);
