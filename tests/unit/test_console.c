// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
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

/*
 * Paused, input waits in stdin: nothing reaches the guest's device however
 * much room it has, and none of it is lost when the hold ends.
 */
static void test_held_input_waits_in_stdin(void)
{
	struct event_loop loop;
	struct fake_sink sink = { .room = 64 };
	struct console c;
	int in[2], out;

	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(pipe(in), 0);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(out >= 0);
	CHECK_EQ(start_console(&c, &loop, &sink, in[0], out), 0);
	console_hold_input(&c, true);
	CHECK_EQ(write(in[1], "paused", 6), 6);
	for (int i = 0; i < 3; i++)
		event_loop_run_once(&loop, 0);
	CHECK_EQ(sink.ngot, 0);
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);   /* and no spinning meanwhile */
	console_hold_input(&c, false);
	CHECK_EQ(event_loop_run_once(&loop, 0), 1);
	CHECK_EQ(sink.ngot, 6);
	CHECK(!memcmp(sink.got, "paused", 6));

	console_destroy(&c);
	close(in[0]);
	close(in[1]);
	close(out);
	event_loop_destroy(&loop);
}

/* A pipe as stdout that holds one page, its write end non-blocking, nobody reading yet. */
static int slow_stdout(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	/* So that old code, which wrote to it blocking, fails rather than hangs. */
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	return fcntl(fds[1], F_SETPIPE_SZ, 4096) < 0 ? -1 : 0;
}

/* Reads what the pipe holds onto the end of @got; returns the new length. */
static size_t drain(int fd, u8 *got, size_t have, size_t cap)
{
	ssize_t n;

	while (have < cap && (n = read(fd, got + have, cap - have)) > 0)
		have += (size_t)n;
	return have;
}

struct irq_rec {
	bool level;
};

static void rec_irq(void *opaque, u32 intid, bool level)
{
	((struct irq_rec *)opaque)->level = level;
}

#define UART_LSR 5
#define LSR_IDLE 0x60 /* THRE | TEMT */
#define SLOW_TOTAL (64 * 1024)

/* The guest's 8250 driver: writes while LSR says the transmitter is empty. */
static unsigned int uart_send(struct uart_16550 *u, const u8 *buf, unsigned int len)
{
	unsigned int n = 0;

	while (n < len && (uart_16550_mmio_ops.read(u, UART_LSR, 1) & LSR_IDLE) == LSR_IDLE)
		uart_16550_mmio_ops.write(u, 0, buf[n++], 1);
	return n;
}

/*
 * A reader slower than the guest: stdout takes no more, so the UART reports
 * its transmitter busy instead of dropping output or blocking the vCPU, and
 * raises its THR-empty interrupt once stdout drains.  Every byte arrives,
 * in order.
 */
static void test_slow_stdout_makes_uart_busy(void)
{
	static u8 sent[SLOW_TOTAL], got[SLOW_TOTAL];
	struct irq_rec rec = { 0 };
	const struct irq_line irq = { .set_level = rec_irq, .opaque = &rec, .intid = 32 };
	struct event_loop loop;
	struct uart_16550 u;
	struct console c;
	unsigned int n = 0, rounds = 0;
	size_t have = 0;
	int out[2], in;

	for (unsigned int i = 0; i < SLOW_TOTAL; i++)
		sent[i] = (u8)(i % 251);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(slow_stdout(out), 0);
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uart_init(&u, &irq, &console_uart_ops, &c);
	console_init(&c, &console_uart_sink, &u, no_quit, NULL);
	console_attach_uart(&c, &u);
	c.in.fd = in;
	c.out_fd = out[1];
	CHECK_EQ(console_start(&c, &loop), 0);
	event_loop_run_once(&loop, 0);              /* start-up's look at stdin */

	n = uart_send(&u, sent, SLOW_TOTAL);
	CHECK(n < SLOW_TOTAL);                       /* stopped: busy, not dropped */
	CHECK_EQ(uart_16550_mmio_ops.read(&u, UART_LSR, 1) & LSR_IDLE, 0);
	uart_16550_mmio_ops.write(&u, 1, 0x02, 1);   /* IER: THRI, as 8250 waits */
	CHECK(!rec.level);                           /* THR is not empty */
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);  /* nobody read: nothing to do */

	while (have < SLOW_TOTAL && rounds++ < 10000) {
		have = drain(out[0], got, have, SLOW_TOTAL);
		event_loop_run_once(&loop, 0);
		if (n < SLOW_TOTAL && rec.level) {
			/* THR-empty interrupt: the driver acknowledges it and writes more. */
			CHECK_EQ(uart_16550_mmio_ops.read(&u, 2, 1) & 0x0f, 0x02);
			n += uart_send(&u, sent + n, SLOW_TOTAL - n);
		}
	}
	CHECK_EQ(n, SLOW_TOTAL);
	CHECK_EQ(have, SLOW_TOTAL);
	CHECK(!memcmp(got, sent, SLOW_TOTAL));
	CHECK_EQ(uart_16550_mmio_ops.read(&u, UART_LSR, 1) & LSR_IDLE, LSR_IDLE);

	console_destroy(&c);
	uart_destroy(&u);
	close(in);
	close(out[0]);
	close(out[1]);
	event_loop_destroy(&loop);
}

/*
 * A socket as stdout (journald's): it cannot be reopened non-blocking, so
 * each send says MSG_DONTWAIT.  A reader that stops makes console_put()
 * take less, never block; once it reads again, every byte arrives in order.
 */
static unsigned int no_space(void *opaque)
{
	return 0;
}

static void no_receive(void *opaque, const u8 *buf, unsigned int len)
{
}

static const struct console_sink_ops no_input = { .space = no_space, .receive = no_receive };

static void test_socket_stdout_never_blocks(void)
{
	static u8 sent[SLOW_TOTAL], got[SLOW_TOTAL];
	struct event_loop loop;
	struct console c;
	unsigned int n = 0, rounds = 0;
	size_t have = 0;
	int sv[2], in, small = 4096;

	for (unsigned int i = 0; i < SLOW_TOTAL; i++)
		sent[i] = (u8)(i % 253);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	console_init(&c, &no_input, NULL, no_quit, NULL);
	c.in.fd = in;
	c.out_fd = sv[0];
	CHECK_EQ(console_start(&c, &loop), 0);
	CHECK(c.out.sock);
	/* Nobody reads: the buffer and the socket fill, and put() takes less. */
	while (n < SLOW_TOTAL) {
		unsigned int took = console_put(&c, sent + n, SLOW_TOTAL - n);

		console_flush(&c);
		n += took;
		if (took < SLOW_TOTAL - n + took)
			break;
	}
	CHECK(n < SLOW_TOTAL);
	while (have < SLOW_TOTAL && rounds++ < 100000) {
		have = drain(sv[1], got, have, SLOW_TOTAL);
		event_loop_run_once(&loop, 0);
		n += console_put(&c, sent + n, SLOW_TOTAL - n);
		console_flush(&c);
	}
	CHECK_EQ(have, SLOW_TOTAL);
	CHECK(!memcmp(got, sent, SLOW_TOTAL));
	console_destroy(&c);
	close(in);
	close(sv[0]);
	close(sv[1]);
	event_loop_destroy(&loop);
}

TEST_SUITE(console,
	   TEST(test_plain_input_passes),
	   TEST(test_ctrl_a_x_quits),
	   TEST(test_escape_split_across_reads),
	   TEST(test_double_ctrl_a_and_others),
	   TEST(test_hung_up_pipe_not_polled),
	   TEST(test_slow_stdout_makes_uart_busy),
	   TEST(test_socket_stdout_never_blocks),
	   TEST(test_held_input_waits_in_stdin));
