// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock as a device of the registry (devices/virtio_vsock.c is the
 * device itself): made from --vsock or PUT /vsock, paused, and told after
 * a snapshot's restore that its connections are gone.
 */
#include <endian.h>
#include <errno.h>

#include "device.h"
#include "log.h"
#include "state.h"
#include "virtio_vsock.h"
#include "virtio_vsock_conn.h"

static unsigned int vsock_count(const struct vm_config *cfg)
{
	return cfg->vsock.enabled;
}

static int vsock_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	struct virtio_vsock *vs = device_alloc_priv(dev, sizeof(*vs));
	int ret;

	if (!vs)
		return -ENOMEM;
	ret = virtio_vsock_init(vs, host->cfg->vsock.cid, host->cfg->vsock.uds_path, host->mem,
				host->io_loop);
	if (ret)
		return ret;
	dev->vdev = &vs->vdev;
	return 0;
}

/*
 * Pause: nothing reaches guest RAM until resume.  The connections are not
 * in a snapshot (their host sockets cannot be): a restored guest's
 * connections are gone, as after a host-side reset.
 */
static int vsock_quiesce(struct device *dev)
{
	struct virtio_vsock *vs = dev->priv;

	pthread_mutex_lock(&vs->vdev.lock);
	vs->quiesced = true;
	if (vs->rx_held && vs->rx_generation == vs->vdev.generation && vs->vdev.vqs[VSOCK_RX_Q].size)
		virtq_unpop(&vs->vdev.vqs[VSOCK_RX_Q]);
	vs->rx_held = false;
	pthread_mutex_unlock(&vs->vdev.lock);
	return 0;
}

/*
 * Tells the driver its connections are gone (a restored snapshot has none
 * of them): VIRTIO_VSOCK_EVENT_TRANSPORT_RESET in an event buffer, after
 * which Linux drops every socket and rereads the CID.  Under the lock.
 */
static void vsock_send_transport_reset(struct virtio_vsock *vs)
{
	struct virtio_dev *dev = &vs->vdev;
	struct virtq *vq = &dev->vqs[VSOCK_EVT_Q];
	struct virtio_vsock_event ev = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
	int ret;

	if (!virtio_dev_running(dev) || !vq->size)
		return;
	ret = virtq_pop(vq, &vs->tx_chain);
	if (ret > 0 && vs->tx_chain.in_len < sizeof(ev))
		ret = -EINVAL;
	if (ret < 0)
		virtio_dev_fail(dev, "bad vsock event buffer", ret);
	if (ret <= 0)
		return; /* no buffer: the driver has no connection to lose either */
	virtq_chain_write(&vs->tx_chain, 0, &ev, sizeof(ev));
	virtq_push(vq, vs->tx_chain.head, sizeof(ev));
	virtio_dev_notify_used(dev, VSOCK_EVT_Q);
}

/*
 * The next port for a connection the host starts: a restored device goes
 * on from there, so that no new connection takes the ports of one the
 * guest may not have dropped yet when its first packets come.
 */
static int vsock_save(struct device *dev, struct state_writer *w)
{
	struct virtio_vsock *vs = dev->priv;

	pthread_mutex_lock(&vs->vdev.lock);
	state_put_u32(w, vs->next_local_port);
	pthread_mutex_unlock(&vs->vdev.lock);
	return 0;
}

/*
 * After the transport's.  The guest is told at once that its connections
 * are gone (it sees the event when it runs), or at resume when the device
 * is paused.  A snapshot from before the port was saved has nothing more.
 */
static int vsock_restore(struct device *dev, struct state_reader *r)
{
	struct virtio_vsock *vs = dev->priv;
	u32 port = VSOCK_FIRST_LOCAL_PORT;

	if (r && r->off < r->len) {
		port = state_get_u32(r);
		if (state_check(r, port >= VSOCK_FIRST_LOCAL_PORT))
			return r->err;
	}
	pthread_mutex_lock(&vs->vdev.lock);
	vs->next_local_port = port;
	if (vs->quiesced)
		vs->owe_transport_reset = true;  /* sent at resume, when the guest runs again */
	else
		vsock_send_transport_reset(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
	return 0;
}

static void vsock_resume(struct device *dev)
{
	struct virtio_vsock *vs = dev->priv;

	pthread_mutex_lock(&vs->vdev.lock);
	vs->quiesced = false;
	if (vs->owe_transport_reset) {
		vs->owe_transport_reset = false;
		vsock_send_transport_reset(vs);
	}
	if (virtio_dev_running(&vs->vdev) && vs->vdev.vqs[VSOCK_TX_Q].size)
		virtio_vsock_serve(vs); /* and what the host sent meanwhile */
	virtio_vsock_expire(vs, vsock_now_ns()); /* deadlines that passed while paused */
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void vsock_destroy(struct device *dev)
{
	virtio_vsock_close(dev->priv);
}

static void vsock_stats(const struct device *dev)
{
	const struct virtio_vsock *vs = dev->priv;

	pr_info("virtio-vsock: %u connections open, %lu bad packets, %lu resets for strays",
		vs->nr_conns, vs->bad_packets, vs->resets_sent);
}

/* vsock: kicks and failed activations come from the transport. */
static void vsock_metrics(struct device *dev, struct metrics_writer *w)
{
	struct virtio_vsock *vs = dev->priv;

	metric_set_total(&vs->metrics.rx_queue_event_count,
			 virtio_stat(&vs->vdev.stats.kicks[VSOCK_RX_Q]));
	metric_set_total(&vs->metrics.tx_queue_event_count,
			 virtio_stat(&vs->vdev.stats.kicks[VSOCK_TX_Q]));
	metric_set_total(&vs->metrics.activate_fails, virtio_stat(&vs->vdev.stats.activate_fails));
	metrics_put(w, &vsock_metrics_group, NULL, &vs->metrics);
}

const struct device_class virtio_vsock_class = {
	.name = "virtio-vsock",
	.count = vsock_count,
	.create = vsock_create,
	.quiesce = vsock_quiesce,
	.resume = vsock_resume,
	.save = vsock_save,
	.restore = vsock_restore,
	.destroy = vsock_destroy,
	.stats = vsock_stats,
	.metrics = vsock_metrics,
};
