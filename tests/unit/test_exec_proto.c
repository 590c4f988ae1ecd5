// SPDX-License-Identifier: Apache-2.0
/*
 * The exec protocol (src/exec_proto.c): frames sent with exec_send() and
 * read back through a socketpair, a stream cut at every byte, the frames
 * a hostile peer could send refused, and RUN encoded, decoded and every
 * malformed RUN refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec_proto.h"
#include "test.h"

struct got_frame {
	u32 type, len;
	u8 data[64];
};

/* Reads what @fd has (non-blocking peer closed or drained) into frames; their count or -errno. */
static int read_frames(struct exec_reader *rd, int fd, struct got_frame *out, int max)
{
	int n = 0;

	for (;;) {
		struct exec_frame_hdr hdr;
		const u8 *p;
		size_t room;
		u8 *space = exec_reader_space(rd, &room);
		ssize_t r = recv(fd, space, room, MSG_DONTWAIT);
		int ret;

		if (r <= 0)
			return n;
		exec_reader_fed(rd, (size_t)r);
		while ((ret = exec_reader_next(rd, &hdr, &p)) == 1) {
			if (n == max)
				return -ENOSPC;
			out[n].type = hdr.type;
			out[n].len = hdr.len;
			memcpy(out[n].data, p, MIN(hdr.len, sizeof(out[n].data)));
			n++;
		}
		if (ret < 0)
			return ret;
	}
}

static void test_frames_over_socketpair(void)
{
	struct exec_reader rd;
	struct got_frame f[8];
	int sv[2];

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(!exec_reader_init(&rd));
	CHECK(!exec_send_u32(sv[0], EXEC_HELLO, EXEC_PROTO_VERSION));
	CHECK(!exec_send(sv[0], EXEC_STARTED, NULL, 0));
	CHECK(!exec_send(sv[0], EXEC_STDOUT, "out", 3));
	CHECK(!exec_send(sv[0], EXEC_STDERR, "err!", 4));
	CHECK(!exec_send_exit(sv[0], EXEC_EXIT_SIGNAL, 15));
	CHECK_EQ(read_frames(&rd, sv[1], f, 8), 5);
	CHECK_EQ(f[0].type, EXEC_HELLO);
	CHECK(!exec_hello_decode(f[0].data, f[0].len));
	CHECK_EQ(f[1].type, EXEC_STARTED);
	CHECK_EQ(f[1].len, 0);
	CHECK_EQ(f[2].type, EXEC_STDOUT);
	CHECK(f[2].len == 3 && !memcmp(f[2].data, "out", 3));
	CHECK_EQ(f[3].type, EXEC_STDERR);
	CHECK(f[3].len == 4 && !memcmp(f[3].data, "err!", 4));
	CHECK_EQ(f[4].type, EXEC_EXIT);

	enum exec_exit kind;
	int value;

	CHECK(!exec_exit_decode(f[4].data, f[4].len, &kind, &value));
	CHECK(kind == EXEC_EXIT_SIGNAL && value == 15);
	CHECK_EQ(exec_exit_status(kind, value), 143);

	/* The other way: the host's frames. */
	CHECK(!exec_send(sv[1], EXEC_STDIN, "in", 2));
	CHECK(!exec_send(sv[1], EXEC_STDIN_EOF, NULL, 0));
	CHECK(!exec_send_u32(sv[1], EXEC_SIGNAL, 2));
	CHECK(!exec_send_winsize(sv[1], 24, 80));
	exec_reader_free(&rd);
	CHECK(!exec_reader_init(&rd));
	CHECK_EQ(read_frames(&rd, sv[0], f, 8), 4);
	CHECK(f[0].type == EXEC_STDIN && f[0].len == 2 && !memcmp(f[0].data, "in", 2));
	CHECK(f[1].type == EXEC_STDIN_EOF && f[1].len == 0);
	CHECK_EQ(exec_signal_decode(f[2].data, f[2].len), 2);

	u16 rows, cols;

	CHECK(!exec_winsize_decode(f[3].data, f[3].len, &rows, &cols));
	CHECK(rows == 24 && cols == 80);
	/* Little-endian on the wire, whatever the host is. */
	CHECK(!exec_send(sv[1], EXEC_STDOUT, "x", 1));
	u8 raw[9];
	CHECK_EQ(recv(sv[0], raw, sizeof(raw), 0), 9);
	CHECK(!memcmp(raw, (const u8[]){ EXEC_STDOUT, 0, 0, 0, 1, 0, 0, 0, 'x' }, 9));
	exec_reader_free(&rd);
	close(sv[0]);
	close(sv[1]);
}

/* A stream of several frames, the largest one full size. */
static size_t build_stream(u8 *s)
{
	size_t n = 0;

	exec_hdr_put(s + n, EXEC_HELLO, 4);
	memcpy(s + n + 8, (const u8[]){ 1, 0, 0, 0 }, 4);
	n += 12;
	exec_hdr_put(s + n, EXEC_STARTED, 0);
	n += 8;
	exec_hdr_put(s + n, EXEC_STDOUT, 5);
	memcpy(s + n + 8, "hello", 5);
	n += 13;
	exec_hdr_put(s + n, EXEC_STDERR, EXEC_MAX_PAYLOAD);
	for (size_t i = 0; i < EXEC_MAX_PAYLOAD; i++)
		s[n + 8 + i] = (u8)(i * 7);
	n += 8 + EXEC_MAX_PAYLOAD;
	exec_hdr_put(s + n, EXEC_EXIT, 8);
	memcpy(s + n + 8, (const u8[]){ 1, 0, 0, 0, 3, 0, 0, 0 }, 8);
	n += 16;
	return n;
}

/* Feeds @len bytes of @s, as much as the reader has room for each time; counts frames into *@got. */
static bool feed(struct exec_reader *rd, const u8 *s, size_t len, unsigned int *got)
{
	static const u32 types[] = { EXEC_HELLO, EXEC_STARTED, EXEC_STDOUT, EXEC_STDERR, EXEC_EXIT };

	while (len) {
		struct exec_frame_hdr hdr;
		const u8 *p;
		size_t room, n;
		u8 *space = exec_reader_space(rd, &room);
		int ret;

		n = MIN(room, len);
		if (!n)
			return false;          /* full without a whole frame: a reader bug */
		memcpy(space, s, n);
		exec_reader_fed(rd, n);
		s += n;
		len -= n;
		while ((ret = exec_reader_next(rd, &hdr, &p)) == 1) {
			if (*got >= 5 || hdr.type != types[*got])
				return false;
			if (hdr.type == EXEC_STDERR &&
			    (hdr.len != EXEC_MAX_PAYLOAD || p[1000] != (u8)(1000 * 7) ||
			     p[EXEC_MAX_PAYLOAD - 1] != (u8)((EXEC_MAX_PAYLOAD - 1) * 7)))
				return false;
			if (hdr.type == EXEC_STDOUT && (hdr.len != 5 || memcmp(p, "hello", 5)))
				return false;
			(*got)++;
		}
		if (ret)
			return false;
	}
	return true;
}

/* The stream in two pieces cut at @cut: the five frames come out whole. */
static bool split_ok(const u8 *s, size_t len, size_t cut)
{
	struct exec_reader rd;
	unsigned int got = 0;
	bool ok;

	if (exec_reader_init(&rd))
		return false;
	ok = feed(&rd, s, cut, &got) && feed(&rd, s + cut, len - cut, &got) && got == 5;
	exec_reader_free(&rd);
	return ok;
}

static void test_split_at_every_byte(void)
{
	u8 *s = malloc(2 * EXEC_MAX_PAYLOAD);
	size_t len;

	CHECK(s);
	len = build_stream(s);
	/* Every cut in the small frames and around the big one's ends; a sample inside it. */
	for (size_t cut = 0; cut <= len; cut++) {
		bool edge = cut < 64 || len - cut < 64 || cut % 4099 == 0;

		if (edge && !split_ok(s, len, cut)) {
			free(s);
			CHECK_EQ(cut, ~0ULL);
		}
	}
	free(s);
}

/* One byte at a time: each frame comes out as its last byte arrives. */
static void test_byte_by_byte(void)
{
	u8 *s = malloc(2 * EXEC_MAX_PAYLOAD);
	struct exec_reader rd;
	unsigned int got = 0;
	size_t len;

	CHECK(s);
	len = build_stream(s);
	CHECK(!exec_reader_init(&rd));
	for (size_t i = 0; i < len; i++) {
		struct exec_frame_hdr hdr;
		const u8 *p;
		size_t room;
		u8 *space = exec_reader_space(&rd, &room);
		int ret;

		CHECK(room >= 1);
		*space = s[i];
		exec_reader_fed(&rd, 1);
		while ((ret = exec_reader_next(&rd, &hdr, &p)) == 1)
			got++;
		CHECK_EQ(ret, 0);
	}
	CHECK_EQ(got, 5);
	exec_reader_free(&rd);
	free(s);
}

/* What the reader says about a stream that starts with this header. */
static int header_verdict(u32 type, u32 len)
{
	struct exec_reader rd;
	struct exec_frame_hdr hdr;
	const u8 *p;
	size_t room;
	int ret;

	if (exec_reader_init(&rd))
		return -ENOMEM;
	exec_hdr_put(exec_reader_space(&rd, &room), type, len);
	exec_reader_fed(&rd, EXEC_HDR_SIZE);
	ret = exec_reader_next(&rd, &hdr, &p);
	exec_reader_free(&rd);
	return ret;
}

static void test_bad_headers_refused(void)
{
	/* Unknown types. */
	CHECK_EQ(header_verdict(0, 0), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_MSG_MAX, 0), -EPROTO);
	CHECK_EQ(header_verdict(0xffffffffu, 4), -EPROTO);
	/* Too long: known at the header, before any payload. */
	CHECK_EQ(header_verdict(EXEC_STDOUT, EXEC_MAX_PAYLOAD + 1), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_RUN, 0xffffffffu), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STDOUT, EXEC_MAX_PAYLOAD), 0);   /* fine: wants more */
	/* Each type's size. */
	CHECK_EQ(header_verdict(EXEC_EXIT, 7), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_EXIT, 9), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_EXIT, 8), 0);
	CHECK_EQ(header_verdict(EXEC_SIGNAL, 3), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_SIGNAL, 5), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_HELLO, 0), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_WINSIZE, 8), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STARTED, 1), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STDIN_EOF, 1), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STARTED, 0), 1);
	CHECK_EQ(header_verdict(EXEC_STDOUT, 0), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STDERR, 0), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_STDIN, 0), -EPROTO);
	CHECK_EQ(header_verdict(EXEC_RUN, 0), -EPROTO);
	/* Sending what cannot be a frame. */
	CHECK_EQ(exec_send(-1, EXEC_STDOUT, NULL, EXEC_MAX_PAYLOAD + 1), -E2BIG);
}

static void test_values_checked(void)
{
	u8 p[8];
	enum exec_exit kind;
	int value;
	u16 r, c;

	exec_hdr_put(p, 0, 0);                         /* zeros */
	CHECK_EQ(exec_signal_decode(p, 4), -EPROTO);
	CHECK_EQ(exec_winsize_decode(p, 4, &r, &c), -EPROTO);
	CHECK_EQ(exec_hello_decode(p, 4), -EPROTO);
	exec_hdr_put(p, 65, 0);
	CHECK_EQ(exec_signal_decode(p, 4), -EPROTO);
	exec_hdr_put(p, 64, 0);
	CHECK_EQ(exec_signal_decode(p, 4), 64);
	CHECK_EQ(exec_signal_decode(p, 3), -EPROTO);
	exec_hdr_put(p, 2, 0);
	CHECK_EQ(exec_hello_decode(p, 4), -EPROTO);    /* another version */

	struct { u32 kind, value; int ok; } cases[] = {
		{ EXEC_EXIT_CODE, 0, 0 }, { EXEC_EXIT_CODE, 255, 255 }, { EXEC_EXIT_CODE, 256, -1 },
		{ EXEC_EXIT_CODE, 0xffffffffu, -1 }, { EXEC_EXIT_SIGNAL, 0, -1 },
		{ EXEC_EXIT_SIGNAL, 9, 137 }, { EXEC_EXIT_SIGNAL, 65, -1 },
		{ EXEC_EXIT_NOT_FOUND, ENOENT, 127 }, { EXEC_EXIT_NOT_EXECUTABLE, EACCES, 126 },
		{ EXEC_EXIT_SETUP, ENOENT, 125 }, { EXEC_EXIT_SETUP, 0, -1 },
		{ EXEC_EXIT_SETUP, 4096, -1 }, { 0, 0, -1 }, { EXEC_EXIT_SETUP + 1, 1, -1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret;

		exec_hdr_put(p, (enum exec_msg)cases[i].kind, cases[i].value);
		ret = exec_exit_decode(p, 8, &kind, &value);
		if (cases[i].ok < 0) {
			CHECK_EQ(ret, -EPROTO);
			continue;
		}
		CHECK_EQ(ret, 0);
		CHECK_EQ(exec_exit_status(kind, value), cases[i].ok);
	}
	CHECK_EQ(exec_exit_decode(p, 7, &kind, &value), -EPROTO);
}

static struct exec_run run_a, run_b;      /* large: not on the stack */

static void test_run_round_trip(void)
{
	static u8 buf[EXEC_MAX_PAYLOAD];
	struct exec_run *a = &run_a, *b = &run_b;
	int len;

	memset(a, 0, sizeof(*a));
	a->argv[0] = "sh";
	a->argv[1] = "-c";
	a->argv[2] = "echo a=b; exit 3";
	a->argv[3] = "";                         /* an empty argument is one */
	a->argc = 4;
	a->envp[0] = "HOME=/root";
	a->envp[1] = "EMPTY=";
	a->envp[2] = "X==y";
	a->envc = 3;
	a->cwd = "/work dir";
	a->uid = 1000;
	a->gid = 4294967294u;
	a->tty = true;
	a->rows = 50;
	a->cols = 65535;
	a->mounts[0] = (struct exec_mount){ "ws", "/work dir", false };
	a->mounts[1] = (struct exec_mount){ "data", "/d", true };
	a->mounts[2] = (struct exec_mount){ "t", "/p:q", true };
	a->nr_mounts = 3;
	a->has_time = true;
	a->time_sec = 1796342400;
	a->time_nsec = 7;
	a->has_seed = true;
	for (unsigned int i = 0; i < EXEC_SEED_SIZE; i++)
		a->seed[i] = (u8)(i * 37 + 250);
	a->has_net = true;
	a->net = (struct exec_net_config){
		.addr = 0xc0000242, .prefix = 24, .gw = 0xc0000201,
		.dns = { 0xc0000201, 0x08080808, 0xdfffffff }, .nr_dns = 3,
	};
	len = exec_run_encode(a, buf, sizeof(buf));
	CHECK(len > 0);
	memset(b, 0xa5, sizeof(*b));
	CHECK_EQ(exec_run_decode(buf, (size_t)len, b), 0);
	CHECK_EQ(b->argc, 4);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(!strcmp(a->argv[i], b->argv[i]));
	CHECK(!b->argv[4]);
	CHECK_EQ(b->envc, 3);
	for (unsigned int i = 0; i < 3; i++)
		CHECK(!strcmp(a->envp[i], b->envp[i]));
	CHECK(!b->envp[3]);
	CHECK(!strcmp(b->cwd, "/work dir"));
	CHECK_EQ(b->uid, 1000);
	CHECK_EQ(b->gid, 4294967294u);
	CHECK(b->tty && b->rows == 50 && b->cols == 65535);
	CHECK_EQ(b->nr_mounts, 3);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK(!strcmp(a->mounts[i].tag, b->mounts[i].tag));
		CHECK(!strcmp(a->mounts[i].path, b->mounts[i].path));
		CHECK_EQ(a->mounts[i].readonly, b->mounts[i].readonly);
	}
	CHECK(b->has_time && b->time_sec == 1796342400 && b->time_nsec == 7);
	CHECK(b->has_seed && !memcmp(a->seed, b->seed, EXEC_SEED_SIZE));
	CHECK(b->has_net && b->net.addr == 0xc0000242 && b->net.prefix == 24);
	CHECK(b->net.gw == 0xc0000201 && b->net.nr_dns == 3);
	CHECK(b->net.dns[0] == 0xc0000201 && b->net.dns[1] == 0x08080808);
	CHECK(b->net.dns[2] == 0xdfffffff);
	static const char net_item[] =
		"net=192.0.2.66/24,192.0.2.1,192.0.2.1,8.8.8.8,223.255.255.255";
	CHECK(memmem(buf, (size_t)len, net_item, sizeof(net_item)));

	/* The defaults: only argv. */
	memset(a, 0, sizeof(*a));
	a->argv[0] = "true";
	a->argc = 1;
	len = exec_run_encode(a, buf, sizeof(buf));
	CHECK_EQ(len, 9);
	CHECK(!memcmp(buf, "arg=true", 9));
	CHECK_EQ(exec_run_decode(buf, (size_t)len, b), 0);
	CHECK(b->argc == 1 && !b->cwd && !b->uid && !b->gid && !b->tty && !b->nr_mounts);
	CHECK(!b->envc && !b->envp[0]);
	CHECK(!b->has_time && !b->has_seed && !b->has_net);

	/* What cannot be sent. */
	a->has_net = true;
	a->net = (struct exec_net_config){ .addr = 0x0a000002, .prefix = 33, .gw = 0x0a000001 };
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->net.prefix = 8;
	a->net.nr_dns = EXEC_MAX_DNS + 1;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->net.nr_dns = 1;
	a->net.dns[0] = 0x7f000035;              /* 127.0.0.53: the guest's own loopback */
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->net.nr_dns = 0;
	a->net.gw = a->net.addr;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->net.gw = 0x0a000001;
	CHECK(exec_run_encode(a, buf, sizeof(buf)) > 0);
	a->has_net = false;
	CHECK_EQ(exec_run_encode(a, buf, 8), -E2BIG);
	a->argc = 0;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->argc = 1;
	a->mounts[0] = (struct exec_mount){ "a:b", "/x", false };
	a->nr_mounts = 1;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->mounts[0] = (struct exec_mount){ "a", "/x:ro", false };
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->mounts[0] = (struct exec_mount){ "a", "rel", false };
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->nr_mounts = 0;
	a->envp[0] = "NOEQUALS";
	a->envc = 1;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -EINVAL);
	a->envc = 0;
	char *big = malloc(EXEC_MAX_PAYLOAD);
	CHECK(big);
	memset(big, 'x', EXEC_MAX_PAYLOAD - 1);
	big[EXEC_MAX_PAYLOAD - 1] = '\0';
	a->argv[0] = big;
	CHECK_EQ(exec_run_encode(a, buf, sizeof(buf)), -E2BIG);
	free(big);
}

/* A RUN payload from a string with embedded NULs (@len counts them). */
static int decode_str(const char *s, size_t len)
{
	return exec_run_decode((const u8 *)s, len, &run_b);
}
#define DECODE(lit) decode_str(lit, sizeof(lit) - 1)

static void test_run_malformed_refused(void)
{
	CHECK_EQ(DECODE("arg=ls\0"), 0);
	CHECK_EQ(DECODE("arg=ls"), -EPROTO);                  /* no NUL */
	CHECK_EQ(DECODE("arg=ls\0env=A=1"), -EPROTO);         /* the last without NUL */
	CHECK_EQ(decode_str("", 0), -EPROTO);
	CHECK_EQ(DECODE("\0"), -EPROTO);                      /* an empty item */
	CHECK_EQ(DECODE("arg=ls\0\0"), -EPROTO);
	CHECK_EQ(DECODE("env=A=1\0"), -EPROTO);               /* no arg */
	CHECK_EQ(DECODE("arg\0"), -EPROTO);                   /* no '=' */
	CHECK_EQ(DECODE("=ls\0"), -EPROTO);
	CHECK_EQ(DECODE("args=ls\0"), -EPROTO);               /* unknown keys */
	CHECK_EQ(DECODE("ARG=ls\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0verylongkey=1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0env=A\0"), -EPROTO);         /* env without '=' */
	CHECK_EQ(DECODE("arg=ls\0env==1\0"), -EPROTO);        /* nor a name */
	/* Once-only keys, twice. */
	CHECK_EQ(DECODE("arg=ls\0cwd=/\0cwd=/\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=1\0uid=1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0gid=1\0gid=2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=1\0tty=1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=1\0rows=1\0rows=1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=1\0cols=1\0cols=1\0"), -EPROTO);
	/* Bad values. */
	CHECK_EQ(DECODE("arg=ls\0cwd=rel\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0cwd=\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=-1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=+1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid= 1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=1x\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=4294967295\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0gid=99999999999\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0uid=4294967294\0"), 0);
	CHECK_EQ(DECODE("arg=ls\0tty=0\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=yes\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=1\0rows=0\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0tty=1\0cols=65536\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0rows=24\0"), -EPROTO);       /* a size without tty */
	CHECK_EQ(DECODE("arg=ls\0tty=1\0rows=24\0cols=80\0"), 0);
	/* Mounts. */
	CHECK_EQ(DECODE("arg=ls\0mount=tag\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=:/x\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=tag:x\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=tag:\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=tag::ro\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=0123456789012345678901234567890123456:/x\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=012345678901234567890123456789012345:/x\0"), 0);
	CHECK_EQ(DECODE("arg=ls\0mount=t:/x:ro\0"), 0);
	CHECK(run_b.mounts[0].readonly && !strcmp(run_b.mounts[0].path, "/x"));
	CHECK(!strcmp(run_b.mounts[0].tag, "t"));
	CHECK_EQ(DECODE("arg=ls\0mount=t:/x:ro:ro\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0mount=t:/:ro\0"), 0);
	CHECK(run_b.mounts[0].readonly && !strcmp(run_b.mounts[0].path, "/"));
	/* The clock. */
	CHECK_EQ(DECODE("arg=ls\0time=1.000000000\0"), 0);
	CHECK(run_b.has_time && run_b.time_sec == 1 && !run_b.time_nsec);
	CHECK_EQ(DECODE("arg=ls\0time=9223372036854775807.999999999\0"), 0);
	CHECK_EQ(DECODE("arg=ls\0time=9223372036854775808.0\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=99999999999999999999.0\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=1.1000000000\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=.5\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=1.\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=-1.0\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0time=1.0\0time=1.0\0"), -EPROTO);
	/* The seed: 64 lower-case hex digits, once. */
	CHECK_EQ(DECODE("arg=ls\0seed=000102030405060708090a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1f\0"), 0);
	CHECK(run_b.has_seed && run_b.seed[10] == 10 && run_b.seed[31] == 31);
	CHECK_EQ(DECODE("arg=ls\0seed=000102030405060708090a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0seed=000102030405060708090a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1f00\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0seed=000102030405060708090A0B0C0D0E0F"
			"101112131415161718191a1b1c1d1e1f\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0seed=0g0102030405060708090a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1f\0"), -EPROTO);
}

/* net=: every address, the prefix and the count checked. */
static void test_run_net_refused(void)
{
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2\0"), 0);
	CHECK(run_b.has_net && run_b.net.addr == 0x0a00020f && run_b.net.prefix == 24);
	CHECK(run_b.net.gw == 0x0a000202 && !run_b.net.nr_dns);
	CHECK_EQ(DECODE("arg=ls\0net=1.2.3.4/32,1.2.3.5,9.9.9.9,1.1.1.1,8.8.4.4\0"), 0);
	CHECK(run_b.net.prefix == 32 && run_b.net.nr_dns == 3 && run_b.net.dns[2] == 0x08080404);
	CHECK_EQ(DECODE("arg=ls\0net=1.2.3.4/1,1.2.3.5\0"), 0);
	/* The shape. */
	CHECK_EQ(DECODE("arg=ls\0net=\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24\0"), -EPROTO);             /* no gateway */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15,10.0.2.2\0"), -EPROTO);       /* no prefix */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2,\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24;10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2/24\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=1.2.3.4/32,1.2.3.5,9.9.9.9,1.1.1.1,8.8.4.4,8.8.8.8\0"),
		 -EPROTO);                                                  /* 4 nameservers */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2\0net=10.0.2.15/24,10.0.2.2\0"),
		 -EPROTO);
	/* The prefix. */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/0,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/33,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/08,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/-1,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/124,10.0.2.2\0"), -EPROTO);
	/* The dotted quads. */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15.1/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.256/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.1000/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.015/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0..15/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2.\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24, 10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.0x2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,+10.0.2.2\0"), -EPROTO);
	/* Addresses a guest must not be given. */
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.15\0"), -EPROTO);   /* itself */
	CHECK_EQ(DECODE("arg=ls\0net=0.0.0.0/24,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=127.0.0.1/8,10.0.2.2\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,224.0.0.1\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2,255.255.255.255\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2,127.0.0.53\0"), -EPROTO);
	CHECK_EQ(DECODE("arg=ls\0net=10.0.2.15/24,10.0.2.2,0.1.2.3\0"), -EPROTO);
}

/* @n items "KEY=v\0" after one arg: what decoding says. */
static int decode_many(const char *key, unsigned int n)
{
	static u8 buf[EXEC_MAX_PAYLOAD];
	size_t pos = 0;

	pos += (size_t)sprintf((char *)buf, "arg=x") + 1;
	for (unsigned int i = 0; i < n; i++) {
		if (!strcmp(key, "mount"))
			pos += (size_t)sprintf((char *)buf + pos, "mount=t%u:/m%u", i, i) + 1;
		else
			pos += (size_t)sprintf((char *)buf + pos, "%s=V%u=1", key, i) + 1;
	}
	return exec_run_decode(buf, pos, &run_b);
}

static void test_run_limits(void)
{
	CHECK_EQ(decode_many("arg", EXEC_MAX_ARGS - 1), 0);
	CHECK_EQ(run_b.argc, EXEC_MAX_ARGS);
	CHECK(!run_b.argv[EXEC_MAX_ARGS]);
	CHECK_EQ(decode_many("arg", EXEC_MAX_ARGS), -EPROTO);
	CHECK_EQ(decode_many("env", EXEC_MAX_ENV), 0);
	CHECK(!run_b.envp[EXEC_MAX_ENV]);
	CHECK_EQ(decode_many("env", EXEC_MAX_ENV + 1), -EPROTO);
	CHECK_EQ(decode_many("mount", EXEC_MAX_MOUNTS), 0);
	CHECK(!strcmp(run_b.mounts[EXEC_MAX_MOUNTS - 1].tag, "t15"));
	CHECK(!strcmp(run_b.mounts[EXEC_MAX_MOUNTS - 1].path, "/m15"));
	CHECK_EQ(decode_many("mount", EXEC_MAX_MOUNTS + 1), -EPROTO);
	/* Longer than a frame holds. */
	CHECK_EQ(exec_run_decode((const u8 *)"arg=x", EXEC_MAX_PAYLOAD + 1, &run_b), -EPROTO);
}

TEST_SUITE(exec_proto,
	   TEST(test_frames_over_socketpair),
	   TEST(test_split_at_every_byte),
	   TEST(test_byte_by_byte),
	   TEST(test_bad_headers_refused),
	   TEST(test_values_checked),
	   TEST(test_run_round_trip),
	   TEST(test_run_malformed_refused),
	   TEST(test_run_net_refused),
	   TEST(test_run_limits));
