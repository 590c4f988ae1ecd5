/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_UART_16550_H
#define ARKVM_UART_16550_H

#include <pthread.h>
#include <stdbool.h>

#include "compiler.h"
#include "irq.h"
#include "metrics.h"
#include "mmio_bus.h"

#define UART_FIFO_SIZE 16

/* What the UART needs from the rest of the VMM. */
struct uart_backend_ops {
	/*
	 * Takes up to @len bytes the guest transmitted and returns how many it
	 * took.  Called with the UART's lock held, so it must neither block nor
	 * write: it only queues.  When it takes fewer, the UART holds the rest,
	 * reports its transmitter busy, and waits for uart_tx_room().
	 */
	unsigned int (*tx)(void *opaque, const u8 *buf, unsigned int len);
	/* Optional: pushes out what tx() queued; called with no lock held. */
	void (*tx_flush)(void *opaque);
	/* The receive FIFO has room again (drained from full, or input enabled). */
	void (*rx_room)(void *opaque);
};

/*
 * A 16550A: eight byte-wide registers, 16-byte receive and transmit FIFOs,
 * and a level interrupt for "received data" and "transmitter empty".  A
 * byte goes to the backend at once while it takes them; when it does not
 * (stdout is slower than the guest), bytes wait in the transmit FIFO and
 * LSR shows THRE and TEMT clear until uart_tx_room(), which raises the
 * THR-empty interrupt as the FIFO drains.  The vCPU threads and the
 * console's main-thread work both touch the state, hence the lock.
 */
struct uart_16550 {
	pthread_mutex_t lock;
	const struct uart_backend_ops *ops;
	void *opaque;
	struct irq_line irq;

	u8 ier, lcr, mcr, scr, dll, dlm;
	bool fifo_enabled;
	bool thr_ipending;    /* "THR empty" interrupt latched, cleared by IIR read or THR write */
	bool irq_level;

	u8 rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	u8 tx[UART_FIFO_SIZE];  /* what the backend could not take yet */
	unsigned int tx_head, tx_count;
	struct uart_metrics metrics;
};

void uart_init(struct uart_16550 *u, const struct irq_line *irq,
	       const struct uart_backend_ops *ops, void *opaque);
void uart_destroy(struct uart_16550 *u);

/* Offers received bytes; returns how many fit in the FIFO. */
unsigned int uart_receive(struct uart_16550 *u, const u8 *buf, unsigned int len);

/* Room for input: free FIFO space, or 0 while the guest has receive interrupts off. */
unsigned int uart_rx_space(struct uart_16550 *u);

/*
 * The backend has room again after refusing bytes: sends what the transmit
 * FIFO holds.  From any thread, with no lock held that tx() takes.
 */
void uart_tx_room(struct uart_16550 *u);

extern const struct mmio_ops uart_16550_mmio_ops;

#endif
