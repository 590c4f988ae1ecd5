// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-console with a single port, which Linux makes its hvc0.  Guest
 * output (transmitq) goes to stdout from the I/O thread; input comes from
 * the console (src/console.c), which asks how much room the guest has and
 * then fills one receive buffer at a time.  No features: no multiport, no
 * emergency write, no size.
 */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "virtio_devices.h"

#define VCON_QUEUE_SIZE 64
#define VCON_RX_Q 0
#define VCON_TX_Q 1

static int vcon_tx_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_console *vc = container_of(dev, struct virtio_console, vdev);
	struct iovec *iov = vc->tx_iov;
	unsigned int n = c->nr_out;

	*written = 0;
	memcpy(iov, c->iov, n * sizeof(*iov));
	/* All of it, even in pieces; a closed stdout drops it (as the UART does). */
	while (n) {
		ssize_t done = writev(STDOUT_FILENO, iov, (int)n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			break;
		n = iov_advance(&iov, n, (size_t)done);
	}
	return 0;
}

static void vcon_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_console *vc = container_of(dev, struct virtio_console, vdev);

	if (q == VCON_TX_Q)
		virtio_dev_serve_queue(dev, q, &vc->tx_chain, vcon_tx_serve);
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
	if (!virtio_dev_running(dev) || !vq->size)
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
}
