// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-input: a keyboard, or a tablet (absolute X/Y, three buttons and a
 * wheel).  The driver learns what the device is by selecting a page of its
 * config space (select/subsel) and reading it back; events go into the
 * writable buffers it posts on the event queue, and what it sends on the
 * status queue (LEDs) is taken and returned unread.
 */
#include <endian.h>
#include <errno.h>
#include <linux/input.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "virtio_input.h"

static void set_bit8(u8 *map, unsigned int bit)
{
	map[bit / 8] |= (u8)(1u << (bit % 8));
}

/* The size of a bitmap page: up to its highest set byte. */
static u8 bitmap_size(const u8 *map)
{
	u8 n = 128;

	while (n && !map[n - 1])
		n--;
	return n;
}

/* The keys arkvm can send: those of a PC keyboard (KEY_ESC to KEY_COMPOSE). */
static void keyboard_keys(u8 *map)
{
	for (unsigned int k = KEY_ESC; k <= KEY_COMPOSE; k++)
		set_bit8(map, k);
}

static void tablet_bits(u8 select_type, u8 *map)
{
	switch (select_type) {
	case EV_KEY:
		set_bit8(map, BTN_LEFT);
		set_bit8(map, BTN_RIGHT);
		set_bit8(map, BTN_MIDDLE);
		break;
	case EV_ABS:
		set_bit8(map, ABS_X);
		set_bit8(map, ABS_Y);
		break;
	case EV_REL:
		set_bit8(map, REL_WHEEL);
		break;
	}
}

/* Fills the page the driver selected; an unknown page has size 0. */
static void input_fill_config(struct virtio_input *in)
{
	struct virtio_input_config *c = &in->config;
	const char *name = in->kind == INPUT_KEYBOARD ? "arkvm keyboard" : "arkvm tablet";

	memset(&c->u, 0, sizeof(c->u));
	c->size = 0;
	switch (c->select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		c->size = (u8)strlen(name);
		memcpy(c->u.string, name, c->size);
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		c->u.ids = (struct virtio_input_devids){
			.bustype = htole16(BUS_VIRTUAL), .vendor = htole16(0x1af4),
			.product = htole16(in->kind == INPUT_KEYBOARD ? 1 : 2), .version = htole16(1),
		};
		c->size = sizeof(c->u.ids);
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (in->kind == INPUT_KEYBOARD && c->subsel == EV_KEY)
			keyboard_keys(c->u.bitmap);
		else if (in->kind == INPUT_TABLET)
			tablet_bits(c->subsel, c->u.bitmap);
		c->size = bitmap_size(c->u.bitmap);
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (in->kind == INPUT_TABLET && (c->subsel == ABS_X || c->subsel == ABS_Y)) {
			c->u.abs.max = htole32(INPUT_ABS_MAX);
			c->size = sizeof(c->u.abs);
		}
		break;
	}
}

/* select and subsel are the writable bytes: each write picks a page. */
static void input_cfg_write(struct virtio_dev *dev, u32 off, const void *data, u32 len)
{
	struct virtio_input *in = container_of(dev, struct virtio_input, vdev);
	const u8 *b = data;

	for (u32 i = 0; i < len; i++) {
		if (off + i == offsetof(struct virtio_input_config, select))
			in->config.select = b[i];
		else if (off + i == offsetof(struct virtio_input_config, subsel))
			in->config.subsel = b[i];
	}
	input_fill_config(in);
}

/* Runs without the lock; the chain is this queue's own. */
static int input_status_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_input *in = container_of(dev, struct virtio_input, vdev);
	struct virtio_input_event ev;

	*written = 0;
	if (in->status && virtq_chain_read(c, 0, &ev, sizeof(ev)) == sizeof(ev))
		in->status(in->status_opaque, &ev);
	return 0;
}

static void input_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_input *in = container_of(dev, struct virtio_input, vdev);

	/* New event buffers wait for events; status messages are taken and dropped. */
	if (q == INPUT_STATUS_Q)
		virtio_dev_serve_queue(dev, q, &in->status_chain, input_status_serve);
}

static u64 input_features(struct virtio_dev *dev)
{
	return 0;
}

static const struct virtio_dev_ops virtio_input_ops = {
	.features = input_features,
	.cfg_write = input_cfg_write,
	.queue_notify = input_queue_notify,
};

unsigned int virtio_input_send(struct virtio_input *in, const struct virtio_input_event *ev,
			       unsigned int n)
{
	struct virtio_dev *dev = &in->vdev;
	struct virtq *vq = &dev->vqs[INPUT_EVENT_Q];
	struct virtq_chain *c = &in->event_chain;
	unsigned int sent = 0;

	pthread_mutex_lock(&dev->lock);
	while (!in->held && virtio_dev_running(dev) && sent < n) {
		int ret = virtq_pop(vq, c);

		if (ret < 0) {
			virtio_dev_fail(dev, "malformed event buffer", ret);
			break;
		}
		if (!ret)
			break;
		if (c->in_len < sizeof(ev[sent])) {
			virtio_dev_fail(dev, "event buffer too small", -EINVAL);
			break;
		}
		virtq_push(vq, c->head, (u32)virtq_chain_write(c, 0, &ev[sent], sizeof(ev[sent])));
		sent++;
	}
	if (sent)
		virtio_dev_notify_used(dev, INPUT_EVENT_Q);
	in->sent += sent;
	in->dropped += n - sent;
	pthread_mutex_unlock(&dev->lock);
	return sent;
}

void virtio_input_init(struct virtio_input *in, enum input_kind kind, const struct guest_mem *mem)
{
	memset(in, 0, sizeof(*in));
	in->kind = kind;
	virtio_dev_init(&in->vdev, &virtio_input_ops,
			kind == INPUT_KEYBOARD ? "virtio-keyboard" : "virtio-tablet", VIRTIO_ID_INPUT,
			2, INPUT_QUEUE_SIZE, mem);
	in->vdev.config = &in->config;
	in->vdev.config_len = sizeof(in->config);
}

/*
 * The device class: with --display vnc, a keyboard (instance 0) and a
 * tablet (instance 1) for the viewer; the vnc class connects them.
 */
static unsigned int input_count(const struct vm_config *cfg)
{
	return cfg->display.vnc ? 2 : 0;
}

static int input_create(struct device *dev, struct device_host *host, unsigned int index)
{
	struct virtio_input *in = device_alloc_priv(dev, sizeof(*in));

	if (!in)
		return -ENOMEM;
	virtio_input_init(in, index ? INPUT_TABLET : INPUT_KEYBOARD, host->mem);
	dev->vdev = &in->vdev;
	dev->id = in->vdev.name;
	return 0;
}

/*
 * Paused, the viewer's input is dropped, as a real keyboard's is while
 * its machine is suspended: the VNC thread must not write guest RAM.
 */
static void input_hold(struct device *dev, bool held)
{
	struct virtio_input *in = dev->priv;

	pthread_mutex_lock(&in->vdev.lock);
	in->held = held;
	pthread_mutex_unlock(&in->vdev.lock);
}

static int input_quiesce(struct device *dev)
{
	input_hold(dev, true);
	return 0;
}

static void input_resume(struct device *dev)
{
	input_hold(dev, false);
}

const struct device_class virtio_input_class = {
	.name = "virtio-input",
	.count = input_count,
	.create = input_create,
	.quiesce = input_quiesce,
	.resume = input_resume,
};
