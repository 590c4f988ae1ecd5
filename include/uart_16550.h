/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_UART_16550_H
#define ARKVM_UART_16550_H

#include <pthread.h>
#include <stdbool.h>

#include "compiler.h"
#include "irq.h"
#include "mmio_bus.h"

#define UART_FIFO_SIZE 16

/* What the UART needs from the rest of the VMM. */
struct uart_backend_ops {
	/* A byte the guest transmitted. */
	void (*tx)(void *opaque, u8 byte);
	/* The receive FIFO has room again (drained from full, or input enabled). */
	void (*rx_room)(void *opaque);
};

/*
 * A 16550A: eight byte-wide registers, a 16-byte receive FIFO, and a level
 * interrupt for "received data" and "transmitter empty".  Transmission is
 * instant, so THR is always empty.  The vCPU threads and the console's
 * input thread both touch the state, hence the lock.
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
};

void uart_init(struct uart_16550 *u, const struct irq_line *irq,
	       const struct uart_backend_ops *ops, void *opaque);
void uart_destroy(struct uart_16550 *u);

/* Offers received bytes; returns how many fit in the FIFO. */
unsigned int uart_receive(struct uart_16550 *u, const u8 *buf, unsigned int len);

/* Room for input: free FIFO space, or 0 while the guest has receive interrupts off. */
unsigned int uart_rx_space(struct uart_16550 *u);

extern const struct mmio_ops uart_16550_mmio_ops;

#endif
