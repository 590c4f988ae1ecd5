// SPDX-License-Identifier: Apache-2.0
/*
 * The 16550A UART, at byte-wide registers (reg-shift 0).  Linux drives it
 * with of_serial/8250 as "ns16550a"; earlycon finds it through stdout-path.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "console.h"
#include "device.h"
#include "fdt_build.h"
#include "log.h"
#include "state.h"
#include "uart_16550.h"

/* Register offsets; DLAB (LCR bit 7) turns 0 and 1 into the divisor latch. */
#define UART_RBR_THR 0
#define UART_IER     1
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define IER_RDI  0x01  /* received data available */
#define IER_THRI 0x02  /* transmitter holding register empty */
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80

#define UART_CLOCK_HZ 1843200

void uart_init(struct uart_16550 *u, const struct irq_line *irq,
	       const struct uart_backend_ops *ops, void *opaque)
{
	*u = (struct uart_16550){ .ops = ops, .opaque = opaque, .irq = *irq };
	pthread_mutex_init(&u->lock, NULL);
}

void uart_destroy(struct uart_16550 *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* The highest-priority pending interrupt, as IIR reports it. */
static u8 uart_pending(const struct uart_16550 *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void uart_update_irq(struct uart_16550 *u)
{
	bool level = uart_pending(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

static unsigned int uart_rx_push(struct uart_16550 *u, const u8 *buf, unsigned int len)
{
	unsigned int n = 0;

	while (n < len && u->rx_count < UART_FIFO_SIZE) {
		u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = buf[n++];
		u->rx_count++;
	}
	return n;
}

/* Returns true when the FIFO went from full to having room. */
static bool uart_rx_pop(struct uart_16550 *u, u8 *byte)
{
	bool was_full = u->rx_count == UART_FIFO_SIZE;

	if (!u->rx_count) {
		*byte = 0;
		return false;
	}
	*byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return was_full;
}

/* Hands the transmit FIFO to the backend; returns true when it took any. */
static bool uart_tx_drain(struct uart_16550 *u)
{
	bool moved = false;

	while (u->tx_count) {
		unsigned int run = MIN(u->tx_count, UART_FIFO_SIZE - u->tx_head);
		unsigned int n = u->ops->tx(u->opaque, u->tx + u->tx_head, run);

		moved |= n > 0;
		u->tx_head = (u->tx_head + n) % UART_FIFO_SIZE;
		u->tx_count -= n;
		if (n < run)
			break;
	}
	/* The last byte left: THR is empty again. */
	if (moved && !u->tx_count)
		u->thr_ipending = true;
	return moved;
}

/*
 * Sets *@flush when the backend has bytes to push out once the lock is
 * dropped.  Returns false when the byte was lost.
 */
static bool uart_transmit(struct uart_16550 *u, u8 byte, bool *flush)
{
	if (u->mcr & MCR_LOOP) {
		uart_rx_push(u, &byte, 1);
		u->thr_ipending = true;
		return true;
	}
	/* The driver wrote 16 bytes past THRE clear: this one is lost, as on silicon. */
	if (u->tx_count == UART_FIFO_SIZE)
		return false;
	/* Behind bytes already waiting, so that output keeps its order. */
	u->tx[(u->tx_head + u->tx_count) % UART_FIFO_SIZE] = byte;
	u->tx_count++;
	u->thr_ipending = false; /* THR holds a byte until it leaves */
	*flush = uart_tx_drain(u);
	return true;
}

static u8 uart_read_reg(struct uart_16550 *u, u64 off, bool *room)
{
	u8 v, iir;

	switch (off) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!u->rx_count)
			metric_inc(&u->metrics.missed_read_count);
		else
			metric_inc(&u->metrics.read_count);
		*room = uart_rx_pop(u, &v);
		return v;
	case UART_IER:
		return u->lcr & LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR_FCR:
		iir = uart_pending(u);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (iir == IIR_THRI)
			u->thr_ipending = false;
		return iir | (u->fifo_enabled ? IIR_FIFO : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return (u->tx_count ? 0 : LSR_THRE | LSR_TEMT) | (u->rx_count ? LSR_DR : 0);
	case UART_MSR:
		if (u->mcr & MCR_LOOP) /* loopback wires RTS->CTS, DTR->DSR, OUT2->DCD */
			return (u8)(((u->mcr & 0x02) ? MSR_CTS : 0) | ((u->mcr & 0x01) ? MSR_DSR : 0) |
				    ((u->mcr & 0x08) ? MSR_DCD : 0));
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return u->scr;
	}
}

/* What a register write leaves to do once the lock is dropped. */
struct uart_after {
	bool room;     /* tell the backend the receive FIFO has room */
	bool flush;    /* the backend queued output to push out */
	bool overrun;  /* a transmitted byte was lost */
};

static void uart_write_reg(struct uart_16550 *u, u64 off, u8 v, struct uart_after *after)
{
	bool *room = &after->room;

	switch (off) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			after->overrun = !uart_transmit(u, v, &after->flush);
		metric_inc(after->overrun ? &u->metrics.missed_write_count
					  : &u->metrics.write_count);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it at once, as on silicon. */
		if (!(u->ier & IER_THRI) && (v & IER_THRI) && !u->tx_count)
			u->thr_ipending = true;
		/* The guest now takes input: let the backend offer what it holds. */
		if (!(u->ier & IER_RDI) && (v & IER_RDI))
			*room = true;
		u->ier = v & IER_MASK;
		break;
	case UART_IIR_FCR:
		u->fifo_enabled = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX) {
			*room = u->rx_count == UART_FIFO_SIZE;
			u->rx_head = u->rx_count = 0;
		}
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static u64 uart_mmio_read(void *opaque, u64 off, u32 size __unused)
{
	struct uart_16550 *u = opaque;
	bool room = false;
	u8 v;

	pthread_mutex_lock(&u->lock);
	v = off < 8 ? uart_read_reg(u, off, &room) : 0;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	/* Outside the lock: the backend may call uart_receive() from here. */
	if (room && u->ops->rx_room)
		u->ops->rx_room(u->opaque);
	return v;
}

static void uart_mmio_write(void *opaque, u64 off, u64 value, u32 size __unused)
{
	struct uart_16550 *u = opaque;
	struct uart_after after = { 0 };

	pthread_mutex_lock(&u->lock);
	if (off < 8)
		uart_write_reg(u, off, (u8)value, &after);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	/* Never write with the lock held: a slow reader would stall every vCPU. */
	if (after.overrun)
		pr_warn_ratelimited("uart: byte written with the transmit FIFO full: dropped");
	if (after.flush && u->ops->tx_flush) {
		metric_inc(&u->metrics.flush_count);
		u->ops->tx_flush(u->opaque);
	}
	if (after.room && u->ops->rx_room)
		u->ops->rx_room(u->opaque);
}

void uart_tx_room(struct uart_16550 *u)
{
	bool flush;

	pthread_mutex_lock(&u->lock);
	flush = uart_tx_drain(u);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (flush && u->ops->tx_flush)
		u->ops->tx_flush(u->opaque);
}

static void uart_fdt_node(void *opaque, struct fdt_writer *w, u64 base, u64 len)
{
	struct uart_16550 *u = opaque;

	fdt_w_begin_mmio_node(w, "uart", base, len, "ns16550a");
	fdt_w_prop_spi(w, u->irq.intid, FDT_IRQ_TYPE_LEVEL_HIGH);
	fdt_w_prop_u32(w, "clock-frequency", UART_CLOCK_HZ);
	fdt_w_end_node(w);
}

const struct mmio_ops uart_16550_mmio_ops = {
	.read = uart_mmio_read,
	.write = uart_mmio_write,
	.fdt_node = uart_fdt_node,
};

unsigned int uart_receive(struct uart_16550 *u, const u8 *buf, unsigned int len)
{
	unsigned int n;

	pthread_mutex_lock(&u->lock);
	n = uart_rx_push(u, buf, len);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned int uart_rx_space(struct uart_16550 *u)
{
	unsigned int n;

	pthread_mutex_lock(&u->lock);
	/*
	 * Offer input only while the guest has receive interrupts on.  Linux
	 * flushes the FIFO when it opens the port, so bytes sent before that
	 * would be lost; held back, they wait in the host's pipe instead.
	 */
	n = (u->ier & IER_RDI) ? UART_FIFO_SIZE - u->rx_count : 0;
	pthread_mutex_unlock(&u->lock);
	return n;
}

/*
 * The device class: every VM has the UART, at the memory map's place.  It
 * always prints (early output); it takes the console's input unless a
 * virtio console, created after it, takes that over.
 */
static int uart_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	const struct irq_line irq = {
		.set_level = host->set_irq, .opaque = host->opaque, .intid = ARM64_UART_IRQ,
	};
	struct uart_16550 *u = device_alloc_priv(dev, sizeof(*u));

	if (!u)
		return -ENOMEM;
	uart_init(u, &irq, &console_uart_ops, host->console);
	console_set_sink(host->console, &console_uart_sink, u);
	console_attach_uart(host->console, u); /* its output waits when stdout is slow */
	return 0;
}

static int uart_realize(struct device *dev, struct device_host *host)
{
	int ret = mmio_bus_register(host->bus, ARM64_UART_BASE, ARM64_UART_SIZE,
				    &uart_16550_mmio_ops, dev->priv, "uart");

	if (ret)
		pr_err("registering the UART: %s", strerror(-ret));
	return ret;
}

/*
 * Snapshots: the registers the driver wrote, and both FIFOs' bytes, oldest
 * first.  The interrupt line's level follows from them.  Nothing is quiesced
 * first: the UART writes no guest RAM.
 */
static void uart_put_fifo(struct state_writer *w, const u8 *fifo, unsigned int head,
			  unsigned int count)
{
	state_put_u8(w, (u8)count);
	for (unsigned int i = 0; i < count; i++)
		state_put_u8(w, fifo[(head + i) % UART_FIFO_SIZE]);
}

static int uart_save(struct device *dev, struct state_writer *w)
{
	struct uart_16550 *u = dev->priv;

	pthread_mutex_lock(&u->lock);
	state_put_u8(w, u->ier);
	state_put_u8(w, u->lcr);
	state_put_u8(w, u->mcr);
	state_put_u8(w, u->scr);
	state_put_u8(w, u->dll);
	state_put_u8(w, u->dlm);
	state_put_u8(w, u->fifo_enabled);
	state_put_u8(w, u->thr_ipending);
	uart_put_fifo(w, u->rx, u->rx_head, u->rx_count);
	uart_put_fifo(w, u->tx, u->tx_head, u->tx_count);
	pthread_mutex_unlock(&u->lock);
	return w->err;
}

static unsigned int uart_get_fifo(struct state_reader *r, u8 *fifo)
{
	unsigned int count = state_get_u8(r);

	if (state_check(r, count <= UART_FIFO_SIZE))
		return 0;
	state_get(r, fifo, count);
	return count;
}

/* Every value checked before the UART takes any: a refused state changes nothing. */
static int uart_restore(struct device *dev, struct state_reader *r)
{
	struct uart_16550 *u = dev->priv, s = { 0 };
	u8 flags[2];
	bool flush;

	s.ier = state_get_u8(r);
	s.lcr = state_get_u8(r);
	s.mcr = state_get_u8(r);
	s.scr = state_get_u8(r);
	s.dll = state_get_u8(r);
	s.dlm = state_get_u8(r);
	state_get(r, flags, sizeof(flags));
	s.rx_count = uart_get_fifo(r, s.rx);
	s.tx_count = uart_get_fifo(r, s.tx);
	state_check(r, !(s.ier & ~IER_MASK) && !(s.mcr & ~MCR_MASK) && flags[0] <= 1 &&
		       flags[1] <= 1);
	if (r->err)
		return r->err;

	pthread_mutex_lock(&u->lock);
	u->ier = s.ier;
	u->lcr = s.lcr;
	u->mcr = s.mcr;
	u->scr = s.scr;
	u->dll = s.dll;
	u->dlm = s.dlm;
	u->fifo_enabled = flags[0];
	u->thr_ipending = flags[1];
	memcpy(u->rx, s.rx, sizeof(u->rx));
	memcpy(u->tx, s.tx, sizeof(u->tx));
	u->rx_head = u->tx_head = 0;
	u->rx_count = s.rx_count;
	u->tx_count = s.tx_count;
	/*
	 * Output the old process's stdout never took goes now, as far as this
	 * one's takes it: the driver waits for THR empty before it writes more.
	 */
	flush = uart_tx_drain(u);
	/* The line as the registers say: this process's interrupt controller never saw it. */
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (flush && u->ops->tx_flush)
		u->ops->tx_flush(u->opaque);
	return 0;
}

static void uart_class_destroy(struct device *dev)
{
	uart_destroy(dev->priv);
}

static void uart_metrics(struct device *dev, struct metrics_writer *w)
{
	struct uart_16550 *u = dev->priv;

	metrics_put(w, &uart_metrics_group, NULL, &u->metrics);
}

const struct device_class uart_16550_class = {
	.name = "uart",
	.create = uart_create,
	.realize = uart_realize,
	.save = uart_save,
	.restore = uart_restore,
	.destroy = uart_class_destroy,
	.metrics = uart_metrics,
};
