/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTQUEUE_H
#define ARKVM_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "compiler.h"
#include "guest_mem.h"

/*
 * The largest queue arkvm offers (QueueNumMax), and so the longest chain
 * (the spec bounds a chain by the queue size, indirect ones included).
 * virtio-blk's queue is this long so that a 1 MiB request over 256
 * scattered pages fits in one chain; the other devices offer 256.
 */
#define VIRTQ_MAX_SIZE 1024

/*
 * The device side of a split virtqueue (virtio 1.x, 2.7).  All ring
 * pointers are host addresses checked once, at activation, to lie wholly
 * in guest RAM; nothing is re-derived from guest values after that.
 */
struct virtq {
	const struct guest_mem *mem;
	u16 size;
	bool event_idx;               /* VIRTIO_RING_F_EVENT_IDX negotiated */

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__virtio16 *used_event;       /* after avail->ring[size]: driver's wish */
	__virtio16 *avail_event;      /* after used->ring[size]: ours */
	u64 used_gpa, used_len;       /* what pushing writes: dirty for diff snapshots */

	u16 last_avail;               /* next avail ring entry to take */
	u16 used_idx;                 /* our copy of used->idx */
	u16 signalled_used;           /* used_idx at the last interrupt */
	bool signalled_used_valid;
	u32 pushed;                   /* used entries not yet counted in stats */
};

/*
 * A descriptor chain walked once, up front: readable (driver-to-device)
 * segments first, then writable ones, each checked against guest RAM.
 */
struct virtq_chain {
	u16 head;
	u32 generation;               /* the device's when taken (virtio_dev_serve_queue) */
	unsigned int nr_out;          /* readable segments: iov[0 .. nr_out) */
	unsigned int nr_in;           /* writable segments follow them */
	u64 out_len, in_len;          /* total bytes of each kind */
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/*
 * Checks and maps a ring: @size a power of two no larger than @max_size,
 * each ring aligned as the spec says and wholly inside guest RAM.
 * Returns 0 or -EINVAL / -EFAULT.
 */
int virtq_activate(struct virtq *q, const struct guest_mem *mem, u16 size, u16 max_size,
		   u64 desc_gpa, u64 avail_gpa, u64 used_gpa, bool event_idx);
void virtq_reset(struct virtq *q);

/*
 * Takes the next available chain: 1 with @c filled, 0 when the ring is
 * empty, -EINVAL for a malformed chain or ring, -ELOOP for a chain longer
 * than the queue, -EFAULT for a buffer outside guest RAM.  A negative
 * return means the driver is broken: the caller marks the device
 * DEVICE_NEEDS_RESET.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/*
 * Gives back the chain the last virtq_pop() took, untouched, for a device
 * that may not serve it yet (rate limited): the next pop takes it again,
 * walked and checked anew.
 */
void virtq_unpop(struct virtq *q);

/* Returns a chain to the driver with @len bytes written into it. */
void virtq_push(struct virtq *q, u16 head, u32 len);

/* After pushing: does the driver want an interrupt (EVENT_IDX or flags)? */
bool virtq_should_notify(struct virtq *q);

/*
 * Before sleeping: tells the driver which avail index to kick at (EVENT_IDX)
 * and returns true when more chains arrived meanwhile.
 */
bool virtq_enable_notify(struct virtq *q);
/* Whether the driver has made chains available that were not taken yet. */
bool virtq_has_avail(const struct virtq *q);

/* Copy between a segment list and a buffer, from byte @off; return bytes copied. */
u64 iov_copy_from(const struct iovec *iov, unsigned int n, u64 off, void *buf, u64 len);
u64 iov_copy_to(const struct iovec *iov, unsigned int n, u64 off, const void *buf, u64 len);

/*
 * Drops the first @done bytes of the segments at *@iov (for a short
 * readv/writev): moves *@iov past the finished ones, trims the next, and
 * returns how many are left of @n.
 */
unsigned int iov_advance(struct iovec **iov, unsigned int n, size_t done);

/* Copy out of the readable / into the writable segments, from byte @off. */
u64 virtq_chain_read(const struct virtq_chain *c, u64 off, void *buf, u64 len);
u64 virtq_chain_write(const struct virtq_chain *c, u64 off, const void *buf, u64 len);

#endif
