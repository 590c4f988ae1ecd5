// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

unsigned int console_put(struct console *c, const u8 *buf, unsigned int len)
{
	struct console_out *o = &c->out;
	unsigned int n, tail, run;

	pthread_mutex_lock(&o->lock);
	if (o->broken) {
		pthread_mutex_unlock(&o->lock);
		return len; /* a closed stdout drops output: it must not stop the guest */
	}
	n = MIN(len, CONSOLE_OUT_SIZE - o->len);
	tail = (o->head + o->len) % CONSOLE_OUT_SIZE;
	run = MIN(n, CONSOLE_OUT_SIZE - tail);
	memcpy(o->buf + tail, buf, run);
	memcpy(o->buf, buf + run, n - run);
	o->len += n;
	if (n < len)
		o->starved = true;
	pthread_mutex_unlock(&o->lock);
	return n;
}

/*
 * Bytes written, or -errno.  A socket (journald's) cannot be reopened with
 * a flag of its own, and O_NONBLOCK on the shared one could not be undone
 * at exit under the filters, so each send says MSG_DONTWAIT instead.
 */
static ssize_t console_out_write(const struct console_out *o, const u8 *buf, unsigned int len)
{
	ssize_t n = o->sock ? send(o->src.fd, buf, len, CONSOLE_SEND_FLAGS)
			    : write(o->src.fd, buf, len);

	return n < 0 ? -errno : n;
}

/*
 * Writes the buffer out until it is empty or stdout would block
 * (-EAGAIN).  One thread writes at a time, the others only queue behind
 * it; the bytes being written are not touched while the lock is dropped,
 * because writers only fill the free part of the ring.
 */
static int console_out_drain(struct console_out *o)
{
	int ret = 0;

	pthread_mutex_lock(&o->lock);
	if (o->flushing) {
		pthread_mutex_unlock(&o->lock);
		return 0; /* that thread writes our bytes too before it stops */
	}
	o->flushing = true;
	while (o->len && !o->broken) {
		unsigned int run = MIN(o->len, CONSOLE_OUT_SIZE - o->head);
		const u8 *p = o->buf + o->head;
		ssize_t n;

		pthread_mutex_unlock(&o->lock);
		n = console_out_write(o, p, run);
		pthread_mutex_lock(&o->lock);
		if (n > 0) {
			o->head = (o->head + (unsigned int)n) % CONSOLE_OUT_SIZE;
			o->len -= (unsigned int)n;
		} else if (n == -EAGAIN) {
			ret = -EAGAIN;
			break;
		} else if (n != -EINTR) {
			/* Closed or failed for good (EPIPE, EIO): drop, as a terminal gone would. */
			o->broken = true;
			o->head = o->len = 0;
		}
	}
	o->flushing = false;
	pthread_mutex_unlock(&o->lock);
	return ret;
}

/* Asks the main loop to look at the console: output room, or input. */
static void console_wake(struct console *c)
{
	u64 one = 1;

	if (c->wake.fd >= 0 && write(c->wake.fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a wake-up is pending anyway */
}

void console_flush(struct console *c)
{
	struct console_out *o = &c->out;
	bool starved;

	if (console_out_drain(o) == -EAGAIN && o->pollable) {
		/* Once, from the main loop, when stdout takes more. */
		event_loop_mod(c->loop, &o->src, EPOLLOUT | EPOLLONESHOT);
		return;
	}
	pthread_mutex_lock(&o->lock);
	starved = o->starved;
	pthread_mutex_unlock(&o->lock);
	/* Room came without waiting: the writers still hear of it on the main thread. */
	if (starved)
		console_wake(c);
}

/* Main thread: stdout took more, or a flush found writers waiting. */
static void console_out_room(struct console *c)
{
	struct console_out *o = &c->out;
	bool tell = false;

	if (console_out_drain(o) == -EAGAIN && o->pollable) {
		event_loop_mod(c->loop, &o->src, EPOLLOUT | EPOLLONESHOT);
		return;
	}
	pthread_mutex_lock(&o->lock);
	if (o->starved && o->len < CONSOLE_OUT_SIZE) {
		o->starved = false;
		tell = true;
	}
	pthread_mutex_unlock(&o->lock);
	/* No lock held: a writer's room() queues more output right away. */
	for (unsigned int i = 0; tell && i < c->nr_writers; i++)
		c->writers[i].room(c->writers[i].opaque);
}

static void console_out_ready(struct event_source *src, uint32_t events __unused)
{
	console_out_room(container_of(src, struct console, out.src));
}

void console_add_writer(struct console *c, void (*room)(void *opaque), void *opaque)
{
	if (c->nr_writers == CONSOLE_MAX_WRITERS) {
		pr_err("console: more than %d output devices", CONSOLE_MAX_WRITERS);
		return;
	}
	c->writers[c->nr_writers++] = (struct console_writer){ room, opaque };
}

static void console_uart_room(void *opaque)
{
	uart_tx_room(opaque);
}

void console_attach_uart(struct console *c, struct uart_16550 *u)
{
	console_add_writer(c, console_uart_room, u);
}

static unsigned int console_uart_tx(void *opaque, const u8 *buf, unsigned int len)
{
	return console_put(opaque, buf, len);
}

static void console_uart_flush(void *opaque)
{
	console_flush(opaque);
}

/*
 * Room for input: poll stdin again, or for a file (which epoll cannot
 * watch) have the main loop read it.  Either way nothing is read here,
 * where the caller may hold a device lock that reading would need.
 */
void console_rx_room(struct console *c)
{
	if (!c->input_open)
		return;
	if (atomic_load(&c->polled))
		event_loop_mod(c->loop, &c->in, EPOLLIN);
	else
		console_wake(c);
}

static void console_uart_rx_room(void *opaque)
{
	console_rx_room(opaque);
}

const struct uart_backend_ops console_uart_ops = {
	.tx = console_uart_tx,
	.tx_flush = console_uart_flush,
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

	space = c->input_open && !c->held ? c->sink->space(c->sink_opaque) : 0;
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
	if (c->input_open && !atomic_load(&c->polled))
		console_pump(c);
	console_out_room(c);
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
	if (c->held || !c->sink->space(c->sink_opaque)) {
		/*
		 * Stop polling until the guest makes room.  Check again after
		 * disarming: room may have come in between, and its rx_room call
		 * before this disarm.
		 */
		event_loop_mod(c->loop, &c->in, 0);
		if (!c->held && c->sink->space(c->sink_opaque))
			event_loop_mod(c->loop, &c->in, EPOLLIN);
		return;
	}
	console_pump(c);
}

/*
 * Everything but the output ring's bytes is zeroed: head and len say what
 * the ring holds, and its 16 KiB of pages stay untouched (not resident)
 * until output needs them.  out.buf is the console's last field for that.
 */
void console_init(struct console *c, const struct console_sink_ops *sink, void *sink_opaque,
		  void (*quit)(void *opaque), void *quit_opaque)
{
	memset(c, 0, offsetof(struct console, out.buf));
	c->in = (struct event_source){ .fd = STDIN_FILENO, .ready = console_input };
	c->out_fd = STDOUT_FILENO;
	c->out.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	c->out.src = (struct event_source){ .fd = STDOUT_FILENO, .ready = console_out_ready };
	c->wake = (struct event_source){ .fd = -1, .ready = console_woken };
	c->sink = sink;
	c->sink_opaque = sink_opaque;
	c->quit = quit;
	c->quit_opaque = quit_opaque;
}

void console_hold_input(struct console *c, bool hold)
{
	c->held = hold;
	if (!hold)
		console_rx_room(c);
}

void console_set_sink(struct console *c, const struct console_sink_ops *sink, void *sink_opaque)
{
	c->sink = sink;
	c->sink_opaque = sink_opaque;
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

/*
 * Output goes through a non-blocking descriptor of our own.  A pipe or a
 * terminal is shared with whoever started arkvm (a shell, which breaks
 * when its terminal turns non-blocking), so it is opened again through
 * /proc: O_NONBLOCK then stays on a description only arkvm uses.  Files
 * never make a writer wait for a reader and are written as they are.
 */
static int console_start_output(struct console *c)
{
	struct console_out *o = &c->out;
	struct stat st;
	char path[32];
	int fd, ret;

	o->src.fd = c->out_fd;
	if (fstat(c->out_fd, &st) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0; /* no stdout at all: the first write says so, output is dropped */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->out_fd);
	if (S_ISSOCK(st.st_mode)) {
		o->sock = true;  /* sent to as it is, never waiting (console_out_write()) */
		ret = event_loop_add(c->loop, &o->src, 0);
		o->pollable = !ret;
		return ret;
	}
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		pr_warn("console: stdout cannot be made non-blocking (%s): a slow reader slows the guest",
			strerror(errno));
		return 0;
	}
	o->src.fd = fd;
	o->own_fd = true;
	ret = event_loop_add(c->loop, &o->src, 0);
	if (ret == -EPERM)
		return 0; /* /dev/null and the like: never full */
	o->pollable = !ret;
	return ret;
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
	if (!ret)
		ret = console_start_output(c);
	if (ret) {
		pr_err("console: cannot set up: %s", strerror(-ret));
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

/*
 * The guest has stopped: what it wrote last still reaches stdout, through
 * the descriptor arkvm was given, which blocks, so a slow reader gets it all.
 */
static void console_out_finish(struct console *c)
{
	struct console_out *o = &c->out;

	pthread_mutex_lock(&o->lock);
	while (o->len && !o->broken) {
		unsigned int run = MIN(o->len, CONSOLE_OUT_SIZE - o->head);
		ssize_t n = write(c->out_fd, o->buf + o->head, run);

		if (n > 0) {
			o->head = (o->head + (unsigned int)n) % CONSOLE_OUT_SIZE;
			o->len -= (unsigned int)n;
		} else if (n == 0 || errno != EINTR) {
			o->broken = true;
		}
	}
	pthread_mutex_unlock(&o->lock);
	if (o->own_fd) {
		close(o->src.fd);
		o->src.fd = c->out_fd;
		o->own_fd = false;
		o->pollable = false;
	}
}

void console_destroy(struct console *c)
{
	console_out_finish(c);
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
