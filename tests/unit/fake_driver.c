// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "fake_driver.h"

void fake_driver_init(struct fake_driver *d, u16 size)
{
	memset(d, 0, sizeof(*d));
	d->ram = calloc(1, FAKE_RAM_SIZE);
	d->size = size;
	d->ring = FAKE_DESC;
	guest_mem_add(&d->mem, FAKE_RAM_BASE, FAKE_RAM_SIZE, d->ram);
}

void fake_driver_init_queue(struct fake_driver *d, const struct fake_driver *first, u64 ring,
			    u16 size)
{
	memset(d, 0, sizeof(*d));
	d->ram = first->ram;
	d->mem = first->mem;
	d->shares_ram = true;
	d->size = size;
	d->ring = ring;
}

void fake_driver_free(struct fake_driver *d)
{
	if (!d->shares_ram)
		free(d->ram);
}

void *fake_hva(struct fake_driver *d, u64 gpa)
{
	return d->ram + (gpa - FAKE_RAM_BASE);
}

/* The rings as Linux lays them out: avail after the table, used on the next page. */
static u64 avail_gpa(const struct fake_driver *d)
{
	return d->ring + (d->size > 256 ? 16ULL * d->size : 0x1000);
}

static u64 used_gpa(const struct fake_driver *d)
{
	return avail_gpa(d) + ((6 + 2ULL * d->size + 0xfff) & ~0xfffULL);
}

static void put_desc(struct vring_desc *t, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
	t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

void fake_desc(struct fake_driver *d, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
	put_desc(fake_hva(d, d->ring), i, addr, len, flags, next);
}

u16 fake_post(struct fake_driver *d, const struct fake_seg *segs, unsigned int n, bool indirect)
{
	struct vring_desc *table = fake_hva(d, indirect ? FAKE_INDIRECT : d->ring);
	u16 head = d->next_desc, base = indirect ? 0 : head;

	for (unsigned int i = 0; i < n; i++) {
		u16 flags = (segs[i].write ? VRING_DESC_F_WRITE : 0) |
			    (i + 1 < n ? VRING_DESC_F_NEXT : 0);

		put_desc(table, (u16)((base + i) % (indirect ? 0xffff : d->size)), segs[i].gpa,
			 segs[i].len, flags, (u16)((base + i + 1) % (indirect ? 0xffff : d->size)));
	}
	if (indirect) {
		fake_desc(d, head, FAKE_INDIRECT, n * 16, VRING_DESC_F_INDIRECT, 0);
		d->next_desc = (u16)((head + 1) % d->size);
	} else {
		d->next_desc = (u16)((head + n) % d->size);
	}
	fake_avail(d, head);
	return head;
}

void fake_avail(struct fake_driver *d, u16 head)
{
	struct vring_avail *avail = fake_hva(d, avail_gpa(d));

	avail->ring[d->avail_idx % d->size] = head;
	d->avail_idx++;
	__atomic_store_n(&avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

bool fake_used(struct fake_driver *d, u32 *id, u32 *len)
{
	struct vring_used *used = fake_hva(d, used_gpa(d));

	if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == d->used_seen)
		return false;
	*id = used->ring[d->used_seen % d->size].id;
	*len = used->ring[d->used_seen % d->size].len;
	d->used_seen++;
	return true;
}

void fake_set_used_event(struct fake_driver *d, u16 v)
{
	struct vring_avail *avail = fake_hva(d, avail_gpa(d));

	avail->ring[d->size] = v;
}

u16 fake_avail_event(struct fake_driver *d)
{
	struct vring_used *used = fake_hva(d, used_gpa(d));

	return *(u16 *)&used->ring[d->size];
}

static void reg_write(struct virtio_dev *dev, u64 off, u32 v)
{
	virtio_mmio_ops.write(dev, off, v, 4);
}

static void fake_negotiate(struct virtio_dev *dev, u64 features)
{
	features |= 1ULL << VIRTIO_F_VERSION_1;
	reg_write(dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	reg_write(dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(features >> 32));
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)features);
	reg_write(dev, VIRTIO_MMIO_STATUS, 0x0b);
}

static void fake_queue(struct virtio_dev *dev, unsigned int q, u16 size, u64 desc, u64 avail,
		       u64 used)
{
	reg_write(dev, VIRTIO_MMIO_QUEUE_SEL, q);
	reg_write(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	reg_write(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)desc);
	reg_write(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(desc >> 32));
	reg_write(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (u32)avail);
	reg_write(dev, VIRTIO_MMIO_QUEUE_USED_LOW, (u32)used);
	reg_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
}

void fake_bring_up(struct virtio_dev *dev, u64 desc, u64 features)
{
	fake_negotiate(dev, features);
	fake_queue(dev, 0, 8, desc, FAKE_AVAIL, FAKE_USED);
	reg_write(dev, VIRTIO_MMIO_STATUS, 0x0f);
}

void fake_bring_up_queues(struct virtio_dev *dev, u64 features, struct fake_driver *const *q,
			  unsigned int n)
{
	fake_negotiate(dev, features);
	for (unsigned int i = 0; i < n; i++)
		fake_queue(dev, i, q[i]->size, q[i]->ring, avail_gpa(q[i]), used_gpa(q[i]));
	reg_write(dev, VIRTIO_MMIO_STATUS, 0x0f);
}
