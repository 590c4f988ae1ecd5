// SPDX-License-Identifier: Apache-2.0
/*
 * A virtio-mmio device's transport and queue state as bytes: everything
 * the driver set up through the registers, and where each ring stands.
 * A device model adds only what is its own (struct device_class save).
 *
 * Rings are saved as the guest-physical addresses the driver wrote, never
 * as host pointers: restore maps them again through virtq_activate(),
 * with the same checks as a DRIVER_OK, into whatever RAM this process has.
 */
#include <errno.h>
#include <linux/virtio_config.h>

#include "state.h"
#include "virtio_mmio.h"

#define VIRTIO_STATE_TAG     STATE_TAG('V', 'I', 'R', 'T')
#define VIRTIO_STATE_VERSION 1

/* Status bits a device can be in, and the order the first four come in. */
#define BRINGUP_BITS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
#define STATUS_BITS  (BRINGUP_BITS | VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)

static void save_queue(struct state_writer *w, const struct virtio_queue_regs *r,
		       const struct virtq *q)
{
	state_put_u16(w, r->num);
	state_put_u8(w, r->ready);
	state_put_u64(w, r->desc);
	state_put_u64(w, r->driver);
	state_put_u64(w, r->device);
	state_put_u16(w, q->last_avail);
	state_put_u16(w, q->used_idx);
	state_put_u16(w, q->signalled_used);
	state_put_u8(w, q->signalled_used_valid);
}

int virtio_dev_save(struct virtio_dev *dev, struct state_writer *w)
{
	size_t mark;

	pthread_mutex_lock(&dev->lock);
	state_begin(w, VIRTIO_STATE_TAG, &mark);
	state_put_u32(w, VIRTIO_STATE_VERSION);
	state_put_u32(w, dev->device_id);
	state_put_u32(w, dev->nr_queues);
	state_put_u32(w, dev->status);
	state_put_u64(w, dev->accepted);
	state_put_u32(w, dev->device_features_sel);
	state_put_u32(w, dev->driver_features_sel);
	state_put_u32(w, dev->queue_sel);
	state_put_u32(w, atomic_load(&dev->isr));
	state_put_u32(w, atomic_load(&dev->config_generation));
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		save_queue(w, &dev->qregs[i], &dev->vqs[i]);
	state_end(w, mark);
	pthread_mutex_unlock(&dev->lock);
	return w->err;
}

/* A status the bring-up could have reached: its bits in order, no gaps. */
static bool status_ok(u32 status)
{
	u32 bringup = status & BRINGUP_BITS;

	if (status & ~STATUS_BITS)
		return false;
	return bringup == 0 || bringup == VIRTIO_CONFIG_S_ACKNOWLEDGE ||
	       bringup == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER) ||
	       bringup == (BRINGUP_BITS & ~VIRTIO_CONFIG_S_DRIVER_OK) || bringup == BRINGUP_BITS;
}

struct saved_ring {
	u16 last_avail, used_idx, signalled_used;
	bool signalled_used_valid;
};

static void read_queue(struct state_reader *r, struct virtio_queue_regs *regs,
		       struct saved_ring *ring, u16 queue_max)
{
	regs->num = state_get_u16(r);
	regs->ready = state_get_u8(r);
	regs->desc = state_get_u64(r);
	regs->driver = state_get_u64(r);
	regs->device = state_get_u64(r);
	ring->last_avail = state_get_u16(r);
	ring->used_idx = state_get_u16(r);
	ring->signalled_used = state_get_u16(r);
	ring->signalled_used_valid = state_get_u8(r);
	state_check(r, regs->num <= queue_max);
}

/* With the registers in place: map the rings of a running device again. */
static int restore_rings(struct virtio_dev *dev, const struct saved_ring *rings)
{
	bool event_idx = virtio_dev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);

	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		const struct virtio_queue_regs *regs = &dev->qregs[i];
		struct virtq *q = &dev->vqs[i];
		int ret;

		if (!regs->ready)
			continue;
		ret = virtq_activate(q, dev->mem, regs->num, dev->queue_max, regs->desc,
				     regs->driver, regs->device, event_idx);
		if (ret)
			return ret;
		q->last_avail = rings[i].last_avail;
		q->used_idx = rings[i].used_idx;
		q->signalled_used = rings[i].signalled_used;
		q->signalled_used_valid = rings[i].signalled_used_valid;
	}
	return 0;
}

static int restore_locked(struct virtio_dev *dev, struct state_reader *r)
{
	struct saved_ring rings[VIRTIO_MAX_QUEUES];
	u64 offered = virtio_dev_offered(dev);
	u32 isr;
	int ret;

	state_check(r, state_get_u32(r) == VIRTIO_STATE_VERSION);
	state_check(r, state_get_u32(r) == dev->device_id);
	state_check(r, state_get_u32(r) == dev->nr_queues);
	dev->status = state_get_u32(r);
	dev->accepted = state_get_u64(r);
	dev->device_features_sel = state_get_u32(r);
	dev->driver_features_sel = state_get_u32(r);
	dev->queue_sel = state_get_u32(r);
	isr = state_get_u32(r);
	atomic_store(&dev->config_generation, state_get_u32(r));
	for (unsigned int i = 0; i < dev->nr_queues && !r->err; i++)
		read_queue(r, &dev->qregs[i], &rings[i], dev->queue_max);
	state_check(r, r->off == r->len);
	state_check(r, status_ok(dev->status));
	state_check(r, !(dev->accepted & ~offered));
	state_check(r, !(isr & ~(VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG)));
	if (r->err)
		return r->err;
	if ((dev->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !virtio_dev_has_feature(dev, VIRTIO_F_VERSION_1))
		return -EINVAL;
	atomic_store(&dev->isr, isr);
	dev->generation++;
	if (!virtio_dev_running(dev))
		return 0;
	ret = restore_rings(dev, rings);
	if (!ret && dev->ops->ack_features)
		ret = dev->ops->ack_features(dev, dev->accepted);
	if (!ret && dev->ops->activate)
		ret = dev->ops->activate(dev);
	return ret;
}

int virtio_dev_restore(struct virtio_dev *dev, struct state_reader *r)
{
	struct state_reader section;
	int ret = state_enter(r, VIRTIO_STATE_TAG, &section);

	if (ret)
		return ret;
	pthread_mutex_lock(&dev->lock);
	ret = restore_locked(dev, &section);
	if (ret)
		virtio_dev_reset(dev);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}
