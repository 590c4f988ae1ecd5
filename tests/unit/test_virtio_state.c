// SPDX-License-Identifier: Apache-2.0
/*
 * A virtio device's transport and queue state, saved and restored into a
 * fresh device (as a snapshot would, in another process): the driver's
 * rings go on where they were.  And restore refuses what a driver could
 * never have set up.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <string.h>

#include "fake_driver.h"
#include "state.h"
#include "test.h"
#include "virtio_devices.h"

#define DATA (FAKE_BUF + 0x100)

static void count_irq(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

struct rng_env {
	struct fake_driver drv;
	struct virtio_rng rng;
	unsigned int irqs;
};

static void env_init(struct rng_env *e, struct fake_driver *shared_ram)
{
	memset(&e->rng, 0, sizeof(e->rng));
	e->irqs = 0;
	virtio_rng_init(&e->rng, &shared_ram->mem, NULL, NULL);
	e->rng.vdev.interrupt = count_irq;
	e->rng.vdev.interrupt_opaque = &e->irqs;
}

/* One buffer through the device; true when the guest got it back filled. */
static bool one_buffer(struct fake_driver *drv, struct virtio_rng *rng)
{
	const struct fake_seg seg = { DATA, 32, true };
	u32 id, len;

	memset(fake_hva(drv, DATA), 0, 32);
	fake_post(drv, &seg, 1, false);
	virtio_dev_queue_notify(&rng->vdev, 0);
	return fake_used(drv, &id, &len) && len == 32 &&
	       memcmp(fake_hva(drv, DATA), (char[32]){ 0 }, 32);
}

static void test_round_trip_into_a_fresh_device(void)
{
	struct rng_env a, b;
	struct state_writer w;
	struct state_reader r;

	fake_driver_init(&a.drv, 8);
	env_init(&a, &a.drv);
	fake_bring_up(&a.rng.vdev, FAKE_DESC, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 5; i++)
		CHECK(one_buffer(&a.drv, &a.rng));

	state_writer_init(&w);
	CHECK_EQ(virtio_dev_save(&a.rng.vdev, &w), 0);
	/* The new device sees the same RAM, as a restored VM would. */
	env_init(&b, &a.drv);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(virtio_dev_restore(&b.rng.vdev, &r), 0);
	CHECK_EQ(r.off, r.len);
	CHECK(virtio_dev_running(&b.rng.vdev));
	CHECK_EQ(b.rng.vdev.accepted, a.rng.vdev.accepted);
	CHECK_EQ(b.rng.vdev.vqs[0].last_avail, 5);
	CHECK_EQ(b.rng.vdev.vqs[0].used_idx, 5);
	/* The guest's next buffer is served by the restored device, in order. */
	CHECK(one_buffer(&a.drv, &b.rng));
	CHECK_EQ(b.rng.vdev.vqs[0].used_idx, 6);
	state_writer_free(&w);
	virtio_rng_close(&a.rng);
	virtio_rng_close(&b.rng);
	fake_driver_free(&a.drv);
}

/* Saves @a's state, lets @corrupt change it, and restores it into a fresh device. */
static int restore_changed(struct rng_env *a, void (*corrupt)(u8 *data, size_t len))
{
	struct rng_env b;
	struct state_writer w;
	struct state_reader r;
	int ret;

	state_writer_init(&w);
	virtio_dev_save(&a->rng.vdev, &w);
	corrupt(w.data, w.len);
	env_init(&b, &a->drv);
	state_reader_init(&r, w.data, w.len);
	ret = virtio_dev_restore(&b.rng.vdev, &r);
	if (ret && (b.rng.vdev.status || b.rng.vdev.vqs[0].size))
		ret = 0; /* a refused restore must leave the device reset */
	state_writer_free(&w);
	virtio_rng_close(&b.rng);
	return ret;
}

/*
 * Offsets in the saved bytes: tag 4, length 4, version 4, id 4, queues 4,
 * status 4, features 8, three selectors 12, isr 4, config generation 4.
 */
#define OFF_STATUS   20
#define OFF_FEATURES 24
#define OFF_QUEUE0   52            /* num 2, ready 1, desc 8, driver 8, device 8 */

static void bad_status(u8 *d, size_t n) { d[OFF_STATUS] = VIRTIO_CONFIG_S_DRIVER_OK; }
static void bad_features(u8 *d, size_t n) { d[OFF_FEATURES + 7] |= 0x80; }
static void bad_queue_size(u8 *d, size_t n) { d[OFF_QUEUE0] = 0; d[OFF_QUEUE0 + 1] = 0x10; }
static void ring_outside_ram(u8 *d, size_t n) { d[OFF_QUEUE0 + 3 + 7] = 0x7f; }
static void cut_short(u8 *d, size_t n) { d[4] = (u8)(d[4] - 1); }
static void wrong_tag(u8 *d, size_t n) { d[0] ^= 1; }
static void nothing(u8 *d, size_t n) { }

static void test_restore_checks_everything(void)
{
	struct rng_env a;

	fake_driver_init(&a.drv, 8);
	env_init(&a, &a.drv);
	fake_bring_up(&a.rng.vdev, FAKE_DESC, 0);
	CHECK_EQ(restore_changed(&a, nothing), 0);
	CHECK_EQ(restore_changed(&a, bad_status), -EINVAL);      /* DRIVER_OK alone */
	CHECK_EQ(restore_changed(&a, bad_features), -EINVAL);    /* a bit never offered */
	CHECK_EQ(restore_changed(&a, bad_queue_size), -EINVAL);  /* above QueueNumMax */
	CHECK_EQ(restore_changed(&a, ring_outside_ram), -EFAULT);
	CHECK_EQ(restore_changed(&a, cut_short), -EINVAL);
	CHECK_EQ(restore_changed(&a, wrong_tag), -EINVAL);
	virtio_rng_close(&a.rng);
	fake_driver_free(&a.drv);
}

/*
 * Found by fuzzing restore: a used ring laid over the avail ring, and the
 * two indexes apart.  Each chain the device returns then bumps the avail
 * index it reads next, so one kick never ran out of work and held the I/O
 * thread for good.  A kick now serves a bounded batch and yields (with the
 * KVM wiring it kicks itself again, after the thread's other work).
 */
static void test_self_feeding_ring_yields(void)
{
	struct rng_env a, b;
	struct state_writer w;
	struct state_reader r;
	const struct fake_seg seg = { DATA, 16, false };  /* readable: rng writes 0 bytes */
	u16 *avail_idx;

	fake_driver_init(&a.drv, 8);
	env_init(&a, &a.drv);
	fake_bring_up(&a.rng.vdev, FAKE_DESC, 0);
	fake_post(&a.drv, &seg, 1, false);  /* desc 0; its head fills the ring below */
	state_writer_init(&w);
	CHECK_EQ(virtio_dev_save(&a.rng.vdev, &w), 0);
	/* The used ring where the avail ring is, and the indexes 5 apart. */
	memcpy(w.data + OFF_QUEUE0 + 3 + 16, w.data + OFF_QUEUE0 + 3 + 8, 8);
	w.data[OFF_QUEUE0 + 27 + 2] = 5;                /* used_idx */
	env_init(&b, &a.drv);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(virtio_dev_restore(&b.rng.vdev, &r), 0);
	avail_idx = fake_hva(&a.drv, FAKE_AVAIL + 2);
	*avail_idx = 5;
	memset(fake_hva(&a.drv, FAKE_AVAIL + 4), 0, 16);  /* every head: desc 0 */
	virtio_dev_queue_notify(&b.rng.vdev, 0);
	CHECK_EQ(b.rng.vdev.vqs[0].used_idx, 5 + VIRTIO_SERVE_BUDGET);
	state_writer_free(&w);
	virtio_rng_close(&a.rng);
	virtio_rng_close(&b.rng);
	fake_driver_free(&a.drv);
}

static void test_state_reader_bounds(void)
{
	static const u8 bytes[3] = { 1, 2, 3 };
	struct state_reader r;

	state_reader_init(&r, bytes, sizeof(bytes));
	CHECK_EQ(state_get_u16(&r), 0x0201);
	CHECK_EQ(state_get_u32(&r), 0);        /* past the end: zero, and an error */
	CHECK_EQ(r.err, -EINVAL);
	CHECK_EQ(state_get_u8(&r), 0);         /* the first error sticks */
	CHECK_EQ(r.off, 2);
}

TEST_SUITE(virtio_state,
	   TEST(test_round_trip_into_a_fresh_device),
	   TEST(test_restore_checks_everything),
	   TEST(test_self_feeding_ring_yields),
	   TEST(test_state_reader_bounds));
