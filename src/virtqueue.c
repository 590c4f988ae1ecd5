// SPDX-License-Identifier: Apache-2.0
/*
 * The split virtqueue, device side.  The guest can rewrite any ring byte
 * at any moment, so every descriptor is copied before it is checked and
 * used, and every index is bounded before it indexes anything.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtqueue.h"

/* The ring memory is shared with another CPU; plain loads could be torn or cached. */
#define READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static bool is_pow2(u32 x)
{
	return x && !(x & (x - 1));
}

int virtq_activate(struct virtq *q, const struct guest_mem *mem, u16 size, u16 max_size,
		   u64 desc_gpa, u64 avail_gpa, u64 used_gpa, bool event_idx)
{
	/* Sizes from the spec, 2.7: the trailing u16 is used_event / avail_event. */
	u64 desc_len = 16ULL * size;
	u64 avail_len = 6 + 2ULL * size;
	u64 used_len = 6 + 8ULL * size;

	virtq_reset(q);
	if (!is_pow2(size) || size > max_size || size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if (!IS_ALIGNED(desc_gpa, 16) || !IS_ALIGNED(avail_gpa, 2) || !IS_ALIGNED(used_gpa, 4))
		return -EINVAL;

	q->desc = gpa_to_hva(mem, desc_gpa, desc_len);
	q->avail = gpa_to_hva(mem, avail_gpa, avail_len);
	q->used = gpa_to_hva(mem, used_gpa, used_len);
	if (!q->desc || !q->avail || !q->used) {
		virtq_reset(q);
		return -EFAULT;
	}
	q->used_event = &q->avail->ring[size];
	q->avail_event = (__virtio16 *)(void *)&q->used->ring[size];
	q->mem = mem;
	q->size = size;
	q->event_idx = event_idx;
	q->used_gpa = used_gpa;
	q->used_len = used_len;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	*q = (struct virtq){ 0 };
}

/* Copies descriptor @i of @table: the guest may change it after we look. */
static struct vring_desc read_desc(const struct vring_desc *table, u32 i)
{
	struct vring_desc d;

	memcpy(&d, &table[i], sizeof(d));
	return (struct vring_desc){
		.addr = le64toh(d.addr),
		.len = le32toh(d.len),
		.flags = le16toh(d.flags),
		.next = le16toh(d.next),
	};
}

static int chain_add(const struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned int n = c->nr_out + c->nr_in;
	void *hva;

	if (!writable && c->nr_in)
		return -EINVAL; /* a readable segment after a writable one */
	if (!d->len)
		return 0;
	hva = gpa_to_hva(q->mem, d->addr, d->len);
	if (!hva)
		return -EFAULT;
	/* n < VIRTQ_MAX_SIZE: the caller stops before more than q->size. */
	c->iov[n] = (struct iovec){ .iov_base = hva, .iov_len = d->len };
	if (writable) {
		/* The device may write all of it: for diff snapshots, it is dirty. */
		guest_mem_mark_dirty(q->mem, d->addr, d->len);
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

static int virtq_walk(const struct virtq *q, struct virtq_chain *c)
{
	const struct vring_desc *table = q->desc;
	u32 table_size = q->size, i = c->head, count = 0;
	bool indirect = false;
	int ret;

	for (;;) {
		struct vring_desc d = read_desc(table, i);

		/* Every segment counts, so a loop ends at the queue size. */
		if (++count > q->size)
			return -ELOOP;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* One level only, never mixed with NEXT, whole descriptors only. */
			if (indirect || (d.flags & VRING_DESC_F_NEXT) || !d.len ||
			    d.len % sizeof(struct vring_desc))
				return -EINVAL;
			table = gpa_to_hva(q->mem, d.addr, d.len);
			if (!table)
				return -EFAULT;
			table_size = d.len / sizeof(struct vring_desc);
			indirect = true;
			i = 0;
			count--; /* the indirect descriptor itself holds no data */
			continue;
		}
		ret = chain_add(q, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		i = d.next;
		if (i >= table_size)
			return -EINVAL;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	u16 avail_idx, head;

	if (!q->size)
		return 0;
	avail_idx = le16toh(READ_ONCE(q->avail->idx));
	if (avail_idx == q->last_avail)
		return 0;
	if ((u16)(avail_idx - q->last_avail) > q->size)
		return -EINVAL; /* the driver claims more entries than the ring has */
	/* Read the ring entry only after seeing the index that covers it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	head = le16toh(READ_ONCE(q->avail->ring[q->last_avail & (q->size - 1)]));
	q->last_avail++;
	if (head >= q->size)
		return -EINVAL;

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	return virtq_walk(q, c);
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, u16 head, u32 len)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx & (q->size - 1)];

	WRITE_ONCE(e->id, htole32(head));
	WRITE_ONCE(e->len, htole32(len));
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	q->pushed++;
	WRITE_ONCE(q->used->idx, htole16(q->used_idx));
	guest_mem_mark_dirty(q->mem, q->used_gpa, q->used_len);
}

bool virtq_should_notify(struct virtq *q)
{
	u16 old, used_event;
	bool valid;

	/* Our used->idx store must be ordered before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(le16toh(READ_ONCE(q->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);

	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	used_event = le16toh(READ_ONCE(*q->used_event));
	return vring_need_event(used_event, q->used_idx, old);
}

bool virtq_has_avail(const struct virtq *q)
{
	return q->size && le16toh(READ_ONCE(q->avail->idx)) != q->last_avail;
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->size)
		return false;
	if (q->event_idx) {
		WRITE_ONCE(*q->avail_event, htole16(q->last_avail));
		guest_mem_mark_dirty(q->mem, q->used_gpa + q->used_len - 2, 2);
	}
	/* Publish avail_event before the final look at avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(READ_ONCE(q->avail->idx)) != q->last_avail;
}

static u64 iov_copy(const struct iovec *iov, unsigned int n, u64 off, void *buf, u64 len,
		    bool to_iov)
{
	u64 done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		u64 seg = iov[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = MIN(seg - off, len - done);
		if (to_iov)
			memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, chunk);
		else
			memcpy((char *)buf + done, (const char *)iov[i].iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

u64 iov_copy_from(const struct iovec *iov, unsigned int n, u64 off, void *buf, u64 len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

u64 iov_copy_to(const struct iovec *iov, unsigned int n, u64 off, const void *buf, u64 len)
{
	return iov_copy(iov, n, off, (void *)buf, len, true);
}

unsigned int iov_advance(struct iovec **iov, unsigned int n, size_t done)
{
	struct iovec *v = *iov;

	while (n && done >= v->iov_len) {
		done -= v->iov_len;
		v++;
		n--;
	}
	if (n) {
		v->iov_base = (char *)v->iov_base + done;
		v->iov_len -= done;
	}
	*iov = v;
	return n;
}

u64 virtq_chain_read(const struct virtq_chain *c, u64 off, void *buf, u64 len)
{
	return iov_copy_from(c->iov, c->nr_out, off, buf, len);
}

u64 virtq_chain_write(const struct virtq_chain *c, u64 off, const void *buf, u64 len)
{
	return iov_copy_to(c->iov + c->nr_out, c->nr_in, off, buf, len);
}
