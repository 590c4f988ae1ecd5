// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "test.h"
#include "uart_16550.h"

struct recorder {
	char out[256];
	unsigned int nout;
	bool irq;
	unsigned int irq_changes;
	unsigned int room_calls;
	bool full;     /* the backend takes nothing: stdout is not being read */
};

static unsigned int rec_tx(void *opaque, const u8 *buf, unsigned int len)
{
	struct recorder *r = opaque;
	unsigned int n = 0;

	while (n < len && r->nout < sizeof(r->out) && !r->full)
		r->out[r->nout++] = (char)buf[n++];
	return n;
}

static void rec_room(void *opaque)
{
	((struct recorder *)opaque)->room_calls++;
}

static void rec_irq(void *opaque, u32 intid, bool level)
{
	struct recorder *r = opaque;

	r->irq = level;
	r->irq_changes++;
}

static const struct uart_backend_ops rec_ops = { .tx = rec_tx, .rx_room = rec_room };

static void setup(struct uart_16550 *u, struct recorder *r)
{
	const struct irq_line irq = { .set_level = rec_irq, .opaque = r, .intid = 32 };

	memset(r, 0, sizeof(*r));
	uart_init(u, &irq, &rec_ops, r);
}

static u8 rd(struct uart_16550 *u, u64 off)
{
	return (u8)uart_16550_mmio_ops.read(u, off, 1);
}

static void wr(struct uart_16550 *u, u64 off, u8 v)
{
	uart_16550_mmio_ops.write(u, off, v, 1);
}

static void test_transmit(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 0, 'h');
	wr(&u, 0, 'i');
	CHECK_EQ(r.nout, 2);
	CHECK(!memcmp(r.out, "hi", 2));
	CHECK_EQ(rd(&u, 5) & 0x60, 0x60); /* THRE and TEMT: ready for more */
	CHECK(!r.irq);                    /* no interrupt enabled */
	uart_destroy(&u);
}

static void test_thre_interrupt(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 1, 0x02);               /* IER: THRI */
	CHECK(r.irq);
	CHECK_EQ(rd(&u, 2) & 0x0f, 0x02); /* IIR: THR empty; the read acknowledges it */
	CHECK(!r.irq);
	CHECK_EQ(rd(&u, 2) & 0x0f, 0x01); /* nothing pending */
	wr(&u, 0, 'x');                /* sent at once: THR empty again */
	CHECK(r.irq);
	wr(&u, 1, 0x00);
	CHECK(!r.irq);
	uart_destroy(&u);
}

static void test_receive(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 2, 0x01);               /* FCR: FIFO on */
	CHECK_EQ(uart_receive(&u, (const u8 *)"ls\n", 3), 3);
	CHECK(!r.irq);                 /* RDI not enabled yet */
	CHECK_EQ(rd(&u, 5) & 0x01, 0x01);
	wr(&u, 1, 0x01);               /* IER: RDI */
	CHECK(r.irq);
	CHECK_EQ(rd(&u, 2), 0xc4);     /* FIFO enabled, received data */
	CHECK_EQ(rd(&u, 0), 'l');
	CHECK_EQ(rd(&u, 0), 's');
	CHECK(r.irq);
	CHECK_EQ(rd(&u, 0), '\n');
	CHECK(!r.irq);
	CHECK_EQ(rd(&u, 5) & 0x01, 0);
	CHECK_EQ(rd(&u, 0), 0);        /* empty FIFO reads 0 */
	uart_destroy(&u);
}

static void test_fifo_full_and_room(void)
{
	struct uart_16550 u;
	struct recorder r;
	u8 buf[40];

	setup(&u, &r);
	CHECK_EQ(uart_rx_space(&u), 0);    /* receive interrupts off: hold input back */
	wr(&u, 1, 0x01);
	CHECK_EQ(r.room_calls, 1);         /* enabling them invites input */
	CHECK_EQ(uart_rx_space(&u), UART_FIFO_SIZE);
	r.room_calls = 0;
	memset(buf, 'a', sizeof(buf));
	CHECK_EQ(uart_receive(&u, buf, sizeof(buf)), UART_FIFO_SIZE);
	CHECK_EQ(uart_rx_space(&u), 0);
	CHECK_EQ(uart_receive(&u, buf, 1), 0);
	rd(&u, 0);
	CHECK_EQ(r.room_calls, 1);     /* full -> room: the console may read again */
	rd(&u, 0);
	CHECK_EQ(r.room_calls, 1);
	CHECK_EQ(uart_rx_space(&u), 2);
	wr(&u, 2, 0x03);               /* FCR: clear the receive FIFO */
	CHECK_EQ(uart_rx_space(&u), UART_FIFO_SIZE);
	uart_destroy(&u);
}

static void test_divisor_latch(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 3, 0x83);               /* DLAB on, 8N1 */
	wr(&u, 0, 0x01);
	wr(&u, 1, 0x00);
	CHECK_EQ(r.nout, 0);           /* divisor writes are not output */
	CHECK_EQ(rd(&u, 0), 0x01);
	wr(&u, 3, 0x03);
	CHECK_EQ(rd(&u, 3), 0x03);
	CHECK_EQ(rd(&u, 1), 0x00);     /* IER again */
	wr(&u, 7, 0x5a);
	CHECK_EQ(rd(&u, 7), 0x5a);     /* scratch */
	uart_destroy(&u);
}

static void test_loopback(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 4, 0x10);               /* MCR: loop */
	wr(&u, 0, 'q');
	CHECK_EQ(r.nout, 0);
	CHECK_EQ(rd(&u, 0), 'q');
	uart_destroy(&u);
}

static void test_out_of_range_offsets(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	for (u64 off = 8; off < 0x1000; off += 0x1f8)
		CHECK_EQ(uart_16550_mmio_ops.read(&u, off, 4), 0);
	uart_16550_mmio_ops.write(&u, 0xff8, 0xffffffff, 8);
	CHECK_EQ(r.nout, 0);
	uart_destroy(&u);
}

/*
 * The backend takes nothing (stdout not read): bytes wait in the transmit
 * FIFO with THRE and TEMT clear and no THR-empty interrupt; when it has
 * room they leave in order and THRI comes.  Past 16 bytes the guest
 * ignored LSR, and the byte is lost.
 */
static void test_busy_transmitter(void)
{
	struct uart_16550 u;
	struct recorder r;

	setup(&u, &r);
	wr(&u, 1, 0x02);               /* IER: THRI */
	CHECK_EQ(rd(&u, 2) & 0x0f, 0x02);
	r.full = true;
	wr(&u, 0, 'o');
	wr(&u, 0, 'k');
	CHECK_EQ(r.nout, 0);
	CHECK_EQ(rd(&u, 5) & 0x60, 0); /* busy */
	CHECK(!r.irq);
	CHECK_EQ(rd(&u, 2) & 0x0f, 0x01);
	uart_tx_room(&u);              /* still full: nothing changes */
	CHECK(!r.irq);
	r.full = false;
	uart_tx_room(&u);
	CHECK_EQ(r.nout, 2);
	CHECK(!memcmp(r.out, "ok", 2));
	CHECK_EQ(rd(&u, 5) & 0x60, 0x60);
	CHECK(r.irq);                  /* THR empty: the driver sends more */

	r.full = true;
	for (unsigned int i = 0; i < UART_FIFO_SIZE + 1; i++)
		wr(&u, 0, (u8)('a' + i));
	r.full = false;
	uart_tx_room(&u);
	CHECK_EQ(r.nout, 2 + UART_FIFO_SIZE);
	CHECK_EQ(r.out[2 + UART_FIFO_SIZE - 1], 'a' + UART_FIFO_SIZE - 1);
	uart_destroy(&u);
}

TEST_SUITE(uart,
	   TEST(test_transmit),
	   TEST(test_thre_interrupt),
	   TEST(test_receive),
	   TEST(test_fifo_full_and_room),
	   TEST(test_divisor_latch),
	   TEST(test_loopback),
	   TEST(test_out_of_range_offsets),
	   TEST(test_busy_transmitter));
