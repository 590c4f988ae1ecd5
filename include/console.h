/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CONSOLE_H
#define ARKVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <termios.h>

#include "event_loop.h"
#include "uart_16550.h"

/*
 * Wires the UART to arkvm's stdin and stdout.  On a terminal, stdin goes
 * into raw mode (restored by console_destroy()) and Ctrl-A x quits; from a
 * pipe, end-of-file only stops the input, never the guest.  Input is read
 * only while the UART's FIFO has room, so nothing typed ahead is lost.
 */
struct console {
	struct event_source in;
	struct event_loop *loop;
	struct uart_16550 *uart;
	void (*quit)(void *opaque);  /* Ctrl-A x */
	void *quit_opaque;
	struct termios saved;
	bool is_tty;
	bool raw;                    /* saved holds the mode to restore */
	pthread_mutex_t in_lock;     /* input comes from vCPU threads for files */
	bool input_open;
	bool polled;                 /* stdin is in the event loop (tty, pipe) */
	bool escape;                 /* Ctrl-A seen, waiting for the command */
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

void console_init(struct console *c, struct uart_16550 *uart,
		  void (*quit)(void *opaque), void *quit_opaque);
/* Starts taking input on @loop and puts a terminal into raw mode. */
int console_start(struct console *c, struct event_loop *loop);
/* Restores the terminal; safe to call more than once. */
void console_destroy(struct console *c);

extern const struct uart_backend_ops console_uart_ops;

/*
 * Filters terminal input for the Ctrl-A escape: copies what goes to the
 * guest into @out (at most @len bytes) and returns its length; sets *@quit
 * on Ctrl-A x.  Ctrl-A Ctrl-A sends one Ctrl-A.
 */
unsigned int console_filter_escape(struct console *c, const u8 *in, unsigned int len,
				   u8 *out, bool *quit);

#endif
