// SPDX-License-Identifier: Apache-2.0
#include <linux/input.h>
#include <linux/virtio_config.h>
#include <pthread.h>
#include <sched.h>
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

static void input_setup_sized(struct input_env *e, enum input_kind kind, u16 size)
{
	struct fake_driver *queues[] = { &e->events, &e->status };

	memset(e, 0, sizeof(*e));
	fake_driver_init(&e->events, size);
	fake_driver_init_queue(&e->status, &e->events, STATUS_RING, size);
	virtio_input_init(&e->in, kind, &e->events.mem);
	e->in.vdev.interrupt = count_interrupt;
	e->in.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->in.vdev, 0, queues, 2);
}

static void input_setup(struct input_env *e, enum input_kind kind)
{
	input_setup_sized(e, kind, 8);
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

/* What the guest's LED message makes the front end do: press a key at once. */
static void send_on_status(void *opaque, const struct virtio_input_event *led)
{
	struct input_env *e = opaque;
	const struct virtio_input_event ev = { EV_KEY, KEY_CAPSLOCK, 1 };

	CHECK_EQ(led->type, EV_LED);
	virtio_input_send(&e->in, &ev, 1);
}

/*
 * An event sent while a status buffer is in service (the device lock is
 * dropped then) must not disturb it: the status queue returns its own
 * buffer, the event queue its own.
 */
static void test_event_during_status_keeps_heads(void)
{
	struct input_env e;
	const struct virtio_input_event first = { EV_KEY, KEY_A, 1 };
	const struct virtio_input_event led = { EV_LED, LED_CAPSL, 1 };
	struct fake_seg ev_seg[2] = { { BUF(0), 8, true }, { BUF(1), 8, true } };
	struct fake_seg st_seg = { BUF(8), sizeof(led), false };
	struct virtio_input_event got;
	u16 st_head;
	u32 id, len;

	input_setup(&e, INPUT_KEYBOARD);
	e.in.status = send_on_status;
	e.in.status_opaque = &e;
	fake_post(&e.events, &ev_seg[0], 1, false);
	fake_post(&e.events, &ev_seg[1], 1, false);
	CHECK_EQ(virtio_input_send(&e.in, &first, 1), 1);   /* event head 0 used */
	memcpy(fake_hva(&e.status, BUF(8)), &led, sizeof(led));
	st_head = fake_post(&e.status, &st_seg, 1, false);
	virtio_dev_queue_notify(&e.in.vdev, INPUT_STATUS_Q);
	CHECK(!test_failed());
	CHECK(fake_used(&e.status, &id, &len));
	CHECK_EQ(id, st_head);
	CHECK_EQ(len, 0);
	CHECK(!fake_used(&e.status, &id, &len));
	CHECK(fake_used(&e.events, &id, &len));
	CHECK_EQ(id, 0);
	CHECK(fake_used(&e.events, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, sizeof(got));
	memcpy(&got, fake_hva(&e.events, BUF(1)), sizeof(got));
	CHECK_EQ(got.code, KEY_CAPSLOCK);
	CHECK(!(e.in.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	input_teardown(&e);
}

#define RACE_BUFS 64   /* INPUT_QUEUE_SIZE: every buffer posted up front */

static void yield_on_status(void *opaque, const struct virtio_input_event *led)
{
	sched_yield();   /* give the sender a chance to run inside this window */
}

static pthread_barrier_t race_start;   /* both threads begin together */

static void *status_thread(void *arg)
{
	struct input_env *e = arg;

	pthread_barrier_wait(&race_start);
	virtio_dev_queue_notify(&e->in.vdev, INPUT_STATUS_Q);
	return NULL;
}

static void *event_thread(void *arg)
{
	struct input_env *e = arg;

	pthread_barrier_wait(&race_start);
	for (unsigned int i = 0; i < RACE_BUFS; i++) {
		const struct virtio_input_event ev = { EV_KEY, (u16)i, 1 };

		virtio_input_send(&e->in, &ev, 1);
		sched_yield();
	}
	return NULL;
}

/*
 * The VNC thread's path and the I/O thread's at once (the ThreadSanitizer
 * build checks them for races): every buffer comes back on its own queue,
 * and every event lands in order in its own buffer.
 */
static void test_events_and_status_from_two_threads(void)
{
	struct input_env e;
	const struct virtio_input_event led = { EV_LED, LED_NUML, 1 };
	pthread_t sender, server;
	u32 id, len;

	input_setup_sized(&e, INPUT_KEYBOARD, RACE_BUFS);
	e.in.status = yield_on_status;
	for (unsigned int i = 0; i < RACE_BUFS; i++) {
		struct fake_seg ev_seg = { BUF(i), 8, true };
		struct fake_seg st_seg = { BUF(RACE_BUFS + i), sizeof(led), false };

		memcpy(fake_hva(&e.status, st_seg.gpa), &led, sizeof(led));
		fake_post(&e.events, &ev_seg, 1, false);
		fake_post(&e.status, &st_seg, 1, false);
	}
	pthread_barrier_init(&race_start, NULL, 2);
	CHECK(!pthread_create(&server, NULL, status_thread, &e));
	CHECK(!pthread_create(&sender, NULL, event_thread, &e));
	pthread_join(sender, NULL);
	pthread_join(server, NULL);
	pthread_barrier_destroy(&race_start);
	CHECK_EQ(e.in.sent, RACE_BUFS);
	for (unsigned int i = 0; i < RACE_BUFS; i++) {
		struct virtio_input_event got;

		CHECK(fake_used(&e.status, &id, &len));
		CHECK_EQ(id, i);
		CHECK_EQ(len, 0);
		CHECK(fake_used(&e.events, &id, &len));
		CHECK_EQ(id, i);
		CHECK_EQ(len, sizeof(got));
		memcpy(&got, fake_hva(&e.events, BUF(i)), sizeof(got));
		CHECK_EQ(got.code, i);
	}
	CHECK(!(e.in.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	input_teardown(&e);
}

TEST_SUITE(virtio_input,
	   TEST(test_keyboard_config),
	   TEST(test_tablet_config),
	   TEST(test_events_fill_buffers_or_drop),
	   TEST(test_read_only_event_buffer_breaks_device),
	   TEST(test_status_queue_taken),
	   TEST(test_event_during_status_keeps_heads),
	   TEST(test_events_and_status_from_two_threads));
