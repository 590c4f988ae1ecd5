// SPDX-License-Identifier: Apache-2.0
/*
 * The guest agent's session (agent/session.c, spawn.c, relay.c) run
 * natively: a forked process plays the guest on one end of a socketpair
 * and runs real commands with sh; the test plays arkvm on the other end
 * and checks what came back: the streams apart, stdin and its end, exit
 * codes and signals, the start-up failures, and the host's bad frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_agent.h"
#include "test.h"

struct host {
	int sock;
	pid_t guest;
	struct exec_reader rd;
	bool started, exited;
	enum exec_exit kind;
	int value;
	char out[1 << 16], err[1 << 12];
	size_t out_len, err_len;
	size_t out_total;             /* all STDOUT bytes, kept or not */
	unsigned int out_frames;
};

static struct host h;             /* large: not on the stack */
static struct exec_run run;

static const struct agent_session_ops no_mounts = { .prepare = NULL, .reap_all = false };

/* The guest: a session on @sock, its result as the exit status. */
static _Noreturn void guest(int sock)
{
	int ret, null = open("/dev/null", O_WRONLY);

	/* Its one-line complaints about the bad hosts below are expected. */
	if (null >= 0)
		dup2(null, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);
	ret = agent_session(sock, &no_mounts);
	_exit(ret == 0 ? 0 : ret == -EPROTO ? 1 : ret == -EPIPE ? 2 : ret == -ECONNRESET ? 4 : 3);
}

static int host_start(void)
{
	int sv[2];

	memset(&h, 0, sizeof(h));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || exec_reader_init(&h.rd))
		return -1;
	h.guest = fork();
	if (h.guest < 0)
		return -1;
	if (!h.guest) {
		close(sv[0]);
		guest(sv[1]);
	}
	close(sv[1]);
	h.sock = sv[0];
	return 0;
}

/* The next frame from the guest (blocking): 1, 0 at its end, -EPROTO. */
static int host_next(struct exec_frame_hdr *hdr, const u8 **p)
{
	int ret;

	while ((ret = exec_reader_next(&h.rd, hdr, p)) == 0) {
		size_t room;
		u8 *space = exec_reader_space(&h.rd, &room);
		ssize_t n = recv(h.sock, space, room, 0);

		if (n <= 0)
			return 0;
		exec_reader_fed(&h.rd, (size_t)n);
	}
	return ret;
}

static void keep(char *buf, size_t cap, size_t *len, const u8 *p, size_t n)
{
	n = MIN(n, cap - 1 - *len);
	memcpy(buf + *len, p, n);
	*len += n;
	buf[*len] = '\0';
}

/* Reads frames up to EXIT, or the end; false on anything out of order. */
static bool host_collect(void)
{
	struct exec_frame_hdr hdr;
	const u8 *p;

	while (!h.exited && host_next(&hdr, &p) == 1) {
		switch (hdr.type) {
		case EXEC_HELLO:
			if (exec_hello_decode(p, hdr.len))
				return false;
			break;
		case EXEC_STARTED:
			h.started = true;
			break;
		case EXEC_STDOUT:
			h.out_total += hdr.len;
			h.out_frames++;
			keep(h.out, sizeof(h.out), &h.out_len, p, hdr.len);
			break;
		case EXEC_STDERR:
			keep(h.err, sizeof(h.err), &h.err_len, p, hdr.len);
			break;
		case EXEC_EXIT:
			if (exec_exit_decode(p, hdr.len, &h.kind, &h.value))
				return false;
			h.exited = true;
			break;
		default:
			return false;
		}
	}
	return h.exited;
}

/* Waits for HELLO and STARTED (or an early EXIT). */
static bool host_wait_started(void)
{
	struct exec_frame_hdr hdr;
	const u8 *p;

	while (!h.started && !h.exited && host_next(&hdr, &p) == 1) {
		if (hdr.type == EXEC_STARTED)
			h.started = true;
		else if (hdr.type == EXEC_EXIT && !exec_exit_decode(p, hdr.len, &h.kind, &h.value))
			h.exited = true;
		else if (hdr.type != EXEC_HELLO)
			return false;
	}
	return h.started || h.exited;
}

static int send_run(void)
{
	static u8 buf[EXEC_MAX_PAYLOAD];
	int len = exec_run_encode(&run, buf, sizeof(buf));

	return len < 0 ? len : exec_send(h.sock, EXEC_RUN, buf, (size_t)len);
}

/* Ends the session: the guest's result (0, 1 protocol error, 2 host gone). */
static int host_end(void)
{
	int status;

	close(h.sock);
	exec_reader_free(&h.rd);
	if (waitpid(h.guest, &status, 0) != h.guest || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void set_cmd(const char *script)
{
	memset(&run, 0, sizeof(run));
	run.argv[0] = "sh";
	run.argv[1] = "-c";
	run.argv[2] = script;
	run.argc = 3;
}

static void test_streams_apart_and_exit_code(void)
{
	set_cmd("echo out; echo err >&2; echo more; exit 7");
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(h.started);
	CHECK(!strcmp(h.out, "out\nmore\n"));
	CHECK(!strcmp(h.err, "err\n"));
	CHECK(h.kind == EXEC_EXIT_CODE && h.value == 7);
	CHECK_EQ(host_end(), 0);
}

static void test_stdin_and_eof(void)
{
	static u8 data[300000];

	memset(data, 'z', sizeof(data));
	set_cmd("wc -c; echo after");
	CHECK(!host_start());
	CHECK(!send_run());
	/* More than the agent holds: it goes as fast as the command reads. */
	for (size_t off = 0; off < sizeof(data); off += 50000)
		CHECK(!exec_send(h.sock, EXEC_STDIN, data + off, 50000));
	CHECK(!exec_send(h.sock, EXEC_STDIN_EOF, NULL, 0));
	CHECK(host_collect());
	CHECK(!strcmp(h.out, "300000\nafter\n"));
	CHECK(h.kind == EXEC_EXIT_CODE && h.value == 0);
	CHECK_EQ(host_end(), 0);
}

/* A megabyte out, in frames no larger than the protocol allows, all of it. */
static void test_large_output(void)
{
	set_cmd("head -c 1000000 /dev/zero; echo end >&2");
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK_EQ(h.out_total, 1000000);
	CHECK(h.out_frames >= 1000000 / EXEC_MAX_PAYLOAD);
	CHECK(!strcmp(h.err, "end\n"));
	CHECK_EQ(host_end(), 0);
}

static void test_killed_by_signal(void)
{
	set_cmd("kill -TERM $$");
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(h.kind == EXEC_EXIT_SIGNAL && h.value == SIGTERM);
	CHECK_EQ(exec_exit_status(h.kind, h.value), 143);
	CHECK_EQ(host_end(), 0);
}

/* SIGNAL reaches the command's whole group: the shell and its sleep. */
static void test_signal_frame(void)
{
	set_cmd("sleep 100; echo not reached");
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_wait_started());
	CHECK(h.started);
	CHECK(!exec_send_u32(h.sock, EXEC_SIGNAL, SIGINT));
	CHECK(host_collect());
	CHECK(h.kind == EXEC_EXIT_SIGNAL && h.value == SIGINT);
	CHECK(!strstr(h.out, "not reached"));
	CHECK_EQ(host_end(), 0);
}

/* What cannot start: EXIT without STARTED, the kinds a shell's 127 and 126 come from. */
static void check_no_start(const char *cmd, const char *cwd, enum exec_exit kind, int value)
{
	memset(&run, 0, sizeof(run));
	run.argv[0] = cmd;
	run.argc = 1;
	run.cwd = cwd;
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(!h.started);
	CHECK_EQ(h.kind, kind);
	CHECK_EQ(h.value, value);
	CHECK_EQ(host_end(), 0);
}

static void test_exec_failures(void)
{
	check_no_start("/nonexistent/cmd", NULL, EXEC_EXIT_NOT_FOUND, ENOENT);
	if (test_failed())
		return;
	check_no_start("no-such-command-anywhere", NULL, EXEC_EXIT_NOT_FOUND, ENOENT);
	if (test_failed())
		return;
	check_no_start("/etc/passwd", NULL, EXEC_EXIT_NOT_EXECUTABLE, EACCES);
	if (test_failed())
		return;
	check_no_start("/", NULL, EXEC_EXIT_NOT_EXECUTABLE, EACCES);
	if (test_failed())
		return;
	check_no_start("true", "/nonexistent-dir", EXEC_EXIT_SETUP, ENOENT);
}

static void test_env_cwd_path(void)
{
	set_cmd("echo \"$A|$PATH|$(pwd)|$HOME\"");
	run.envp[0] = "A=1";
	run.envc = 1;
	run.cwd = "/tmp";
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(!strcmp(h.out, "1|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/tmp|\n"));
	CHECK_EQ(host_end(), 0);

	set_cmd("echo \"$PATH\"");
	run.envp[0] = "PATH=/bin:/usr/bin";
	run.envc = 1;
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(!strcmp(h.out, "/bin:/usr/bin\n"));
	CHECK_EQ(host_end(), 0);
}

static void test_user(void)
{
	if (geteuid() != 0)
		return;                 /* setuid needs root: the guest's agent has it */
	set_cmd("id -u; id -g; id -G");
	run.uid = 65534;
	run.gid = 65533;
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(!strcmp(h.out, "65534\n65533\n65533\n"));
	CHECK_EQ(host_end(), 0);
}

static void test_tty(void)
{
	set_cmd("tty; stty size; read line; echo \"got $line\"");
	run.tty = true;
	run.rows = 30;
	run.cols = 100;
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_wait_started());
	CHECK(!exec_send(h.sock, EXEC_STDIN, "hi\n", 3));
	CHECK(host_collect());
	CHECK(strstr(h.out, "/dev/pts/"));
	CHECK(strstr(h.out, "30 100"));
	CHECK(strstr(h.out, "got hi"));
	CHECK_EQ(h.err_len, 0);
	CHECK(h.kind == EXEC_EXIT_CODE && h.value == 0);
	CHECK_EQ(host_end(), 0);
}

/* RUN with shares on a guest that cannot mount: SETUP with its errno. */
static void test_mount_failure(void)
{
	set_cmd("true");
	run.mounts[0] = (struct exec_mount){ "ws", "/ws", false };
	run.nr_mounts = 1;
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_collect());
	CHECK(!h.started);
	CHECK(h.kind == EXEC_EXIT_SETUP && h.value == ENOTSUP);
	CHECK_EQ(host_end(), 0);
}

/* After a good RUN of cat (it ends when the agent does), one bad frame. */
static int bad_frame_after_run(enum exec_msg type, const void *p, size_t len)
{
	set_cmd("cat");
	if (host_start() || send_run() || !host_wait_started() || !h.started)
		return -1;
	if (type == EXEC_STDIN_EOF && exec_send(h.sock, EXEC_STDIN_EOF, NULL, 0))
		return -1;
	if (exec_send(h.sock, type, p, len))
		return -1;
	host_collect();
	return host_end();
}

/* The guest's verdict once it has said all it will (it may still be sending HELLO). */
static int host_finish(void)
{
	host_collect();
	return host_end();
}

static void test_hostile_host(void)
{
	u8 sig0[4] = { 0 }, sig65[4] = { 65 }, ws0[4] = { 0 };

	/* The first frame is not RUN, or RUN is malformed. */
	CHECK(!host_start());
	CHECK(!exec_send(h.sock, EXEC_STDIN, "x", 1));
	CHECK_EQ(host_finish(), 1);
	CHECK(!host_start());
	CHECK(!exec_send(h.sock, EXEC_RUN, "arg=ls", 6));
	CHECK_EQ(host_finish(), 1);
	CHECK(!host_start());
	CHECK(!exec_send(h.sock, EXEC_RUN, "nope=1", 7));
	CHECK_EQ(host_finish(), 1);
	/* An oversize header. */
	CHECK(!host_start());
	u8 hdr[8];
	exec_hdr_put(hdr, EXEC_STDIN, EXEC_MAX_PAYLOAD + 1);
	CHECK_EQ(send(h.sock, hdr, 8, 0), 8);
	CHECK_EQ(host_finish(), 1);
	/* Mid-session. */
	CHECK_EQ(bad_frame_after_run(EXEC_RUN, "arg=ls", 7), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_STDOUT, "x", 1), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_EXIT, (u8[8]){ 1 }, 8), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_SIGNAL, sig0, 4), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_SIGNAL, sig65, 4), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_WINSIZE, ws0, 4), 1);
	CHECK_EQ(bad_frame_after_run(EXEC_STDIN_EOF, NULL, 0), 1);     /* twice */
	/* The host going away mid-session ends it too. */
	set_cmd("cat");
	CHECK(!host_start());
	CHECK(!send_run());
	CHECK(host_wait_started());
	CHECK_EQ(host_end(), 2);
}

/*
 * A host gone before its RUN is no end: the agent takes the next one.
 * That is how a VM restored from arkvm exec's warm snapshot finds its
 * agent, whose stream from the first run was reset.
 */
static void test_host_gone_before_run(void)
{
	struct exec_frame_hdr hdr;
	const u8 *p;

	CHECK(!host_start());
	CHECK_EQ(host_end(), 4);
	CHECK(!host_start());
	CHECK_EQ(host_next(&hdr, &p), 1);
	CHECK_EQ(hdr.type, EXEC_HELLO);
	CHECK_EQ(host_end(), 4);
}

TEST_SUITE(exec_agent,
	   TEST(test_streams_apart_and_exit_code),
	   TEST(test_stdin_and_eof),
	   TEST(test_large_output),
	   TEST(test_killed_by_signal),
	   TEST(test_signal_frame),
	   TEST(test_exec_failures),
	   TEST(test_env_cwd_path),
	   TEST(test_user),
	   TEST(test_tty),
	   TEST(test_mount_failure),
	   TEST(test_hostile_host),
	   TEST(test_host_gone_before_run));
