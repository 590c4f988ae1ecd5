// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "fake_driver.h"
#include "test.h"
#include "virtqueue.h"

#define QSIZE 8

static int activate(struct virtq *q, struct fake_driver *d, bool event_idx)
{
	return virtq_activate(q, &d->mem, d->size, 256, FAKE_DESC, FAKE_AVAIL, FAKE_USED,
			      event_idx);
}

static void test_activate_checks(void)
{
	struct fake_driver d;
	struct virtq q;

	fake_driver_init(&d, QSIZE);
	CHECK_EQ(activate(&q, &d, false), 0);
	CHECK_EQ(virtq_activate(&q, &d.mem, 6, 256, FAKE_DESC, FAKE_AVAIL, FAKE_USED, false), -EINVAL);
	CHECK_EQ(virtq_activate(&q, &d.mem, 0, 256, FAKE_DESC, FAKE_AVAIL, FAKE_USED, false), -EINVAL);
	/* Above the largest queue arkvm offers, whatever the device allows. */
	CHECK_EQ(virtq_activate(&q, &d.mem, VIRTQ_MAX_SIZE * 2, VIRTQ_MAX_SIZE * 4, FAKE_DESC, FAKE_AVAIL,
				FAKE_USED, false), -EINVAL);
	CHECK_EQ(virtq_activate(&q, &d.mem, 16, 8, FAKE_DESC, FAKE_AVAIL, FAKE_USED, false), -EINVAL);
	CHECK_EQ(virtq_activate(&q, &d.mem, 8, 256, FAKE_DESC + 8, FAKE_AVAIL, FAKE_USED, false), -EINVAL);
	CHECK_EQ(virtq_activate(&q, &d.mem, 8, 256, FAKE_DESC, FAKE_AVAIL + 1, FAKE_USED, false), -EINVAL);
	CHECK_EQ(virtq_activate(&q, &d.mem, 8, 256, FAKE_DESC, FAKE_AVAIL, FAKE_USED + 2, false), -EINVAL);
	/* Rings outside RAM, or running off its end. */
	CHECK_EQ(virtq_activate(&q, &d.mem, 8, 256, 0x1000, FAKE_AVAIL, FAKE_USED, false), -EFAULT);
	CHECK_EQ(virtq_activate(&q, &d.mem, 256, 256, FAKE_DESC, FAKE_AVAIL,
				FAKE_RAM_BASE + FAKE_RAM_SIZE - 64, false), -EFAULT);
	CHECK_EQ(q.size, 0); /* a refused activation leaves the queue off */
	fake_driver_free(&d);
}

static void test_pop_simple_chain(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;
	const struct fake_seg segs[] = {
		{ FAKE_BUF, 16, false }, { FAKE_BUF + 0x100, 100, false },
		{ FAKE_BUF + 0x1000, 512, true }, { FAKE_BUF + 0x2000, 1, true },
	};
	char buf[16];
	u32 id, len;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	CHECK_EQ(virtq_pop(&q, &c), 0);
	memcpy(fake_hva(&d, FAKE_BUF), "header-bytes-0123", 16);
	u16 head = fake_post(&d, segs, 4, false);
	CHECK_EQ(virtq_pop(&q, &c), 1);
	CHECK_EQ(c.head, head);
	CHECK_EQ(c.nr_out, 2);
	CHECK_EQ(c.nr_in, 2);
	CHECK_EQ(c.out_len, 116);
	CHECK_EQ(c.in_len, 513);
	CHECK_EQ(virtq_chain_read(&c, 0, buf, 16), 16);
	CHECK(!memcmp(buf, "header-bytes-012", 16));
	CHECK_EQ(virtq_chain_write(&c, 510, "xyz", 3), 3); /* spans both writable segments */
	CHECK(!memcmp(fake_hva(&d, FAKE_BUF + 0x1000 + 510), "xy", 2));
	CHECK_EQ(*(char *)fake_hva(&d, FAKE_BUF + 0x2000), 'z');
	CHECK_EQ(virtq_chain_write(&c, 513, "q", 1), 0); /* nothing past the end */
	CHECK_EQ(virtq_pop(&q, &c), 0);

	virtq_push(&q, c.head, 513);
	CHECK(fake_used(&d, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 513);
	fake_driver_free(&d);
}

static void test_pop_rejects_loop(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	fake_desc(&d, 0, FAKE_BUF, 8, VRING_DESC_F_NEXT, 1);
	fake_desc(&d, 1, FAKE_BUF, 8, VRING_DESC_F_NEXT, 0);
	fake_avail(&d, 0);
	CHECK_EQ(virtq_pop(&q, &c), -ELOOP);
	fake_driver_free(&d);
}

static void test_pop_rejects_bad_addresses(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	fake_desc(&d, 0, 0x1000, 8, 0, 0);                              /* not RAM */
	fake_avail(&d, 0);
	CHECK_EQ(virtq_pop(&q, &c), -EFAULT);
	fake_desc(&d, 1, FAKE_RAM_BASE + FAKE_RAM_SIZE - 4, 8, 0, 0);   /* runs off the end */
	fake_avail(&d, 1);
	CHECK_EQ(virtq_pop(&q, &c), -EFAULT);
	fake_desc(&d, 2, 0xfffffffffffffff0ULL, 0x20, 0, 0);            /* wraps */
	fake_avail(&d, 2);
	CHECK_EQ(virtq_pop(&q, &c), -EFAULT);
	fake_desc(&d, 3, FAKE_BUF, 0xffffffff, 0, 0);                   /* length overflow */
	fake_avail(&d, 3);
	CHECK_EQ(virtq_pop(&q, &c), -EFAULT);
	fake_driver_free(&d);
}

static void test_pop_rejects_bad_order_and_indexes(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;
	struct vring_avail *avail;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	fake_desc(&d, 0, FAKE_BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	fake_desc(&d, 1, FAKE_BUF, 8, 0, 0);   /* readable after writable */
	fake_avail(&d, 0);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	fake_avail(&d, QSIZE);                 /* head out of range */
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	fake_desc(&d, 2, FAKE_BUF, 8, VRING_DESC_F_NEXT, 200); /* next out of range */
	fake_avail(&d, 2);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	avail = fake_hva(&d, FAKE_AVAIL);      /* the driver claims 100 new entries */
	avail->idx = (u16)(d.avail_idx + 100);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	fake_driver_free(&d);
}

static void test_indirect(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;
	const struct fake_seg segs[] = {
		{ FAKE_BUF, 16, false }, { FAKE_BUF + 0x100, 4096, true }, { FAKE_BUF + 0x2000, 1, true },
	};
	struct vring_desc *ind;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	fake_post(&d, segs, 3, true);
	CHECK_EQ(virtq_pop(&q, &c), 1);
	CHECK_EQ(c.nr_out, 1);
	CHECK_EQ(c.nr_in, 2);
	CHECK_EQ(c.in_len, 4097);

	/* Nested indirect tables are refused. */
	ind = fake_hva(&d, FAKE_INDIRECT);
	ind[0] = (struct vring_desc){ FAKE_INDIRECT, 16, VRING_DESC_F_INDIRECT, 0 };
	fake_desc(&d, 1, FAKE_INDIRECT, 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail(&d, 1);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	/* A length that is not whole descriptors. */
	fake_desc(&d, 2, FAKE_INDIRECT, 24, VRING_DESC_F_INDIRECT, 0);
	fake_avail(&d, 2);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	/* INDIRECT together with NEXT. */
	fake_desc(&d, 3, FAKE_INDIRECT, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 4);
	fake_avail(&d, 3);
	CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
	/* A table outside RAM. */
	fake_desc(&d, 4, 0x2000, 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail(&d, 4);
	CHECK_EQ(virtq_pop(&q, &c), -EFAULT);
	/* An indirect chain that loops inside its table. */
	ind[0] = (struct vring_desc){ FAKE_BUF, 8, VRING_DESC_F_NEXT, 1 };
	ind[1] = (struct vring_desc){ FAKE_BUF, 8, VRING_DESC_F_NEXT, 0 };
	fake_desc(&d, 5, FAKE_INDIRECT, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail(&d, 5);
	CHECK_EQ(virtq_pop(&q, &c), -ELOOP);
	fake_driver_free(&d);
}

static void test_notify_without_event_idx(void)
{
	struct fake_driver d;
	struct virtq q;
	struct vring_avail *avail;

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, false);
	avail = fake_hva(&d, FAKE_AVAIL);
	virtq_push(&q, 0, 0);
	CHECK(virtq_should_notify(&q));
	avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	virtq_push(&q, 0, 0);
	CHECK(!virtq_should_notify(&q));
	fake_driver_free(&d);
}

static void test_event_idx(void)
{
	struct fake_driver d;
	struct virtq q;
	struct virtq_chain c;
	const struct fake_seg seg = { FAKE_BUF, 8, true };

	fake_driver_init(&d, QSIZE);
	activate(&q, &d, true);
	/* Device -> driver: interrupt only when used idx passes used_event. */
	fake_set_used_event(&d, 2);
	virtq_push(&q, 0, 0);                 /* used idx 1: first one always signals */
	CHECK(virtq_should_notify(&q));
	virtq_push(&q, 0, 0);                 /* used idx 2: event 2 not yet crossed */
	CHECK(!virtq_should_notify(&q));
	virtq_push(&q, 0, 0);                 /* used idx 3: crossed */
	CHECK(virtq_should_notify(&q));
	virtq_push(&q, 0, 0);
	virtq_push(&q, 0, 0);                 /* batched: one decision for two */
	CHECK(!virtq_should_notify(&q));

	/* Driver -> device: avail_event tells the driver where to kick next. */
	fake_post(&d, &seg, 1, false);
	CHECK_EQ(virtq_pop(&q, &c), 1);
	CHECK(!virtq_enable_notify(&q));
	CHECK_EQ(fake_avail_event(&d), 1);
	fake_post(&d, &seg, 1, false);
	CHECK(virtq_enable_notify(&q));       /* one arrived meanwhile: keep going */
	fake_driver_free(&d);
}

TEST_SUITE(virtqueue,
	   TEST(test_activate_checks),
	   TEST(test_pop_simple_chain),
	   TEST(test_pop_rejects_loop),
	   TEST(test_pop_rejects_bad_addresses),
	   TEST(test_pop_rejects_bad_order_and_indexes),
	   TEST(test_indirect),
	   TEST(test_notify_without_event_idx),
	   TEST(test_event_idx));
