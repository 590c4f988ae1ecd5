// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-console with a single port, which Linux makes its hvc0.  Guest
 * output (transmitq) goes to stdout from the I/O thread; input comes from
 * the console (src/console.c), which asks how much room the guest has and
 * then fills one receive buffer at a time.  Output goes through the
 * console's buffer, never blocking the I/O thread: when stdout is slow,
 * transmit buffers wait in the ring until it takes more.  No features: no multiport, no
 * emergency write, no size.
 */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "state.h"
#include "virtio_devices.h"

#define VCON_QUEUE_SIZE 64
#define VCON_RX_Q 0
#define VCON_TX_Q 1

/*
 * Moves the output of the chain held at vc->tx_off into the console, as
 * far as it has room.  Returns true when the whole chain went.
 */
static bool vcon_tx_copy(struct virtio_console *vc)
{
	const struct virtq_chain *c = &vc->tx_chain;
	u64 skip = vc->tx_off;

	for (unsigned int i = 0; i < c->nr_out; i++) {
		const struct iovec *v = &c->iov[i];
		u64 len, done;

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		/* The console takes at most CONSOLE_OUT_SIZE at a time: put() fits in an int. */
		len = MIN(v->iov_len - skip, (u64)CONSOLE_OUT_SIZE);
		done = console_put(vc->con, (const u8 *)v->iov_base + skip, (unsigned int)len);
		vc->tx_off += done;
		if (done < v->iov_len - skip)
			return false;
		skip = 0;
	}
	return true;
}

/*
 * Takes chains and queues their output while the console has room;
 * dev->lock held.  A chain the console cannot take whole stays held, and
 * the rest stay in the ring, until the console calls vcon_tx_room(): the
 * guest waits for stdout, and nothing is dropped.  Returns true when it
 * used any chain.
 */
static bool vcon_tx_fill(struct virtio_console *vc)
{
	struct virtio_dev *dev = &vc->vdev;
	struct virtq *vq = &dev->vqs[VCON_TX_Q];
	bool used = false;
	int ret;

	if (vc->tx_generation != dev->generation) {
		vc->tx_held = false; /* it belonged to rings a reset forgot */
		vc->tx_skip = 0;
	}
	for (;;) {
		if (!vc->tx_held) {
			ret = virtq_pop(vq, &vc->tx_chain);
			if (!ret && virtq_enable_notify(vq))
				ret = virtq_pop(vq, &vc->tx_chain); /* one came in meanwhile */
			if (ret < 0)
				virtio_dev_fail(dev, "malformed transmit buffer", ret);
			if (ret <= 0)
				return used;
			vc->tx_held = true;
			vc->tx_off = vc->tx_skip;  /* a chain given back half-sent */
			vc->tx_skip = 0;
			vc->tx_generation = dev->generation;
		}
		if (!vcon_tx_copy(vc))
			return used;
		/* Output only: the driver's writable parts, if any, got nothing. */
		virtq_push(vq, vc->tx_chain.head, 0);
		vc->tx_held = false;
		used = true;
	}
}

static void vcon_tx(struct virtio_console *vc)
{
	struct virtio_dev *dev = &vc->vdev;

	if (vcon_tx_fill(vc))
		virtio_dev_notify_used(dev, VCON_TX_Q);
	/* The write happens without dev->lock: no lock is ever held across I/O. */
	pthread_mutex_unlock(&dev->lock);
	console_flush(vc->con);
	pthread_mutex_lock(&dev->lock);
}

/*
 * The console has room again (main thread): serve the transmit queue on the
 * I/O thread, as a guest kick would, through the queue's ioeventfd.
 */
static void vcon_tx_room(void *opaque)
{
	struct virtio_console *vc = opaque;
	struct event_source *kick = vc->vdev.wiring.kick[VCON_TX_Q];
	u64 one = 1;

	if (!kick) {
		/* No KVM wiring (unit tests): serve it here. */
		virtio_dev_queue_notify(&vc->vdev, VCON_TX_Q);
		return;
	}
	if (write(kick->fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a kick is pending anyway */
}

static void vcon_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_console *vc = container_of(dev, struct virtio_console, vdev);

	if (vc->quiesced)
		return; /* paused: resume serves both queues */
	if (q == VCON_TX_Q)
		vcon_tx(vc);
	else
		console_rx_room(vc->con); /* new receive buffers */
}

static u64 vcon_features(struct virtio_dev *dev)
{
	return 0;
}

/*
 * Linux posts its receive buffers around DRIVER_OK, and with EVENT_IDX it
 * kicks only for the first: look at the queue now rather than wait.
 */
static int vcon_activate(struct virtio_dev *dev)
{
	console_rx_room(container_of(dev, struct virtio_console, vdev)->con);
	return 0;
}

static const struct virtio_dev_ops virtio_console_ops = {
	.features = vcon_features,
	.activate = vcon_activate,
	.queue_notify = vcon_queue_notify,
};

/* Takes the next receive buffer if none is held; dev->lock held. */
static bool vcon_rx_buffer(struct virtio_console *vc)
{
	struct virtio_dev *dev = &vc->vdev;
	struct virtq *vq = &dev->vqs[VCON_RX_Q];
	int ret;

	if (vc->rx_generation != dev->generation) {
		vc->rx_held = false; /* it belonged to rings a reset forgot */
		vc->rx_generation = dev->generation;
	}
	if (vc->rx_held)
		return true;
	if (vc->quiesced || !virtio_dev_running(dev) || !vq->size)
		return false;
	ret = virtq_pop(vq, &vc->rx_chain);
	if (!ret && virtq_enable_notify(vq))
		ret = virtq_pop(vq, &vc->rx_chain); /* one came in meanwhile */
	if (ret > 0 && (vc->rx_chain.nr_out || !vc->rx_chain.in_len))
		ret = -EINVAL; /* receive buffers are device-writable only */
	if (ret < 0)
		virtio_dev_fail(dev, "bad receive buffer", ret);
	vc->rx_held = ret > 0;
	return vc->rx_held;
}

static unsigned int vcon_space(void *opaque)
{
	struct virtio_console *vc = opaque;
	unsigned int space = 0;

	pthread_mutex_lock(&vc->vdev.lock);
	if (vcon_rx_buffer(vc))
		space = (unsigned int)MIN(vc->rx_chain.in_len, (u64)CONSOLE_CHUNK);
	pthread_mutex_unlock(&vc->vdev.lock);
	return space;
}

static void vcon_receive(void *opaque, const u8 *buf, unsigned int len)
{
	struct virtio_console *vc = opaque;
	struct virtio_dev *dev = &vc->vdev;
	u32 done;

	pthread_mutex_lock(&dev->lock);
	if (vcon_rx_buffer(vc)) {
		done = (u32)virtq_chain_write(&vc->rx_chain, 0, buf, len);
		virtq_push(&dev->vqs[VCON_RX_Q], vc->rx_chain.head, done);
		vc->rx_held = false;
		virtio_dev_notify_used(dev, VCON_RX_Q);
	}
	pthread_mutex_unlock(&dev->lock);
}

const struct console_sink_ops virtio_console_sink = {
	.space = vcon_space,
	.receive = vcon_receive,
};

void virtio_console_init(struct virtio_console *vc, const struct guest_mem *mem,
			 struct console *con)
{
	memset(vc, 0, sizeof(*vc));
	vc->con = con;
	virtio_dev_init(&vc->vdev, &virtio_console_ops, "virtio-console", VIRTIO_ID_CONSOLE, 2,
			VCON_QUEUE_SIZE, mem);
	vc->vdev.config = &vc->config;
	vc->vdev.config_len = sizeof(vc->config);
	console_add_writer(con, vcon_tx_room, vc);
}

/*
 * The device class: with --console virtio, the guest's console is hvc0 and
 * takes the console's input; the UART keeps early output.
 */
static unsigned int vcon_count(const struct vm_config *cfg)
{
	return cfg->console == CONSOLE_VIRTIO;
}

static int vcon_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	struct virtio_console *vc = device_alloc_priv(dev, sizeof(*vc));

	if (!vc)
		return -ENOMEM;
	virtio_console_init(vc, host->mem, host->console);
	dev->vdev = &vc->vdev;
	console_set_sink(host->console, &virtio_console_sink, vc);
	return 0;
}

/*
 * Pause: the chains the device holds go back to the ring, so that a
 * snapshot has them as the guest's to give and the restored device takes
 * them again.  Each is the last its queue gave.  The output chain may be
 * half in the console already: how much is kept (tx_skip), and saved.
 */
static void vcon_give_back(struct virtio_console *vc)
{
	struct virtio_dev *dev = &vc->vdev;

	if (vc->rx_held && vc->rx_generation == dev->generation && dev->vqs[VCON_RX_Q].size)
		virtq_unpop(&dev->vqs[VCON_RX_Q]);
	vc->rx_held = false;
	if (vc->tx_held && vc->tx_generation == dev->generation && dev->vqs[VCON_TX_Q].size) {
		virtq_unpop(&dev->vqs[VCON_TX_Q]);
		vc->tx_skip = vc->tx_off;
	}
	vc->tx_held = false;
}

static int vcon_quiesce(struct device *dev)
{
	struct virtio_console *vc = dev->priv;

	pthread_mutex_lock(&vc->vdev.lock);
	vc->quiesced = true;
	vcon_give_back(vc);
	pthread_mutex_unlock(&vc->vdev.lock);
	return 0;
}

static void vcon_resume(struct device *dev)
{
	struct virtio_console *vc = dev->priv;
	struct virtio_dev *vdev = &vc->vdev;

	pthread_mutex_lock(&vdev->lock);
	vc->quiesced = false;
	if (virtio_dev_running(vdev) && vdev->vqs[VCON_TX_Q].size)
		vcon_tx(vc);
	pthread_mutex_unlock(&vdev->lock);
	console_rx_room(vc->con);
}

static int vcon_save(struct device *dev, struct state_writer *w)
{
	struct virtio_console *vc = dev->priv;

	pthread_mutex_lock(&vc->vdev.lock);
	state_put_u64(w, vc->tx_generation == vc->vdev.generation ? vc->tx_skip : 0);
	pthread_mutex_unlock(&vc->vdev.lock);
	return w->err;
}

/* After the transport's: the skip belongs to the rings it just mapped. */
static int vcon_restore(struct device *dev, struct state_reader *r)
{
	struct virtio_console *vc = dev->priv;
	u64 skip = state_get_u64(r);

	if (r->err)
		return r->err;
	pthread_mutex_lock(&vc->vdev.lock);
	vc->tx_skip = skip;     /* past a chain's end skips it all: nothing to check */
	vc->tx_generation = vc->vdev.generation;
	pthread_mutex_unlock(&vc->vdev.lock);
	return 0;
}

const struct device_class virtio_console_class = {
	.name = "virtio-console",
	.count = vcon_count,
	.create = vcon_create,
	.quiesce = vcon_quiesce,
	.resume = vcon_resume,
	.save = vcon_save,
	.restore = vcon_restore,
};
