/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CONSOLE_H
#define ARKVM_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <termios.h>

#include "event_loop.h"
#include "uart_16550.h"

/* Where console input goes: the UART, or the virtio console. */
struct console_sink_ops {
	/* How many bytes the guest can take now; 0 until it calls console_rx_room(). */
	unsigned int (*space)(void *opaque);
	/* Delivers @len bytes, no more than space() said. */
	void (*receive)(void *opaque, const u8 *buf, unsigned int len);
};

#define CONSOLE_OUT_SIZE 16384  /* guest output waiting for stdout */
#define CONSOLE_MAX_WRITERS 2   /* the UART and the virtio console */

/* A device that writes guest output, told when the console has room again. */
struct console_writer {
	void (*room)(void *opaque);  /* on the main thread, no console lock held */
	void *opaque;
};

/*
 * Guest output on its way to stdout.  Writers queue into the buffer under
 * the lock; whoever finds no write in progress writes it out, without the
 * lock and without blocking.  When stdout takes no more, the main loop
 * waits for EPOLLOUT and then tells the writers, which have held the
 * guest back meanwhile (backpressure: output is never dropped).
 */
struct console_out {
	pthread_mutex_t lock;      /* the fields below; never held across write() */
	struct event_source src;   /* the descriptor written, watched from the main loop */
	bool own_fd;               /* src.fd is our non-blocking reopen of stdout */
	bool sock;                 /* stdout is a socket: each send is non-blocking */
	bool pollable;             /* epoll takes src.fd (not a regular file) */
	bool flushing;             /* a thread is writing: others only queue */
	bool starved;              /* a writer was refused: tell them about room */
	bool broken;               /* stdout failed for good: output is dropped */
	unsigned int head, len;
	u8 buf[CONSOLE_OUT_SIZE];  /* last: see console_init() */
};

/*
 * Wires the guest's console to arkvm's stdin and stdout.  On a terminal,
 * stdin goes into raw mode (restored by console_destroy()) and Ctrl-A x
 * quits; from a pipe, end-of-file only stops the input, never the guest.
 * Input is read only while the guest has room for it, so nothing typed
 * ahead is lost.  Output never blocks a device thread: see console_out.
 */
struct console {
	struct event_source in;      /* stdin; tests may point in.fd elsewhere before start */
	struct event_source wake;    /* eventfd: room again for a stdin read on demand */
	int out_fd;                  /* stdout; tests may point it elsewhere before start */
	struct event_loop *loop;
	const struct console_sink_ops *sink;
	void *sink_opaque;
	void (*quit)(void *opaque);  /* Ctrl-A x */
	void *quit_opaque;
	struct termios saved;
	bool is_tty;
	bool raw;                    /* saved holds the mode to restore */
	atomic_bool input_open;      /* read by the threads that report room */
	/* stdin is in the event loop (tty, pipe), until it hangs up; read by rx_room */
	atomic_bool polled;
	bool escape;                 /* Ctrl-A seen, waiting for the command */
	bool held;                   /* main thread: input waits (the VM is paused) */
	struct console_writer writers[CONSOLE_MAX_WRITERS];  /* set up before threads start */
	unsigned int nr_writers;
	struct console_out out;      /* last: console_init() leaves its ring's bytes alone */
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/* How output is sent to a socket stdout; the seccomp filters allow exactly this. */
#define CONSOLE_SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

#define CONSOLE_CHUNK 256   /* bytes read from stdin at a time */

void console_init(struct console *c, const struct console_sink_ops *sink, void *sink_opaque,
		  void (*quit)(void *opaque), void *quit_opaque);
/* Input goes to @sink instead (a virtio console instead of the UART); before start. */
void console_set_sink(struct console *c, const struct console_sink_ops *sink, void *sink_opaque);
/*
 * Main thread: while held, stdin is not read (it waits in the pipe or the
 * terminal), so no input reaches the guest's devices; a pause holds it.
 */
void console_hold_input(struct console *c, bool hold);
/* The guest has room for input again; from any thread, with any device lock held. */
void console_rx_room(struct console *c);
/* Starts taking input on @loop and puts a terminal into raw mode. */
int console_start(struct console *c, struct event_loop *loop);
/*
 * Restores the terminal and writes out what output is left (blocking: the
 * guest has stopped); safe to call more than once.
 */
void console_destroy(struct console *c);

/*
 * Output, from any thread.  console_put() queues up to @len bytes of guest
 * output and returns how many it took; it neither blocks nor writes, so a
 * device may call it with its own lock held.  When it takes fewer than
 * @len, every writer's room() is called later, on the main thread.
 * console_flush() writes queued output without blocking; call it with no
 * device lock held.  Before console_start(), output goes to stdout as it is.
 */
unsigned int console_put(struct console *c, const u8 *buf, unsigned int len);
void console_flush(struct console *c);
/* Before console_start(); at most CONSOLE_MAX_WRITERS. */
void console_add_writer(struct console *c, void (*room)(void *opaque), void *opaque);
/* The UART as a writer: it hears uart_tx_room() when stdout drains. */
void console_attach_uart(struct console *c, struct uart_16550 *u);

/* The UART as the console: its output to stdout, stdin into its FIFO. */
extern const struct uart_backend_ops console_uart_ops;
extern const struct console_sink_ops console_uart_sink;

/*
 * Filters terminal input for the Ctrl-A escape: copies what goes to the
 * guest into @out (at most @len bytes) and returns its length; sets *@quit
 * on Ctrl-A x.  Ctrl-A Ctrl-A sends one Ctrl-A.
 */
unsigned int console_filter_escape(struct console *c, const u8 *in, unsigned int len,
				   u8 *out, bool *quit);

#endif
