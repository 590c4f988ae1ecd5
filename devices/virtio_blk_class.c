// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk in the device registry: one disk per --disk (or API drive),
 * in order, so the first is vda; the same image is never opened twice; a
 * PATCH swaps the image or its limits (devices/virtio_blk.c does the work).
 * An ephemeral disk goes into a snapshot only while the guest has not
 * written it: it is then nothing but a fresh overlay over its image, which
 * a restore makes again (its overlay has no name a restore could find).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "device.h"
#include "log.h"
#include "metrics.h"
#include "virtio_devices.h"

struct blk_device {
	struct virtio_blk blk;
	struct stat st;             /* the image, to tell it from the other disks' */
	bool has_st;
	char path[CFG_MAX_PATH + 1];  /* the image open now (an update may change it) */
	bool ephemeral;             /* the disk open now is an overlay deleted at exit */
};

static unsigned int blk_count(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

/*
 * One image under two names (a link, a relative path) would be opened
 * twice: say so, rather than report the second open's lock as another
 * process's.
 */
static int blk_check_distinct(struct device_host *host, unsigned int index,
			      struct blk_device *bd)
{
	const struct disk_config *cfg = host->cfg->disks;

	bd->has_st = !stat(cfg[index].path, &bd->st); /* else opening it will say why */
	for (unsigned int i = 0; bd->has_st && i < index; i++) {
		struct device *other = host->find(host, &virtio_blk_class, i);
		const struct blk_device *o = other ? other->priv : NULL;

		if (o && o->has_st && o->st.st_dev == bd->st.st_dev && o->st.st_ino == bd->st.st_ino) {
			pr_err("--disk '%s' is the same file as --disk '%s'", cfg[index].path,
			       cfg[i].path);
			return -EINVAL;
		}
	}
	return 0;
}

static int blk_create(struct device *dev, struct device_host *host, unsigned int index)
{
	const struct disk_config *cfg = &host->cfg->disks[index];
	struct blk_device *bd = device_alloc_priv(dev, sizeof(*bd));
	int ret;

	if (!bd)
		return -ENOMEM;
	dev->id = cfg->id;
	ret = blk_check_distinct(host, index, bd);
	if (!ret)
		ret = virtio_blk_open(&bd->blk, cfg, index, host->mem, host->io_loop);
	if (ret)
		return ret;
	dev->vdev = &bd->blk.vdev;
	memcpy(bd->path, cfg->path, sizeof(bd->path));
	bd->ephemeral = cfg->ephemeral;
	return 0;
}

/* PATCH /drives/{id}, every other thread held (lifecycle.c): another image, other limits. */
static int blk_update(struct device *dev, const void *new_cfg)
{
	const struct disk_config *cfg = new_cfg;
	struct blk_device *bd = dev->priv;
	int ret;

	if (strcmp(cfg->path, bd->path)) {
		ret = virtio_blk_replace_disk(&bd->blk, cfg);
		if (ret)
			return ret;
		memcpy(bd->path, cfg->path, sizeof(bd->path));
		bd->has_st = !stat(cfg->path, &bd->st);
		bd->ephemeral = cfg->ephemeral;
	}
	virtio_blk_set_limits(&bd->blk, &cfg->rl);
	return 0;
}

static int blk_dev_quiesce(struct device *dev)
{
	return virtio_blk_quiesce(&((struct blk_device *)dev->priv)->blk);
}

static void blk_dev_resume(struct device *dev)
{
	virtio_blk_resume(&((struct blk_device *)dev->priv)->blk);
}

/* Paused (the I/O thread parked): the disk's flag is still. */
static int blk_can_save(const struct device *dev, char *why, size_t len)
{
	const struct blk_device *bd = dev->priv;

	if (!bd->ephemeral || !bd->blk.disk->written)
		return 0;
	snprintf(why, len, "the guest has written to the ephemeral disk '%s': its overlay cannot "
		 "be saved", dev->id);
	return -EBUSY;
}

static void blk_destroy(struct device *dev)
{
	virtio_blk_close(&((struct blk_device *)dev->priv)->blk);
}

/* block_<drive id>, and into block; kicks and failed activations come from the transport. */
static void blk_metrics(struct device *dev, struct metrics_writer *w)
{
	struct virtio_blk *b = &((struct blk_device *)dev->priv)->blk;

	metric_set_total(&b->metrics.queue_event_count, virtio_stat(&b->vdev.stats.kicks[0]));
	metric_set_total(&b->metrics.activate_fails, virtio_stat(&b->vdev.stats.activate_fails));
	metrics_put(w, &block_metrics_group, dev->id, &b->metrics);
}

const struct device_class virtio_blk_class = {
	.name = "virtio-blk",
	.count = blk_count,
	.create = blk_create,
	.quiesce = blk_dev_quiesce,
	.resume = blk_dev_resume,
	.can_save = blk_can_save,
	.update = blk_update,
	.destroy = blk_destroy,
	.metrics = blk_metrics,
};
