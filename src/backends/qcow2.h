/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_QCOW2_H
#define ARKVM_BACKENDS_QCOW2_H

/*
 * The qcow2 backend's insides, shared by disk_qcow2.c (the header, open,
 * the ops), qcow2_meta.c (where the metadata lies, checked at open),
 * qcow2_refcount.c (refcounts, allocation, every write to the file) and
 * qcow2_io.c (mapping, reads, writes, zeroing).  Every number here was
 * checked at open; the L1 and refcount tables' entries too, and with them
 * every L2 table and refcount block: data cluster entries are checked
 * where they are used.
 */
#include <sys/uio.h>

#include "disk.h"

#ifndef DIV_ROUND_UP
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#endif

#define QCOW2_MAGIC          0x514649fbU   /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21          /* 2 MiB: what qemu-img makes */
#define QCOW2_MAX_L1_BYTES   (32ULL << 20)  /* qemu's limit too */
#define QCOW2_MAX_RT_BYTES   (8ULL << 20)
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_CHAIN      16             /* backing files deep: stops a loop of read-only images */
#define QCOW2_L2_CACHE_BYTES (4ULL << 20)
#define QCOW2_L2_CACHE_MAX   16
#define QCOW2_RUN_MAX        256            /* clusters mapped, allocated or zeroed at once */
#define QCOW2_MAX_IOV        1024           /* a run's share of the guest's segments */

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

	/*
	 * Every cluster that holds metadata (header, L1, refcount table and
	 * blocks, L2 tables), sorted: a data cluster found here is refused,
	 * so a guest write never lands on metadata.
	 */
	u64 *meta;
	u64 nr_meta, cap_meta;

	/* Test hook (qcow2_test_exit_after): _exit() after this many writes and syncs; 0: never. */
	u64 exit_after;
	u64 nr_writes;       /* pwrites and fdatasyncs of the image so far */

	struct iovec *iov;   /* QCOW2_MAX_IOV: a run's slice of the guest's buffers */
	struct qcow2_map *old;   /* QCOW2_RUN_MAX: what a run's clusters were, to free */

	u8 *iobuf;           /* one cluster: a request's bounce buffer */
	u8 *buf;             /* one cluster: a partial write's copy-on-write */
	u8 *zbuf;            /* one cluster: a decompressed cluster */
	u8 *cbuf;            /* compressed bytes: at most two clusters */

	/*
	 * The raw backend's io_uring on this file (qcow2_aio.c): requests
	 * that lie in one run of allocated clusters go through it, the rest
	 * are served in the submit.  NULL without a restricted ring.
	 */
	struct disk *engine;
	struct qcow2_aio *aio;       /* QCOW2_AIO_MAX slots */
	unsigned int aio_free;       /* first free slot, or QCOW2_AIO_MAX */

	struct disk *backing;
	u64 backing_size;
	char backing_name[QCOW2_MAX_BACKING_NAME + 1];
	char backing_format[16];     /* from the extension; "" when absent */
};

#define QCOW2_AIO_MAX 64     /* requests in flight on the engine: virtio-blk's most */

/* One request on the engine: the guest's, moved to its place in the file. */
struct qcow2_aio {
	struct disk_req sub;
	struct disk_req *orig;
	unsigned int next_free;
};

/* A byte range [off, off + len) of the image file; true when it lies inside it. */
static inline bool qcow2_in_file(const struct qcow2 *q, u64 off, u64 len)
{
	return off <= q->file_size && len <= q->file_size - off;
}

/* qcow2_aio.c */
void qcow2_aio_open(struct qcow2 *q);
void qcow2_aio_close(struct qcow2 *q);
/* DISK_QUEUED or DISK_DONE when the engine took @r; -ENOENT when it is not for it. */
int qcow2_aio_submit(struct qcow2 *q, struct disk_req *r);
/* qcow2_io.c: whether all of @r lies in one run of allocated data; its file offset in @host. */
bool qcow2_one_run(struct qcow2 *q, const struct disk_req *r, u64 *host);

/* disk_qcow2.c: opens @fd (taken; @file_size bytes) as a qcow2 image @depth backing files deep. */
int qcow2_open_fd(int fd, u64 file_size, const char *path, bool readonly, unsigned int depth,
		  struct disk **out);

/* qcow2_io.c */
int qcow2_io_init(struct qcow2 *q);
void qcow2_io_free(struct qcow2 *q);
int qcow2_map(struct qcow2 *q, u64 guest, struct qcow2_map *m);
int qcow2_read_cluster(struct qcow2 *q, u64 guest, u64 off, void *buf, u64 len);
int qcow2_write_cluster(struct qcow2 *q, u64 guest, u64 off, const void *buf, u64 len);
/* READ and WRITE requests: the guest's buffers, mapped a run of clusters at a time. */
int qcow2_rw(struct qcow2 *q, struct disk_req *r);
/* WRITE_ZEROES (@discard false) and DISCARD over the request's range. */
int qcow2_zero_range(struct qcow2 *q, const struct disk_req *r, bool discard);

/* qcow2_meta.c */
/* Reads the refcount table and checks it, the L1 table and every table they name. */
int qcow2_meta_load(struct qcow2 *q);
void qcow2_meta_free(struct qcow2 *q);
/* Does the cluster at @off hold metadata? */
bool qcow2_is_meta(const struct qcow2 *q, u64 off);
/* The clusters [off, off + len) hold metadata from now on / no longer. */
int qcow2_meta_add(struct qcow2 *q, u64 off, u64 len);
void qcow2_meta_remove(struct qcow2 *q, u64 off, u64 len);
/* A cluster a table entry names as data: aligned, inside the file, not metadata. */
bool qcow2_data_ok(const struct qcow2 *q, u64 off);

/* qcow2_refcount.c: every write and sync of the image goes through these two. */
int qcow2_pwrite(struct qcow2 *q, const void *buf, u64 len, u64 off);
/* @len bytes from the segments @iov (@n of them; they are trimmed as it goes) at @off. */
int qcow2_pwritev(struct qcow2 *q, struct iovec *iov, unsigned int n, u64 len, u64 off);
int qcow2_sync(struct qcow2 *q);
/* @n new clusters, contiguous, at the end of the file, counted (refcount 1); the first in @out. */
int qcow2_alloc(struct qcow2 *q, u64 n, u64 *out);
/* One reference fewer to each cluster of [host, host + len). */
int qcow2_refcount_drop(struct qcow2 *q, u64 host, u64 len);

/*
 * Test hook: the process _exit()s right after the @n-th pwrite or
 * fdatasync of the image from now on (0: never).  For crash tests only.
 */
void qcow2_test_exit_after(struct disk *d, u64 n);
/* How many pwrites and fdatasyncs @d made so far. */
u64 qcow2_test_writes(struct disk *d);

#endif
