// SPDX-License-Identifier: Apache-2.0
/*
 * The qcow2 disk backend: the header, opening an image and its backing
 * chain, and the disk_ops.  The mapping, reads and allocation are in
 * qcow2_io.c.
 *
 * An image is hostile input (a user may be handed one), so every header
 * field is checked before it is used: offsets aligned and inside the file,
 * tables bounded in size and apart from each other, arithmetic that cannot
 * wrap.  What arkvm cannot serve safely is refused at open with one line:
 * encryption, external data files, extended L2 entries, another
 * compression than zlib, the dirty bit (refcounts to repair), the corrupt
 * bit, and any incompatible feature it does not know.
 *
 * Requests are served in the submit (DISK_DONE): see qcow2_io.c.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "disk.h"
#include "disk_qcow2.h"
#include "file.h"
#include "log.h"
#include "virtqueue.h"

#define QCOW2_V2_HEADER 72
#define QCOW2_V3_HEADER 104

/* Header extension types. */
#define QCOW2_EXT_END            0x00000000U
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acaU
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857U
#define QCOW2_EXT_DATA_FILE      0x44415441U

#define QCOW2_FEATURE_NAME 46

static struct qcow2 *to_qcow2(const struct disk *d)
{
	return container_of(d, struct qcow2, disk);
}

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static u64 get64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

/* One line saying why the image is refused; returns @err. */
static __printf(3, 4) int refuse(const struct qcow2 *q, int err, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err("disk '%s': qcow2: %s", q->path, why);
	return err;
}

/* Do [a, a + alen) and [b, b + blen) overlap?  (Neither wraps: checked before.) */
static bool ranges_overlap(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

/* The feature name table's name for incompatible bit @bit, or "unknown". */
static void feature_name(const u8 *table, u32 len, unsigned int bit, char *name)
{
	strcpy(name, "unknown");
	for (u32 i = 0; table && i + 48 <= len; i += 48) {
		if (table[i] == 0 && table[i + 1] == bit) {
			memcpy(name, table + i + 2, QCOW2_FEATURE_NAME);
			name[QCOW2_FEATURE_NAME] = '\0';
			return;
		}
	}
}

static int check_features(struct qcow2 *q, const u8 *ftable, u32 flen)
{
	u64 known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |
		    QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2;
	char name[QCOW2_FEATURE_NAME + 1];

	if (q->incompat & ~known) {
		unsigned int bit = (unsigned int)__builtin_ctzll(q->incompat & ~known);

		feature_name(ftable, flen, bit, name);
		return refuse(q, -ENOTSUP, "unknown incompatible feature bit %u (%s)", bit, name);
	}
	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return refuse(q, -ENOTSUP, "external data files are not supported");
	if (q->incompat & QCOW2_INCOMPAT_COMPRESSION)
		return refuse(q, -ENOTSUP, "only zlib compression is supported");
	if (q->incompat & QCOW2_INCOMPAT_EXTL2)
		return refuse(q, -ENOTSUP, "extended L2 entries are not supported");
	if (q->incompat & QCOW2_INCOMPAT_CORRUPT)
		return refuse(q, -EINVAL, "the image is marked corrupt (qemu-img check -r all)");
	/* Dirty: refcounts may be stale (lazy refcounts); arkvm does not rebuild them. */
	if (q->incompat & QCOW2_INCOMPAT_DIRTY)
		return refuse(q, -ENOTSUP, "the image is dirty (qemu-img check -r all repairs it)");
	return 0;
}

/*
 * The header extensions, from header_length to the end of cluster 0
 * (@h, @hlen bytes): the backing format and the feature name table.
 * Each step moves at least 8 bytes on, so the walk ends.
 */
static int parse_extensions(struct qcow2 *q, const u8 *h, u64 hlen, const u8 **ftable,
			    u32 *flen)
{
	u64 pos = q->header_length;

	while (pos + 8 <= hlen) {
		u32 type = get32(h + pos), len = get32(h + pos + 4);

		pos += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > hlen - pos)
			return refuse(q, -EINVAL, "header extension 0x%08x runs past cluster 0", type);
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len == 0 || len >= sizeof(q->backing_format))
				return refuse(q, -EINVAL, "bad backing format length %u", len);
			memcpy(q->backing_format, h + pos, len);
			q->backing_format[len] = '\0';
		} else if (type == QCOW2_EXT_FEATURE_TABLE) {
			*ftable = h + pos;
			*flen = len;
		} else if (type == QCOW2_EXT_DATA_FILE) {
			return refuse(q, -ENOTSUP, "external data files are not supported");
		}
		pos += ALIGN_UP((u64)len, 8);
	}
	/* Running into the end of cluster 0 without an end marker is what v2 images do. */
	return 0;
}

static int parse_backing_name(struct qcow2 *q, const u8 *h, u64 hlen, u64 off, u32 len)
{
	if (!off)
		return 0;
	if (!len || len > QCOW2_MAX_BACKING_NAME)
		return refuse(q, -EINVAL, "bad backing file name length %u", len);
	if (off < q->header_length || off > hlen || len > hlen - off)
		return refuse(q, -EINVAL, "backing file name outside the first cluster");
	memcpy(q->backing_name, h + off, len);
	q->backing_name[len] = '\0';
	if (strlen(q->backing_name) != len)
		return refuse(q, -EINVAL, "backing file name holds a NUL");
	return 0;
}

/* The fields the rest of the file reads, checked: the first 104 bytes in @h. */
static int parse_fixed(struct qcow2 *q, const u8 *h)
{
	q->version = get32(h + 4);
	if (q->version != 2 && q->version != 3)
		return refuse(q, -ENOTSUP, "version %u (2 and 3 are supported)", q->version);
	q->cluster_bits = get32(h + 20);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return refuse(q, -EINVAL, "cluster_bits %u out of 9..21", q->cluster_bits);
	q->cluster_size = 1ULL << q->cluster_bits;
	q->l2_entries = q->cluster_size / 8;
	if (get32(h + 32))
		return refuse(q, -ENOTSUP, "encrypted images are not supported");
	if (q->version == 2) {
		q->refcount_order = 4;
		q->header_length = QCOW2_V2_HEADER;
		return 0;
	}
	q->incompat = get64(h + 72);
	q->compat = get64(h + 80);
	q->autoclear = get64(h + 88);
	q->refcount_order = get32(h + 96);
	q->header_length = get32(h + 100);
	if (q->refcount_order > 6)
		return refuse(q, -EINVAL, "refcount_order %u over 6", q->refcount_order);
	if (q->header_length < QCOW2_V3_HEADER || q->header_length % 8 ||
	    q->header_length > q->cluster_size)
		return refuse(q, -EINVAL, "bad header_length %u", q->header_length);
	return 0;
}

/* The L1 table's and the refcount table's places, against the file and each other. */
static int parse_tables(struct qcow2 *q, const u8 *h)
{
	u64 per_l1 = q->cluster_size * q->l2_entries;   /* guest bytes one L1 entry maps */
	u64 rt_clusters = get32(h + 56);

	q->size = get64(h + 24);
	q->l1_size = get32(h + 36);
	q->l1_offset = get64(h + 40);
	q->rt_offset = get64(h + 48);
	if (q->size > (1ULL << 61) || q->size / per_l1 + !!(q->size % per_l1) > q->l1_size)
		return refuse(q, -EINVAL, "virtual size %llu needs more than %u L1 entries",
			      (unsigned long long)q->size, q->l1_size);
	if ((u64)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return refuse(q, -EINVAL, "L1 table of %u entries is too large", q->l1_size);
	if (q->l1_size && (!q->l1_offset || !IS_ALIGNED(q->l1_offset, q->cluster_size) ||
			   !qcow2_in_file(q, q->l1_offset, (u64)q->l1_size * 8)))
		return refuse(q, -EINVAL, "L1 table at 0x%llx outside the file or unaligned",
			      (unsigned long long)q->l1_offset);
	if (!rt_clusters || rt_clusters > QCOW2_MAX_RT_BYTES >> q->cluster_bits)
		return refuse(q, -EINVAL, "refcount table of %llu clusters",
			      (unsigned long long)rt_clusters);
	q->rt_entries = (rt_clusters << q->cluster_bits) / 8;
	if (!q->rt_offset || !IS_ALIGNED(q->rt_offset, q->cluster_size) ||
	    !qcow2_in_file(q, q->rt_offset, q->rt_entries * 8))
		return refuse(q, -EINVAL, "refcount table at 0x%llx outside the file or unaligned",
			      (unsigned long long)q->rt_offset);
	/* A table over the header, or over the other, would let a write rewrite it. */
	if (ranges_overlap(q->rt_offset, q->rt_entries * 8, 0, q->cluster_size) ||
	    (q->l1_size && (ranges_overlap(q->l1_offset, (u64)q->l1_size * 8, 0, q->cluster_size) ||
			    ranges_overlap(q->l1_offset, ALIGN_UP((u64)q->l1_size * 8, q->cluster_size),
					   q->rt_offset, q->rt_entries * 8))))
		return refuse(q, -EINVAL, "the L1 table, refcount table and header overlap");
	return 0;
}

static int read_header(struct qcow2 *q)
{
	u8 fixed[QCOW2_V3_HEADER] = { 0 };
	const u8 *ftable = NULL;
	u32 flen = 0;
	u64 hlen;
	u8 *h;
	int ret;

	if (q->file_size < QCOW2_V2_HEADER)
		return refuse(q, -EINVAL, "file too short for a header");
	ret = pread_full(q->fd, fixed, MIN(q->file_size, (u64)sizeof(fixed)), 0);
	if (ret)
		return refuse(q, ret, "reading the header: %s", strerror(-ret));
	if (get32(fixed) != QCOW2_MAGIC)
		return refuse(q, -EINVAL, "no qcow2 magic");
	ret = parse_fixed(q, fixed);
	if (ret)
		return ret;
	if (q->header_length > q->file_size)
		return refuse(q, -EINVAL, "header longer than the file");
	ret = parse_tables(q, fixed);
	if (ret)
		return ret;
	/* Cluster 0 holds the header, its extensions and the backing file's name. */
	hlen = MIN(q->cluster_size, q->file_size);
	h = malloc(hlen);
	if (!h)
		return refuse(q, -ENOMEM, "%s", strerror(ENOMEM));
	ret = pread_full(q->fd, h, hlen, 0);
	if (ret)
		ret = refuse(q, ret, "reading the header: %s", strerror(-ret));
	if (!ret && q->version == 3 && q->header_length > QCOW2_V3_HEADER && h[QCOW2_V3_HEADER])
		ret = refuse(q, -ENOTSUP, "compression type %u (zlib only)", h[QCOW2_V3_HEADER]);
	if (!ret)
		ret = parse_extensions(q, h, hlen, &ftable, &flen);
	if (!ret)
		ret = check_features(q, ftable, flen);
	if (!ret)
		ret = parse_backing_name(q, h, hlen, get64(h + 8), get32(h + 16));
	free(h);
	return ret;
}

/* Reads @n big-endian u64s at @off into a new host-endian array. */
static int read_table(struct qcow2 *q, u64 off, u64 n, u64 **out)
{
	u64 *t = calloc(n ? n : 1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	ret = pread_full(q->fd, t, n * 8, off);
	if (ret) {
		free(t);
		return ret;
	}
	for (u64 i = 0; i < n; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

/* A writer clears the autoclear bits: it keeps none of the data they vouch for (bitmaps). */
static int clear_autoclear(struct qcow2 *q)
{
	u64 zero = 0;
	int ret;

	if (q->disk.readonly || q->version < 3 || !q->autoclear)
		return 0;
	ret = qcow2_pwrite(q, &zero, 8, 88);
	if (!ret)
		ret = qcow2_sync(q);
	if (ret)
		return refuse(q, ret, "clearing the autoclear features: %s", strerror(-ret));
	q->autoclear = 0;
	return 0;
}

static int qcow2_open_depth(const char *path, bool readonly, unsigned int depth,
			    struct disk **out);

/* @name relative to the directory of @image, unless it is absolute. */
static char *backing_path(const char *image, const char *name)
{
	const char *slash = strrchr(image, '/');
	char *p;

	if (name[0] == '/' || !slash)
		return strdup(name);
	if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, name) < 0)
		return NULL;
	return p;
}

/*
 * The backing file, read-only and locked shared.  Its format comes from
 * the header's backing-format extension, so a raw backing file's contents
 * are never probed; only an image without the extension is probed.
 */
static int open_backing(struct qcow2 *q, unsigned int depth)
{
	char *path;
	int ret, probed = 0;

	if (!q->backing_name[0])
		return 0;
	if (depth + 1 >= QCOW2_MAX_CHAIN)
		return refuse(q, -ELOOP, "backing chain deeper than %u", QCOW2_MAX_CHAIN);
	path = backing_path(q->path, q->backing_name);
	if (!path)
		return refuse(q, -ENOMEM, "%s", strerror(ENOMEM));
	if (!q->backing_format[0])
		probed = disk_qcow2_probe(path);
	if (probed < 0)
		ret = refuse(q, probed, "backing file '%s': %s", path, strerror(-probed));
	else if (!strcmp(q->backing_format, "qcow2") || probed == 1)
		ret = qcow2_open_depth(path, true, depth + 1, &q->backing);
	else if (!strcmp(q->backing_format, "raw") || !q->backing_format[0])
		ret = disk_raw_open(path, true, &q->backing);
	else
		ret = refuse(q, -ENOTSUP, "backing format '%s' (raw and qcow2 are supported)",
			     q->backing_format);
	free(path);
	if (ret)
		return ret;
	/* Served in its submit: this backend reads it synchronously. */
	q->backing->async = false;
	q->backing_size = disk_size(q->backing);
	return 0;
}

static int qcow2_check(const struct qcow2 *q, const struct disk_req *r)
{
	if (r->op != DISK_READ && q->disk.readonly)
		return -EROFS;
	if (r->op != DISK_FLUSH && (r->offset > q->size || r->len > q->size - r->offset))
		return -EINVAL;
	return 0;
}

static int qcow2_submit(struct disk *d, struct disk_req *r)
{
	struct qcow2 *q = to_qcow2(d);

	r->result = qcow2_check(q, r);
	if (r->result)
		return DISK_DONE;
	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE: {
		int ret = qcow2_aio_submit(q, r);

		if (ret != -ENOENT)
			return ret;
		r->result = qcow2_rw(q, r);
		break;
	}
	case DISK_FLUSH:
		/* Metadata is written through, in order: one flush covers it and the data. */
		r->result = qcow2_sync(q);
		break;
	case DISK_DISCARD:
		r->result = qcow2_zero_range(q, r, true);
		break;
	case DISK_WRITE_ZEROES:
		r->result = qcow2_zero_range(q, r, false);
		break;
	}
	return DISK_DONE;
}

static u64 qcow2_size(const struct disk *d)
{
	return to_qcow2(d)->size;
}

static void qcow2_free(struct qcow2 *q)
{
	qcow2_aio_close(q);       /* first: it ends what is in flight on the file */
	disk_close(q->backing);
	qcow2_io_free(q);
	qcow2_meta_free(q);
	free(q->l1);
	free(q->rt);
	free(q->iobuf);
	/* Unlocked first: the engine's ring lets go of the file a moment after it ends. */
	if (q->fd >= 0) {
		flock(q->fd, LOCK_UN);
		close(q->fd);
	}
	free(q->path);
	free(q);
}

static void qcow2_close(struct disk *d)
{
	struct qcow2 *q = to_qcow2(d);

	if (!d->readonly)
		fdatasync(q->fd);
	qcow2_free(q);
}

static void qcow2_kick(struct disk *d)
{
	struct qcow2 *q = to_qcow2(d);

	if (q->engine)
		disk_kick(q->engine);
}

static unsigned int qcow2_reap(struct disk *d, bool wait)
{
	struct qcow2 *q = to_qcow2(d);

	return q->engine ? disk_reap(q->engine, wait && d->nr_queued) : 0;
}

static const struct disk_ops disk_qcow2_ops = {
	.read = qcow2_submit,
	.write = qcow2_submit,
	.flush = qcow2_submit,
	.discard = qcow2_submit,
	.write_zeroes = qcow2_submit,
	.size = qcow2_size,
	.kick = qcow2_kick,
	.reap = qcow2_reap,
	.close = qcow2_close,
};

/* Everything after the file is open and locked. */
static int qcow2_load(struct qcow2 *q, unsigned int depth)
{
	int ret = read_header(q);

	if (ret)
		return ret;
	ret = read_table(q, q->l1_offset, q->l1_size, &q->l1);
	if (ret)
		return refuse(q, ret, "reading the L1 table: %s", strerror(-ret));
	ret = qcow2_meta_load(q);
	if (ret)
		return ret;
	q->iobuf = malloc(q->cluster_size);
	if (!q->iobuf)
		return refuse(q, -ENOMEM, "%s", strerror(ENOMEM));
	ret = qcow2_io_init(q);
	if (ret)
		return refuse(q, ret, "%s", strerror(-ret));
	ret = clear_autoclear(q);
	if (!ret)
		ret = open_backing(q, depth);
	return ret;
}

int qcow2_open_fd(int fd, u64 file_size, const char *path, bool readonly, unsigned int depth,
		  struct disk **out)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	int ret;

	if (!q || !(q->path = strdup(path))) {
		free(q);
		close(fd);
		pr_err("disk '%s': %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	q->fd = fd;
	q->file_size = file_size;
	q->disk = (struct disk){ .ops = &disk_qcow2_ops, .readonly = readonly, .event_fd = -1 };
	ret = qcow2_load(q, depth);
	if (ret) {
		qcow2_free(q);
		return ret;
	}
	/* A backing file is read in its overlay's submit: only the top image queues. */
	if (!depth)
		qcow2_aio_open(q);
	*out = &q->disk;
	return 0;
}

static int qcow2_open_depth(const char *path, bool readonly, unsigned int depth,
			    struct disk **out)
{
	u64 size;
	int fd;

	fd = open_image_file(path, readonly, &size);
	if (fd < 0)
		return fd;
	return qcow2_open_fd(fd, size, path, readonly, depth, out);
}

int disk_qcow2_open(const char *path, bool readonly, struct disk **out)
{
	return qcow2_open_depth(path, readonly, 0, out);
}

int disk_qcow2_probe_fd(int fd)
{
	u8 magic[4];
	ssize_t n;

	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(magic) && get32(magic) == QCOW2_MAGIC;
}

int disk_qcow2_probe(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = disk_qcow2_probe_fd(fd);
	close(fd);
	return ret;
}
