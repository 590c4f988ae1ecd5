// SPDX-License-Identifier: Apache-2.0
/* virtio-rng: every writable buffer the guest posts is filled from getrandom(). */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <sys/random.h>

#include "device.h"
#include "log.h"
#include "virtio_devices.h"

#define RNG_QUEUE_SIZE 64

static u64 rng_features(struct virtio_dev *dev)
{
	return 0;
}

static int rng_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_rng *r = container_of(dev, struct virtio_rng, vdev);
	u64 done = 0;

	for (unsigned int i = c->nr_out; i < c->nr_out + c->nr_in; i++) {
		ssize_t got = getrandom(c->iov[i].iov_base, c->iov[i].iov_len, 0);

		if (got < 0)
			metric_inc(&r->metrics.host_rng_fails);
		if (got <= 0)
			break;
		done += (u64)got;
		if ((size_t)got < c->iov[i].iov_len)
			break; /* the rest next time */
	}
	*written = (u32)MIN(done, (u64)UINT32_MAX);
	metric_add(&r->metrics.entropy_bytes, *written);
	return 0;
}

static void rng_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_rng *r = container_of(dev, struct virtio_rng, vdev);

	virtio_dev_serve_queue(dev, q, &r->chain, rng_serve);
}

static const struct virtio_dev_ops virtio_rng_ops = {
	.features = rng_features,
	.queue_notify = rng_queue_notify,
};

void virtio_rng_init(struct virtio_rng *r, const struct guest_mem *mem)
{
	virtio_dev_init(&r->vdev, &virtio_rng_ops, "virtio-rng", VIRTIO_ID_RNG, 1,
			RNG_QUEUE_SIZE, mem);
}

/*
 * The device class: every VM has one.  The smallest example of a device in
 * the registry: it allocates its state and becomes a virtio device; its
 * slot, transport state, stats and teardown come generically.
 */
static int rng_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	struct virtio_rng *r = device_alloc_priv(dev, sizeof(*r));

	if (!r)
		return -ENOMEM;
	virtio_rng_init(r, host->mem);
	dev->vdev = &r->vdev;
	return 0;
}

/* entropy: its kicks and failed activations come from the transport. */
static void rng_metrics(struct device *dev, struct metrics_writer *w)
{
	struct virtio_rng *r = dev->priv;

	metric_set_total(&r->metrics.entropy_event_count, virtio_stat(&r->vdev.stats.kicks[0]));
	metric_set_total(&r->metrics.activate_fails, virtio_stat(&r->vdev.stats.activate_fails));
	metrics_put(w, &entropy_metrics_group, NULL, &r->metrics);
}

const struct device_class virtio_rng_class = {
	.name = "virtio-rng",
	.create = rng_create,
	.metrics = rng_metrics,
};
