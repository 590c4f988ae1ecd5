// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-mmio transport, version 2 only (virtio 1.x, little-endian,
 * no legacy interface).  Every register the guest can write is checked
 * here, so device models only ever see a negotiated, validated device.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <unistd.h>

#include "fdt_build.h"
#include "log.h"
#include "virtio_mmio.h"

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION_2 2
#define VIRTIO_VENDOR_ID    0x4b52414e /* "NARK": arkvm's own */

/* Features the transport implements for every device. */
#define TRANSPORT_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | \
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			    (1ULL << VIRTIO_RING_F_EVENT_IDX))

void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		     const char *name, u32 device_id, unsigned int nr_queues, u16 queue_max,
		     const struct guest_mem *mem)
{
	dev->ops = ops;
	dev->name = name;
	dev->device_id = device_id;
	dev->nr_queues = MIN(nr_queues, (unsigned int)VIRTIO_MAX_QUEUES);
	dev->queue_max = MIN(queue_max, (u16)VIRTQ_MAX_SIZE);
	dev->mem = mem;
	pthread_mutex_init(&dev->lock, NULL);
	atomic_init(&dev->isr, 0);
	atomic_init(&dev->isr_sticky, 0);
	atomic_init(&dev->config_generation, 0);
	dev->wiring.irq_fd = -1;
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return dev->accepted & (1ULL << bit);
}

static void stat_add(atomic_ulong *counter, unsigned long n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

unsigned long virtio_stats_kicks(const struct virtio_stats *st)
{
	unsigned long n = 0;

	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n += atomic_load(&st->kicks[q]);
	return n;
}

static void virtio_dev_interrupt(struct virtio_dev *dev, unsigned int why)
{
	stat_add(&dev->stats.interrupts, 1);
	atomic_fetch_or(&dev->isr, why);
	dev->interrupt(dev->interrupt_opaque);
}

void virtio_dev_notify_used(struct virtio_dev *dev, unsigned int q)
{
	stat_add(&dev->stats.used, dev->vqs[q].pushed);
	dev->vqs[q].pushed = 0;
	if (virtq_should_notify(&dev->vqs[q]))
		virtio_dev_interrupt(dev, VIRTIO_ISR_USED);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
	atomic_fetch_add(&dev->config_generation, 1);
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_dev_interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *dev, const char *why, int err)
{
	pr_warn_ratelimited("%s: %s (%s): device needs reset", dev->name, why, strerror(-err));
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	dev->generation++;
	/* Queues stop until the driver resets the device. */
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		virtq_reset(&dev->vqs[i]);
	virtio_dev_interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	if ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && dev->ops->reset)
		dev->ops->reset(dev);
	dev->status = 0;
	dev->generation++;
	dev->accepted = 0;
	dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
	atomic_store(&dev->isr, 0);
	memset(dev->qregs, 0, sizeof(dev->qregs));
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		virtq_reset(&dev->vqs[i]);
}

bool virtio_dev_running(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(dev->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED));
}

void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	if (q < VIRTIO_MAX_QUEUES)
		stat_add(&dev->stats.kicks[q], 1);
	pthread_mutex_lock(&dev->lock);
	if (q < dev->nr_queues && virtio_dev_running(dev) && dev->vqs[q].size)
		dev->ops->queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * Comes back to queue @q later, after the I/O thread's other work: a kick
 * of its own ioeventfd.  Without the KVM wiring (tests) the guest's next
 * kick does it.
 */
static void virtio_dev_kick_later(struct virtio_dev *dev, unsigned int q)
{
	const struct event_source *kick = dev->wiring.kick[q];
	u64 one = 1;

	/* Only fails if the counter would overflow, and then a kick is pending anyway. */
	if (kick && write(kick->fd, &one, sizeof(one)) < 0)
		return;
}

void virtio_dev_serve_queue(struct virtio_dev *dev, unsigned int q, struct virtq_chain *c,
			    virtio_serve_fn serve)
{
	struct virtq *vq = &dev->vqs[q];
	u32 generation = dev->generation;
	unsigned int budget = VIRTIO_SERVE_BUDGET;
	u32 written;
	int ret = 0;

	do {
		/*
		 * A driver that keeps adding (or rings laid over each other, whose
		 * used entries read as new available ones) must not hold the thread
		 * for good: past the budget the queue yields and comes back later.
		 */
		if (!budget) {
			virtio_dev_kick_later(dev, q);
			return;
		}
		while (budget && (ret = virtq_pop(vq, c)) > 0) {
			budget--;
			/* The chain is checked and ours: serve it without the lock. */
			c->generation = generation;
			pthread_mutex_unlock(&dev->lock);
			ret = serve(dev, c, &written);
			pthread_mutex_lock(&dev->lock);
			if (dev->generation != generation)
				return; /* reset meanwhile: the rings are gone */
			if (ret < 0)
				break;
			if (ret == 0)
				virtq_push(vq, c->head, written);
			if (ret == VIRTIO_SERVE_LATER) {
				virtq_unpop(vq);
				virtio_dev_notify_used(dev, q);
				return;
			}
		}
		if (ret < 0) {
			virtio_dev_fail(dev, "malformed request", ret);
			return;
		}
		virtio_dev_notify_used(dev, q);
	} while (!budget || virtq_enable_notify(vq));
}

static int virtio_features_ok(struct virtio_dev *dev)
{
	/* Anything the driver accepted that we did not offer was masked on write. */
	if (!virtio_dev_has_feature(dev, VIRTIO_F_VERSION_1))
		return -EINVAL; /* a legacy driver: not supported */
	return dev->ops->ack_features ? dev->ops->ack_features(dev, dev->accepted) : 0;
}

static int virtio_activate(struct virtio_dev *dev)
{
	bool event_idx = virtio_dev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);

	dev->generation++;
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		const struct virtio_queue_regs *r = &dev->qregs[i];
		int ret;

		if (!r->ready)
			continue;
		ret = virtq_activate(&dev->vqs[i], dev->mem, r->num, dev->queue_max,
				     r->desc, r->driver, r->device, event_idx);
		if (ret)
			return ret;
	}
	return dev->ops->activate ? dev->ops->activate(dev) : 0;
}

/* The one bit the driver may add next: bring-up goes in this order only. */
static u32 virtio_next_status_bit(u32 status)
{
	static const u32 order[] = {
		VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER,
		VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_DRIVER_OK,
	};

	if (status & VIRTIO_CONFIG_S_FAILED)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (!(status & order[i]))
			return order[i];
	return 0;
}

/*
 * The status state machine: the driver may add the next bring-up bit,
 * set FAILED at any time, or write 0 to reset.  Anything else is refused.
 */
static void virtio_write_status(struct virtio_dev *dev, u32 val)
{
	u32 added = val & ~dev->status;
	int ret;

	if (val == 0) {
		virtio_dev_reset(dev);
		return;
	}
	if (val != (dev->status | added) ||
	    (added != VIRTIO_CONFIG_S_FAILED && added != virtio_next_status_bit(dev->status)) ||
	    !added) {
		pr_warn_ratelimited("%s: status 0x%x -> 0x%x refused", dev->name, dev->status, val);
		return;
	}
	if (added == VIRTIO_CONFIG_S_FEATURES_OK && virtio_features_ok(dev))
		return; /* FEATURES_OK stays clear: the driver reads it back */
	dev->status = val;
	if (added == VIRTIO_CONFIG_S_DRIVER_OK) {
		ret = virtio_activate(dev);
		if (ret) {
			stat_add(&dev->stats.activate_fails, 1);
			virtio_dev_fail(dev, "queue setup rejected", ret);
		}
	}
}

static struct virtio_queue_regs *virtio_sel_queue(struct virtio_dev *dev)
{
	return dev->queue_sel < dev->nr_queues ? &dev->qregs[dev->queue_sel] : NULL;
}

/* Queue registers may change only between FEATURES_OK and DRIVER_OK, while not ready. */
static struct virtio_queue_regs *virtio_writable_queue(struct virtio_dev *dev)
{
	struct virtio_queue_regs *r = virtio_sel_queue(dev);

	if (!r || r->ready || (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    !(dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return NULL;
	return r;
}

static void set_lo(u64 *reg, u32 v)
{
	*reg = (*reg & 0xffffffff00000000ULL) | v;
}

static void set_hi(u64 *reg, u32 v)
{
	*reg = (*reg & 0xffffffffULL) | (u64)v << 32;
}

/* What the device offers; asked once, when the driver first looks. */
u64 virtio_dev_offered(struct virtio_dev *dev)
{
	if (!dev->offered)
		dev->offered = TRANSPORT_FEATURES | dev->ops->features(dev);
	return dev->offered;
}

static u32 virtio_read_reg(struct virtio_dev *dev, u64 off)
{
	const struct virtio_queue_regs *r = virtio_sel_queue(dev);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (dev->device_features_sel > 1)
			return 0;
		return (u32)(virtio_dev_offered(dev) >> (32 * dev->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return r ? dev->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return r ? r->ready : 0;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return atomic_load(&dev->config_generation);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* No shared memory region, whichever SHMSel names: a length of ~0. */
		return 0xffffffff;
	default:
		return 0;
	}
}

static void virtio_write_reg(struct virtio_dev *dev, u64 off, u32 val)
{
	struct virtio_queue_regs *r;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->device_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Only before FEATURES_OK, only the two defined words, only what was offered. */
		if (dev->driver_features_sel > 1 || (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) ||
		    !(dev->status & VIRTIO_CONFIG_S_DRIVER))
			return;
		if (dev->driver_features_sel)
			set_hi(&dev->accepted, val);
		else
			set_lo(&dev->accepted, val);
		dev->accepted &= virtio_dev_offered(dev);
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_write_status(dev, val);
		return;
	}

	r = virtio_writable_queue(dev);
	if (!r)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		r->num = (u16)MIN(val, 0xffffu); /* checked against the maximum at activation */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		r->ready = val & 1;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_lo(&r->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_hi(&r->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		set_lo(&r->driver, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_hi(&r->driver, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		set_lo(&r->device, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_hi(&r->device, val);
		break;
	}
}

static u64 virtio_mmio_read(void *opaque, u64 off, u32 size)
{
	struct virtio_dev *dev = opaque;
	u64 val = 0;

	stat_add(&dev->stats.mmio, 1);

	if (off >= VIRTIO_MMIO_CONFIG) {
		u64 coff = off - VIRTIO_MMIO_CONFIG;

		pthread_mutex_lock(&dev->lock);
		if (coff < dev->config_len && size <= dev->config_len - coff)
			memcpy(&val, (const u8 *)dev->config + coff, size); /* LE host */
		pthread_mutex_unlock(&dev->lock);
		return val;
	}
	if (size != 4 || off & 3)
		return 0;
	/* The guest's interrupt handler reads this one: it must never wait. */
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS)
		return atomic_load(&dev->isr) | atomic_load(&dev->isr_sticky);
	pthread_mutex_lock(&dev->lock);
	val = virtio_read_reg(dev, off);
	pthread_mutex_unlock(&dev->lock);
	return val;
}

static void virtio_mmio_write(void *opaque, u64 off, u64 val, u32 size)
{
	struct virtio_dev *dev = opaque;

	stat_add(&dev->stats.mmio, 1);

	if (off >= VIRTIO_MMIO_CONFIG) {
		u64 coff = off - VIRTIO_MMIO_CONFIG;

		pthread_mutex_lock(&dev->lock);
		if (dev->ops->cfg_write && coff < dev->config_len && size <= dev->config_len - coff)
			dev->ops->cfg_write(dev, (u32)coff, &val, size);
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	if (size != 4 || off & 3)
		return;
	if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
		atomic_fetch_and(&dev->isr, ~(u32)val);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* Only unit tests kick through here; see kicks_by_eventfd. */
		if (!dev->kicks_by_eventfd)
			virtio_dev_queue_notify(dev, (u32)val);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	virtio_write_reg(dev, off, (u32)val);
	pthread_mutex_unlock(&dev->lock);
}

static void virtio_mmio_fdt_node(void *opaque, struct fdt_writer *w, u64 base, u64 len)
{
	struct virtio_dev *dev = opaque;

	fdt_w_begin_mmio_node(w, "virtio_mmio", base, len, "virtio,mmio");
	fdt_w_prop_spi(w, dev->intid, FDT_IRQ_TYPE_EDGE_RISING);
	fdt_w_prop_empty(w, "dma-coherent");
	fdt_w_end_node(w);
}

const struct mmio_ops virtio_mmio_ops = {
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
	.fdt_node = virtio_mmio_fdt_node,
};
