// SPDX-License-Identifier: Apache-2.0
/* The 16550 UART: register reads and writes of any offset, size and value, and input. */
#include "fuzz.h"
#include "uart_16550.h"

static struct uart_16550 uart;
static unsigned int level_changes;

static void set_level(void *opaque, u32 intid, bool level)
{
	level_changes++;
}

/* A backend that sometimes has no room, so the transmit FIFO fills and drains too. */
static unsigned int tx_room;

static unsigned int tx(void *opaque, const u8 *buf, unsigned int len)
{
	unsigned int n = MIN(len, tx_room);

	tx_room -= n;
	return n;
}

static const struct uart_backend_ops ops = { .tx = tx };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct irq_line irq = { .set_level = set_level, .intid = 32 };

	uart_init(&uart, &irq, &ops, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	while (in.n) {
		u8 op = (u8)fz_take(&in, 1);
		u64 off = fz_take(&in, 1) & 0x1f;
		u32 width = 1u << (op >> 2 & 3);
		u64 val = fz_take(&in, 4);

		switch (op & 3) {
		case 0:
			uart_16550_mmio_ops.read(&uart, off, width);
			break;
		case 1:
			uart_16550_mmio_ops.write(&uart, off, val, width);
			break;
		case 2:
			uart_receive(&uart, (const u8 *)&val, op >> 4 & 3);
			break;
		default:
			tx_room = (unsigned int)(val & 0x1f);
			uart_tx_room(&uart);
			break;
		}
	}
	return 0;
}
