// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2's mapping, reads and allocation: guest cluster -> L1 entry -> L2
 * table -> host cluster, with a small least-recently-used cache of L2
 * tables; new clusters at the end of the file, counted in the refcount
 * blocks.
 *
 * Crash safety comes from the order of the writes: a new cluster's
 * refcount, then its contents (data, or a new L2 table), then one
 * fdatasync, and only then the L2 (or L1) entry that points at it.  Killed
 * at any point, the image holds at worst a cluster counted but not used:
 * a leak, which qemu-img check reports as such and not as corruption.
 * Metadata is written through (never held dirty in memory), so a guest
 * flush is one fdatasync.
 *
 * Every table entry read from the file is checked where it is used: a
 * table or cluster outside the file, unaligned, or over the header, the
 * L1 table or the refcount table answers -EIO.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "backends/qcow2.h"
#include "file.h"
#include "log.h"

/* Reads @len bytes at @off; what lies past the end of the file reads as zeros. */
static int pread_zeros(int fd, void *buf, u64 len, u64 off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, MIN(len, (u64)SZ_1G), (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (u64)n;
		len -= (u64)n;
	}
	return 0;
}

/* A table or cluster the image names: aligned, inside the file, clear of the fixed metadata. */
static bool cluster_ok(const struct qcow2 *q, u64 off)
{
	return off && IS_ALIGNED(off, q->cluster_size) && off < q->file_size &&
	       !qcow2_hits_metadata(q, off, q->cluster_size);
}

int qcow2_io_init(struct qcow2 *q)
{
	q->nr_l2 = (unsigned int)MIN((u64)QCOW2_L2_CACHE_MAX,
				     MAX(2ULL, QCOW2_L2_CACHE_BYTES >> q->cluster_bits));
	for (unsigned int i = 0; i < q->nr_l2; i++) {
		q->l2[i].table = malloc(q->cluster_size);
		if (!q->l2[i].table)
			return -ENOMEM;
	}
	q->buf = malloc(q->cluster_size);
	q->zbuf = malloc(q->cluster_size);
	q->cbuf = malloc(2 * q->cluster_size);
	if (!q->disk.readonly)
		q->rb = malloc(q->cluster_size);
	if (!q->buf || !q->zbuf || !q->cbuf || (!q->disk.readonly && !q->rb))
		return -ENOMEM;
	return 0;
}

void qcow2_io_free(struct qcow2 *q)
{
	for (unsigned int i = 0; i < QCOW2_L2_CACHE_MAX; i++)
		free(q->l2[i].table);
	free(q->buf);
	free(q->zbuf);
	free(q->cbuf);
	free(q->rb);
}

static struct qcow2_l2 *l2_lookup(struct qcow2 *q, u64 off)
{
	for (unsigned int i = 0; i < q->nr_l2; i++) {
		if (q->l2[i].offset == off) {
			q->l2[i].used = ++q->l2_clock;
			return &q->l2[i];
		}
	}
	return NULL;
}

/* The least recently used slot, emptied, for the table at @off. */
static struct qcow2_l2 *l2_slot(struct qcow2 *q, u64 off)
{
	struct qcow2_l2 *victim = &q->l2[0];

	for (unsigned int i = 1; i < q->nr_l2; i++)
		if (q->l2[i].used < victim->used)
			victim = &q->l2[i];
	victim->offset = off;
	victim->used = ++q->l2_clock;
	return victim;
}

/* The L2 table at @off, from the cache or the file. */
static int l2_get(struct qcow2 *q, u64 off, u64 **table)
{
	struct qcow2_l2 *l2 = l2_lookup(q, off);
	int ret;

	if (!l2) {
		if (!cluster_ok(q, off) || !qcow2_in_file(q, off, q->cluster_size)) {
			pr_warn_ratelimited("disk '%s': qcow2: L2 table at 0x%llx is outside the image",
					    q->path, (unsigned long long)off);
			return -EIO;
		}
		l2 = l2_slot(q, off);
		ret = pread_full(q->fd, l2->table, q->cluster_size, off);
		if (ret) {
			l2->offset = 0;
			return ret;
		}
	}
	*table = l2->table;
	return 0;
}

/* Where the L2 entry of @guest lives: the L1 index and the index in its table. */
static void l2_index(const struct qcow2 *q, u64 guest, u64 *l1i, u64 *l2i)
{
	u64 cluster = guest >> q->cluster_bits;

	*l1i = cluster / q->l2_entries;
	*l2i = cluster % q->l2_entries;
}

static int map_compressed(struct qcow2 *q, u64 e, struct qcow2_map *m)
{
	unsigned int x = 62 - (q->cluster_bits - 8);
	u64 sectors = ((e >> x) & ((1ULL << (q->cluster_bits - 8)) - 1)) + 1;

	m->kind = QCOW2_COMPRESSED;
	m->host = e & ((1ULL << x) - 1);
	m->csize = sectors * 512 - (m->host & 511);
	/* The stream ends in the file's last sector at the latest. */
	if (m->host >= q->file_size || m->host + m->csize > ALIGN_UP(q->file_size, 512) ||
	    m->csize > 2 * q->cluster_size) {
		pr_warn_ratelimited("disk '%s': qcow2: compressed cluster at 0x%llx runs outside the image",
				    q->path, (unsigned long long)m->host);
		return -EIO;
	}
	return 0;
}

int qcow2_map(struct qcow2 *q, u64 guest, struct qcow2_map *m)
{
	u64 l1i, l2i, l2_off, e, *table;
	int ret;

	*m = (struct qcow2_map){ .kind = QCOW2_UNALLOCATED };
	l2_index(q, guest, &l1i, &l2i);
	if (l1i >= q->l1_size)
		return -EIO;
	l2_off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (!l2_off)
		return 0;
	ret = l2_get(q, l2_off, &table);
	if (ret)
		return ret;
	e = be64toh(table[l2i]);
	if (e & QCOW2_OFLAG_COMPRESSED)
		return map_compressed(q, e, m);
	if (q->version >= 3 && (e & QCOW2_OFLAG_ZERO)) {
		m->kind = QCOW2_ZERO;
		return 0;
	}
	m->host = e & QCOW2_OFFSET_MASK;
	if (!m->host)
		return 0;
	if (!cluster_ok(q, m->host)) {
		pr_warn_ratelimited("disk '%s': qcow2: data cluster at 0x%llx is outside the image",
				    q->path, (unsigned long long)m->host);
		return -EIO;
	}
	m->kind = QCOW2_DATA;
	m->copied = e & QCOW2_OFLAG_COPIED;
	return 0;
}

/* A whole compressed cluster, inflated into q->zbuf. */
static int read_compressed(struct qcow2 *q, const struct qcow2_map *m)
{
	u64 avail = MIN(m->csize, q->file_size - m->host);
	z_stream z = { 0 };
	int ret = pread_full(q->fd, q->cbuf, avail, m->host);

	if (ret)
		return ret;
	/* Raw deflate (no zlib header): what qcow2 stores. */
	if (inflateInit2(&z, -15) != Z_OK)
		return -ENOMEM;
	z.next_in = q->cbuf;
	z.avail_in = (uInt)avail;
	z.next_out = q->zbuf;
	z.avail_out = (uInt)q->cluster_size;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	/* Done once a whole cluster came out; anything short is a broken stream. */
	if ((ret != Z_STREAM_END && ret != Z_OK && ret != Z_BUF_ERROR) || z.avail_out) {
		pr_warn_ratelimited("disk '%s': qcow2: compressed cluster at 0x%llx does not inflate",
				    q->path, (unsigned long long)m->host);
		return -EIO;
	}
	return 0;
}

/* The backing file's bytes at @pos, zeros past its end. */
static int read_backing(struct qcow2 *q, u64 pos, void *buf, u64 len)
{
	u64 n = q->backing && pos < q->backing_size ? MIN(len, q->backing_size - pos) : 0;
	struct iovec iov = { buf, n };
	struct disk_req r = { .op = DISK_READ, .offset = pos, .len = n, .iov = &iov, .nr_iov = 1 };

	memset((char *)buf + n, 0, len - n);
	if (!n)
		return 0;
	/* The backing disk was opened synchronous (async cleared): it answers in the submit. */
	if (disk_submit(q->backing, &r) != DISK_DONE)
		return -EIO;
	return r.result;
}

int qcow2_read_cluster(struct qcow2 *q, u64 guest, u64 off, void *buf, u64 len)
{
	struct qcow2_map m;
	int ret = qcow2_map(q, guest, &m);

	if (ret)
		return ret;
	switch (m.kind) {
	case QCOW2_UNALLOCATED:
		return read_backing(q, guest + off, buf, len);
	case QCOW2_ZERO:
		memset(buf, 0, len);
		return 0;
	case QCOW2_DATA:
		return pread_zeros(q->fd, buf, len, m.host + off);
	case QCOW2_COMPRESSED:
		ret = read_compressed(q, &m);
		if (!ret)
			memcpy(buf, q->zbuf + off, len);
		return ret;
	}
	return -EIO;
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
 * The refcount of the cluster at @host in the loaded block, through
 * @value: read, then (with @set) replaced by *@value and written back.
 * Entries of 8 bits and more are big-endian; narrower ones are packed
 * from each byte's least significant bit.
 */
static int rb_entry(struct qcow2 *q, u64 host, u64 *value, bool set)
{
	unsigned int bits = 1U << q->refcount_order;
	u64 idx = (host >> q->cluster_bits) & ((q->cluster_size * 8 / bits) - 1);
	u64 at, n, v = 0;

	if (bits >= 8) {
		n = bits / 8;
		at = idx * n;
		for (u64 i = 0; i < n; i++)
			v = v << 8 | q->rb[at + i];
		for (u64 i = 0; set && i < n; i++)
			q->rb[at + i] = (u8)(*value >> (8 * (n - 1 - i)));
	} else {
		unsigned int shift = (unsigned int)(idx * bits % 8), mask = (1U << bits) - 1;

		n = 1;
		at = idx * bits / 8;
		v = (q->rb[at] >> shift) & mask;
		if (set)
			q->rb[at] = (u8)((q->rb[at] & ~(mask << shift)) | ((*value & mask) << shift));
	}
	if (!set) {
		*value = v;
		return 0;
	}
	return pwrite_full(q->fd, q->rb + at, n, q->rb_offset + at);
}

static int refcount_set_one(struct qcow2 *q, u64 rbo, u64 host)
{
	u64 one = 1;
	int ret = rb_load(q, rbo);

	return ret ? ret : rb_entry(q, host, &one, true);
}

/* The refcount block counting @host, checked: its offset, or 0 when there is none. */
static int refcount_block(struct qcow2 *q, u64 host, u64 *rbo)
{
	u64 rt_index = (host >> q->cluster_bits) >> (q->cluster_bits + 3 - q->refcount_order);

	*rbo = rt_index < q->rt_entries ? q->rt[rt_index] & ~511ULL : 0;
	if (*rbo && (!cluster_ok(q, *rbo) || !qcow2_in_file(q, *rbo, q->cluster_size))) {
		pr_warn_ratelimited("disk '%s': qcow2: refcount block at 0x%llx is outside the image",
				    q->path, (unsigned long long)*rbo);
		return -EIO;
	}
	return 0;
}

/* One reference fewer to each cluster of [host, host + len): a mapping it left. */
static int refcount_drop(struct qcow2 *q, u64 host, u64 len)
{
	u64 last = ALIGN_DOWN(host + len - 1, q->cluster_size);

	for (u64 c = ALIGN_DOWN(host, q->cluster_size); c <= last; c += q->cluster_size) {
		u64 rbo, v = 0;
		int ret = refcount_block(q, c, &rbo);

		if (!ret && !rbo)
			ret = -EIO;
		if (!ret)
			ret = rb_load(q, rbo);
		if (!ret)
			ret = rb_entry(q, c, &v, false);
		if (!ret && !v)
			ret = -EIO;   /* counted nowhere: the image is inconsistent */
		v--;
		if (!ret)
			ret = rb_entry(q, c, &v, true);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A new refcount block at @host, for the clusters around it: zeros and
 * its own count, made durable before the refcount table points at it.
 */
static int refcount_new_block(struct qcow2 *q, u64 rt_index, u64 host)
{
	u64 be = htobe64(host);
	int ret;

	memset(q->rb, 0, q->cluster_size);
	q->rb_offset = host;
	ret = refcount_set_one(q, host, host);
	if (!ret)
		ret = pwrite_full(q->fd, q->rb, q->cluster_size, host);
	if (ret)
		return ret;
	q->file_size = MAX(q->file_size, host + q->cluster_size);
	if (fdatasync(q->fd))
		return -errno;
	ret = pwrite_full(q->fd, &be, 8, q->rt_offset + rt_index * 8);
	if (!ret)
		q->rt[rt_index] = host;
	return ret;
}

/*
 * A free cluster at the end of the file, counted: never one that holds
 * anything, since everything the image holds lies before the end.  The
 * refcount table is not grown: past what it covers, writes that allocate
 * fail with -ENOSPC.
 */
static int alloc_cluster(struct qcow2 *q, u64 *out)
{
	unsigned int block_bits = q->cluster_bits + 3 - q->refcount_order;

	/* At most one new refcount block before the cluster itself. */
	for (int tries = 0; tries < 2; tries++) {
		u64 host = ALIGN_UP(q->file_size, q->cluster_size);
		u64 rt_index = (host >> q->cluster_bits) >> block_bits;
		u64 rbo;
		int ret;

		if (rt_index >= q->rt_entries) {
			pr_warn_ratelimited("disk '%s': qcow2: refcount table full (growing it is not supported)",
					    q->path);
			return -ENOSPC;
		}
		ret = refcount_block(q, host, &rbo);
		if (!ret && !rbo) {
			ret = refcount_new_block(q, rt_index, host);
			if (ret)
				return ret;
			continue;
		}
		if (!ret)
			ret = refcount_set_one(q, rbo, host);
		if (ret)
			return ret;
		q->file_size = host + q->cluster_size;
		*out = host;
		return 0;
	}
	return -EIO;
}

/* The guest cluster @guest's L2 entry becomes @e: in the file and the cache. */
static int l2_set(struct qcow2 *q, u64 l2_off, u64 l2i, u64 e)
{
	struct qcow2_l2 *l2 = l2_lookup(q, l2_off);
	u64 be = htobe64(e);
	int ret = pwrite_full(q->fd, &be, 8, l2_off + l2i * 8);

	if (l2)
		l2->table[l2i] = ret ? l2->table[l2i] : be;
	return ret;
}

/*
 * @data (a whole cluster) into a new cluster for @guest, with a new L2
 * table when it has none: contents first, one fdatasync, then the entry
 * that makes them visible.
 */
static int alloc_and_link(struct qcow2 *q, u64 guest, const void *data)
{
	u64 l1i, l2i, l2_off, host, be;
	struct qcow2_l2 *l2 = NULL;
	int ret;

	l2_index(q, guest, &l1i, &l2i);
	l2_off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (l2_off && !(q->l1[l1i] & QCOW2_OFLAG_COPIED)) {
		pr_warn_ratelimited("disk '%s': qcow2: L2 table shared with a snapshot: writes refused",
				    q->path);
		return -EIO;
	}
	if (!l2_off) {
		ret = alloc_cluster(q, &l2_off);
		if (ret)
			return ret;
	}
	ret = alloc_cluster(q, &host);
	if (!ret)
		ret = pwrite_full(q->fd, data, q->cluster_size, host);
	if (!ret && !(q->l1[l1i] & QCOW2_OFFSET_MASK)) {
		l2 = l2_slot(q, 0);  /* filled only once the table is in the file */
		memset(l2->table, 0, q->cluster_size);
		l2->table[l2i] = htobe64(host | QCOW2_OFLAG_COPIED);
		ret = pwrite_full(q->fd, l2->table, q->cluster_size, l2_off);
	}
	if (!ret && fdatasync(q->fd))
		ret = -errno;
	if (ret)
		return ret;
	if (!l2)
		return l2_set(q, l2_off, l2i, host | QCOW2_OFLAG_COPIED);
	l2->offset = l2_off;
	be = htobe64(l2_off | QCOW2_OFLAG_COPIED);
	ret = pwrite_full(q->fd, &be, 8, q->l1_offset + l1i * 8);
	if (!ret)
		q->l1[l1i] = l2_off | QCOW2_OFLAG_COPIED;
	return ret;
}

int qcow2_write_cluster(struct qcow2 *q, u64 guest, u64 off, const void *buf, u64 len)
{
	struct qcow2_map m;
	int ret = qcow2_map(q, guest, &m);

	if (ret)
		return ret;
	if (m.kind == QCOW2_DATA && m.copied) {
		ret = pwrite_full(q->fd, buf, len, m.host + off);
		if (!ret)
			q->file_size = MAX(q->file_size, m.host + off + len);
		return ret;
	}
	/*
	 * A new cluster: the part the write leaves is copied from what the
	 * guest saw there (backing file, zeros, a compressed or shared
	 * cluster).
	 */
	if (len < q->cluster_size) {
		ret = qcow2_read_cluster(q, guest, 0, q->buf, q->cluster_size);
		if (ret)
			return ret;
		memcpy(q->buf + off, buf, len);
		buf = q->buf;
	}
	ret = alloc_and_link(q, guest, buf);
	if (ret || (m.kind != QCOW2_COMPRESSED && m.kind != QCOW2_DATA))
		return ret;
	/*
	 * The cluster it left loses a reference, once the new entry is
	 * durable: killed before, the old one is a leak, never counted short.
	 */
	if (fdatasync(q->fd))
		return -errno;
	return refcount_drop(q, m.host, m.kind == QCOW2_COMPRESSED ? m.csize : q->cluster_size);
}
