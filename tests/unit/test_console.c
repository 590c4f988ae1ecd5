// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "test.h"

/* A guest console that takes input only when the test gives it room. */
struct fake_sink {
	unsigned int room;
	char got[64];
	unsigned int ngot;
};

static unsigned int fake_space(void *opaque)
{
	return ((struct fake_sink *)opaque)->room;
}

static void fake_receive(void *opaque, const u8 *buf, unsigned int len)
{
	struct fake_sink *s = opaque;

	len = MIN(len, (unsigned int)sizeof(s->got) - s->ngot);
	memcpy(s->got + s->ngot, buf, len);
	s->ngot += len;
	s->room -= MIN(s->room, len);
}

static const struct console_sink_ops fake_sink_ops = {
	.space = fake_space,
	.receive = fake_receive,
};

static void no_quit(void *opaque)
{
}

/* A console on @loop reading @in_fd and writing @out_fd, as console_start() sets it up. */
static int start_console(struct console *c, struct event_loop *loop, struct fake_sink *s,
			 int in_fd, int out_fd)
{
	console_init(c, &fake_sink_ops, s, no_quit, NULL);
	c->in.fd = in_fd;
	c->out_fd = out_fd;
	return console_start(c, loop);
}

static unsigned int filter(struct console *c, const char *in, char *out, bool *quit)
{
	return console_filter_escape(c, (const u8 *)in, (unsigned int)strlen(in), (u8 *)out, quit);
}

static void test_plain_input_passes(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "ls -l\r", out, &quit), 6);
	CHECK(!memcmp(out, "ls -l\r", 6));
	CHECK(!quit);
}

static void test_ctrl_a_x_quits(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "ab\x01x", out, &quit), 2);
	CHECK(quit);
}

static void test_escape_split_across_reads(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "\x01", out, &quit), 0);
	CHECK(!quit);
	CHECK_EQ(filter(&c, "x", out, &quit), 0);
	CHECK(quit);
}

static void test_double_ctrl_a_and_others(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "\x01\x01", out, &quit), 1);
	CHECK_EQ(out[0], 0x01);
	CHECK_EQ(filter(&c, "\x01q", out, &quit), 2);   /* unknown command: both go through */
	CHECK(out[0] == 0x01 && out[1] == 'q');
	CHECK(!quit);
}

/*
 * stdin a pipe whose writer has gone, with bytes left in it, and a guest
 * with no room: epoll reports HUP whatever it is asked for, so the console
 * must stop polling stdin rather than be called again and again, and still
 * hand over the bytes once the guest has room.
 */
static void test_hung_up_pipe_not_polled(void)
{
	struct event_loop loop;
	struct fake_sink sink = { 0 };
	struct console c;
	int in[2], out;

	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(pipe(in), 0);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(out >= 0);
	CHECK_EQ(write(in[1], "hello", 5), 5);
	close(in[1]);
	CHECK_EQ(start_console(&c, &loop, &sink, in[0], out), 0);

	CHECK(event_loop_run_once(&loop, 0) >= 0);   /* HUP, and no room */
	CHECK_EQ(sink.ngot, 0);
	/* Nothing changed: the loop must have nothing to report. */
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);

	sink.room = 3;
	console_rx_room(&c);
	CHECK_EQ(event_loop_run_once(&loop, 0), 1);
	CHECK_EQ(sink.ngot, 3);
	sink.room = 16;
	console_rx_room(&c);
	CHECK_EQ(event_loop_run_once(&loop, 0), 1);
	CHECK_EQ(sink.ngot, 5);
	CHECK(!memcmp(sink.got, "hello", 5));
	CHECK(!c.input_open);                        /* then end of file */
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);

	console_destroy(&c);
	close(in[0]);
	close(out);
	event_loop_destroy(&loop);
}

TEST_SUITE(console,
	   TEST(test_plain_input_passes),
	   TEST(test_ctrl_a_x_quits),
	   TEST(test_escape_split_across_reads),
	   TEST(test_double_ctrl_a_and_others),
	   TEST(test_hung_up_pipe_not_polled));
