// SPDX-License-Identifier: Apache-2.0
/*
 * Where a qcow2 image keeps its metadata, checked at open and kept up to
 * date: the header's cluster, the L1 table, the refcount table, every
 * refcount block the refcount table names and every L2 table the L1 table
 * names, as one sorted list of clusters.
 *
 * A crafted image can point two tables at one cluster, or a table at the
 * header: a guest write through the one would then rewrite the other (the
 * backing file's name, say, making the next open read any host file).  So
 * at open every table must lie, whole and aligned, inside the file, and no
 * cluster may appear twice in the list; later, a data cluster that is in
 * the list is refused (qcow2_data_ok), and every cluster the backend
 * allocates for metadata joins it.
 *
 * The list's length is bounded by the tables' caps (QCOW2_MAX_L1_BYTES,
 * QCOW2_MAX_RT_BYTES), not by anything else the image says.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/qcow2.h"
#include "file.h"
#include "log.h"

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The index of the first entry >= @off. */
static u64 meta_find(const struct qcow2 *q, u64 off)
{
	u64 lo = 0, hi = q->nr_meta;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		if (q->meta[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool qcow2_is_meta(const struct qcow2 *q, u64 off)
{
	u64 i = meta_find(q, off);

	return i < q->nr_meta && q->meta[i] == off;
}

static int meta_reserve(struct qcow2 *q, u64 n)
{
	u64 cap = q->cap_meta ? q->cap_meta : 64;
	u64 *m;

	if (q->nr_meta + n <= q->cap_meta)
		return 0;
	while (cap < q->nr_meta + n)
		cap *= 2;
	m = realloc(q->meta, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	q->meta = m;
	q->cap_meta = cap;
	return 0;
}

int qcow2_meta_add(struct qcow2 *q, u64 off, u64 len)
{
	u64 n = DIV_ROUND_UP(len, q->cluster_size);
	int ret = meta_reserve(q, n);

	for (u64 c = 0; !ret && c < n; c++) {
		u64 at = off + c * q->cluster_size, i = meta_find(q, at);

		if (i < q->nr_meta && q->meta[i] == at)
			continue;
		/* New clusters come from the end of the file: usually an append. */
		memmove(q->meta + i + 1, q->meta + i, (q->nr_meta - i) * sizeof(*q->meta));
		q->meta[i] = at;
		q->nr_meta++;
	}
	return ret;
}

void qcow2_meta_remove(struct qcow2 *q, u64 off, u64 len)
{
	for (u64 at = off; at < off + len; at += q->cluster_size) {
		u64 i = meta_find(q, at);

		if (i < q->nr_meta && q->meta[i] == at) {
			memmove(q->meta + i, q->meta + i + 1, (q->nr_meta - i - 1) * sizeof(*q->meta));
			q->nr_meta--;
		}
	}
}

bool qcow2_data_ok(const struct qcow2 *q, u64 off)
{
	return off && IS_ALIGNED(off, q->cluster_size) && off < q->file_size &&
	       !qcow2_is_meta(q, off);
}

void qcow2_meta_free(struct qcow2 *q)
{
	free(q->meta);
	q->meta = NULL;
	q->nr_meta = q->cap_meta = 0;
}

/* A table cluster an entry names: aligned and whole inside the file. */
static int table_ok(const struct qcow2 *q, u64 off, const char *what, u64 index)
{
	if (IS_ALIGNED(off, q->cluster_size) && qcow2_in_file(q, off, q->cluster_size))
		return 0;
	pr_err("disk '%s': qcow2: %s %llu at 0x%llx is unaligned or outside the file", q->path,
	       what, (unsigned long long)index, (unsigned long long)off);
	return -EINVAL;
}

static int read_rt(struct qcow2 *q)
{
	u64 *t = calloc(q->rt_entries, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	ret = pread_full(q->fd, t, q->rt_entries * 8, q->rt_offset);
	if (ret) {
		free(t);
		return ret;
	}
	for (u64 i = 0; i < q->rt_entries; i++)
		t[i] = be64toh(t[i]);
	q->rt = t;
	return 0;
}

/* The list, unsorted: the header, both tables, and what they name, each checked. */
static int meta_collect(struct qcow2 *q)
{
	u64 l1_bytes = (u64)q->l1_size * 8;
	int ret = qcow2_meta_add(q, 0, q->cluster_size);

	if (!ret && l1_bytes)
		ret = qcow2_meta_add(q, q->l1_offset, l1_bytes);
	if (!ret)
		ret = qcow2_meta_add(q, q->rt_offset, q->rt_entries * 8);
	for (u64 i = 0; !ret && i < q->rt_entries; i++) {
		if (!q->rt[i])
			continue;
		ret = table_ok(q, q->rt[i], "refcount block", i);
		/* Unsorted appends here: duplicates are found after the sort. */
		if (!ret)
			ret = meta_reserve(q, 1);
		if (!ret)
			q->meta[q->nr_meta++] = q->rt[i];
	}
	for (u64 i = 0; !ret && i < q->l1_size; i++) {
		u64 l2 = q->l1[i] & QCOW2_OFFSET_MASK;

		if (!l2)
			continue;
		ret = table_ok(q, l2, "L2 table", i);
		if (!ret)
			ret = meta_reserve(q, 1);
		if (!ret)
			q->meta[q->nr_meta++] = l2;
	}
	return ret;
}

int qcow2_meta_load(struct qcow2 *q)
{
	int ret = read_rt(q);

	if (ret) {
		pr_err("disk '%s': qcow2: reading the refcount table: %s", q->path, strerror(-ret));
		return ret;
	}
	ret = meta_collect(q);
	if (ret)
		return ret;
	qsort(q->meta, q->nr_meta, sizeof(*q->meta), cmp_u64);
	for (u64 i = 1; i < q->nr_meta; i++) {
		if (q->meta[i] == q->meta[i - 1]) {
			pr_err("disk '%s': qcow2: two tables, or a table and the header, share the cluster at 0x%llx",
			       q->path, (unsigned long long)q->meta[i]);
			return -EINVAL;
		}
	}
	return 0;
}
