/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FAKE_DRIVER_H
#define ARKVM_FAKE_DRIVER_H

/*
 * The guest side of a split virtqueue, for tests: fake guest RAM from
 * malloc, rings laid out in it, and helpers to post chains and read
 * back the used ring, the way a virtio driver would.
 */
#include <linux/virtio_ring.h>

#include "guest_mem.h"
#include "virtio_mmio.h"
#include "virtqueue.h"

#define FAKE_RAM_BASE 0x80000000ULL
#define FAKE_RAM_SIZE (1024 * 1024)

/* Ring addresses in fake RAM; buffers go from FAKE_BUF on. */
#define FAKE_DESC  (FAKE_RAM_BASE + 0x0000)
#define FAKE_AVAIL (FAKE_RAM_BASE + 0x1000)
#define FAKE_USED  (FAKE_RAM_BASE + 0x2000)
#define FAKE_INDIRECT (FAKE_RAM_BASE + 0x3000)
#define FAKE_BUF   (FAKE_RAM_BASE + 0x10000)

struct fake_seg {
	u64 gpa;
	u32 len;
	bool write;
};

struct fake_driver {
	struct guest_mem mem;
	u8 *ram;
	bool shares_ram;     /* a second queue's driver: the first owns the RAM */
	u64 ring;            /* descriptor table; avail at +0x1000, used at +0x2000 */
	u16 size;
	u16 avail_idx;       /* driver's next avail index */
	u16 next_desc;       /* next free descriptor slot */
	u16 used_seen;
};

void fake_driver_init(struct fake_driver *d, u16 size);
void fake_driver_free(struct fake_driver *d);
/* A driver for another queue of the same device, its rings at @ring in @first's RAM. */
void fake_driver_init_queue(struct fake_driver *d, const struct fake_driver *first, u64 ring,
			    u16 size);
void *fake_hva(struct fake_driver *d, u64 gpa);

/* Posts a chain in the descriptor table (or, with @indirect, in a table of its own). */
u16 fake_post(struct fake_driver *d, const struct fake_seg *segs, unsigned int n, bool indirect);
/* Writes a raw descriptor at slot @i. */
void fake_desc(struct fake_driver *d, u16 i, u64 addr, u32 len, u16 flags, u16 next);
/* Makes descriptor @head available. */
void fake_avail(struct fake_driver *d, u16 head);
/* Takes the next used element: true with id and len, false when none. */
bool fake_used(struct fake_driver *d, u32 *id, u32 *len);
void fake_set_used_event(struct fake_driver *d, u16 v);
u16 fake_avail_event(struct fake_driver *d);

/*
 * Brings queue 0 of @dev up through its registers the way Linux's
 * virtio_mmio driver does, accepting VERSION_1 and @features.
 */
void fake_bring_up(struct virtio_dev *dev, u64 desc, u64 features);
/* The same for a device with one queue per driver in @q (queue i driven by q[i]). */
void fake_bring_up_queues(struct virtio_dev *dev, u64 features, struct fake_driver *const *q,
			  unsigned int n);

#endif
