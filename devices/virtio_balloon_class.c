// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon as a device of the registry (devices/virtio_balloon.c is
 * the device itself): made from --balloon (or, through the lead's API,
 * PUT /balloon), changed by PATCH through the update op, paused, saved.
 */
#include <errno.h>
#include <unistd.h>

#include "host_pages.h"
#include "device.h"
#include "log.h"
#include "virtio_balloon.h"
#include "vm.h"

static unsigned int balloon_count(const struct vm_config *cfg)
{
	return cfg->balloon.enabled;
}

static int balloon_create(struct device *dev, struct device_host *host,
			  unsigned int index __unused)
{
	struct virtio_balloon *b = device_alloc_priv(dev, sizeof(*b));
	/* What madvise drops whole: hugetlb RAM only in whole huge pages. */
	u64 align = host->cfg->hugepages ? host_hugepage_size() : host_page_size();
	int ret;

	if (!b)
		return -ENOMEM;
	ret = virtio_balloon_init(b, &host->cfg->balloon, align, host->mem, host->io_loop);
	if (ret)
		return ret;
	dev->vdev = &b->vdev;
	return 0;
}

struct virtio_balloon *virtio_balloon_of(struct device *dev)
{
	return dev && dev->cls == &virtio_balloon_class ? dev->priv : NULL;
}

static int balloon_quiesce(struct device *dev)
{
	virtio_balloon_quiesce(dev->priv);
	return 0;
}

static void balloon_resume(struct device *dev)
{
	virtio_balloon_resume(dev->priv);
}

/* After the transport's (src/device_state.c), quiesced. */
static int balloon_save(struct device *dev, struct state_writer *w)
{
	return virtio_balloon_save(dev->priv, w);
}

static int balloon_restore(struct device *dev, struct state_reader *r)
{
	return virtio_balloon_restore(dev->priv, r);
}

/*
 * PATCH /balloon and /balloon/statistics (VM_CMD_UPDATE, main thread,
 * every other thread held): @new_cfg is a struct balloon_config with the
 * new amount_mib or stats_interval_s.  Checked whole first, so a refusal
 * changes nothing.
 */
static int balloon_update(struct device *dev, const void *new_cfg)
{
	struct virtio_balloon *b = dev->priv;
	const struct balloon_config *cfg = new_cfg;
	int ret = virtio_balloon_check_update(b, cfg);

	if (!ret)
		ret = virtio_balloon_set_stats_interval(b, cfg->stats_interval_s);
	if (!ret)
		ret = virtio_balloon_set_target(b, cfg->amount_mib);
	return ret;
}

static void balloon_destroy(struct device *dev)
{
	virtio_balloon_close(dev->priv);
}

static void balloon_stats(const struct device *dev)
{
	struct virtio_balloon *b = dev->priv;
	struct balloon_info info;

	virtio_balloon_get_info(b, &info);
	pr_info("virtio-balloon: target %uM, guest holds %uM; %llu pages inflated, %llu deflated, "
		"%llu MiB reported free, %llu MiB released",
		info.target_mib, info.actual_mib, atomic_load(&b->inflated_pages),
		atomic_load(&b->deflated_pages), atomic_load(&b->reported_bytes) >> 20,
		atomic_load(&b->released_bytes) >> 20);
}

/* balloon: its failed activations come from the transport. */
static void balloon_metrics(struct device *dev, struct metrics_writer *w)
{
	struct virtio_balloon *b = dev->priv;

	metric_set_total(&b->metrics.activate_fails, virtio_stat(&b->vdev.stats.activate_fails));
	metrics_put(w, &balloon_metrics_group, NULL, &b->metrics);
}

const struct device_class virtio_balloon_class = {
	.name = "virtio-balloon",
	.count = balloon_count,
	.create = balloon_create,
	.quiesce = balloon_quiesce,
	.resume = balloon_resume,
	.save = balloon_save,
	.restore = balloon_restore,
	.update = balloon_update,
	.destroy = balloon_destroy,
	.stats = balloon_stats,
	.metrics = balloon_metrics,
};

struct virtio_balloon *vm_balloon(struct vm *vm)
{
	for (unsigned int i = 0; vm && i < vm->nr_devices; i++) {
		struct virtio_balloon *b = virtio_balloon_of(&vm->devices[i]);

		if (b)
			return b;
	}
	return NULL;
}
