/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CONSOLE_H
#define ARKVM_CONSOLE_H

#include <stdatomic.h>
#include <stdbool.h>
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

/*
 * Wires the guest's console to arkvm's stdin and stdout.  On a terminal,
 * stdin goes into raw mode (restored by console_destroy()) and Ctrl-A x
 * quits; from a pipe, end-of-file only stops the input, never the guest.
 * Input is read only while the guest has room for it, so nothing typed
 * ahead is lost.
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
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

#define CONSOLE_CHUNK 256   /* bytes read from stdin at a time */

void console_init(struct console *c, const struct console_sink_ops *sink, void *sink_opaque,
		  void (*quit)(void *opaque), void *quit_opaque);
/* The guest has room for input again; from any thread, with any device lock held. */
void console_rx_room(struct console *c);
/* Starts taking input on @loop and puts a terminal into raw mode. */
int console_start(struct console *c, struct event_loop *loop);
/* Restores the terminal; safe to call more than once. */
void console_destroy(struct console *c);

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
