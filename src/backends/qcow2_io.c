// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2's mapping, reads and writes: guest cluster -> L1 entry -> L2 table
 * -> host cluster, with a small least-recently-used cache of L2 tables.
 *
 * A request goes a run of clusters at a time.  A run of clusters already
 * allocated in this image (and, for a write, ours alone: COPIED) that lie
 * one after the other in the file is one preadv or pwritev straight on the
 * guest's buffers.  A run of whole clusters to allocate is counted, written
 * with one pwritev, made durable with one fdatasync, and only then linked
 * with one write of its L2 entries; the clusters it replaced lose their
 * reference after a second fdatasync.  Killed at any point, the image
 * holds at worst a cluster counted but not used: a leak, never a
 * reference to a cluster that is not counted or not written.  Partial
 * clusters go through a bounce buffer with copy-on-write of the rest.
 *
 * Metadata is written through (never held dirty in memory), so a guest
 * flush is one fdatasync.
 *
 * Data cluster entries are checked where they are used: outside the file,
 * unaligned or on metadata (qcow2_data_ok), they answer -EIO.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>

#include "backends/qcow2.h"
#include "file.h"
#include "log.h"
#include "virtqueue.h"

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
	q->iov = calloc(QCOW2_MAX_IOV, sizeof(*q->iov));
	q->old = calloc(QCOW2_RUN_MAX, sizeof(*q->old));
	if (!q->disk.readonly)
		q->rb = malloc(q->cluster_size);
	if (!q->buf || !q->zbuf || !q->cbuf || !q->iov || !q->old || (!q->disk.readonly && !q->rb))
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
	free(q->iov);
	free(q->old);
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

/* The L2 table at @off (checked at open, or ours), from the cache or the file. */
static int l2_get(struct qcow2 *q, u64 off, u64 **table)
{
	struct qcow2_l2 *l2 = l2_lookup(q, off);
	int ret;

	if (!l2) {
		if (!qcow2_in_file(q, off, q->cluster_size))
			return -EIO;
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
	m->host = e & QCOW2_OFFSET_MASK;
	if (q->version >= 3 && (e & QCOW2_OFLAG_ZERO)) {
		/* A preallocated zero cluster keeps its host cluster: freed with it, if sound. */
		m->kind = QCOW2_ZERO;
		if (!qcow2_data_ok(q, m->host))
			m->host = 0;
		return 0;
	}
	if (!m->host)
		return 0;
	if (!qcow2_data_ok(q, m->host)) {
		pr_warn_ratelimited("disk '%s': qcow2: data cluster at 0x%llx is outside the image or on its metadata",
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

static int read_mapped(struct qcow2 *q, const struct qcow2_map *m, u64 guest, u64 off, void *buf,
		       u64 len)
{
	int ret;

	switch (m->kind) {
	case QCOW2_UNALLOCATED:
		return read_backing(q, guest + off, buf, len);
	case QCOW2_ZERO:
		memset(buf, 0, len);
		return 0;
	case QCOW2_DATA:
		return pread_zeros(q->fd, buf, len, m->host + off);
	case QCOW2_COMPRESSED:
		ret = read_compressed(q, m);
		if (!ret)
			memcpy(buf, q->zbuf + off, len);
		return ret;
	}
	return -EIO;
}

int qcow2_read_cluster(struct qcow2 *q, u64 guest, u64 off, void *buf, u64 len)
{
	struct qcow2_map m;
	int ret = qcow2_map(q, guest, &m);

	return ret ? ret : read_mapped(q, &m, guest, off, buf, len);
}

/* The guest cluster's reads as zeros without a table entry: no backing file behind it. */
static bool unallocated_reads_zero(const struct qcow2 *q, u64 guest)
{
	return !q->backing || guest >= q->backing_size;
}

/* The L2 table for @l1i, ours to change (not shared with a snapshot); 0 when it has none. */
static int l2_writable(struct qcow2 *q, u64 l1i, u64 *l2_off)
{
	*l2_off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (*l2_off && !(q->l1[l1i] & QCOW2_OFLAG_COPIED)) {
		pr_warn_ratelimited("disk '%s': qcow2: L2 table shared with a snapshot: writes refused",
				    q->path);
		return -EIO;
	}
	return 0;
}

/*
 * Entries [l2i, l2i + n) of the L2 table for @l1i become @e (@step added
 * for each), in one write.  Without a table, a new one holding them is
 * written and made durable, then linked from the L1 table.
 */
static int l2_store(struct qcow2 *q, u64 l1i, u64 l2i, u64 n, u64 e, u64 step)
{
	struct qcow2_l2 *l2;
	u64 l2_off, *table, be;
	int ret = l2_writable(q, l1i, &l2_off);

	if (ret)
		return ret;
	if (l2_off) {
		ret = l2_get(q, l2_off, &table);
		for (u64 i = 0; !ret && i < n; i++)
			table[l2i + i] = htobe64(e + i * step);
		return ret ? ret : qcow2_pwrite(q, table + l2i, n * 8, l2_off + l2i * 8);
	}
	ret = qcow2_alloc(q, 1, &l2_off);
	if (!ret)
		ret = qcow2_meta_add(q, l2_off, q->cluster_size);
	if (ret)
		return ret;
	l2 = l2_slot(q, 0);   /* filled only once the table is in the file */
	memset(l2->table, 0, q->cluster_size);
	for (u64 i = 0; i < n; i++)
		l2->table[l2i + i] = htobe64(e + i * step);
	ret = qcow2_pwrite(q, l2->table, q->cluster_size, l2_off);
	if (!ret)
		ret = qcow2_sync(q);
	if (ret)
		return ret;
	l2->offset = l2_off;
	be = htobe64(l2_off | QCOW2_OFLAG_COPIED);
	ret = qcow2_pwrite(q, &be, 8, q->l1_offset + l1i * 8);
	if (!ret)
		q->l1[l1i] = l2_off | QCOW2_OFLAG_COPIED;
	return ret;
}

/* What the run's clusters held loses a reference, once their new entries are durable. */
static int drop_old(struct qcow2 *q, u64 n)
{
	bool any = false;
	int ret = 0;

	for (u64 i = 0; i < n; i++)
		any |= q->old[i].host != 0;
	if (any)
		ret = qcow2_sync(q);
	for (u64 i = 0; !ret && i < n; i++) {
		const struct qcow2_map *m = &q->old[i];

		if (m->host)
			ret = qcow2_refcount_drop(q, m->host, m->kind == QCOW2_COMPRESSED ? m->csize :
							      q->cluster_size);
	}
	return ret;
}

/*
 * @n whole clusters from @guest, all in one L2 table, whose old mappings
 * are in q->old: new clusters, written from @iov (@nr segments, trimmed),
 * made durable, then linked; then the old ones are dropped.
 */
static int alloc_run(struct qcow2 *q, u64 guest, u64 n, struct iovec *iov, unsigned int nr)
{
	u64 l1i, l2i, host, l2_off;
	int ret;

	l2_index(q, guest, &l1i, &l2i);
	ret = l2_writable(q, l1i, &l2_off);
	/* A new L2 table first: allocated after the data, it would split the run from it. */
	if (!ret && !l2_off)
		ret = l2_store(q, l1i, l2i, 0, 0, 0);
	if (!ret)
		ret = qcow2_alloc(q, n, &host);
	if (!ret)
		ret = qcow2_pwritev(q, iov, nr, n * q->cluster_size, host);
	if (!ret)
		ret = qcow2_sync(q);
	if (!ret)
		ret = l2_store(q, l1i, l2i, n, host | QCOW2_OFLAG_COPIED, q->cluster_size);
	return ret ? ret : drop_old(q, n);
}

int qcow2_write_cluster(struct qcow2 *q, u64 guest, u64 off, const void *buf, u64 len)
{
	struct qcow2_map m;
	struct iovec iov;
	int ret = qcow2_map(q, guest, &m);

	if (ret)
		return ret;
	if (m.kind == QCOW2_DATA && m.copied)
		return qcow2_pwrite(q, buf, len, m.host + off);
	/*
	 * A new cluster: the part the write leaves is copied from what the
	 * guest saw there (backing file, zeros, a compressed or shared
	 * cluster).
	 */
	if (len < q->cluster_size) {
		ret = read_mapped(q, &m, guest, 0, q->buf, q->cluster_size);
		if (ret)
			return ret;
		memcpy(q->buf + off, buf, len);
		buf = q->buf;
	}
	iov = (struct iovec){ (void *)buf, q->cluster_size };
	q->old[0] = m.kind == QCOW2_DATA || m.kind == QCOW2_COMPRESSED || m.kind == QCOW2_ZERO ?
			    m : (struct qcow2_map){ 0 };
	return alloc_run(q, guest, 1, &iov, 1);
}

/*
 * The guest buffers' bytes [off, off + len) of @r as segments in q->iov:
 * how many, 0 when they do not fit, -EINVAL when the buffers are short.
 */
static int iov_slice(struct qcow2 *q, const struct disk_req *r, u64 off, u64 len)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < r->nr_iov && len; i++) {
		u64 seg = r->iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		if (n == QCOW2_MAX_IOV)
			return 0;
		q->iov[n].iov_base = (char *)r->iov[i].iov_base + off;
		q->iov[n].iov_len = MIN(seg - off, len);
		len -= q->iov[n++].iov_len;
		off = 0;
	}
	return len ? -EINVAL : (int)n;
}

static int preadv_full(int fd, struct iovec *iov, unsigned int n, u64 len, u64 off)
{
	while (len) {
		ssize_t k = preadv(fd, iov, (int)MIN(n, (unsigned int)IOV_MAX), (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		off += (u64)k;
		len -= (u64)k;
		n = iov_advance(&iov, n, (size_t)k);
	}
	return 0;
}

/*
 * How many clusters from @guest (mapped as @m) follow it in the file, up
 * to @max: allocated data (with @copied, ours alone), host offsets one
 * after the other, in the same L2 table.
 */
static u64 data_run(struct qcow2 *q, u64 guest, const struct qcow2_map *m, u64 max, bool copied)
{
	u64 n = 1;

	while (n < max) {
		struct qcow2_map next;

		if (qcow2_map(q, guest + n * q->cluster_size, &next) || next.kind != QCOW2_DATA ||
		    next.host != m->host + n * q->cluster_size || (copied && !next.copied))
			break;
		n++;
	}
	return n;
}

bool qcow2_one_run(struct qcow2 *q, const struct disk_req *r, u64 *host)
{
	u64 in = r->offset & (q->cluster_size - 1), guest = r->offset - in, l1i, l2i, need;
	struct qcow2_map m;

	if (!r->len || qcow2_map(q, guest, &m) || m.kind != QCOW2_DATA ||
	    (r->op != DISK_READ && !m.copied))
		return false;
	l2_index(q, guest, &l1i, &l2i);
	need = DIV_ROUND_UP(in + r->len, q->cluster_size);
	if (need > MIN((u64)QCOW2_RUN_MAX, q->l2_entries - l2i) ||
	    data_run(q, guest, &m, need, r->op != DISK_READ) < need ||
	    !qcow2_in_file(q, m.host + in, r->len))
		return false;
	*host = m.host + in;
	return true;
}

/* One cluster's part of @r through the bounce buffer. */
static int bounce_one(struct qcow2 *q, struct disk_req *r, u64 done, u64 *moved)
{
	u64 pos = r->offset + done, in = pos & (q->cluster_size - 1);
	u64 n = MIN(q->cluster_size - in, r->len - done);
	int ret;

	*moved = n;
	if (r->op == DISK_READ) {
		ret = qcow2_read_cluster(q, pos - in, in, q->iobuf, n);
		if (!ret && iov_copy_to(r->iov, r->nr_iov, done, q->iobuf, n) != n)
			ret = -EINVAL;
		return ret;
	}
	if (iov_copy_from(r->iov, r->nr_iov, done, q->iobuf, n) != n)
		return -EINVAL;
	return qcow2_write_cluster(q, pos - in, in, q->iobuf, n);
}

/* Whole clusters from @guest that need new ones, up to @max, in one L2 table: their old maps in q->old. */
static u64 alloc_count(struct qcow2 *q, u64 guest, u64 max)
{
	u64 l1i, l2i, n = 0;

	l2_index(q, guest, &l1i, &l2i);
	max = MIN(MIN(max, (u64)QCOW2_RUN_MAX), q->l2_entries - l2i);
	while (n < max) {
		struct qcow2_map m;

		if (qcow2_map(q, guest + n * q->cluster_size, &m) || (m.kind == QCOW2_DATA && m.copied))
			break;
		q->old[n++] = m.kind == QCOW2_UNALLOCATED ? (struct qcow2_map){ 0 } : m;
	}
	return n;
}

/* One run of @r from byte @done: *@moved bytes of it. */
static int rw_run(struct qcow2 *q, struct disk_req *r, u64 done, u64 *moved)
{
	u64 pos = r->offset + done, in = pos & (q->cluster_size - 1), guest = pos - in;
	u64 left = r->len - done, clusters = (in + left) >> q->cluster_bits, l1i, l2i, n;
	struct qcow2_map m;
	int ret = qcow2_map(q, guest, &m), nr;

	if (ret)
		return ret;
	l2_index(q, guest, &l1i, &l2i);
	if (m.kind == QCOW2_DATA && (r->op == DISK_READ || m.copied)) {
		n = data_run(q, guest, &m, MIN(DIV_ROUND_UP(in + left, q->cluster_size),
					      MIN((u64)QCOW2_RUN_MAX, q->l2_entries - l2i)),
			     r->op != DISK_READ);
		*moved = MIN(left, n * q->cluster_size - in);
		nr = iov_slice(q, r, done, *moved);
		if (nr < 0)
			return nr;
		/* Reads past the end of the file (a crafted image) take the bounce path's zeros. */
		if (nr && (r->op != DISK_READ || qcow2_in_file(q, m.host + in, *moved)))
			return r->op == DISK_READ ?
				       preadv_full(q->fd, q->iov, (unsigned int)nr, *moved, m.host + in) :
				       qcow2_pwritev(q, q->iov, (unsigned int)nr, *moved, m.host + in);
	} else if (r->op == DISK_WRITE && !in && clusters) {
		n = alloc_count(q, guest, clusters);
		nr = n ? iov_slice(q, r, done, n * q->cluster_size) : 0;
		if (nr < 0)
			return nr;
		*moved = n * q->cluster_size;
		if (nr)
			return alloc_run(q, guest, n, q->iov, (unsigned int)nr);
	}
	return bounce_one(q, r, done, moved);
}

int qcow2_rw(struct qcow2 *q, struct disk_req *r)
{
	u64 done = 0;
	int ret = 0;

	while (done < r->len && !ret) {
		u64 moved = 0;

		ret = rw_run(q, r, done, &moved);
		done += moved;
	}
	return ret;
}

/*
 * What a whole cluster becomes when zeroed or discarded: 0 (unallocated)
 * where that reads as zeros, else a v3 zero cluster; ~0 on v2 over a
 * backing file, where only data can hide it.
 */
static u64 zero_entry(const struct qcow2 *q, u64 guest)
{
	if (unallocated_reads_zero(q, guest))
		return 0;
	return q->version >= 3 ? QCOW2_OFLAG_ZERO : ~0ULL;
}

/*
 * @n whole clusters from @guest, in one L2 table, read as zeros from now
 * on: the entries change in one write, then what they held is dropped.
 */
static int zero_run(struct qcow2 *q, u64 guest, u64 n, bool discard)
{
	u64 e = zero_entry(q, guest), l1i, l2i;
	bool change = false;

	if (e == ~0ULL) {
		/* v2 over a backing file: a discard may leave the data; zeroes are written. */
		memset(q->iobuf, 0, q->cluster_size);
		for (u64 i = 0; !discard && i < n; i++) {
			int ret = qcow2_write_cluster(q, guest + i * q->cluster_size, 0, q->iobuf,
						      q->cluster_size);

			if (ret)
				return ret;
		}
		return 0;
	}
	for (u64 i = 0; i < n; i++) {
		struct qcow2_map *m = &q->old[i];
		int ret = qcow2_map(q, guest + i * q->cluster_size, m);

		if (ret)
			return ret;
		change |= e ? m->kind != QCOW2_ZERO || m->host : m->kind != QCOW2_UNALLOCATED;
		if (m->kind == QCOW2_UNALLOCATED)
			m->host = 0;
	}
	if (!change)
		return 0;
	l2_index(q, guest, &l1i, &l2i);
	if (!(q->l1[l1i] & QCOW2_OFFSET_MASK) && !e)
		return 0;
	return l2_store(q, l1i, l2i, n, e, 0) ?: drop_old(q, n);
}

int qcow2_zero_range(struct qcow2 *q, const struct disk_req *r, bool discard)
{
	u64 pos = r->offset, end = r->offset + r->len;
	int ret = 0;

	while (pos < end && !ret) {
		u64 in = pos & (q->cluster_size - 1), guest = pos - in, l1i, l2i, n;
		struct qcow2_map m;

		if (in || end - pos < q->cluster_size) {
			/* Part of a cluster: a discard leaves it; zeroes are written where needed. */
			n = MIN(q->cluster_size - in, end - pos);
			ret = discard ? 0 : qcow2_map(q, guest, &m);
			if (!ret && !discard && m.kind != QCOW2_ZERO &&
			    !(m.kind == QCOW2_UNALLOCATED && unallocated_reads_zero(q, guest))) {
				memset(q->iobuf, 0, n);
				ret = qcow2_write_cluster(q, guest, in, q->iobuf, n);
			}
			pos += n;
			continue;
		}
		l2_index(q, guest, &l1i, &l2i);
		n = MIN(MIN((end - pos) >> q->cluster_bits, q->l2_entries - l2i), (u64)QCOW2_RUN_MAX);
		/* A range that crosses the end of the backing file is zeroed a cluster at a time. */
		if (q->backing && guest < q->backing_size && guest + (n << q->cluster_bits) > q->backing_size)
			n = 1;
		ret = zero_run(q, guest, n, discard);
		pos += n << q->cluster_bits;
	}
	return ret;
}
