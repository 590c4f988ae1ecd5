// SPDX-License-Identifier: Apache-2.0
#include <linux/input.h>
#include <linux/virtio_config.h>
#include <string.h>

#include "fake_driver.h"
#include "test.h"
#include "virtio_input.h"

#define STATUS_RING (FAKE_RAM_BASE + 0x4000)
#define BUF(i)      (FAKE_BUF + (u64)(i) * 0x100)

struct input_env {
	struct fake_driver events, status;
	struct virtio_input in;
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct input_env *)opaque)->interrupts++;
}

static void input_setup(struct input_env *e, enum input_kind kind)
{
	struct fake_driver *queues[] = { &e->events, &e->status };

	memset(e, 0, sizeof(*e));
	fake_driver_init(&e->events, 8);
	fake_driver_init_queue(&e->status, &e->events, STATUS_RING, 8);
	virtio_input_init(&e->in, kind, &e->events.mem);
	e->in.vdev.interrupt = count_interrupt;
	e->in.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->in.vdev, 0, queues, 2);
}

static void input_teardown(struct input_env *e)
{
	virtio_dev_destroy(&e->in.vdev);
	fake_driver_free(&e->status);
	fake_driver_free(&e->events);
}

/* Selects a config page the way the driver does: two byte writes. */
static const struct virtio_input_config *select_page(struct input_env *e, u8 select, u8 subsel)
{
	e->in.vdev.ops->cfg_write(&e->in.vdev, 0, &select, 1);
	e->in.vdev.ops->cfg_write(&e->in.vdev, 1, &subsel, 1);
	return &e->in.config;
}

static bool has_bit(const struct virtio_input_config *c, unsigned int bit)
{
	return bit / 8 < c->size && (c->u.bitmap[bit / 8] >> (bit % 8)) & 1;
}

static void test_keyboard_config(void)
{
	struct input_env e;
	const struct virtio_input_config *c;

	input_setup(&e, INPUT_KEYBOARD);
	c = select_page(&e, VIRTIO_INPUT_CFG_ID_NAME, 0);
	CHECK_EQ(c->size, strlen("arkvm keyboard"));
	CHECK(!memcmp(c->u.string, "arkvm keyboard", c->size));
	c = select_page(&e, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
	CHECK(has_bit(c, KEY_A) && has_bit(c, KEY_ENTER) && has_bit(c, KEY_LEFTSHIFT));
	CHECK(!has_bit(c, BTN_LEFT));
	c = select_page(&e, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS);
	CHECK_EQ(c->size, 0);
	c = select_page(&e, VIRTIO_INPUT_CFG_ID_DEVIDS, 0);
	CHECK_EQ(c->size, sizeof(c->u.ids));
	CHECK_EQ(c->u.ids.bustype, BUS_VIRTUAL);
	c = select_page(&e, 0x77, 0);   /* no such page */
	CHECK_EQ(c->size, 0);
	input_teardown(&e);
}

static void test_tablet_config(void)
{
	struct input_env e;
	const struct virtio_input_config *c;

	input_setup(&e, INPUT_TABLET);
	c = select_page(&e, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS);
	CHECK(has_bit(c, ABS_X) && has_bit(c, ABS_Y));
	c = select_page(&e, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
	CHECK(has_bit(c, BTN_LEFT) && has_bit(c, BTN_RIGHT) && has_bit(c, BTN_MIDDLE));
	CHECK(!has_bit(c, KEY_A));
	c = select_page(&e, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Y);
	CHECK_EQ(c->size, sizeof(c->u.abs));
	CHECK_EQ(c->u.abs.max, INPUT_ABS_MAX);
	input_teardown(&e);
}

static void test_events_fill_buffers_or_drop(void)
{
	struct input_env e;
	const struct virtio_input_event ev[3] = {
		{ EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_A, 0 },
	};
	struct virtio_input_event got;
	u32 id, len;

	input_setup(&e, INPUT_KEYBOARD);
	/* Two buffers posted: two events arrive, the third is dropped. */
	for (int i = 0; i < 2; i++) {
		struct fake_seg seg = { BUF(i), sizeof(got), true };

		fake_post(&e.events, &seg, 1, false);
	}
	CHECK_EQ(virtio_input_send(&e.in, ev, 3), 2);
	CHECK_EQ(e.in.dropped, 1);
	CHECK_EQ(e.interrupts, 1);
	CHECK(fake_used(&e.events, &id, &len));
	CHECK_EQ(len, sizeof(got));
	memcpy(&got, fake_hva(&e.events, BUF(0)), sizeof(got));
	CHECK_EQ(got.type, EV_KEY);
	CHECK_EQ(got.code, KEY_A);
	CHECK_EQ(got.value, 1);
	CHECK(fake_used(&e.events, &id, &len));
	memcpy(&got, fake_hva(&e.events, BUF(1)), sizeof(got));
	CHECK_EQ(got.type, EV_SYN);
	CHECK(!fake_used(&e.events, &id, &len));
	input_teardown(&e);
}

/* A buffer the device cannot write into breaks the driver's side: reset needed. */
static void test_read_only_event_buffer_breaks_device(void)
{
	struct input_env e;
	const struct virtio_input_event ev = { EV_KEY, KEY_B, 1 };
	struct fake_seg seg = { BUF(0), sizeof(ev), false };

	input_setup(&e, INPUT_KEYBOARD);
	fake_post(&e.events, &seg, 1, false);
	CHECK_EQ(virtio_input_send(&e.in, &ev, 1), 0);
	CHECK(e.in.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	input_teardown(&e);
}

static void test_status_queue_taken(void)
{
	struct input_env e;
	struct fake_seg seg = { BUF(0), 8, false };
	u32 id, len;

	input_setup(&e, INPUT_KEYBOARD);
	fake_post(&e.status, &seg, 1, false);
	virtio_dev_queue_notify(&e.in.vdev, INPUT_STATUS_Q);
	CHECK(fake_used(&e.status, &id, &len));
	CHECK_EQ(len, 0);
	input_teardown(&e);
}

TEST_SUITE(virtio_input,
	   TEST(test_keyboard_config),
	   TEST(test_tablet_config),
	   TEST(test_events_fill_buffers_or_drop),
	   TEST(test_read_only_event_buffer_breaks_device),
	   TEST(test_status_queue_taken));
