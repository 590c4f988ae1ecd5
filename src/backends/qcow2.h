/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_QCOW2_H
#define ARKVM_BACKENDS_QCOW2_H

/*
 * The qcow2 backend's insides, shared by disk_qcow2.c (the header, open,
 * the ops) and qcow2_io.c (mapping, reads, allocation).  Every number
 * here was checked at open (qcow2_parse_header); every table entry is
 * checked where it is used, since the tables are read lazily.
 */
#include "disk.h"

#define QCOW2_MAGIC          0x514649fbU   /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21          /* 2 MiB: what qemu-img makes */
#define QCOW2_MAX_L1_BYTES   (32ULL << 20)  /* qemu's limit too */
#define QCOW2_MAX_RT_BYTES   (8ULL << 20)
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_CHAIN      16             /* backing files deep: stops a loop of read-only images */
#define QCOW2_L2_CACHE_BYTES (4ULL << 20)
#define QCOW2_L2_CACHE_MAX   16

/* Table entry bits. */
#define QCOW2_OFLAG_COPIED     (1ULL << 63)  /* refcount exactly one: writable in place */
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO       1ULL          /* v3: reads as zeros */
#define QCOW2_OFFSET_MASK      0x00fffffffffffe00ULL  /* bits 9-55 */

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY       (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT     (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2       (1ULL << 4)

/* What one guest cluster is. */
enum qcow2_kind {
	QCOW2_UNALLOCATED,   /* from the backing file, or zeros */
	QCOW2_ZERO,          /* v3 zero cluster */
	QCOW2_DATA,          /* at host offset */
	QCOW2_COMPRESSED,    /* deflate at host offset, csize bytes */
};

struct qcow2_map {
	enum qcow2_kind kind;
	u64 host;            /* DATA: the cluster; COMPRESSED: the stream's first byte */
	u64 csize;           /* COMPRESSED: bytes of the stream */
	bool copied;         /* DATA: writable in place */
};

struct qcow2_l2 {
	u64 offset;          /* host offset of the table; 0: the slot is empty */
	u64 used;            /* for least-recently-used eviction */
	u64 *table;          /* big-endian, as on disk */
};

struct qcow2 {
	struct disk disk;
	char *path;
	int fd;
	u64 file_size;       /* grows as clusters are allocated */
	u32 version;
	u32 cluster_bits;
	u64 cluster_size;
	u64 l2_entries;      /* entries per L2 table */
	u64 size;            /* the guest's disk */
	u64 incompat, compat, autoclear;
	u32 refcount_order;
	u32 header_length;

	u64 l1_offset;
	u32 l1_size;
	u64 *l1;             /* host-endian copy of the on-disk table */

	u64 rt_offset;
	u64 rt_entries;
	u64 *rt;             /* host-endian; only when writable */
	u64 rb_offset;       /* the refcount block in rb (0: none) */
	u8 *rb;

	struct qcow2_l2 l2[QCOW2_L2_CACHE_MAX];
	unsigned int nr_l2;
	u64 l2_clock;

	u8 *iobuf;           /* one cluster: a request's bounce buffer */
	u8 *buf;             /* one cluster: a partial write's copy-on-write */
	u8 *zbuf;            /* one cluster: a decompressed cluster */
	u8 *cbuf;            /* compressed bytes: at most two clusters */

	struct disk *backing;
	u64 backing_size;
	char backing_name[QCOW2_MAX_BACKING_NAME + 1];
	char backing_format[16];     /* from the extension; "" when absent */
};

/* A byte range [off, off + len) of the image file; true when it lies inside it. */
static inline bool qcow2_in_file(const struct qcow2 *q, u64 off, u64 len)
{
	return off <= q->file_size && len <= q->file_size - off;
}

/* disk_qcow2.c: opens @fd (taken; @file_size bytes) as a qcow2 image @depth backing files deep. */
int qcow2_open_fd(int fd, u64 file_size, const char *path, bool readonly, unsigned int depth,
		  struct disk **out);

/* qcow2_io.c */
int qcow2_io_init(struct qcow2 *q);
void qcow2_io_free(struct qcow2 *q);
int qcow2_map(struct qcow2 *q, u64 guest, struct qcow2_map *m);
int qcow2_read_cluster(struct qcow2 *q, u64 guest, u64 off, void *buf, u64 len);
int qcow2_write_cluster(struct qcow2 *q, u64 guest, u64 off, const void *buf, u64 len);
/* Does [off, off + len) of the file overlap the header, the L1 or the refcount table? */
bool qcow2_hits_metadata(const struct qcow2 *q, u64 off, u64 len);

#endif
