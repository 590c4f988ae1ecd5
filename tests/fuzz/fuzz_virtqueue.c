// SPDX-License-Identifier: Apache-2.0
/*
 * The split virtqueue against a hostile driver: the input chooses the ring
 * size and addresses and fills guest RAM (descriptors, indirect tables,
 * avail ring); every chain the device accepts is then read and written
 * in full, so a segment outside RAM would be an ASan report.
 */
#include "fake_driver.h"
#include "fuzz.h"
#include "virtqueue.h"

#define RAM_USED 0x8000  /* the part of fake RAM the input fills */

static struct fake_driver drv;
static struct virtq_chain chain;
static u8 scratch[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fake_driver_init(&drv, 8);
	return 0;
}

static void touch_chain(const struct virtq_chain *c)
{
	for (u64 off = 0; off < c->out_len; off += sizeof(scratch))
		virtq_chain_read(c, off, scratch, sizeof(scratch));
	for (u64 off = 0; off < c->in_len; off += sizeof(scratch))
		virtq_chain_write(c, off, scratch, sizeof(scratch));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct virtq q = { 0 };
	u16 qsize = (u16)fz_take(&in, 2);
	bool event_idx = fz_take(&in, 1) & 1;
	/* Addresses near RAM, so that some are inside and some straddle its ends. */
	u64 desc = FAKE_RAM_BASE - 0x100 + fz_take(&in, 2);
	u64 avail = FAKE_RAM_BASE - 0x100 + fz_take(&in, 2);
	u64 used = FAKE_RAM_BASE - 0x100 + fz_take(&in, 2);

	memset(drv.ram, 0, RAM_USED);
	fz_copy(&in, drv.ram, RAM_USED);
	if (virtq_activate(&q, &drv.mem, qsize, 256, desc, avail, used, event_idx))
		return 0;
	for (unsigned int i = 0; i < 2u * q.size; i++) {
		if (virtq_pop(&q, &chain) <= 0)
			break;
		touch_chain(&chain);
		virtq_push(&q, chain.head, (u32)chain.in_len);
		virtq_should_notify(&q);
	}
	virtq_enable_notify(&q);
	return 0;
}
