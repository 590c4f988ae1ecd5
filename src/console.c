// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

static void console_tx(void *opaque, u8 byte)
{
	struct console *c = opaque;

	/* A closed or full stdout drops guest output; it must not stop the guest. */
	if (write(c->out_fd, &byte, 1) < 0)
		return;
}

/*
 * Room for input: poll stdin again, or for a file (which epoll cannot
 * watch) have the main loop read it.  Either way nothing is read here,
 * where the caller may hold a device lock that reading would need.
 */
void console_rx_room(struct console *c)
{
	u64 one = 1;

	if (!c->input_open)
		return;
	if (atomic_load(&c->polled))
		event_loop_mod(c->loop, &c->in, EPOLLIN);
	else if (write(c->wake.fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a wake-up is pending anyway */
}

static void console_uart_rx_room(void *opaque)
{
	console_rx_room(opaque);
}

const struct uart_backend_ops console_uart_ops = {
	.tx = console_tx,
	.rx_room = console_uart_rx_room,
};

static unsigned int console_uart_space(void *opaque)
{
	return uart_rx_space(opaque);
}

static void console_uart_receive(void *opaque, const u8 *buf, unsigned int len)
{
	uart_receive(opaque, buf, len);
}

const struct console_sink_ops console_uart_sink = {
	.space = console_uart_space,
	.receive = console_uart_receive,
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
	if (atomic_load(&c->polled))
		event_loop_del(c->loop, &c->in);
}

/*
 * Moves one read's worth of stdin to the guest, no more than it has room
 * for.  Returns true when it may be called again at once (a file that
 * had more to give).
 */
static bool console_pump_once(struct console *c, bool *quit)
{
	u8 buf[CONSOLE_CHUNK], out[CONSOLE_CHUNK + 1];
	unsigned int space, n;
	ssize_t got;

	space = c->input_open ? c->sink->space(c->sink_opaque) : 0;
	if (!space)
		return false;
	/* Ctrl-A Ctrl-A <byte> can only shrink, so space bytes in fit in the guest. */
	got = read(c->in.fd, buf, MIN(space, sizeof(buf)));
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (got <= 0) {
		console_close_input(c);
		return false;
	}
	if (c->is_tty)
		n = console_filter_escape(c, buf, (unsigned int)got, out, quit);
	else
		memcpy(out, buf, (size_t)(n = (unsigned int)got));
	if (n)
		c->sink->receive(c->sink_opaque, out, n);
	return !atomic_load(&c->polled) && !*quit;
}

static void console_pump(struct console *c)
{
	bool quit = false;

	/* A terminal or pipe is read once per wake-up: a second read could block. */
	while (console_pump_once(c, &quit))
		;
	if (quit)
		c->quit(c->quit_opaque);
}

static void console_woken(struct event_source *src, uint32_t events __unused)
{
	struct console *c = container_of(src, struct console, wake);
	u64 count;

	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	/* A polled stdin is read when epoll says so: here a read could block. */
	if (!atomic_load(&c->polled))
		console_pump(c);
}

/*
 * A hung-up pipe or terminal stays "ready" whatever epoll is asked for, so
 * polling it while the guest has no room would spin.  Reading it can no
 * longer block, though: from now on read it on demand, as a file.
 */
static void console_stop_polling(struct console *c)
{
	atomic_store(&c->polled, false);
	event_loop_del(c->loop, &c->in);
	console_pump(c);
}

/* stdin is a terminal or a pipe: the event loop says when it is readable. */
static void console_input(struct event_source *src, uint32_t events)
{
	struct console *c = container_of(src, struct console, in);

	if (events & (EPOLLHUP | EPOLLERR)) {
		console_stop_polling(c);
		return;
	}
	if (!c->sink->space(c->sink_opaque)) {
		/*
		 * Stop polling until the guest makes room.  Check again after
		 * disarming: room may have come in between, and its rx_room call
		 * before this disarm.
		 */
		event_loop_mod(c->loop, &c->in, 0);
		if (c->sink->space(c->sink_opaque))
			event_loop_mod(c->loop, &c->in, EPOLLIN);
		return;
	}
	console_pump(c);
}

void console_init(struct console *c, const struct console_sink_ops *sink, void *sink_opaque,
		  void (*quit)(void *opaque), void *quit_opaque)
{
	*c = (struct console){
		.in = { .fd = STDIN_FILENO, .ready = console_input },
		.out_fd = STDOUT_FILENO,
		.wake = { .fd = -1, .ready = console_woken },
		.sink = sink,
		.sink_opaque = sink_opaque,
		.quit = quit,
		.quit_opaque = quit_opaque,
	};
}

static int console_raw_mode(struct console *c)
{
	struct termios raw;

	if (tcgetattr(c->in.fd, &c->saved) < 0)
		return -errno;
	raw = c->saved;
	cfmakeraw(&raw);
	if (tcsetattr(c->in.fd, TCSANOW, &raw) < 0)
		return -errno;
	c->raw = true;
	return 0;
}

/*
 * The main loop's eventfd for the console: input from a stdin that epoll
 * cannot watch (a file, /dev/null) or no longer should (hung up).
 */
static int console_start_wake(struct console *c)
{
	c->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake.fd < 0)
		return -errno;
	return event_loop_add(c->loop, &c->wake, EPOLLIN);
}

int console_start(struct console *c, struct event_loop *loop)
{
	int ret;

	c->loop = loop;
	c->is_tty = isatty(c->in.fd);
	if (c->is_tty) {
		ret = console_raw_mode(c);
		if (ret) {
			pr_err("console: cannot put the terminal into raw mode: %s", strerror(-ret));
			return ret;
		}
	}
	/* Made before the sandbox: a hung-up stdin switches to it later. */
	ret = console_start_wake(c);
	if (ret) {
		pr_err("console: cannot set up input: %s", strerror(-ret));
		return ret;
	}
	ret = event_loop_add(loop, &c->in, EPOLLIN);
	if (ret == -EBADF)
		return 0; /* no stdin at all */
	if (ret && ret != -EPERM) {
		pr_err("console: cannot watch stdin: %s", strerror(-ret));
		return ret;
	}
	/* epoll refuses regular files and /dev/null: those are read on demand. */
	atomic_store(&c->polled, !ret);
	c->input_open = true;
	if (!ret)
		return 0;
	console_rx_room(c); /* whatever room the guest already has */
	return 0;
}

void console_destroy(struct console *c)
{
	c->input_open = false;
	if (c->wake.fd >= 0) {
		close(c->wake.fd);
		c->wake.fd = -1;
	}
	if (c->raw) {
		tcsetattr(c->in.fd, TCSANOW, &c->saved);
		c->raw = false;
	}
}
