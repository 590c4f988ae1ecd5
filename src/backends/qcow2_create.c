// SPDX-License-Identifier: Apache-2.0
/*
 * A new, empty qcow2 v3 overlay over a backing image: what an ephemeral
 * disk writes into (disk_image.c).  The layout is the smallest a reader
 * needs, one table after another from the start of the file:
 *
 *   cluster 0        the header, its extensions (the backing format) and
 *                    the backing file's name
 *   cluster 1        the refcount table: one entry, for ...
 *   cluster 2        ... the first refcount block (16-bit refcounts)
 *   clusters 3..     the L1 table, all zero: every cluster reads through
 *                    to the backing image until the guest writes it
 *
 * The backend allocates everything else (L2 tables, data, more refcount
 * blocks) as the guest writes.
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "disk_qcow2.h"
#include "file.h"

#define OVERLAY_CLUSTER_BITS 16          /* 64 KiB, qemu-img's default */
#define OVERLAY_REFCOUNT_ORDER 4         /* 16-bit refcounts, qemu-img's default */
#define OVERLAY_HEADER_LEN 104           /* the v3 header without optional fields */
#define EXT_BACKING_FORMAT 0xe2792acaU

static void put32(u8 *p, u32 v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (u8)v;
}

static void put64(u8 *p, u64 v)
{
	put32(p, (u32)(v >> 32));
	put32(p + 4, (u32)v);
}

/* Cluster 0: the header, the backing-format extension, the end mark, the backing name. */
static size_t fill_header(u8 *h, u64 size, u32 l1_size, u64 l1_off, const char *backing,
			  const char *format)
{
	size_t flen = strlen(format), blen = strlen(backing);
	size_t ext = OVERLAY_HEADER_LEN, name;

	put32(h, QCOW2_MAGIC);
	put32(h + 4, 3);
	put32(h + 20, OVERLAY_CLUSTER_BITS);
	put64(h + 24, size);
	put32(h + 36, l1_size);
	put64(h + 40, l1_off);
	put64(h + 48, 1ULL << OVERLAY_CLUSTER_BITS);   /* the refcount table: cluster 1 */
	put32(h + 56, 1);
	put32(h + 96, OVERLAY_REFCOUNT_ORDER);
	put32(h + 100, OVERLAY_HEADER_LEN);
	put32(h + ext, EXT_BACKING_FORMAT);
	put32(h + ext + 4, (u32)flen);
	memcpy(h + ext + 8, format, flen);
	name = ext + 8 + ALIGN_UP(flen, 8) + 8;         /* after the end-of-extensions mark */
	memcpy(h + name, backing, blen);
	put64(h + 8, name);
	put32(h + 16, (u32)blen);
	return name + blen;
}

int qcow2_create_overlay(int fd, u64 size, const char *backing, const char *format)
{
	const u64 cs = 1ULL << OVERLAY_CLUSTER_BITS;
	const u64 l2_reach = cs * (cs / 8);
	u64 l1_size = (size + l2_reach - 1) / l2_reach;
	u64 l1_clusters = MAX(1, (l1_size * 8 + cs - 1) / cs);
	u64 clusters = 3 + l1_clusters;
	u8 *c;
	int ret;

	if (!size || size > (1ULL << 56) || strlen(backing) > QCOW2_MAX_BACKING_NAME || strlen(format) > 8 ||
	    l1_size * 8 > QCOW2_MAX_L1_BYTES || clusters > cs / 2)
		return -EINVAL;
	c = calloc(1, cs);
	if (!c)
		return -ENOMEM;
	fill_header(c, size, (u32)l1_size, 3 * cs, backing, format);
	ret = pwrite_full(fd, c, cs, 0);
	if (!ret) {
		memset(c, 0, cs);
		put64(c, 2 * cs);                       /* the table's one entry: cluster 2 */
		ret = pwrite_full(fd, c, cs, cs);
	}
	if (!ret) {
		memset(c, 0, cs);
		for (u64 i = 0; i < clusters; i++)      /* 16-bit refcounts of 1 */
			c[2 * i + 1] = 1;
		ret = pwrite_full(fd, c, cs, 2 * cs);
	}
	if (!ret && ftruncate(fd, (off_t)(clusters * cs)) < 0)
		ret = -errno;
	free(c);
	return ret;
}
