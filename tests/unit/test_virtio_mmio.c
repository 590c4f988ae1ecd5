// SPDX-License-Identifier: Apache-2.0
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "fake_driver.h"
#include "test.h"
#include "virtio_mmio.h"

struct dummy {
	struct virtio_dev vdev;
	u8 config[8];
	unsigned int activated, notified, resets, interrupts;
	bool serve_resets;
};

static u64 dummy_features(struct virtio_dev *dev)
{
	return 1ULL << 5;
}

static int dummy_activate(struct virtio_dev *dev)
{
	container_of(dev, struct dummy, vdev)->activated++;
	return 0;
}

static struct virtq_chain dummy_chain;

/* Serving a chain resets the device, as a driver on another vCPU could. */
static int dummy_serve_resetting(struct virtio_dev *dev, const struct virtq_chain *c,
				 u32 *written)
{
	virtio_mmio_ops.write(dev, VIRTIO_MMIO_STATUS, 0, 4);
	*written = 1;
	return 0;
}

static void dummy_notify(struct virtio_dev *dev, unsigned int q)
{
	struct dummy *d = container_of(dev, struct dummy, vdev);

	d->notified++;
	if (d->serve_resets)
		virtio_dev_serve_queue(dev, q, &dummy_chain, dummy_serve_resetting);
}

static void dummy_reset(struct virtio_dev *dev)
{
	container_of(dev, struct dummy, vdev)->resets++;
}

static void dummy_interrupt(void *opaque)
{
	((struct dummy *)opaque)->interrupts++;
}

static const struct virtio_dev_ops dummy_ops = {
	.features = dummy_features,
	.activate = dummy_activate,
	.queue_notify = dummy_notify,
	.reset = dummy_reset,
};

static void setup(struct dummy *d, struct fake_driver *drv)
{
	memset(d, 0, sizeof(*d));
	fake_driver_init(drv, 8);
	virtio_dev_init(&d->vdev, &dummy_ops, "dummy", 42, 2, 16, &drv->mem);
	memcpy(d->config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	d->vdev.config = d->config;
	d->vdev.config_len = sizeof(d->config);
	d->vdev.interrupt = dummy_interrupt;
	d->vdev.interrupt_opaque = d;
}

static u32 rd(struct dummy *d, u64 off)
{
	return (u32)virtio_mmio_ops.read(&d->vdev, off, 4);
}

static void wr(struct dummy *d, u64 off, u32 v)
{
	virtio_mmio_ops.write(&d->vdev, off, v, 4);
}

static void bring_up(struct dummy *d, u64 desc)
{
	fake_bring_up(&d->vdev, desc, 1ULL << 5);
}

static void test_identity(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_DEVICE_ID), 42);
	CHECK_EQ(virtio_mmio_ops.read(&d.vdev, VIRTIO_MMIO_CONFIG + 2, 2), 0x0403);
	CHECK_EQ(virtio_mmio_ops.read(&d.vdev, VIRTIO_MMIO_CONFIG + 7, 2), 0); /* past the end */
	CHECK_EQ(virtio_mmio_ops.read(&d.vdev, 0x7fc, 4), 0);
	CHECK_EQ(virtio_mmio_ops.read(&d.vdev, VIRTIO_MMIO_MAGIC_VALUE, 2), 0); /* not 32-bit */
	/* No shared memory regions: Linux reads a length of ~0 as "none" (virtio-gpu asks). */
	wr(&d, VIRTIO_MMIO_SHM_SEL, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	fake_driver_free(&drv);
}

static void test_negotiation(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	wr(&d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER); /* skipping ACKNOWLEDGE */
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS), 0);
	wr(&d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(&d, VIRTIO_MMIO_STATUS, 0x03);
	wr(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_DEVICE_FEATURES) & 1, 1); /* VERSION_1 offered */
	wr(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(&d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(&d, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);     /* asks for everything */
	CHECK_EQ(d.vdev.accepted & 0xffffffff, (1u << 5) | (1u << 28) | (1u << 29));
	/* No VERSION_1: a legacy driver, FEATURES_OK does not stick. */
	wr(&d, VIRTIO_MMIO_STATUS, 0x0b);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(&d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(&d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(&d, VIRTIO_MMIO_STATUS, 0x0b);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS), 0x0b);
	/* Features are frozen after FEATURES_OK. */
	wr(&d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	CHECK(d.vdev.accepted & (1ULL << 32));
	fake_driver_free(&drv);
}

static void test_queue_select_is_bounded(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	wr(&d, VIRTIO_MMIO_STATUS, 1);
	wr(&d, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
	wr(&d, VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(&d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	wr(&d, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(&d, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_QUEUE_READY), 0);
	fake_driver_free(&drv);
}

static void test_activate_and_notify(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	bring_up(&d, FAKE_DESC);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS), 0x0f);
	CHECK_EQ(d.activated, 1);
	CHECK_EQ(d.vdev.vqs[0].size, 8);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(d.notified, 1);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 1);   /* queue 1 not set up */
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 999); /* no such queue */
	CHECK_EQ(d.notified, 1);
	/* Queue registers are frozen while the device runs. */
	wr(&d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	CHECK_EQ(d.vdev.qregs[0].desc, FAKE_DESC);
	/* Reset: the device forgets everything and stops serving. */
	wr(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(d.resets, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(d.vdev.vqs[0].size, 0);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(d.notified, 1);
	fake_driver_free(&drv);
}

static void test_bad_queue_needs_reset(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	bring_up(&d, 0x1000); /* descriptor table outside RAM */
	CHECK_EQ(d.activated, 0);
	CHECK(rd(&d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS), 2); /* config change */
	CHECK_EQ(d.interrupts, 1);
	wr(&d, VIRTIO_MMIO_INTERRUPT_ACK, 2);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* While the host kernel serves the queues, the used bit reads as set. */
	atomic_store(&d.vdev.isr_sticky, VIRTIO_ISR_USED);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	wr(&d, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	atomic_store(&d.vdev.isr_sticky, 0);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(d.notified, 0);
	/* The driver recovers with a reset and a proper bring-up. */
	wr(&d, VIRTIO_MMIO_STATUS, 0);
	bring_up(&d, FAKE_DESC);
	CHECK_EQ(rd(&d, VIRTIO_MMIO_STATUS), 0x0f);
	fake_driver_free(&drv);
}

static void test_reset_while_serving(void)
{
	struct dummy d;
	struct fake_driver drv;
	struct fake_seg seg = { FAKE_BUF, 16, true };
	u32 id, len;

	setup(&d, &drv);
	d.serve_resets = true;
	bring_up(&d, FAKE_DESC);
	fake_avail(&drv, fake_post(&drv, &seg, 1, false));
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(d.resets, 1);
	/* The chain belonged to the rings the reset forgot: never returned. */
	CHECK(!fake_used(&drv, &id, &len));
	CHECK_EQ(d.interrupts, 0);
	fake_driver_free(&drv);
}

static void test_eventfd_kicked_ignores_mmio_notify(void)
{
	struct dummy d;
	struct fake_driver drv;

	setup(&d, &drv);
	d.vdev.kicks_by_eventfd = true;
	bring_up(&d, FAKE_DESC);
	wr(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(d.notified, 0);
	fake_driver_free(&drv);
}

TEST_SUITE(virtio_mmio,
	   TEST(test_reset_while_serving),
	   TEST(test_eventfd_kicked_ignores_mmio_notify),
	   TEST(test_identity),
	   TEST(test_negotiation),
	   TEST(test_queue_select_is_bounded),
	   TEST(test_activate_and_notify),
	   TEST(test_bad_queue_needs_reset));
