// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2's refcounts and allocation, and every write the backend makes to
 * the image file.
 *
 * New clusters come from the end of the file, so they never hold anything
 * the image uses.  Each is counted before anything points at it: killed at
 * any point, the image holds at worst a cluster counted but not used, a
 * leak, which qemu-img check reports as such and not as corruption.
 *
 * When the end of the file moves past what the refcount table covers, the
 * table grows: a bigger one, and the refcount blocks it needs, are written
 * past the end, made durable, and only then does the header point at them
 * (one 12-byte write).  Killed before, the old table still describes the
 * whole image; after, the old table's clusters are at worst leaked.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "file.h"
#include "log.h"
#include "virtqueue.h"

/* Refcount table growth: at most this many passes to size the table and its blocks. */
#define GROW_PASSES 16

static struct qcow2 *to_qcow2(struct disk *d)
{
	return container_of(d, struct qcow2, disk);
}

void qcow2_test_exit_after(struct disk *d, u64 n)
{
	struct qcow2 *q = to_qcow2(d);

	q->exit_after = n ? q->nr_writes + n : 0;
}

u64 qcow2_test_writes(struct disk *d)
{
	return to_qcow2(d)->nr_writes;
}

static void counted(struct qcow2 *q)
{
	if (++q->nr_writes == q->exit_after)
		_exit(0);
}

int qcow2_pwrite(struct qcow2 *q, const void *buf, u64 len, u64 off)
{
	int ret = pwrite_full(q->fd, buf, len, off);

	if (ret)
		return ret;
	q->file_size = MAX(q->file_size, off + len);
	counted(q);
	return 0;
}

int qcow2_pwritev(struct qcow2 *q, struct iovec *iov, unsigned int n, u64 len, u64 off)
{
	u64 end = off + len;

	while (len) {
		ssize_t k = pwritev(q->fd, iov, (int)MIN(n, (unsigned int)IOV_MAX), (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		off += (u64)k;
		len -= (u64)k;
		n = iov_advance(&iov, n, (size_t)k);
		if (len && !n)
			return -EIO;
	}
	q->file_size = MAX(q->file_size, end);
	counted(q);
	return 0;
}

int qcow2_sync(struct qcow2 *q)
{
	int ret = fdatasync(q->fd) ? -errno : 0;

	counted(q);
	return ret;
}

static unsigned int block_bits(const struct qcow2 *q)
{
	return q->cluster_bits + 3 - q->refcount_order;
}

/* The refcount table index that counts the cluster at @host. */
static u64 rt_index(const struct qcow2 *q, u64 host)
{
	return (host >> q->cluster_bits) >> block_bits(q);
}

/* Brings the refcount block at @rbo into q->rb. */
static int rb_load(struct qcow2 *q, u64 rbo)
{
	int ret;

	if (q->rb_offset == rbo)
		return 0;
	q->rb_offset = 0;
	ret = pread_full(q->fd, q->rb, q->cluster_size, rbo);
	if (!ret)
		q->rb_offset = rbo;
	return ret;
}

/*
 * Entry @idx of the block @rb: read, then (with @set) replaced by *@value.
 * Entries of 8 bits and more are big-endian; narrower ones are packed
 * from each byte's least significant bit.  Returns the byte it lies in.
 */
static u64 rb_entry(const struct qcow2 *q, u8 *rb, u64 idx, u64 *value, bool set)
{
	unsigned int bits = 1U << q->refcount_order;
	u64 at, v = 0;

	if (bits >= 8) {
		u64 n = bits / 8;

		at = idx * n;
		for (u64 i = 0; i < n; i++)
			v = v << 8 | rb[at + i];
		for (u64 i = 0; set && i < n; i++)
			rb[at + i] = (u8)(*value >> (8 * (n - 1 - i)));
	} else {
		unsigned int shift = (unsigned int)(idx * bits % 8), mask = (1U << bits) - 1;

		at = idx * bits / 8;
		v = (rb[at] >> shift) & mask;
		if (set)
			rb[at] = (u8)((rb[at] & ~(mask << shift)) | ((*value & mask) << shift));
	}
	if (!set)
		*value = v;
	return at;
}

static u64 rb_index(const struct qcow2 *q, u64 host)
{
	return (host >> q->cluster_bits) & ((1ULL << block_bits(q)) - 1);
}

/* The byte just past entry @idx. */
static u64 rb_entry_end(const struct qcow2 *q, u64 idx)
{
	return ((idx + 1) << q->refcount_order) / 8 + !!(((idx + 1) << q->refcount_order) % 8);
}

/*
 * The clusters [host, host + n * cluster) all in the block at @rbo get
 * refcount @value: one write of the bytes they take.
 */
static int rb_set_range(struct qcow2 *q, u64 rbo, u64 host, u64 n, u64 value)
{
	u64 first = rb_index(q, host), from, to;
	int ret = rb_load(q, rbo);

	if (ret)
		return ret;
	from = rb_entry(q, q->rb, first, &value, true);
	for (u64 i = 1; i < n; i++)
		rb_entry(q, q->rb, first + i, &value, true);
	to = rb_entry_end(q, first + n - 1);
	return qcow2_pwrite(q, q->rb + from, to - from, rbo + from);
}

/* The refcount block counting @host: its offset, or 0 when there is none. */
static u64 refcount_block(const struct qcow2 *q, u64 host)
{
	u64 i = rt_index(q, host);

	/* Every entry of q->rt was checked at open (qcow2_meta_load) or written by us. */
	return i < q->rt_entries ? q->rt[i] : 0;
}

int qcow2_refcount_drop(struct qcow2 *q, u64 host, u64 len)
{
	u64 last = ALIGN_DOWN(host + len - 1, q->cluster_size);

	for (u64 c = ALIGN_DOWN(host, q->cluster_size); c <= last; c += q->cluster_size) {
		u64 rbo = refcount_block(q, c), v = 0;
		int ret = rbo ? rb_load(q, rbo) : -EIO;

		if (ret)
			return ret;
		rb_entry(q, q->rb, rb_index(q, c), &v, false);
		if (!v) {
			/* Counted nowhere: the image is inconsistent; leave it as it is. */
			pr_warn_ratelimited("disk '%s': qcow2: cluster 0x%llx has no references to drop",
					    q->path, (unsigned long long)c);
			return -EIO;
		}
		ret = rb_set_range(q, rbo, c, 1, v - 1);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A new refcount block for table index @idx at @at, the end of the file:
 * zeros and, when it counts itself, its own count; made durable before the
 * refcount table points at it.  When it does not count itself, the block
 * that does exists (see qcow2_alloc) and counts it first.
 */
static int refcount_new_block(struct qcow2 *q, u64 idx, u64 at)
{
	u64 be = htobe64(at), one = 1;
	int ret = 0;

	if (rt_index(q, at) != idx)
		ret = rb_set_range(q, refcount_block(q, at), at, 1, 1);
	if (ret)
		return ret;
	q->rb_offset = 0;
	memset(q->rb, 0, q->cluster_size);
	if (rt_index(q, at) == idx)
		rb_entry(q, q->rb, rb_index(q, at), &one, true);
	ret = qcow2_pwrite(q, q->rb, q->cluster_size, at);
	if (!ret)
		ret = qcow2_meta_add(q, at, q->cluster_size);
	if (!ret)
		ret = qcow2_sync(q);
	if (!ret)
		ret = qcow2_pwrite(q, &be, 8, q->rt_offset + idx * 8);
	if (ret)
		return ret;
	q->rt[idx] = at;
	q->rb_offset = at;
	return 0;
}

/* How many table indexes in [first, last] have no block. */
static u64 missing_blocks(const struct qcow2 *q, u64 first, u64 last)
{
	u64 n = 0;

	for (u64 i = first; i <= last; i++)
		n += i >= q->rt_entries || !q->rt[i];
	return n;
}

/*
 * The new table's clusters (@rt_clusters from @at) and its new blocks
 * (@nr_blocks after it) counted: in the new blocks (@blocks, in memory),
 * or in an old block for the first few.  Fills @rt with the new blocks.
 */
static int grow_count(struct qcow2 *q, u64 *rt, u64 at, u64 rt_clusters, u64 nr_blocks, u8 *blocks)
{
	u64 end = at + (rt_clusters + nr_blocks) * q->cluster_size, next = at + rt_clusters * q->cluster_size;
	u64 one = 1;

	for (u64 i = rt_index(q, at); i <= rt_index(q, end - 1); i++) {
		if (!rt[i]) {
			rt[i] = next;
			next += q->cluster_size;
		}
	}
	for (u64 c = at; c < end; c += q->cluster_size) {
		u64 rbo = rt[rt_index(q, c)];
		int ret;

		if (rbo < at) {
			/* Counted in an old block: a leak until the header switches. */
			ret = rb_set_range(q, rbo, c, 1, 1);
			if (ret)
				return ret;
			continue;
		}
		rb_entry(q, blocks + (rbo - at - rt_clusters * q->cluster_size), rb_index(q, c), &one, true);
	}
	return 0;
}

/* Writes the new table (@rt, @rt_clusters) and blocks at @at, then switches the header to it. */
static int grow_write(struct qcow2 *q, u64 *rt, u64 at, u64 rt_clusters, const u8 *blocks, u64 nr_blocks)
{
	u64 entries = rt_clusters * q->cluster_size / 8;
	u8 hdr[12];
	u64 be_off = htobe64(at);
	u32 be_n = htobe32((u32)rt_clusters);
	int ret;

	for (u64 i = 0; i < entries; i++)
		rt[i] = htobe64(rt[i]);
	ret = qcow2_pwrite(q, rt, rt_clusters * q->cluster_size, at);
	for (u64 i = 0; i < entries; i++)
		rt[i] = be64toh(rt[i]);
	if (!ret && nr_blocks)
		ret = qcow2_pwrite(q, blocks, nr_blocks * q->cluster_size, at + rt_clusters * q->cluster_size);
	if (!ret)
		ret = qcow2_sync(q);
	if (ret)
		return ret;
	/* refcount_table_offset and refcount_table_clusters are neighbours: one write. */
	memcpy(hdr, &be_off, 8);
	memcpy(hdr + 8, &be_n, 4);
	ret = qcow2_pwrite(q, hdr, sizeof(hdr), 48);
	if (!ret)
		ret = qcow2_sync(q);
	return ret;
}

/* Sizes the new table and its blocks for @need entries or more, from @at. */
static int grow_size(const struct qcow2 *q, u64 need, u64 at, u64 *rt_clusters, u64 *nr_blocks)
{
	u64 per_cluster = q->cluster_size / 8;
	u64 r = DIV_ROUND_UP(MAX(need, 2 * q->rt_entries), per_cluster), b = 0;

	for (int pass = 0; pass < GROW_PASSES; pass++) {
		u64 end = at + (r + b) * q->cluster_size;
		u64 last = rt_index(q, end - 1);
		u64 missing = missing_blocks(q, rt_index(q, at), last);

		if ((r << q->cluster_bits) > QCOW2_MAX_RT_BYTES)
			return -ENOSPC;
		if (last >= r * per_cluster) {
			r++;
			continue;
		}
		if (missing == b) {
			*rt_clusters = r;
			*nr_blocks = b;
			return 0;
		}
		b = missing;
	}
	return -ENOSPC;
}

/* A refcount table with at least @need entries, crash-safe (see the top of the file). */
static int grow_rt(struct qcow2 *q, u64 need)
{
	u64 at = ALIGN_UP(q->file_size, q->cluster_size), rt_clusters, nr_blocks;
	u64 old = q->rt_offset, old_len = q->rt_entries * 8;
	u8 *blocks = NULL;
	u64 *rt = NULL;
	int ret = grow_size(q, need, at, &rt_clusters, &nr_blocks);

	if (ret) {
		pr_warn_ratelimited("disk '%s': qcow2: the refcount table cannot grow past %llu bytes",
				    q->path, (unsigned long long)QCOW2_MAX_RT_BYTES);
		return ret;
	}
	rt = calloc(rt_clusters * q->cluster_size / 8, 8);
	blocks = calloc(nr_blocks ? nr_blocks : 1, q->cluster_size);
	ret = rt && blocks ? 0 : -ENOMEM;
	if (!ret) {
		memcpy(rt, q->rt, q->rt_entries * 8);
		ret = grow_count(q, rt, at, rt_clusters, nr_blocks, blocks);
	}
	if (!ret)
		ret = grow_write(q, rt, at, rt_clusters, blocks, nr_blocks);
	if (!ret)
		ret = qcow2_meta_add(q, at, (rt_clusters + nr_blocks) * q->cluster_size);
	free(blocks);
	if (ret) {
		free(rt);
		return ret;
	}
	free(q->rt);
	q->rt = rt;
	q->rt_offset = at;
	q->rt_entries = rt_clusters * q->cluster_size / 8;
	qcow2_meta_remove(q, old, old_len);
	/* The old table is no longer metadata; unreferenced now, it is freed. */
	return qcow2_refcount_drop(q, old, old_len);
}

/* The first table index among the clusters of [host, end) without a block, or ~0. */
static u64 first_missing(const struct qcow2 *q, u64 host, u64 end)
{
	for (u64 i = rt_index(q, host); i <= rt_index(q, end - 1); i++)
		if (!q->rt[i])
			return i;
	return ~0ULL;
}

/* Counts [host, host + n clusters), whose blocks all exist: one write per block. */
static int count_new(struct qcow2 *q, u64 host, u64 n)
{
	while (n) {
		u64 in_block = (1ULL << block_bits(q)) - rb_index(q, host);
		u64 k = MIN(n, in_block);
		int ret = rb_set_range(q, refcount_block(q, host), host, k, 1);

		if (ret)
			return ret;
		host += k << q->cluster_bits;
		n -= k;
	}
	return 0;
}

int qcow2_alloc(struct qcow2 *q, u64 n, u64 *out)
{
	/* Each pass adds one refcount block or grows the table: a request needs few. */
	for (int pass = 0; pass < GROW_PASSES; pass++) {
		u64 host = ALIGN_UP(q->file_size, q->cluster_size);
		u64 end = host + n * q->cluster_size, idx;
		int ret;

		if (rt_index(q, end - 1) >= q->rt_entries)
			ret = grow_rt(q, rt_index(q, end - 1) + 1);
		else if ((idx = first_missing(q, host, end)) != ~0ULL)
			ret = refcount_new_block(q, idx, host);
		else {
			ret = count_new(q, host, n);
			if (!ret) {
				q->file_size = MAX(q->file_size, end);
				*out = host;
			}
			return ret;
		}
		if (ret)
			return ret;
	}
	return -EIO;
}
