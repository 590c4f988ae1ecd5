// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

static void console_tx(void *opaque, u8 byte)
{
	(void)opaque;
	/* A closed or full stdout drops guest output; it must not stop the guest. */
	if (write(STDOUT_FILENO, &byte, 1) < 0)
		return;
}

static void console_pump(struct console *c);

/* Called on a vCPU thread when the FIFO has room again. */
static void console_rx_room(void *opaque)
{
	struct console *c = opaque;

	if (!c->input_open)
		return;
	if (c->polled)
		event_loop_mod(c->loop, &c->in, EPOLLIN);
	else
		console_pump(c); /* a file never blocks: read it right here */
}

const struct uart_backend_ops console_uart_ops = {
	.tx = console_tx,
	.rx_room = console_rx_room,
};

unsigned int console_filter_escape(struct console *c, const u8 *in, unsigned int len,
				   u8 *out, bool *quit)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < len; i++) {
		u8 ch = in[i];

		if (!c->escape) {
			if (ch == CONSOLE_ESCAPE)
				c->escape = true;
			else
				out[n++] = ch;
			continue;
		}
		c->escape = false;
		if (ch == 'x' || ch == 'X') {
			*quit = true;
			return n;
		}
		/* Ctrl-A Ctrl-A sends one; any other pair goes through whole. */
		if (ch != CONSOLE_ESCAPE)
			out[n++] = CONSOLE_ESCAPE;
		out[n++] = ch;
	}
	return n;
}

static void console_close_input(struct console *c)
{
	c->input_open = false;
	if (c->polled)
		event_loop_del(c->loop, &c->in);
}

/* Moves what the FIFO has room for from stdin to the UART. */
static void console_pump(struct console *c)
{
	u8 buf[UART_FIFO_SIZE], out[UART_FIFO_SIZE + 1];
	unsigned int space, n;
	bool quit = false;
	ssize_t got;

	pthread_mutex_lock(&c->in_lock);
	space = uart_rx_space(c->uart);
	if (!c->input_open || !space) {
		pthread_mutex_unlock(&c->in_lock);
		return;
	}
	/* Ctrl-A Ctrl-A <byte> can only shrink, so space bytes in fit in the FIFO. */
	got = read(c->in.fd, buf, MIN(space, sizeof(buf)));
	if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
		pthread_mutex_unlock(&c->in_lock);
		return;
	}
	if (got <= 0) {
		console_close_input(c);
		pthread_mutex_unlock(&c->in_lock);
		return;
	}
	if (c->is_tty)
		n = console_filter_escape(c, buf, (unsigned int)got, out, &quit);
	else
		memcpy(out, buf, (size_t)(n = (unsigned int)got));
	if (n)
		uart_receive(c->uart, out, n);
	pthread_mutex_unlock(&c->in_lock);
	if (quit)
		c->quit(c->quit_opaque);
}

/* stdin is a terminal or a pipe: the event loop says when it is readable. */
static void console_input(struct event_source *src, uint32_t events __unused)
{
	struct console *c = container_of(src, struct console, in);

	if (!uart_rx_space(c->uart)) {
		/*
		 * Stop polling until the guest makes room.  Check again after
		 * disarming: room may have come in between, and its rx_room call
		 * before this disarm.
		 */
		event_loop_mod(c->loop, &c->in, 0);
		if (uart_rx_space(c->uart))
			event_loop_mod(c->loop, &c->in, EPOLLIN);
		return;
	}
	console_pump(c);
}

void console_init(struct console *c, struct uart_16550 *uart,
		  void (*quit)(void *opaque), void *quit_opaque)
{
	*c = (struct console){
		.in = { .fd = STDIN_FILENO, .ready = console_input },
		.uart = uart,
		.quit = quit,
		.quit_opaque = quit_opaque,
	};
	pthread_mutex_init(&c->in_lock, NULL);
}

static int console_raw_mode(struct console *c)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &c->saved) < 0)
		return -errno;
	raw = c->saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return -errno;
	c->raw = true;
	return 0;
}

int console_start(struct console *c, struct event_loop *loop)
{
	int ret;

	c->loop = loop;
	c->is_tty = isatty(STDIN_FILENO);
	if (c->is_tty) {
		ret = console_raw_mode(c);
		if (ret) {
			pr_err("console: cannot put the terminal into raw mode: %s", strerror(-ret));
			return ret;
		}
	}
	ret = event_loop_add(loop, &c->in, EPOLLIN);
	if (ret == -EBADF)
		return 0; /* no stdin at all */
	if (ret && ret != -EPERM) {
		pr_err("console: cannot watch stdin: %s", strerror(-ret));
		return ret;
	}
	/* epoll refuses regular files and /dev/null: those are read on demand. */
	c->polled = !ret;
	c->input_open = true;
	return 0;
}

void console_destroy(struct console *c)
{
	c->input_open = false;
	if (c->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
		c->raw = false;
	}
}
